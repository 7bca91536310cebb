"""Tiny random-weight Stable Diffusion pipelines written by the tests: a diffusers folder and an SD 1.x single file.

Nothing is downloaded: the UNet, VAE and CLIP text encoder have a few layers with random
weights, the folder's tokenizer is a tiny vocabulary written here, and the single file is the
same weights renamed to the original (LDM) layout that Automatic1111 and ComfyUI read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

WORDS = ["a", "cat", "dog", "red", "blue", "house", "tree", "photo", "of", "painting", "sky", "sea"]
SIZE = 32  # pixels: the tiny VAE halves, so latents are 16 x 16


def write_tiny_tokenizer(folder: Path) -> None:
    """A CLIP BPE tokenizer with a few whole words and the single characters (ids far below the model's vocab)."""
    from aigc_studio.image.diffusion.single_file import bytes_to_unicode

    folder.mkdir(parents=True, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for word in WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:  # merge left to right: each merged prefix becomes a token
            merges.append(f"{pieces[0]} {pieces[1]}")
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            if pieces[0] not in vocab:
                vocab.append(pieces[0])
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    config = {
        "model_max_length": 77,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def tiny_components(seed: int = 0, in_channels: int = 4) -> dict:
    """UNet (2 levels, SD 1.x block layout), VAE (2 levels) and a 2-layer CLIP text encoder with the CLIP vocab size."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=SIZE // 2,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=SIZE,
    )
    text_config = CLIPTextConfig(
        vocab_size=49408,  # the real CLIP vocabulary size, so the single file works with the shipped tokenizer
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=1,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    text_encoder = CLIPTextModel(text_config)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading"
    )
    return {"unet": unet.eval(), "vae": vae.eval(), "text_encoder": text_encoder.eval(), "scheduler": scheduler}


def save_tiny_folder(folder: Path, inpainting: bool = False) -> Path:
    """A diffusers folder (model_index.json + components) of the tiny pipeline."""
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    write_tiny_tokenizer(folder / "_tok")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "_tok"), local_files_only=True)
    cls = StableDiffusionInpaintPipeline if inpainting else StableDiffusionPipeline
    parts = tiny_components(seed=1 if inpainting else 0, in_channels=9 if inpainting else 4)
    pipe = cls(**parts, tokenizer=tokenizer, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    for f in (folder / "_tok").iterdir():
        f.unlink()
    (folder / "_tok").rmdir()
    return folder


def _unet_to_ldm(sd: dict, levels: int = 2, layers: int = 1) -> dict:
    """Rename diffusers UNet keys to the original LDM ``model.diffusion_model.*`` layout (any depth)."""
    fixed = {
        "time_embedding.linear_1.": "time_embed.0.",
        "time_embedding.linear_2.": "time_embed.2.",
        "conv_in.": "input_blocks.0.0.",
        "conv_norm_out.": "out.0.",
        "conv_out.": "out.2.",
    }
    resnet = {
        "norm1": "in_layers.0",
        "conv1": "in_layers.2",
        "norm2": "out_layers.0",
        "conv2": "out_layers.3",
        "time_emb_proj": "emb_layers.1",
        "conv_shortcut": "skip_connection",
    }
    prefixes = {}
    for i in range(levels):
        for j in range(layers):
            prefixes[f"down_blocks.{i}.resnets.{j}."] = f"input_blocks.{1 + i * (layers + 1) + j}.0."
            prefixes[f"down_blocks.{i}.attentions.{j}."] = f"input_blocks.{1 + i * (layers + 1) + j}.1."
        if i < levels - 1:
            prefixes[f"down_blocks.{i}.downsamplers.0.conv."] = f"input_blocks.{(i + 1) * (layers + 1)}.0.op."
        has_attention = any(k.startswith(f"up_blocks.{i}.attentions.") for k in sd)
        for j in range(layers + 1):
            prefixes[f"up_blocks.{i}.resnets.{j}."] = f"output_blocks.{i * (layers + 1) + j}.0."
            prefixes[f"up_blocks.{i}.attentions.{j}."] = f"output_blocks.{i * (layers + 1) + j}.1."
        if i < levels - 1:
            up_index = 2 if has_attention else 1
            prefixes[f"up_blocks.{i}.upsamplers.0."] = f"output_blocks.{i * (layers + 1) + layers}.{up_index}."
    prefixes["mid_block.attentions.0."] = "middle_block.1."
    prefixes["mid_block.resnets.0."] = "middle_block.0."
    prefixes["mid_block.resnets.1."] = "middle_block.2."
    out = {}
    for key, value in sd.items():
        new = key
        for a, b in fixed.items():
            if new.startswith(a):
                new = b + new[len(a) :]
        for a, b in prefixes.items():
            if new.startswith(a):
                rest = new[len(a) :]
                if "resnets" in a:
                    for x, y in resnet.items():
                        rest = rest.replace(x, y)
                new = b + rest
                break
        out["model.diffusion_model." + new] = value
    return out


def _vae_to_ldm(sd: dict, levels: int = 2, layers: int = 1) -> dict:
    """Rename diffusers AutoencoderKL keys to the LDM ``first_stage_model.*`` layout (1x1 convs for attention)."""
    prefixes = {
        "mid_block.attentions.0.": "mid.attn_1.",
        "mid_block.resnets.0.": "mid.block_1.",
        "mid_block.resnets.1.": "mid.block_2.",
    }
    for i in range(levels):
        for j in range(layers):
            prefixes[f"encoder.down_blocks.{i}.resnets.{j}."] = f"encoder.down.{i}.block.{j}."
        for j in range(layers + 1):
            prefixes[f"decoder.up_blocks.{i}.resnets.{j}."] = f"decoder.up.{levels - 1 - i}.block.{j}."
        if i < levels - 1:
            prefixes[f"encoder.down_blocks.{i}.downsamplers.0."] = f"encoder.down.{i}.downsample."
            prefixes[f"decoder.up_blocks.{i}.upsamplers.0."] = f"decoder.up.{levels - 1 - i}.upsample."
    attention = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}
    out = {}
    for key, value in sd.items():
        new = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        for a, b in prefixes.items():
            if a in new:
                new = new.replace(a, b)
                break
        if ".mid.attn_1." in new:
            for a, b in attention.items():
                if a in new:
                    new = new.replace(a, b)
                    if value.ndim == 2:
                        value = value[:, :, None, None]
        out["first_stage_model." + new] = value
    return out


def save_tiny_single_file(path: Path, family: str = "sd1") -> Path:
    """The tiny pipeline as one LDM-layout .safetensors checkpoint (what A1111 users have)."""
    from safetensors.torch import save_file

    parts = tiny_components(seed=0)
    tensors = {}
    tensors.update(_unet_to_ldm(parts["unet"].state_dict()))
    tensors.update(_vae_to_ldm(parts["vae"].state_dict()))
    for key, value in parts["text_encoder"].state_dict().items():
        # Real checkpoints hold the transformers 4 names (text_model.*), whatever transformers writes today.
        tensors["cond_stage_model.transformer." + ("" if key.startswith("text_model.") else "text_model.") + key] = (
            value
        )
    if family == "sdxl":  # only the names matter: an SDXL checkpoint has a second, OpenCLIP text encoder
        tensors = {
            k.replace("cond_stage_model.transformer.", "conditioner.embedders.0.transformer."): v
            for k, v in tensors.items()
        }
        tensors["conditioner.embedders.1.model.positional_embedding"] = parts["unet"].conv_in.bias[:4].clone()[None]
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


@pytest.fixture(scope="session")
def sd_models(tmp_path_factory):
    """The tiny models, built once per session: a diffusers folder and SD 1.x / SDXL-named single files.

    The inpainting folder is built on first use of ``sd_models["inpaint"]`` (only slow tests need it).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("sd")
    models = LazyModels(
        {
            "folder": save_tiny_folder(root / "tiny-sd"),
            "file": save_tiny_single_file(root / "tiny-sd1.safetensors"),
            "sdxl": save_tiny_single_file(root / "tiny-sdxl.safetensors", family="sdxl"),
        }
    )
    models.builders["inpaint"] = lambda: save_tiny_folder(root / "tiny-sd-inpainting", inpainting=True)
    torch.set_num_threads(before)
    return models


class LazyModels(dict):
    """A dict of model paths whose rarely used entries are built when first asked for."""

    def __init__(self, built: dict) -> None:
        super().__init__(built)
        self.builders: dict = {}

    def __missing__(self, key: str) -> Path:
        self[key] = self.builders[key]()
        return self[key]
