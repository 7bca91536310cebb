"""Options every ``aigc-studio train KIND`` sub-command shares, and their checks."""

from __future__ import annotations

import argparse
from typing import Any

from aigc_studio.errors import InputError


def add_run_options(parser: argparse.ArgumentParser, seed: int, checkpoint_every: int) -> None:
    """--out, --resume, --checkpoint-every, --log-every, --seed and --threads."""
    parser.add_argument("--out", required=True, help="output .safetensors (also a resumable checkpoint)")
    parser.add_argument("--resume", default=None, help="continue this checkpoint exactly")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=checkpoint_every,
        help=f"save a resumable checkpoint every N steps; 0 = only at the end (default {checkpoint_every})",
    )
    parser.add_argument(
        "--log-every", type=int, default=0, help="also print a 'step N/M' line every N steps (for logs of unattended runs)"
    )
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    add_launch_options(parser)


def add_launch_options(parser: argparse.ArgumentParser) -> None:
    """--nproc-per-node and the options for several machines: the command runs again under torchrun."""
    group = parser.add_argument_group("several GPUs or machines (runs the same command under torchrun)")
    group.add_argument(
        "--nproc-per-node",
        default=None,
        metavar="N|auto",
        help="processes on this machine, one per GPU ('auto': every visible GPU); --batch-size is the global batch",
    )
    group.add_argument("--nnodes", type=int, default=1, help="machines taking part (default 1)")
    group.add_argument("--node-rank", type=int, default=0, help="this machine's number, 0 to nnodes-1")
    group.add_argument("--master-addr", default=None, help="address of the machine with --node-rank 0")
    group.add_argument("--master-port", type=int, default=None, help="a free port on that machine (default 29500)")


def add_card_options(parser: argparse.ArgumentParser) -> None:
    """What goes into the model card besides the training figures."""
    parser.add_argument("--name", default="", help="model name (default: the output file's name)")
    parser.add_argument("--description", default="", help="one line for the model list")
    parser.add_argument("--license", default="", help="licence of the training data, for the model card")
    parser.add_argument("--data-sources", default="", help="where the training data came from, for the model card")


def apply_training_options(args: Any) -> None:
    """Check ``--steps``, ``--checkpoint-every`` and ``--log-every``; apply ``--threads``."""
    if args.steps < 1:
        raise InputError("--steps must be at least 1.")
    if args.checkpoint_every < 0 or args.log_every < 0:
        raise InputError("--checkpoint-every and --log-every must be 0 or more.")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
