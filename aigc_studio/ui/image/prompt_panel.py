"""The Prompt tab: a Stable Diffusion model, prompt, negative prompt, sampler settings, img2img/inpaint and a live preview."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
)

from aigc_studio.image.diffusion.schedulers import LABELS
from aigc_studio.ui.image.qimage import to_pixmap

PREVIEW_PX = 160
MODES = (
    ("txt2img", "Text to image"),
    ("img2img", "From the selected picture (img2img)"),
    ("file", "From a picture file… (img2img)"),
    ("inpaint", "Inpaint the selected picture"),
)


def _text_box(placeholder: str, lines: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setFixedHeight(box.fontMetrics().lineSpacing() * lines + 12)
    return box


class PromptPanel(QGroupBox):
    """Settings of a diffusion picture; emits ``generate_requested``, ``open_folder`` / ``open_file`` and ``paint_mask``."""

    generate_requested = Signal()
    open_folder = Signal()
    open_file = Signal()
    paint_mask = Signal()
    choose_picture = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("Prompt (Stable Diffusion)", parent)
        self.model_label = QLabel("No diffusion model open: open a diffusers folder or an SD/SDXL .safetensors file.")
        self.model_label.setWordWrap(True)
        self.open_button = QToolButton()
        self.open_button.setText("Open model…")
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.open_button)
        menu.addAction("Open model folder… (diffusers)", self.open_folder.emit)
        menu.addAction("Open model file… (.safetensors)", self.open_file.emit)
        self.open_button.setMenu(menu)

        self.prompt = _text_box("What to draw, e.g. a lighthouse on a cliff at dusk, oil painting", 3)
        self.negative = _text_box("What to avoid (negative prompt), e.g. blurry, text", 2)
        self.steps = QSpinBox()
        self.steps.setRange(1, 150)
        self.steps.setValue(25)
        self.cfg = QDoubleSpinBox()
        self.cfg.setRange(0.0, 30.0)
        self.cfg.setSingleStep(0.5)
        self.cfg.setValue(7.0)
        self.cfg.setToolTip("Guidance (CFG): how closely to follow the prompt; 1 or less for LCM/Turbo models")
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box in (self.width_box, self.height_box):
            box.setRange(8, 4096)
            box.setSingleStep(8)
            box.setValue(512)
            box.setSuffix(" px")
            box.editingFinished.connect(lambda b=box: b.setValue(max(8, round(b.value() / 8) * 8)))
        self.scheduler = QComboBox()
        for key, label in LABELS.items():
            self.scheduler.addItem(label, key)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(1)
        self.random_seed = QCheckBox("random")
        self.random_seed.toggled.connect(lambda on: self.seed.setEnabled(not on))
        self.count = QSpinBox()
        self.count.setRange(1, 16)
        self.count.setValue(4)
        self.mode = QComboBox()
        for key, label in MODES:
            self.mode.addItem(label, key)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(5, 100)
        self.strength.setValue(60)
        self.strength_label = QLabel("0.60")
        self.strength.valueChanged.connect(lambda v: self.strength_label.setText(f"{v / 100:.2f}"))
        self.strength.setToolTip("How much of the picture is redrawn: low keeps it, 1 ignores it")
        self.mask_button = QPushButton("Paint mask…")
        self.mask_status = QLabel("no mask")
        self.mask_button.clicked.connect(self.paint_mask.emit)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.button = QPushButton("Generate from prompt")
        self.button.setDefault(True)
        self.button.clicked.connect(self.generate_requested.emit)
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_PX, PREVIEW_PX)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: #222; color: #aaa")
        self.preview.setText("live preview")

        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        top.addWidget(self.open_button)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_box)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_box)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength, 1)
        strength_row.addWidget(self.strength_label)
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.mask_button)
        mask_row.addWidget(self.mask_status, 1)
        form = QFormLayout()
        form.addRow("Prompt:", self.prompt)
        form.addRow("Negative:", self.negative)
        form.addRow("Steps:", self.steps)
        form.addRow("Guidance:", self.cfg)
        form.addRow("Size:", size_row)
        form.addRow("Sampler:", self.scheduler)
        form.addRow("Seed:", seed_row)
        form.addRow("Count:", self.count)
        form.addRow("Start from:", self.mode)
        form.addRow("Strength:", strength_row)
        form.addRow("Mask:", mask_row)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.button)
        layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        self._mode_changed()

    def _mode_changed(self) -> None:
        mode = self.mode.currentData()
        if mode == "file":
            self.choose_picture.emit()
        self.strength.setEnabled(mode != "txt2img")
        self.mask_button.setEnabled(mode == "inpaint")

    def show_model(self, name: str, label: str, defaults: dict[str, Any] | None = None) -> None:
        """Show the opened model and start from its kind's usual settings."""
        self.model_label.setText(f"<b>{name}</b><br>{label}")
        if defaults:
            self.steps.setValue(defaults["steps"])
            self.cfg.setValue(defaults["cfg"])
            self.scheduler.setCurrentIndex(max(0, self.scheduler.findData(defaults["scheduler"])))
            self.width_box.setValue(defaults["size"])
            self.height_box.setValue(defaults["size"])

    def show_preview(self, image) -> None:
        """The latest latent preview (a rough picture of the step in progress)."""
        self.preview.setPixmap(to_pixmap(image, PREVIEW_PX, smooth=True))

    def show_mask(self, pixels: int, total: int) -> None:
        """How much of the picture the painted mask covers."""
        self.mask_status.setText(f"{100 * pixels / max(1, total):.0f}% of the picture" if pixels else "no mask")

    def values(self) -> dict[str, Any]:
        """The settings as keyword arguments of DiffusionSettings (seed as shown)."""
        return {
            "prompt": self.prompt.toPlainText().strip(),
            "negative_prompt": self.negative.toPlainText().strip(),
            "steps": self.steps.value(),
            "cfg": self.cfg.value(),
            "width": self.width_box.value(),
            "height": self.height_box.value(),
            "scheduler": self.scheduler.currentData(),
            "seed": self.seed.value(),
            "count": self.count.value(),
            "mode": self.mode.currentData(),
            "strength": self.strength.value() / 100,
        }

    def apply_recipe(self, recipe: dict[str, Any]) -> None:
        """Fill in the prompt and settings of a picture (ours or an Automatic1111 PNG)."""
        self.prompt.setPlainText(str(recipe.get("prompt", "")))
        self.negative.setPlainText(str(recipe.get("negative_prompt", "")))
        if isinstance(recipe.get("steps"), int):
            self.steps.setValue(recipe["steps"])
        if isinstance(recipe.get("cfg"), (int, float)):
            self.cfg.setValue(float(recipe["cfg"]))
        for box, key in ((self.width_box, "width"), (self.height_box, "height")):
            if isinstance(recipe.get(key), int):
                box.setValue(recipe[key])
        if recipe.get("scheduler"):
            self.scheduler.setCurrentIndex(max(0, self.scheduler.findData(recipe["scheduler"])))
        if isinstance(recipe.get("seed"), int) and recipe["seed"] >= 0:
            self.random_seed.setChecked(False)
            self.seed.setValue(recipe["seed"])
        if isinstance(recipe.get("strength"), (int, float)):
            self.strength.setValue(round(float(recipe["strength"]) * 100))
        self.mode.setCurrentIndex(0)
