"""Reading a user's picture file safely: size checked from the header before any pixel is decoded.

Every way a picture comes in (File > Open, a drop on the canvas, a training
folder) goes through :func:`read_picture`, so a zero-byte, truncated, corrupt
or decompression-bomb file is refused with the same clear message everywhere.
"""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from aigc_studio.errors import InputError

# Decoded, 90 megapixels (9 500 × 9 500) take about 270 MB: far beyond any picture the
# models use. PIL warns at the same count and refuses twice as many on its own.
MAX_PICTURE_PIXELS = 89_478_485
READABLE_FORMATS = "PNG, JPEG, WebP, BMP, GIF or TIFF"
# Pillow's decoders for exactly those (its JPEG opener also reads the multi-picture JPEGs phones write). Every
# other Pillow plugin stays closed: they see little use, and their parsers are where fuzzing finds crashes.
PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
# Pictures in other formats, recognised by their first bytes so that the refusal can name them.
_OTHER_FORMATS = (
    (b"DDS ", "a DDS texture"), (b"8BPS", "a Photoshop (PSD) file"), (b"%PDF", "a PDF document"),
    (b"%!PS", "a PostScript/EPS file"), (b"\x00\x00\x01\x00", "a Windows icon (ICO)"), (b"qoif", "a QOI image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"), (b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (b"icns", "a macOS icon (ICNS)"), (b"gimp xcf", "a GIMP (XCF) file"), (b"P6", "a PPM image"), (b"P5", "a PGM image"),
    (b"<svg", "an SVG drawing"), (b"<?xml", "an XML (SVG?) file"), (b"SIMPLE  =", "a FITS file"),
)  # fmt: skip
# read_picture refuses these sizes itself with a message for the user; PIL's warning would only add
# a stray line on stderr (set once here: warnings.catch_warnings is not thread-safe).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _too_large(name: str, what: str) -> InputError:
    return InputError(
        f"{name} says it is {what}; pictures over {MAX_PICTURE_PIXELS / 1e6:.0f} megapixels are not opened "
        "(decoding it could exhaust the memory: it may be a decompression bomb)."
    )


def read_picture(path: str | Path) -> Image.Image:
    """Open and fully decode a picture file; InputError (naming the file and the problem) if it cannot be used."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"Picture not found: {path}") from None
    except OSError as exc:
        raise InputError(f"Cannot open {name}: {exc.strerror or exc}.") from None
    if path.is_dir():
        raise InputError(f"{name} is a folder, not a picture.")
    if size == 0:
        raise InputError(f"{name} is empty (0 bytes); it is not a readable image.")
    try:
        image = Image.open(path, formats=PILLOW_FORMATS)  # reads the header only
        try:
            if image.width * image.height > MAX_PICTURE_PIXELS:  # checked before a single pixel is decoded
                raise _too_large(name, f"{image.width:,} × {image.height:,} pixels")
            image.load()
        except BaseException:
            image.close()
            raise
    except InputError:
        raise
    except Image.DecompressionBombError as exc:  # PIL's own limit, hit inside Image.open
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(name, f"{int(pixels.group(1)) / 1e6:,.0f} megapixels" if pixels else "huge") from None
    except UnidentifiedImageError:
        other = _other_format(path)
        if other:
            raise InputError(f"{name} is {other}; AIGC Studio opens {READABLE_FORMATS} pictures.") from None
        raise InputError(f"{name} is not a readable image: not a {READABLE_FORMATS} file, or damaged.") from None
    except OSError as exc:
        detail = "truncated" if "truncated" in str(exc).lower() else "damaged"
        raise InputError(f"{name} is not a readable image: the file is {detail} ({exc}).") from None
    except (ValueError, SyntaxError, struct.error, zlib.error, IndexError, KeyError, EOFError) as exc:
        # Decoders raise all of these on malformed data.
        raise InputError(f"{name} is not a readable image: the file is damaged ({type(exc).__name__}).") from None
    except MemoryError:
        raise InputError(f"{name} is too large to decode in the memory available.") from None
    except Exception as exc:  # noqa: BLE001 - a decoder's bug on a hostile file is still "cannot read", not ours
        raise InputError(f"cannot read this picture: {name} ({type(exc).__name__}: {exc})"[:300]) from None
    return image


def _other_format(path: Path) -> str | None:
    """What a file that none of our decoders accepts seems to be, from its first bytes (None if unknown)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    return next((what for magic, what in _OTHER_FORMATS if head.startswith(magic)), None)
