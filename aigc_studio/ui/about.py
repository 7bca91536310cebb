"""Help > About: versions of the app, Qt, PySide6, torch and the device in use."""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from aigc_studio import __version__
from aigc_studio.core.paths import user_data_dir
from aigc_studio.engine.thread import Engine


def about_text(engine: Engine) -> str:
    """The About box's text (HTML)."""
    torch_version = engine.torch_version or "loading…"
    return (
        f"<h3>AIGC Studio {__version__}</h3>"
        "<p>Local generative models for images, text and music. Everything runs on this computer.</p>"
        f"<table>"
        f"<tr><td>Qt</td><td>{qVersion()}</td></tr>"
        f"<tr><td>PySide6</td><td>{PySide6.__version__}</td></tr>"
        f"<tr><td>PyTorch</td><td>{torch_version}</td></tr>"
        f"<tr><td>Device</td><td>{engine.device_description}</td></tr>"
        f"<tr><td>Python</td><td>{platform.python_version()} ({platform.system()} {platform.machine()})</td></tr>"
        f"<tr><td>Data folder</td><td>{user_data_dir()}</td></tr>"
        "</table>"
    )


def show_about(parent: QWidget, engine: Engine) -> None:
    """Open the About dialog."""
    QMessageBox.about(parent, "About AIGC Studio", about_text(engine))
