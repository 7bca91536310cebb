"""Autosave of the writer's document every few seconds, and recovery after a crash.

Each running app writes ``autosave/text-<pid>.json`` in the user data folder.
A file left by a process that is no longer running is offered for recovery.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from aigc_studio.core.atomic import atomic_write_text
from aigc_studio.core.paths import user_data_dir

PREFIX = "text-"


def autosave_dir() -> Path:
    """The autosave folder inside the user data folder."""
    folder = user_data_dir() / "autosave"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Recovered:
    """Unsaved text found after a crash."""

    file: Path
    text: str
    path: str | None
    spans: list
    saved_at: float

    @property
    def words(self) -> int:
        """Word count of the recovered text."""
        return len(self.text.split())


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class AutosaveStore:
    """Reads and writes this process's autosave file."""

    def __init__(self, tag: str | None = None) -> None:
        self.file = autosave_dir() / f"{PREFIX}{tag or os.getpid()}.json"

    def write(self, text: str, path: str | None, spans: list) -> None:
        """Save the current state (atomically)."""
        data = {"version": 1, "pid": os.getpid(), "saved_at": time.time(), "path": path, "text": text, "spans": spans}
        atomic_write_text(self.file, json.dumps(data, ensure_ascii=False))

    def clear(self) -> None:
        """Remove this process's autosave (the work is saved, or there is none)."""
        self.file.unlink(missing_ok=True)

    def orphans(self) -> list[Recovered]:
        """Autosaves left by processes that are no longer running (newest first)."""
        found = []
        for file in autosave_dir().glob(f"{PREFIX}*.json"):
            if file == self.file:
                continue
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
                pid = int(data.get("pid", 0))
            except (OSError, ValueError, UnicodeDecodeError, TypeError, AttributeError):
                continue
            if pid and _pid_alive(pid):
                continue
            if not str(data.get("text", "")).strip():
                file.unlink(missing_ok=True)
                continue
            found.append(
                Recovered(file, data["text"], data.get("path"), data.get("spans") or [], float(data.get("saved_at", 0)))
            )
        return sorted(found, key=lambda r: -r.saved_at)
