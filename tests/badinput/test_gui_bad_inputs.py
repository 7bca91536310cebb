"""Every GUI path that takes a user's file, tried with every bad input that applies to it, in the real window.

Before each load the pane holds open work (a generated grid, typed text, a note added to the song).
A refused input shows a message that names the file and the problem, the window stays up and the
open work is unchanged; an awkward but usable input (Latin-1 text, a SMPTE MIDI file) opens with a
note. Training folders go through the real train dialogs; the job fails with the message.
One window serves the whole module (building it and loading the starter models takes seconds).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from aigc_studio.music.song import Note, add_notes
from tests.badinput import corpus as c
from tests.badinput.cases import ENTRIES, MARKER, prepare

# pytest resets warning filters per test; the app silences PIL's bomb warning itself (picture_io).
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

# Loaders whose GUI path is driven here (each one is a function below).
GUI_LOADERS = (c.IMAGE_OPEN, c.IMAGE_ENCODE, c.IMAGE_FOLDER, c.TEXT_OPEN, c.TEXT_CORPUS, c.MIDI_OPEN,
               c.MIDI_CORPUS, c.MODEL_IMAGE, c.MODEL_TEXT, c.MODEL_MUSIC, c.HF_FOLDER)
KNOWN_GAPS: dict = {}  # (entry id, loader) -> reason, for refusals the app does not make yet


# Files that open in a pane arrive by File > Open, by a drop on the window, and (music) by a drop on the roll.
# Model files arrive by the picker's "Open model file…" and (image, music) the train dialog's "Resume from".
ROUTES = {c.IMAGE_OPEN: ("file-open", "window-drop"), c.TEXT_OPEN: ("file-open", "window-drop"),
          c.MIDI_OPEN: ("file-open", "window-drop", "pane-drop"),
          c.MODEL_IMAGE: ("picker", "train-resume"), c.MODEL_MUSIC: ("picker", "train-resume")}


def _case(entry, loader, route):
    gap = KNOWN_GAPS.get((entry.id, loader)) if route in ("-", "picker") else None
    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
    label = f"{loader}:{route}" if route != "-" else loader
    return pytest.param(entry, loader, route, id=f"{entry.id}::{label}", marks=marks)


CASES = [_case(e, loader, route) for e in ENTRIES for loader in sorted(e.loaders) if loader in GUI_LOADERS
         for route in ROUTES.get(loader, ("-",))]


def _wait(condition, timeout: float = 30.0) -> None:
    """Process events until ``condition()`` holds (module-scoped fixtures cannot use qtbot)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        QApplication.processEvents()
        time.sleep(0.005)


def _answer_question(parent, title, text, buttons=None, *args, **kwargs):
    """Answer 'discard my unsaved work?' with Discard (text pane) or Yes (music pane)."""
    if buttons is not None and buttons & QMessageBox.StandardButton.Discard:
        return QMessageBox.StandardButton.Discard
    return QMessageBox.StandardButton.Yes


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """The real main window on the CPU with the starter models; the image canvas holds a generated grid."""
    from aigc_studio.engine.thread import Engine
    from aigc_studio.ui.main_window import MainWindow
    from aigc_studio.ui.settings import app_settings

    home = tmp_path_factory.mktemp("gui-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIGC_STUDIO_HOME", str(home))
        engine = Engine("cpu")
        win = MainWindow(engine, app_settings())
        win.resize(1100, 760)
        win.show()
        engine.start()
        _wait(lambda: engine.is_ready)
        image = win.panes["image"]
        _wait(lambda: len(image.canvas.items_data) > 0 and not image.is_busy(), 60)
        yield win
        mp.setattr(QMessageBox, "question", _answer_question)
        win.close()


@pytest.fixture
def shown(monkeypatch):
    """Record every message box instead of blocking on it."""
    messages: list[str] = []

    def warning(parent, title, text, *args, **kwargs):
        messages.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", warning)
    monkeypatch.setattr(QMessageBox, "critical", warning)
    monkeypatch.setattr(QMessageBox, "question", _answer_question)
    return messages


# ------------------------------------------------------------------ snapshots of the open work
def _canvas(pane) -> list:
    return [(id(item["image"]), item["recipe"].get("seed"), item["recipe"].get("op")) for item in pane.canvas.items_data]


def _song(pane) -> list:
    return [(t.name, [(n.pitch, n.start, n.duration, n.velocity) for n in t.notes]) for t in pane.song.tracks]


def _type_draft(pane, text: str = "My unsaved draft.\n") -> str:
    pane.editor.selectAll()
    pane.editor.insertPlainText(text)
    return pane.editor.toPlainText()


def _snapshot(window) -> dict:
    image, text, music = (window.panes[k] for k in ("image", "text", "music"))
    return {
        "canvas": _canvas(image), "image model": image.model_picker.current_path(),
        "text": text.editor.toPlainText(), "text path": text.path, "text model": text.panel.model_path(),
        "song": _song(music), "song path": music.path, "music model": music.model_picker.current_path(),
    }


