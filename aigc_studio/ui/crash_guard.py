"""Keep the app alive on unexpected errors in GUI code: log them and tell the user.

A bug in a slot must never take the user's open work down with it. The
traceback goes to ``<data dir>/logs/errors.log``; the user sees one dialog.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from aigc_studio.core.error_log import error_log_path, log_error

_showing = False


def install_crash_guard() -> None:
    """Replace ``sys.excepthook`` so an exception in a slot is logged and shown, not fatal."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        global _showing
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(text)
        log_error(text)
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
