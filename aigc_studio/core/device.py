"""Device choice: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aigc_studio.errors import InputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def pick_device(preference: str | None = "auto") -> torch.device:
    """Return the device to run on; ``preference`` is auto, cpu, cuda, cuda:N or mps."""
    import torch

    preference = (preference or "auto").strip().lower()
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cpu":
        return torch.device("cpu")
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("CUDA was requested but no CUDA GPU is available; use --device cpu or auto.")
        return torch.device(preference)
    if preference == "mps":
        if not _mps_available():
            raise InputError("Apple MPS was requested but is not available on this machine; use --device cpu or auto.")
        return torch.device("mps")
    raise InputError(f"Unknown device {preference!r}; choose one of {', '.join(DEVICE_CHOICES)} (or cuda:N).")


def describe_device(device: torch.device) -> str:
    """A human-readable device name for the status bar and About box."""
    import torch

    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"GPU: {torch.cuda.get_device_name(index)}"
    if device.type == "mps":
        return "GPU: Apple MPS"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"


def autocast_dtype(device: torch.device):
    """Mixed-precision dtype for training/sampling on this device, or None for full fp32."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the block with one intra-op thread when ``device`` is the CPU (restored afterwards).

    Token-by-token decoding is a chain of matrix-vector products too small to split: a second
    thread only adds hand-offs, and when another process holds the other core every hand-off
    waits for it (32 bars of the starter model: 97 s on 2 threads vs 3.4 s on 1, busy 2-core CPU).
    """
    import torch

    before = torch.get_num_threads()
    if device.type != "cpu" or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
