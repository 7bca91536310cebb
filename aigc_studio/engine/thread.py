"""The model-engine thread: a job queue on a QThread, reports turned into Qt signals.

The GUI thread submits jobs and connects to signals; it never runs model code.
torch is imported on the engine thread when it boots, after the window is shown.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import queue
import re
import sys
import time
import traceback
import weakref
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from aigc_studio.core.events import JobError
from aigc_studio.core.jobs import CancelToken, Job, Progress
from aigc_studio.errors import Cancelled, StudioError

CANCEL_GRACE_MS = 900  # after this the GUI treats a job as cancelled even if it has not yet stopped
KEEP_DONE_HANDLES = 100  # finished jobs the Jobs dock can still show; older ones are dropped (a long session must not grow)


@dataclass
class _Ticket:
    job_id: int
    job: Job
    seed: int | None
    token: CancelToken = field(default_factory=CancelToken)


class JobHandle(QObject):
    """The GUI's view of one submitted job: connect to its signals, call ``cancel()``."""

    started = Signal()
    progress = Signal(float, str)  # fraction (-1 when unknown), message
    preview = Signal(object)
    partial = Signal(object)
    log = Signal(str)
    finished = Signal(object)
    failed = Signal(str)  # the user's message (the same as JobError.message)
    errored = Signal(object)  # a JobError: kind, message, file — emitted just before ``failed``
    cancelled = Signal()

    def __init__(self, engine: Engine, job_id: int, title: str) -> None:
        super().__init__(engine)
        self.engine = engine
        self.job_id = job_id
        self.title = title
        self.state = "queued"  # queued, running, finished, failed, cancelled
        self.cancel_requested_at: float | None = None  # time.monotonic() of the first cancel()
        self.stopped_at: float | None = None  # when the engine thread reported that the job's run() returned
        self.abandoned = False  # cancelled by the grace timer because the job did not stop in time
        self.failure: JobError | None = None  # why it failed (kind, message, file), once it has
        self.error = ""  # its message

    @property
    def done(self) -> bool:
        """True once the job finished, failed or was cancelled."""
        return self.state in ("finished", "failed", "cancelled")

    def cancel(self) -> None:
        """Ask the job to stop; the handle reports ``cancelled`` within a second."""
        self.engine.cancel(self.job_id)


_DIGITS = re.compile(r"[0-9][0-9.,:]*")
PREPARE_TRAINING = "<prepare training>"  # a queue item: import what optimisers need (see Engine.prepare_training)


