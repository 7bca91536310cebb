"""Device choice: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

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
    return f"CPU ({torch.get_num_threads()} threads)"


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
