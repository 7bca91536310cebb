"""``aigc-studio generate image`` and ``aigc-studio train`` for the image studio."""

from __future__ import annotations

import argparse


def register(generate: argparse._SubParsersAction, train: argparse._SubParsersAction) -> None:
    """Add this studio's generate and train sub-commands."""
