"""Reading a user's text file: encoding detection, binary refusal and a size limit for the editor.

UTF-8 (with or without BOM) and UTF-16/32 with a BOM or the tell-tale NUL
pattern are read as such; other bytes fall back to cp1252, then Latin-1, and
the caller is told which encoding was used. Binary files (NUL bytes, many
control characters) are refused, never shown or fed to a model as text.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from aigc_studio.errors import InputError

# A long novel is about 3 MB of text; far larger files freeze the editor while it lays them out.
EDITOR_MAX_BYTES = 10_000_000
_CONTROL_OK = {9, 10, 12, 13, 27}  # tab, newlines, form feed, escape (ANSI colours in logs)
_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UTF8 = ("utf-8", "utf-8-sig")


def looks_binary(data: bytes) -> bool:
    """True for data with NUL bytes or many control characters (images, archives, models)."""
    sample = data[:65536]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in _CONTROL_OK)
    return control / len(sample) > 0.05


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when every other byte is NUL, as in mostly-ASCII UTF-16 text."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.6 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.6 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def decode_text(data: bytes, name: str = "text") -> tuple[str, str]:
    """Decode bytes as text; returns (text, encoding used). Raises InputError for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding.replace("-sig", ""), errors="replace"), encoding
    wide = _utf16_without_bom(data)
    if wide:
        text = data.decode(wide, errors="replace")
        if not looks_binary(text[:65536].encode("utf-8", errors="replace").replace(b"\x00", b"\x01")):
            return text, wide
    if looks_binary(data):
        raise InputError(f"{name} looks like a binary file (it contains NUL or control bytes), not text.")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few broken bytes (a bad copy, a cut-off download): keep the UTF-8 and
    # replace the broken bytes, rather than turning every accented letter into two cp1252 ones.
    repaired = data.decode("utf-8", errors="replace")
    broken = repaired.count("\ufffd") - data.count("\ufffd".encode())
    wide_chars = sum(1 for ch in repaired if ord(ch) > 127 and ch != "\ufffd")
    if wide_chars > broken:
        return repaired, f"utf-8 with {broken} invalid byte sequence(s) replaced by \ufffd"
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def encoding_note(encoding: str) -> str:
    """A short note for the user when a file was not plain UTF-8 ('' when it was)."""
    if encoding in _UTF8:
        return ""
    return f"read as {encoding}"


def read_text_file(path: str | os.PathLike, max_bytes: int = EDITOR_MAX_BYTES) -> tuple[str, str]:
    """Read one text file (line endings normalised to \\n); returns (text, encoding)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path.name} is a folder, not a text file.")
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path.name} is {size / 1e6:,.0f} MB; text files over {max_bytes / 1e6:,.0f} MB are not opened "
            "(a long novel is about 3 MB). Split it into smaller files."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    text, encoding = decode_text(data, path.name)
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding
