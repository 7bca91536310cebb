"""Run a job in the terminal: progress bar on stderr, Ctrl+C cancels, errors in one line."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aigc_studio.core.jobs import CancelToken, Job, JobContext, Progress, warm_up_training
from aigc_studio.errors import Cancelled

ETA_WINDOW_S = 60.0


class TerminalProgress:
    """A one-line progress bar that redraws at most ten times a second."""

    def __init__(self, title: str, stream=None) -> None:
        self.title = title
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_message = ""
        self._recent: deque[tuple[float, float]] = deque()  # (time, fraction) of recent reports

    def update(self, report: Progress) -> None:
        """Draw the bar for one progress report."""
        now = time.monotonic()
        final = report.fraction is not None and report.fraction >= 1.0
        if not final and now - self._last_draw < (0.1 if self._tty else 2.0):
            return
        self._last_draw = now
        elapsed = now - self.started
        width = max(10, min(40, shutil.get_terminal_size((80, 20)).columns - 60))
        if report.fraction is None:
            bar, pct, eta = "?" * 0 + "-" * width, "  ?%", ""
        else:
            filled = int(width * report.fraction)
            bar = "#" * filled + "-" * (width - filled)
            pct = f"{report.fraction * 100:3.0f}%"
            eta = self._eta(now, report.fraction)
        line = f"{self.title} [{bar}] {pct} {elapsed:.0f}s{eta} {report.message}"[:200]
        if self._tty:
            self.stream.write("\r" + line.ljust(100)[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _eta(self, now: float, fraction: float) -> str:
        # Rate over the last minute of reports: a resumed run starts partway, and jobs jump
        # a little after loading their data, so the rate since the start would mislead.
        self._recent.append((now, fraction))
        while len(self._recent) > 2 and now - self._recent[1][0] > ETA_WINDOW_S:
            self._recent.popleft()
        t0, f0 = self._recent[0]
        if not 0 < fraction < 1 or fraction <= f0 or now - t0 < 2.0:
            return ""
        return f" eta {(1 - fraction) * (now - t0) / (fraction - f0):.0f}s"

    def log(self, message: str) -> None:
        """Print a log line above the bar."""
        prefix = "\r\n" if self._tty else ""
        self.stream.write(f"{prefix}{message}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


def run_in_terminal(
    job: Job,
    device: str = "auto",
    seed: int | None = None,
    on_partial: Callable[[Any], None] | None = None,
    show_progress: bool = True,
) -> Any:
    """Run ``job`` here with a progress bar. Ctrl+C cancels it (raises Cancelled)."""
    from aigc_studio.core.device import pick_device

    bar = TerminalProgress(job.title) if show_progress else None
    token = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def stop_now(signum, frame):  # nothing is being written yet: stop right here
        raise Cancelled()

    from aigc_studio.core.launch import launched_by_torchrun

    several = launched_by_torchrun()

    def on_sigint(signum, frame):  # first Ctrl+C cancels cleanly, the second one kills
        token.cancel()
        if not several:  # under torchrun the launcher passes the terminal's Ctrl+C on: the same one, twice
            signal.signal(signal.SIGINT, previous)

    try:
        signal.signal(signal.SIGINT, stop_now)
        if getattr(job, "trains", False):
            warm_up_training()
        signal.signal(signal.SIGINT, on_sigint)
        ctx = JobContext(
            device=pick_device(device),
            seed=seed,
            on_progress=bar.update if bar else None,
            on_partial=on_partial,
            on_log=bar.log if bar else (lambda line: print(line, file=sys.stderr)),
            cancel_token=token,
        )
        return job.run(ctx)
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar:
            bar.close()
