"""File dialogs that open in the folder last used for the same kind of file.

``key`` names the kind ("image", "text", "music", "models", "training-data" …); the
folder is kept in the app settings under ``folders/<key>``, which File > Open uses too.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from aigc_studio.ui.settings import app_settings, read_setting


def last_folder(key: str) -> Path:
    """The folder last used for ``key`` (the home folder the first time or when it is gone)."""
    folder = Path(read_setting(app_settings(), f"folders/{key}", str(Path.home()), str))
    return folder if folder.is_dir() else Path.home()


def remember_folder(key: str, path: str | Path) -> None:
    """Start the next ``key`` dialog where ``path`` is (a file's folder, or the folder itself)."""
    path = Path(path)
    app_settings().setValue(f"folders/{key}", str(path if path.is_dir() else path.parent))


def open_file(parent: QWidget | None, key: str, title: str, name_filter: str) -> Path | None:
    """Ask for an existing file; ``None`` when cancelled."""
    name, _ = QFileDialog.getOpenFileName(parent, title, str(last_folder(key)), name_filter)
    if not name:
        return None
    remember_folder(key, name)
    return Path(name)


def save_file(parent: QWidget | None, key: str, title: str, suggested: str | Path, name_filter: str) -> Path | None:
    """Ask where to save; ``suggested`` is a file name (placed in the last folder) or a full path."""
    suggested = Path(suggested)
    start = suggested if suggested.is_absolute() else last_folder(key) / suggested
    name, _ = QFileDialog.getSaveFileName(parent, title, str(start), name_filter)
    if not name:
        return None
    remember_folder(key, name)
    return Path(name)


def choose_folder(parent: QWidget | None, key: str, title: str) -> Path | None:
    """Ask for a folder; ``None`` when cancelled."""
    name = QFileDialog.getExistingDirectory(parent, title, str(last_folder(key)))
    if not name:
        return None
    remember_folder(key, name)
    return Path(name)
