"""Efficiency figures: speed, peak memory, parameter count, file size, device."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (the operating system's high-water mark)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # macOS reports bytes, Linux kB


def count_parameters(modules: Any) -> int:
    """Parameters of one torch module or several."""
    modules = modules if isinstance(modules, (list, tuple)) else [modules]
    return int(sum(p.numel() for m in modules if m is not None for p in m.parameters()))


def file_size_mb(path: str | Path) -> float:
    """Size of a model file, or of all files in a model folder, in MB."""
    path = Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    return path.stat().st_size / 1e6


class Stopwatch:
    """Times the sampling and reads the CUDA memory high-water mark around it."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        import torch

        if getattr(self.device, "type", "") == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if getattr(self.device, "type", "") == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds = time.perf_counter() - self._start

    def cuda_peak_mb(self) -> float | None:
        """Max memory allocated on the CUDA device while timing (None off CUDA)."""
        import torch

        if getattr(self.device, "type", "") != "cuda":
            return None
        return torch.cuda.max_memory_allocated(self.device) / 1e6


def figures(watch: Stopwatch, units: int, unit: str, parameters: int, path: str | Path, device: Any) -> dict:
    """The efficiency section: ``units`` made in ``watch.seconds`` (e.g. 64 samples, 4,800 tokens)."""
    import torch

    out: dict[str, Any] = {
        f"{unit}_per_s": round(units / watch.seconds, 3) if watch.seconds > 0 else None,
        "sampling_seconds": round(watch.seconds, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "parameters": parameters,
        "file_size_mb": round(file_size_mb(path), 3),
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    cuda = watch.cuda_peak_mb()
    if cuda is not None:
        out["cuda_max_allocated_mb"] = round(cuda, 1)
    return out
