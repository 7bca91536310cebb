"""The fast sampling paths draw exactly from the top-k / top-p nucleus, and a seed repeats a draw."""

from __future__ import annotations

import torch

from aigc_studio.nn.sampling import SamplingSettings, filter_logits, sample_next


def test_draws_come_from_the_nucleus_only_and_reach_all_of_it():
    logits = torch.randn(500, generator=torch.Generator().manual_seed(0)) * 3
    for settings in (
        SamplingSettings(temperature=1.0, top_p=0.5),
        SamplingSettings(temperature=0.7, top_k=8),
        SamplingSettings(temperature=1.0, top_k=40, top_p=0.6),
    ):
        nucleus = filter_logits(logits / settings.temperature, settings.top_k, settings.top_p)
        allowed = set(torch.nonzero(nucleus > float("-inf")).flatten().tolist())
        generator = torch.Generator().manual_seed(1)
        drawn = {sample_next(logits, settings, generator) for _ in range(4000)}
        assert drawn == allowed, settings
        again = torch.Generator().manual_seed(7)
        first = [sample_next(logits, settings, again) for _ in range(20)]
        again.manual_seed(7)
        assert [sample_next(logits, settings, again) for _ in range(20)] == first
