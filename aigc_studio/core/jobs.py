"""Jobs and the context they run in. Plain Python: the GUI, CLI and tests share it.

A job is any object with a ``title`` and a ``run(ctx)`` method. It reports
through ``ctx`` and checks ``ctx.check_cancelled()`` often (at least every
few hundred milliseconds) so that Cancel takes effect within a second.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aigc_studio.errors import Cancelled

if TYPE_CHECKING:
    import torch

    from aigc_studio.core.cache import ModelCache


class Job(Protocol):
    """What the engine runs. ``run`` returns the job's result."""

    title: str

    def run(self, ctx: JobContext) -> Any: ...


@dataclass
class Progress:
    """One progress report: fraction in [0, 1] (or None when unknown) and a message."""

    fraction: float | None
    message: str = ""
    preview: Any = None


class CancelToken:
    """A thread-safe flag the GUI (or Ctrl+C) sets and the job polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop."""
        self._event.set()

    @property
    def is_set(self) -> bool:
        """True once cancellation was requested."""
        return self._event.is_set()


class JobContext:
    """Handed to ``Job.run``: progress reporting, cancellation, device, seeded RNG, model cache."""

    def __init__(
        self,
        device: torch.device | str = "cpu",
        seed: int | None = None,
        models: ModelCache | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        cancel_token: CancelToken | None = None,
    ) -> None:
        import torch

        from aigc_studio.core.cache import ModelCache

        self.device = torch.device(device) if isinstance(device, str) else device
        self.seed = seed
        self.models = models if models is not None else ModelCache()
        self.cancel_token = cancel_token or CancelToken()
        self._on_progress = on_progress
        self._on_partial = on_partial
        self._on_log = on_log
        self.started_at = time.monotonic()

    @property
    def cancelled(self) -> bool:
        """True once the user asked to cancel."""
        return self.cancel_token.is_set

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop."""
        if self.cancel_token.is_set:
            raise Cancelled()

    def progress(self, fraction: float | None, message: str = "", preview: Any = None) -> None:
        """Report progress (and check for cancellation)."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        if self._on_progress is not None:
            self._on_progress(Progress(fraction, message, preview))
        self.check_cancelled()

    def partial(self, payload: Any) -> None:
        """Hand over a partial result (a streamed token, a preview grid, a loss value)."""
        if self._on_partial is not None:
            self._on_partial(payload)
        self.check_cancelled()

    def log(self, message: str) -> None:
        """A line for the job log (skipped files, warnings, batch-size changes)."""
        if self._on_log is not None:
            self._on_log(message)

    def generator(self, seed: int | None = None) -> torch.Generator:
        """A CPU ``torch.Generator`` seeded with ``seed`` (or the job's seed, or a fresh one).

        Noise is drawn on the CPU and moved to the device so that the same seed
        gives the same numbers whatever the device.
        """
        import torch

        gen = torch.Generator(device="cpu")
        chosen = seed if seed is not None else self.seed
        if chosen is None:
            gen.seed()
        else:
            gen.manual_seed(int(chosen))
        return gen


def warm_up_training() -> None:
    """Import what the first optimiser pulls in (torch._dynamo, ~1 s) now, where Cancel need not wait for it.

    A Python import cannot stop halfway at a cancel check, so a training job that
    met it first would ignore Cancel for a second. Jobs that set ``trains = True`` need it.
    """
    import torch._dynamo  # noqa: F401 - imported for its side effect


@contextlib.contextmanager
def cancel_between_layers(net: Any, check: Callable[[], None]) -> Iterator[None]:
    """Call ``check`` before every submodule of ``net`` runs, so one long forward pass stops within a layer.

    A big network can take seconds for a single batch that must not be split (its
    pixels would change); raising Cancelled from a pre-forward hook ends it early.
    """
    hooks = [m.register_forward_pre_hook(lambda _module, _inputs: check()) for m in net.modules()]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def run_job(job: Job, device: str | torch.device = "cpu", seed: int | None = None, **callbacks: Any) -> Any:
    """Run a job synchronously (tests, scripts). Callbacks: on_progress, on_partial, on_log, cancel_token."""
    ctx = JobContext(device=device, seed=seed, **callbacks)
    return job.run(ctx)


class FunctionJob:
    """Wrap a plain function ``fn(ctx)`` as a job (small engine tasks, tests)."""

    def __init__(self, title: str, fn: Callable[[JobContext], Any]) -> None:
        self.title = title
        self.fn = fn

    def run(self, ctx: JobContext) -> Any:
        """Call the wrapped function."""
        return self.fn(ctx)
