"""Draw the app icon (resources/icons/aigc-studio.png and .ico) with Pillow.

Run: python packaging/make_icon.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 512
OUT = Path(__file__).resolve().parent.parent / "resources" / "icons"


def draw_icon(size: int = SIZE) -> Image.Image:
    """A rounded tile with three marks: a pixel grid (image), lines (text) and notes (music)."""
    scale = size / 512
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    top, bottom = (76, 141, 255), (137, 76, 230)
    gradient = Image.new("RGBA", (size, size))
    gd = ImageDraw.Draw(gradient)
    for y in range(size):
        t = y / (size - 1)
        gd.line([(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)) + (255,))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle([8 * scale, 8 * scale, size - 8 * scale, size - 8 * scale], radius=96 * scale, fill=255)
    img.paste(gradient, (0, 0), mask)
    d = ImageDraw.Draw(img)
    white = (255, 255, 255, 255)
    soft = (255, 255, 255, 170)
    # image: a 3x3 pixel grid, top left
    for i in range(3):
        for j in range(3):
            x0, y0 = (84 + i * 48) * scale, (84 + j * 48) * scale
            d.rounded_rectangle([x0, y0, x0 + 40 * scale, y0 + 40 * scale], radius=8 * scale, fill=white if (i + j) % 2 == 0 else soft)
    # text: lines, top right
    for k, width in enumerate((150, 120, 150, 90)):
        y = (96 + k * 36) * scale
        d.rounded_rectangle([276 * scale, y, (276 + width) * scale, y + 18 * scale], radius=9 * scale, fill=white)
    # music: two beamed notes, bottom
    for x in (170, 310):
        d.ellipse([(x - 40) * scale, 360 * scale, (x + 20) * scale, 410 * scale], fill=white)
        d.rectangle([(x + 8) * scale, 280 * scale, (x + 22) * scale, 388 * scale], fill=white)
    d.polygon([(178 * scale, 270 * scale), (332 * scale, 250 * scale), (332 * scale, 290 * scale), (178 * scale, 310 * scale)], fill=white)
    return img


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    icon = draw_icon()
    icon.save(OUT / "aigc-studio.png")
    icon.resize((256, 256), Image.LANCZOS).save(OUT / "aigc-studio.ico", sizes=[(256, 256), (64, 64), (32, 32), (16, 16)])
    print(f"wrote {OUT / 'aigc-studio.png'}")
