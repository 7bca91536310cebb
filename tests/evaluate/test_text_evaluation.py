"""Text evaluation: copies are found at full length and flagged; a Hugging Face folder evaluates like our GPT."""

from __future__ import annotations

import json

import pytest

from aigc_studio.cli.main import main
from aigc_studio.evaluate.base import Reference
from aigc_studio.evaluate.text import TextStudio

PROSE = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
    "it was the season of Darkness, it was the spring of hope, it was the winter of despair. "
) * 3 + "There were a king with a large jaw and a queen with a plain face, on the throne of England."


class _Ctx:
    def check_cancelled(self) -> None:
        pass

    def progress(self, fraction, message="", preview=None) -> None:
        pass


def test_a_sample_copied_from_the_reference_is_a_full_length_copy_and_flagged():
    reference = Reference("prose.txt", [PROSE], ["prose.txt:0"], "characters of text", len(PROSE), PROSE)
    studio = TextStudio()
    fake, rest = studio.split(reference, 4, 0, 60)
    baseline = studio.measure(fake, rest, None, _Ctx(), None)
    copied = PROSE[-90:]
    measured = studio.measure([copied, "Zebras quietly juggle vexing xylophones."], reference, None, _Ctx(), baseline)
    assert measured.novelty["longest_copy_chars_max"] == len(copied)
    assert measured.novelty["nearest"][0]["copied_text"] == copied
    assert measured.pairs[0].sample_span == (0, len(copied))
    assert measured.memorised == 1 and measured.pairs[0].memorised
    assert measured.quality["real_word_share"] < 1.0  # the zebras are not in the reference


@pytest.mark.slow
def test_a_hugging_face_folder_is_evaluated_with_held_out_loss_per_token_and_per_character(tmp_path):
    pytest.importorskip("transformers")
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from aigc_studio.text.tokenizer import BPETokenizer

    torch.manual_seed(0)
    bpe = BPETokenizer.train(PROSE * 5, vocab_size=300)
    folder = tmp_path / "tiny-gpt2"
    GPT2LMHeadModel(
        GPT2Config(vocab_size=bpe.vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    ).save_pretrained(folder)
    PreTrainedTokenizerFast(tokenizer_object=bpe.backend).save_pretrained(folder)
    text = tmp_path / "prose.txt"
    text.write_text(PROSE)
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(folder), "--data", str(text), "--samples", "4", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["model"]["kind"] == "text-gpt (Hugging Face)"
    quality = figures["quality"]
    assert quality["held_out_loss_nats_per_token"] > quality["held_out_loss_nats_per_char"] > 0  # tokens > 1 char
    assert figures["efficiency"]["tokens_per_s"] > 0
