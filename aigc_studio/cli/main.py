"""Entry point: ``aigc-studio`` opens the GUI; sub-commands run jobs in the terminal."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from aigc_studio import __version__
from aigc_studio.core.device import DEVICE_CHOICES
from aigc_studio.errors import Cancelled, StudioError

# Each studio adds its own `generate` and `train` sub-commands.
STUDIO_COMMAND_MODULES = (
    "aigc_studio.cli.image_commands",
    "aigc_studio.cli.text_commands",
    "aigc_studio.cli.music_commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (GUI options plus every sub-command)."""
    parser = argparse.ArgumentParser(
        prog="aigc-studio",
        description="Local generative models for images, text and music. Without a command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"aigc-studio {__version__}")
    parser.add_argument(
        "--device", default=None, help=f"compute device: {', '.join(DEVICE_CHOICES)} or cuda:N (default: settings, then auto)"
    )
    parser.add_argument("--screenshot", metavar="PATH", help="open the window, wait until idle, save a PNG and exit")
    parser.add_argument("--tab", choices=("image", "text", "music"), help="pane to show first")
    parser.add_argument("--debug", action="store_true", help="print the full traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from aigc_studio.cli import models_commands

    models_commands.register(sub)
    from aigc_studio.cli import evaluate_command

    evaluate_command.register(sub)
    generate = sub.add_parser("generate", help="generate images, text or music").add_subparsers(
        dest="what", required=True, metavar="{image,text,music}"
    )
    train = sub.add_parser("train", help="train or fine-tune a model on your own data").add_subparsers(
        dest="kind", required=True, metavar="KIND"
    )
    for name in STUDIO_COMMAND_MODULES:
        importlib.import_module(name).register(generate, train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the GUI or a sub-command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from aigc_studio.ui.app import run_gui

        return run_gui(args)
    try:
        if args.command == "train":  # --nproc-per-node: start this command again under torchrun, one per GPU
            from aigc_studio.cli.launch import quiet_other_ranks, relaunch_under_torchrun, wants_launch

            if wants_launch(args):
                return relaunch_under_torchrun(args, sys.argv[1:] if argv is None else argv)
            quiet_other_ranks()
        return int(args.func(args) or 0)
    except Cancelled:
        print("aigc-studio: cancelled", file=sys.stderr)
        if argv is None:  # the program itself, not a test: skip torch's ~0.7 s teardown so Ctrl+C ends at once
            _exit_now(130)
        return 130
    except KeyboardInterrupt:
        print("aigc-studio: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure ends as one line (or a traceback with --debug)
        return _report_failure(exc, args.debug)


def _report_failure(exc: Exception, debug: bool) -> int:
    """Print one line for the user (the traceback too with ``--debug``); returns the exit status."""
    if debug:
        traceback.print_exc(file=sys.stderr)
    if isinstance(exc, StudioError):
        print(f"aigc-studio: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    if isinstance(exc, MemoryError):
        print("aigc-studio: error: out of memory; try a smaller batch, size or length.", file=sys.stderr)
        return 1
    if isinstance(exc, OSError) and exc.strerror and exc.filename:  # e.g. an output folder that is not writable
        print(f"aigc-studio: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    log = _log_internal_error(exc)
    where = f"; details in {log}" if log else ""
    print(
        f"aigc-studio: internal error: {_one_line(f'{type(exc).__name__}: {exc}')}{where}; "
        "run with --debug for the traceback",
        file=sys.stderr,
    )
    return 2


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _log_internal_error(exc: Exception) -> str | None:
    """Append the traceback to the same log the GUI uses; returns its path (None if it cannot be written)."""
    from aigc_studio.core.error_log import log_error

    path = log_error("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), "command line")
    return str(path) if path else None


def _exit_now(status: int) -> None:
    """End the process without interpreter teardown; everything the command wrote is already closed."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def cli_device(args: argparse.Namespace) -> str:
    """The device the user asked for on the command line (or auto)."""
    return args.device or "auto"
