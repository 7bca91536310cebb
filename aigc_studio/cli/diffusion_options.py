"""``aigc-studio generate image`` options for Stable Diffusion models (prompt, steps, CFG, img2img, inpainting)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aigc_studio.errors import InputError


def add_diffusion_options(g: argparse.ArgumentParser) -> None:
    """Prompt and sampler options; they apply when --model is a diffusers folder or an SD checkpoint."""
    from aigc_studio.image.diffusion.schedulers import SCHEDULERS

    d = g.add_argument_group("Stable Diffusion models (a diffusers folder or a single-file checkpoint)")
    d.add_argument("--prompt", default=None, help="what to draw")
    d.add_argument("--negative-prompt", default="", help="what to avoid")
    d.add_argument("--steps", type=int, default=None, help="denoising steps (default: 25, or 4 for LCM/Turbo models)")
    d.add_argument("--cfg", type=float, default=None, help="guidance scale (default 7, or 1 for few-step models)")
    d.add_argument("--width", type=int, default=None, help="multiple of 8 (default: the model's native size)")
    d.add_argument("--height", type=int, default=None, help="multiple of 8 (default: the model's native size)")
    d.add_argument("--scheduler", choices=tuple(SCHEDULERS), default=None, help="sampler (default: DPM++ 2M, or LCM)")
    d.add_argument("--init-image", default=None, help="start from this picture (img2img)")
    d.add_argument("--strength", type=float, default=0.75, help="how much of the init picture is redrawn (0-1)")
    d.add_argument("--mask", default=None, help="inpaint: white where the picture is redrawn (needs --init-image)")
    d.add_argument("--family", choices=("auto", "sd1", "sd2", "sdxl"), default="auto", help="model family check")
    d.add_argument(
        "--allow-pickle", action="store_true", help="allow .bin weights in a folder you trust (pickles can run code)"
    )


def wants_diffusion(args: argparse.Namespace) -> bool:
    """True when --model is a diffusion model; a prompt for any other model is refused here."""
    from aigc_studio.image.diffusion.source import looks_like_diffusion

    if looks_like_diffusion(Path(args.model).expanduser()):
        return True
    if args.prompt is not None:
        raise InputError(
            f"--prompt needs a Stable Diffusion model (a diffusers folder or an SD/SDXL checkpoint); {args.model} is not one."
        )
    return False


def generate_diffusion(args: argparse.Namespace) -> int:
    """Run the diffusion job and write PNGs named like GAN output, with A1111 text and our JSON recipe."""
    from aigc_studio.cli.runner import run_in_terminal
    from aigc_studio.image.diffusion.jobs import DiffusionJob, DiffusionSettings
    from aigc_studio.image.diffusion.source import inspect_source
    from aigc_studio.image.export import contact_sheet, save_image
    from aigc_studio.image.jobs import random_seed
    from aigc_studio.image.recipe import save_png

    if args.prompt is None:
        raise InputError(f"{Path(args.model).name} is a Stable Diffusion model: give --prompt TEXT.")
    if args.mask and not args.init_image:
        raise InputError("--mask needs --init-image (the picture to inpaint).")
    family = None if args.family == "auto" else args.family
    source = inspect_source(args.model, family, args.allow_pickle)
    defaults = source.default_settings()
    seed = args.seed if args.seed is not None else random_seed()
    settings = DiffusionSettings(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        steps=args.steps or defaults["steps"],
        cfg=args.cfg if args.cfg is not None else defaults["cfg"],
        width=args.width,
        height=args.height,
        seed=seed,
        count=1 if args.n is None else args.n,
        scheduler=args.scheduler or defaults["scheduler"],
        mode="inpaint" if args.mask else ("img2img" if args.init_image else "txt2img"),
        init_image=args.init_image,
        mask=args.mask,
        strength=args.strength,
        source_name=Path(args.init_image).name if args.init_image else "",
    )
    job = DiffusionJob(source.path, settings, family, args.allow_pickle)
    result = run_in_terminal(job, device=args.device or "auto", seed=seed)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out must be a folder.")
    out.mkdir(parents=True, exist_ok=True)
    for item in result["items"]:
        recipe = item["recipe"]
        save_png(out / f"{recipe['seed']:010d}-{recipe['index']:03d}.png", item["image"], recipe, scale=args.scale)
    if args.sheet:
        save_image(contact_sheet([i["image"] for i in result["items"]]), out / "contact-sheet.png")
    print(f"wrote {len(result['items'])} PNGs to {out} (seed {seed})")
    return 0