def _prepare_open_work(window) -> None:
    text, music = window.panes["text"], window.panes["music"]
    _type_draft(text)
    music.push(add_notes(0, [Note(72, 0, 480, 90)]))
    assert text.is_dirty() and music.is_dirty()


# ------------------------------------------------------------------ one driver per loader
def _drop(widget, path: Path) -> None:
    """Drop ``path`` on ``widget`` as a file manager would."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def _file_open(window, monkeypatch, key: str, path: Path, route: str) -> None:
    """Open ``path`` in the pane ``key``: File > Open (file dialog answered), or a drop."""
    pane = window.show_pane(key)
    if route == "window-drop":
        _drop(window, path)
    elif route == "pane-drop":
        _drop(pane, path)
    else:
        monkeypatch.setattr("aigc_studio.ui.main_window.open_file", lambda *a, **k: path)
        window.open_action.trigger()


def _image_open(window, monkeypatch, entry, shown, route) -> str:
    _file_open(window, monkeypatch, "image", entry.path, route)
    return shown[-1] if shown else ""


def _image_encode(window, monkeypatch, entry, shown, route) -> str:
    pane = window.show_pane("image")
    pane.message.clear()
    pane.canvas.files_dropped.emit([str(entry.path)])  # what a drop on the canvas emits
    _wait(lambda: not pane.is_busy() and bool(pane.message.text()))
    return pane.message.text()


def _image_folder(window, monkeypatch, entry, shown, route, resume: Path | None = None) -> str:
    from aigc_studio.ui.image.train_dialog import TrainDialog

    pane = window.show_pane("image")
    folder = entry.path if resume is None else _good_images(entry)

    def fill_and_accept(dialog):
        dialog.folder.setText(str(folder))
        dialog.resume.setText(str(resume or ""))
        dialog.resolution.setCurrentIndex(0)
        dialog.size.setCurrentIndex(0)
        dialog.steps.setValue(2)
        dialog.batch.setValue(2)
        dialog.out.setText(str(entry.path.parent / "never-written.safetensors"))
        return 1

    monkeypatch.setattr(TrainDialog, "exec", fill_and_accept)
    pane.open_train_dialog()
    _wait(lambda: not pane.training.running)
    assert not (entry.path.parent / "never-written.safetensors").exists()
    return pane.training.status.text()


def _text_open(window, monkeypatch, entry, shown, route) -> str:
    _file_open(window, monkeypatch, "text", entry.path, route)
    return shown[-1] if shown else window.statusBar().currentMessage()


def _text_corpus(window, monkeypatch, entry, shown, route) -> str:
    pane = window.show_pane("text")
    pane.show_train_dialog("text-gpt")
    dialog = pane._train_dialog
    dialog.data.setText(str(entry.path))
    dialog.out.setText(str(entry.path.parent / "never-written.safetensors"))
    dialog.steps.setValue(2)
    dialog.start()
    _wait(lambda: not dialog.is_busy())
    dialog.hide()
    return dialog.status.text()


def _midi_open(window, monkeypatch, entry, shown, route) -> str:
    _file_open(window, monkeypatch, "music", entry.path, route)
    return shown[-1] if shown else window.statusBar().currentMessage()


def _midi_corpus(window, monkeypatch, entry, shown, route, resume: Path | None = None) -> str:
    from aigc_studio.ui.music.train_dialog import MusicTrainDialog

    pane = window.show_pane("music")
    data = entry.path if resume is None else _good_midi(entry)

    def fill_and_accept(dialog):
        dialog.data.setText(str(data))
        dialog.resume.setText(str(resume or ""))
        dialog.steps.setValue(2)
        dialog.out.setText(str(entry.path.parent / "never-written.safetensors"))
        return MusicTrainDialog.Accepted

    monkeypatch.setattr(MusicTrainDialog, "exec", fill_and_accept)
    before = len(shown)
    pane.generation.train_dialog()
    _wait(lambda: len(shown) > before)
    return shown[-1]


def _pick_model_file(window, monkeypatch, picker, path: Path, shown) -> str:
    """The picker's "Open model file…" item with ``path`` chosen in the file dialog."""
    monkeypatch.setattr("aigc_studio.ui.model_picker.open_file", lambda *a, **k: path)
    before = len(shown)
    picker._on_activated(picker.findData("__open_file__"))
    _wait(lambda: not picker.is_checking())  # the engine builds the model to check its weights
    return shown[-1] if len(shown) > before else ""


def _good_images(entry) -> Path:
    """A folder of readable pictures beside the corpus (for runs where only the checkpoint is bad)."""
    import numpy as np
    from PIL import Image

    folder = entry.path.parent / "good-images"
    folder.mkdir(exist_ok=True)
    for i in range(2):
        Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(folder / f"{i}.png")
    return folder


