"""The canvas through the real widgets: generate -> select -> variations -> undo -> export -> reopen."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt

from aigc_studio.core.paths import user_models_dir
from aigc_studio.engine.thread import Engine
from aigc_studio.image.recipe import read_recipe

from .conftest import make_gan_file, make_vae_file


@pytest.fixture
def pane(qtbot, studio_home, tmp_path):
    from aigc_studio.ui.image.pane import ImagePane

    model = make_gan_file(user_models_dir() / "tiny-gan.safetensors")
    engine = Engine("cpu")
    engine.start()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("image/auto_generate", False)
    widget = ImagePane(engine, settings)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    widget.model_picker.select_path(model)
    yield widget
    engine.shutdown()


def wait_idle(qtbot, pane, count=None):
    qtbot.waitUntil(lambda: not pane.is_busy() and (count is None or len(pane.canvas.tiles) == count), timeout=20000)


def test_generate_select_vary_undo_export_and_reopen(qtbot, pane, tmp_path):
    pane.gen_panel.count.setValue(4)
    pane.gen_panel.seed.setValue(3)
    pane.gen_panel.random_seed.setChecked(False)
    qtbot.mouseClick(pane.gen_panel.button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pane, 4)
    generated = [item["image"] for item in pane.canvas.items_data]
    assert [i["recipe"]["seed"] for i in pane.canvas.items_data] == [3, 4, 5, 6]

    qtbot.mouseClick(pane.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pane.canvas.tile_center(1))
    assert pane.canvas.order == [1]
    assert not pane.sel_panel.preview.pixmap().isNull()
    assert pane.sel_panel.variations.isEnabled() and not pane.sel_panel.interpolate.isEnabled()

    pane.sel_panel.strength.setValue(40)
    qtbot.mouseClick(pane.sel_panel.variations, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pane, 8)
    assert all(i["recipe"]["op"] == "variation" and i["recipe"]["strength"] == 0.4 for i in pane.canvas.items_data)

    pane.undo_stack().undo()
    assert len(pane.canvas.tiles) == 4 and pane.canvas.order == [1]
    pane.undo_stack().redo()
    assert len(pane.canvas.tiles) == 8
    pane.undo_stack().undo()

    pane.canvas.select([2])
    out = pane.export_selected(tmp_path / "pick.png", scale=2)
    assert out == [tmp_path / "pick.png"]
    with Image.open(out[0]) as im:
        assert im.size == (64, 64) and "Seed: 5" in im.text["parameters"]
    recipe = read_recipe(out[0])
    assert recipe["seed"] == 5 and recipe["scale"] == 2

    # Re-opening the exported PNG redraws exactly the same picture.
    pane.open_path(out[0])
    wait_idle(qtbot, pane, 1)
    assert np.array_equal(pane.canvas.items_data[0]["image"], generated[2])

    # Everything drawn went into the on-disk history, which a new session reads back.
    from aigc_studio.ui.image.history import HistoryStore

    pane.history.flush()  # the history is written on a background thread
    assert len(HistoryStore().entries) == 4 + 8 + 1
    qtbot.waitUntil(lambda: pane.history.count() == 13, timeout=5000)
    pane.grab().save(str(tmp_path / "pane.png"))
    shot = __import__("os").environ.get("AIGC_IMAGE_PANE_SHOT")
    if shot:
        pane.grab().save(shot)


def test_interpolate_mix_contact_sheet_and_animation(qtbot, pane, tmp_path):
    pane.gen_panel.count.setValue(2)
    pane.generate()
    wait_idle(qtbot, pane, 2)
    pane.canvas.select([0, 1])
    assert pane.sel_panel.interpolate.isEnabled() and pane.sel_panel.mix.isEnabled()
    pane.sel_panel.frames.setValue(5)
    pane.interpolate()
    wait_idle(qtbot, pane, 5)
    assert pane.canvas.strip and pane.sel_panel.export_anim.isEnabled()
    gif = pane.export_animation(tmp_path / "anim")
    assert gif.exists() and len(list((tmp_path / "anim").glob("frame-*.png"))) == 5
    sheet = pane.export_contact_sheet(tmp_path / "sheet.png")
    assert Image.open(sheet).width > 5 * 32
    pane.undo_stack().undo()
    pane.canvas.select([0, 1])
    pane.mix()
    wait_idle(qtbot, pane, 8)
    assert pane.canvas.items_data[0]["recipe"]["op"] == "mix"


def test_first_show_fills_the_canvas(qtbot, studio_home, tmp_path):
    from aigc_studio.ui.image.pane import ImagePane

    make_gan_file(user_models_dir() / "tiny-gan.safetensors")
    engine = Engine("cpu")
    engine.start()
    try:
        widget = ImagePane(engine, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(widget)
        widget.show()
        wait_idle(qtbot, widget, 16)
    finally:
        engine.shutdown()


def test_errors_are_shown_not_raised(qtbot, pane, tmp_path, monkeypatch):
    monkeypatch.setattr("aigc_studio.ui.image.pane.list_models", lambda kind=None: [])  # no VAE installed
    pane.make_variations()  # nothing selected
    assert "needs a selected picture" in pane.message.text()
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    pane.encode_file(tmp_path / "plain.png")  # only a GAN is installed
    assert "needs a VAE" in pane.message.text()


def test_encode_a_dropped_picture_with_a_vae(qtbot, pane, tmp_path):
    vae = make_vae_file(user_models_dir() / "tiny-vae.safetensors")
    pane.model_picker.refresh()
    pane.model_picker.select_path(vae)
    Image.new("RGB", (50, 40), (200, 30, 30)).save(tmp_path / "red.jpg")
    pane.canvas.files_dropped.emit([str(tmp_path / "red.jpg")])
    wait_idle(qtbot, pane, 1)
    assert pane.canvas.items_data[0]["recipe"]["op"] == "encode"
    assert len(pane.canvas.items_data[0]["recipe"]["latent"]) == 8


def test_training_from_the_pane_streams_previews_and_losses(qtbot, pane, tmp_path):
    from aigc_studio.image.settings import ImageTrainSettings

    from .conftest import write_mixed_folder

    write_mixed_folder(tmp_path / "data", copies=2)
    out = user_models_dir() / "trained.safetensors"
    settings = ImageTrainSettings(
        data=str(tmp_path / "data"),
        out=str(out),
        resolution=32,
        size="tiny",
        steps=3,
        batch_size=4,
        sample_every=1,
        loss_every=1,
    )
    handle = pane.start_training(settings)
    assert pane.tabs.tabText(pane.tabs.currentIndex()) == "Training"  # the user sees the run
    with qtbot.waitSignal(handle.finished, timeout=30000):
        pass
    shot = __import__("os").environ.get("AIGC_IMAGE_TRAIN_SHOT")
    if shot:
        pane.grab().save(shot)
    assert pane.training.chart.series["d"] and pane.training.preview.pixmap() is not None
    qtbot.waitUntil(lambda: pane.model_picker.current_path() == out, timeout=2000)


def test_train_dialog_checks_the_folder(qtbot, tmp_path, studio_home):
    from aigc_studio.errors import InputError
    from aigc_studio.ui.image.train_dialog import TrainDialog

    dialog = TrainDialog(folder=str(tmp_path / "missing"))
    qtbot.addWidget(dialog)
    with pytest.raises(InputError, match="Choose a folder"):
        dialog.settings()
    dialog.folder.setText(str(tmp_path))
    dialog.kind.setCurrentIndex(1)
    dialog.resolution.setCurrentIndex(0)
    settings = dialog.settings()
    assert settings.kind == "image-vae" and settings.resolution == 32 and settings.steps == 5000


def _as_if_crashed(folder):
    """Move this process's canvas autosave under the id of a process that has exited, as a crash leaves it."""
    import json
    import os
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    file = folder / f"image-{os.getpid()}.json"
    data = json.loads(file.read_text())
    data["pid"] = child.pid
    pixels = folder / data["arrays"]
    data["arrays"] = pixels.name.replace(f"-{os.getpid()}.", f"-{child.pid}.")
    pixels.rename(folder / data["arrays"])
    (folder / f"image-{child.pid}.json").write_text(json.dumps(data))
    file.unlink()


