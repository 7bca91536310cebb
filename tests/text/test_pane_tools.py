"""The writer pane's tools: train dialog with live loss, sentence blend inserted as one undo step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from aigc_studio.core.modelfile import read_card
from aigc_studio.engine.thread import Engine
from aigc_studio.ui.text.pane import TextPane

SENTENCES = (
    "The cat sat on the mat. A dog ran in the park. She walked to the old house by the river.\n"
    "He opened the door slowly. The rain fell all night long. We ate bread and cheese at noon.\n"
)


@pytest.fixture
def pane(qtbot, studio_home):
    engine = Engine("cpu")
    engine.start()
    qtbot.waitUntil(lambda: engine.is_ready, timeout=30000)
    pane = TextPane(engine, QSettings(str(studio_home / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(pane)
    yield pane
    pane.shutdown()
    engine.shutdown()


def test_train_dialog_trains_a_vae_and_blend_inserts_a_sentence(qtbot, pane, tmp_path, studio_home):
    (tmp_path / "s.txt").write_text(SENTENCES, encoding="utf-8")
    pane.show_train_dialog("text-vae")
    dialog = pane._train_dialog
    dialog.data.setText(str(tmp_path / "s.txt"))
    dialog.steps.setValue(300)
    out = studio_home / "models" / "tiny-vae.safetensors"
    dialog.out.setText(str(out))
    original_build = dialog.build_job

    def small_job():  # the dialog's job with a tiny network so the test stays fast
        job = original_build()
        job.settings.update(embed=32, hidden=64, latent=8, batch_size=6)
        return job

    dialog.build_job = small_job
    dialog.start_button.click()
    assert pane.is_busy()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=180000)
    assert "Done" in dialog.status.text(), dialog.status.text()
    assert len(dialog.plot.series["training"]) > 10
    assert read_card(out).kind == "text-vae"
    # the new model shows up in the blend picker
    pane.blend.picker.select_path(out)
    pane.blend.first.setText("The cat sat on the mat.")
    pane.blend.second.setText("The rain fell all night long.")
    pane.blend.steps.setValue(4)
    pane.blend.blend_button.click()
    qtbot.waitUntil(lambda: pane.blend.results.count() == 4, timeout=20000)
    assert pane.blend.results.item(0).text() == "The cat sat on the mat."
    pane.editor.insertPlainText("Start. ")
    pane.blend.results.setCurrentRow(3)
    pane.blend.insert_button.click()
    assert pane.editor.toPlainText() == "Start. The rain fell all night long."
    assert pane.editor.generated_text_ranges() == [[7, 7 + len("The rain fell all night long.")]]
    pane.undo()
    assert pane.editor.toPlainText() == "Start. "


def test_train_dialog_stop_keeps_a_checkpoint_that_resumes(qtbot, pane, tmp_path, studio_home):
    (tmp_path / "s.txt").write_text(SENTENCES * 20, encoding="utf-8")
    pane.show_train_dialog("text-gpt")
    dialog = pane._train_dialog
    dialog.data.setText(str(tmp_path / "s.txt"))
    dialog.size.setCurrentIndex(0)
    dialog.steps.setValue(4000)  # loss is reported every steps/400
    out = studio_home / "models" / "mine.safetensors"
    dialog.out.setText(str(out))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: len(dialog.plot.series.get("training", [])) >= 3, timeout=30000)
    dialog.stop_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=5000)
    assert "Stopped" in dialog.status.text()
    qtbot.waitUntil(lambda: out.exists(), timeout=5000)
    stopped_at = read_card(out).training["steps"]
    assert 0 < stopped_at < 4000
    dialog.steps.setValue(stopped_at + 5)
    dialog.resume.setChecked(True)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30000)
    assert "Done" in dialog.status.text(), dialog.status.text()
    assert read_card(out).training["steps"] == stopped_at + 5
    shot = __import__("os").environ.get("AIGC_TEXT_TRAIN_SHOT")
    if shot:
        dialog.grab().save(shot)
