"""Render the Noto Color Emoji font (Debian fonts-noto-color-emoji, SIL OFL 1.1) to 64 px PNGs on white.

Usage: python resources/recipes/image/prepare_emoji.py OUT_DIR [--size 64]
Every single-codepoint emoji the font has a colour bitmap for becomes one PNG.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
RANGES = [(0x203C, 0x3300), (0x1F000, 0x1FB00)]


def render(font: ImageFont.FreeTypeFont, text: str) -> Image.Image | None:
    """The glyph as a tight RGBA crop, or None when the font has no colour bitmap for it."""
    canvas = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((20, 20), text, font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    colours = glyph.convert("RGB").getcolors(1 << 16)
    if glyph.width < 40 or glyph.height < 40 or (colours is not None and len(colours) < 8):
        return None  # tofu box or a blank placeholder, not a colour emoji
    return glyph


def to_square(glyph: Image.Image, size: int) -> Image.Image:
    """Centre on a white square with a small margin, then Lanczos-resize."""
    side = int(max(glyph.size) * 1.08)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    font = ImageFont.truetype(str(FONT), 109)
    args.out.mkdir(parents=True, exist_ok=True)
    count = 0
    for start, stop in RANGES:
        for cp in range(start, stop):
            if 0x1F3FB <= cp <= 0x1F3FF or 0x1F1E6 <= cp <= 0x1F1FF:
                continue  # skin-tone swatches and lone regional-indicator letters are not pictures
            glyph = render(font, chr(cp))
            if glyph is None:
                continue
            to_square(glyph, args.size).save(args.out / f"u{cp:05x}.png")
            count += 1
    print(f"wrote {count} emoji to {args.out}")


if __name__ == "__main__":
    main()
