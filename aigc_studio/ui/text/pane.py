"""Writer pane: the editor, Continue/Stop/Retry, sampling side panel, sentence blend, files, autosave."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.core.atomic import atomic_write_text
from aigc_studio.core.autosave import AutosaveStore
from aigc_studio.errors import InputError, StudioError
from aigc_studio.text.sidecar import read_sidecar_with_records, write_sidecar
from aigc_studio.ui.autosaver import Autosaver
from aigc_studio.ui.file_dialogs import save_file
from aigc_studio.ui.pane import StudioPane
from aigc_studio.ui.recipe_dialog import RecipeDialog, recipe_action
from aigc_studio.ui.recovery_banner import RecoveryBanner
from aigc_studio.ui.text.autosave import KIND, Recovered, recoverable_texts, text_record
from aigc_studio.ui.text.blend_panel import BlendPanel
from aigc_studio.ui.text.editor import GenerationWriter, WriterEditor
from aigc_studio.ui.text.generation import GenerationController
from aigc_studio.ui.text.rewrite_panel import RewriteController, RewritePanel
from aigc_studio.ui.text.sampling_panel import SamplingPanel
from aigc_studio.ui.text.word_count import WordCounter

REWRITE_TIP = "Rewrite, expand, shorten or re-tone the selection with an instruction (chat) model"
AUTOSAVE_MS = 2000  # an edit reaches the autosave within this time
MAX_RECENT = 8


class TextPane(StudioPane):
    """Write, continue at the cursor, retry and blend sentences."""

    title = "Text"
    key = "text"
    model_kinds = ("text-gpt", "text-vae")
    open_filter = "Text (*.txt *.md *.markdown);;All files (*)"

    def __init__(self, engine, settings, parent=None) -> None:
        super().__init__(engine, settings, parent)
        self.path: Path | None = None
        self.editor = WriterEditor()
        self.panel = SamplingPanel(settings)
        self.blend = BlendPanel()
        for picker in (self.panel.picker, self.blend.picker):
            picker.use_engine(engine)
        self.generation = GenerationController(engine, self.editor, self.panel, self)
        self.rewrite_panel = RewritePanel()
        self.rewriter = RewriteController(engine, self.editor, self.panel, self.rewrite_panel, self)
        self.counter = WordCounter(self.editor, self.panel, self)
        self.autosave = AutosaveStore(KIND)
        self.autosaver = Autosaver(self.autosave, self._autosave_snapshot, AUTOSAVE_MS, self)
        self.banner = RecoveryBanner(lambda: recoverable_texts(self.autosave))
        self._blend_handle = None
        self._train_dialog = None
        self._discarded = False  # set when the user quits with Discard
        self._build_actions()
        self._build_layout()

        self.generation.message.connect(self.status_message)
        self.generation.busy_changed.connect(self._on_busy)
        self.rewriter.message.connect(self.status_message)
        self.rewriter.busy_changed.connect(self._on_busy)
        self.panel.model_changed.connect(self._update_rewrite_action)
        self.editor.document().modificationChanged.connect(self._on_modified)
        self.editor.document().contentsChanged.connect(self._on_contents_changed)
        self.blend.blend_requested.connect(self.blend_sentences)
        self.blend.neighbours_requested.connect(self.sentence_neighbours)
        self.blend.insert_requested.connect(self.insert_generated)
        self.blend.take_selection.connect(lambda edit: edit.setText(self.sentence_at_cursor()))
        self.banner.restore.connect(self.restore)
        self.autosaver.failed.connect(self.status_message)
        self.banner.refresh()
        self._on_busy(False)

    # --- layout and actions ---
    def _build_layout(self) -> None:
        self.doc_label = QLabel("Untitled")
        self.doc_label.setObjectName("documentTitle")
        buttons = QHBoxLayout()
        buttons.addWidget(self.doc_label, 1)
        for action in (self.continue_action, self.stop_action, self.retry_action, self.prev_action, self.next_action):
            button = QPushButton(action.text().replace("&", ""))
            button.setToolTip(
                f"{action.toolTip()} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
            )
            button.clicked.connect(action.trigger)
            action.enabledChanged.connect(button.setEnabled)
            button.setEnabled(action.isEnabled())
            buttons.addWidget(button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.banner)
        left_layout.addLayout(buttons)
        beside = QSplitter(Qt.Orientation.Horizontal)  # the rewrite preview opens beside the text
        beside.addWidget(self.editor)
        beside.addWidget(self.rewrite_panel)
        beside.setStretchFactor(0, 3)
        beside.setStretchFactor(1, 2)
        left_layout.addWidget(beside, 1)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.panel)
        side_layout.addWidget(self.blend, 1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(200)  # small windows still fit; the panel then scrolls sideways
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        # The panel opens just wide enough for its controls and keeps that width; the editor takes the rest.
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        panel_width = side.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4
        splitter.setSizes([900, panel_width])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def _action(self, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text.replace("&", ""))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts also work when the pane is used on its own
        return action

    def _build_actions(self) -> None:
        g = self.generation
        self.continue_action = self._action(
            "&Continue", g.continue_at_cursor, "Ctrl+Return", "Continue the text at the cursor"
        )
        self.stop_action = self._action("&Stop", g.stop, "Esc", "Stop generating")
        self.retry_action = self._action("&Retry", g.retry, "Ctrl+R", "Replace the last generation with another one")
        self.prev_action = self._action(
            "◀ Alt", lambda: g.flip(-1), "Alt+Left", "Previous alternative of the last generation"
        )
        self.next_action = self._action(
            "Alt ▶", lambda: g.flip(1), "Alt+Right", "Next alternative of the last generation"
        )
        self.accept_action = self._action(
            "Accept generated text", self.accept_generated, None, "Unmark all generated text (it becomes yours)"
        )
        self.rewrite_action = self._action(
            "Re&write selection…", self.rewriter.open_for_selection, "Ctrl+Shift+R", REWRITE_TIP
        )
        self.blend_action = self._action(
            "Sentence &blend…", lambda: self.blend.first.setFocus(), None, "Blend two sentences with the sentence VAE"
        )
        self.folder_action = self._action(
            "Open &model folder…", self.panel.choose_folder, None, "Open a Hugging Face model folder from disk"
        )
        self.export_action = self._action("Export &plain text…", self.export, None, "Save the text without AI marks")
        self.recipe_action = recipe_action(self, self.show_recipe)
        self.train_gpt_action = self._action("Train text &GPT…", lambda: self.show_train_dialog("text-gpt"))
        self.train_vae_action = self._action("Train sentence &VAE…", lambda: self.show_train_dialog("text-vae"))
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.recent_action = self.recent_menu.menuAction()

    def menu_actions(self, menu: str) -> list[QAction]:
        """Actions for the main window's menus."""
        return {
            "generate": [
                self.continue_action,
                self.stop_action,
                self.retry_action,
                self.prev_action,
                self.next_action,
                self.rewrite_action,
                self.blend_action,
                self.recipe_action,
            ],
            "file": [self.recent_action, self.folder_action],
            "edit": [self.accept_action],
            "train": [self.train_gpt_action, self.train_vae_action],
        }.get(menu, [])

    def show_recipe(self) -> RecipeDialog | None:
        """Generate > Recipe…: the record of the generated text at the cursor, with Regenerate."""
        position = self.editor.textCursor().position()
        span = next((s for s in self.editor.spans.ranges if s[0] <= position <= s[1] and s[1] > s[0]), None)
        record = self.editor.spans.record_of(span) if span is not None else None
        if record is None:
            self.status_message.emit("Put the cursor in generated (tinted) text to see its recipe.")
            return None

        def regenerate() -> None:
            try:
                self.generation.regenerate(span, record)
            except StudioError as exc:
                self.status_message.emit(str(exc))

        from aigc_studio.text.recipes import REGENERABLE

        if record.operation in REGENERABLE:
            dialog = RecipeDialog(record, self, regenerate=regenerate)
        else:  # a rewrite: the passage it was given is not kept
            why = "Rewrite selection's input is not kept: select the passage and use Rewrite again."
            dialog = RecipeDialog(record, self, why_not=why)
        dialog.open()
        return dialog

    def _update_rewrite_action(self, *_args) -> None:
        """Rewrite needs a chat model: otherwise the menu entry is off and says why."""
        refusal = self.rewriter.refusal()
        self.rewrite_action.setEnabled(refusal is None and not self.generation.busy)
        self.rewrite_action.setText(
            "Re&write selection…" if refusal is None else "Re&write selection… (needs a chat model)"
        )
        self.rewrite_action.setToolTip(refusal or REWRITE_TIP)
        self.rewrite_action.setStatusTip(refusal or REWRITE_TIP)

    def _on_busy(self, _busy: bool = False) -> None:
        busy = self.generation.busy
        if not busy:
            self.counter.update()
        self._update_rewrite_action()
        self.continue_action.setEnabled(not busy)
        self.retry_action.setEnabled(not busy)
        self.stop_action.setEnabled(busy)
        self.prev_action.setEnabled(not busy)
        self.next_action.setEnabled(not busy)

    # --- editing helpers ---
    def undo(self) -> None:
        """Undo (a whole generation is one step)."""
        if not self.generation.busy:
            self.editor.undo()

    def redo(self) -> None:
        """Redo."""
        if not self.generation.busy:
            self.editor.redo()

    def accept_generated(self) -> None:
        """Drop every generated mark."""
        self.editor.spans.clear()
        self.editor.refresh_highlights()
        self.autosaver.changed()

    def insert_generated(self, text: str) -> None:
        """Insert model text (e.g. a blended sentence) at the cursor as one undoable, marked step."""
        if self.generation.busy or not text:
            return
        cursor = self.editor.textCursor()
        writer = GenerationWriter(self.editor, cursor.selectionStart(), replace_end=cursor.selectionEnd())
        writer.append(text)

    def sentence_at_cursor(self) -> str:
        """The selected text, or the sentence around the cursor."""
        cursor = self.editor.textCursor()
        if cursor.hasSelection():
            return cursor.selectedText().replace("\u2029", " ").strip()
        block = cursor.block().text()
        col = cursor.positionInBlock()
        for match in re.finditer(r"[^.!?]+[.!?]*", block):
            if match.start() <= col <= match.end():
                return match.group().strip()
        return block.strip()

    # --- documents ---
    def _set_path(self, path: Path | None) -> None:
        self.path = path
        self._update_label()

    def _update_label(self) -> None:
        name = self.path.name if self.path else "Untitled"
        self.doc_label.setText(name + ("  •" if self.is_dirty() else ""))

    def _on_modified(self, modified: bool) -> None:
        self._update_label()
        self.dirty_changed.emit(modified)

    def _on_contents_changed(self) -> None:
        self.autosaver.changed()

    def _confirm_discard(self) -> bool:
        if not self.is_dirty():
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved text",
            "The current text has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_document(self) -> None:
        """File > New."""
        if self.generation.busy or not self._confirm_discard():
            return
        self.editor.set_document_text("")
        self._set_path(None)
        self.autosave.clear()

    def open_path(self, path: Path) -> None:
        """Open a .txt/.md file (with its generated-span sidecar when it still matches)."""
        from aigc_studio.text.document_io import encoding_note, read_text_file

        path = Path(path)
        if self.generation.busy:
            raise InputError("Stop the generation before opening another file.")
        text, encoding = read_text_file(path)
        if not self._confirm_discard():
            return
        self.editor.set_document_text(text, *read_sidecar_with_records(path, text))
        self._set_path(path)
        self._add_recent(path)
        self.autosave.clear()
        note = f" ({encoding_note(encoding)}; it will be saved as UTF-8)" if encoding_note(encoding) else ""
        self.status_message.emit(f"Opened {path.name}: {len(text.split()):,} words{note}.")

    def save(self) -> bool:
        """File > Save (asks for a name the first time)."""
        if self.path is None:
            return self.save_as()
        return self._write(self.path)

    def save_as(self) -> bool:
        """File > Save As…"""
        path = save_file(self, "text", "Save text", self.path or "untitled.md", "Markdown (*.md);;Text (*.txt);;All files (*)")
        if path is None:
            return False
        return self._write(path)

    def _write(self, path: Path) -> bool:
        text = self.editor.toPlainText()
        try:
            atomic_write_text(path, text)
            write_sidecar(path, text, self.editor.generated_text_ranges(), self.editor.spans.records())
        except OSError as exc:
            raise StudioError(f"Could not save {path.name}: {exc.strerror or exc}. Your text is still here.") from exc
        self._set_path(path)
        self.editor.document().setModified(False)
        self._add_recent(path)
        self.autosave.clear()
        self.status_message.emit(f"Saved {path.name}.")
        return True

    def export(self) -> None:
        """Export the plain text only (no generated-text marks, no sidecar)."""
        suggested = f"{self.path.stem if self.path else 'untitled'}.txt"
        path = save_file(self, "text", "Export plain text", suggested, "Text (*.txt);;Markdown (*.md)")
        if path is not None:
            self.export_plain_text(path)

    def export_plain_text(self, path: Path) -> None:
        """Write the text alone to ``path``."""
        atomic_write_text(path, self.editor.toPlainText())
        self.status_message.emit(f"Exported {Path(path).name} (plain text).")

    def _recent(self) -> list[str]:
        value = self.settings.value("text/recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _add_recent(self, path: Path) -> None:
        items = [str(path)] + [p for p in self._recent() if p != str(path)]
        self.settings.setValue("text/recent_files", items[:MAX_RECENT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for name in self._recent():
            action = self.recent_menu.addAction(name)
            action.triggered.connect(lambda _=False, n=name: self._open_recent(n))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _open_recent(self, name: str) -> None:
        try:
            self.open_path(Path(name))
        except StudioError as exc:
            QMessageBox.warning(self, "Cannot open", str(exc))

    # --- autosave and recovery ---
    def flush_autosave(self) -> None:
        """Write the autosave now if anything changed, and wait until it is on disk."""
        self.autosaver.flush()

    def _autosave_snapshot(self) -> tuple[dict, None] | None:
        if not self.is_dirty():
            return None  # saved or never edited: nothing to recover
        path = str(self.path) if self.path else None
        return text_record(
            self.editor.toPlainText(), path, self.editor.generated_text_ranges(), self.editor.spans.records()
        ), None

    def restore(self, recovered: Recovered) -> None:
        """Put recovered text into the editor (marked unsaved) and forget the old autosave."""
        if self.generation.busy or not self._confirm_discard():  # the text typed since the start counts too
            return
        self.editor.set_document_text(recovered.text, recovered.spans, recovered.records)
        self.editor.document().setModified(True)
        self._set_path(Path(recovered.path) if recovered.path else None)
        self.autosaver.changed()
        self.flush_autosave()  # ours is on disk before the crashed session's file goes
        recovered.delete()
        self.status_message.emit(f"Recovered {recovered.words:,} unsaved words.")
        self.banner.refresh()

    # --- sentence VAE ---
    def _vae_path(self) -> Path | None:
        path = self.blend.picker.current_path()
        if path is None:
            self.status_message.emit("No sentence VAE: train one (Train > Train sentence VAE…).")
        return path

    def blend_sentences(self, first: str, second: str, steps: int) -> None:
        """Submit a homotopy job between two sentences."""
        from aigc_studio.text.jobs import BlendSentencesJob

        path = self._vae_path()
        if path is None or self._blend_handle is not None:
            return
        if not first.strip() or not second.strip():
            self.status_message.emit("Type or take two sentences to blend.")
            return
        self._submit_blend(BlendSentencesJob(model=str(path), first=first, second=second, steps=steps))

    def sentence_neighbours(self, sentence: str, count: int) -> None:
        """Submit a job for sentences near ``sentence``."""
        from aigc_studio.text.jobs import NeighboursJob

        path = self._vae_path()
        if path is None or self._blend_handle is not None or not sentence.strip():
            return
        self._submit_blend(NeighboursJob(model=str(path), sentence=sentence, count=count, seed=self.panel.next_seed()))

    def _submit_blend(self, job) -> None:
        handle = self._blend_handle = self.engine.submit(job)
        self.blend.set_busy(True)

        def done(*_args) -> None:
            self._blend_handle = None
            self.blend.set_busy(False)

        handle.finished.connect(lambda result: (done(), self.blend.show_results(result)))
        handle.failed.connect(lambda message: (done(), self.status_message.emit(message)))
        handle.cancelled.connect(done)

    # --- training ---
    def show_train_dialog(self, kind: str = "text-gpt") -> None:
        """Open the Train dialog (non-modal)."""
        from aigc_studio.ui.text.train_dialog import TrainTextDialog

        self.engine.prepare_training()
        if self._train_dialog is None:
            self._train_dialog = TrainTextDialog(self.engine, self, kind)
            self._train_dialog.model_trained.connect(self._on_model_trained)
        else:
            self._train_dialog.kind.setCurrentIndex(self._train_dialog.kind.findData(kind))
        self._train_dialog.show()
        self._train_dialog.raise_()

    def _on_model_trained(self, path: Path) -> None:
        self.panel.picker.refresh()
        self.blend.picker.refresh()
        self.status_message.emit(f"Trained model saved: {path.name}")

    # --- state for the main window ---
    def is_dirty(self) -> bool:
        """True when the text has unsaved changes."""
        return self.editor.document().isModified()

    def is_busy(self) -> bool:
        """True while generating, blending or training."""
        training = self._train_dialog is not None and self._train_dialog.is_busy()
        return self.generation.busy or self.rewriter.busy or self._blend_handle is not None or training

    def discard_unsaved(self) -> None:
        """Quitting with Discard: the text is not offered back at the next start."""
        self._discarded = True
        self.autosave.clear()

    def shutdown(self) -> None:
        """Stop generating and write the autosave one last time (unless the text was discarded)."""
        self.generation.stop()
        self.rewriter.stop()
        if not self._discarded:
            self.autosaver.changed()
            self.flush_autosave()
        self.autosaver.stop()
        self.autosave.wait()
