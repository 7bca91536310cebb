"""File dialogs that open in the folder last used for the same kind of file.

``key`` names the kind ("image", "text", "music", "models", "training-data" …); the
folder is kept in the app settings under ``folders/<key>``, which File > Open uses too.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from aigc_studio.ui.settings import app_settings, read_setting


def last_folder(key: str, first_folder: Path | None = None) -> Path:
    """The folder last used for ``key`` (``first_folder``, else home, the first time or when it is gone)."""
    fallback = first_folder if first_folder is not None and first_folder.is_dir() else Path.home()
    folder = Path(read_setting(app_settings(), f"folders/{key}", str(fallback), str))
    return folder if folder.is_dir() else fallback


def remember_folder(key: str, path: str | Path) -> None:
    """Start the next ``key`` dialog where ``path`` is (a file's folder, or the folder itself)."""
    path = Path(path)
    app_settings().setValue(f"folders/{key}", str(path if path.is_dir() else path.parent))


def open_file(
    parent: QWidget | None, key: str, title: str, name_filter: str, first_folder: Path | None = None
) -> Path | None:
    """Ask for an existing file; ``None`` when cancelled. ``first_folder`` is where the very first dialog opens."""
    name, _ = QFileDialog.getOpenFileName(parent, title, str(last_folder(key, first_folder)), name_filter)
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
