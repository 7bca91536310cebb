"""Soak: many queued generation jobs (image, text, music) on the real engine with random cancels.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/soak.py [--jobs 500] [--seed 6] [--cancel-share 0.3]

Prints the counts of finished / cancelled / failed jobs, any stuck job, and the
resident memory after the first 50 jobs and at the end. Exits 1 when a job got
stuck, failed without a message, or memory grew by 10 % or more. CI runs the
same driver with fewer jobs (tests/robustness/test_soak.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    """Run the soak and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--cancel-share", type=float, default=0.3)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("AIGC_STUDIO_HOME", tempfile.mkdtemp(prefix="aigc-soak-home-"))

    from PySide6.QtWidgets import QApplication

    from aigc_studio.engine.thread import Engine
    from aigc_studio.ui.jobs_panel import JobsPanel
    from tests.robustness.soak_driver import run_soak, soak_models, wait_until

    app = QApplication.instance() or QApplication([])
    engine = Engine("cpu")
    engine.start()
    wait_until(lambda: engine.is_ready, 60)
    panel = JobsPanel(engine)  # as in the app: the Jobs dock holds on to handles it lists
    with tempfile.TemporaryDirectory() as folder:
        report = run_soak(engine, soak_models(Path(folder)), args.jobs, seed=args.seed, cancel_share=args.cancel_share)
    print("\n".join(report.lines()))
    print(f"Jobs dock rows: {panel.tree.topLevelItemCount()}; engine handles kept: {len(engine.handles())}")
    engine.shutdown()
    del app
    bad = report.stuck or report.silent_failures or report.memory_ratio >= 1.10
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
