"""Piano-roll pane: edit notes, generate/continue/infill/interpolate/variations, play, open and save MIDI."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QScrollBar,
    QVBoxLayout,
)

from aigc_studio.core.autosave import AutosaveStore
from aigc_studio.errors import StudioError
from aigc_studio.music.song import (
    AddTrack,
    EditCommand,
    Note,
    SetTrackProperty,
    Song,
    TempoChange,
    Track,
    set_tempo,
    set_time_signature,
)
from aigc_studio.ui.autosaver import Autosaver
from aigc_studio.ui.file_dialogs import save_file
from aigc_studio.ui.model_picker import ModelPicker
from aigc_studio.ui.music.autosave import KIND, RecoveredSong, recoverable_songs, song_record
from aigc_studio.ui.music.generation import MusicGeneration
from aigc_studio.ui.music.keyboard import Keyboard
from aigc_studio.ui.music.note_editing import NoteEditing
from aigc_studio.ui.music.playback import Player
from aigc_studio.ui.music.roll_scrolling import RollScrolling
from aigc_studio.ui.music.roll_state import RollState
from aigc_studio.ui.music.roll_view import RollView
from aigc_studio.ui.music.ruler import Ruler
from aigc_studio.ui.music.sound_output import SoundOutput
from aigc_studio.ui.music.toolbar import MusicToolbar
from aigc_studio.ui.music.variations_bar import VariationsBar
from aigc_studio.ui.music.velocity_lane import VelocityLane
from aigc_studio.ui.pane import StudioPane
from aigc_studio.ui.recipe_dialog import RECIPE_SHORTCUT
from aigc_studio.ui.recovery_banner import RecoveryBanner


class SongCommand(QUndoCommand):
    """A core edit command on the pane's song as a QUndoStack entry."""

    def __init__(self, pane: MusicPane, command: EditCommand) -> None:
        super().__init__(getattr(command, "text", "Edit"))
        self.pane, self.command = pane, command

    def redo(self) -> None:
        self.command.do(self.pane.song)
        self.pane.song_changed()

    def undo(self) -> None:
        self.command.undo(self.pane.song)
        self.pane.state.selection = []
        self.pane.song_changed()


AUTOSAVE_MS = 2000  # an edit reaches the autosave within this time


def new_song() -> Song:
    """An empty song with one piano track."""
    return Song(tracks=[Track("Piano", 0, 0, [])], tempos=[TempoChange(0, 500_000)])


