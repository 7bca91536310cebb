"""Run the real ``aigc-studio train`` CLI in a subprocess, kill it with SIGKILL, resume it, compare.

Shared by tests/robustness/test_kill_resume.py (a few kills, tiny runs) and
benchmarks/kill_resume.py (many kills, longer runs). Every run prints a
``step N/M`` line per step (``--log-every 1``), so the step reached before a
kill is known, and ``Checkpoint at step N`` / ``Resumed ... at step N`` lines
say where checkpoints were written and where a resume started.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aigc_studio

PACKAGE_ROOT = Path(aigc_studio.__file__).resolve().parent.parent
KINDS = ("image-gan", "image-vae", "text-gpt", "text-vae", "music-transformer", "music-vae")
STEP_LINE = re.compile(r"^step (\d+)/(\d+)", re.MULTILINE)
CHECKPOINT_LINE = re.compile(r"^Checkpoint at step (\d+)", re.MULTILINE)
RESUMED_LINE = re.compile(r"^Resumed .*at step (\d+)", re.MULTILINE)

# Tiny architectures: seconds per run on one CPU thread, yet every RNG of the real trainer is in play
# (DiffAugment and flips for the GAN, dropout for the GPT, word dropout for the sentence VAE,
# transposition for the music models).
MODEL_ARGS = {
    "image-gan": ["--resolution", "32", "--size", "tiny", "--batch", "4", "--preview-every", "1000000"],
    "image-vae": ["--resolution", "32", "--size", "tiny", "--batch", "4", "--preview-every", "1000000"],
    "text-gpt": ["--tokenizer", "char", "--layers", "2", "--heads", "2", "--width", "32", "--context", "32",
                 "--batch-size", "4", "--dropout", "0.1", "--eval-every", "10", "--sample-every", "0"],
    "text-vae": ["--embed", "16", "--hidden", "32", "--latent", "8", "--batch-size", "4"],
    "music-transformer": ["--layers", "1", "--heads", "2", "--width", "32", "--context", "64", "--batch-size", "4",
                          "--eval-every", "10"],
    "music-vae": ["--hidden", "32", "--latent", "8", "--batch-size", "4", "--eval-every", "10"],
}


def write_training_data(kind: str, folder: Path) -> Path:
    """Write a small data set for ``kind`` into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind.startswith("image"):
        _write_images(folder)
    elif kind.startswith("text"):
        _write_text(folder)
    else:
        _write_midi(folder)
    return folder


def _write_images(folder: Path) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(12):
        image = np.full((40, 40, 3), rng.integers(0, 255, 3), np.uint8)
        y, x = rng.integers(0, 24, 2)
        image[y : y + 16, x : x + 16] = rng.integers(0, 255, 3)
        Image.fromarray(image).save(folder / f"shape{i:02d}.png")


def _write_text(folder: Path) -> None:
    sentences = [
        "The cat sat on the mat.", "A dog ran in the park.", "She walked to the old house by the river.",
        "He opened the door slowly.", "The rain fell all night long.", "We ate bread and cheese at noon.",
        "The clocks were striking thirteen.", "The garden was quiet after the storm.",
    ]
    lines = [" ".join(sentences[(i + j) % len(sentences)] for j in range(3)) for i in range(40)]
    (folder / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_midi(folder: Path) -> None:
    from aigc_studio.music.midi_io import write_midi
    from aigc_studio.music.song import Note, Song, Track

    melody = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 64, 60]
    bass = [48, 43, 45, 41, 48, 43, 45, 48]
    for shift in range(4):
        song = Song(ticks_per_beat=480)
        song.tracks = [
            Track("Melody", 0, 0, [Note(p + shift, i * 480, 480, 70 + (i % 4) * 10) for i, p in enumerate(melody)]),
            Track("Bass", 32, 1, [Note(p + shift, i * 960, 960, 90) for i, p in enumerate(bass)]),
            Track("Drums", 0, 9, [Note(36 if i % 2 == 0 else 38, i * 480, 120, 100) for i in range(16)]),
        ]
        write_midi(song, folder / f"song{shift}.mid")


def train_command(kind: str, data: Path, out: Path, steps: int, checkpoint_every: int) -> list[str]:
    """The CLI command line of one run (one CPU thread, so that results are bit-identical run to run)."""
    return [
        sys.executable, "-m", "aigc_studio", "--device", "cpu", "train", kind, "--data", str(data),
        "--out", str(out), "--steps", str(steps), "--checkpoint-every", str(checkpoint_every),
        "--log-every", "1", "--threads", "1", *MODEL_ARGS[kind],
    ]


