"""Start-up and responsiveness benchmark.

Prints (1) time from process start to the main window shown, and (2) the
largest gap of a 10 ms QTimer on the GUI thread while the engine boots torch
and then runs a 5-second CPU-heavy torch job.

Targets (medians, 2-core machine): window <= 1.5 s; stall <= 50 ms on a quiet machine and <= 80 ms
while another CPU-bound process runs (--compete).
Run: python benchmarks/startup.py [--runs 5] [--compete] [--reference OTHER_CHECKOUT]
(uses the offscreen platform without a display; --reference measures another checkout, e.g. a
`git worktree` of an older commit, interleaved with this one)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WINDOW_TARGET_S = 1.5
STALL_TARGET_MS = 50.0  # median, on a quiet machine
STALL_COMPETING_TARGET_MS = 80.0  # median, while another process keeps one core busy (--compete)


def child() -> None:
    """Runs in a fresh process: open the real window, then load the engine."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from aigc_studio.core.jobs import FunctionJob
    from aigc_studio.engine.thread import Engine
    from aigc_studio.ui.main_window import MainWindow
    from aigc_studio.ui.settings import app_settings

    app = QApplication(sys.argv[:1])
    engine = Engine("cpu")
    window = MainWindow(engine, app_settings())
    window.show()
    result: dict = {}
    ticks: list[float] = []

    def heavy(ctx, seconds=5.0):
        import torch

        a = torch.randn(512, 512)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            a = torch.tanh(a @ a)
            ctx.progress(1 - (end - time.monotonic()) / seconds, "working")
        return True

    def max_gap_ms(start: float, stop: float) -> float:
        inside = [t for t in ticks if start <= t <= stop]
        return max((b - a for a, b in zip(inside, inside[1:])), default=0.0) * 1000

    def on_shown() -> None:
        result["shown"] = time.monotonic()
        timer.start(10)
        engine.ready.connect(on_ready)
        result["boot_start"] = time.monotonic()
        engine.start()

    def on_ready(_desc: str) -> None:
        result["boot_end"] = time.monotonic()
        result["job_start"] = time.monotonic()
        handle = engine.submit(FunctionJob("5 s of matrix products", heavy))
        handle.finished.connect(on_done)

    def on_done(_value) -> None:
        result["job_end"] = time.monotonic()
        timer.stop()
        result["boot_stall_ms"] = max_gap_ms(result["boot_start"], result["boot_end"])
        result["job_stall_ms"] = max_gap_ms(result["job_start"], result["job_end"])
        result["ticks"] = len(ticks)
        engine.shutdown()
        print("RESULT " + json.dumps({k: v for k, v in result.items()}), flush=True)
        app.quit()

    timer = QTimer()
    timer.setTimerType(timer.timerType().PreciseTimer)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    QTimer.singleShot(0, on_shown)  # runs once the window has been shown and painted
    app.exec()


def measure_once(code_root: str | None = None) -> dict:
    """Start a fresh interpreter (importing aigc_studio from ``code_root`` if given) and collect its timings."""
    env = {**os.environ, "AIGC_STUDIO_HOME": tempfile.mkdtemp(prefix="aigc-bench-")}
    if code_root:
        env["PYTHONPATH"] = os.pathsep.join([code_root, *filter(None, [env.get("PYTHONPATH")])])
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    start = time.monotonic()
    out = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, env=env, timeout=300)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"child failed:\n{out.stderr}")
    data = json.loads(line[len("RESULT ") :])
    data["window_s"] = data["shown"] - start
    return data


class CompetingProcess:
    """Another program that keeps one core busy (pure Python, so it never sleeps) while the app runs."""

    def __enter__(self) -> CompetingProcess:
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait()


def main() -> None:
    """Run the benchmark a few times (interleaved with the reference code, if any) and print medians and worst."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compete", action="store_true", help="also measure while another process uses one core")
    parser.add_argument(
        "--reference",
        metavar="CHECKOUT",
        help="another checkout of AIGC Studio (e.g. an older commit) measured interleaved with this one",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    ours = str(Path(__file__).resolve().parent.parent)
    codes = [("this", ours)] + ([("reference", str(Path(args.reference).resolve()))] if args.reference else [])
    loads = ["quiet"] + (["competing"] if args.compete else [])
    runs: dict[tuple[str, str], list[dict]] = {(c, ld): [] for c, _ in codes for ld in loads}
    for _ in range(args.runs):  # interleaved, so that a change in the machine's load hits every variant alike
        for load in loads:
            for name, root in codes:
                if load == "competing":
                    with CompetingProcess():
                        runs[(name, load)].append(measure_once(root))
                else:
                    runs[(name, load)].append(measure_once(root))
    print(
        f"AIGC Studio start-up benchmark ({args.runs} runs each, {os.cpu_count()} cores, platform "
        f"{os.environ.get('QT_QPA_PLATFORM') or 'offscreen/native'}; {load_note()})"
    )
    print(f"{'figure':<52}{'code, load':<22}{'median':>9}{'min':>9}{'worst':>9}{'target':>8}  ok")
    for (name, load), results in runs.items():
        label = f"{name}, {load}"
        rows = [
            ("process start -> window shown (s)", [r["window_s"] for r in results], WINDOW_TARGET_S),
            (
                "largest GUI stall during 5 s torch job (ms)",
                [r["job_stall_ms"] for r in results],
                STALL_TARGET_MS if load == "quiet" else STALL_COMPETING_TARGET_MS,
            ),
            ("largest GUI stall while engine imports torch (ms)", [r["boot_stall_ms"] for r in results], None),
        ]
        for figure, values, target in rows:
            median = statistics.median(values)
            ok = "" if target is None else ("yes" if median <= target else "NO")
            target_text = "-" if target is None else f"{target:g}"
            print(f"{figure:<52}{label:<22}{median:>9.3f}{min(values):>9.3f}{max(values):>9.3f}{target_text:>8}  {ok}")


def load_note() -> str:
    """The machine's load average, so that a reader knows whether it was quiet."""
    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load unknown"


if __name__ == "__main__":
    main()