def _good_midi(entry) -> Path:
    """A folder with one real song beside the corpus."""
    from aigc_studio.music.midi_io import write_midi
    from aigc_studio.music.song import Song, TempoChange, Track

    folder = entry.path.parent / "good-midi"
    folder.mkdir(exist_ok=True)
    write_midi(Song(480, [Track("Piano", 0, 0, [Note(60 + k, k * 480, 480, 80) for k in range(8)])],
                    [TempoChange(0, 500_000)]), folder / "song.mid")
    return folder


def _model_image(window, monkeypatch, entry, shown, route) -> str:
    if route == "train-resume":
        return _image_folder(window, monkeypatch, entry, shown, route, resume=entry.path)
    return _pick_model_file(window, monkeypatch, window.show_pane("image").model_picker, entry.path, shown)


def _model_text(window, monkeypatch, entry, shown, route) -> str:
    return _pick_model_file(window, monkeypatch, window.show_pane("text").panel.picker, entry.path, shown)


def _model_music(window, monkeypatch, entry, shown, route) -> str:
    if route == "train-resume":
        return _midi_corpus(window, monkeypatch, entry, shown, route, resume=entry.path)
    return _pick_model_file(window, monkeypatch, window.show_pane("music").model_picker, entry.path, shown)


def _hf_folder(window, monkeypatch, entry, shown, route) -> str:
    asked: list[str] = []
    monkeypatch.setattr("aigc_studio.ui.text.sampling_panel.choose_folder", lambda *a, **k: entry.path)
    monkeypatch.setattr("aigc_studio.ui.text.sampling_panel.confirm_pickle",
                        lambda parent, message: asked.append(message) or False)  # the writer says no
    window.show_pane("text").panel.choose_folder()
    return (shown + asked)[-1] if shown or asked else ""


DRIVERS = {
    c.IMAGE_OPEN: _image_open, c.IMAGE_ENCODE: _image_encode, c.IMAGE_FOLDER: _image_folder,
    c.TEXT_OPEN: _text_open, c.TEXT_CORPUS: _text_corpus, c.MIDI_OPEN: _midi_open, c.MIDI_CORPUS: _midi_corpus,
    c.MODEL_IMAGE: _model_image, c.MODEL_TEXT: _model_text, c.MODEL_MUSIC: _model_music, c.HF_FOLDER: _hf_folder,
}


@pytest.mark.parametrize(("entry", "loader", "route"), CASES)
def test_gui_refuses_bad_input_with_a_message_and_keeps_the_open_work(window, shown, monkeypatch, request,
                                                                      entry, loader, route):
    prepare(entry, request)
    _prepare_open_work(window)
    before = _snapshot(window)
    message = DRIVERS[loader](window, monkeypatch, entry, shown, route)
    assert window.isVisible(), "the window must stay up"
    assert not MARKER.exists(), "the hostile pickle was unpickled"
    after = _snapshot(window)
    if entry.outcome(loader) == c.OPEN:
        _check_opened(window, entry, loader, before, after, message)
        return
    assert "Traceback" not in message
    assert entry.message_ok(message), f"unclear or missing message for {entry.id} via {loader}: {message!r}"
    assert after == before, "a refused input changed the open work"


def _check_opened(window, entry, loader, before, after, message) -> None:
    """An awkward input that should open: it replaced the document, with a note where one is due."""
    if loader == c.TEXT_OPEN:
        text = window.panes["text"]
        assert text.editor.toPlainText() == entry.expected_text
        assert text.path == entry.path and not text.is_dirty()
        assert entry.message_ok(message), message  # the status bar names the file and the encoding used
        if entry.id == "damaged-sidecar.md":  # only the one well-formed span of the sidecar survives
            assert text.editor.generated_text_ranges() == [[0, 5]]
    elif loader == c.MIDI_OPEN:
        music = window.panes["music"]
        assert music.path == entry.path and music.song.note_count > 0
        assert entry.message_ok(message), message  # the status bar names the file and the conversion
    else:
        raise AssertionError(f"no check for {loader} opening {entry.id}")
    assert after["canvas"] == before["canvas"]


def test_model_whose_shapes_contradict_its_card_fails_at_generate_and_keeps_the_canvas(window, shown):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    entry = next(e for e in ENTRIES if e.id == "shape-mismatch-image.safetensors")
    pane = window.show_pane("image")
    previous = pane.model_picker.current_path()
    canvas = _canvas(pane)
    pane.model_picker.select_path(entry.path)
    try:
        pane.message.clear()
        QTest.mouseClick(pane.gen_panel.button, Qt.MouseButton.LeftButton)
        _wait(lambda: not pane.is_busy() and bool(pane.message.text()))
        assert entry.path.name in pane.message.text() and "does not match" in pane.message.text()
        assert _canvas(pane) == canvas
    finally:
        pane.model_picker.select_path(previous)
