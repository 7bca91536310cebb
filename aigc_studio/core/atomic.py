"""Atomic file writes: write a temporary file beside the target, then rename.

A crash or a full disk never leaves a half-written file under the final name.
The temporary file (``.NAME.PID-XXXX.part``) left behind by a killed process is
removed by the next write to the same target, once its writer is gone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PART_SUFFIX = ".part"
STALE_PART_AGE_S = 3600.0  # a temp file this old has no live writer even where we cannot ask (Windows)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over the target on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=PART_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        _set_mode(tmp, target)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_parts(target: str | os.PathLike) -> list[Path]:
    """Delete temporary files of earlier writes to ``target`` whose process died mid-write; returns them."""
    target = Path(target)
    parts = glob.glob(glob.escape(str(target.parent / f".{target.name}.")) + "*" + PART_SUFFIX)
    return _remove_if_writer_gone([(Path(p), target.name) for p in parts])


def remove_stale_parts_in(folder: str | os.PathLike) -> list[Path]:
    """Delete every temporary file in ``folder`` left by a process that died mid-write; returns them."""
    parts = []
    for part in Path(folder).glob(f".*{PART_SUFFIX}"):
        target_name = part.name[1 : -len(PART_SUFFIX)].rpartition(".")[0]
        if target_name:
            parts.append((part, target_name))
    return _remove_if_writer_gone(parts)


def _remove_if_writer_gone(parts: list[tuple[Path, str]]) -> list[Path]:
    removed = []
    for part, target_name in parts:
        if _writer_is_gone(part, target_name):
            with contextlib.suppress(OSError):
                part.unlink()
                removed.append(part)
    return removed


def is_part_file(path: str | os.PathLike) -> bool:
    """True for the temporary file of an atomic write (never a finished file)."""
    name = Path(path).name
    return name.startswith(".") and name.endswith(PART_SUFFIX)


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``target`` atomically."""
    atomic_write_bytes(target, text.encode(encoding))


def atomic_write_with(target: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result over ``target`` atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)


def _writer_is_gone(part: Path, target_name: str) -> bool:
    pid_text = part.name[len(target_name) + 2 :].split("-", 1)[0]
    if pid_text.isdigit() and os.name == "posix":
        pid = int(pid_text)
        if pid == os.getpid():
            return False  # another thread of this process may be writing it right now
        try:
            os.kill(pid, 0)  # signal 0 only asks whether the process exists
        except ProcessLookupError:
            return True
        except OSError:
            return False  # exists, owned by someone else
        return False
    with contextlib.suppress(OSError):
        return time.time() - part.stat().st_mtime > STALE_PART_AGE_S
    return False


def _read_umask() -> int:
    # The only way to read the umask is to set it; done once at import, not while threads write files.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _set_mode(tmp: Path, target: Path) -> None:
    # mkstemp makes 0600 files; a saved document keeps the target's mode, or gets the umask default.
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_UMASK
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes the rename durable; not every platform allows it.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
