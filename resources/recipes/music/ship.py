"""Turn a training checkpoint into a shipped starter model: no optimiser state, float16 weights, figures in the card.

Usage: python resources/recipes/music/ship.py CHECKPOINT OUT.safetensors [FIGURES.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(checkpoint: str, out: str, figures: str | None = None) -> None:
    """Write ``out`` from ``checkpoint`` (figures from evaluate.py go into card.training['evaluation'])."""
    import torch

    from aigc_studio.core.modelfile import load_model, save_model
    from aigc_studio.core.statefile import STATE_KEY, model_only

    card, tensors = load_model(checkpoint)
    card.extra = {k: v for k, v in card.extra.items() if k != STATE_KEY}
    tensors = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in model_only(tensors).items()}
    if figures:
        card.training = dict(card.training, evaluation=json.loads(Path(figures).read_text()))
    card.name = Path(out).stem
    card.untrained = False
    card.content_hash = ""
    card.created = ""
    save_model(out, tensors, card)
    print(f"wrote {out}: {Path(out).stat().st_size / 1e6:.1f} MB, {card.training.get('steps')} steps")


if __name__ == "__main__":
    main(*sys.argv[1:4])
