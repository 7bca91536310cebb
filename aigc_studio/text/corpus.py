"""Reading a writer's corpus: one or many .txt/.md files or a folder of them.

Non-UTF-8 files are decoded with a detected fallback (cp1252, then latin-1);
binary files are refused, never fed to a model as text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aigc_studio.errors import InputError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
MAX_FILE_BYTES = 200 * 1024 * 1024
_CONTROL_OK = {9, 10, 12, 13}


@dataclass
class Corpus:
    """The joined text and what happened to each file on the way in."""

    text: str
    files: list[Path] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def chars(self) -> int:
        """Length in characters."""
        return len(self.text)


def looks_binary(data: bytes) -> bool:
    """True for data with NUL bytes or many control characters (images, archives, models)."""
    sample = data[:65536]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in _CONTROL_OK)
    return control / len(sample) > 0.05


def decode_text(data: bytes, name: str = "text") -> tuple[str, str]:
    """Decode bytes as text; returns (text, encoding used). Raises InputError for binary data."""
    if looks_binary(data):
        raise InputError(f"{name} looks like a binary file, not text; it was not used.")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def read_text_file(path: str | os.PathLike) -> tuple[str, str]:
    """Read one text file for the editor or the corpus; (text, encoding)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is not a file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(
            f"{path.name} is {size / 1e6:.0f} MB; text files over {MAX_FILE_BYTES // 1_000_000} MB are not opened."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    text, encoding = decode_text(data, path.name)
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def collect_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders into their .txt/.md files (recursively, sorted); keep files as given."""
    found: list[Path] = []
    for item in paths:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path} does not exist.")
    return found


def load_corpus(
    paths: str | os.PathLike | Iterable[str | os.PathLike], log: Callable[[str], None] | None = None
) -> Corpus:
    """Read and join every text file; binary files are skipped with a message (or refused if alone)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = collect_files(paths)
    if not files:
        raise InputError("No .txt or .md files found in the training data.")
    corpus = Corpus(text="")
    parts: list[str] = []
    errors: list[str] = []
    for path in files:
        try:
            text, encoding = read_text_file(path)
        except InputError as exc:
            errors.append(str(exc))
            corpus.messages.append(f"Skipped: {exc}")
            if log:
                log(f"Skipped: {exc}")
            continue
        if encoding not in ("utf-8", "utf-8-sig"):
            note = f"{path.name} is not UTF-8; read it as {encoding}."
            corpus.messages.append(note)
            if log:
                log(note)
        if text.strip():
            parts.append(text.strip("\n") + "\n")
            corpus.files.append(path)
    if not corpus.files:
        if errors:
            raise InputError(
                errors[0] if len(errors) == 1 else f"No usable text: {errors[0]} (and {len(errors) - 1} more)."
            )
        raise InputError("The training data is empty: the files contain no text.")
    corpus.text = "\n".join(parts)
    return corpus
