"""The side panels: Generate (count, seed, class, psi) and Selection (preview, variations, interpolate, mix, export)."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.ui.image.qimage import to_pixmap

PREVIEW_SIZE = 256


ANY_CLASS = "any"


class GeneratePanel(QGroupBox):
    """Count, seed (or random), class (for a class-conditional model), truncation psi and the Generate button."""

    def __init__(self, parent=None) -> None:
        super().__init__("Generate", parent)
        self.count = QSpinBox()
        self.count.setRange(1, 256)
        self.count.setValue(16)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(1)
        self.random_seed = QCheckBox("random")
        self.random_seed.setToolTip("Pick a new seed each time (the seed used is shown, so you can come back to it)")
        self.random_seed.toggled.connect(lambda on: self.seed.setEnabled(not on))
        self.psi = QDoubleSpinBox()
        self.psi.setRange(0.0, 1.5)
        self.psi.setSingleStep(0.05)
        self.psi.setValue(0.8)
        self.psi.setToolTip("Truncation ψ: below 1 pulls towards the average picture (cleaner, less varied)")
        self.picture_class = QComboBox()
        self.picture_class.setToolTip(
            "What kind of picture a class-conditional model draws: one class, or any (every class in turn)"
        )
        self.set_classes([])
        self.button = QPushButton("Generate")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        form = QFormLayout(self)
        form.addRow("Count:", self.count)
        form.addRow("Seed:", seed_row)
        form.addRow("Class:", self.picture_class)
        form.addRow("ψ:", self.psi)
        form.addRow(self.button)

    def set_classes(self, names: list[str]) -> None:
        """Offer the classes of the selected model ("any" first); disabled for a model without classes."""
        keep = self.picture_class.currentData()
        self.picture_class.clear()
        self.picture_class.addItem(ANY_CLASS, None)
        for name in names:
            self.picture_class.addItem(name, name)
        index = self.picture_class.findData(keep) if keep in names else 0
        self.picture_class.setCurrentIndex(max(0, index))
        self.picture_class.setEnabled(bool(names))
        if not names:
            self.picture_class.setToolTip("This model was trained on a flat folder: it has no classes to choose from")
        else:
            self.picture_class.setToolTip("What kind of picture to draw: one class, or any (every class in turn)")

    def chosen_classes(self) -> list[str]:
        """The class to draw ([] for any)."""
        name = self.picture_class.currentData()
        return [name] if name else []


class SelectionPanel(QGroupBox):
    """Large preview of the selection and what can be done with it."""

    def __init__(self, parent=None) -> None:
        super().__init__("Selection", parent)
        self.preview = QLabel("Click a picture to select it;\nCtrl+click a second one to interpolate or mix.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.info = QLabel()
        self.info.setWordWrap(True)
        # Room for the recipe lines even before a selection, so the buttons below never jump.
        self.info.setMinimumHeight(3 * self.info.fontMetrics().lineSpacing())
        self.info.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(1, 100)
        self.strength.setValue(30)
        self.strength_label = QLabel()
        self.strength.valueChanged.connect(lambda v: self.strength_label.setText(f"{v / 100:.2f}"))
        self.strength_label.setText("0.30")
        self.variations = QPushButton("Variations")
        self.frames = QSpinBox()
        self.frames.setRange(2, 120)
        self.frames.setValue(8)
        self.mode = QComboBox()
        self.mode.addItem("spherical (slerp)", "slerp")
        self.mode.addItem("linear (lerp)", "lerp")
        self.interpolate = QPushButton("Interpolate A → B")
        self.mix = QPushButton("Mix A × B")
        self.encode = QPushButton("Encode image… (VAE)")
        self.scale = QComboBox()
        for s in (1, 2, 4):
            self.scale.addItem(f"{s}×", s)
        self.export_png = QPushButton("Export PNG…")
        self.export_sheet = QPushButton("Contact sheet…")
        self.export_anim = QPushButton("Frames + GIF…")

        grid = QGridLayout()
        grid.addWidget(QLabel("Strength:"), 0, 0)
        grid.addWidget(self.strength, 0, 1)
        grid.addWidget(self.strength_label, 0, 2)
        grid.addWidget(self.variations, 1, 0, 1, 3)
        grid.addWidget(QLabel("Frames:"), 2, 0)
        grid.addWidget(self.frames, 2, 1)
        grid.addWidget(self.mode, 2, 2)
        grid.addWidget(self.interpolate, 3, 0, 1, 3)
        grid.addWidget(self.mix, 4, 0, 1, 3)
        grid.addWidget(self.encode, 5, 0, 1, 3)
        export_row = QHBoxLayout()
        export_row.addWidget(self.scale)
        export_row.addWidget(self.export_png, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview)
        layout.addWidget(self.info)
        layout.addLayout(grid)
        layout.addLayout(export_row)
        row = QHBoxLayout()
        row.addWidget(self.export_sheet)
        row.addWidget(self.export_anim)
        layout.addLayout(row)

    def show_selection(self, items: list[dict], strip: bool) -> None:
        """Update the preview and the enabled state of every action."""
        n = len(items)
        if n:
            self.preview.setPixmap(to_pixmap(items[0]["image"], PREVIEW_SIZE))
            recipe = items[0]["recipe"]
            seed = recipe.get("seed")
            text = [
                f"<b>{recipe.get('op', '')}</b> · {recipe.get('model', '')} ({str(recipe.get('model_hash', ''))[:10]})"
            ]
            text.append(
                f"seed {seed} · ψ {recipe.get('psi', 1):g}" if seed is not None else f"ψ {recipe.get('psi', 1):g}"
            )
            if recipe.get("class"):
                text[-1] += f" · {recipe['class']}"
            if n > 1:
                text.append(f"{n} selected: A = first, B = second pick")
            self.info.setText("<br>".join(text))
            self.info.setToolTip(json.dumps({k: v for k, v in recipe.items() if k != "latent"}, indent=1))
        else:
            self.preview.clear()
            self.preview.setText("Click a picture to select it;\nCtrl+click a second one to interpolate or mix.")
            self.info.setText("")
        self.variations.setEnabled(n >= 1)
        self.interpolate.setEnabled(n == 2)
        self.mix.setEnabled(n == 2)
        self.export_png.setEnabled(n >= 1)
        self.export_anim.setEnabled(strip)


def stretch(widget: QWidget) -> QWidget:
    """Wrap panels so that they sit at the top of a tall column."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    layout.addStretch(1)
    return holder
