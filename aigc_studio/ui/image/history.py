"""The gallery of everything generated, kept on disk as recipe PNGs with thumbnails.

Each entry is ``<id>.png`` (the picture with its recipe chunks, so it can be
re-opened anywhere) plus ``<id>.thumb.png``; ``index.json`` lists them newest last.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

from aigc_studio.core.atomic import atomic_write_text
from aigc_studio.core.paths import user_data_dir
from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.image.export import save_image
from aigc_studio.image.recipe import save_png

THUMB = 96
MAX_INDEX_BYTES = 64 * 1024 * 1024  # the index of a long-used gallery; the file may be damaged or edited by hand
MAX_ENTRIES = 2000


class HistoryStore:
    """Append-only (pruned) history folder; plain Python, no widgets."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder else user_data_dir() / "image-history"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index_path = self.folder / "index.json"
        self.entries: list[dict[str, Any]] = self._read_index()
        self._counter = 0

    def _read_index(self) -> list[dict[str, Any]]:
        try:
            data = parse_untrusted_json(self.index_path.read_bytes(), max_bytes=MAX_INDEX_BYTES)
        except (OSError, UnsafeJson):
            return []  # a damaged index only loses the gallery, never the app
        if not isinstance(data, list):
            return []
        return [
            e
            for e in data
            if isinstance(e, dict)
            and isinstance(e.get("file"), str)
            and "/" not in e["file"]
            and "\\" not in e["file"]
            and (self.folder / e["file"]).is_file()
        ]

    def add(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store pictures (with recipes); returns the new entries."""
        added = []
        for item in items:
            self._counter += 1
            stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}-{self._counter:04d}"
            path = save_png(self.folder / f"{stem}.png", item["image"], item["recipe"])
            thumb = Image.fromarray(item["image"])
            thumb.thumbnail((THUMB, THUMB), Image.Resampling.LANCZOS)
            save_image(thumb, self.folder / f"{stem}.thumb.png")
            recipe = item["recipe"]
            entry = {
                "file": path.name,
                "thumb": f"{stem}.thumb.png",
                "time": time.time(),
                "label": f"{recipe.get('op', '')} · seed {recipe.get('seed')}"
                if recipe.get("seed") is not None
                else recipe.get("op", ""),
                "model": recipe.get("model", ""),
            }
            self.entries.append(entry)
            added.append(entry)
        self._prune()
        atomic_write_text(self.index_path, json.dumps(self.entries))
        return added

    def _prune(self) -> None:
        while len(self.entries) > MAX_ENTRIES:
            old = self.entries.pop(0)
            for key in ("file", "thumb"):
                (self.folder / old[key]).unlink(missing_ok=True)

    def path_of(self, entry: dict[str, Any]) -> Path:
        """The recipe PNG of an entry."""
        return self.folder / entry["file"]


class HistoryPanel(QListWidget):
    """Thumbnails of the history, newest first; double-click re-opens a picture's recipe."""

    open_requested = Signal(object)  # Path of the recipe PNG
    store_failed = Signal(str)
    _stored = Signal(list)  # entries written by the background writer

    def __init__(self, store: HistoryStore, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSpacing(4)
        self.setToolTip("Everything you generated. Double-click to bring a picture back onto the canvas.")
        self.itemActivated.connect(lambda item: self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        # PNG encoding and fsync of a 64-picture batch take a noticeable time: one writer
        # thread does it in order, so the GUI never waits on the disk.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-history")
        self._stored.connect(self._show_new)
        for entry in reversed(store.entries[-500:]):
            self._append(entry, at_top=False)

    def add(self, items: list[dict[str, Any]]) -> None:
        """Store new pictures in the background; they appear in the list once written."""
        self._writer.submit(self._store, list(items))

    def flush(self) -> None:
        """Wait until every picture handed to :meth:`add` is on disk (on close, in tests)."""
        self._writer.submit(lambda: None).result()

    def _store(self, items: list[dict[str, Any]]) -> None:
        try:
            entries = self.store.add(items)
        except OSError as exc:
            self.store_failed.emit(f"Could not save pictures to the history: {exc}")
            return
        self._stored.emit(entries)

    def _show_new(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            self._append(entry, at_top=True)

    def _append(self, entry: dict[str, Any], at_top: bool) -> None:
        item = QListWidgetItem(QIcon(QPixmap(str(self.store.folder / entry["thumb"]))), "")
        item.setToolTip(f"{entry.get('label', '')}\n{entry.get('model', '')}\n{time.ctime(entry.get('time', 0))}")
        item.setData(Qt.ItemDataRole.UserRole, self.store.path_of(entry))
        if at_top:
            self.insertItem(0, item)
        else:
            self.addItem(item)
