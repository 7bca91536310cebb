"""Nothing is lost when the app is killed: the next start offers back the text and the song and restores the canvas.

The crashed session is the real app in a subprocess (tests/crash_session.py) that holds
unsaved work in all three studios and is then killed with SIGKILL; the next session is the
real main window built here on the same user data folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from aigc_studio.engine.thread import Engine
from aigc_studio.music.song_json import song_to_dict
from aigc_studio.ui.main_window import MainWindow

REPO = Path(__file__).resolve().parents[1]


def _pixels_digest(image) -> str:
    return hashlib.sha256(repr(image.shape).encode() + image.tobytes()).hexdigest()


def _start_crashing_session(home: Path) -> tuple[subprocess.Popen, dict]:
    """Run the real app with unsaved work in every studio; returns it once all is autosaved, with that state."""
    env = {**os.environ, "AIGC_STUDIO_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "crash_session.py")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    watchdog = threading.Timer(180, proc.kill)  # a hung session fails the test instead of hanging it
    watchdog.start()
    try:
        for line in proc.stdout:
            if line.startswith("READY "):
                return proc, json.loads(line[len("READY ") :])
            if line.startswith("TIMEOUT"):
                break
    finally:
        watchdog.cancel()
    proc.kill()
    pytest.fail(f"the app session did not get its work autosaved (exit status {proc.wait()})")


@pytest.fixture
def open_window(qtbot):
    """Builds main windows on a user data folder, as the next start does; quits them with Discard afterwards."""
    windows: list[MainWindow] = []

    def build(home: Path) -> MainWindow:
        settings = QSettings(str(home / "next-session.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Engine("cpu"), settings)  # not shown: the image studio does not draw a first grid
        windows.append(window)
        return window

    yield build
    for window in windows:
        for pane in window.panes.values():
            pane.discard_unsaved()
            pane.shutdown()
        window.deleteLater()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_work_in_all_three_studios_survives_kill_9(open_window, studio_home):
    proc, shown = _start_crashing_session(studio_home)
    try:
        # While that session runs, its autosaves are its own: another window offers nothing.
        alongside = open_window(studio_home)
        assert alongside.panes["text"].banner.isHidden() and alongside.panes["music"].banner.isHidden()
        assert alongside.panes["image"].canvas.items_data == []
        assert {p.name.split("-")[0] for p in (studio_home / "autosave").glob(f"*-{proc.pid}.json")} == {
            "text", "music", "image"
        }
    finally:
        proc.kill()  # SIGKILL: no closeEvent, no shutdown, nothing flushed
        proc.wait()

    window = open_window(studio_home)
    text, music, image = window.panes["text"], window.panes["music"], window.panes["image"]

    assert not text.banner.isHidden() and "did not close properly" in text.banner.label.text()
    text.banner.restore_button.click()
    assert text.editor.toPlainText() == shown["text"] and text.is_dirty()

    assert not music.banner.isHidden()
    assert f"{len(shown['song']['tracks'][0]['notes'])} notes" in music.banner.label.text()
    music.banner.restore_button.click()
    assert song_to_dict(music.song) == shown["song"] and music.is_dirty()

    canvas = image.canvas  # restored without a question
    assert canvas.order == shown["canvas"]["selected"] and canvas.strip == shown["canvas"]["strip"]
    assert [item["recipe"] for item in canvas.items_data] == shown["canvas"]["recipes"]
    assert [_pixels_digest(item["image"]) for item in canvas.items_data] == shown["canvas"]["pixels"]

    # The crashed session's files are gone; this session's autosaves hold the work now.
    assert not list((studio_home / "autosave").glob(f"*-{proc.pid}.*"))
    for pane in window.panes.values():
        pane.discard_unsaved()
        pane.shutdown()
    assert not list((studio_home / "autosave").glob("*-*.json"))


def test_corrupt_autosaves_are_set_aside_and_good_ones_still_offered(open_window, studio_home):
    folder = studio_home / "autosave"
    folder.mkdir()
    good, broken = _dead_pid(), _dead_pid()
    (folder / f"text-{good}.json").write_text(json.dumps({"pid": good, "saved_at": 1.0, "text": "Still here."}))
    (folder / f"text-{broken}.json").write_bytes(b'{"pid": 12, "text": "cut off in the midd')
    (folder / f"music-{broken}.json").write_text(json.dumps({"pid": broken, "song": {"tracks": "not a list"}}))
    (folder / f"image-{broken}.1.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{trunc")
    (folder / f"image-{broken}.json").write_text(
        json.dumps({"pid": broken, "arrays": f"image-{broken}.1.safetensors", "recipes": [{"seed": 1}], "selected": []})
    )

    window = open_window(studio_home)
    text, music, image = window.panes["text"], window.panes["music"], window.panes["image"]
    assert not text.banner.isHidden() and music.banner.isHidden() and image.canvas.items_data == []
    text.banner.restore_button.click()
    assert text.editor.toPlainText() == "Still here."
    kept_aside = sorted(p.name.split("-", 2)[2] for p in (folder / "corrupt").iterdir())
    assert kept_aside == sorted(
        [f"text-{broken}.json", f"music-{broken}.json", f"image-{broken}.json", f"image-{broken}.1.safetensors"]
    )
    assert text.banner.isHidden()  # nothing else to offer
