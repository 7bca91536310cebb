"""The global torch RNGs (CPU and, when used, CUDA) as checkpoint state.

Dropout and anything else that draws without an explicit generator uses these;
an exact resume needs them back exactly where the checkpoint left them.
"""

from __future__ import annotations

from typing import Any


def global_rng_state(device: Any) -> dict[str, Any]:
    """torch's CPU RNG state, plus the CUDA RNG state of ``device`` when training there."""
    import torch

    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_global_rng_state(state: dict[str, Any], device: Any) -> None:
    """Put the states from :func:`global_rng_state` back (a CUDA state only on a CUDA device)."""
    import torch

    torch.set_rng_state(state["cpu"])
    if "cuda" in state and getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"], device)
