"""Rewrite selection with a local chat model: preview beside the text, Accept as one undo step, Discard, Stop."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QTextCursor

pytest.importorskip("transformers")

from aigc_studio.cli.main import main  # noqa: E402
from aigc_studio.core.jobs import run_job  # noqa: E402
from aigc_studio.errors import InputError  # noqa: E402
from aigc_studio.text.rewrite import Instruction, RewriteJob, chat_messages, rewrite_refusal  # noqa: E402
from aigc_studio.ui.text.pane import TextPane  # noqa: E402

TEXT = "First line stays.\nHello world. The quick brown fox jumps over the lazy dog.\nLast line stays."
PASSAGE = "Hello world. The quick brown fox jumps over the lazy dog."


@pytest.fixture
def pane(qtbot, engine, chat_folder, studio_home):
    pane = TextPane(engine, QSettings(str(studio_home / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(pane)
    pane.panel.random_seed.setChecked(False)
    pane.panel.seed.setValue(2)
    assert pane.panel.use_folder(chat_folder)
    pane.editor.setPlainText(TEXT)
    cursor = pane.editor.textCursor()
    cursor.setPosition(TEXT.index(PASSAGE))
    cursor.setPosition(TEXT.index(PASSAGE) + len(PASSAGE), QTextCursor.MoveMode.KeepAnchor)
    pane.editor.setTextCursor(cursor)
    pane.resize(1200, 700)
    pane.show()
    yield pane
    pane.shutdown()


def _ask(qtbot, pane, preset="shorten"):
    pane.rewrite_action.trigger()
    assert pane.rewrite_panel.isVisible()
    assert pane.rewrite_panel.original.toPlainText() == PASSAGE
    pane.rewrite_panel.preset.setCurrentIndex(pane.rewrite_panel.preset.findData(preset))
    pane.rewrite_panel.rewrite_button.click()
    qtbot.waitUntil(lambda: not pane.rewriter.busy, timeout=30000)


def test_answer_streams_into_the_preview_and_accept_is_one_marked_undo_step(qtbot, pane):
    seen = []
    pane.rewrite_panel.preview.textChanged.connect(lambda: seen.append(pane.rewrite_panel.preview.toPlainText()))
    _ask(qtbot, pane)
    answer = pane.rewrite_panel.preview.toPlainText()
    assert answer and len(seen) > 3, "the answer should stream in piece by piece"
    assert pane.editor.toPlainText() == TEXT, "the document is untouched until Accept"
    assert pane.rewrite_panel.accept_button.isEnabled()
    pane.editor.spans.add(0, len(TEXT))  # all of it was generated before: what is outside the passage stays marked
    pane.rewrite_panel.accept_button.click()
    expected = TEXT.replace(PASSAGE, answer)
    assert pane.editor.toPlainText() == expected
    start, end = TEXT.index(PASSAGE), TEXT.index(PASSAGE) + len(answer)
    assert pane.editor.generated_text_ranges() == [[0, start], [start, end], [end, len(expected)]]
    assert not pane.rewrite_panel.isVisible()
    # The new text keeps the recipe that wrote it; Recipe… shows it, and Regenerate is off (the passage is gone).
    (record,) = [r for r in pane.editor.spans.records() if r is not None]
    assert (record.operation, record.seed, record.settings["preset"]) == ("rewrite", 2, "shorten")
    cursor = pane.editor.textCursor()
    cursor.setPosition(start + 1)
    pane.editor.setTextCursor(cursor)
    dialog = pane.show_recipe()
    assert dialog.rows["Operation"].text() == "text: rewrite" and not dialog.regenerate_button.isEnabled()
    dialog.close()
    pane.undo()
    assert pane.editor.toPlainText() == TEXT
    pane.redo()
    assert pane.editor.toPlainText() == expected


def test_discard_and_retry_leave_the_text_untouched(qtbot, pane):
    _ask(qtbot, pane, "rewrite")
    first = pane.rewrite_panel.preview.toPlainText()
    pane.rewrite_panel.retry_button.click()
    qtbot.waitUntil(lambda: not pane.rewriter.busy, timeout=30000)
    assert pane.rewrite_panel.preview.toPlainText() != first  # Retry uses another seed
    pane.rewrite_panel.discard_button.click()
    assert not pane.rewrite_panel.isVisible()
    assert pane.editor.toPlainText() == TEXT and pane.editor.generated_text_ranges() == []


def test_stop_mid_stream_leaves_the_text_untouched(qtbot, pane):
    pane.rewrite_action.trigger()
    pane.rewrite_panel.preset.setCurrentIndex(pane.rewrite_panel.preset.findData("expand"))
    pane.rewrite_panel.rewrite_button.click()
    qtbot.waitUntil(lambda: len(pane.rewrite_panel.preview.toPlainText()) > 5, timeout=30000)
    pane.rewrite_panel.stop_button.click()
    assert not pane.rewriter.busy and not pane.rewrite_panel.accept_button.isEnabled()
    qtbot.wait(300)
    assert pane.editor.toPlainText() == TEXT and pane.editor.generated_text_ranges() == []


def test_a_model_without_chat_template_is_refused_and_the_menu_says_why(qtbot, pane, hf_folders, tiny_gpt_path):
    messages = []
    pane.status_message.connect(messages.append)
    assert pane.rewrite_action.isEnabled()
    pane.panel.use_folder(hf_folders["gpt2"])  # a plain causal model: Continue only
    assert not pane.rewrite_action.isEnabled()
    assert "needs a chat model" in pane.rewrite_action.text()
    assert "chat template" in pane.rewrite_action.toolTip()
    assert not pane.rewriter.open_for_selection()
    assert "chat template" in messages[-1] and not pane.rewrite_panel.isVisible()
    pane.panel.select_model(tiny_gpt_path)
    assert "cannot follow instructions" in rewrite_refusal(tiny_gpt_path)
    with pytest.raises(InputError, match="chat template"):
        run_job(RewriteJob(model=str(hf_folders["gpt2"]), passage=PASSAGE))


def test_instructions_and_the_cli(chat_folder, tmp_path, capsys):
    with pytest.raises(InputError, match="which tone"):
        chat_messages(Instruction("tone"), PASSAGE)
    assert "playful tone" in chat_messages(Instruction("tone", tone="playful"), PASSAGE)[0]["content"]
    source = tmp_path / "draft.txt"
    source.write_text(PASSAGE + "\n", encoding="utf-8")
    out = tmp_path / "new.txt"
    args = ["generate", "text", "--model", str(chat_folder), "--input", str(source), "--seed", "1"]
    assert main([*args, "--instruction", "Make it formal", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed and out.read_bytes().decode("utf-8") == printed + "\n"  # the passage's own line break is kept
    from aigc_studio.text.sidecar import read_sidecar_with_records

    spans, (record,) = read_sidecar_with_records(out, out.read_text(encoding="utf-8"))
    assert spans == [[0, len(printed) + 1]]
    assert (record.operation, record.seed, record.settings["instruction"]) == ("rewrite", 1, "Make it formal")
    no_template = tmp_path / "plain"
    shutil.copytree(chat_folder, no_template)
    config = json.loads((no_template / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (no_template / "tokenizer_config.json").write_text(json.dumps(config))
    assert main(["generate", "text", "--model", str(no_template), "--input", str(source), "--preset", "shorten"]) == 1
    assert "no chat template" in capsys.readouterr().err