class EngineWorker(QObject):
    """Lives on the engine thread; runs jobs one at a time from a thread-safe queue."""

    ready = Signal(str, str, str)  # device description, device type, torch version
    boot_failed = Signal(str)
    started = Signal(int)
    progress = Signal(int, object)
    partial = Signal(int, object)
    log = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, object)  # job id, JobError
    cancelled = Signal(int)

    def __init__(self, device_preference: str) -> None:
        super().__init__()
        self.device_preference = device_preference
        self.queue: queue.Queue[_Ticket | str | None] = queue.Queue()  # str: device or PREPARE_TRAINING
        self.device = None
        self.models = None

    @Slot()
    def serve(self) -> None:
        """Boot torch, then run queued jobs until a ``None`` arrives."""
        broken = None
        try:
            self._boot(self.device_preference)
        except Exception as exc:  # noqa: BLE001 - reported to the user, engine stays usable on CPU
            self.boot_failed.emit(str(exc))
            try:
                self._boot("cpu")
            except Exception as cpu_exc:  # noqa: BLE001 - e.g. torch missing or the process is exiting
                broken = f"The model engine could not start: {cpu_exc}"
        # Only now: while it imports torch this thread holds the interpreter lock for long stretches, and at a
        # lower priority on a busy machine the GUI thread waited for it longer (boot stalls ~2x on a shared CPU).
        _leave_the_cpu_to_the_gui()
        while True:
            ticket = self.queue.get()
            if ticket is None:
                break
            if ticket is PREPARE_TRAINING:
                if broken is None:
                    _warm_up()
            elif isinstance(ticket, str):
                if broken is None:
                    self._switch_device(ticket)
            elif broken is not None:
                self.failed.emit(ticket.job_id, JobError("device", broken))
            else:
                self._run(ticket)

    def _boot(self, preference: str) -> None:
        import torch

        from aigc_studio.core.cache import ModelCache
        from aigc_studio.core.cpu_share import threads_beside_a_gui
        from aigc_studio.core.device import describe_device, pick_device

        torch.set_num_threads(threads_beside_a_gui(torch.get_num_threads()))  # this thread's torch work only
        self.models = self.models or ModelCache()
        self.device = pick_device(preference)
        self.ready.emit(describe_device(self.device), self.device.type, torch.__version__)

    def _switch_device(self, preference: str) -> None:
        try:
            self._boot(preference)
            self.models.clear()
        except StudioError as exc:
            self.boot_failed.emit(str(exc))

    def _run(self, ticket: _Ticket) -> None:
        from aigc_studio.core.jobs import JobContext

        if getattr(ticket.job, "trains", False):
            _warm_up()  # instant when prepare_training() ran while the user filled in the dialog
        if ticket.token.is_set:  # also when cancelled while still queued behind that import
            self.cancelled.emit(ticket.job_id)
            return
        ctx = JobContext(
            device=self.device,
            seed=ticket.seed,
            models=self.models,
            on_progress=_every_so_often(lambda p: self.progress.emit(ticket.job_id, p)),
            on_partial=lambda payload: self.partial.emit(ticket.job_id, payload),
            on_log=lambda line: self.log.emit(ticket.job_id, line),
            cancel_token=ticket.token,
        )
        self.started.emit(ticket.job_id)
        try:
            result = ticket.job.run(ctx)
        except Cancelled:
            self.cancelled.emit(ticket.job_id)
        except StudioError as exc:
            self.failed.emit(ticket.job_id, JobError.from_exception(exc))
        except MemoryError as exc:
            message = "Out of memory. Try a smaller batch, size or length."
            self.failed.emit(ticket.job_id, JobError.from_exception(exc, message))
        except Exception as exc:  # noqa: BLE001 - a bug, but the app must keep running
            traceback.print_exc(file=sys.stderr)
            self.failed.emit(ticket.job_id, JobError.from_exception(exc, _friendly_runtime_error(exc)))
        else:
            if ticket.token.is_set:
                self.cancelled.emit(ticket.job_id)
            else:
                self.finished.emit(ticket.job_id, result)