class MusicPane(NoteEditing, RollScrolling, StudioPane):
    """Edit notes in a piano roll, generate, continue, infill, play and export MIDI."""

    title = "Music"
    key = "music"
    model_kinds = ("music-transformer", "music-vae")
    open_filter = "MIDI files (*.mid *.midi *.kar);;All files (*)"

    def __init__(self, engine, settings, parent=None) -> None:
        super().__init__(engine, settings, parent)
        self.song = new_song()
        self.path: Path | None = None
        self.records: list = []  # provenance of the generations in this song (saved in the MIDI file)
        self.state = RollState(self.song, self)
        self.stack = QUndoStack(self)
        self.stack.cleanChanged.connect(self._on_clean_changed)
        self.player = Player(self)
        self.player.position.connect(self._on_play_position)
        self.player.playing_changed.connect(lambda on: self.toolbar.play.setText("Stop" if on else "Play"))
        self.player.message.connect(self.status_message)
        self._clipboard: list[Note] = []
        self.generation = MusicGeneration(self)
        self.generation.status_message.connect(self.status_message)
        self.autosave = AutosaveStore(KIND)
        self.autosaver = Autosaver(self.autosave, self._autosave_snapshot, AUTOSAVE_MS, self)
        self.autosaver.failed.connect(self.status_message)
        self._discarded = False  # set when the user quits with Discard
        self.banner = RecoveryBanner(lambda: recoverable_songs(self.autosave))
        self.banner.restore.connect(self.restore)

        self.model_picker = ModelPicker(self.model_kinds)
        self.model_picker.use_engine(engine)
        self.toolbar = MusicToolbar()
        self.roll = RollView(self.state)
        self.keyboard = Keyboard(self.state)
        self.ruler = Ruler(self.state)
        self.velocity = VelocityLane(self.state)
        self.hbar = QScrollBar(Qt.Horizontal)
        self.vbar = QScrollBar(Qt.Vertical)
        self.info = QLabel("")
        self.variations_bar = VariationsBar()
        self._key_lock_touched = False  # until the user sets the lock, it follows the song (on with notes)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_picker, 1)
        top.addWidget(self.info, 2)
        grid = QGridLayout()
        grid.setSpacing(0)
        grid.addWidget(self.ruler, 0, 1)
        grid.addWidget(self.keyboard, 1, 0)
        grid.addWidget(self.roll, 1, 1)
        grid.addWidget(self.vbar, 1, 2)
        grid.addWidget(QLabel("Vel."), 2, 0)
        grid.addWidget(self.velocity, 2, 1)
        grid.addWidget(self.hbar, 3, 1)
        grid.setRowStretch(1, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(top)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.variations_bar)
        layout.addLayout(grid, 1)
        self.setAcceptDrops(True)

        self.roll.edit.connect(self.push)
        self.velocity.edit.connect(self.push)
        self.roll.scroll_request.connect(self._scroll_by)
        self.hbar.valueChanged.connect(self._on_hbar)
        self.vbar.valueChanged.connect(self._on_vbar)
        self.state.geometry.connect(self._update_scrollbars)
        self._connect_toolbar()
        self.sound = SoundOutput(self.player, self.settings, self.toolbar.sound, self)
        self.sound.status_message.connect(self.status_message)
        self._actions = self._make_actions()
        self.song_changed()
        self._update_scrollbars()
        self.vbar.setValue(127 - self.state.top_pitch)
        self.banner.refresh()

    # ------------------------------------------------------------ wiring
    def _connect_toolbar(self) -> None:
        t = self.toolbar
        t.track_combo.currentIndexChanged.connect(self._on_track_chosen)
        t.add_track.clicked.connect(self.add_track)
        t.program.editingFinished.connect(self._on_program)
        t.mute.toggled.connect(lambda on: self._toggle(self.state.muted, on))
        t.solo.toggled.connect(lambda on: self._toggle(self.state.solo, on))
        t.tool.currentTextChanged.connect(lambda text: setattr(self.roll, "tool", text.lower()))
        t.snap.currentIndexChanged.connect(self._on_snap)
        t.tempo.editingFinished.connect(self._on_tempo)
        t.numerator.editingFinished.connect(self._on_time_signature)
        t.denominator.currentTextChanged.connect(lambda _: self._on_time_signature())
        t.zoom_in.clicked.connect(lambda: self.state.zoom_time(1.25))
        t.zoom_out.clicked.connect(lambda: self.state.zoom_time(0.8))
        t.play.clicked.connect(self.toggle_playback)
        t.generate.clicked.connect(self.generation.generate)
        t.continue_.clicked.connect(self.generation.continue_song)
        t.infill.clicked.connect(self.generation.regenerate_range)
        t.interpolate.clicked.connect(self.generation.interpolate)
        t.variations.clicked.connect(self.generation.variations)
        t.cancel.clicked.connect(self.generation.cancel_job)
        t.key_lock.clicked.connect(self._on_key_lock_clicked)
        t.key_tonic.activated.connect(self._on_key_lock_clicked)
        t.key_scale.activated.connect(self._on_key_lock_clicked)
        v = self.variations_bar
        v.previous.clicked.connect(lambda: self.generation.flip(-1))
        v.next.clicked.connect(lambda: self.generation.flip(1))
        v.audition.clicked.connect(self.generation.audition)
        v.keep.clicked.connect(self.generation.keep)
        v.discard.clicked.connect(self.generation.discard)
        self.model_picker.model_changed.connect(self._on_model_changed)
        self._on_model_changed(self.model_picker.current_path())

    def _make_actions(self) -> dict[str, QAction]:
        def act(name: str, text: str, slot, shortcut=None) -> QAction:
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.WidgetWithChildrenShortcut)
                self.addAction(a)
            a.triggered.connect(slot)
            return a

        return {
            "generate": act("generate", "Generate bars", self.generation.generate, "Ctrl+G"),
            "continue": act("continue", "Continue", self.generation.continue_song, "Ctrl+Shift+G"),
            "infill": act("infill", "Regenerate selected bars", self.generation.regenerate_range, "Ctrl+R"),
            "interpolate": act("interpolate", "Interpolate phrases (MusicVAE)", self.generation.interpolate),
            "variations": act("variations", "Variations", self.generation.variations),
            "previous_variation": act(
                "previous_variation", "Previous variation", lambda: self.generation.flip(-1), "Alt+Left"
            ),
            "next_variation": act("next_variation", "Next variation", lambda: self.generation.flip(1), "Alt+Right"),
            "recipe": act("recipe", "Recipe…", self.show_recipe, RECIPE_SHORTCUT),
            "play": act("play", "Play / Stop", self.toggle_playback, "Space"),
            "select_all": act("select_all", "Select all notes", self.select_all, "Ctrl+A"),
            "delete": act("delete", "Delete notes", self.delete_selection, "Delete"),
            "copy": act("copy", "Copy notes", self.copy_selection, "Ctrl+C"),
            "cut": act("cut", "Cut notes", self.cut_selection, "Ctrl+X"),
            "paste": act("paste", "Paste notes at the cursor", self.paste, "Ctrl+V"),
            "up": act("up", "Transpose up", lambda: self.transpose(1), "Up"),
            "down": act("down", "Transpose down", lambda: self.transpose(-1), "Down"),
            "octave_up": act("octave_up", "Octave up", lambda: self.transpose(12), "Shift+Up"),
            "octave_down": act("octave_down", "Octave down", lambda: self.transpose(-12), "Shift+Down"),
            "left": act("left", "Move left", lambda: self.nudge(-1), "Left"),
            "right": act("right", "Move right", lambda: self.nudge(1), "Right"),
            "quantise": act("quantise", "Quantise to grid", self.quantise, "Q"),
            "export_range": act("export_range", "Export selected bars…", self.export_range),
            "train": act("train", "Train music model…", self.generation.train_dialog),
            "sound_output": self.sound.menu_action,
            "choose_soundfont": self.sound.choose_action,
        }

    def menu_actions(self, menu: str) -> list[QAction]:
        """Actions for the window's menus."""
        names = {
            "generate": [
                "generate",
                "continue",
                "infill",
                "interpolate",
                "variations",
                "recipe",
                "play",
                "sound_output",
                "choose_soundfont",
            ],
            "edit": [
                "select_all",
                "delete",
                "copy",
                "cut",
                "paste",
                "up",
                "down",
                "octave_up",
                "octave_down",
                "quantise",
            ],
            "file": ["export_range"],
            "train": ["train"],
        }.get(menu, [])
        return [self._actions[n] for n in names]

    def undo_stack(self) -> QUndoStack:
        """Every edit of the song is a step on this stack."""
        return self.stack

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    # ------------------------------------------------------------ editing
    def push(self, command: EditCommand) -> None:
        """Apply an edit as one undo step."""
        self.stack.push(SongCommand(self, command))

    def song_changed(self) -> None:
        """Refresh widgets after the song changed."""
        self.state.song = self.song
        if self.state.track >= len(self.song.tracks):
            self.state.track = max(0, len(self.song.tracks) - 1)
        live = {id(n) for t in self.song.tracks for n in t.notes}
        self.state.selection = [n for n in self.state.selection if id(n) in live]
        self._refresh_toolbar()
        self._refresh_key()
        self._update_scrollbars()
        self.state.changed.emit()
        self.info.setText(
            f"{self.song.note_count} notes, {self.song.bars} bars" + (f" — {self.path.name}" if self.path else "")
        )
        self.autosaver.changed()

    def _refresh_toolbar(self) -> None:
        t = self.toolbar
        for w in (t.track_combo, t.tempo, t.numerator, t.denominator, t.program, t.mute, t.solo):
            w.blockSignals(True)
        t.track_combo.clear()
        for i, track in enumerate(self.song.tracks):
            t.track_combo.addItem(f"{i + 1}: {track.name}" + (" (drums)" if track.is_drum else ""))
        t.track_combo.setCurrentIndex(self.state.track)
        t.tempo.setValue(int(round(60_000_000 / self.song.tempo_at(0))))
        t.numerator.setValue(self.song.time_signature[0])
        t.denominator.setCurrentText(str(self.song.time_signature[1]))
        if self.song.tracks:
            t.program.setValue(self.song.tracks[self.state.track].program)
        t.mute.setChecked(self.state.track in self.state.muted)
        t.solo.setChecked(self.state.track in self.state.solo)
        for w in (t.track_combo, t.tempo, t.numerator, t.denominator, t.program, t.mute, t.solo):
            w.blockSignals(False)

    def _refresh_key(self) -> None:
        """Show the song's key; until the user sets the lock, it locks to that key when the song has notes."""
        from aigc_studio.music.constraints import detect_key

        t = self.toolbar
        key = detect_key(self.song)
        t.key_label.setText(f"Key: {key.name}" if key else "Key: –")
        if not self._key_lock_touched:
            t.key_lock.setChecked(key is not None)
            if key is not None:
                t.key_tonic.setCurrentIndex(key.tonic)
                t.key_scale.setCurrentText(key.scale)

    def _on_key_lock_clicked(self, *_args) -> None:
        self._key_lock_touched = True

    def _on_model_changed(self, path) -> None:
        """Offer the model's instruments (all ticked) and take its recommended sampling settings."""
        from aigc_studio.core.modelfile import read_card
        from aigc_studio.errors import StudioError as _Error
        from aigc_studio.music.constraints import FAMILIES, family_of
        from aigc_studio.music.jobs import sampling_defaults, trained_programs

        menu = self.toolbar.instruments.menu()
        menu.clear()
        try:
            card = read_card(path) if path is not None else None
        except _Error:
            card = None
        programs = trained_programs(card) if card is not None and card.kind == "music-transformer" else None
        if programs:
            families: dict[str, list[int]] = {}
            for p in sorted(programs):
                families.setdefault(family_of(p), []).append(p)
            order = sorted(families, key=lambda f: (f == "drums", FAMILIES.index(f) if f in FAMILIES else 0))
            voices = (card.extra or {}).get("voices")
            for family in order:
                label = f"Choir ({', '.join(voices['names'])})" if voices and family != "drums" else family.capitalize()
                action = menu.addAction(label)
                action.setCheckable(True)
                action.setChecked(True)
                action.setData(families[family])
        self.toolbar.instruments.setEnabled(bool(programs))
        if card is not None:
            defaults = sampling_defaults(card)
            self.toolbar.temperature.setValue(max(0.1, defaults.temperature))
            self.toolbar.top_p.setValue(defaults.top_p)

    def _on_track_chosen(self, index: int) -> None:
        if index >= 0:
            self.state.track = index
            self.state.selection = []
            self._refresh_toolbar()
            self.state.changed.emit()

    def _toggle(self, group: set[int], on: bool) -> None:
        (group.add if on else group.discard)(self.state.track)
        self.state.changed.emit()

    def _on_program(self) -> None:
        if self.song.tracks and self.toolbar.program.value() != self.song.tracks[self.state.track].program:
            self.push(SetTrackProperty(self.state.track, "program", self.toolbar.program.value()))

    def _on_snap(self, index: int) -> None:
        self.state.snap_index = index
        self.state.changed.emit()

    def _on_tempo(self) -> None:
        bpm = self.toolbar.tempo.value()
        if abs(60_000_000 / self.song.tempo_at(0) - bpm) >= 0.5 or len(self.song.tempos) > 1:
            self.push(set_tempo(bpm))

    def _on_time_signature(self) -> None:
        ts = (self.toolbar.numerator.value(), int(self.toolbar.denominator.currentText()))
        if ts != tuple(self.song.time_signature):
            self.push(set_time_signature(*ts))

    def add_track(self) -> None:
        """Add an empty track with the next free channel."""
        used = {t.channel for t in self.song.tracks}
        channel = next((c for c in range(16) if c != 9 and c not in used), 0)
        self.push(AddTrack(Track(f"Track {len(self.song.tracks) + 1}", 0, channel, [])))
        self.state.track = len(self.song.tracks) - 1
        self._refresh_toolbar()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_scrollbars()

    # ------------------------------------------------------------ playback
    def toggle_playback(self) -> None:
        """Start or stop playback (Space)."""
        if self.player.is_playing:
            self.player.stop()
            return
        s = self.state
        loop = self.toolbar.loop.isChecked() and s.range is not None
        if loop:
            start, end = s.range[0] * self.song.bar_ticks, s.range[1] * self.song.bar_ticks
        else:
            start, end = s.cursor, self.song.end_tick
        muted = {i for i in range(len(self.song.tracks)) if not s.audible(i)}
        self.player.play(self.song, start, end, loop, muted)

    def _on_play_position(self, tick: int) -> None:
        self.state.play_tick = None if tick < 0 else tick
        if tick >= 0:
            visible = self.roll.width() / self.state.pixels_per_tick
            if not self.state.scroll_tick <= tick < self.state.scroll_tick + visible:
                self.hbar.setValue(tick)
        self.state.changed.emit()

    # ------------------------------------------------------------ documents
    def new_document(self) -> None:
        """Start an empty song."""
        self.player.stop()
        self.song = new_song()
        self.path = None
        self.records = []
        self.stack.clear()
        self.state.range = None
        self.state.cursor = 0
        self.song_changed()

    def open_path(self, path: Path) -> None:
        """Open a .mid file; unsupported events are reported in the status bar."""
        from aigc_studio.music.midi_io import read_midi_with_records

        # A bad file is refused here, before the open song is touched; a damaged recipe is only a warning.
        song, warnings, records = read_midi_with_records(path)
        if self.is_dirty() and QMessageBox.question(self, "Music", "Discard unsaved changes?") != QMessageBox.Yes:
            return
        self.player.stop()
        if not song.tracks:
            song.tracks.append(Track("Piano", 0, 0, []))
        self.song, self.path, self.records = song, Path(path), records
        self.stack.clear()
        self.state.selection, self.state.range, self.state.cursor = [], None, 0
        self.state.track = 0
        self.song_changed()
        note = f" ({'; '.join(warnings)})" if warnings else ""
        self.status_message.emit(f"Opened {Path(path).name}: {song.note_count} notes{note}")
        self.last_warnings = warnings

    def save(self) -> bool:
        """Save to the current file (or ask for one)."""
        if self.path is None:
            return self.save_as()
        return self._write(self.path)

    def save_as(self) -> bool:
        """Ask for a .mid file and save."""
        chosen = save_file(self, "music", "Save MIDI", self.path or "song.mid", self.open_filter)
        if chosen is None:
            return False
        path = str(chosen)
        if not path.lower().endswith((".mid", ".midi")):
            path += ".mid"
        self.path = Path(path)
        return self._write(self.path)

    def _write(self, path: Path, song: Song | None = None) -> bool:
        from aigc_studio.music.midi_io import write_midi

        try:
            write_midi(song or self.song, path, provenance=self.records)
        except OSError as exc:
            self.status_message.emit(f"Could not save {path.name}: {exc.strerror or exc}")
            return False
        if song is None:
            self.stack.setClean()
            self.song_changed()
            self.autosave.clear()  # saved: nothing left to recover
        self.status_message.emit(f"Saved {path.name}.")
        return True

    def show_recipe(self):
        """Generate > Recipe…: the record of the generation under the selected notes (or the ruler range, or
        the cursor bar; else the latest), with Regenerate."""
        from aigc_studio.music.recipes import record_for_bars, why_not_regenerable
        from aigc_studio.ui.recipe_dialog import RecipeDialog

        if not self.records:
            self.status_message.emit("No recipe: nothing in this song was generated here or in the file it came from.")
            return None
        bt = self.song.bar_ticks
        if self.state.selection:
            bars = {n.start // bt for n in self.state.selection}
        elif self.state.range:
            bars = set(range(*self.state.range))
        else:
            bars = {self.state.cursor // bt}
        record = record_for_bars(self.records, bars)
        why = why_not_regenerable(record)

        def regenerate() -> None:
            try:
                self.generation.regenerate(record)
            except StudioError as exc:
                self.status_message.emit(str(exc))

        dialog = RecipeDialog(record, self, regenerate=None if why else regenerate, why_not=why)
        dialog.open()
        return dialog

    def export(self) -> None:
        """Export the whole song (or the selected bars, if a range is selected) as .mid."""
        if self.state.range:
            self.export_range()
            return
        path = save_file(
            self, "music", "Export MIDI", f"{self.path.stem if self.path else 'song'}-export.mid", self.open_filter
        )
        if path is not None:
            self._write(path, self.song.copy())

    def export_range(self) -> None:
        """Export only the selected bars."""
        if not self.state.range:
            self.status_message.emit("Drag in the bar ruler to choose the bars to export.")
            return
        path = save_file(self, "music", "Export selected bars", "selection.mid", self.open_filter)
        if path is not None:
            self._write(path, self.song.slice_bars(*self.state.range))

    def is_dirty(self) -> bool:
        """Unsaved edits?"""
        return not self.stack.isClean()

    def is_busy(self) -> bool:
        """True while a model job runs."""
        return self.generation.busy

    def discard_unsaved(self) -> None:
        """Quitting with Discard: the song is not offered back at the next start."""
        self._discarded = True
        self.autosave.clear()

    def shutdown(self) -> None:
        """Stop playback (closing a MIDI port) and any job; write the autosave one last time unless discarded."""
        self.player.close()
        self.generation.cancel_job()
        if not self._discarded:
            self.autosaver.changed()
            self.autosaver.flush()
        self.autosaver.stop()
        self.autosave.wait()

    # ------------------------------------------------------------ autosave and recovery
    def _autosave_snapshot(self) -> tuple[dict, None] | None:
        if not self.is_dirty():
            return None  # saved, just opened or never edited: nothing to recover
        return song_record(self.song, self.path, self.records), None

    def flush_autosave(self) -> None:
        """Write the autosave now if the song changed, and wait until it is on disk."""
        self.autosaver.flush()

    def restore(self, recovered: RecoveredSong) -> None:
        """Put a recovered song in the roll as unsaved work (its undo history is gone) and forget the old autosave."""
        if self.is_dirty() and QMessageBox.question(self, "Music", "Discard unsaved changes?") != QMessageBox.Yes:
            return  # notes drawn since the start count too
        self.player.stop()
        self.generation.cancel_job()
        self.song, self.path, self.records = recovered.song, recovered.path, list(recovered.records)
        self.stack.clear()
        self.stack.resetClean()  # unsaved: File > Save writes it, quitting asks
        self.state.selection, self.state.range, self.state.cursor, self.state.track = [], None, 0, 0
        self.song_changed()
        self.flush_autosave()  # ours is on disk before the crashed session's file goes
        recovered.delete()
        self.status_message.emit(f"Recovered an unsaved song: {self.song.note_count:,} notes.")
        self.banner.refresh()

    # ------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(u.toLocalFile().lower().endswith((".mid", ".midi", ".kar")) for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.lower().endswith((".mid", ".midi", ".kar")):
                try:
                    self.open_path(Path(path))
                except StudioError as exc:
                    QMessageBox.warning(self, "Music", str(exc))
                return
