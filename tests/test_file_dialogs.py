"""File dialogs open where the user last saved or opened the same kind of file, across sessions."""

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from aigc_studio.ui import file_dialogs


def test_save_dialog_starts_in_the_folder_last_used_for_that_kind(qtbot, studio_home, tmp_path, monkeypatch):
    starts = []
    answers = iter([str(tmp_path / "renders" / "a.png"), ""])

    def fake_save(parent, title, start, name_filter):
        starts.append(start)
        return next(answers), name_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    (tmp_path / "renders").mkdir()
    assert file_dialogs.save_file(None, "image-export", "Export", "b.png", "PNG (*.png)") == tmp_path / "renders" / "a.png"
    assert Path(starts[0]) == Path.home() / "b.png"  # first time: home
    assert file_dialogs.save_file(None, "image-export", "Export", "c.png", "PNG (*.png)") is None  # cancelled
    assert Path(starts[1]) == tmp_path / "renders" / "c.png"  # remembered (the settings file keeps it)
    assert file_dialogs.last_folder("music") == Path.home()  # other kinds keep their own folder


def test_a_remembered_folder_that_was_deleted_falls_back_to_home(studio_home, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    file_dialogs.remember_folder("text", gone)
    assert file_dialogs.last_folder("text") == gone
    gone.rmdir()
    assert file_dialogs.last_folder("text") == Path.home()
