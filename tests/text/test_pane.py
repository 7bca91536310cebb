"""The writer pane with the real engine: streaming at the cursor, stop, undo, retry, spans, autosave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QTextCursor

from aigc_studio.text.sidecar import sidecar_path
from aigc_studio.ui.text.autosave import autosave_dir
from aigc_studio.ui.text.pane import TextPane


@pytest.fixture
def pane(qtbot, engine, tiny_gpt_path, studio_home):
    settings = QSettings(str(studio_home / "settings.ini"), QSettings.Format.IniFormat)
    pane = TextPane(engine, settings)
    qtbot.addWidget(pane)
    pane.panel.select_model(tiny_gpt_path)
    pane.panel.length.set_length(30, "tokens")
    pane.panel.length.finish_sentence.setChecked(False)
    pane.panel.random_seed.setChecked(False)
    pane.panel.seed.setValue(3)
    pane.panel.temperature.setValue(1.0)
    pane.panel.stops.setText("")
    pane.resize(1000, 700)
    pane.show()
    yield pane
    pane.shutdown()


def _type(pane, text):
    pane.editor.selectAll()
    pane.editor.insertPlainText(text)  # like typing: an undo step, and the document becomes modified
    cursor = pane.editor.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    pane.editor.setTextCursor(cursor)


def _generate(qtbot, pane, action):
    action.trigger()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=20000)


def test_continue_streams_at_the_cursor_and_undo_removes_it_in_one_step(qtbot, pane):
    _type(pane, "It was a bright cold day. The end.")
    cursor = pane.editor.textCursor()
    cursor.setPosition(len("It was a bright cold day."))
    pane.editor.setTextCursor(cursor)
    seen = []
    pane.editor.document().contentsChanged.connect(lambda: seen.append(pane.editor.toPlainText()))
    qtbot.keyClick(pane.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=20000)
    text = pane.editor.toPlainText()
    generated = pane.generation.last.alternatives[-1]
    assert text == "It was a bright cold day." + generated + " The end."
    assert len(seen) > 5, "tokens should arrive one by one"
    assert pane.editor.generated_text_ranges() == [[25, 25 + len(generated)]]
    pane.undo()
    assert pane.editor.toPlainText() == "It was a bright cold day. The end."
    assert pane.editor.generated_text_ranges() == []
    pane.redo()  # the generation comes back, still marked as generated
    assert pane.editor.toPlainText() == text
    assert pane.editor.generated_text_ranges() == [[25, 25 + len(generated)]]


def test_stop_ignores_tokens_after_it(qtbot, pane):
    pane.panel.length.set_length(4000, "tokens")
    _type(pane, "Once")
    pane.continue_action.trigger()
    qtbot.waitUntil(lambda: len(pane.editor.toPlainText()) > 10, timeout=20000)
    qtbot.keyClick(pane.editor, Qt.Key.Key_Escape)
    assert not pane.generation.busy
    stopped = pane.editor.toPlainText()
    qtbot.wait(500)
    assert pane.editor.toPlainText() == stopped
    assert len(stopped) < 4000
    assert not pane.editor.isReadOnly()


def test_retry_keeps_alternatives_and_flips_between_them(qtbot, pane):
    _type(pane, "The garden")
    _generate(qtbot, pane, pane.continue_action)
    first = pane.editor.toPlainText()
    _generate(qtbot, pane, pane.retry_action)
    second = pane.editor.toPlainText()
    assert second != first and second.startswith("The garden")
    assert pane.generation.last.alternatives == [first[len("The garden") :], second[len("The garden") :]]
    pane.prev_action.trigger()
    assert pane.editor.toPlainText() == first
    pane.next_action.trigger()
    assert pane.editor.toPlainText() == second
    pane.undo()  # undoes the flip
    assert pane.editor.toPlainText() == first


def test_editing_generated_text_unmarks_it(qtbot, pane):
    _type(pane, "Rain")
    _generate(qtbot, pane, pane.continue_action)
    assert pane.editor.generated_text_ranges()
    cursor = pane.editor.textCursor()
    cursor.setPosition(6)
    cursor.insertText("X")
    assert pane.editor.generated_text_ranges() == []


def test_save_writes_plain_text_with_a_sidecar_and_reopens_the_marks(qtbot, pane, tmp_path):
    _type(pane, "Chapter one.\n")
    _generate(qtbot, pane, pane.continue_action)
    spans = pane.editor.generated_text_ranges()
    path = tmp_path / "story.md"
    assert pane._write(path)
    assert path.read_text(encoding="utf-8") == pane.editor.toPlainText()
    assert json.loads(sidecar_path(path).read_text())["generated_spans"] == spans
    pane.export_plain_text(tmp_path / "plain.txt")
    assert not sidecar_path(tmp_path / "plain.txt").exists()
    pane.new_document()
    pane.open_path(path)
    assert pane.editor.generated_text_ranges() == spans
    assert not pane.is_dirty()


def test_autosave_and_recovery_after_a_crash(qtbot, engine, pane, studio_home):
    _type(pane, "Words I must not lose.")
    pane.flush_autosave()
    saved = json.loads(pane.autosave.file.read_text())
    assert saved["text"] == "Words I must not lose."
    # A crash: the file stays behind under a process id that no longer runs.
    orphan = autosave_dir() / "text-999999999.json"
    saved["pid"] = 999999999
    orphan.write_text(json.dumps(saved))
    settings = QSettings(str(studio_home / "settings2.ini"), QSettings.Format.IniFormat)
    second = TextPane(engine, settings)
    qtbot.addWidget(second)
    assert second.banner.recovered is not None and not second.banner.isHidden()
    second.banner.restore_button.click()
    assert second.editor.toPlainText() == "Words I must not lose."
    assert second.is_dirty() and not orphan.exists()
    second.shutdown()


def test_quitting_with_discard_leaves_nothing_to_recover(qtbot, engine, pane, studio_home):
    _type(pane, "A draft I threw away.")
    pane.flush_autosave()
    assert pane.autosave.file.exists()
    pane.discard_unsaved()
    pane.shutdown()
    assert not list(autosave_dir().glob("text-*.json"))
    second = TextPane(engine, QSettings(str(studio_home / "settings2.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    assert second.banner.recovered is None


def test_binary_file_is_refused_and_the_text_is_kept(qtbot, pane, tmp_path):
    from aigc_studio.errors import InputError

    _type(pane, "My draft.")
    bad = tmp_path / "image.txt"
    bad.write_bytes(b"\x00\x01\x02PNG" * 50)
    with pytest.raises(InputError):
        pane.open_path(bad)
    assert pane.editor.toPlainText() == "My draft."


def test_pickle_folder_needs_confirmation(qtbot, pane, tmp_path, monkeypatch):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04")
    (folder / "tokenizer.json").write_text("{}")
    asked = []
    monkeypatch.setattr(
        "aigc_studio.ui.text.sampling_panel.confirm_pickle", lambda parent, msg: asked.append(msg) or False
    )
    assert not pane.panel.use_folder(folder)
    assert asked and "run any code" in asked[0]
    assert pane.panel.model_path() != folder
    monkeypatch.setattr("aigc_studio.ui.text.sampling_panel.confirm_pickle", lambda parent, msg: True)
    assert pane.panel.use_folder(folder)
    assert pane.panel.allow_pickle(Path(folder))


def test_hugging_face_folder_continues_in_the_editor(qtbot, pane, hf_folders):
    assert pane.panel.use_folder(hf_folders["llama"])
    _type(pane, "Hello world.")
    _generate(qtbot, pane, pane.continue_action)
    assert pane.editor.toPlainText().startswith("Hello world.")
    assert pane.generation.last.alternatives and pane.editor.generated_text_ranges()


def test_a_fresh_pane_has_nothing_unsaved(qtbot, engine, studio_home):
    fresh = TextPane(engine, QSettings(str(studio_home / "fresh.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(fresh)
    assert not fresh.is_dirty()
    fresh.shutdown()
    assert not fresh.autosave.file.exists()


def test_recipe_of_generated_text_survives_save_and_regenerate_writes_it_again(qtbot, pane, tmp_path, tiny_gpt_path):
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.text.sidecar import read_sidecar_with_records

    _type(pane, "Chapter one.\n")
    _generate(qtbot, pane, pane.continue_action)
    generated = pane.generation.last.alternatives[-1]
    path = tmp_path / "story.md"
    assert pane._write(path)
    spans, records = read_sidecar_with_records(path, pane.editor.toPlainText())
    (record,) = records
    assert (record.media, record.seed, record.model_hash) == ("text", 3, read_card(tiny_gpt_path).content_hash)
    assert (record.settings["length"], record.settings["length_unit"], record.settings["finish"]) == (
        30,
        "tokens",
        "none",
    )
    assert record.created

    pane.new_document()
    pane.open_path(path)  # the record comes back with the span
    pane.panel.seed.setValue(99)  # other settings now: Regenerate must use the record's
    pane.panel.length.set_length(5, "words")
    pane.panel.length.finish_sentence.setChecked(True)
    cursor = pane.editor.textCursor()
    cursor.setPosition(spans[0][0] + 2)
    pane.editor.setTextCursor(cursor)
    dialog = pane.show_recipe()
    assert dialog.rows["Seed"].text() == "3" and dialog.rows["Length"].text() == "30"
    pane.editor.setReadOnly(False)
    dialog.regenerate_button.click()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=20000)
    assert pane.editor.toPlainText() == "Chapter one.\n" + generated  # the same words, written again
    assert pane.editor.generated_text_ranges() == spans


def test_a_version_1_sidecar_still_opens_its_marks(qtbot, pane, tmp_path):
    from aigc_studio.text.sidecar import text_hash

    path = tmp_path / "old.md"
    text = "Written by hand. Written by a model."
    path.write_text(text, encoding="utf-8")
    old = {
        "format": "aigc-studio-text-spans",
        "version": 1,
        "text_sha256": text_hash(text),
        "generated_spans": [[17, 36]],
    }
    sidecar_path(path).write_text(json.dumps(old), encoding="utf-8")
    pane.open_path(path)
    assert pane.editor.generated_text_ranges() == [[17, 36]]
    cursor = pane.editor.textCursor()
    cursor.setPosition(20)
    pane.editor.setTextCursor(cursor)
    assert pane.show_recipe() is None  # marked, but no record: the status bar says so


def test_recovered_text_after_a_crash_keeps_the_recipes_of_its_generated_spans(qtbot, engine, pane, studio_home):
    _type(pane, "Chapter one.\n")
    _generate(qtbot, pane, pane.continue_action)
    (record,) = pane.editor.spans.records()
    pane.flush_autosave()
    saved = json.loads(pane.autosave.file.read_text())
    saved["pid"] = 999999999  # a crash: the autosave stays behind under a process that no longer runs
    (autosave_dir() / "text-999999999.json").write_text(json.dumps(saved))
    second = TextPane(engine, QSettings(str(studio_home / "settings2.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    second.banner.restore_button.click()
    assert second.editor.spans.records() == [record]
    second.shutdown()


def test_flipping_between_alternatives_shows_each_ones_own_recipe(qtbot, pane):
    _type(pane, "Chapter one.\n")
    _generate(qtbot, pane, pane.continue_action)
    _generate(qtbot, pane, pane.retry_action)
    assert [r.seed for r in pane.editor.spans.records()] == [4]  # a fixed seed moves on for each retry
    assert pane.generation.flip(-1)
    assert [r.seed for r in pane.editor.spans.records()] == [3]
