"""Single-file Stable Diffusion checkpoints (the A1111/ComfyUI ``.safetensors``): family from tensor names, offline configs.

The family is read from the safetensors header (names and shapes, no weights) before
anything is loaded. diffusers needs a folder of config files beside the weights; it would
fetch them from the Hub, so we write them ourselves from the tensor shapes, with the CLIP
tokenizer built from the BPE merges shipped in this package.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc_studio.core.atomic import atomic_write_text
from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.errors import ModelFileError

FAMILIES = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "SDXL"}
NATIVE_SIZE = {"sd1": 512, "sd2": 768, "sdxl": 1024}
UNET = "model.diffusion_model."
VAE = "first_stage_model."
MERGES_FILE = Path(__file__).with_name("clip_merges.txt")
MAX_HEADER_BYTES = 100_000_000


@dataclass(frozen=True)
class CheckpointInfo:
    """What the header of a single-file checkpoint says: its family and whether it is an inpainting model."""

    family: str
    inpainting: bool
    shapes: dict[str, tuple[int, ...]]

    @property
    def label(self) -> str:
        """E.g. "Stable Diffusion 1.x (inpainting)"."""
        return FAMILIES[self.family] + (" (inpainting)" if self.inpainting else "")


def read_header(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors header; refuses truncated or foreign files, naming them."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ModelFileError(f"{path.name} is not a safetensors file (it is only {size} bytes).")
            (length,) = struct.unpack("<Q", head)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise ModelFileError(f"{path.name} is not a readable safetensors file (damaged or truncated header).")
            header = parse_untrusted_json(f.read(length), max_bytes=MAX_HEADER_BYTES)
    except (OSError, UnsafeJson) as exc:
        if isinstance(exc, OSError):
            raise ModelFileError(f"Cannot read {path.name}: {exc.strerror or exc}.") from None
        raise ModelFileError(f"{path.name} is not a readable safetensors file (damaged header).") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name} is not a readable safetensors file (damaged header).")
    shapes: dict[str, tuple[int, ...]] = {}
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            shapes[name] = tuple(int(s) for s in entry["shape"])
            end = max(end, int(entry["data_offsets"][1]))
        except (TypeError, KeyError, ValueError, IndexError):
            raise ModelFileError(f"{path.name} is not a readable safetensors file (damaged entry {name!r}).") from None
    if 8 + length + end > size:
        raise ModelFileError(
            f"{path.name} is truncated: its header lists {8 + length + end:,} bytes but the file has {size:,} "
            "(an interrupted download or copy). Download it again."
        )
    return shapes


def detect_family(path: Path, shapes: dict[str, tuple[int, ...]]) -> CheckpointInfo:
    """SD 1.x, 2.x or SDXL from the tensor names; ModelFileError for anything else (a LoRA, a lone VAE, a refiner)."""
    conv_in = shapes.get(UNET + "input_blocks.0.0.weight")
    if conv_in is None:
        what = "a LoRA or other add-on" if any("lora" in k for k in list(shapes)[:200]) else "not a full checkpoint"
        raise ModelFileError(
            f"{path.name} is {what}: it has no Stable Diffusion UNet (model.diffusion_model.*). "
            "Open a full SD 1.x, 2.x or SDXL checkpoint."
        )
    if any(k.startswith("conditioner.embedders.1.model.") for k in shapes):
        family = "sdxl"
    elif any(k.startswith("conditioner.embedders.0.model.") for k in shapes):
        raise ModelFileError(f"{path.name} is an SDXL refiner; it needs a base model's pictures and is not supported.")
    elif any(k.startswith("cond_stage_model.model.") for k in shapes):
        family = "sd2"
    elif any(k.startswith("cond_stage_model.transformer.") for k in shapes):
        family = "sd1"
    else:
        raise ModelFileError(
            f"{path.name} has a UNet but no text encoder this app knows (CLIP or OpenCLIP): "
            "not an SD 1.x, 2.x or SDXL checkpoint."
        )
    if not any(k.startswith(VAE) for k in shapes):
        raise ModelFileError(f"{path.name} has no VAE (first_stage_model.*); it is not a complete checkpoint.")
    return CheckpointInfo(family, conv_in[1] == 9, shapes)


# --- config files written from the shapes ---


def _count(shapes: dict, pattern: str) -> int:
    found = {int(m.group(1)) for k in shapes if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def unet_config(info: CheckpointInfo) -> dict[str, Any]:
    """UNet2DConditionModel config: levels, channels, attention and text width from the LDM tensor shapes."""
    s = info.shapes
    n_input = _count(s, re.escape(UNET) + r"input_blocks\.(\d+)\.")
    levels = sum(1 for k in s if re.match(re.escape(UNET) + r"input_blocks\.\d+\.0\.op\.weight$", k)) + 1
    layers = (n_input - levels) // levels
    channels, down, up, transformer_layers = [], [], [], []
    heads = []
    cross_dim = None
    linear_projection = False
    for i in range(levels):
        first = f"{UNET}input_blocks.{1 + i * (layers + 1)}."
        c = s[first + "0.out_layers.3.weight"][0]
        channels.append(c)
        attn = first + "1.transformer_blocks.0.attn2.to_k.weight"
        if attn in s:
            down.append("CrossAttnDownBlock2D")
            up.append("CrossAttnUpBlock2D")
            cross_dim = s[attn][1]
            linear_projection = len(s[first + "1.proj_in.weight"]) == 2
            transformer_layers.append(_count(s, re.escape(first) + r"1\.transformer_blocks\.(\d+)\."))
        else:
            down.append("DownBlock2D")
            up.append("UpBlock2D")
            transformer_layers.append(1)
        heads.append(8 if info.family == "sd1" else max(1, c // 64))
    config: dict[str, Any] = {
        "_class_name": "UNet2DConditionModel",
        "sample_size": NATIVE_SIZE[info.family] // 8,
        "in_channels": s[UNET + "input_blocks.0.0.weight"][1],
        "out_channels": s[UNET + "out.2.weight"][0],
        "block_out_channels": channels,
        "layers_per_block": layers,
        "down_block_types": down,
        "up_block_types": list(reversed(up)),
        "cross_attention_dim": cross_dim,
        "attention_head_dim": 8 if info.family == "sd1" else heads,
        "use_linear_projection": linear_projection,
        "transformer_layers_per_block": transformer_layers if info.family == "sdxl" else 1,
        "norm_num_groups": 32,
    }
    if info.family == "sd1" and cross_dim is not None and cross_dim != 768:
        config["attention_head_dim"] = 8
    if info.family == "sdxl":
        config.update(
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=s[UNET + "label_emb.0.0.weight"][1],
        )
    return config


def vae_config(info: CheckpointInfo) -> dict[str, Any]:
    """AutoencoderKL config from the LDM VAE shapes (SDXL's VAE is upcast to fp32: it overflows in fp16)."""
    s = info.shapes
    levels = _count(s, re.escape(VAE) + r"encoder\.down\.(\d+)\.")
    layers = _count(s, re.escape(VAE) + r"encoder\.down\.0\.block\.(\d+)\.")
    channels = [s[f"{VAE}encoder.down.{i}.block.0.conv2.weight"][0] for i in range(levels)]
    return {
        "_class_name": "AutoencoderKL",
        "in_channels": s[VAE + "encoder.conv_in.weight"][1],
        "out_channels": s[VAE + "decoder.conv_out.weight"][0],
        "block_out_channels": channels,
        "down_block_types": ["DownEncoderBlock2D"] * levels,
        "up_block_types": ["UpDecoderBlock2D"] * levels,
        "layers_per_block": layers,
        "latent_channels": s[VAE + "post_quant_conv.weight"][0],
        "norm_num_groups": 32,
        "sample_size": NATIVE_SIZE[info.family],
        "scaling_factor": 0.13025 if info.family == "sdxl" else 0.18215,
        "force_upcast": info.family == "sdxl",
    }


def _clip_config(shapes: dict, prefix: str, open_clip: bool, with_projection: bool = False) -> dict[str, Any]:
    if open_clip:  # OpenCLIP names (SD 2.x, SDXL's second encoder)
        vocab, hidden = shapes[prefix + "token_embedding.weight"]
        layers = _count(shapes, re.escape(prefix) + r"transformer\.resblocks\.(\d+)\.")
        inner = shapes[prefix + "transformer.resblocks.0.mlp.c_fc.weight"][0]
        positions = shapes[prefix + "positional_embedding"][0]
        act = "gelu"
    else:
        vocab, hidden = shapes[prefix + "text_model.embeddings.token_embedding.weight"]
        layers = _count(shapes, re.escape(prefix) + r"text_model\.encoder\.layers\.(\d+)\.")
        inner = shapes[prefix + "text_model.encoder.layers.0.mlp.fc1.weight"][0]
        positions = shapes[prefix + "text_model.embeddings.position_embedding.weight"][0]
        act = "quick_gelu"
    config = {
        "architectures": ["CLIPTextModelWithProjection" if with_projection else "CLIPTextModel"],
        "model_type": "clip_text_model",
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": inner,
        "num_hidden_layers": layers,
        "num_attention_heads": max(1, hidden // 64),
        "max_position_embeddings": positions,
        "hidden_act": act,
        "layer_norm_eps": 1e-5,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": 1,
        "projection_dim": shapes.get(prefix + "text_projection", (hidden, hidden))[-1],
    }
    return config


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level BPE alphabet: every byte as a printable character, printable bytes first."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_vocab(merges: list[str]) -> dict[str, int]:
    """CLIP's vocabulary, rebuilt the way OpenAI's tokenizer builds it: bytes, bytes + </w>, merges, two specials."""
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


def _write_tokenizer(folder: Path, pad: str) -> None:
    lines = MERGES_FILE.read_text(encoding="utf-8").splitlines()
    merges = [line for line in lines[1:] if line]
    _write_json(folder / "vocab.json", clip_vocab(merges))
    atomic_write_text(folder / "merges.txt", "\n".join(lines) + "\n")
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "CLIPTokenizer",
            "model_max_length": 77,
            "bos_token": "<|startoftext|>",
            "eos_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>",
            "pad_token": pad,
            "do_lower_case": True,
        },
    )


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))


