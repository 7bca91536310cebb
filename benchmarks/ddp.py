"""Training speed at world size 1 and 2 (torchrun; gloo on the CPU, NCCL on GPUs) and the scaling ratio.

Usage: python benchmarks/ddp.py [--repeats 3] [--worlds 1,2] [--device cpu|cuda] [--steps-scale 1.0]

Trains a tiny image GAN (32 px, global batch 16) and a small text GPT (global batch 16 x 64
tokens) through ``aigc-studio train … --nproc-per-node N``, one torch thread per process, and
reads the speed rank 0 reports at the end (images/s or tokens/s over the training steps, setup
excluded). World sizes are interleaved over the repeats; prints the median and the spread of
each, and the ratio of the world-size-2 median to the world-size-1 median (2.0 is perfect).
On a shared 2-core machine the ratio is poor: both processes, torchrun and the other jobs share
two cores, and gloo's gradient all-reduce goes through the kernel.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATE = re.compile(r"([\d,]+\.\d) (img|tok)/s")


def _pictures(folder: Path) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    pictures = folder / "pictures"
    pictures.mkdir()
    for i in range(64):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(pictures / f"p{i}.png")
    return pictures


def _corpus(folder: Path) -> Path:
    import random

    rnd = random.Random(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "while", "rain", "fell", "over", "old", "hills", "and", "sea"]
    path = folder / "corpus.txt"
    path.write_text("\n".join(" ".join(rnd.choice(words) for _ in range(10)) + "." for _ in range(3000)))
    return path


def trainers(folder: Path, scale: float) -> dict[str, list[str]]:
    steps = lambda n: str(max(4, int(n * scale)))  # noqa: E731
    return {
        "image-gan 32px tiny, batch 16": [
            "train", "image-gan", "--data", str(_pictures(folder)), "--resolution", "32", "--size", "tiny",
            "--batch-size", "16", "--steps", steps(30), "--augment", "",
        ],
        "text-gpt 2x128, batch 16x64": [
            "train", "text-gpt", "--data", str(_corpus(folder)), "--layers", "2", "--heads", "4", "--width", "128",
            "--context", "64", "--tokenizer", "char", "--batch-size", "16", "--steps", steps(40),
            "--eval-every", "0", "--sample-every", "0",
        ],
    }  # fmt: skip


def run_once(args: list[str], world: int, device: str, out: Path) -> float:
    """Rank 0's final speed for one run at ``world`` processes."""
    command = [sys.executable, "-m", "aigc_studio", "--device", device, *args, "--checkpoint-every", "0"]
    command += ["--out", str(out), "--threads", "1"]
    if world > 1:
        command += ["--nproc-per-node", str(world)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    rates = RATE.findall(done.stderr)
    if not rates:
        raise SystemExit(f"no speed in the output of {' '.join(command)}\n{done.stderr[-2000:]}")
    return float(rates[-1][0].replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worlds", default="1,2", help="world sizes to compare (the first is the baseline)")
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per process)")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply the training steps")
    args = parser.parse_args()
    worlds = [int(w) for w in args.worlds.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        runs = trainers(Path(folder), args.steps_scale)
        rows = []
        for name, train_args in runs.items():
            rates: dict[int, list[float]] = {w: [] for w in worlds}
            for repeat in range(args.repeats):
                for world in worlds if repeat % 2 == 0 else worlds[::-1]:  # interleaved, alternating order
                    rate = run_once(train_args, world, args.device, Path(folder) / f"m{world}.safetensors")
                    rates[world].append(rate)
                    print(f"  {name}: world {world} run {repeat + 1}: {rate:,.1f}/s", flush=True)
            rows.append((name, rates))
    unit = {"image": "img/s", "text-": "tok/s"}
    print(f"\nTraining speed on {args.device}, median (min-max) of {args.repeats} runs, 1 torch thread per process")
    for name, rates in rows:
        label = unit["image" if name.startswith("image") else "text-"]
        medians = {w: statistics.median(r) for w, r in rates.items()}
        cells = "  ".join(
            f"world {w}: {medians[w]:,.1f} ({min(r):,.1f}-{max(r):,.1f}) {label}" for w, r in rates.items()
        )
        ratio = "  ".join(f"x{medians[w] / medians[worlds[0]]:.2f} at {w}" for w in worlds[1:])
        print(f"{name:32s} {cells}  scaling {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
