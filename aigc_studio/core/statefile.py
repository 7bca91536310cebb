"""Training checkpoints as safetensors: nested state (optimisers, RNG) without pickle.

Any nest of dicts, lists, tuples, JSON scalars and tensors is split into a flat
tensor dict plus a JSON skeleton in which each tensor is a ``{"__tensor__": key}``
reference. Exact resume needs optimiser and RNG state; this keeps it pickle-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aigc_studio.core.modelfile import ModelCard, load_model, read_card, save_model
from aigc_studio.errors import ModelFileError

STATE_KEY = "training_state"


def flatten_state(state: Any) -> tuple[Any, dict[str, Any]]:
    """Split ``state`` into a JSON-able skeleton and a dict of tensors."""
    import numpy as np
    import torch

    tensors: dict[str, torch.Tensor] = {}

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            key = f"{STATE_KEY}/{path}"
            tensors[key] = value.detach().cpu().contiguous()
            return {"__tensor__": key}
        if isinstance(value, np.ndarray):
            key = f"{STATE_KEY}/{path}"
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value))
            return {"__ndarray__": key}
        if isinstance(value, dict):
            return {"__dict__": [[walk(k, f"{path}.k{i}"), walk(v, f"{path}.{i}")] for i, (k, v) in enumerate(value.items())]}
        if isinstance(value, tuple):
            return {"__tuple__": [walk(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(value, (np.integer, np.floating)):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")

    skeleton = walk(state, "s")
    return skeleton, tensors


def unflatten_state(skeleton: Any, tensors: dict[str, Any]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__ndarray__" in skeleton:
            return tensors[skeleton["__ndarray__"]].numpy()
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        if "__dict__" in skeleton:
            return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in skeleton["__dict__"]}
    return skeleton


def save_checkpoint(path: str | Path, model_tensors: dict[str, Any], card: ModelCard, state: Any) -> ModelCard:
    """Save a model plus its training state in one file (still a loadable model)."""
    skeleton, state_tensors = flatten_state(state)
    card.extra = dict(card.extra)
    card.extra[STATE_KEY] = skeleton
    return save_model(path, {**model_tensors, **state_tensors}, card)


def load_checkpoint(path: str | Path, expected_kind: str | tuple[str, ...] | None = None) -> tuple[ModelCard, dict[str, Any], Any]:
    """Load model tensors, card and training state; refuses files without training state."""
    card = read_card(path, expected_kind)
    skeleton = card.extra.get(STATE_KEY)
    if skeleton is None:
        raise ModelFileError(
            f"{Path(path).name} holds a finished model without training state, so it cannot be resumed; "
            "use it to initialise (fine-tune) a new run instead."
        )
    _, tensors = load_model(path, expected_kind)  # validated and hash-checked like any model
    state = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    model_tensors = {k: v for k, v in tensors.items() if not k.startswith(STATE_KEY + "/")}
    return card, model_tensors, state


def model_only(tensors: dict[str, Any]) -> dict[str, Any]:
    """Drop training-state tensors (for loading a checkpoint as a plain model)."""
    return {k: v for k, v in tensors.items() if not k.startswith(STATE_KEY + "/")}

