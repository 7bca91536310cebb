"""'Open model file…' in a model picker: a file is used only once the engine has built it."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from aigc_studio.ui.model_picker import ModelPicker

STARTER_GPT = Path(__file__).parents[1] / "resources" / "models" / "shakespeare-gpt.safetensors"


def _pick(qtbot, picker, monkeypatch, path):
    monkeypatch.setattr("aigc_studio.ui.model_picker.open_file", lambda *a, **k: path)
    picker._on_activated(picker.findData("__open_file__"))
    qtbot.waitUntil(lambda: not picker.is_checking(), timeout=30000)


def _lie_about_width(source: Path, target: Path) -> None:
    """Copy a model, changing only its card's width: the weights no longer fit the card."""
    raw = source.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    card = json.loads(header["__metadata__"]["aigc_studio"])
    card["config"]["width"] = 96
    header["__metadata__"]["aigc_studio"] = json.dumps(card)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    target.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])


def test_a_good_file_is_selected_after_the_check_and_a_contradicting_one_is_refused(
    qtbot, engine, tmp_path, monkeypatch, studio_home
):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a, **k: warnings.append(text))
    picker = ModelPicker(("text-gpt",))
    qtbot.addWidget(picker)
    picker.use_engine(engine)
    good = tmp_path / "mine.safetensors"
    shutil.copy(STARTER_GPT, good)
    chosen = []
    picker.model_changed.connect(chosen.append)

    _pick(qtbot, picker, monkeypatch, good)
    assert picker.current_path() == good and chosen[-1] == good and not warnings

    liar = tmp_path / "liar.safetensors"
    _lie_about_width(STARTER_GPT, liar)
    _pick(qtbot, picker, monkeypatch, liar)
    assert len(warnings) == 1 and "liar.safetensors does not match the architecture in its card" in warnings[0]
    assert picker.current_path() == good and picker.isEnabled()
