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
        image = Image.open(path)  # reads the header only
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
        raise InputError(f"{name} is not a readable image: not a {READABLE_FORMATS} file, or damaged.") from None
    except OSError as exc:
        detail = "truncated" if "truncated" in str(exc).lower() else "damaged"
        raise InputError(f"{name} is not a readable image: the file is {detail} ({exc}).") from None
    except (ValueError, SyntaxError, struct.error, zlib.error, IndexError, KeyError, EOFError) as exc:
        # Decoders raise all of these on malformed data.
        raise InputError(f"{name} is not a readable image: the file is damaged ({type(exc).__name__}).") from None
    except MemoryError:
        raise InputError(f"{name} is too large to decode in the memory available.") from None
    return image
