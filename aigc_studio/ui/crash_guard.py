"""Keep the app alive on unexpected errors in GUI code: log them and tell the user.

A bug in a slot must never take the user's open work down with it. The
traceback goes to ``<data dir>/logs/errors.log``; the user sees one dialog.
"""

from __future__ import annotations

import sys
import time
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from aigc_studio.core.paths import user_data_dir

_showing = False


def error_log_path():
    """Where unexpected errors are written."""
    folder = user_data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "errors.log"


def install_crash_guard() -> None:
    """Replace ``sys.excepthook`` so an exception in a slot is logged and shown, not fatal."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        global _showing
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(text)
        try:
            with open(error_log_path(), "a", encoding="utf-8") as log:
                log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{text}\n")
        except OSError:
            pass
        if _showing or QApplication.instance() is None:
            return
        _showing = True
        try:
            QMessageBox.critical(
                QApplication.activeWindow(),
                "Unexpected error",
                f"Something went wrong: {value}\n\nYour work is still open. Details were written to {error_log_path()}.",
            )
        finally:
            _showing = False

    sys.excepthook = hook