def child_env() -> dict[str, str]:
    """The environment of a training subprocess: this checkout importable, one thread everywhere."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


@dataclass
class Kill:
    """What one SIGKILL interrupted."""

    mode: str  # "random" or "save"
    delay_s: float
    last_step: int  # the last "step N/M" line printed before the kill
    checkpoint_step: int  # the step of the checkpoint on disk after the kill
    part_files: list[str] = field(default_factory=list)  # temp files of an interrupted save
    finished: bool = False  # the run ended before the kill landed

    @property
    def steps_lost(self) -> int:
        """Steps trained before the kill that the checkpoint does not hold."""
        return self.last_step - self.checkpoint_step


def part_files(out: Path) -> list[Path]:
    """Temp files of interrupted atomic writes of ``out``."""
    return sorted(out.parent.glob(f".{out.name}.*.part"))


def run_to_end(command: list[str], log: Path, timeout_s: float = 300) -> str:
    """Run a command to completion, logging to ``log``; returns the log text (raises if it failed)."""
    with open(log, "w") as handle:
        proc = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=child_env(), timeout=timeout_s)
    text = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {proc.returncode}:\n{text[-3000:]}")
    return text


def run_and_kill(
    command: list[str], out: Path, log: Path, mode: str, rng: random.Random, max_delay_s: float,
    share: float = 0.7, timeout_s: float = 120,
) -> Kill:
    """Start a run and SIGKILL it once a checkpoint exists: after a random delay, or in the middle of a save.

    The random delay is at most ``max_delay_s`` and at most ``share`` of the time the remaining
    steps need at the speed seen so far, so that the kill lands before the run ends.
    """
    stale = set(part_files(out))  # left by an earlier kill; the run removes them at its next save
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=child_env())
    deadline = time.monotonic() + timeout_s
    delay = 0.0
    try:
        seconds_left = _wait_for_checkpoint_line(proc, log, deadline)
        if mode == "random":
            delay = rng.uniform(0.0, min(max_delay_s, share * seconds_left))
            time.sleep(delay)
        else:
            # A save has started when its temp file appears; kill within a random couple of milliseconds of that.
            delay = rng.uniform(0.0, 0.002)
            _wait_for_new_save(proc, out, stale, deadline)
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()  # reaped, so the stale-temp-file check sees the writer gone
    text = log.read_text()
    steps = [int(m.group(1)) for m in STEP_LINE.finditer(text)]
    return Kill(
        mode=mode,
        delay_s=delay,
        last_step=steps[-1] if steps else 0,
        checkpoint_step=checkpoint_step(out),
        part_files=[p.name for p in part_files(out) if f".{proc.pid}-" in p.name],
        finished=proc.returncode == 0,
    )


def _wait_for_checkpoint_line(proc: subprocess.Popen, log: Path, deadline: float) -> float:
    """Wait for the first checkpoint; returns an estimate of the seconds the run still needs."""
    first_step: tuple[int, float] | None = None
    while time.monotonic() < deadline:
        text = log.read_text()
        steps = [(int(m.group(1)), int(m.group(2))) for m in STEP_LINE.finditer(text)]
        if steps and first_step is None:
            first_step = (steps[-1][0], time.monotonic())
        if CHECKPOINT_LINE.search(text) and first_step is not None:
            (done, total), now = steps[-1], time.monotonic()
            per_step = (now - first_step[1]) / max(1, done - first_step[0])
            return per_step * (total - done)
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended before its first checkpoint:\n{log.read_text()[-3000:]}")
        time.sleep(0.005)
    raise TimeoutError("no checkpoint within the time limit")


def _wait_for_new_save(proc: subprocess.Popen, out: Path, stale: set[Path], deadline: float) -> None:
    # Called once a checkpoint is complete, so the next temp file belongs to a save over a good file.
    while time.monotonic() < deadline and proc.poll() is None:
        if set(part_files(out)) - stale:
            return
        time.sleep(0.0002)
    raise RuntimeError("the run ended before a second checkpoint save started")


def checkpoint_step(out: Path) -> int:
    """The step of the checkpoint at ``out`` (loaded in full: a damaged file raises ModelFileError)."""
    from aigc_studio.core.statefile import load_checkpoint

    _, _, state = load_checkpoint(out)
    return int(state["step"])


def resumed_step(log_text: str) -> int:
    """The step a resumed run says it started from."""
    match = RESUMED_LINE.search(log_text)
    if not match:
        raise AssertionError(f"the resumed run did not say where it resumed:\n{log_text[-3000:]}")
    return int(match.group(1))


def all_tensors(out: Path) -> dict:
    """Every tensor in a checkpoint (weights, optimiser moments, RNG states), read after a full validation."""
    from aigc_studio.core.modelfile import load_model

    return load_model(out)[1]


def identical(a: dict, b: dict) -> bool:
    """True if both tensor dicts have the same names and bit-identical values."""
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
