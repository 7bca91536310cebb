"""Keeps loaded models between jobs, so a second generate does not reload from disk."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ModelCache:
    """A small LRU of loaded models keyed by (path, mtime, device, loader name)."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike, device: Any, loader: Callable[[Path, Any], Any]) -> Any:
        """Return the model at ``path`` on ``device``, calling ``loader(path, device)`` on a miss.

        The file's modification time is part of the key, so a retrained model is reloaded.
        """
        path = Path(path).resolve()
        key = (str(path), path.stat().st_mtime_ns, str(device), getattr(loader, "__qualname__", repr(loader)))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        model = loader(path, device)
        with self._lock:
            self._items[key] = model
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return model

    def clear(self) -> None:
        """Forget every cached model (frees memory)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
