"""Turn a training checkpoint into the shipped starter model and measure it honestly.

Drops optimiser state, stores float16 weights (half the size), evaluates the
held-out split (the last 10 % of the corpus, i.e. plays the model never saw)
with the float16 weights over every non-overlapping window, and writes the
figures into the card.

Usage: python resources/recipes/text/export_starter.py CHECKPOINT DATA_DIR OUT.safetensors
"""

from __future__ import annotations

import sys
import time

import torch

from aigc_studio.core.statefile import load_checkpoint
from aigc_studio.text.corpus import load_corpus
from aigc_studio.text.gpt import KIND, config_from_card, load_gpt, load_gpt_tensors, new_gpt_model, save_gpt
from aigc_studio.text.tokenizer import tokenizer_from_card


@torch.no_grad()
def held_out_loss(model, data: torch.Tensor, context: int, batch: int = 64) -> float:
    """Mean next-token loss over all non-overlapping windows of ``data``."""
    starts = list(range(0, len(data) - context - 1, context))
    total, count = 0.0, 0
    for i in range(0, len(starts), batch):
        chunk = starts[i : i + batch]
        x = torch.stack([data[s : s + context] for s in chunk]).long()
        y = torch.stack([data[s + 1 : s + 1 + context] for s in chunk]).long()
        total += float(model.loss(x, y)) * y.numel()
        count += y.numel()
    return total / count


def main(checkpoint: str, data_dir: str, out: str) -> None:
    torch.set_num_threads(1)
    card, tensors, state = load_checkpoint(checkpoint, KIND)
    config = config_from_card(card)
    tokenizer = tokenizer_from_card(card.tokenizer)
    model = new_gpt_model(config)
    load_gpt_tensors(model, tensors, checkpoint)
    card.extra = {}
    card.training = dict(card.training)
    card.training["weights"] = "float16"
    save_gpt(out, model, tokenizer, card, half=True)
    shipped = load_gpt(out).model.eval()  # measure what we ship (float16 weights)
    text = load_corpus(data_dir).text
    data = torch.tensor(tokenizer.encode(text), dtype=torch.int32)
    settings = state["settings"]
    val = data[len(data) - int(len(data) * settings["val_fraction"]) :]
    chars_per_token = len(tokenizer.decode(val.tolist())) / len(val)
    started = time.monotonic()
    loss = held_out_loss(shipped, val, config.context)
    card.training.update(
        held_out_loss_full=round(loss, 4),
        held_out_nats_per_char=round(loss / chars_per_token, 4),
        held_out_chars=len(tokenizer.decode(val.tolist())),
        held_out_note="last 10% of the concatenated plays (sorted by file name): plays never seen in training",
    )
    save_gpt(out, shipped, tokenizer, card, half=True)
    print(
        f"held-out: {loss:.4f} nats/token = {loss / chars_per_token:.4f} nats/char over {len(val):,} tokens "
        f"({time.monotonic() - started:.0f} s); {model.num_parameters():,} parameters; written {out}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
