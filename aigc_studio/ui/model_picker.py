"""A combo box listing the registry's models of some kinds, plus "Open model file…"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QMessageBox, QWidget

from aigc_studio.core.modelfile import read_card
from aigc_studio.core.registry import list_models
from aigc_studio.errors import ModelFileError
from aigc_studio.ui.file_dialogs import open_file

_OPEN_FILE = "__open_file__"


class ModelPicker(QComboBox):
    """Pick a model by name; emits ``model_changed(path or None)``."""

    model_changed = Signal(object)

    def __init__(self, kinds: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kinds = kinds
        self.setMinimumWidth(220)
        self.setToolTip("Model used by this pane. Bundled starter models, your own models, or a file.")
        self._extra_paths: list[Path] = []
        self._last_index = -1
        self._engine = None
        self._check = None  # the running check of a picked file, if any
        self.activated.connect(self._on_activated)
        self.refresh()

    def use_engine(self, engine) -> None:
        """Check picked files on ``engine`` by building them (without it only the card is read)."""
        self._engine = engine

    def is_checking(self) -> bool:
        """True while a picked file is being checked."""
        return self._check is not None

    def refresh(self, select: Path | None = None) -> None:
        """Re-read the registry (after training or adding a model)."""
        current = select or self.current_path()
        self.blockSignals(True)
        self.clear()
        for kind in self.kinds:
            for entry in list_models(kind):
                label = entry.name + ("  (untrained)" if entry.card.untrained else "")
                self.addItem(f"{label}  [{entry.kind}]", str(entry.path))
                self.setItemData(self.count() - 1, _tooltip(entry), 3)  # tooltip role
        for path in self._extra_paths:
            self.addItem(f"{path.name}  [file]", str(path))
        if self.count() == 0:
            self.addItem("No model yet: train one or open a file", None)
        self.addItem("Open model file…", _OPEN_FILE)
        index = self.findData(str(current)) if current else -1
        self.setCurrentIndex(index if index >= 0 else 0)
        self._last_index = self.currentIndex()
        self.blockSignals(False)
        if self.current_path() != current:
            self.model_changed.emit(self.current_path())

    def current_path(self) -> Path | None:
        """The selected model file, or None when there is none."""
        data = self.currentData()
        return Path(data) if data and data != _OPEN_FILE else None

    def select_path(self, path: Path) -> None:
        """Select (adding if needed) a model file."""
        path = Path(path)
        if self.findData(str(path)) < 0:
            self._extra_paths.append(path)
        self.refresh(select=path)

    def _on_activated(self, index: int) -> None:
        if self.itemData(index) == _OPEN_FILE:
            self._open_file()
            return
        self._last_index = index
        self.model_changed.emit(self.current_path())

    def _open_file(self) -> None:
        path = open_file(self, "models", "Open model", "Models (*.safetensors);;All files (*)")
        name = str(path) if path is not None else ""
        if not name:
            self.setCurrentIndex(max(0, self._last_index))
            return
        try:
            read_card(name, self.kinds)
        except ModelFileError as exc:
            self._refuse(str(exc))
            return
        if self._engine is None:
            self._accept(Path(name))
            return
        from aigc_studio.core.model_check import CheckModelJob

        # The weights must fit the card's architecture too; the engine builds the model to see.
        self.setCurrentIndex(max(0, self._last_index))
        self.setEnabled(False)
        self._check = self._engine.submit(CheckModelJob(name, self.kinds))
        self._check.finished.connect(lambda _card, p=Path(name): self._check_done(lambda: self._accept(p)))
        self._check.failed.connect(lambda message: self._check_done(lambda: self._refuse(message)))
        self._check.cancelled.connect(lambda: self._check_done(lambda: None))

    def _check_done(self, then) -> None:
        self._check = None
        self.setEnabled(True)
        then()

    def _accept(self, path: Path) -> None:
        self.select_path(path)
        self.model_changed.emit(self.current_path())

    def _refuse(self, message: str) -> None:
        QMessageBox.warning(self, "Cannot use this model", message)
        self.setCurrentIndex(max(0, self._last_index))


def _tooltip(entry) -> str:
    """The card's summary, and the headline figures of its evaluation when it has one."""
    from aigc_studio.evaluate.card import headline

    figures = headline(entry.card.evaluation, entry.kind)
    return entry.card.summary() + (f"\nEvaluation: {figures}" if figures else "")
