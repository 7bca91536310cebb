"""The soak run shared by tests/robustness/test_soak.py (short) and benchmarks/soak.py (500 jobs).

Generation jobs of the three studios are queued on the real engine in waves; a
seeded random share is cancelled, some while queued and some while running.
Every job must end (finished, cancelled, or failed with a message) and the
process's memory after the run must be close to what it was after the first wave.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

WAVE = 50  # jobs queued at once; memory is first measured after the first wave


def rss_mib() -> float:
    """Resident memory of this process in MiB (VmRSS from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class SoakReport:
    """What a soak run measured."""

    jobs: int
    states: dict[str, int] = field(default_factory=dict)  # finished / cancelled / failed -> count
    stuck: list[str] = field(default_factory=list)  # titles of jobs that never ended
    silent_failures: list[str] = field(default_factory=list)  # failed without a message
    failures: dict[str, int] = field(default_factory=dict)  # failure message -> count
    rss_after_first_wave: float = 0.0
    rss_at_end: float = 0.0
    seconds: float = 0.0

    @property
    def memory_ratio(self) -> float:
        """Memory at the end over memory after the first wave."""
        return self.rss_at_end / self.rss_after_first_wave

    def lines(self) -> list[str]:
        """A short human-readable summary."""
        return [
            f"jobs: {self.jobs} in {self.seconds:.1f} s; " + ", ".join(f"{k} {v}" for k, v in sorted(self.states.items())),
            f"RSS after the first {WAVE}: {self.rss_after_first_wave:.1f} MiB; at the end: {self.rss_at_end:.1f} MiB; "
            f"ratio {self.memory_ratio:.3f}",
            f"stuck jobs: {len(self.stuck)} {self.stuck[:5]}; failed without a message: {len(self.silent_failures)}",
            *(f"failed {n}x: {text[:150]}" for text, n in self.failures.items()),
        ]


def soak_models(folder: Path) -> dict[str, Path]:
    """Tiny model files for the three studios."""
    from .long_jobs import gan_file, gpt_file, music_transformer_file

    folder.mkdir(parents=True, exist_ok=True)
    return {
        "image": gan_file(folder / "gan.safetensors", resolution=128),  # grids big enough that keeping them shows
        "text": gpt_file(folder / "gpt.safetensors"),
        "music": music_transformer_file(folder / "mt.safetensors", context=128),
    }


def random_job(models: dict[str, Path], rng: random.Random):
    """One small generation job of a random studio and size."""
    from aigc_studio.image.jobs import GenerateImagesJob
    from aigc_studio.music.jobs import GenerateMusicJob
    from aigc_studio.text.jobs import GenerateTextJob

    studio = rng.choice(("image", "text", "music"))
    if studio == "image":
        return GenerateImagesJob(str(models["image"]), count=rng.randint(8, 48), seed=rng.randrange(10_000))
    if studio == "text":
        return GenerateTextJob(str(models["text"]), "The garden was", max_new_tokens=rng.randint(5, 60),
                               seed=rng.randrange(10_000))
    return GenerateMusicJob(str(models["music"]), bars=rng.randint(1, 3))


def wait_until(condition, timeout_s: float) -> bool:
    """Process Qt events until ``condition()`` is true or ``timeout_s`` passed; returns the condition."""
    from PySide6.QtCore import QCoreApplication

    app = QCoreApplication.instance()
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)
    return bool(condition())


def _settle(app) -> None:
    """Run pending deletions (handles the engine let go of) and collect garbage."""
    from PySide6.QtCore import QCoreApplication, QEvent

    for _ in range(3):
        app.processEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def run_soak(engine, models: dict[str, Path], jobs: int, seed: int = 0, cancel_share: float = 0.3,
             job_timeout_s: float = 60.0) -> SoakReport:
    """Queue ``jobs`` generation jobs in waves, cancel a random share, wait for all; measure memory."""
    from PySide6.QtCore import QCoreApplication, QTimer

    app = QCoreApplication.instance()
    rng = random.Random(seed)
    report = SoakReport(jobs)
    started = time.monotonic()
    ended: dict[int, str] = {}
    messages: dict[int, str] = {}
    submitted = 0
    while submitted < jobs:
        wave = []
        for _ in range(min(WAVE, jobs - submitted)):
            handle = engine.submit(random_job(models, rng), seed=rng.randrange(10_000))
            jid = handle.job_id
            handle.finished.connect(lambda _r, jid=jid: ended.setdefault(jid, "finished"))
            handle.cancelled.connect(lambda jid=jid: ended.setdefault(jid, "cancelled"))
            handle.failed.connect(lambda text, jid=jid: (ended.setdefault(jid, "failed"), messages.setdefault(jid, text)))
            wave.append((jid, handle.title))
            if rng.random() < cancel_share:
                # Some at once (still queued), some later (running or about to run).
                QTimer.singleShot(rng.choice((0, rng.randint(1, 2000))), handle.cancel)
            del handle
        submitted += len(wave)
        timeout = job_timeout_s + 2.0 * len(wave)
        wait_until(lambda wave=wave: all(jid in ended for jid, _ in wave), timeout)
        # "Done" is what the user sees; the engine must also have really let go (no late job still running).
        wait_until(lambda: not engine.busy, job_timeout_s)
        report.stuck += [title for jid, title in wave if jid not in ended]
        if submitted == len(wave):
            _settle(app)
            report.rss_after_first_wave = rss_mib()
    _settle(app)
    report.rss_at_end = rss_mib()
    for state in ended.values():
        report.states[state] = report.states.get(state, 0) + 1
    report.silent_failures = [str(jid) for jid, text in messages.items() if not text.strip()]
    for text in messages.values():
        report.failures[text] = report.failures.get(text, 0) + 1
    report.seconds = time.monotonic() - started
    return report
