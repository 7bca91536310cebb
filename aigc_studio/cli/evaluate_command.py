"""``aigc-studio evaluate``: quality, diversity, novelty and efficiency of any model, against reference data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aigc_studio.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    e = subparsers.add_parser(
        "evaluate",
        help="measure how good, how new and how fast a model is",
        description="Sample a model and measure quality, diversity, novelty (copies of the reference) and "
        "efficiency; the reference data measured against itself is given beside each figure.",
    )
    e.add_argument("--model", required=True, help="model name, .safetensors file, or a Hugging Face folder (text)")
    e.add_argument(
        "--data",
        default=None,
        help="reference: a folder of images, a .txt/.md file or folder, or a .mid file or folder "
        "(held-out data, or the training data for the memorisation check)",
    )
    e.add_argument("--samples", type=int, default=64, help="number of samples to draw (default 64)")
    e.add_argument("--seed", type=int, default=0, help="seed for the samples and the reference split")
    e.add_argument("--psi", type=float, default=1.0, help="image models: truncation psi of the samples")
    e.add_argument("--json", metavar="OUT.json", default=None, help="write the figures as JSON")
    e.add_argument("--report", metavar="OUT.html", default=None, help="write an HTML report with the nearest pairs")
    e.set_defaults(func=evaluate_command)


def evaluate_command(args: argparse.Namespace) -> int:
    """Run the evaluation in the terminal and print or write the figures."""
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.core.atomic import atomic_write_text
    from aigc_studio.evaluate.job import EvaluateJob

    for option in ("json", "report"):
        target = getattr(args, option)
        if target and Path(target).expanduser().is_dir():
            raise InputError(f"--{option} {target} is a folder; give a file name.")
    job = EvaluateJob(model=args.model, data=args.data, samples=args.samples, seed=args.seed, psi=args.psi)
    result = run_in_terminal(job, device=args.device or "auto", seed=args.seed)
    if args.json:
        atomic_write_text(Path(args.json).expanduser(), json.dumps(result.figures, indent=2, ensure_ascii=False))
    if args.report:
        from aigc_studio.evaluate.report import html_report

        atomic_write_text(Path(args.report).expanduser(), html_report(result))
    print(summary(result.figures))
    if result.warning:
        print(f"Warning: {result.warning}", file=sys.stderr)
    return 0


def summary(figures: dict[str, Any]) -> str:
    """The four sections as aligned text: figure, value, reference figure."""
    ref = figures.get("reference_figures") or {}
    lines = [
        f"{figures['model']['name']} ({figures['model']['kind']}) vs {figures['reference']['path'] or 'no reference'}"
    ]
    for section in ("quality", "diversity", "novelty", "efficiency"):
        values = figures.get(section) or {}
        lines.append(f"{section}:")
        for name, value in values.items():
            if name == "nearest":
                continue
            beside = (ref.get(section) or {}).get(name)
            extra = f"   (reference {beside})" if beside is not None else ""
            lines.append(f"  {name:<40} {value}{extra}")
    for name, why in (figures.get("missing") or {}).items():
        lines.append(f"  {name:<40} missing: {why}")
    return "\n".join(lines)
