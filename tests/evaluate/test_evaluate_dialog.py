"""Train → Evaluate model… in the real window: figures with reference beside them, pairs, Cancel within a second."""

from __future__ import annotations

import time

import pytest

from aigc_studio.engine.thread import Engine
from aigc_studio.ui.main_window import MainWindow
from aigc_studio.ui.settings import app_settings


@pytest.fixture
def window(qtbot, studio_home):
    engine = Engine("cpu")
    win = MainWindow(engine, app_settings())
    qtbot.addWidget(win)
    win.show()
    engine.start()
    qtbot.waitUntil(lambda: engine.is_ready, timeout=30000)
    yield win
    engine.shutdown()


def _open_dialog(window, tiny_gan):
    window.show_pane("image")
    window.current_pane().model_picker.refresh()
    assert "Evaluate model…" in [a.text().replace("&", "") for a in window.menus["train"].actions()]
    window.evaluate_action.trigger()
    dialog = window.evaluate_dialog
    dialog.model.addItem("tiny", str(tiny_gan))
    dialog.model.setCurrentIndex(dialog.model.count() - 1)
    return dialog


def test_evaluate_dialog_shows_sections_reference_figures_and_nearest_pictures(qtbot, window, tiny_gan, picture_folder):
    dialog = _open_dialog(window, tiny_gan)
    dialog.data.setText(str(picture_folder))
    dialog.samples.setValue(8)
    dialog.run_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=60000)
    text = dialog.view.toPlainText()
    for heading in ("Quality", "Diversity", "Novelty", "Efficiency", "precision_features", "reference"):
        assert heading in text
    assert "Samples nearest to the reference" in text
    assert dialog.view.toHtml().count("evaluation-image-") == 16
    assert dialog.run_button.isEnabled()


def test_cancel_stops_the_evaluation_within_a_second(qtbot, window, tiny_gan, picture_folder):
    dialog = _open_dialog(window, tiny_gan)
    dialog.data.setText(str(picture_folder))
    dialog.samples.setValue(4096)
    dialog.run_button.click()
    qtbot.waitUntil(lambda: "Drawing images" in dialog.status.text(), timeout=30000)
    asked = time.monotonic()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.handle.done, timeout=5000)
    assert time.monotonic() - asked < 1.0
    assert dialog.handle.state == "cancelled" and dialog.status.text() == "Cancelled."
