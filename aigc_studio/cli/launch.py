"""``aigc-studio train … --nproc-per-node N``: run the same command under torchrun, one process per GPU."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from aigc_studio.core.launch import launch_command, launched_by_torchrun


def wants_launch(args: argparse.Namespace) -> bool:
    """True when the launch options ask for several processes and this is not one of them already.

    Under torchrun (a user's own ``torchrun … -m aigc_studio train …`` with the options
    left in) the options are ignored and this process trains as its rank.
    """
    asked = getattr(args, "nproc_per_node", None) is not None or getattr(args, "nnodes", 1) > 1
    return asked and not launched_by_torchrun()


def relaunch_under_torchrun(args: argparse.Namespace, argv: list[str]) -> int:
    """Start ``argv`` (minus the launch options) under torchrun and wait; returns its exit status."""
    command = launch_command(
        argv,
        args.nproc_per_node or "1",
        args.nnodes,
        args.node_rank,
        args.master_addr,
        args.master_port,
    )
    interrupted = False

    def on_sigint(signum, frame):  # the terminal sends Ctrl+C to every process: the ranks save and stop
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        process = subprocess.Popen(command, env=env)
        while True:
            try:
                status = process.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - the handler above catches it
                interrupted = True
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        print("aigc-studio: cancelled", file=sys.stderr)
        return 130
    if status != 0:
        print(
            f"aigc-studio: error: a training process failed (exit status {status}); see the lines above.",
            file=sys.stderr,
        )
        return 1
    return 0


def quiet_other_ranks() -> None:
    """Under torchrun, only rank 0 prints results; the others keep their error messages (stderr)."""
    if launched_by_torchrun() and os.environ.get("RANK", "0") != "0":
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
