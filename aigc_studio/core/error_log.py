"""The log of unexpected errors (bugs), shared by the GUI and the command line.

Users see one line or one dialog; the traceback goes to ``<data dir>/logs/errors.log``
so that a bug report can include it.
"""

from __future__ import annotations

import time
from pathlib import Path

from aigc_studio.core.paths import user_data_dir


def error_log_path() -> Path:
    """Where unexpected errors are written."""
    folder = user_data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "errors.log"


def log_error(traceback_text: str, source: str = "") -> Path | None:
    """Append a traceback with a time stamp; returns the log's path (None when it cannot be written)."""
    try:
        path = error_log_path()
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}{f' ({source})' if source else ''}\n{traceback_text}\n")
    except OSError:
        return None
    return path
