"""The Prompt tab through the real window: open a model, draw, watch the preview, paint a mask, reopen an A1111 PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from PySide6.QtCore import QPoint, QSettings, Qt

pytest.importorskip("diffusers")

from aigc_studio.engine.thread import Engine  # noqa: E402

from .diffusion_fixtures import SIZE, sd_models  # noqa: E402, F401 - sd_models is a fixture


@pytest.fixture
def pane(qtbot, studio_home, tmp_path):
    from aigc_studio.ui.image.pane import ImagePane

    engine = Engine("cpu")
    engine.start()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("image/auto_generate", False)
    widget = ImagePane(engine, settings)
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    yield widget
    engine.shutdown()


def wait_idle(qtbot, pane, count):
    qtbot.waitUntil(lambda: not pane.is_busy() and len(pane.canvas.tiles) == count, timeout=60000)


def test_prompt_tab_draws_on_the_canvas_and_inpaints_a_painted_mask(qtbot, pane, sd_models, tmp_path, monkeypatch):  # noqa: F811 - the fixture
    prompt = pane.diffusion.panel
    pane.diffusion.open_model(sd_models["folder"])
    assert "tiny-sd" in prompt.model_label.text() and "diffusers folder" in prompt.model_label.text()
    prompt.prompt.setPlainText("a red house")
    prompt.steps.setValue(3)
    prompt.width_box.setValue(SIZE)
    prompt.height_box.setValue(SIZE)
    prompt.count.setValue(2)
    prompt.random_seed.setChecked(False)
    prompt.seed.setValue(5)
    qtbot.mouseClick(prompt.button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pane, 2)
    assert [i["recipe"]["seed"] for i in pane.canvas.items_data] == [5, 6]
    assert not prompt.preview.pixmap().isNull()  # the live preview showed the latents
    pane.history.flush()
    from aigc_studio.image.recipe import read_recipe

    stored = [read_recipe(pane.history.store.path_of(e)) for e in pane.history.store.entries[-2:]]
    assert [r["prompt"] for r in stored] == ["a red house"] * 2  # the history keeps diffusion pictures too

    qtbot.mouseClick(pane.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pane.canvas.tile_center(0))
    prompt.mode.setCurrentIndex(prompt.mode.findData("inpaint"))
    selected = pane.canvas.selected_items()[0]["image"]

    from aigc_studio.ui.image.mask_brush import MaskDialog

    dialog = MaskDialog(selected)
    qtbot.addWidget(dialog)
    dialog.show()
    centre = QPoint(dialog.canvas.width() // 2, dialog.canvas.height() // 2)
    qtbot.mousePress(dialog.canvas, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(dialog.canvas, centre + QPoint(40, 0))
    qtbot.mouseRelease(dialog.canvas, Qt.MouseButton.LeftButton, pos=centre + QPoint(40, 0))
    mask = dialog.mask()
    assert mask.shape == (SIZE, SIZE) and mask[SIZE // 2, SIZE // 2] == 255 and mask[0, 0] == 0
    dialog.eraser.setChecked(True)
    qtbot.mouseClick(dialog.canvas, Qt.MouseButton.LeftButton, pos=centre)
    assert dialog.mask()[SIZE // 2, SIZE // 2] == 0
    pane.diffusion.mask, pane.diffusion.mask_for = mask, selected
    qtbot.mouseClick(prompt.button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pane, 2)
    assert all(i["recipe"]["op"] == "inpaint" for i in pane.canvas.items_data)

    Image.fromarray(np.full((48, 40, 3), 90, np.uint8)).save(tmp_path / "start.jpg")
    monkeypatch.setattr("aigc_studio.ui.image.diffusion_actions.open_file", lambda *a: tmp_path / "start.jpg")
    prompt.count.setValue(1)
    prompt.mode.setCurrentIndex(prompt.mode.findData("file"))  # asks for the picture at once
    qtbot.mouseClick(prompt.button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pane, 1)
    recipe = pane.canvas.items_data[0]["recipe"]
    assert (recipe["op"], recipe["source"], pane.canvas.items_data[0]["image"].shape) == (
        "img2img",
        "start.jpg",
        (SIZE, SIZE, 3),
    )


def test_opening_an_a1111_png_fills_in_the_prompt_tab(qtbot, pane, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a castle at sunset\nNegative prompt: blurry\nSteps: 12, Sampler: Euler a, CFG scale: 4.5, Seed: 99, Size: 64x48, Model: v1-5",
    )
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png", pnginfo=info)
    pane.open_path(tmp_path / "a.png")
    p = pane.diffusion.panel
    assert p.prompt.toPlainText() == "a castle at sunset" and p.negative.toPlainText() == "blurry"
    assert (p.steps.value(), p.cfg.value(), p.seed.value()) == (12, 4.5, 99)
    assert (p.width_box.value(), p.height_box.value(), p.scheduler.currentData()) == (64, 48, "euler_a")
    assert pane.tabs.currentWidget() is pane.diffusion.tab
    assert "v1-5" in pane.message.text()
