"""``aigc-studio generate image`` and ``aigc-studio train image-gan|image-vae`` for the image studio."""

from __future__ import annotations

import argparse
from pathlib import Path

from aigc_studio.cli.train_options import add_card_options, add_run_options
from aigc_studio.errors import InputError


def register(generate: argparse._SubParsersAction, train: argparse._SubParsersAction) -> None:
    """Add this studio's generate and train sub-commands."""
    g = generate.add_parser("image", help="generate PNGs (with the recipe embedded) from an image GAN or VAE")
    g.add_argument(
        "--model",
        required=True,
        help="model name or .safetensors file (image-gan or image-vae), or a Stable Diffusion folder or checkpoint",
    )
    g.add_argument("--n", type=int, default=None, help="number of images (16 for a GAN or VAE, 1 for diffusion)")
    g.add_argument(
        "--seed", type=int, default=None, help="seed of the first image (image i uses seed + i); random if omitted"
    )
    g.add_argument("--psi", type=float, default=1.0, help="truncation: below 1 trades variety for quality (e.g. 0.7)")
    g.add_argument("--scale", type=int, choices=(1, 2, 4), default=1, help="Lanczos upscale factor of the PNGs")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--sheet", action="store_true", help="also write contact-sheet.png")
    from aigc_studio.cli.diffusion_options import add_diffusion_options

    add_diffusion_options(g)
    g.set_defaults(func=_generate)

    for kind, helptext in (
        ("image-gan", "train a GAN (DiffAugment, EMA, hinge loss) on a folder of images"),
        ("image-vae", "train a convolutional VAE (L1 + SSIM) on a folder of images"),
    ):
        t = train.add_parser(kind, help=helptext)
        t.add_argument("--data", required=True, help="folder of PNG/JPEG/WebP images (searched recursively)")
        t.add_argument("--resolution", type=int, choices=(32, 64, 128, 256), default=64)
        t.add_argument("--size", choices=("tiny", "small", "medium"), default="small", help="model size preset")
        t.add_argument("--steps", type=int, default=2000, help="total steps (also when resuming)")
        t.add_argument("--batch-size", "--batch", dest="batch_size", type=int, default=32)
        t.add_argument("--lr", type=float, default=None)
        t.add_argument("--fit", choices=("crop", "pad"), default="crop", help="centre-crop or pad non-square images")
        t.add_argument("--no-flip", action="store_true", help="do not mirror images at random")
        add_run_options(t, seed=1234, checkpoint_every=250)
        t.add_argument(
            "--sample-every",
            "--preview-every",
            dest="sample_every",
            type=int,
            default=100,
            help="a preview grid every N steps",
        )
        t.add_argument("--preview-dir", default=None, help="also save each preview grid as a PNG here")
        add_card_options(t)
        if kind == "image-gan":
            t.add_argument("--augment", default="color,translation,cutout", help="DiffAugment policy ('' for none)")
        t.set_defaults(func=_train, kind_name=kind)


def _generate(args: argparse.Namespace) -> int:
    from aigc_studio.cli.diffusion_options import generate_diffusion, wants_diffusion
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.image.export import contact_sheet, save_image
    from aigc_studio.image.jobs import GenerateImagesJob, random_seed
    from aigc_studio.image.recipe import save_png

    if wants_diffusion(args):
        return generate_diffusion(args)
    args.n = 16 if args.n is None else args.n
    if args.n < 1:
        raise InputError("--n must be at least 1.")
    from aigc_studio.core.registry import resolve_model

    resolve_model(args.model, ("image-gan", "image-vae"))  # a bad model file is refused before torch is imported
    seed = args.seed if args.seed is not None else random_seed()
    job = GenerateImagesJob(model=args.model, count=args.n, seed=seed, psi=args.psi)
    result = run_in_terminal(job, device=args.device or "auto", seed=seed)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out must be a folder.")
    out.mkdir(parents=True, exist_ok=True)
    for item in result.items:
        recipe = item["recipe"]
        save_png(out / f"{recipe['seed']:010d}-{recipe['index']:03d}.png", item["image"], recipe, scale=args.scale)
    if args.sheet:
        save_image(contact_sheet([i["image"] for i in result.items]), out / "contact-sheet.png")
    result.path = str(out)
    print(f"wrote {len(result.items)} PNGs to {out} (seed {result.seed})")
    return 0


def _train(args: argparse.Namespace) -> int:
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.cli.train_options import apply_training_options
    from aigc_studio.core.events import Preview
    from aigc_studio.image.jobs import train_job
    from aigc_studio.image.training import ImageTrainSettings

    apply_training_options(args)
    settings = ImageTrainSettings(
        data=args.data,
        out=args.out,
        kind=args.kind_name,
        resolution=args.resolution,
        size=args.size,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        fit=args.fit,
        flip=not args.no_flip,
        resume=args.resume,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        sample_every=args.sample_every,
        name=args.name,
        description=args.description,
        license=args.license,
        data_sources=args.data_sources,
    )
    if args.kind_name == "image-gan":
        settings.augment = args.augment
    preview_dir = Path(args.preview_dir) if args.preview_dir else None

    def on_partial(event):
        if preview_dir is not None and isinstance(event, Preview):
            from PIL import Image

            from aigc_studio.image.export import save_image

            save_image(Image.fromarray(event.image), preview_dir / f"step{event.step:06d}.png")

    result = run_in_terminal(train_job(settings), device=args.device or "auto", seed=args.seed, on_partial=on_partial)
    print(result.summary())
    return 0
