"""The job/history panel: this session's recent jobs (the engine keeps the last hundred), state, progress and log."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.engine.thread import Engine, JobHandle

_STATE_LABELS = {
    "queued": "Queued",
    "running": "Running",
    "finished": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


class JobsPanel(QWidget):
    """A list of jobs with a log view and a Cancel button for the selected one."""

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._items: dict[int, QTreeWidgetItem] = {}
        self._submitted: dict[int, float] = {}
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Job", "State", "Progress", "Time"])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 220)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setPlaceholderText("Select a job to see its log.")
        self.cancel_button = QPushButton("Cancel job")
        self.cancel_button.setEnabled(False)
        self.clear_button = QPushButton("Clear finished")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.log_view)
        split.setSizes([200, 100])
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        engine.job_added.connect(self._add)
        engine.job_changed.connect(self._update)
        engine.job_removed.connect(self._remove)
        self.tree.currentItemChanged.connect(lambda *_: self._show_selected())
        self.cancel_button.clicked.connect(self._cancel_selected)
        self.clear_button.clicked.connect(self._clear_finished)

    def _add(self, handle: JobHandle) -> None:
        item = QTreeWidgetItem([handle.title, _STATE_LABELS[handle.state], "", ""])
        item.setData(0, Qt.ItemDataRole.UserRole, handle)
        self.tree.insertTopLevelItem(0, item)
        self._items[handle.job_id] = item
        self._submitted[handle.job_id] = time.monotonic()

    def _remove(self, handle: JobHandle) -> None:
        item = self._items.pop(handle.job_id, None)
        self._submitted.pop(handle.job_id, None)
        if item is not None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))

    def _update(self, handle: JobHandle) -> None:
        item = self._items.get(handle.job_id)
        if item is None:
            return
        item.setText(1, _STATE_LABELS[handle.state])
        report = getattr(handle, "last_progress", None)
        if handle.state == "failed":
            item.setText(2, getattr(handle, "error", ""))
            item.setToolTip(2, getattr(handle, "error", ""))
        elif report is not None:
            pct = "" if report.fraction is None else f"{report.fraction * 100:.0f}%  "
            item.setText(2, pct + report.message)
        started = self.engine.started_at.get(handle.job_id)
        if started is not None:
            item.setText(3, f"{time.monotonic() - started:.1f} s")
        if self.tree.currentItem() is item:
            self._show_selected()

    def _show_selected(self) -> None:
        item = self.tree.currentItem()
        handle: JobHandle | None = item.data(0, Qt.ItemDataRole.UserRole) if item else None
        self.cancel_button.setEnabled(bool(handle and not handle.done))
        lines = list(getattr(handle, "log_lines", [])) if handle else []
        if handle is not None and handle.state == "failed":
            lines.append("Error: " + getattr(handle, "error", ""))
        self.log_view.setPlainText("\n".join(lines))

    def _cancel_selected(self) -> None:
        item = self.tree.currentItem()
        if item is not None:
            item.data(0, Qt.ItemDataRole.UserRole).cancel()

    def _clear_finished(self) -> None:
        for job_id, item in list(self._items.items()):
            if item.data(0, Qt.ItemDataRole.UserRole).done:
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
                del self._items[job_id]
                self._submitted.pop(job_id, None)