def scheduler_config(family: str) -> dict[str, Any]:
    """The training noise schedule of the family (SD 2.x single files are the 768 px v-prediction models)."""
    return {
        "_class_name": "EulerDiscreteScheduler",
        "num_train_timesteps": 1000,
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "prediction_type": "v_prediction" if family == "sd2" else "epsilon",
        "steps_offset": 1,
        "timestep_spacing": "leading",
    }


def pipeline_class_name(info: CheckpointInfo) -> str:
    """The diffusers pipeline that matches the checkpoint."""
    base = "StableDiffusionXL" if info.family == "sdxl" else "StableDiffusion"
    return base + ("InpaintPipeline" if info.inpainting else "Pipeline")


def write_config_folder(info: CheckpointInfo, folder: Path) -> Path:
    """Every config file diffusers reads for this checkpoint, so it never asks the Hub."""
    s = info.shapes
    te = ["transformers", "CLIPTextModel"]
    tok = ["transformers", "CLIPTokenizer"]
    index: dict[str, Any] = {
        "_class_name": pipeline_class_name(info),
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": te,
        "tokenizer": tok,
        "feature_extractor": [None, None],
    }
    if info.family == "sdxl":
        index.update(
            text_encoder_2=["transformers", "CLIPTextModelWithProjection"],
            tokenizer_2=tok,
            image_encoder=[None, None],
            force_zeros_for_empty_prompt=True,
        )
        _write_json(
            folder / "text_encoder" / "config.json", _clip_config(s, "conditioner.embedders.0.transformer.", False)
        )
        _write_json(
            folder / "text_encoder_2" / "config.json",
            _clip_config(s, "conditioner.embedders.1.model.", True, with_projection=True),
        )
        _write_tokenizer(folder / "tokenizer", "<|endoftext|>")
        _write_tokenizer(folder / "tokenizer_2", "!")
    else:
        index.update(safety_checker=[None, None], requires_safety_checker=False)
        if info.family == "sd2":
            config = _clip_config(s, "cond_stage_model.model.", True)
            config["num_hidden_layers"] -= 1  # SD 2.x conditions on the penultimate layer
            _write_json(folder / "text_encoder" / "config.json", config)
            _write_tokenizer(folder / "tokenizer", "!")
        else:
            _write_json(
                folder / "text_encoder" / "config.json", _clip_config(s, "cond_stage_model.transformer.", False)
            )
            _write_tokenizer(folder / "tokenizer", "<|endoftext|>")
    _write_json(folder / "unet" / "config.json", unet_config(info))
    _write_json(folder / "vae" / "config.json", vae_config(info))
    _write_json(folder / "scheduler" / "scheduler_config.json", scheduler_config(info.family))
    _write_json(folder / "model_index.json", index)  # last: its presence means the folder is complete
    return folder
