"""The pane's controls: tracks (mute/solo), snap, tempo and metre, zoom, sampling knobs, model buttons."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.music.constraints import NOTE_NAMES, SCALES
from aigc_studio.ui.flow_layout import FlowLayout
from aigc_studio.ui.music.roll_state import SNAPS


class MusicToolbar(QWidget):
    """Two rows of controls; the pane connects their signals."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.track_combo = QComboBox()
        self.track_combo.setMinimumWidth(140)
        self.add_track = QToolButton(text="+")
        self.add_track.setToolTip("Add a track")
        self.program = QSpinBox(minimum=0, maximum=127)
        self.program.setToolTip("General MIDI program of the track")
        self.mute = QCheckBox("Mute")
        self.solo = QCheckBox("Solo")
        self.tool = QComboBox()
        self.tool.addItems(["Draw", "Select"])
        self.snap = QComboBox()
        self.snap.addItems([name for name, _, _ in SNAPS])
        self.snap.setCurrentIndex(2)
        self.tempo = QSpinBox(minimum=20, maximum=300, value=120, suffix=" bpm")
        self.numerator = QSpinBox(minimum=1, maximum=16, value=4)
        self.denominator = QComboBox()
        self.denominator.addItems(["2", "4", "8", "16"])
        self.denominator.setCurrentText("4")
        self.zoom_in = QToolButton(text="+")
        self.zoom_out = QToolButton(text="−")
        self.zoom_in.setToolTip("Zoom in time (Ctrl+wheel; Ctrl+Shift+wheel zooms pitch)")
        self.play = QPushButton("Play")
        self.play.setToolTip("Play / stop (Space)")
        self.loop = QCheckBox("Loop range")
        self.sound = QToolButton(text="Sound")
        self.sound.setToolTip("Where playback goes: built-in synth, a SoundFont (.sf2) or a MIDI output port")
        self.sound.setPopupMode(QToolButton.InstantPopup)
        top = [
            (QLabel("Track"), self.track_combo, self.add_track),
            (QLabel("Program"), self.program),
            (self.mute, self.solo),
            (QLabel("Tool"), self.tool),
            (QLabel("Snap"), self.snap),
            (self.tempo,),
            (QLabel("Time"), self.numerator, QLabel("/"), self.denominator),
            (QLabel("Zoom"), self.zoom_out, self.zoom_in),
            (self.play, self.loop, self.sound),
        ]
        self.bars = QSpinBox(minimum=1, maximum=64, value=4, suffix=" bars")
        self.temperature = QDoubleSpinBox(minimum=0.1, maximum=2.0, value=1.0, singleStep=0.05, decimals=2)
        self.temperature.setToolTip("Temperature: low stays close to what the model knows best, high takes risks")
        self.top_p = QDoubleSpinBox(minimum=0.05, maximum=1.0, value=0.95, singleStep=0.05, decimals=2)
        self.seed = QSpinBox(minimum=0, maximum=2_000_000_000, value=1)
        self.random_seed = QCheckBox("random")
        self.random_seed.setToolTip(
            "A new seed for each generation (the seed used is shown, so you can come back to it)"
        )
        self.random_seed.setChecked(True)
        self.generate = QPushButton("Generate")
        self.continue_ = QPushButton("Continue")
        self.continue_.setToolTip("Continue from the end, or from the cursor when 'at cursor' is ticked")
        self.at_cursor = QCheckBox("at cursor")
        self.infill = QPushButton("Regenerate range")
        self.infill.setToolTip("Rewrite the bars selected in the ruler, keeping what is around them")
        self.interpolate = QPushButton("Interpolate")
        self.interpolate.setToolTip("MusicVAE: phrases morphing from the first 2 bars of the range to its last 2 bars")
        self.steps = QSpinBox(minimum=1, maximum=16, value=4, suffix=" steps")
        self.steps.setToolTip("Phrases from the first to the last, both included (1: the phrase halfway between)")
        self.variations = QPushButton("Variations")
        self.variations.setToolTip(
            "Alternatives of the bars selected in the ruler (else 4 bars from the cursor): audition each, keep one"
        )
        self.variation_count = QSpinBox(minimum=1, maximum=16, value=8, prefix="× ")
        self.variation_count.setToolTip("How many alternatives Variations writes")
        self.key_label = QLabel("Key: –")
        self.key_label.setToolTip("The song's key, detected from its notes (Krumhansl profiles)")
        self.key_lock = QCheckBox("Key lock")
        self.key_lock.setToolTip("Generate only notes of this key's scale (on by default when the song has notes)")
        self.key_tonic = QComboBox()
        self.key_tonic.addItems(list(NOTE_NAMES))
        self.key_scale = QComboBox()
        self.key_scale.addItems(list(SCALES))
        self.instruments = QToolButton(text="Instruments")
        self.instruments.setToolTip("Which of the model's instruments to write (the others are masked out)")
        self.instruments.setPopupMode(QToolButton.InstantPopup)
        self.instruments.setMenu(QMenu(self.instruments))
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        bottom = [
            (self.bars,),
            (QLabel("Temp"), self.temperature),
            (QLabel("Top-p"), self.top_p),
            (QLabel("Seed"), self.seed, self.random_seed),
            (self.generate, self.continue_, self.at_cursor),
            (self.infill,),
            (self.interpolate, self.steps),
            (self.variations, self.variation_count),
            (self.key_label, self.key_lock, self.key_tonic, self.key_scale),
            (self.instruments, self.cancel),
        ]
        # Groups of related controls wrap as a whole when the window is narrow.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for row in (top, bottom):
            flow = FlowLayout()
            for group in row:
                flow.addWidget(_group(group))
            layout.addLayout(flow)

    def model_buttons(self) -> list:
        """Buttons that start model jobs (disabled while one runs)."""
        return [self.generate, self.continue_, self.infill, self.interpolate, self.variations]


def _group(widgets: tuple) -> QWidget:
    """Widgets side by side with no margins, kept on one row by the flow layout."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    for widget in widgets:
        row.addWidget(widget)
    return box
