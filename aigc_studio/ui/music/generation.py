"""The music pane's model commands: generate, continue, regenerate a range, interpolate, variations, train.

Each command builds a job from the song and the toolbar, submits it to the engine
(the GUI thread never runs model code) and merges the result into the song as
one undoable edit, highlighted until the musician edits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from aigc_studio.core.events import GeneratedMusic, MusicVariations
from aigc_studio.core.seeds import random_seed
from aigc_studio.music.song import Song, merge_command

if TYPE_CHECKING:
    from aigc_studio.ui.music.pane import MusicPane


@dataclass
class VariationChoice:
    """The alternatives of the last Variations run and which one is in the song (as the undo stack's top step)."""

    alternatives: list[Song]
    first_bar: int
    last_bar: int
    index: int = 0
    stack_index: int = -1  # the undo stack's index right after our step; anything else means the song moved on


class MusicGeneration(QObject):
    """Runs one model job at a time for ``pane`` and reports through ``status_message``."""

    status_message = Signal(str)

    def __init__(self, pane: MusicPane) -> None:
        super().__init__(pane)
        self.pane = pane
        self._handle = None
        self._train_handle = None
        self.choice: VariationChoice | None = None

    @property
    def busy(self) -> bool:
        """True while a generation job runs."""
        return self._handle is not None

    def _model(self) -> str | None:
        path = self.pane.model_picker.current_path()
        if path is None:
            self.status_message.emit("Pick a music model first (or train one: Train > Train music model…).")
            return None
        return str(path)

    def _options(self):
        from aigc_studio.music.jobs import SamplingOptions

        return SamplingOptions(self.pane.toolbar.temperature.value(), 0, self.pane.toolbar.top_p.value())

    def _request(self):
        """The key lock and the instruments ticked in the toolbar."""
        from aigc_studio.music.constraints import Key
        from aigc_studio.music.jobs import MusicRequest

        t = self.pane.toolbar
        key = Key(t.key_tonic.currentIndex(), t.key_scale.currentText()) if t.key_lock.isChecked() else None
        actions = t.instruments.menu().actions()
        ticked = [a for a in actions if a.isChecked()]
        if actions and not ticked:
            self.status_message.emit("No instrument ticked: writing all of the model's instruments.")
        everything = not ticked or len(ticked) == len(actions)
        instruments = None if everything else frozenset(p for a in ticked for p in a.data())
        return MusicRequest(key, instruments)

    def _seed(self) -> int:
        """The seed box's value; with "random" ticked, a fresh seed drawn now and shown in the box."""
        if self.pane.toolbar.random_seed.isChecked():
            self.pane.toolbar.seed.setValue(random_seed() % (self.pane.toolbar.seed.maximum() + 1))
        return self.pane.toolbar.seed.value()

    def _submit(self, job, clear: tuple[int, int] | None, text: str) -> None:
        if self.busy:
            self.status_message.emit("A model job is already running.")
            return
        if getattr(job, "seed", 0) is None:  # the job owns its seed: "random" is drawn here, once, and shown
            job.seed = self._seed()
        handle = self.pane.engine.submit(job, seed=getattr(job, "seed", None))
        self._handle = handle
        for b in self.pane.toolbar.model_buttons():
            b.setEnabled(False)
        self.pane.toolbar.cancel.setEnabled(True)
        handle.progress.connect(lambda _f, msg: self.status_message.emit(f"{job.title}: {msg}"))
        handle.finished.connect(lambda result: self._on_result(result, clear, text, job))
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(lambda: self._job_done("Cancelled."))

    def _job_done(self, message: str) -> None:
        self._handle = None
        for b in self.pane.toolbar.model_buttons():
            b.setEnabled(True)
        self.pane.toolbar.cancel.setEnabled(False)
        if message:
            self.status_message.emit(message)

    def _on_result(self, result: GeneratedMusic | MusicVariations, clear, text: str, job=None) -> None:
        if isinstance(result, MusicVariations):
            self._on_variations(result)
            return
        from aigc_studio.music.recipes import record_of

        fragment: Song = result.fragment
        if job is not None:  # the provenance record goes with the result, and with the song into its file
            result.provenance = record_of(job, result.seed, result.details.get("first_bar"))
            self.pane.records.append(result.provenance)
        if self.pane.song.note_count == 0 and not clear and fragment.note_count:
            # A fresh song takes the generated tempo and metre.
            self.pane.song.time_signature = fragment.time_signature
            self.pane.song.tempos = list(fragment.tempos)
            # ...and its empty tracks take the parts the model wrote (e.g. the chorale voices) in the same order.
            for track, part in zip(self.pane.song.tracks, fragment.tracks):
                if not track.notes:
                    track.name, track.program, track.channel = part.name, part.program, part.channel
        self.pane.push(merge_command(self.pane.song, fragment, clear, text))
        seed = f" (seed {result.seed})" if result.seed is not None else ""
        self._job_done(f"{text}: {fragment.note_count} new notes{seed} (highlighted until edited).")

    def _on_failed(self, message: str) -> None:
        self._job_done("")
        self.status_message.emit(message)
        QMessageBox.warning(self.pane, "Music", message)

    def cancel_job(self) -> None:
        """Cancel the running model job."""
        if self._handle is not None:
            self._handle.cancel()

    def _range_or_selection_bars(self) -> tuple[int, int] | None:
        if self.pane.state.range:
            return self.pane.state.range
        if self.pane.state.selection:
            bt = self.pane.song.bar_ticks
            return (
                min(n.start for n in self.pane.state.selection) // bt,
                max(n.start for n in self.pane.state.selection) // bt + 1,
            )
        return None

    def generate(self) -> None:
        """Generate bars: into an empty song, or after the end of the current one."""
        from aigc_studio.music.jobs import GenerateMusicJob

        if (model := self._model()) is None:
            return
        prime = self.pane.song.copy() if self.pane.song.note_count else None
        job = GenerateMusicJob(model, self.pane.toolbar.bars.value(), prime, None, self._options(), self._request())
        self._submit(job, None, "Generate")

    def continue_song(self) -> None:
        """Continue from the end, or from the cursor bar (replacing what follows for the chosen bars)."""
        from aigc_studio.music.jobs import GenerateMusicJob

        if (model := self._model()) is None:
            return
        bars = self.pane.toolbar.bars.value()
        at = None
        clear = None
        if self.pane.toolbar.at_cursor.isChecked():
            at = self.pane.state.cursor // self.pane.song.bar_ticks
            clear = (at * self.pane.song.bar_ticks, (at + bars) * self.pane.song.bar_ticks)
        job = GenerateMusicJob(model, bars, self.pane.song.copy(), at, self._options(), self._request())
        self._submit(job, clear, "Continue")

    def regenerate_range(self) -> None:
        """Infill the bars selected in the ruler (or under the selected notes)."""
        from aigc_studio.music.jobs import InfillMusicJob

        bars = self._range_or_selection_bars()
        if bars is None:
            self.status_message.emit("Drag in the bar ruler to choose the bars to regenerate.")
            return
        if (model := self._model()) is None:
            return
        clear = (bars[0] * self.pane.song.bar_ticks, bars[1] * self.pane.song.bar_ticks)
        job = InfillMusicJob(model, self.pane.song.copy(), bars[0], bars[1], self._options(), self._request())
        self._submit(job, clear, "Regenerate")

    def interpolate(self) -> None:
        """MusicVAE: phrases between the first and last two bars of the range, appended at the end."""
        from aigc_studio.music.jobs import InterpolateMusicJob

        bars = self.pane.state.range
        if bars is None or bars[1] - bars[0] < 4:
            self.status_message.emit(
                "Select at least 4 bars in the ruler: the first 2 and the last 2 are the two phrases."
            )
            return
        if (model := self._music_vae()) is None:
            return
        job = InterpolateMusicJob(model, self.pane.song.copy(), bars[0], bars[1] - 2, self.pane.toolbar.steps.value())
        self._submit(job, None, "Interpolate")

    def regenerate(self, record) -> None:
        """Write a record's notes again: same model, seed and settings, into the same bars."""
        from aigc_studio.core.provenance import model_for
        from aigc_studio.music.recipes import MUSIC_KINDS, regenerate_job

        model = model_for(record, MUSIC_KINDS, self.pane.model_picker.current_path())
        job, clear = regenerate_job(record, str(model), self.pane.song)
        self._submit(job, clear, "Regenerate recipe")

    def _music_vae(self) -> str | None:
        """The picked model if it is a MusicVAE, else the first one installed (the user's before the bundled)."""
        from aigc_studio.core.registry import list_models

        vaes = sorted(list_models("music-vae"), key=lambda e: e.source != "user")
        picked = self.pane.model_picker.current_path()
        if picked is not None and any(e.path == picked for e in vaes):
            return str(picked)
        if not vaes:
            self.status_message.emit("Interpolation needs a MusicVAE model; train one with Train > Train music model….")
            return None
        self.status_message.emit(
            f"Interpolating with {vaes[0].name}, a MusicVAE (the picked model cannot interpolate)."
        )
        return str(vaes[0].path)

    def variations(self) -> None:
        """Alternatives of the bars selected in the ruler (else 4 bars from the cursor), to audition and keep one."""
        from aigc_studio.music.jobs import VariationsJob

        if (model := self._model()) is None:
            return
        s = self.pane.state
        if s.range:
            first, last = s.range
        else:
            first = s.cursor // self.pane.song.bar_ticks
            last = first + 4
        job = VariationsJob(
            model,
            self.pane.song.copy(),
            first,
            count=self.pane.toolbar.variation_count.value(),
            options=self._options(),
            last_bar=last,
            request=self._request(),
        )
        self._submit(job, None, "Variations")

    def _on_variations(self, result: MusicVariations) -> None:
        """Put the first alternative in place (one undo step) and show the strip to flip, audition, keep."""
        self.choice = VariationChoice(result.alternatives, result.details["first_bar"], result.details["last_bar"])
        self._job_done("")
        self._apply_choice()
        self.status_message.emit(
            f"{len(self.choice.alternatives)} variations (seed {result.seed}): flip with ◀ ▶, "
            "Audition, then Keep or Discard."
        )

    def _apply_choice(self) -> None:
        c = self.choice
        bt = self.pane.song.bar_ticks
        text = f"Variation {c.index + 1} of {len(c.alternatives)}"
        self.pane.push(
            merge_command(self.pane.song, c.alternatives[c.index], (c.first_bar * bt, c.last_bar * bt), text)
        )
        c.stack_index = self.pane.stack.index()
        self.pane.variations_bar.show_choice(c.index, len(c.alternatives), c.first_bar, c.last_bar)

    def _choice_in_place(self) -> bool:
        """Whether our variation is still the last step (an edit or an undo since then closes the choice)."""
        if self.choice is not None and self.pane.stack.index() == self.choice.stack_index:
            return True
        self.close_choice()
        return False

    def flip(self, delta: int) -> None:
        """Replace the variation in place with the previous/next alternative (still one undo step)."""
        if self.busy or not self._choice_in_place():
            return
        playing = self.pane.player.is_playing
        self.pane.stack.undo()
        self.choice.index = (self.choice.index + delta) % len(self.choice.alternatives)
        self._apply_choice()
        if playing:
            self.pane.player.stop()
            self.audition()

    def audition(self) -> None:
        """Loop the varied bars."""
        if not self._choice_in_place():
            return
        c, pane = self.choice, self.pane
        pane.state.range = (c.first_bar, c.last_bar)
        pane.state.changed.emit()
        if pane.player.is_playing:
            pane.player.stop()
        muted = {i for i in range(len(pane.song.tracks)) if not pane.state.audible(i)}
        bt = pane.song.bar_ticks
        pane.player.play(pane.song, c.first_bar * bt, c.last_bar * bt, True, muted)

    def keep(self) -> None:
        """Keep the alternative in place (undo brings the original bars back)."""
        if self._choice_in_place():
            self.status_message.emit(f"Kept variation {self.choice.index + 1} of {len(self.choice.alternatives)}.")
        self.close_choice()

    def discard(self) -> None:
        """Put the original bars back."""
        if self._choice_in_place():
            self.pane.stack.undo()
            self.status_message.emit("Variations discarded; the original bars are back.")
        self.close_choice()

    def close_choice(self) -> None:
        """Forget the alternatives and hide the strip."""
        self.choice = None
        if self.pane.player.is_playing:
            self.pane.player.stop()
        self.pane.variations_bar.hide()

    def train_dialog(self) -> None:
        """Ask for training settings and start a training job."""
        from aigc_studio.ui.music.train_dialog import MusicTrainDialog

        self.pane.engine.prepare_training()
        dialog = MusicTrainDialog(self.pane)
        if dialog.exec() != MusicTrainDialog.Accepted:
            return
        from aigc_studio.core.events import LossPoint
        from aigc_studio.core.launched_job import on_gpus
        from aigc_studio.music.training import TrainMusicJob

        handle = self.pane.engine.submit(on_gpus(TrainMusicJob(dialog.settings()), dialog.gpu_count()))
        self._train_handle = handle
        handle.partial.connect(
            lambda p: (
                self.status_message.emit(f"training step {p.step}: loss {p.values['loss']:.3f}")
                if isinstance(p, LossPoint)
                else None
            )
        )
        handle.finished.connect(
            lambda result: (
                self.pane.model_picker.refresh(Path(result.path)),
                self.status_message.emit(f"Training finished: {result.path}"),
            )
        )
        handle.failed.connect(lambda m: QMessageBox.warning(self.pane, "Training failed", m))
