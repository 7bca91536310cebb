"""What the image pane does with Stable Diffusion models: open one, draw from the Prompt tab, vary, restore a recipe.

Kept out of pane.py so that the pane only hands over its canvas, engine and
message line; every computation runs as a job on the engine thread.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import QMessageBox

from aigc_studio.errors import InputError, StudioError
from aigc_studio.image.diffusion.metadata import is_diffusion_recipe
from aigc_studio.image.diffusion.source import DiffusionSource, inspect_source
from aigc_studio.ui.file_dialogs import choose_folder, open_file
from aigc_studio.ui.image.mask_brush import MaskDialog
from aigc_studio.ui.image.prompt_panel import PromptPanel
from aigc_studio.ui.settings import read_setting

SETTING = "image/diffusion_model"


class DiffusionActions:
    """The Prompt tab's controller for one image pane."""

    def __init__(self, pane: Any) -> None:
        self.pane = pane
        self.panel = PromptPanel()
        self.source: DiffusionSource | None = None
        self.allow_pickle: set[str] = set()  # folders the user allowed pickle weights for, this session
        self.mask: np.ndarray | None = None
        self.mask_for: Any = None  # the picture the mask was painted on
        self.tab: Any = None  # the pane puts the panel in a tab and sets this
        p = self.panel
        p.open_folder.connect(self.open_folder_dialog)
        p.open_file.connect(self.open_file_dialog)
        p.generate_requested.connect(lambda: pane._guard(self.generate))
        p.paint_mask.connect(lambda: pane._guard(self.paint_mask))
        p.choose_picture.connect(self.choose_picture_dialog)
        self.init_file: Path | None = None  # the picture file img2img starts from ("From a picture file…")
        saved = read_setting(pane.settings, SETTING, "")
        if saved and Path(saved).exists():
            with contextlib.suppress(StudioError):  # it changed since: opening it again says why
                self._use(inspect_source(saved, allow_pickle=True), keep_settings=True)

    # --- opening a model ---
    def open_folder_dialog(self) -> None:
        """Choose a diffusers folder."""
        folder = choose_folder(self.pane, "diffusion-models", "Open a diffusers model folder (with model_index.json)")
        if folder is not None:
            self.pane._guard(self.open_model, folder)

    def open_file_dialog(self) -> None:
        """Choose a single-file checkpoint."""
        path = open_file(
            self.pane,
            "diffusion-models",
            "Open a Stable Diffusion checkpoint",
            "Checkpoints (*.safetensors *.ckpt);;All files (*)",
        )
        if path is not None:
            self.pane._guard(self.open_model, path)

    def open_model(self, path: str | Path, ask: bool = True) -> DiffusionSource:
        """Check the model (refusals name the file), ask about pickles, then load it on the engine."""
        source = inspect_source(path, allow_pickle=True)
        if source.needs_pickle and str(source.path) not in self.allow_pickle:
            if not ask or not self._confirm_pickle(source):
                raise InputError(
                    f"{source.path.name} was not opened: its weights are pickle files and you did not allow them."
                )
            self.allow_pickle.add(str(source.path))
        self._use(source)
        from aigc_studio.core.jobs import FunctionJob
        from aigc_studio.image.diffusion.jobs import load_for

        allowed = str(source.path) in self.allow_pickle
        job = FunctionJob(f"Load {source.name}", lambda ctx: load_for(ctx, str(source.path), None, allowed).name)
        handle = self.pane.engine.submit(job)
        handle.finished.connect(lambda name: self.pane._info(f"{name} is loaded: write a prompt and Generate."))
        handle.failed.connect(self.pane._error)
        return source

    def _confirm_pickle(self, source: DiffusionSource) -> bool:
        answer = QMessageBox.warning(
            self.pane,
            "Allow pickle weights?",
            f"{source.path.name} stores weights as Python pickles ({', '.join(source.pickles[:3])}). Loading a pickle can "
            "run any code hidden in it. Allow it only for files from a source you trust completely.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _use(self, source: DiffusionSource, keep_settings: bool = False) -> None:
        self.source = source
        self.pane.settings.setValue(SETTING, str(source.path))
        self.panel.show_model(source.name, source.label, None if keep_settings else source.default_settings())

    # --- drawing ---
    def _model(self) -> DiffusionSource:
        if self.source is None:
            raise InputError("Open a Stable Diffusion model first (Prompt tab → Open model…).")
        return self.source

    def generate(self) -> None:
        """Draw from the Prompt tab's settings (from the selected picture for img2img and inpainting)."""
        from aigc_studio.image.diffusion.jobs import DiffusionJob, DiffusionSettings
        from aigc_studio.image.jobs import random_seed

        source = self._model()
        p = self.panel
        if p.random_seed.isChecked():
            p.seed.setValue(random_seed())
        values = p.values()
        if not values["prompt"]:
            raise InputError("Write a prompt first: what should the picture show?")
        if values["mode"] == "file":
            if self.init_file is None:
                raise InputError("Choose the picture to start from (Start from → From a picture file…).")
            values.update(mode="img2img", init_image=self.init_file, source_name=self.init_file.name)
        elif values["mode"] != "txt2img":
            (item,) = self.pane._selected(1, "img2img and inpainting")
            values["init_image"] = item["image"]
            values["source_name"] = f"seed {item['recipe'].get('seed')}"
            if values["mode"] == "inpaint":
                if self.mask is None or self.mask_for is not item["image"] or not self.mask.any():
                    raise InputError("Paint a mask on the selected picture first (Paint mask…): red is redrawn.")
                values["mask"] = self.mask
        job = DiffusionJob(source.path, DiffusionSettings(**values), allow_pickle=str(source.path) in self.allow_pickle)
        self._submit(job, f"{p.mode.currentText()} (seed {values['seed']})")

    def _submit(self, job: Any, label: str) -> None:
        self.pane._run(job, label)
        handle = self.pane._handle
        if handle is not None and not handle.done:
            handle.preview.connect(self.panel.show_preview)

    def variations(self, item: dict[str, Any]) -> None:
        """Pictures near a diffusion picture: same seed and prompt, a little of other seeds' noise (A1111's variation seed)."""
        from aigc_studio.image.diffusion.jobs import DiffusionJob, DiffusionSettings
        from aigc_studio.image.jobs import random_seed

        source = self._model()
        r = item["recipe"]
        if r.get("model") != source.name:
            raise InputError(f"This picture was drawn by {r.get('model')}; open that model to make variations of it.")
        if r.get("op") not in ("txt2img", "variation"):
            raise InputError("Variations work on text-to-image pictures; run img2img again with another seed instead.")
        # Half the Selection slider: its default 0.30 gives A1111's usual variation strength of 0.15.
        strength = self.pane.sel_panel.strength.value() / 200
        settings = DiffusionSettings(
            prompt=r.get("prompt", ""),
            negative_prompt=r.get("negative_prompt", ""),
            steps=r["steps"],
            cfg=r["cfg"],
            width=r["width"],
            height=r["height"],
            seed=r["seed"],
            count=8,
            scheduler=r.get("scheduler", "euler"),
            variation_seed=random_seed(),
            variation_strength=round(strength, 3),
        )
        self._submit(DiffusionJob(source.path, settings), f"Variations of seed {r['seed']} (strength {strength:.2f})")

    def choose_picture_dialog(self) -> None:
        """Pick the picture file img2img starts from (checked now, so a bad file is refused before drawing)."""
        from aigc_studio.image.picture_io import read_picture

        path = open_file(
            self.pane, "image", "Start from a picture", "Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"
        )
        if path is not None and self.pane._guard(lambda: read_picture(path).close() or True):
            self.init_file = Path(path)
            self.panel.mask_status.setText(f"start: {self.init_file.name}")

    def paint_mask(self) -> None:
        """Open the brush on the selected picture; the mask is kept for the next inpaint of that picture."""
        (item,) = self.pane._selected(1, "Painting a mask")
        dialog = MaskDialog(item["image"], self.mask if self.mask_for is item["image"] else None, self.pane)
        if dialog.exec():
            self.mask, self.mask_for = dialog.mask(), item["image"]
            self.panel.show_mask(int((self.mask > 127).sum()), self.mask.size)

    def restore(self, recipe: dict[str, Any], source_name: str = "") -> None:
        """Fill the Prompt tab from a picture's recipe (ours or A1111's) and show it."""
        self.panel.apply_recipe(recipe)
        self.pane.tabs.setCurrentIndex(self.pane.tabs.indexOf(self.tab))
        model = recipe.get("model", "?")
        same = self.source is not None and self.source.name == model
        hint = "" if same else f" It was drawn with {model}: open that model to draw it again."
        self.pane._info(f"Prompt and settings of {source_name or 'the picture'} filled in.{hint}")

    def handles(self, recipe: dict[str, Any]) -> bool:
        """True for pictures this controller deals with."""
        return is_diffusion_recipe(recipe)
