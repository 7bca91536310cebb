"""Stable Diffusion models the user has: tiny random-weight pipelines built here, opened offline and drawn with."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

pytest.importorskip("diffusers")

from aigc_studio.core.jobs import CancelToken, run_job  # noqa: E402
from aigc_studio.errors import Cancelled, ModelFileError, StudioError  # noqa: E402
from aigc_studio.image.diffusion.jobs import DiffusionJob, DiffusionSettings  # noqa: E402
from aigc_studio.image.diffusion.source import inspect_source  # noqa: E402
from aigc_studio.image.recipe import read_recipe, save_png  # noqa: E402

from .diffusion_fixtures import SIZE, sd_models  # noqa: E402, F401 - sd_models is a fixture


def settings(**kw) -> DiffusionSettings:
    base = {
        "prompt": "a red house",
        "steps": 2,
        "cfg": 5.0,
        "width": SIZE,
        "height": SIZE,
        "seed": 7,
        "scheduler": "euler",
    }
    return DiffusionSettings(**{**base, **kw})


def draw(model, **kw):
    logs = []
    result = run_job(DiffusionJob(model, settings(**kw)), on_log=logs.append)
    return result, logs


def test_same_seed_same_picture_and_the_recipe_says_how(sd_models):  # noqa: F811 - the fixture
    a, _ = draw(sd_models["folder"], count=2)
    b, _ = draw(sd_models["folder"], seed=8)
    assert [i["image"].shape for i in a["items"]] == [(SIZE, SIZE, 3)] * 2
    assert np.array_equal(a["items"][1]["image"], b["items"][0]["image"])  # image 2 of seed 7 is seed 8
    assert not np.array_equal(a["items"][0]["image"], a["items"][1]["image"])
    recipe = a["items"][0]["recipe"]
    assert recipe["prompt"] == "a red house" and recipe["seed"] == 7 and recipe["scheduler"] == "euler"
    assert recipe["model_kind"] == "image-diffusion" and len(recipe["model_hash"]) == 64


def test_single_file_checkpoint_loads_offline_with_the_same_weights(sd_models):  # noqa: F811 - the fixture
    from aigc_studio.image.diffusion.loading import load_diffusion_model

    source = inspect_source(sd_models["file"])
    assert (source.family, source.layout, source.inpainting) == ("sd1", "file", False)
    model = load_diffusion_model(sd_models["file"])
    folder = load_diffusion_model(sd_models["folder"])
    for part in ("unet", "vae", "text_encoder"):
        mine, theirs = getattr(model.base, part).state_dict(), getattr(folder.base, part).state_dict()
        assert all(np.array_equal(mine[k].reshape(v.shape).numpy(), v.numpy()) for k, v in theirs.items()), part
    # The tokenizer built from the shipped CLIP merges gives CLIP's real ids.
    assert model.base.tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    result = run_job(DiffusionJob(sd_models["file"], settings()))
    assert result["items"][0]["image"].shape == (SIZE, SIZE, 3)


@pytest.mark.slow  # builds the inpainting model and draws five pictures
def test_img2img_and_inpainting_from_a_picture(sd_models, tmp_path):  # noqa: F811 - the fixture
    start = np.zeros((SIZE, SIZE, 3), np.uint8)
    start[:, : SIZE // 2] = (200, 40, 40)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[SIZE // 4 : 3 * SIZE // 4, SIZE // 4 : 3 * SIZE // 4] = 255
    img2img, _ = draw(sd_models["folder"], mode="img2img", init_image=start, strength=0.5, steps=4)
    masked, _ = draw(sd_models["folder"], mode="inpaint", init_image=start, mask=mask, strength=0.5, steps=4)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(start).save(tmp_path / "start.png")
    model_made, _ = draw(
        sd_models["inpaint"], mode="inpaint", init_image=tmp_path / "start.png", mask=tmp_path / "mask.png"
    )
    for result, op in ((img2img, "img2img"), (masked, "inpaint"), (model_made, "inpaint")):
        item = result["items"][0]
        assert item["image"].shape == (SIZE, SIZE, 3) and item["recipe"]["op"] == op
    assert img2img["items"][0]["recipe"]["strength"] == 0.5
    assert not np.array_equal(img2img["items"][0]["image"], masked["items"][0]["image"])


def test_progress_every_step_with_previews_and_cancel_at_the_next_step(sd_models):  # noqa: F811 - the fixture
    reports, token = [], CancelToken()

    def on_progress(report):
        reports.append(report)
        if "step 2/" in report.message:
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(DiffusionJob(sd_models["folder"], settings(steps=6)), on_progress=on_progress, cancel_token=token)
    steps = [r.message for r in reports if "step " in r.message]
    assert steps == ["Picture 1/1: step 1/6", "Picture 1/1: step 2/6"]  # stopped right after the step it was asked in
    preview = next(r.preview for r in reports if r.preview is not None)
    assert preview.dtype == np.uint8 and preview.shape == (SIZE // 2, SIZE // 2, 3)


def test_out_of_memory_steps_down_with_a_log_line_never_a_crash(sd_models, monkeypatch):  # noqa: F811 - the fixture
    import torch
    from diffusers import StableDiffusionPipeline

    real_call = StableDiffusionPipeline.__call__
    failures = {"left": 1}

    def flaky(self, *args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionPipeline, "__call__", flaky)
    result, logs = draw(sd_models["folder"], seed=11)
    assert result["items"][0]["image"].shape == (SIZE, SIZE, 3)
    assert any("attention slicing" in line for line in logs)
    failures["left"] = 5  # on the CPU there is nothing left to give up after slicing: a clear error
    with pytest.raises(StudioError, match="Out of memory drawing with tiny-sd"):
        draw(sd_models["folder"], seed=12)


def test_a1111_parameters_and_our_json_round_trip_and_regenerate(sd_models, tmp_path):  # noqa: F811 - the fixture
    result, _ = draw(sd_models["folder"], negative_prompt="blurry, dark", cfg=6.5, scheduler="dpmpp_2m")
    item = result["items"][0]
    path = save_png(tmp_path / "pic.png", item["image"], item["recipe"])
    with Image.open(path) as im:
        text = im.text["parameters"]
    prompt, negative, fields = text.split("\n")
    assert prompt == "a red house" and negative == "Negative prompt: blurry, dark"
    assert fields.startswith("Steps: 2, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: 7, Size: 32x32, Model hash: ")
    assert f"Model hash: {item['recipe']['model_hash'][:10]}, Model: tiny-sd" in fields
    recipe = read_recipe(path)
    assert recipe == json.loads(json.dumps(dict(item["recipe"], scale=1)))
    again = run_job(
        DiffusionJob(
            sd_models["folder"],
            settings(
                **{
                    k: recipe[k]
                    for k in ("prompt", "negative_prompt", "steps", "cfg", "seed", "scheduler", "width", "height")
                }
            ),
        )
    )
    assert np.array_equal(again["items"][0]["image"], item["image"])


def test_an_automatic1111_png_fills_in_prompt_and_settings(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "masterpiece, a castle on a hill, (sunset:1.2)\nNegative prompt: lowres, bad anatomy\n"
        "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 1234567890, Size: 512x768, "
        'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.4, Lora hashes: "a: 1, b: 2", Version: v1.10.1',
    )
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=info)
    recipe = read_recipe(tmp_path / "a1111.png")
    assert recipe["prompt"] == "masterpiece, a castle on a hill, (sunset:1.2)"
    assert recipe["negative_prompt"] == "lowres, bad anatomy"
    assert (recipe["steps"], recipe["cfg"], recipe["seed"]) == (30, 7.5, 1234567890)
    assert (recipe["width"], recipe["height"], recipe["scheduler"]) == (512, 768, "dpmpp_2m_karras")
    assert (recipe["model"], recipe["model_hash"], recipe["strength"]) == ("v1-5-pruned-emaonly", "6ce0161689", 0.4)
    assert recipe["a1111"]["Lora hashes"] == "a: 1, b: 2"


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_every_refusal_names_the_file_and_the_reason(sd_models, tmp_path):  # noqa: F811 - the fixture
    no_index = _copy(sd_models["folder"], tmp_path / "no-index")
    (no_index / "model_index.json").unlink()
    no_weights = _copy(sd_models["folder"], tmp_path / "no-weights")
    for f in (no_weights / "unet").glob("*.safetensors"):
        f.unlink()
    pickled = _copy(sd_models["folder"], tmp_path / "pickled")
    for f in (pickled / "vae").glob("*.safetensors"):
        f.rename(f.with_name("diffusion_pytorch_model.bin"))
    custom = _copy(sd_models["folder"], tmp_path / "custom")
    index = json.loads((custom / "model_index.json").read_text())
    index["unet"] = ["my_unet", "FancyUNet"]
    (custom / "model_index.json").write_text(json.dumps(index))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(sd_models["file"].read_bytes()[: sd_models["file"].stat().st_size // 2])
    cases = [
        (no_index, {}, "no-index has no model_index.json"),
        (no_weights, {}, "no-weights is missing weights: unet/ has no .safetensors file"),
        (pickled, {}, "pickled was not opened: its weights are Python pickle files (vae/diffusion_pytorch_model.bin)"),
        (custom, {}, "custom names custom pipeline code (unet = my_unet.FancyUNet)"),
        (sd_models["sdxl"], {"family": "sd1"}, "tiny-sdxl.safetensors is an SDXL model, not Stable Diffusion 1.x"),
        (truncated, {}, "truncated.safetensors is truncated"),
    ]
    for path, kw, message in cases:
        with pytest.raises(ModelFileError) as caught:
            inspect_source(path, **kw)
        assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert inspect_source(pickled, allow_pickle=True).needs_pickle  # allowed for that folder, it opens


@pytest.mark.slow  # unpickles and loads a whole checkpoint again
def test_a_pickle_checkpoint_opens_only_when_allowed(sd_models, tmp_path):  # noqa: F811 - the fixture
    import torch
    from safetensors.torch import load_file

    from aigc_studio.image.diffusion.loading import load_diffusion_model

    ckpt = tmp_path / "old-model.ckpt"
    torch.save({"state_dict": load_file(str(sd_models["file"]))}, ckpt)
    with pytest.raises(ModelFileError, match=r"^old-model.ckpt was not opened: its weights are Python pickle files"):
        load_diffusion_model(ckpt)
    model = load_diffusion_model(ckpt, allow_pickle=True)
    assert (model.family, model.source.pipeline) == ("sd1", "StableDiffusionPipeline")
    assert inspect_source(sd_models["sdxl"]).family == "sdxl"


@pytest.mark.slow  # two fresh processes import torch and diffusers
def test_cli_writes_pngs_with_a1111_text_and_refuses_in_one_line(sd_models, tmp_path):  # noqa: F811 - the fixture
    cmd = [sys.executable, "-m", "aigc_studio", "--device", "cpu", "generate", "image", "--model"]
    args = ["--prompt", "a blue tree", "--steps", "2", "--width", "32", "--height", "32", "--seed", "3", "--n", "2"]
    done = subprocess.run(
        [*cmd, str(sd_models["file"]), *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "out").glob("*.png"))
    assert [f.name for f in files] == ["0000000003-000.png", "0000000004-001.png"]
    assert read_recipe(files[1])["seed"] == 4 and "Size: 32x32" in Image.open(files[0]).text["parameters"]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 10**9) + b"{}")
    done = subprocess.run(
        [*cmd, str(bad), *args, "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stderr.strip().count("\n") == 0 and "bad.safetensors" in done.stderr


def test_without_diffusers_opening_says_which_extra_to_install(sd_models, monkeypatch):  # noqa: F811 - the fixture
    from aigc_studio.image.diffusion.loading import load_diffusion_model

    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(StudioError, match=r"pip install 'aigc-studio\[diffusion\]'"):
        load_diffusion_model(sd_models["folder"])
