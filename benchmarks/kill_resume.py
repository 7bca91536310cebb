"""Kill -9 every trainer many times at random moments, resume each time, and compare with an uninterrupted run.

The full variant of tests/robustness/test_kill_resume.py. For each trainer it
runs the real ``aigc-studio train`` command once straight through, and once
killed ``--kills`` times (each kill after the segment's first checkpoint, at a
seeded random delay; every third one in the middle of a checkpoint save) and
resumed with ``--resume`` each time. It reports the steps lost per kill
against the checkpoint interval, whether the final checkpoints are
bit-identical (weights, optimiser and RNG state), and the time taken.

    python benchmarks/kill_resume.py --kills 8 --steps 200 --every 10
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's package and the tests' harness

from robustness.harness import (  # noqa: E402 - the tests folder is put on the path just above
    KINDS,
    all_tensors,
    checkpoint_step,
    identical,
    resumed_step,
    run_and_kill,
    run_to_end,
    train_command,
    write_training_data,
)


def kill_and_resume(kind: str, folder: Path, kills: int, steps: int, every: int, seed: int, max_delay: float) -> dict:
    """One trainer: the straight run, the killed-and-resumed run, and what was lost on the way."""
    rng = random.Random(f"{seed}-{kind}")
    data = write_training_data(kind, folder / "data")
    straight, out = folder / "straight.safetensors", folder / "killed.safetensors"
    started = time.monotonic()
    run_to_end(train_command(kind, data, straight, steps, every), folder / "straight.log")
    straight_s = time.monotonic() - started

    command = train_command(kind, data, out, steps, every)
    lost, delays, modes, resumes_ok = [], [], [], True
    started = time.monotonic()
    expected_resume = None
    for n in range(kills):
        mode = "save" if n % 3 == 2 else "random"
        log = folder / f"segment-{n}.log"
        try:
            # Each kill may use up to its fair share of the steps left, so that all the kills fit in the run.
            share = 1.5 / (kills - n + 1)
            kill = run_and_kill(command + (["--resume", str(out)] if n else []), out, log, mode, rng, max_delay, share)
        except RuntimeError:  # the segment ended before a second save could be caught
            expected_resume = None
            break
        if expected_resume is not None:
            resumes_ok &= resumed_step(log.read_text()) == expected_resume
        if kill.finished or kill.last_step >= steps:
            break  # too close to the end for another kill
        lost.append(kill.steps_lost)
        delays.append(round(kill.delay_s, 4))
        modes.append(mode)
        expected_resume = kill.checkpoint_step
    final = run_to_end(command + ["--resume", str(out)], folder / "final.log")
    resumes_ok &= expected_resume is None or resumed_step(final) == expected_resume
    interrupted_s = time.monotonic() - started
    return {
        "kind": kind,
        "kills": len(lost),
        "interval": every,
        "lost_max": max(lost, default=0),
        "lost_mean": round(statistics.fmean(lost), 2) if lost else 0.0,
        "lost": lost,
        "modes": modes,
        "delays_s": delays,
        "resumed_where_expected": resumes_ok,
        "identical": checkpoint_step(out) == steps and identical(all_tensors(out), all_tensors(straight)),
        "straight_s": round(straight_s, 1),
        "killed_and_resumed_s": round(interrupted_s, 1),
    }


def main() -> int:
    """Run the benchmark; prints a table (and JSON with --json); exit status 1 if any check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--kills", type=int, default=8, help="kills per trainer")
    parser.add_argument("--steps", type=int, default=200, help="total steps of each run")
    parser.add_argument("--every", type=int, default=10, help="checkpoint interval in steps")
    parser.add_argument("--seed", type=int, default=6, help="seed of the random kill delays")
    parser.add_argument("--max-delay", type=float, default=2.0, help="longest random delay after a checkpoint, s")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()

    results = []
    print(f"{'trainer':<18} {'kills':>5} {'lost max':>8} {'lost mean':>9} {'interval':>8} {'identical':>9} "
          f"{'straight s':>10} {'killed s':>8}")
    for kind in args.kinds:
        with tempfile.TemporaryDirectory(prefix=f"kill-{kind}-") as tmp:
            r = kill_and_resume(kind, Path(tmp), args.kills, args.steps, args.every, args.seed, args.max_delay)
        results.append(r)
        ok = r["identical"] and r["resumed_where_expected"] and r["lost_max"] <= r["interval"]
        print(f"{kind:<18} {r['kills']:>5} {r['lost_max']:>8} {r['lost_mean']:>9} {r['interval']:>8} "
              f"{'yes' if r['identical'] else 'NO':>9} {r['straight_s']:>10} {r['killed_and_resumed_s']:>8}"
              f"{'' if ok else '  FAILED'}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    bad = [r for r in results if not (r["identical"] and r["resumed_where_expected"] and r["lost_max"] <= r["interval"])]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
