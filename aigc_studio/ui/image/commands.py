"""Undoable canvas actions: every generate/vary/interpolate/mix/encode replaces the canvas content."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand


class CanvasState:
    """What the canvas shows: items, grid or strip, and the selection."""

    def __init__(self, items: list[dict[str, Any]], strip: bool = False, selected: list[int] | None = None) -> None:
        self.items = list(items)
        self.strip = strip
        self.selected = list(selected or [])


class ReplaceCanvas(QUndoCommand):
    """Show ``after``; undo brings ``before`` back (with its selection)."""

    def __init__(self, canvas, before: CanvasState, after: CanvasState, text: str) -> None:
        super().__init__(text)
        self.canvas, self.before, self.after = canvas, before, after

    def redo(self) -> None:
        self.canvas.set_items(self.after.items, self.after.strip, self.after.selected)

    def undo(self) -> None:
        self.canvas.set_items(self.before.items, self.before.strip, self.before.selected)
