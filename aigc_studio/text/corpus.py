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
from aigc_studio.text.document_io import decode_text, encoding_note, looks_binary, read_text_file

__all__ = ["Corpus", "collect_files", "decode_text", "load_corpus", "looks_binary", "read_text_file"]

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
# The trainers hold the whole text and its tokens in memory, and BPE-encoding 20 MB at once
# peaks at about 3 GB (measured); 20 MB (some 40 novels) is far more than a few thousand
# steps of the small models can see anyway.
MAX_CORPUS_BYTES = 20_000_000


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
    paths = list(paths)
    files = collect_files(paths)
    if not files:
        where = ", ".join(str(p) for p in paths[:3])
        raise InputError(f"No .txt or .md files found in the training data ({where}).")
    _check_total_size(files)
    corpus = Corpus(text="")
    parts: list[str] = []
    errors: list[str] = []
    for path in files:
        try:
            text, encoding = read_text_file(path, max_bytes=MAX_CORPUS_BYTES)
        except InputError as exc:
            errors.append(str(exc))
            corpus.messages.append(f"Skipped: {exc}")
            if log:
                log(f"Skipped: {exc}")
            continue
        if encoding_note(encoding):
            note = f"{path.name} is not plain UTF-8; {encoding_note(encoding)}."
            corpus.messages.append(note)
            if log:
                log(note)
        if text.strip():
            parts.append(text.strip("\n") + "\n")
            corpus.files.append(path)
        else:
            errors.append(f"{path.name} is empty.")
    if not corpus.files:
        if len(files) == 1:
            raise InputError(errors[0] if "empty" not in errors[0] else f"The training data is empty: {errors[0]}")
        where = ", ".join(str(p) for p in paths[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise InputError(f"No usable training text in {where}: {' '.join(errors[:3])}{more}")
    corpus.text = "\n".join(parts)
    return corpus


def _check_total_size(files: list[Path]) -> None:
    """Refuse (before reading a byte) training text larger than the trainers can hold."""
    sizes = [(p.stat().st_size, p) for p in files]
    total = sum(size for size, _ in sizes)
    if total > MAX_CORPUS_BYTES:
        biggest = max(sizes)[1]
        raise InputError(
            f"The training text is {total / 1e6:,.0f} MB (largest file: {biggest.name}); the text trainers "
            f"read it all into memory and take at most {MAX_CORPUS_BYTES / 1e6:,.0f} MB. Use a part of it."
        )