class Engine(QObject):
    """GUI-side owner of the engine thread. ``submit(job)`` returns a :class:`JobHandle`."""

    ready = Signal(str)  # device description
    device_failed = Signal(str)
    job_added = Signal(object)  # JobHandle
    job_changed = Signal(object)  # JobHandle (state, progress or log changed)
    job_removed = Signal(object)  # JobHandle dropped from the history (about to be deleted)
    busy_changed = Signal(bool)

    def __init__(self, device_preference: str = "auto", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device_preference = device_preference
        self.device_description = "starting…"
        self.device_type = ""
        self.torch_version = ""
        self.is_ready = False
        self._ids = itertools.count(1)
        self._handles: dict[int, JobHandle] = {}
        self._tickets: dict[int, _Ticket] = {}
        self._thread: QThread | None = None
        self._worker: EngineWorker | None = None
        self.started_at: dict[int, float] = {}
        # A script that never calls shutdown() must not abort at exit with a running QThread.
        atexit.register(_shutdown_at_exit, weakref.ref(self))

    def start(self) -> None:
        """Start the engine thread (imports torch there). Call after the window is shown."""
        if self._thread is not None:
            return
        self._thread = QThread()
        self._thread.setObjectName("aigc-engine")
        self._worker = EngineWorker(self.device_preference)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.serve)
        w = self._worker
        w.ready.connect(self._on_ready)
        w.boot_failed.connect(self.device_failed)
        w.started.connect(self._on_started)
        w.progress.connect(self._on_progress)
        w.partial.connect(self._on_partial)
        w.log.connect(self._on_log)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        self._thread.start()

    def submit(self, job: Job, seed: int | None = None) -> JobHandle:
        """Queue ``job``; its reports arrive on the returned handle's signals."""
        if self._thread is None:
            self.start()
        job_id = next(self._ids)
        handle = JobHandle(self, job_id, getattr(job, "title", type(job).__name__))
        ticket = _Ticket(job_id, job, seed)
        self._handles[job_id] = handle
        self._tickets[job_id] = ticket
        self.job_added.emit(handle)
        self._worker.queue.put(ticket)
        self.busy_changed.emit(True)
        return handle

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job (or every queued and running job)."""
        ids = [job_id] if job_id is not None else list(self._tickets)
        for jid in ids:
            ticket = self._tickets.get(jid)
            if ticket is None:
                continue
            ticket.token.cancel()
            handle = self._handles[jid]
            if handle.cancel_requested_at is None:
                handle.cancel_requested_at = time.monotonic()
            if handle.state == "queued":
                self._finish(jid, "cancelled")
            else:
                # A job that does not reach a cancel check in time is let go: the GUI
                # moves on and its late result is dropped.
                QTimer.singleShot(CANCEL_GRACE_MS, lambda jid=jid: self._abandon(jid))

    def prepare_training(self) -> None:
        """Pay training's one-time import now, while the user fills in a Train dialog.

        Importing holds the interpreter for about a second (GUI stalls of ~150 ms), and
        no cancel check can interrupt it; paid at start-up it would delay the first
        picture, paid by the job it would delay that job's Cancel.
        """
        if self._thread is None:
            self.start()
        self._worker.queue.put(PREPARE_TRAINING)

    def set_device(self, preference: str) -> None:
        """Use another device for the following jobs (clears the model cache)."""
        self.device_preference = preference
        if self._worker is not None:
            self._worker.queue.put(preference)

    @property
    def busy(self) -> bool:
        """True while any job is queued or running."""
        return bool(self._tickets)

    def running_handle(self) -> JobHandle | None:
        """The job now running, if any."""
        return next((h for h in self._handles.values() if h.state == "running"), None)

    def handles(self) -> list[JobHandle]:
        """Every job submitted this session, oldest first."""
        return list(self._handles.values())

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Cancel everything and stop the thread."""
        if self._thread is None:
            return
        self.cancel()
        self._worker.queue.put(None)
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            # A job ignored its cancel flag; the process is ending, so stop the thread hard.
            self._thread.terminate()
            self._thread.wait(1000)
        self._thread = None

    # --- worker reports (queued onto the GUI thread) ---
    def _on_ready(self, description: str, device_type: str, torch_version: str) -> None:
        self.device_description = description
        self.device_type = device_type
        self.torch_version = torch_version
        self.is_ready = True
        self.ready.emit(description)

    def _live(self, job_id: int) -> JobHandle | None:
        handle = self._handles.get(job_id)
        return handle if handle is not None and not handle.done else None

    def _on_started(self, job_id: int) -> None:
        if handle := self._live(job_id):
            handle.state = "running"
            self.started_at[job_id] = time.monotonic()
            handle.started.emit()
            self.job_changed.emit(handle)

    def _on_progress(self, job_id: int, report: Progress) -> None:
        if handle := self._live(job_id):
            handle.last_progress = report
            fraction = -1.0 if report.fraction is None else report.fraction
            handle.progress.emit(fraction, report.message)
            if report.preview is not None:
                handle.preview.emit(report.preview)
            self.job_changed.emit(handle)

    def _on_partial(self, job_id: int, payload: Any) -> None:
        if handle := self._live(job_id):
            handle.partial.emit(payload)

    def _on_log(self, job_id: int, line: str) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            handle.log_lines = getattr(handle, "log_lines", []) + [line]
            handle.log.emit(line)
            self.job_changed.emit(handle)

    def _on_finished(self, job_id: int, result: Any) -> None:
        self._stopped(job_id)
        # The result goes out with the signal only: a handle that kept it would hold every
        # generated grid of the session in memory.
        if handle := self._live(job_id):
            self._finish(job_id, "finished")
            handle.finished.emit(result)
        self._forget(job_id)

    def _on_failed(self, job_id: int, failure: JobError) -> None:
        self._stopped(job_id)
        if handle := self._live(job_id):
            handle.failure, handle.error = failure, failure.message
            self._finish(job_id, "failed")
            handle.errored.emit(failure)
            handle.failed.emit(failure.message)
        self._forget(job_id)

    def _on_cancelled(self, job_id: int) -> None:
        self._stopped(job_id)
        if self._live(job_id):
            self._finish(job_id, "cancelled")
        self._forget(job_id)

    def _stopped(self, job_id: int) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            handle.stopped_at = time.monotonic()

    def _abandon(self, job_id: int) -> None:
        if handle := self._live(job_id):
            handle.abandoned = True
            self._finish(job_id, "cancelled")

    def _finish(self, job_id: int, state: str) -> None:
        handle = self._handles[job_id]
        handle.state = state
        if state == "cancelled":
            handle.cancelled.emit()
            if job_id not in self.started_at:
                self._forget(job_id)  # a queued job is skipped by the worker without a report
        self.job_changed.emit(handle)

    def _forget(self, job_id: int) -> None:
        self._tickets.pop(job_id, None)
        self._prune_history()
        if not self._tickets:
            self.busy_changed.emit(False)

    def _prune_history(self) -> None:
        """Drop the oldest finished handles beyond KEEP_DONE_HANDLES (their tickets are already gone)."""
        done = [jid for jid, h in self._handles.items() if h.done and jid not in self._tickets]
        for jid in done[: max(0, len(done) - KEEP_DONE_HANDLES)]:
            handle = self._handles.pop(jid)
            self.started_at.pop(jid, None)
            self.job_removed.emit(handle)
            handle.deleteLater()


