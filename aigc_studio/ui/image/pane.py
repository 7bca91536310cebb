"""Image canvas pane: generate, vary, interpolate, mix, encode, export with recipes, train.

Every model computation is a job on the engine thread; this module never
imports torch. Canvas changes go through a QUndoStack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.core.autosave import AutosaveStore
from aigc_studio.core.events import GeneratedImages
from aigc_studio.core.registry import list_models
from aigc_studio.errors import InputError, StudioError
from aigc_studio.image import exporting, jobs
from aigc_studio.image.exporting import find_model_by_hash
from aigc_studio.image.recipe import MissingRecipe, read_recipe
from aigc_studio.ui.autosaver import Autosaver
from aigc_studio.ui.file_dialogs import choose_folder, open_file, save_file
from aigc_studio.ui.image.autosave import KIND, canvas_record, recoverable_canvas
from aigc_studio.ui.image.canvas import CanvasView
from aigc_studio.ui.image.commands import CanvasState, ReplaceCanvas
from aigc_studio.ui.image.controls import GeneratePanel, SelectionPanel, stretch
from aigc_studio.ui.image.diffusion_actions import DiffusionActions
from aigc_studio.ui.image.history import HistoryPanel, HistoryStore
from aigc_studio.ui.image.train_dialog import TrainDialog
from aigc_studio.ui.image.train_view import TrainingView
from aigc_studio.ui.model_picker import ModelPicker
from aigc_studio.ui.pane import StudioPane
from aigc_studio.ui.recipe_dialog import RecipeDialog, recipe_action
from aigc_studio.ui.recovery_banner import autosave_time
from aigc_studio.ui.settings import read_setting

AUTOSAVE_MS = 1000  # a new grid or selection reaches the autosave within this time
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"


class ImagePane(StudioPane):
    """Generate, vary, interpolate and export images on a canvas."""

    title = "Image"
    key = "image"
    model_kinds = ("image-gan", "image-vae")
    open_filter = "Pictures with a recipe, or any image to encode (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"

    def __init__(self, engine, settings, parent=None) -> None:
        super().__init__(engine, settings, parent)
        self._undo = QUndoStack(self)
        self._handle = None
        self._shown_once = False
        self.last_result: GeneratedImages | None = None
        self.last_exported: list[Path] = []

        self.model_picker = ModelPicker(self.model_kinds)
        self.model_picker.use_engine(engine)
        saved = read_setting(settings, "image/model", "")
        if saved and Path(saved).exists():
            self.model_picker.select_path(Path(saved))
        self.model_picker.model_changed.connect(self._on_model_changed)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()  # shown with the first message, so it takes no room before

        self.canvas = CanvasView()
        self.canvas.selection_changed.connect(self._on_selection)
        self.canvas.files_dropped.connect(lambda paths: self.encode_file(paths[0]))
        self.gen_panel = GeneratePanel()
        self.gen_panel.count.setValue(read_setting(settings, "image/count", 16))
        self.gen_panel.psi.setValue(read_setting(settings, "image/psi", 0.8))
        self._offer_classes(self.model_picker.current_path())
        self.sel_panel = SelectionPanel()
        self.history = HistoryPanel(HistoryStore())
        self.history.open_requested.connect(self._open_history)
        self.history.store_failed.connect(self._error)
        self.training = TrainingView()
        self.training.model_ready.connect(self._on_model_trained)

        self.tabs = QTabWidget()
        holder = stretch(self.gen_panel)
        holder.layout().insertWidget(1, self.sel_panel)
        # Scroll areas keep the side panel usable on short (768 px) screens.
        self.tabs.addTab(_scrolling(holder), "Create")
        self.diffusion = DiffusionActions(self)
        self.diffusion.tab = _scrolling(stretch(self.diffusion.panel))
        self.tabs.addTab(self.diffusion.tab, "Prompt")
        self.tabs.addTab(self.history, "History")
        self._training_tab = _scrolling(self.training)
        self.tabs.addTab(self._training_tab, "Training")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([700, 320])

        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_picker, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)

        self._build_actions()
        g, s = self.gen_panel, self.sel_panel
        g.button.clicked.connect(self.generate)
        s.variations.clicked.connect(self.make_variations)
        s.interpolate.clicked.connect(self.interpolate)
        s.mix.clicked.connect(self.mix)
        s.encode.clicked.connect(self._encode_dialog)
        s.export_png.clicked.connect(self.export)
        s.export_sheet.clicked.connect(self._contact_sheet_dialog)
        s.export_anim.clicked.connect(self._animation_dialog)
        s.show_selection([], False)

        self.autosave = AutosaveStore(KIND)
        self.autosaver = Autosaver(self.autosave, self._autosave_snapshot, AUTOSAVE_MS, self)
        self.autosaver.failed.connect(self._on_autosave_failed)
        self._autosaved_items: list[dict[str, Any]] | None = None  # the grid whose pixels are in the autosave
        self.canvas.selection_changed.connect(lambda _indices: self.autosaver.changed())
        self._restore_canvas_after_crash()

    # --- actions for the main window's menus ---
    def _action(self, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        return action

    def _build_actions(self) -> None:
        self.generate_action = self._action(
            "Generate batch", self.generate, "Ctrl+Return", "Generate a grid from the seed"
        )
        self.variations_action = self._action("Variations of selection", self.make_variations, "Ctrl+Shift+V")
        self.interpolate_action = self._action("Interpolate A → B", self.interpolate, "Ctrl+I")
        self.mix_action = self._action("Mix A × B", self.mix, "Ctrl+M")
        self.encode_action = self._action("Encode image (VAE)…", self._encode_dialog)
        self.recipe_action = recipe_action(self, self.show_recipe)
        self.train_action = self._action(
            "Train image model…", self.open_train_dialog, tip="Train a GAN or VAE on a folder"
        )
        self.export_png_action = self._action("Export selected PNG…", self.export)
        self.export_sheet_action = self._action("Export contact sheet…", self._contact_sheet_dialog)
        self.export_anim_action = self._action("Export frames + GIF…", self._animation_dialog)
        self.zoom_in_action = self._action("Zoom in", lambda: self.canvas.zoom(1.25), "Ctrl++")
        self.zoom_out_action = self._action("Zoom out", lambda: self.canvas.zoom(0.8), "Ctrl+-")
        self.zoom_fit_action = self._action("Fit canvas", self.canvas.fit, "Ctrl+0")

    def menu_actions(self, menu: str) -> list[QAction]:
        """Generate, Train, File and View actions of this pane."""
        return {
            "generate": [
                self.generate_action,
                self.variations_action,
                self.interpolate_action,
                self.mix_action,
                self.encode_action,
                self.recipe_action,
            ],
            "train": [self.train_action],
            "file": [self.export_png_action, self.export_sheet_action, self.export_anim_action],
            "view": [self.zoom_in_action, self.zoom_out_action, self.zoom_fit_action],
        }.get(menu, [])

    def undo_stack(self) -> QUndoStack:
        """Canvas actions are undoable."""
        return self._undo

    def is_busy(self) -> bool:
        """True while a canvas job runs (training runs in the background and does not count)."""
        return self._handle is not None and not self._handle.done

    # --- running jobs ---
    def _model(self) -> str:
        path = self.model_picker.current_path()
        if path is None:
            raise InputError("No image model yet: train one (Train → Train image model…) or open a model file.")
        return str(path)

    def _guard(self, fn, *args) -> Any:
        try:
            return fn(*args)
        except StudioError as exc:
            self._error(str(exc))
            return None

    def _error(self, text: str) -> None:
        self.message.setStyleSheet("color: #c92a2a")
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.status_message.emit(text)

    def show_recipe(self) -> RecipeDialog | None:
        """Generate > Recipe…: the record of the selected picture (the first one), with Regenerate."""
        from aigc_studio import __version__
        from aigc_studio.core.provenance import from_image_recipe

        items = self.canvas.selected_items()
        if not items:
            self._info("Select a picture to see its recipe.")
            return None
        recipe = items[0]["recipe"]
        record = from_image_recipe({"app_version": __version__, **recipe})  # made in this session: this version
        dialog = RecipeDialog(record, self, regenerate=lambda: self._guard(self.restore_recipe, recipe, "recipe"))
        dialog.open()
        return dialog

    def _info(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.status_message.emit(text)

    def _run(self, job, label: str, strip: bool = False) -> None:
        if self.is_busy():
            self._error("Still drawing the previous request; wait for it or cancel it in the Jobs panel.")
            return
        if self.training.running:
            self._info(f"{label}: queued behind the training job.")
        handle = self.engine.submit(job)
        self._handle = handle
        handle.finished.connect(lambda result: self._apply(result, label, strip))
        handle.failed.connect(self._error)
        handle.cancelled.connect(lambda: self._info(f"{label}: cancelled."))

    def _apply(self, result: GeneratedImages, label: str, strip: bool) -> None:
        self.last_result = result
        before = CanvasState(self.canvas.items_data, self.canvas.strip, self.canvas.order)
        after = CanvasState(result.items, strip, [0] if len(result.items) == 1 else [])
        self._undo.push(ReplaceCanvas(self.canvas, before, after, label))
        self.history.add(result.items)
        seed = f", seed {result.seed}" if result.seed is not None else ""
        self._info(f"{label}: {len(result.items)} picture(s) from {result.model}{seed}.")

    # --- canvas operations ---
    def generate(self) -> None:
        """Generate a batch from the seed (or a random one) with the chosen ψ."""
        g = self.gen_panel
        if g.random_seed.isChecked():
            g.seed.setValue(jobs.random_seed())
        model = self._guard(self._model)
        if model is None:
            return
        job = jobs.GenerateImagesJob(model, g.count.value(), g.seed.value(), g.psi.value(), g.chosen_classes())
        self._run(job, f"Generate (seed {g.seed.value()})")

    def _selected(self, count: int, what: str) -> list[dict[str, Any]]:
        items = self.canvas.selected_items()
        if len(items) < count:
            raise InputError(
                f"{what} needs {'a selected picture' if count == 1 else 'two selected pictures (Ctrl+click)'}."
            )
        return items[:count]

    def _latent_model(self, items: list[dict[str, Any]]) -> str:
        """The model to use for a selection: the one that made it, when it is installed."""
        model = self._model()
        wanted = items[0]["recipe"].get("model_hash")
        from aigc_studio.core.modelfile import read_card

        if wanted and read_card(model).content_hash != wanted:
            path = self._current_if(wanted) or find_model_by_hash(wanted)
            if path is None:
                raise InputError("The selected picture was made by a model that is not loaded; pick that model first.")
            self._select_model(path)
            return str(path)
        return model

    def make_variations(self) -> None:
        """Neighbours of the first selected picture (strength from the slider)."""

        def go():
            (item,) = self._selected(1, "Variations")
            if self.diffusion.handles(item["recipe"]):
                return self.diffusion.variations(item)
            strength = self.sel_panel.strength.value() / 100
            seed = jobs.random_seed()
            psi = item["recipe"].get("psi", 1.0)
            job = jobs.VariationsJob(
                self._latent_model([item]),
                item["recipe"]["latent"],
                strength,
                8,
                seed,
                psi,
                label=item["recipe"].get("class_weights"),
            )
            self._run(job, f"Variations (strength {strength:.2f})")

        self._guard(go)

    def interpolate(self) -> None:
        """A strip of frames from A to B."""

        def go():
            a, b = self._selected(2, "Interpolation")
            s = self.sel_panel
            psi = a["recipe"].get("psi", 1.0)
            job = jobs.InterpolateJob(
                self._latent_model([a, b]),
                a["recipe"]["latent"],
                b["recipe"]["latent"],
                s.frames.value(),
                s.mode.currentData(),
                psi,
                label_a=a["recipe"].get("class_weights"),
                label_b=b["recipe"].get("class_weights"),
            )
            self._run(job, f"Interpolate ({s.frames.value()} frames, {s.mode.currentData()})", strip=True)

        self._guard(go)

    def mix(self) -> None:
        """Children of A and B by latent crossover."""

        def go():
            a, b = self._selected(2, "Mixing")
            psi = a["recipe"].get("psi", 1.0)
            job = jobs.MixJob(
                self._latent_model([a, b]),
                a["recipe"]["latent"],
                b["recipe"]["latent"],
                8,
                jobs.random_seed(),
                0.5,
                psi,
                label_a=a["recipe"].get("class_weights"),
                label_b=b["recipe"].get("class_weights"),
            )
            self._run(job, "Mix A × B")

        self._guard(go)

    def encode_file(self, path: str | Path) -> None:
        """Encode a picture with the current VAE (dropped on the canvas or opened)."""

        def go():
            from aigc_studio.core.modelfile import read_card
            from aigc_studio.image.picture_io import read_picture

            read_picture(path).close()  # a bad file is refused before the model selection changes
            model = self._model()
            if read_card(model).kind != "image-vae":
                vaes = list_models("image-vae")
                if not vaes:
                    raise InputError("Encoding a picture needs a VAE model; train one or open an image-vae file.")
                self._select_model(vaes[0].path)
                model = str(vaes[0].path)
            self._run(jobs.EncodeImageJob(model, str(path)), f"Encode {Path(path).name}")

        self._guard(go)

    def restore_recipe(self, recipe: dict[str, Any], source: str = "") -> None:
        """Redraw a picture from its recipe with the model that made it."""
        path = self._current_if(recipe.get("model_hash", "")) or find_model_by_hash(recipe.get("model_hash", ""))
        if path is None:
            raise InputError(
                f"{source or 'This picture'} was made by {recipe.get('model', '?')} "
                f"(hash {str(recipe.get('model_hash', ''))[:12]}), which is not installed. Open that model file first."
            )
        self._select_model(path)
        self.gen_panel.psi.setValue(float(recipe.get("psi", 1.0)))
        if recipe.get("seed") is not None:  # a CLI seed may lie outside the seed box's range
            self.gen_panel.seed.setValue(max(0, min(int(recipe["seed"]), self.gen_panel.seed.maximum())))
        weights = recipe.get("class_weights")
        job = jobs.RenderLatentsJob(
            str(path),
            [recipe["latent"]],
            recipe.get("psi", 1.0),
            recipe.get("op", "restore"),
            [recipe.get("seed")],
            labels=None if weights is None else [weights],
        )
        self._run(job, f"Restore {source}".strip())

    # --- files ---
    def open_path(self, path: Path) -> None:
        """A PNG we exported: restore its recipe. Any other picture: encode it with a VAE."""
        path = Path(path)
        try:
            recipe = read_recipe(path)  # empty, damaged or oversized files are refused here
        except MissingRecipe:
            self.encode_file(path)
            return
        if self.diffusion.handles(recipe):
            self.diffusion.restore(recipe, path.name)
            return
        self.restore_recipe(recipe, path.name)

    def _current_if(self, content_hash: str) -> Path | None:
        """The current model when its weights hash to ``content_hash`` (it may be a file outside the registry)."""
        from aigc_studio.core.modelfile import read_card

        path = self.model_picker.current_path()
        try:
            return path if path and content_hash and read_card(path).content_hash == content_hash else None
        except StudioError:
            return None

    def _open_history(self, path: Path) -> None:
        self._guard(self.open_path, path)

    def export_selected(self, path: str | Path, scale: int = 1) -> list[Path]:
        """Write the selected pictures (or all, when none is selected) as recipe PNGs."""
        targets = exporting.export_pngs(self.canvas.selected_items() or self.canvas.items_data, path, scale)
        self.last_exported = targets
        self._info(f"Exported {len(targets)} PNG(s) at {scale}× with recipe → {targets[0].parent}")
        return targets

    def export_contact_sheet(self, path: str | Path, scale: int = 1) -> Path:
        """The whole canvas as one PNG, captioned with seeds."""
        path = exporting.export_contact_sheet(self.canvas.items_data, path, self.canvas.strip, scale)
        self._info(f"Contact sheet → {path}")
        return path

    def export_animation(self, folder: str | Path, scale: int = 1) -> Path:
        """Interpolation frames as PNGs plus an animated GIF in ``folder``."""
        gif = exporting.export_animation(self.canvas.items_data, folder, scale)
        self._info(f"{len(self.canvas.items_data)} frames + {gif.name} → {gif.parent}")
        return gif

    def export(self) -> None:
        """File > Export: the selected pictures as PNG with the recipe."""
        items = self.canvas.selected_items() or self.canvas.items_data
        if not items:
            self._error("Nothing to export yet: generate some pictures first.")
            return
        recipe = items[0]["recipe"]
        default = f"{recipe.get('model', 'image')}-{recipe.get('seed', 'x')}.png"
        path = save_file(self, "image-export", "Export PNG with recipe", default, "PNG (*.png)")
        if path is not None:
            self._guard(self.export_selected, path, self.sel_panel.scale.currentData())

    def _contact_sheet_dialog(self) -> None:
        path = save_file(self, "image-export", "Export contact sheet", "contact-sheet.png", "PNG (*.png)")
        if path is not None:
            self._guard(self.export_contact_sheet, path, self.sel_panel.scale.currentData())

    def _animation_dialog(self) -> None:
        folder = choose_folder(self, "image-export", "Folder for the frames and the GIF")
        if folder is not None:
            self._guard(self.export_animation, folder, self.sel_panel.scale.currentData())

    def _encode_dialog(self) -> None:
        path = open_file(self, "image", "Encode a picture with the VAE", IMAGE_FILTER)
        if path is not None:
            self.encode_file(path)

    # --- training ---
    def open_train_dialog(self) -> None:
        """Train → Train image model…"""
        self.engine.prepare_training()
        dialog = TrainDialog(self, read_setting(self.settings, "image/train_folder", ""))
        if dialog.exec():
            self._guard(self.start_training, dialog.settings(), dialog.gpu_count())

    def start_training(self, settings, gpus: int = 1) -> Any:
        """Submit a training job and follow it in the Training tab."""
        if self.training.running:
            raise InputError("A training job is already running; stop it first.")
        self.settings.setValue("image/train_folder", settings.data)
        from aigc_studio.core.launched_job import on_gpus

        handle = self.engine.submit(on_gpus(jobs.TrainImageJob(settings), gpus))
        what = "GAN" if settings.kind == "image-gan" else "VAE"
        self.training.attach(
            handle, f"Training a {what} at {settings.resolution} px on {settings.data} → {settings.out}"
        )
        self.tabs.setCurrentWidget(self._training_tab)
        return handle

    def _on_model_trained(self, path: str) -> None:
        self.model_picker.refresh(select=Path(path))
        self._offer_classes(self.model_picker.current_path())
        self._info(f"Trained model ready: {Path(path).name}")

    # --- state ---
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        """On first show, fill the empty canvas with a grid so the studio never opens blank."""
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if (
                read_setting(self.settings, "image/auto_generate", True)
                and self.model_picker.current_path() is not None
                and not self.canvas.items_data  # e.g. the canvas came back after a crash
            ):
                # After this event returns, so the window paints before the engine boots torch.
                QTimer.singleShot(0, self.generate)

    def _on_selection(self, indices: list[int]) -> None:
        self.sel_panel.show_selection(self.canvas.selected_items(), self.canvas.strip)

    def _on_model_changed(self, path) -> None:
        if path:
            self.settings.setValue("image/model", str(path))
        self._offer_classes(path)

    def _select_model(self, path: Path) -> None:
        """Select a model for the user (the picker only signals the user's own picks)."""
        self.model_picker.select_path(path)
        self._offer_classes(self.model_picker.current_path())

    def _offer_classes(self, path) -> None:
        """Fill the class picker from the model card (read from the file header: no model code here)."""
        from aigc_studio.core.modelfile import read_card

        classes: list = []
        if path:
            try:
                classes = read_card(path).config.get("classes") or []
            except StudioError:  # an unreadable file is reported when it is used, not here
                classes = []
        self.gen_panel.set_classes([str(c) for c in classes])

    def shutdown(self) -> None:
        """Finish writing the history, remember the generate settings, drop the canvas autosave (a clean exit)."""
        self.history.flush()
        self.settings.setValue("image/count", self.gen_panel.count.value())
        self.settings.setValue("image/psi", self.gen_panel.psi.value())
        self.autosaver.stop()
        self.autosave.clear()

    # --- canvas autosave ---
    # The canvas is not a document the user saves, so after a crash it comes back without a question:
    # the alternative is an empty (or freshly generated) grid, and Undo removes the restored one.
    def _autosave_snapshot(self) -> tuple[dict[str, Any], Any] | None:
        items = self.canvas.items_data
        if not items:
            self._autosaved_items = None
            return None
        unchanged = items is self._autosaved_items  # set_items makes a new list, so this means "selection only"
        self._autosaved_items = items
        return canvas_record(items, self.canvas.strip, self.canvas.order, pixels_unchanged=unchanged)

    def _on_autosave_failed(self, message: str) -> None:
        self._autosaved_items = None  # write the pixels again with the next change
        self.status_message.emit(message)

    def _restore_canvas_after_crash(self) -> None:
        recovered = recoverable_canvas(self.autosave)
        if recovered is None:
            return
        after = CanvasState(recovered.items, recovered.strip, recovered.selected)
        self._undo.push(ReplaceCanvas(self.canvas, CanvasState([]), after, "Restore canvas"))
        self.autosaver.flush()  # ours is on disk before the crashed session's file goes
        recovered.delete()
        self._info(
            f"The canvas is back as it was when AIGC Studio stopped unexpectedly ({len(recovered.items)} "
            f"picture(s), autosaved at {autosave_time(recovered.saved_at)}). Undo clears it."
        )


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a vertically scrolling area that takes the width of the tab."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area
