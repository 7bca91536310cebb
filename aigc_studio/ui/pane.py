"""What every studio pane offers the main window.

A pane is a widget with a model picker that submits jobs to the engine. The
main window dispatches File/Edit commands to the current pane and shows the
pane's own Generate and Train actions in those menus.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import QWidget

from aigc_studio.engine.thread import Engine


class StudioPane(QWidget):
    """Base class for the image, text and music panes."""

    title = "Pane"
    key = "pane"  # "image", "text" or "music": used for settings and --tab
    model_kinds: tuple[str, ...] = ()
    open_filter = ""  # file-dialog filter for File > Open, empty when the pane opens nothing
    status_message = Signal(str)  # short messages for the status bar
    dirty_changed = Signal(bool)

    def __init__(self, engine: Engine, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.settings = settings

    # Menus: actions this pane contributes, keyed by menu ("generate", "train", "file", "edit", "view").
    def menu_actions(self, menu: str) -> list[QAction]:
        """Actions for ``menu``; shown only while this pane is the current tab."""
        return []

    # Undo: panes with a QUndoStack get Edit > Undo/Redo wired automatically.
    def undo_stack(self) -> QUndoStack | None:
        """The pane's undo stack, or None when it handles undo itself (see ``undo``)."""
        return None

    def undo(self) -> None:
        """Undo the last edit (panes without an undo stack override this)."""
        if stack := self.undo_stack():
            stack.undo()

    def redo(self) -> None:
        """Redo the last undone edit."""
        if stack := self.undo_stack():
            stack.redo()

    # Documents.
    def new_document(self) -> None:
        """File > New."""

    def open_path(self, path: Path) -> None:
        """File > Open with a path the user chose (raise StudioError on bad input)."""

    def save(self) -> bool:
        """File > Save; returns False when nothing was saved (cancelled)."""
        return False

    def save_as(self) -> bool:
        """File > Save As…"""
        return False

    def export(self) -> None:
        """File > Export…"""

    def is_dirty(self) -> bool:
        """True when the pane holds work that is not saved anywhere."""
        return False

    def discard_unsaved(self) -> None:
        """The user chose Discard when quitting: drop recovery data of the unsaved work."""

    def is_busy(self) -> bool:
        """True while the pane waits for a job (used by --screenshot to wait until idle)."""
        return False

    def shutdown(self) -> None:
        """Called once when the window closes (flush autosave, stop playback)."""
