"""A session of the real app that holds unsaved work in all three studios, for tests/test_crash_recovery.py.

Starts AIGC Studio through its own entry point (``aigc_studio.cli.main.main``), then,
through the real widgets: waits for the image studio's first grid and picks two
pictures, types in the writer, draws notes and sets the tempo in the piano roll.
Once every studio's autosave on disk matches what the window shows, it prints
``READY <json of that state>`` and keeps running until the test kills it.

Run: AIGC_STUDIO_HOME=/tmp/x QT_QPA_PLATFORM=offscreen python tests/crash_session.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

TYPED = "Words typed before the crash."  # QTest types ASCII only
PASTED = " Caf\u00e9, na\u00efve, \u6771\u4eac."  # then a paste, so the autosave meets more than ASCII
NOTES = [(0, 60), (480, 64), (960, 67)]  # (tick, pitch) clicked in the piano roll
TEMPO = 100
DEADLINE_S = 150


def pixels_digest(image) -> str:
    """A fingerprint of a picture's pixels (shape included)."""
    return hashlib.sha256(repr(image.shape).encode() + image.tobytes()).hexdigest()


class Scenario:
    """The user's steps, one timer tick at a time, so the event loop keeps running in between."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.window = None

    def poll(self, ready, then, every_ms: int = 100) -> None:
        """Call ``then()`` once ``ready()`` is true."""
        if time.monotonic() - self.started > DEADLINE_S:
            print("TIMEOUT", flush=True)
            QApplication.instance().exit(3)
        elif ready():
            then()
        else:
            QTimer.singleShot(every_ms, lambda: self.poll(ready, then, every_ms))

    def start(self) -> None:
        from aigc_studio.ui.main_window import MainWindow

        self.window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        image = self.window.panes["image"]
        # The image studio fills its canvas on first show with the first installed model.
        self.poll(lambda: len(image.canvas.items_data) >= 4 and not image.is_busy(), self.pick_pictures)

    def pick_pictures(self) -> None:
        canvas = self.window.panes["image"].canvas
        viewport = canvas.viewport()
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, canvas.tile_center(3))
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, canvas.tile_center(1))
        text = self.window.show_pane("text")
        QTest.keyClicks(text.editor, TYPED)
        text.editor.insertPlainText(PASTED)
        self.window.show_pane("music")
        QTimer.singleShot(300, self.draw_notes)  # let the roll get its size

    def draw_notes(self) -> None:
        music = self.window.panes["music"]
        state = music.state
        for tick, pitch in NOTES:
            point = QPoint(int(state.x(tick)) + 3, int(state.y(pitch)) + state.key_height // 2)
            QTest.mouseClick(music.roll, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
        music.toolbar.tempo.setValue(TEMPO)
        music.toolbar.tempo.editingFinished.emit()
        self.poll(self.autosaves_match, self.report)

    def autosaves_match(self) -> bool:
        from aigc_studio.music.song_json import song_to_dict

        panes = self.window.panes
        try:
            text = json.loads(panes["text"].autosave.file.read_text(encoding="utf-8"))
            music = json.loads(panes["music"].autosave.file.read_text(encoding="utf-8"))
            image = json.loads(panes["image"].autosave.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        canvas = panes["image"].canvas
        return (
            text["text"] == panes["text"].editor.toPlainText()
            and music["song"] == song_to_dict(panes["music"].song)
            and image["selected"] == canvas.order
            and len(image["recipes"]) == len(canvas.items_data)
        )

    def report(self) -> None:
        from aigc_studio.music.song_json import song_to_dict

        panes = self.window.panes
        canvas = panes["image"].canvas
        state = {
            "text": panes["text"].editor.toPlainText(),
            "song": song_to_dict(panes["music"].song),
            "canvas": {
                "selected": canvas.order,
                "strip": canvas.strip,
                "recipes": [item["recipe"] for item in canvas.items_data],
                "pixels": [pixels_digest(item["image"]) for item in canvas.items_data],
            },
        }
        print("READY " + json.dumps(state), flush=True)


def run() -> int:
    """Start the app as ``aigc-studio --device cpu`` does, with the scenario queued for its event loop."""
    from aigc_studio.cli.main import main

    QApplication(sys.argv[:1])
    scenario = Scenario()
    QTimer.singleShot(0, scenario.start)
    return main(["--device", "cpu"])


if __name__ == "__main__":
    sys.exit(run())
