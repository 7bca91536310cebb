"""Autosave of open work, and finding the work a crashed process left behind (no Qt).

Each running app keeps one file per kind of document, ``autosave/<kind>-<pid>.json``
in the user data folder, plus ``<kind>-<pid>.<n>.safetensors`` for arrays (canvas
pixels) when there are any. A file whose process no longer runs is an orphan: the
next start offers it back. Writes are atomic and run on one background thread per
store, the newest request replacing any that has not started yet, so the GUI thread
never waits on the disk. An unreadable orphan is moved to ``autosave/corrupt/``
(kept for the curious, never offered, never fatal).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc_studio.core.atomic import atomic_path, atomic_write_text
from aigc_studio.core.paths import user_data_dir
from aigc_studio.core.untrusted_json import Float, Int, Optional, Text, UnsafeJson, check_fields, parse_untrusted_json

FORMAT_VERSION = 1
KEEP_ARRAYS = "keep"  # ``save(data, arrays=KEEP_ARRAYS)``: new JSON, same arrays (selection-only changes)
_CLEAR = object()
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a 10 MB document (the largest the editor opens) or a song of many notes
MAX_RECORD_VALUES = 2_000_000  # a note is 5 values: a song of 400,000 notes
MAX_PID = 2**32 - 1  # process ids are 32-bit on every platform we run on

log = logging.getLogger(__name__)


def autosave_dir() -> Path:
    """The autosave folder inside the user data folder."""
    folder = user_data_dir() / "autosave"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def process_alive(pid: int) -> bool:
    """True when a process with ``pid`` runs (this one included)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _windows_process_alive(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows; ask the kernel instead.
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


class CorruptAutosave(ValueError):
    """An autosave file that cannot be read back."""


@dataclass
class Autosave:
    """An autosave file found on disk (its JSON already read; arrays load on demand)."""

    kind: str
    file: Path
    pid: int
    saved_at: float
    data: dict[str, Any]
    arrays_file: Path | None = None

    def arrays(self) -> dict[str, Any]:
        """The stored NumPy arrays (empty when there are none); CorruptAutosave when unreadable."""
        if self.arrays_file is None:
            return {}
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            return load_file(str(self.arrays_file))
        except (OSError, SafetensorError, ValueError) as exc:
            raise CorruptAutosave(f"{self.arrays_file.name}: {exc}") from exc

    def delete(self) -> None:
        """Remove the autosave (restored or discarded)."""
        self.file.unlink(missing_ok=True)
        if self.arrays_file is not None:
            self.arrays_file.unlink(missing_ok=True)

    def set_aside(self, reason: str) -> None:
        """Move the files to ``autosave/corrupt/`` so they are never offered again."""
        set_aside(self.file, reason)
        if self.arrays_file is not None and self.arrays_file.exists():
            set_aside(self.arrays_file, reason)


@dataclass
class RecoveredWork:
    """Work read back from a crashed session's autosave; each studio adds what it holds."""

    autosave: Autosave

    @property
    def saved_at(self) -> float:
        """When it was autosaved (seconds since the epoch)."""
        return self.autosave.saved_at

    def delete(self) -> None:
        """Forget the autosave (restored or discarded)."""
        self.autosave.delete()


def set_aside(file: Path, reason: str) -> None:
    """Move an unreadable autosave file out of the way (kept, with a time stamp)."""
    folder = file.parent / "corrupt"
    log.warning("Autosave %s cannot be read (%s); moved to %s", file.name, reason, folder)
    try:
        folder.mkdir(exist_ok=True)
        os.replace(file, folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{file.name}")
    except OSError:
        file.unlink(missing_ok=True)


class AutosaveStore:
    """This process's autosave of one kind of document, and the orphans other processes left."""

    def __init__(self, kind: str, pid: int | None = None) -> None:
        if not re.fullmatch(r"[a-z]+", kind):
            raise ValueError(f"autosave kind must be lower-case letters, not {kind!r}")
        self.kind = kind
        self.pid = pid or os.getpid()
        self.folder = autosave_dir()
        self.file = self.folder / f"{kind}-{self.pid}.json"
        self.on_error: Callable[[str], None] | None = None  # called on the writer thread
        self._arrays_file: Path | None = None
        self._arrays_count = 0
        self._arrays_lost = False  # the newest arrays failed to write: keeping "the same" ones would mismatch
        self._lock = threading.Lock()
        self._latest: Any = None
        self._queued: Future | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"autosave-{kind}")

    # --- writing (background thread, newest request wins) ---
    def save(self, data: dict[str, Any], arrays: Mapping[str, Any] | str | None = None) -> Future:
        """Queue a write of ``data`` (JSON-able) and ``arrays`` (name -> NumPy array, or KEEP_ARRAYS)."""
        return self._queue((data, arrays))

    def write(self, data: dict[str, Any], arrays: Mapping[str, Any] | str | None = None) -> None:
        """Write now and wait until it is on disk."""
        self.save(data, arrays)
        self.wait()

    def clear(self) -> None:
        """Remove this process's autosave (the work is saved, discarded, or there is none); waits."""
        self._queue(_CLEAR)
        self.wait()

    def wait(self) -> None:
        """Block until every queued write or clear has finished."""
        self._writer.submit(lambda: None).result()

    def _queue(self, request: Any) -> Future:
        with self._lock:
            replaced = self._latest
            if isinstance(request, tuple) and isinstance(request[1], str) and isinstance(replaced, tuple):
                request = (request[0], replaced[1])  # the arrays it keeps were never written: carry them over
            self._latest = request
            if self._queued is None:
                self._queued = self._writer.submit(self._drain)
            return self._queued

    def _drain(self) -> None:
        with self._lock:
            request, self._latest, self._queued = self._latest, None, None
        try:
            if request is _CLEAR:
                self._remove()
            else:
                self._write_now(*request)
        except (OSError, TypeError, ValueError) as exc:
            if isinstance(request, tuple) and request[1] and not isinstance(request[1], str):
                self._arrays_lost = True
            log.warning("Autosave of %s failed: %s", self.kind, exc)
            if self.on_error is not None:
                self.on_error(f"Autosave failed: {exc}")

    def _write_now(self, data: dict[str, Any], arrays: Mapping[str, Any] | str | None) -> None:
        old_arrays = self._arrays_file
        if isinstance(arrays, str):  # KEEP_ARRAYS
            if self._arrays_lost:
                raise ValueError("the arrays of the previous autosave were not written; skipped until they change")
            arrays_file = old_arrays
        elif arrays:
            self._arrays_count += 1
            arrays_file = self.folder / f"{self.kind}-{self.pid}.{self._arrays_count}.safetensors"
            _write_arrays(arrays_file, arrays)
            self._arrays_lost = False
        else:
            arrays_file = None
        record = {
            **data,
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "pid": self.pid,
            "saved_at": time.time(),
            "arrays": arrays_file.name if arrays_file else None,
        }
        # The arrays went first, then the JSON that names them: a crash in between keeps the old pair.
        try:
            atomic_write_text(self.file, json.dumps(record, ensure_ascii=False))
        except (OSError, TypeError, ValueError):
            if arrays_file is not None and arrays_file != old_arrays:
                arrays_file.unlink(missing_ok=True)
            raise
        self._arrays_file = arrays_file
        if old_arrays is not None and old_arrays != arrays_file:
            old_arrays.unlink(missing_ok=True)

    def _remove(self) -> None:
        self.file.unlink(missing_ok=True)
        if self._arrays_file is not None:
            self._arrays_file.unlink(missing_ok=True)
            self._arrays_file = None

    # --- reading what crashed processes left ---
    def orphans(self) -> list[Autosave]:
        """Autosaves of this kind left by processes that no longer run, newest first.

        Unreadable ones are moved aside; stray array files of dead processes are removed.
        """
        found: list[Autosave] = []
        for file in self.folder.glob(f"{self.kind}-*.json"):
            pid = _pid_in_name(self.kind, file.name)
            if pid is None or pid == self.pid or process_alive(pid):
                continue
            try:
                found.append(read_autosave(self.kind, file))
            except CorruptAutosave as exc:
                set_aside(file, str(exc))
        self._remove_stray_arrays(found)
        return sorted(found, key=lambda a: -a.saved_at)

    def _remove_stray_arrays(self, found: list[Autosave]) -> None:
        named = {a.arrays_file for a in found} | {self._arrays_file}
        for file in self.folder.glob(f"{self.kind}-*.safetensors"):
            pid = _pid_in_name(self.kind, file.name)
            if file not in named and pid is not None and pid != self.pid and not process_alive(pid):
                file.unlink(missing_ok=True)


def read_autosave(kind: str, file: Path) -> Autosave:
    """Read one autosave file; CorruptAutosave when it is not one we can use.

    The record is checked (pid, time, the array file's name) before any other file is opened.
    """
    try:
        if file.stat().st_size > MAX_RECORD_BYTES:
            raise CorruptAutosave(f"{file.name}: {file.stat().st_size:,} bytes, more than any autosave we write")
        data = parse_untrusted_json(file.read_bytes(), max_bytes=MAX_RECORD_BYTES, max_values=MAX_RECORD_VALUES)
    except (OSError, UnsafeJson) as exc:
        raise CorruptAutosave(f"{file.name}: {exc}") from exc
    rules = {
        "pid": Int(1, MAX_PID),
        "saved_at": Float(0.0, 1e11),
        "arrays": Optional(Text(100, rf"{re.escape(kind)}-\d{{1,10}}\.\d{{1,10}}\.safetensors")),
    }
    check_fields(
        data, rules, lambda key, problem: f"{file.name}: not an autosave record ({problem})", error=CorruptAutosave
    )
    try:
        pid = data["pid"] if "pid" in data else (_pid_in_name(kind, file.name) or 0)
        saved_at = float(data["saved_at"] if "saved_at" in data else file.stat().st_mtime)
    except OSError as exc:
        raise CorruptAutosave(f"{file.name}: {exc}") from exc
    arrays_name = data.get("arrays")
    arrays_file = None
    if arrays_name:
        arrays_file = file.parent / arrays_name
        if not arrays_file.exists():
            raise CorruptAutosave(f"{file.name}: its array file {arrays_name} is missing")
    return Autosave(kind, file, pid, saved_at, data, arrays_file)


def _pid_in_name(kind: str, name: str) -> int | None:
    match = re.fullmatch(rf"{re.escape(kind)}-(\d+)(?:\.\d+\.safetensors|\.json)", name)
    return int(match.group(1)) if match else None


def _write_arrays(target: Path, arrays: Mapping[str, Any]) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    with atomic_path(target) as tmp:
        save_file({name: np.ascontiguousarray(value) for name, value in arrays.items()}, str(tmp))
