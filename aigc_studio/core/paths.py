"""Where things live: bundled resources and the user's data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "aigc-studio"
HOME_ENV = "AIGC_STUDIO_HOME"  # overrides the user data dir (tests, portable installs)


def resources_dir() -> Path:
    """The bundled ``resources/`` folder.

    Looked for beside the package (source checkout, editable install), inside a
    PyInstaller bundle, and in ``<prefix>/share/aigc-studio`` (regular install).
    """
    package_dir = Path(__file__).resolve().parent.parent
    candidates = [package_dir.parent / "resources", package_dir / "resources"]
    if hasattr(sys, "_MEIPASS"):
        candidates.append(Path(sys._MEIPASS) / "resources")
    candidates.append(Path(sys.prefix) / "share" / APP_NAME)
    for candidate in candidates:
        if (candidate / "icons").is_dir():
            return candidate
    return candidates[0]


def bundled_models_dir() -> Path:
    """Starter models shipped with the app."""
    return resources_dir() / "models"


def user_data_dir() -> Path:
    """The user's data folder (models, history, autosave), created on demand."""
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override)
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_models_dir() -> Path:
    """Models the user trained or added."""
    path = user_data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
