"""A long session does not leak or jam: many queued generation jobs with random cancels all end, and memory
stays flat. The full 500-job run is ``python benchmarks/soak.py --jobs 500``."""

from __future__ import annotations

import os

import pytest

from .soak_driver import WAVE, run_soak, soak_models

JOBS = int(os.environ.get("AIGC_SOAK_JOBS", "200"))


@pytest.mark.slow  # 200 jobs; CI runs it (pytest -m slow)
def test_queued_jobs_with_random_cancels_all_end_and_memory_stays_flat(qtbot, engine, tmp_path):
    from aigc_studio.engine.thread import KEEP_DONE_HANDLES
    from aigc_studio.ui.jobs_panel import JobsPanel

    panel = JobsPanel(engine)  # the Jobs dock lists handles: it must let go of old ones too
    qtbot.addWidget(panel)
    report = run_soak(engine, soak_models(tmp_path / "models"), JOBS, seed=6)
    print("\n" + "\n".join(report.lines()))

    assert report.stuck == [] and not engine.busy
    assert sum(report.states.values()) == JOBS
    assert report.states.get("cancelled", 0) > JOBS // 10 and report.states.get("finished", 0) > JOBS // 3
    assert report.silent_failures == []
    assert report.memory_ratio < 1.10, f"memory grew from {report.rss_after_first_wave:.0f} to {report.rss_at_end:.0f} MiB"
    assert len(engine.handles()) <= KEEP_DONE_HANDLES
    assert panel.tree.topLevelItemCount() <= KEEP_DONE_HANDLES
    assert JOBS > WAVE  # otherwise the memory comparison compares a wave with itself
