"""Write one 8x8 sheet of samples per class of a class-conditional GAN (seeds 1-64, psi 0.7 by default).

Usage: python resources/recipes/image/class_sheets.py MODEL.safetensors OUT_DIR [--psi 0.7] [--seed 1]
The same pictures as ``aigc-studio generate image --model MODEL --class NAME --n 64 --seed 1 --psi 0.7 --sheet``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from aigc_studio.image.export import contact_sheet, save_image
from aigc_studio.image.model import load_image_model
from aigc_studio.image.sampling import one_hot, seed_latents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("out", type=Path)
    parser.add_argument("--psi", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--colours", type=int, default=0, help="palette size to keep the PNGs small (0: full colour)")
    args = parser.parse_args()
    model = load_image_model(args.model)
    latents = seed_latents(args.seed, 64, model.latent_dim)
    stem = Path(args.model).stem
    for index, name in enumerate(model.classes or ["all"]):
        labels = one_hot(index, len(model.classes), 64) if model.classes else None
        pictures = model.decode(latents, args.psi, labels=labels)
        sheet = contact_sheet(list(pictures), columns=8)
        if args.colours:
            sheet = sheet.quantize(args.colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        path = save_image(sheet, args.out / f"{stem}-{name}.png")
        print(path)


if __name__ == "__main__":
    main()
