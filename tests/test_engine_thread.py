"""The engine thread: results, failures and cancellation arrive as signals; the GUI keeps ticking."""

import threading
import time

from PySide6.QtCore import QTimer

from aigc_studio.core.jobs import FunctionJob
from aigc_studio.errors import InputError


def _busy_torch(ctx, seconds):
    import torch

    a = torch.randn(256, 256)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        a = torch.tanh(a @ a)
        n += 1
        ctx.progress((seconds - (end - time.monotonic())) / seconds, f"iteration {n}")
    return n


def test_result_and_progress_arrive_while_the_event_loop_keeps_ticking(qtbot, engine):
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)
    progress = []
    handle = engine.submit(FunctionJob("busy", lambda ctx: _busy_torch(ctx, 1.0)))
    handle.progress.connect(lambda f, m: progress.append((f, m)))
    assert engine.device_description.startswith("CPU")
    with qtbot.waitSignal(handle.finished, timeout=10000) as blocker:
        pass
    timer.stop()
    assert blocker.args[0] > 0 and handle.state == "finished"
    assert len(progress) > 3 and progress[-1][1].startswith("iteration")
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) > 40, "the GUI event loop stalled while the job ran"
    assert max(gaps) < 0.5


def test_user_error_is_reported_with_its_message(qtbot, engine):
    def bad(ctx):
        raise InputError("That folder has no images.")

    handle = engine.submit(FunctionJob("train", bad))
    with qtbot.waitSignal(handle.failed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["That folder has no images."]
    assert handle.state == "failed"


def test_a_damaged_model_file_fails_as_a_structured_error_that_names_the_file(qtbot, engine, tmp_path):
    from aigc_studio.core.events import JobError
    from aigc_studio.core.modelfile import read_card

    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model at all")
    handle = engine.submit(FunctionJob("open", lambda ctx: read_card(bad)))
    errors = []
    handle.errored.connect(errors.append)
    with qtbot.waitSignal(handle.failed, timeout=5000) as blocker:
        pass
    (error,) = errors
    assert isinstance(error, JobError) and error.kind == "model-file" and error.file == str(bad)
    assert blocker.args == [error.message] and "broken.safetensors" in error.message
    assert handle.failure is error


def test_a_crashing_job_fails_cleanly_and_the_engine_keeps_working(qtbot, engine):
    handle = engine.submit(FunctionJob("bug", lambda ctx: 1 / 0))
    with qtbot.waitSignal(handle.failed, timeout=5000) as blocker:
        pass
    assert "ZeroDivisionError" in blocker.args[0]
    assert handle.failure.kind == "internal"
    ok = engine.submit(FunctionJob("after", lambda ctx: 42))
    with qtbot.waitSignal(ok.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == [42]


def test_cancel_of_a_cooperative_job_takes_effect_within_a_second(qtbot, engine):
    handle = engine.submit(FunctionJob("long", lambda ctx: _busy_torch(ctx, 30)))
    qtbot.waitUntil(lambda: handle.state == "running", timeout=5000)
    finished = []
    handle.finished.connect(finished.append)
    started = time.monotonic()
    with qtbot.waitSignal(handle.cancelled, timeout=1000):
        handle.cancel()
    assert time.monotonic() - started < 1.0
    qtbot.waitUntil(lambda: not engine.busy, timeout=3000)
    assert finished == []


def test_cancel_of_a_job_that_never_checks_still_releases_the_gui_within_a_second(qtbot, engine):
    release = threading.Event()
    handle = engine.submit(FunctionJob("stubborn", lambda ctx: release.wait(10) or "late"))
    qtbot.waitUntil(lambda: handle.state == "running", timeout=5000)
    results = []
    handle.finished.connect(results.append)
    started = time.monotonic()
    with qtbot.waitSignal(handle.cancelled, timeout=1500):
        handle.cancel()
    assert time.monotonic() - started < 1.0
    release.set()
    qtbot.waitUntil(lambda: not engine.busy, timeout=3000)
    assert results == [], "a cancelled job's late result must be dropped"


def test_queued_jobs_run_in_order_and_a_queued_job_can_be_cancelled(qtbot, engine):
    order = []
    first = engine.submit(FunctionJob("a", lambda ctx: (time.sleep(0.3), order.append("a"))))
    second = engine.submit(FunctionJob("b", lambda ctx: order.append("b")))
    third = engine.submit(FunctionJob("c", lambda ctx: order.append("c")))
    second.cancel()
    assert second.state == "cancelled"
    with qtbot.waitSignal(third.finished, timeout=5000):
        pass
    assert order == ["a", "c"] and first.state == "finished"


def test_the_engine_leaves_the_gui_a_core_and_runs_below_its_priority(qtbot, engine):
    import os
    import sys

    import pytest

    from aigc_studio.core.cpu_share import usable_cpus

    def where_am_i(ctx):
        import torch

        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if sys.platform.startswith("linux") else 0
        return torch.get_num_threads(), nice

    handle = engine.submit(FunctionJob("where", where_am_i))
    with qtbot.waitSignal(handle.finished, timeout=10000) as blocker:
        pass
    threads, nice = blocker.args[0]
    if not os.environ.get("OMP_NUM_THREADS"):
        assert threads <= max(1, usable_cpus() - 1)
    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice values are Linux's")
    assert nice > os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # the GUI thread's


def test_a_flood_of_progress_reports_reaches_the_gui_thinned_but_every_new_message_arrives(qtbot, engine):
    def chatty(ctx):
        for i in range(20_000):
            ctx.progress(i / 20_000, f"step {i}")
        ctx.progress(None, "saving…")
        time.sleep(0.3)  # long enough for the GUI to show "saving…"
        return True

    seen = []
    handle = engine.submit(FunctionJob("chatty", chatty))
    handle.progress.connect(lambda f, m: seen.append(m))
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert 1 <= len(seen) < 2_000  # not one relayout of the status bar per step
    assert seen[0] == "step 0" and seen[-1] == "saving…"
