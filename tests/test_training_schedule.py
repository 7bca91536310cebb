"""The one learning-rate rule of every trainer: linear warm-up, cosine decay to ``min_lr``; none for image runs."""

from __future__ import annotations

import math

from aigc_studio.core.train_settings import get_lr
from aigc_studio.image.settings import ImageTrainSettings
from aigc_studio.music.train_settings import MusicTrainSettings
from aigc_studio.text.train_gpt import GPTTrainSettings


def test_warm_up_then_cosine_decay_reaches_min_lr_at_the_last_step():
    s = GPTTrainSettings(steps=1000, lr=1e-3, min_lr=1e-4, warmup=100)
    warm = [get_lr(step, s) for step in range(100)]
    assert warm[0] == 1e-5 and math.isclose(warm[-1], 1e-3) and warm == sorted(warm)
    decay = [get_lr(step, s) for step in range(100, 1001)]
    assert math.isclose(decay[0], 1e-3) and math.isclose(decay[-1], 1e-4) and decay == sorted(decay, reverse=True)
    assert math.isclose(get_lr(550, s), (1e-3 + 1e-4) / 2)  # half-way through the decay: the mean


def test_music_uses_the_same_rule_and_image_runs_keep_their_learning_rate():
    music = MusicTrainSettings(steps=200, lr=2e-3, min_lr=2e-4, warmup=50)
    gpt = GPTTrainSettings(steps=200, lr=2e-3, min_lr=2e-4, warmup=50)
    assert [get_lr(i, music) for i in range(200)] == [get_lr(i, gpt) for i in range(200)]
    assert get_lr(0, ImageTrainSettings(lr=3e-4)) is None  # the loop leaves the optimisers' rate alone


def test_settings_saved_by_older_versions_are_read_with_todays_names():
    old = {"data": "pics", "out": "m.safetensors", "batch": 8, "preview_every": 20, "no_longer_a_field": 1}
    s = ImageTrainSettings.from_dict(old)
    assert (s.batch_size, s.sample_every, s.data) == (8, 20, "pics")
    assert ImageTrainSettings.from_dict({**old, "batch_size": 4}).batch_size == 4  # the new name wins
