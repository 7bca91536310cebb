"""Turn a sentence-VAE checkpoint into the shipped model: no optimiser state, float16 weights.

Usage: python resources/recipes/text/export_vae.py CHECKPOINT OUT.safetensors
Prints a few blends so that the README can show what the model does.
"""

from __future__ import annotations

import sys

import torch

from aigc_studio.core.modelfile import save_model
from aigc_studio.core.statefile import load_checkpoint, model_only
from aigc_studio.text.vae import KIND, load_vae

PAIRS = [
    ("I will not go with thee.", "What is the matter, my lord?"),
    ("Good morrow, sweet lady.", "Let us go in and see the king."),
]


def main(checkpoint: str, out: str) -> None:
    card, tensors, _state = load_checkpoint(checkpoint, KIND)
    card.extra = {}
    card.training = dict(card.training, weights="float16")
    save_model(out, {k: v.half() for k, v in model_only(tensors).items()}, card)
    vae = load_vae(out)
    for a, b in PAIRS:
        print(" -> ".join(vae.homotopy(a, b, 5)))
    print("near:", vae.neighbours("I will not go with thee.", 3, 0.5, torch.Generator().manual_seed(1)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
