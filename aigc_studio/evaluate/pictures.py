"""Small pictures for reports and the dialog: PNG bytes of a sample image or a piano-roll snippet."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from aigc_studio.music.analysis import pitched_notes
from aigc_studio.music.song import Song


def png_bytes(image: np.ndarray, scale: int = 2) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes, enlarged ``scale`` times without smoothing."""
    im = Image.fromarray(np.asarray(image, np.uint8))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def piano_roll(song: Song, width: int = 256, height: int = 96, highlight: tuple[int, int] | None = None) -> np.ndarray:
    """A piano-roll picture of a short piece: time left to right, pitch upwards, one row per semitone.

    ``highlight`` marks top-line onsets [a, b) (a copied melody) in orange; other notes are blue.
    """
    img = np.full((height, width, 3), 250, np.uint8)
    notes = pitched_notes(song)
    if not notes:
        return img
    lo = min(n.pitch for n in notes) - 1
    hi = max(n.pitch for n in notes) + 1
    end = max(n.end for n in notes) or 1
    row = max(1, height // max(12, hi - lo + 1))
    from aigc_studio.evaluate.music import melody

    line = melody(song)
    top = dict(line[highlight[0] : highlight[1]]) if highlight else {}
    for bar in range(0, end, max(1, song.bar_ticks)):  # bar lines
        img[:, int(bar / end * (width - 1))] = (215, 215, 215)
    for n in notes:
        x0 = int(n.start / end * (width - 1))
        x1 = max(x0 + 1, int(n.end / end * (width - 1)))
        y = height - 1 - int((n.pitch - lo) / (hi - lo + 1) * height)
        colour = (230, 120, 20) if top.get(n.start) == n.pitch else (40, 90, 200)
        img[max(0, y - row + 1) : y + 1, x0:x1] = colour
    return img


def data_uri(png: bytes) -> str:
    """PNG bytes as a data: URI for an <img> tag."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
