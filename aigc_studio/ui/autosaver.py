"""When a pane's autosave is written: shortly after an edit, and at most every few seconds while edits go on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from aigc_studio.core.autosave import AutosaveStore

# What a pane hands over: None when nothing is unsaved (the autosave is removed), else (JSON data, arrays).
Snapshot = Callable[[], tuple[dict[str, Any], Any] | None]


class Autosaver(QObject):
    """Takes a snapshot on the GUI thread ``delay_ms`` after the first unsaved change; the store writes it."""

    failed = Signal(str)  # "Autosave failed: …", for the status bar

    def __init__(self, store: AutosaveStore, snapshot: Snapshot, delay_ms: int = 2000, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self._snapshot = snapshot
        self._pending = False
        self._stopped = False
        store.on_error = self.failed.emit  # called on the writer thread; the signal crosses over safely
        # Not restarted by later edits: while the user keeps typing, a snapshot still lands every delay_ms.
        self._timer = QTimer(self, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(lambda: self.flush(wait=False))

    def changed(self) -> None:
        """The pane's work changed: schedule a write."""
        if self._stopped:
            return
        self._pending = True
        if not self._timer.isActive():
            self._timer.start()

    def flush(self, wait: bool = True) -> None:
        """Write a pending change now; with ``wait``, return only once it is on disk."""
        self._timer.stop()
        if self._pending:
            self._pending = False
            snapshot = self._snapshot()
            if snapshot is None:
                self.store.clear()
            else:
                self.store.save(*snapshot)
        if wait:
            self.store.wait()

    def stop(self) -> None:
        """No more writes (the window is closing)."""
        self._stopped = True
        self._pending = False
        self._timer.stop()
