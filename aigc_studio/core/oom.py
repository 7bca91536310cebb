"""Out-of-memory handling shared by every studio: recognise it, shrink the work, tell the user.

An allocation failure on the GPU (or a MemoryError on the CPU) must never
crash the app: training halves its batch, generation works in smaller chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aigc_studio.errors import StudioError

T = TypeVar("T")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_device_memory(device: Any) -> None:
    """Give cached GPU memory back after an OOM so that a smaller retry can fit."""
    import torch

    if getattr(device, "type", str(device)).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


def halve_batch(batch: int, ctx: Any, device: Any, what: str = "batch") -> int:
    """After an OOM: free the cache, halve the batch and tell the user (or give up at 1)."""
    free_device_memory(device)
    if batch <= 1:
        raise StudioError(f"Out of memory even with a {what} of 1. Choose a smaller model, length or resolution.")
    new = max(1, batch // 2)
    ctx.log(f"Out of memory at {what} {batch}: continuing with {what} {new}.")
    return new


def call_halving_on_oom(work: Callable[[int], T], batch: int, ctx: Any, device: Any, what: str = "batch") -> T:
    """Return ``work(batch)``, halving ``batch`` after each out-of-memory failure (gives up at 1)."""
    while True:
        try:
            return work(batch)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            batch = halve_batch(batch, ctx, device, what)

