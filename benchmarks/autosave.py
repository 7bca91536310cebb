"""Autosave cost: what the GUI thread spends per autosave, and how long the background write takes.

Builds the real panes (offscreen) holding large work: a 200,000-word text, a 20,000-note
song and a 64-picture 256 px canvas, then times ``Autosaver.flush(wait=False)`` (the
snapshot on the GUI thread plus queueing) and the write that follows on the store's thread.
Target: GUI-thread part well under the 50 ms stall budget of benchmarks/startup.py.
Run: python benchmarks/autosave.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

GUI_TARGET_MS = 50.0


def main() -> None:
    """Time three autosaves of each kind and print the table."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["AIGC_STUDIO_HOME"] = tempfile.mkdtemp(prefix="aigc-bench-autosave-")
    import numpy as np
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from aigc_studio.engine.thread import Engine
    from aigc_studio.music.song import Note, Track
    from aigc_studio.ui.image.pane import ImagePane
    from aigc_studio.ui.music.pane import MusicPane
    from aigc_studio.ui.text.pane import TextPane

    app = QApplication(sys.argv[:1])
    engine = Engine("cpu")  # never started: nothing here runs a model
    settings = QSettings(os.path.join(os.environ["AIGC_STUDIO_HOME"], "s.ini"), QSettings.Format.IniFormat)
    text, music, image = TextPane(engine, settings), MusicPane(engine, settings), ImagePane(engine, settings)

    text.editor.insertPlainText("All work and no play makes a dull story. " * 25_000)
    music.song.tracks = [Track(f"T{t}", 0, t, [Note(48 + i % 36, i * 120, 120) for i in range(5_000)]) for t in range(4)]
    music.stack.resetClean()  # as after an edit: the song is unsaved
    rng = np.random.default_rng(0)
    items = [
        {"image": rng.integers(0, 255, (256, 256, 3), dtype=np.uint8), "recipe": {"seed": i, "latent": [0.1] * 512}}
        for i in range(64)
    ]
    image.canvas.set_items(items)

    def measure(pane, change) -> tuple[float, float]:
        change()
        start = time.perf_counter()
        pane.autosaver.flush(wait=False)
        queued = time.perf_counter()
        pane.autosave.wait()
        return (queued - start) * 1000, (time.perf_counter() - queued) * 1000

    rows = {
        "text, 200,000 words": lambda: measure(text, text.autosaver.changed),
        "song, 20,000 notes": lambda: measure(music, music.autosaver.changed),
        "canvas, 64 x 256 px, new pictures": lambda: measure(image, lambda: image.canvas.set_items(items)),
        "canvas, selection change only": lambda: measure(image, lambda: image.canvas.select([1, 0])),
    }
    print(f"Autosave cost ({os.cpu_count()} cores; median of 3)")
    print(f"{'work':<38}{'GUI thread (ms)':>16}{'background write (ms)':>24}  ok")
    for name, run in rows.items():
        runs = [run() for _ in range(3)]
        gui = statistics.median(r[0] for r in runs)
        write = statistics.median(r[1] for r in runs)
        print(f"{name:<38}{gui:>16.1f}{write:>24.1f}  {'yes' if gui <= GUI_TARGET_MS else 'NO'}")
    for pane in (text, music, image):
        pane.discard_unsaved()
        pane.shutdown()
    app.quit()


if __name__ == "__main__":
    main()