def _shutdown_at_exit(engine_ref: weakref.ref) -> None:
    engine = engine_ref()
    if engine is not None:
        with contextlib.suppress(RuntimeError):  # the Qt object is already gone
            engine.shutdown()


def _leave_the_cpu_to_the_gui() -> None:
    """Run the engine thread (and the torch threads it starts from now on) below the GUI thread's priority."""
    from aigc_studio.core.cpu_share import lower_this_thread_priority

    if not lower_this_thread_priority():
        QThread.currentThread().setPriority(QThread.Priority.LowPriority)


def _every_so_often(report):
    """Pass progress on at most every PROGRESS_INTERVAL_S, but always with a preview, when done, or
    when the message says something new (not just new numbers: "saving…" after "step 9/100").

    A job may report after every tiny step; each report costs the GUI thread a relayout of
    the status bar and the Jobs panel, so the ones in between are dropped here.
    """
    from aigc_studio.core.cpu_share import PROGRESS_INTERVAL_S

    last = {"at": float("-inf"), "shape": None}

    def throttled(progress: Progress) -> None:
        now = time.monotonic()
        shape = _DIGITS.sub("#", progress.message)
        done = progress.fraction is not None and progress.fraction >= 1.0
        if progress.preview is None and not done and shape == last["shape"] and now - last["at"] < PROGRESS_INTERVAL_S:
            return
        last.update(at=now, shape=shape)
        report(progress)

    return throttled


def _warm_up() -> None:
    """Pay training's one-time import (see ``warm_up_training``); instant once it has been paid."""
    from aigc_studio.core.jobs import warm_up_training

    with contextlib.suppress(Exception):  # an optional speed-up: training still works without it
        warm_up_training()


def _friendly_runtime_error(exc: Exception) -> str:
    text = str(exc)
    if "out of memory" in text.lower():
        return "The device ran out of memory. Try a smaller batch, size or length, or use the CPU."
    return f"Unexpected error ({type(exc).__name__}): {text}. Details were written to the log."
