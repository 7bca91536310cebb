"""The writer's length control: words by default, the status line counts the words added, loops are cut."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from aigc_studio.text.length import count_words
from aigc_studio.ui.text.length_control import LengthControl
from aigc_studio.ui.text.pane import TextPane

from .scripted_lm import ScriptedLM


@pytest.fixture
def pane(qtbot, engine, tiny_gpt_path, studio_home):
    pane = TextPane(engine, QSettings(str(studio_home / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(pane)
    pane.panel.select_model(tiny_gpt_path)
    pane.panel.random_seed.setChecked(False)
    pane.show()
    yield pane
    pane.shutdown()


def _continue(qtbot, pane, messages):
    pane.editor.setPlainText("Once upon a time")
    pane.editor.moveCursor(pane.editor.textCursor().MoveOperation.End)
    pane.continue_action.trigger()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=20000)
    return messages[-1]


def test_length_is_in_words_by_default_and_the_status_says_how_many_were_added(qtbot, pane):
    control = pane.panel.length
    assert control.unit.currentData() == "words" and control.finish_sentence.isChecked()
    assert control.loop_stop.isChecked()
    control.set_length(8, "words")
    control.finish_sentence.setChecked(False)
    messages = []
    pane.status_message.connect(messages.append)
    status = _continue(qtbot, pane, messages)
    generated = pane.generation.last.alternatives[-1]
    words = count_words(generated)
    assert words <= 8 and not generated[-1].isspace()
    assert status.startswith(f"Added {words} word")
    control.set_length(3, "sentences")  # remembered for the next session
    restored = LengthControl(pane.settings)
    assert (restored.amount.value(), restored.unit.currentData()) == (3, "sentences")
    assert restored.job_options() == {"length": 3, "length_unit": "sentences", "finish": "word", "loop_stop": True}


def test_a_loop_is_cut_in_the_editor_and_the_status_bar_says_so(qtbot, pane, monkeypatch):
    import aigc_studio.text.jobs as jobs

    looping = ScriptedLM(" and then. The cat sat on the mat today.", loop_from=len(" and then."))
    monkeypatch.setattr(jobs, "load_language_model", lambda *_args, **_kw: looping)
    pane.panel.length.set_length(200, "words")
    messages = []
    pane.status_message.connect(messages.append)
    status = _continue(qtbot, pane, messages)
    assert pane.editor.toPlainText() == "Once upon a time and then. The cat sat on the mat today."
    assert "repeat" in status
    assert pane.editor.generated_text_ranges() == [[len("Once upon a time"), len(pane.editor.toPlainText())]]
    pane.undo()
    assert pane.editor.toPlainText() == "Once upon a time"
