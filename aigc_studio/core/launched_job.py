"""A training job run as several processes (one per GPU) under torchrun, followed from rank 0.

The app's Train dialogs wrap their job in :class:`LaunchedTrainingJob` when the user picks
more than one GPU. The job's settings go to a JSON file; ``python -m torch.distributed.run
--module aigc_studio.core.rank_worker FILE`` rebuilds the job in every rank
(:func:`aigc_studio.core.rank_worker.main`), and rank 0 prints its progress, loss points,
previews, log lines and result as JSON lines, which :meth:`LaunchedTrainingJob.run` passes to
its own context. Cancel sends Ctrl+C (SIGINT) to every process: they agree on a step, rank 0
saves a resumable checkpoint, and they end.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
from collections import deque
from dataclasses import fields
from typing import Any

from aigc_studio.errors import Cancelled, StudioError

__all__ = ["LaunchedTrainingJob", "decode_event", "encode_event", "job_spec", "on_gpus"]

STOP_GRACE_S = 60.0  # after Cancel, how long the ranks may take to save and end before they are killed


def on_gpus(job: Any, gpus: int) -> Any:
    """``job`` itself on one GPU; run as ``gpus`` processes under torchrun otherwise."""
    return job if gpus <= 1 else LaunchedTrainingJob(job, gpus)


def job_spec(job: Any) -> dict[str, Any]:
    """What a rank needs to rebuild ``job``: its class and its settings (a dict or a settings dataclass)."""
    settings = job.settings
    spec: dict[str, Any] = {"job": f"{type(job).__module__}:{type(job).__qualname__}"}
    if isinstance(settings, dict):
        spec["settings"], spec["settings_class"] = dict(settings), None
    else:
        spec["settings"] = settings.to_dict()
        spec["settings_class"] = f"{type(settings).__module__}:{type(settings).__qualname__}"
    return spec


def encode_event(event: Any) -> dict[str, Any]:
    """A progress event (LossPoint, HeldOutLoss, Sample, Preview, TrainingResult) as JSON-ready data."""
    import numpy as np

    data: dict[str, Any] = {"class": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, np.ndarray):
            value = {
                "array": base64.b64encode(value.tobytes()).decode(),
                "dtype": str(value.dtype),
                "shape": value.shape,
            }
        data[f.name] = value
    return data


def decode_event(data: dict[str, Any]) -> Any:
    """The event :func:`encode_event` encoded."""
    import numpy as np

    from aigc_studio.core import events

    cls = getattr(events, data["class"])
    values = {}
    for f in fields(cls):
        value = data.get(f.name)
        if isinstance(value, dict) and "array" in value:
            raw = base64.b64decode(value["array"])
            value = np.frombuffer(raw, dtype=value["dtype"]).reshape(value["shape"]).copy()
        values[f.name] = value
    return cls(**values)


class LaunchedTrainingJob:
    """Run a training job as ``processes`` ranks under torchrun; progress, samples and result come from rank 0."""

    trains = False  # the ranks warm up and build their optimisers in their own processes

    def __init__(self, job: Any, processes: int) -> None:
        self.job, self.processes = job, processes
        self.settings = job.settings
        self.title = f"{job.title} on {processes} GPUs"

    def command(self, spec_path: str, device: str) -> list[str]:
        from aigc_studio.core.launch import launch_command

        return launch_command([spec_path, device], self.processes, module="aigc_studio.core.rank_worker")

    def run(self, ctx: Any) -> Any:
        """Start the ranks, relay rank 0's reports, stop them all on Cancel; returns the TrainingResult."""
        with tempfile.TemporaryDirectory(prefix="aigc-launch-") as folder:
            spec_path = os.path.join(folder, "job.json")
            with open(spec_path, "w", encoding="utf-8") as f:
                json.dump(job_spec(self.job), f)
            device = getattr(ctx.device, "type", str(ctx.device))
            env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
            process = subprocess.Popen(
                self.command(spec_path, device),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                start_new_session=True,  # its own process group: Cancel signals every rank, not this app
            )
            return self._follow(process, ctx)

    def _follow(self, process: subprocess.Popen, ctx: Any) -> Any:
        lines: queue.Queue[str | None] = queue.Queue()
        errors: deque[str] = deque(maxlen=20)

        def pump(stream, sink, end=None) -> None:
            for line in stream:
                sink(line)
            if end is not None:
                end(None)  # the end of rank 0's reports

        threading.Thread(target=pump, args=(process.stdout, lines.put, lines.put), daemon=True).start()
        threading.Thread(target=pump, args=(process.stderr, errors.append), daemon=True).start()
        result, stop_sent, stream_done = None, None, False
        import time

        while True:
            if ctx.cancelled and stop_sent is None:
                stop_sent = time.monotonic()
                _signal_group(process, signal.SIGINT)
            if stop_sent is not None and time.monotonic() - stop_sent > STOP_GRACE_S:
                _signal_group(process, signal.SIGKILL)
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                line = ""
            if line is None:
                stream_done = True
            elif line:
                try:
                    result = self._relay(json.loads(line), ctx, result)
                except Cancelled:  # the user cancelled while a report was on its way: stop the ranks
                    continue
                except ValueError:  # not one of rank 0's reports (a library printing): keep it for the log
                    errors.append(line)
            if stream_done and process.poll() is not None:
                break
        if stop_sent is not None:
            raise Cancelled()
        if process.returncode != 0 or result is None:
            tail = [line.strip() for line in errors if line.strip()]
            said = [line for line in tail if "aigc-studio: error" in line or "Rank " in line]
            detail = (said or tail or ["no message"])[-1]
            raise StudioError(f"Training on {self.processes} GPUs failed (exit status {process.returncode}): {detail}")
        return result

    def _relay(self, report: dict[str, Any], ctx: Any, result: Any) -> Any:
        kind = report.get("report")
        if kind == "progress":
            preview = report.get("preview")
            image = decode_event({"class": "Preview", "step": 0, "image": preview}).image if preview else None
            ctx.progress(report["fraction"], report["message"], preview=image)
        elif kind == "log":
            ctx.log(report["message"])
        elif kind == "partial":
            ctx.partial(decode_event(report["event"]))
        elif kind == "result":
            return decode_event(report["event"])
        return result


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
