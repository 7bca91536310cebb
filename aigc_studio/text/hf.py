"""Local Hugging Face causal language models (GPT-2, Llama, ...) opened fully offline.

A folder in the common layout (config.json, *.safetensors, tokenizer files)
is loaded with ``transformers`` and ``local_files_only``. Pickle weights
(.bin/.pt/.pth/.ckpt) can run code when loaded, so they are refused unless the
caller passes ``allow_pickle=True`` after asking the user.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from aigc_studio.core.untrusted_json import UnsafeJson, parse_untrusted_json
from aigc_studio.errors import InputError, ModelFileError, StudioError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
PICKLE_WARNING = (
    "This model's weights are stored as Python pickle files ({files}). Loading a pickle can run any code "
    "hidden in it, with your user rights: only allow it for files from a source you trust completely. "
    "A .safetensors copy of the same model is always safe to open."
)


def is_hf_folder(path: str | Path) -> bool:
    """True for a folder with a config.json (the Hugging Face layout)."""
    path = Path(path)
    return path.is_dir() and (path / "config.json").is_file()


def inspect_hf_folder(path: str | Path) -> dict[str, Any]:
    """Check a folder without loading it: architecture, weight files, whether they are pickles."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise InputError(f"{path} is not a folder.")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise InputError(f"{path.name} has no config.json; expected a Hugging Face model folder.")
    try:
        config = parse_untrusted_json(config_file.read_bytes())
    except (OSError, UnsafeJson) as exc:
        raise InputError(f"{path.name}/config.json cannot be read ({exc}).") from None
    safetensors = sorted(path.glob("*.safetensors"))
    pickles = sorted(p for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if not safetensors and not pickles:
        raise InputError(f"{path.name} has no weight files (*.safetensors).")
    has_tokenizer = any(
        (path / n).is_file() for n in ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
    )
    if not isinstance(config, dict):
        raise InputError(f"{path.name}/config.json is not a JSON object; expected a Hugging Face model config.")
    if remote_code := _remote_code_references(path, config):
        raise InputError(
            f"{path.name} asks to run its own Python code ({', '.join(remote_code[:3])}) to build the model. "
            "AIGC Studio never runs code that comes with a model; use a folder of a standard architecture."
        )
    if not has_tokenizer:
        raise InputError(
            f"{path.name} has no tokenizer files (tokenizer.json, or vocab.json with merges.txt); "
            "a model folder needs them to turn text into tokens."
        )
    return {
        "model_type": config.get("model_type", "unknown"),
        "architectures": config.get("architectures") or [],
        "safetensors": [p.name for p in safetensors],
        "pickles": [p.name for p in pickles],
        "needs_pickle": not safetensors,
    }


def _remote_code_references(path: Path, config: dict[str, Any]) -> list[str]:
    """Python files the folder's configs point at through ``auto_map`` (custom-code models)."""
    refs: list[str] = []
    configs = [config]
    tokenizer_config = path / "tokenizer_config.json"
    if tokenizer_config.is_file():
        # An unreadable tokenizer config is reported by transformers itself, when it loads.
        with contextlib.suppress(OSError, UnsafeJson):
            configs.append(parse_untrusted_json(tokenizer_config.read_bytes()))
    for data in configs:
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        if isinstance(auto_map, dict):
            for value in auto_map.values():
                for ref in value if isinstance(value, list) else [value]:
                    if isinstance(ref, str) and ref:
                        refs.append(ref.split("--")[-1].split(".")[0] + ".py")
    return sorted(set(refs))


def _transformers():
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars in the terminal or the log
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
    try:
        import transformers
    except ImportError as exc:
        raise StudioError(
            "Opening Hugging Face model folders needs the optional 'transformers' package: pip install 'aigc-studio[hf]'."
        ) from exc
    transformers.logging.set_verbosity_error()
    return transformers


class HFCausalLM:
    """A local transformers causal LM behind the same interface as ``OwnGPT``."""

    def __init__(self, model: Any, tokenizer: Any, path: Path, device: Any) -> None:
        import torch

        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.path = path
        self.name = path.name
        config = model.config
        self.context = int(
            getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None) or 1024
        )
        self.context = min(self.context, 4096)
        import inspect

        # transformers 5 renamed ``past_key_values`` to ``cache``; support both.
        parameters = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in parameters else "past_key_values"
        # Only the last position's logits are needed (a 50k-token head over a long prompt is costly).
        self._only_last = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
        eos = getattr(tokenizer, "eos_token_id", None)
        self.eos_id = eos if isinstance(eos, int) else None
        # Chat models end a turn with their own tokens (<|im_end|>, <|eot_id|>), listed in generation_config.
        ends = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        ends = ends if isinstance(ends, list) else [ends]
        self.eos_ids = {e for e in [self.eos_id, *ends] if isinstance(e, int)}

    def encode(self, text: str) -> list[int]:
        """Text to ids (no special tokens)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        """Ids to text."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def chat_prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of ``messages`` laid out by the tokenizer's chat template, ready for the answer."""
        from aigc_studio.errors import InputError

        if not getattr(self.tokenizer, "chat_template", None):
            raise InputError(f"{self.name} has no chat template, so it cannot follow instructions.")
        try:
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        except Exception as exc:  # noqa: BLE001 - a template is a user's file: jinja errors of any kind
            raise InputError(f"{self.name}: its chat template failed ({exc}).") from exc
        if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
            ids = ids["input_ids"]
        if ids and isinstance(ids[0], list):
            ids = ids[0]
        return [int(i) for i in ids]

    def start_ids(self) -> list[int]:
        """BOS when the model has one, else a newline."""
        bos = getattr(self.tokenizer, "bos_token_id", None)
        if isinstance(bos, int):
            return [bos]
        return self.encode("\n")[:1] or [0]

    def logits(self, ids: list[int], cache: Any) -> tuple[Any, Any]:
        """Next-token logits after ``ids`` on top of ``cache`` (transformers' own cache)."""
        import torch

        with torch.inference_mode():
            idx = torch.tensor([ids], dtype=torch.long, device=self.device)
            out = self.model(input_ids=idx, use_cache=True, **self._only_last, **{self._cache_arg: cache})
        return out.logits[0, -1], getattr(out, self._cache_arg)


def load_hf_model(path: str | Path, device: Any = "cpu", allow_pickle: bool = False) -> HFCausalLM:
    """Load a local folder offline; pickle-only folders need ``allow_pickle=True``."""
    path = Path(path).expanduser()
    info = inspect_hf_folder(path)
    if info["needs_pickle"] and not allow_pickle:
        files = ", ".join(info["pickles"][:3])
        raise InputError(f"{path.name}: " + PICKLE_WARNING.format(files=files) + " It was not opened.")
    tf = _transformers()
    # trust_remote_code stays False on every call: a folder's .py files are never imported.
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
        model = tf.AutoModelForCausalLM.from_pretrained(
            str(path), local_files_only=True, use_safetensors=not info["needs_pickle"], trust_remote_code=False
        )
    except (OSError, ValueError, KeyError, ImportError) as exc:
        raise ModelFileError(f"{path.name} could not be loaded as a causal language model ({exc}).") from exc
    return HFCausalLM(model, tokenizer, path, device)
