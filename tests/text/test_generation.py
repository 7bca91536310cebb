"""Generation: KV cache equals full recompute, streaming order, seeds, stop sequences, stop button."""

from __future__ import annotations

import pytest
import torch

from aigc_studio.core.jobs import CancelToken, run_job
from aigc_studio.errors import Cancelled
from aigc_studio.nn.sampling import SamplingSettings
from aigc_studio.text.generate import generate_ids, stream_text
from aigc_studio.text.gpt import load_gpt
from aigc_studio.text.jobs import GenerateTextJob


def _ids(lm, prompt, n, use_cache, temperature=0.0, seed=0):
    settings = SamplingSettings(temperature=temperature, max_new_tokens=n)
    gen = generate_ids(lm, lm.encode(prompt), settings, torch.Generator().manual_seed(seed), use_cache)
    return [next(gen) for _ in range(n)]


def test_kv_cache_greedy_equals_full_recompute(tiny_gpt_path):
    lm = load_gpt(tiny_gpt_path)
    prompt = "It was a bright"
    n = lm.context - len(prompt)  # stay inside the window: both paths see the same tokens
    assert _ids(lm, prompt, n, use_cache=True) == _ids(lm, prompt, n, use_cache=False)


def test_generation_runs_past_the_context_with_a_sliding_window(tiny_gpt_path):
    lm = load_gpt(tiny_gpt_path)
    assert len(_ids(lm, "The garden", lm.context * 3, use_cache=True, temperature=1.0)) == lm.context * 3


def test_tokens_stream_in_order_and_add_up_to_the_result(tiny_gpt_path):
    pieces = []
    result = run_job(
        GenerateTextJob(model=str(tiny_gpt_path), prompt="The rain", max_new_tokens=40, seed=5),
        on_partial=pieces.append,
    )
    assert all(p["type"] == "token" for p in pieces)
    assert len(pieces) >= 30  # one partial per token (a few may be held back for UTF-8)
    assert "".join(p["text"] for p in pieces) == result["text"]


def test_same_seed_gives_same_text_and_another_seed_differs(tiny_gpt_path):
    def text(seed):
        return run_job(
            GenerateTextJob(model=str(tiny_gpt_path), prompt="It", max_new_tokens=60, temperature=1.0, seed=seed)
        )["text"]

    assert text(11) == text(11)
    assert text(11) != text(12)


def test_stop_sequence_ends_the_text_before_it(tiny_gpt_path):
    lm = load_gpt(tiny_gpt_path)
    settings = SamplingSettings(temperature=1.0, max_new_tokens=200)
    free = "".join(stream_text(lm, "It", settings, torch.Generator().manual_seed(3)))
    stop = free[20:22]  # something that will certainly be generated
    first = free.find(stop)
    stopped = "".join(stream_text(lm, "It", settings, torch.Generator().manual_seed(3), stop=[stop]))
    assert stopped == free[:first]
    assert stop not in stopped


def test_cancel_stops_within_one_token(tiny_gpt_path):
    token = CancelToken()
    pieces = []

    def on_partial(payload):
        pieces.append(payload)
        if len(pieces) == 3:
            token.cancel()  # the user pressed Stop while the third token arrived

    with pytest.raises(Cancelled):
        run_job(
            GenerateTextJob(model=str(tiny_gpt_path), prompt="It", max_new_tokens=100, seed=1),
            on_partial=on_partial,
            cancel_token=token,
        )
    assert len(pieces) == 3
