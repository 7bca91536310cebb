"""One rank of a :class:`aigc_studio.core.launched_job.LaunchedTrainingJob` (started by torchrun).

``python -m aigc_studio.core.rank_worker JOB.json DEVICE``: rebuilds the job from its class
and settings, runs it as this rank, and on rank 0 prints progress, loss points, previews,
log lines and the result as JSON lines on stdout for the app to follow.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
from typing import Any

from aigc_studio.core.launched_job import encode_event
from aigc_studio.errors import Cancelled, StudioError


def _load(name: str) -> Any:
    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def build_job(spec: dict[str, Any]) -> Any:
    """The job a :func:`aigc_studio.core.launched_job.job_spec` describes."""
    settings = spec["settings"]
    if spec.get("settings_class"):
        settings = _load(spec["settings_class"]).from_dict(settings)
    return _load(spec["job"])(settings)


def main(argv: list[str]) -> int:
    from aigc_studio.core.device import pick_device
    from aigc_studio.core.jobs import CancelToken, JobContext, Progress, warm_up_training

    spec_path, device = argv[0], argv[1] if len(argv) > 1 else "auto"
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    main_rank = os.environ.get("RANK", "0") == "0"
    out = sys.stdout

    def emit(report: dict[str, Any]) -> None:
        if main_rank:
            out.write(json.dumps(report, default=str) + "\n")
            out.flush()

    def on_progress(p: Progress) -> None:
        preview = encode_event_image(p.preview)
        emit({"report": "progress", "fraction": p.fraction, "message": p.message, "preview": preview})

    token = CancelToken()
    signal.signal(signal.SIGINT, lambda signum, frame: token.cancel())
    try:
        job = build_job(spec)
        if getattr(job, "trains", False):
            warm_up_training()
        ctx = JobContext(
            device=pick_device(device),
            on_progress=on_progress,
            on_partial=lambda event: emit({"report": "partial", "event": encode_event(event)}),
            on_log=lambda message: emit({"report": "log", "message": message}),
            cancel_token=token,
        )
        result = job.run(ctx)
        emit({"report": "result", "event": encode_event(result)})
        return 0
    except Cancelled:
        return 130
    except StudioError as exc:
        print(f"aigc-studio: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def encode_event_image(image: Any) -> Any:
    """A preview array as JSON-ready data (None stays None)."""
    if image is None:
        return None
    from aigc_studio.core.events import Preview

    return encode_event(Preview(0, image))["image"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
