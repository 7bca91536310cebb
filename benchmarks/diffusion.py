"""Seconds per denoising step: our DiffusionJob against calling the same diffusers pipeline directly.

Both draw the same picture (same pipeline object, scheduler, prompt, seed, size); ours adds
the per-step progress report, the throttled latent preview, the cancel hooks and the
recipe. Runs alternate (ours, direct, ours, ...) so machine noise hits both alike; the
first pair is a warm-up. Prints median and spread (min-max) and our overhead (target <= 5 %).

Models: the tiny random-weight pipeline of the tests (always), a random-weight SD 1.5-sized
pipeline with --sd15-random (a real step's cost, no download), and any real model with
--model PATH (a diffusers folder or a single .safetensors; skipped when not given).

Run: python benchmarks/diffusion.py [--model PATH] [--sd15-random] [--size 512] [--steps 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_OVERHEAD = 0.05
ROOT = Path(__file__).resolve().parents[1]


def build_tiny(folder: Path) -> Path:
    """The tests' tiny pipeline as a diffusers folder."""
    sys.path.insert(0, str(ROOT / "tests" / "image"))
    from diffusion_fixtures import save_tiny_folder

    return save_tiny_folder(folder / "tiny-sd")


def build_sd15_random(folder: Path) -> Path:
    """A Stable Diffusion 1.5-sized pipeline (860M-parameter UNet, full VAE and CLIP-L) with random weights."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from aigc_studio.image.diffusion.single_file import _write_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)  # the defaults are SD 1.x's layout
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    )
    text = CLIPTextModel(
        CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
    )
    _write_tokenizer(folder / "tok", "<|endoftext|>")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tok"), local_files_only=True)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(str(folder / "sd15-random"), safe_serialization=True)
    return folder / "sd15-random"


def compare(model: Path, device: str, size: int, steps: int, repeats: int) -> dict:
    """Interleaved timings of our job and the bare pipeline call; returns the medians and spreads."""
    import torch

    from aigc_studio.core.cache import ModelCache
    from aigc_studio.core.jobs import JobContext
    from aigc_studio.image.diffusion.jobs import DiffusionJob, DiffusionSettings, load_for
    from aigc_studio.image.diffusion.schedulers import make_scheduler

    cache = ModelCache()
    settings = DiffusionSettings(
        prompt="a lighthouse on a cliff at dusk, oil painting", steps=steps, cfg=7.0, width=size, height=size,
        seed=1, scheduler="euler",
    )  # fmt: skip

    def context() -> JobContext:
        return JobContext(device=device, models=cache, on_progress=lambda report: None, on_log=lambda line: None)

    m = load_for(context(), str(model))
    pipe = m.pipeline("txt2img")

    def sync() -> None:
        if m.device.type == "cuda":
            torch.cuda.synchronize()

    def ours() -> float:
        sync()
        start = time.perf_counter()
        DiffusionJob(model, settings).run(context())
        sync()
        return (time.perf_counter() - start) / steps

    def direct() -> float:
        pipe.scheduler = make_scheduler("euler", m.default_scheduler_config)  # what our job does, outside the clock
        sync()
        start = time.perf_counter()
        pipe(
            prompt=settings.prompt, num_inference_steps=steps, guidance_scale=settings.cfg, width=size, height=size,
            generator=torch.Generator("cpu").manual_seed(1), output_type="np",
        )  # fmt: skip
        sync()
        return (time.perf_counter() - start) / steps

    ours(), direct()  # warm-up: first-call allocations and kernel selection
    a, b = [], []
    for i in range(repeats):
        for fn, out in ((ours, a), (direct, b)) if i % 2 == 0 else ((direct, b), (ours, a)):
            out.append(fn())
    return {"ours": a, "direct": b, "device": m.device.type, "dtype": str(m.dtype).replace("torch.", "")}


def report(name: str, size: int, steps: int, r: dict) -> float:
    """Print one model's line and return the overhead."""
    mo, md = statistics.median(r["ours"]), statistics.median(r["direct"])
    overhead = mo / md - 1
    verdict = "ok" if overhead <= TARGET_OVERHEAD else "OVER TARGET"
    print(
        f"{name:<14} {size:>4} px {steps:>3} steps {r['device']}/{r['dtype']}: "
        f"ours {mo * 1000:8.1f} ms/step ({min(r['ours']) * 1000:.1f}-{max(r['ours']) * 1000:.1f}), "
        f"direct {md * 1000:8.1f} ms/step ({min(r['direct']) * 1000:.1f}-{max(r['direct']) * 1000:.1f}), "
        f"overhead {overhead * 100:+.1f}% [{verdict}]"
    )
    return overhead


def main() -> None:
    """Parse the options, build or find the models, and print one comparison line per model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=os.environ.get("AIGC_SD_MODEL"), help="a real diffusers folder or .safetensors"
    )
    parser.add_argument("--sd15-random", action="store_true", help="also time a random-weight SD 1.5-sized pipeline")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=512, help="picture size for the SD-sized and real models")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--tiny-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("AIGC_STUDIO_HOME", tempfile.mkdtemp(prefix="aigc-bench-diffusion-"))

    from aigc_studio.core.device import pick_device
    from aigc_studio.image.diffusion.loading import import_diffusers

    import_diffusers()
    device = str(pick_device(args.device))
    work = Path(tempfile.mkdtemp(prefix="aigc-bench-sd-"))
    print(f"diffusion benchmark: {args.repeats} interleaved repeats after a warm-up; median (min-max) per step")
    report("tiny (tests)", 32, args.tiny_steps, compare(build_tiny(work), device, 32, args.tiny_steps, args.repeats))
    if args.sd15_random:
        path = build_sd15_random(work)
        report("SD1.5 random", args.size, args.steps, compare(path, device, args.size, args.steps, args.repeats))
    if args.model:
        path = Path(args.model).expanduser()
        report(path.name[:14], args.size, args.steps, compare(path, device, args.size, args.steps, args.repeats))
    else:
        print("real model: skipped (pass --model PATH or set AIGC_SD_MODEL)")


if __name__ == "__main__":
    main()