def test_canvas_comes_back_after_a_crash_and_undo_clears_it(qtbot, pane, tmp_path):
    import os

    from aigc_studio.ui.image.pane import ImagePane

    pane.gen_panel.count.setValue(4)
    pane.gen_panel.seed.setValue(11)
    pane.gen_panel.random_seed.setChecked(False)
    pane.generate()
    wait_idle(qtbot, pane, 4)
    pane.canvas.select([2, 0])
    folder = pane.autosave.folder
    qtbot.waitUntil(lambda: pane.autosave.file.exists() and '"selected": [2, 0]' in pane.autosave.file.read_text())
    shown = [(item["image"].copy(), item["recipe"]) for item in pane.canvas.items_data]
    _as_if_crashed(folder)

    settings = QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat)  # auto-generate on first show is on
    second = ImagePane(pane.engine, settings)
    qtbot.addWidget(second)
    second.show()
    assert len(second.canvas.items_data) == 4 and second.canvas.order == [2, 0] and not second.canvas.strip
    for (image, recipe), item in zip(shown, second.canvas.items_data):
        assert np.array_equal(item["image"], image) and item["recipe"] == recipe
    assert "stopped unexpectedly" in second.message.text()
    qtbot.wait(300)
    assert not second.is_busy(), "a restored canvas is not replaced by a fresh grid"
    # The crashed session's files are gone; this session's autosave holds the grid now.
    left = sorted(p.name for p in folder.glob("image-*"))
    assert len(left) == 2 and all(name.startswith(f"image-{os.getpid()}.") for name in left)
    second.undo_stack().undo()
    assert second.canvas.items_data == []
    second.shutdown()
    assert not list(folder.glob("image-*"))


def test_a_clean_exit_leaves_no_canvas_to_restore(qtbot, pane, tmp_path):
    from aigc_studio.ui.image.pane import ImagePane

    pane.gen_panel.count.setValue(2)
    pane.generate()
    wait_idle(qtbot, pane, 2)
    pane.autosaver.flush()
    assert pane.autosave.file.exists()
    pane.shutdown()
    assert not list(pane.autosave.folder.glob("image-*"))
    settings = QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat)
    settings.setValue("image/auto_generate", False)
    second = ImagePane(pane.engine, settings)
    qtbot.addWidget(second)
    assert second.canvas.items_data == []


def test_recipe_of_the_selected_picture_and_regenerate_draws_it_again(qtbot, pane, tmp_path):
    from aigc_studio import __version__

    pane.gen_panel.count.setValue(3)
    pane.gen_panel.seed.setValue(21)
    pane.gen_panel.random_seed.setChecked(False)
    qtbot.mouseClick(pane.gen_panel.button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pane, 3)
    picked = pane.canvas.items_data[2]["image"]
    assert pane.show_recipe() is None  # nothing selected: the message says what to do
    pane.canvas.select([2])
    dialog = pane.show_recipe()
    assert dialog.rows["Seed"].text() == "23" and dialog.rows["AIGC Studio"].text() == __version__
    assert dialog.rows["Model"].text() == "tiny-gan" and dialog.rows["Psi"].text()
    dialog.regenerate_button.click()
    wait_idle(qtbot, pane, 1)
    assert np.array_equal(pane.canvas.items_data[0]["image"], picked)
