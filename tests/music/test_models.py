"""Event transformer and MusicVAE: cache, reproducibility, infill keeps the context, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.core.jobs import run_job
from aigc_studio.core.paths import bundled_models_dir
from aigc_studio.music.event_model import load_music_transformer
from aigc_studio.music.jobs import GenerateMusicJob, InfillMusicJob, InterpolateMusicJob, SamplingOptions, VariationsJob
from aigc_studio.music.song import merge_command
from aigc_studio.nn.sampling import SamplingSettings


def _notes(song):
    return [(t.program, n.pitch, n.start, n.duration, n.velocity) for t in song.tracks for n in t.notes]


def test_kv_cache_gives_the_same_logits_and_tokens_as_recomputing(tiny_transformer_path, song):
    mt = load_music_transformer(tiny_transformer_path)
    tokens = torch.tensor([mt.tok.encode(song)[:60]])
    full, _ = mt.model(tokens)
    _, cache = mt.model(tokens[:, :40])
    step, cache = mt.model(tokens[:, 40:41], cache)
    assert torch.allclose(full[0, 40], step[0, 0], atol=1e-5)
    settings = SamplingSettings(temperature=1.0)
    with_cache, _ = mt.generate(12, settings, torch.Generator().manual_seed(5), use_cache=True)
    without, _ = mt.generate(12, settings, torch.Generator().manual_seed(5), use_cache=False)
    assert _notes(with_cache) == _notes(without)  # 12 bars also crosses the 128-token window


def test_same_seed_same_notes_other_seed_other_notes(tiny_transformer_path):
    def make(seed):
        return run_job(GenerateMusicJob(str(tiny_transformer_path), bars=2), seed=seed)["fragment"]

    a, b, c = make(7), make(7), make(8)
    assert _notes(a) == _notes(b) and a.note_count > 0
    assert _notes(a) != _notes(c)


def test_continue_writes_after_the_prime_and_keeps_it(tiny_transformer_path, song):
    result = run_job(GenerateMusicJob(str(tiny_transformer_path), bars=2, prime=song.copy()), seed=1)
    assert result["first_bar"] == song.bars
    starts = [n.start for t in result["fragment"].tracks for n in t.notes]
    assert starts and min(starts) >= song.bars * song.bar_ticks
    merged = song.copy()
    merge_command(merged, result["fragment"]).do(merged)
    assert set(_notes(song)) <= set(_notes(merged))


def test_infill_keeps_context_notes_untouched(tiny_transformer_path, song):
    options = SamplingOptions(temperature=1.0)
    result = run_job(InfillMusicJob(str(tiny_transformer_path), song.copy(), 1, 3, options), seed=3)
    fragment = result["fragment"]
    lo, hi = song.bar_ticks, 3 * song.bar_ticks
    assert all(lo <= n.start < hi and n.end <= hi for t in fragment.tracks for n in t.notes)
    edited = song.copy()
    merge_command(edited, fragment, (lo, hi)).do(edited)
    outside = [x for x in _notes(song) if not lo <= x[2] < hi]
    outside_after = [x for x in _notes(edited) if not lo <= x[2] < hi]
    assert sorted(outside) == sorted(outside_after)
    assert all(n.generated for t in edited.tracks for n in t.notes if lo <= n.start < hi)


def test_vae_sample_interpolate_and_variations(tiny_vae_path, song):
    sample = run_job(GenerateMusicJob(str(tiny_vae_path), bars=4), seed=2)["fragment"]
    again = run_job(GenerateMusicJob(str(tiny_vae_path), bars=4), seed=2)["fragment"]
    assert _notes(sample) == _notes(again)
    result = run_job(InterpolateMusicJob(str(tiny_vae_path), song, 0, 2, steps=3), seed=0)
    assert result["bars"] == 6
    starts = [n.start for t in result["fragment"].tracks for n in t.notes]
    assert min(starts) >= song.bars * song.bar_ticks
    varied = run_job(VariationsJob(str(tiny_vae_path), song, 0, count=2), seed=0)
    assert len(varied["alternatives"]) == 2 and (varied["first_bar"], varied["last_bar"]) == (0, 2)
    for alternative in varied["alternatives"]:  # in place of bars 1-2, to audition and keep one
        assert all(n.start >= 0 and n.end <= 2 * song.bar_ticks for t in alternative.tracks for n in t.notes)


def test_incremental_decoder_matches_the_module_forward_step_for_step(tiny_transformer_path, song):
    from aigc_studio.core.device import one_cpu_thread
    from aigc_studio.music.decoding import IncrementalDecoder

    mt = load_music_transformer(tiny_transformer_path)
    tokens = mt.tok.encode(song)[:100]
    decoder = IncrementalDecoder(mt.model)
    with torch.no_grad():
        logits, cache = mt.model(torch.tensor([tokens[:30]]))
        assert torch.equal(torch.from_numpy(decoder.feed(tokens[:30])), logits[0, -1])  # the prompt runs in torch
        for token in tokens[30:]:
            step, cache = mt.model(torch.tensor([[token]]), cache)
            # Single steps run in NumPy with folded weights: float32 rounding apart, the same logits.
            assert torch.allclose(torch.from_numpy(decoder.feed([token])), step[0, -1], atol=1e-5)
        recomputed, _ = mt.model(torch.tensor([tokens + tokens[:1]]))
        assert torch.allclose(torch.from_numpy(decoder.feed([tokens[0]])), recomputed[0, -1], atol=1e-5)
    assert decoder.room == mt.context - 101
    threads = torch.get_num_threads()
    with one_cpu_thread(torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads


def _greedy_tokens(mt, use_cache: bool, count: int) -> list[int]:
    from aigc_studio.music.tokenizer import Grammar

    grammar = Grammar(mt.tok, target_bars=None, allow_eos=False)
    header = [mt.tok.bos]
    return mt.sample(header, grammar, SamplingSettings(temperature=0.0), torch.Generator(), count, use_cache, keep=header)


@pytest.mark.parametrize("which", ["tiny", "starter"])
def test_greedy_decoding_with_the_cache_picks_the_tokens_recomputing_picks(which, tiny_transformer_path, one_torch_thread):
    path = tiny_transformer_path if which == "tiny" else bundled_models_dir() / "music-chorales-transformer.safetensors"
    if not path.exists():
        pytest.skip("the starter model is not shipped in this checkout")
    mt = load_music_transformer(path)
    # Past the tiny model's 128-token window, so restarts are compared too; the starter's window is far
    # longer, and recomputing costs the square of the length, so it compares a few bars.
    count = 300 if which == "tiny" else 120
    cached = _greedy_tokens(mt, True, count)
    assert len(cached) == count
    assert cached == _greedy_tokens(mt, False, count)


def test_top_p_sampling_picks_only_grammar_allowed_tokens_of_the_nucleus():
    from aigc_studio.music.decoding import pick_token
    from aigc_studio.nn.sampling import filter_logits

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, 300).astype(np.float32)
    allowed = np.sort(rng.choice(300, 60, replace=False))
    masked = torch.full((300,), float("-inf"))
    masked[allowed] = torch.from_numpy(logits[allowed])
    for settings in (SamplingSettings(temperature=1.0, top_p=0.9), SamplingSettings(temperature=0.7, top_k=5),
                     SamplingSettings(temperature=1.0)):
        nucleus = set(torch.nonzero(filter_logits(masked / settings.temperature, settings.top_k, settings.top_p)
                                    > float("-inf")).flatten().tolist())
        picked = {pick_token(logits, allowed, settings, u) for u in np.linspace(0, 1, 20001, endpoint=False)}
        assert picked == nucleus
    assert pick_token(logits, allowed, SamplingSettings(temperature=0.0), None) == int(allowed[np.argmax(logits[allowed])])


def test_sampling_after_the_weights_change_uses_the_new_weights(tiny_transformer_path):
    mt = load_music_transformer(tiny_transformer_path)
    before = _greedy_tokens(mt, True, 40)
    with torch.no_grad():
        mt.model.head.weight.add_(torch.randn_like(mt.model.head.weight))  # as a training step would
    assert _greedy_tokens(mt, True, 40) == _greedy_tokens(mt, False, 40) != before
