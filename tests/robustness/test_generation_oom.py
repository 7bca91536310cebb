"""Running out of memory while generating never crashes: the job draws fewer pictures at a time, retries,
or moves to the CPU, says so in its log, and returns what an uninterrupted run returns. When nothing helps,
the user gets a message that says what to change.

Out of memory is simulated by a model that raises torch's allocation error (a fake memory limit, or the
first few calls). A device other than the CPU is stood in for by PyTorch's data-less "meta" device.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_studio.core.jobs import run_job
from aigc_studio.errors import StudioError

from .long_jobs import gan_file, gpt_file, music_transformer_file

OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"


class FakeMemory:
    """Wraps a method so that it raises an out-of-memory error on chosen calls."""

    def __init__(self, monkeypatch, owner, name: str, fails) -> None:
        self.calls = 0
        self.failures = 0
        original = getattr(owner, name)

        def limited(obj, *args, **kwargs):
            self.calls += 1
            if fails(obj, args, self.calls):
                self.failures += 1
                raise torch.OutOfMemoryError(OOM) if hasattr(torch, "OutOfMemoryError") else RuntimeError(OOM)
            return original(obj, *args, **kwargs)

        monkeypatch.setattr(owner, name, limited)


def _off_cpu(obj) -> bool:
    return next(obj.parameters()).device.type != "cpu"


# --- pictures ---


@pytest.fixture(scope="module")
def gan(tmp_path_factory):
    return gan_file(tmp_path_factory.mktemp("gan") / "gan.safetensors", resolution=32)


def _pictures(gan, **kw):
    from aigc_studio.image.jobs import GenerateImagesJob

    logs = []
    result = run_job(GenerateImagesJob(str(gan), count=13, seed=5), on_log=logs.append, **kw)
    return np.stack([item["image"] for item in result["items"]]), logs


def test_pictures_are_drawn_fewer_at_a_time_when_memory_is_short(monkeypatch, gan):
    from aigc_studio.image.gan import Generator

    expected, _ = _pictures(gan)
    memory = FakeMemory(monkeypatch, Generator, "forward", lambda g, args, n: args[0].shape[0] > 2)
    pictures, logs = _pictures(gan)
    assert memory.failures == 2  # 8 and 4 at a time failed, 2 at a time fits
    assert pictures.shape == expected.shape
    assert np.abs(pictures.astype(int) - expected).max() <= 1  # the same pictures, up to rounding
    assert logs[:2] == ["Out of memory drawing 8 pictures at once: continuing 4 at a time.",
                        "Out of memory drawing 4 pictures at once: continuing 2 at a time."]


def test_pictures_move_to_the_cpu_when_even_one_does_not_fit_on_the_device(monkeypatch, gan):
    from aigc_studio.image.gan import Generator

    expected, _ = _pictures(gan)
    FakeMemory(monkeypatch, Generator, "forward", lambda g, args, n: _off_cpu(g))
    pictures, logs = _pictures(gan, device="meta")
    assert np.array_equal(pictures, expected)
    assert "drawing the rest on the CPU" in logs[-1]


def test_no_memory_even_on_the_cpu_fails_with_a_message_in_the_app(qtbot, engine, monkeypatch, gan):
    from aigc_studio.image.gan import Generator
    from aigc_studio.image.jobs import GenerateImagesJob

    FakeMemory(monkeypatch, Generator, "forward", lambda g, args, n: True)
    handle = engine.submit(GenerateImagesJob(str(gan), count=4, seed=1))
    lines = []
    handle.log.connect(lines.append)
    with qtbot.waitSignal(handle.failed, timeout=30_000) as failure:
        pass
    assert "Out of memory drawing even one picture" in failure.args[0] and "smaller model" in failure.args[0]
    assert any("continuing 1 at a time" in line for line in lines)
    monkeypatch.undo()
    after = engine.submit(GenerateImagesJob(str(gan), count=2, seed=1))  # the engine carries on
    with qtbot.waitSignal(after.finished, timeout=30_000):
        pass


# --- text ---


@pytest.fixture(scope="module")
def gpt(tmp_path_factory):
    return gpt_file(tmp_path_factory.mktemp("gpt") / "gpt.safetensors", context=64)


def _text(gpt, temperature=0.8, **kw):
    from aigc_studio.text.jobs import GenerateTextJob

    logs = []
    job = GenerateTextJob(str(gpt), "The garden", temperature=temperature, max_new_tokens=40, seed=3)
    return run_job(job, on_log=logs.append, **kw)["text"], logs


@pytest.mark.parametrize("failing_call", [1, 12], ids=["reading the prompt", "mid-sentence"])
def test_writing_retries_after_running_out_of_memory_and_writes_the_same_text(monkeypatch, gpt, failing_call):
    from aigc_studio.text.gpt import OwnGPT

    temperature = 0.0 if failing_call > 1 else 0.8  # a rebuilt cache matches to rounding: greedy picks alike
    expected, _ = _text(gpt, temperature)
    memory = FakeMemory(monkeypatch, OwnGPT, "logits", lambda lm, args, n: n == failing_call)
    text, logs = _text(gpt, temperature)
    assert memory.failures == 1
    assert text == expected and len(text) > 10
    assert logs == ["Out of memory while writing: freed memory and trying again."]


def test_writing_moves_to_the_cpu_when_the_device_runs_out(monkeypatch, gpt):
    from aigc_studio.text.gpt import OwnGPT

    expected, _ = _text(gpt)
    FakeMemory(monkeypatch, OwnGPT, "logits", lambda lm, args, n: lm.device.type != "cpu")
    text, logs = _text(gpt, device="meta")
    assert text == expected
    assert logs == ["Out of memory on the META while writing: continuing on the CPU (slower)."]


def test_writing_with_no_memory_at_all_says_what_to_change(monkeypatch, gpt):
    from aigc_studio.text.gpt import OwnGPT

    FakeMemory(monkeypatch, OwnGPT, "logits", lambda lm, args, n: True)
    with pytest.raises(StudioError, match="fewer tokens"):
        _text(gpt)


# --- music ---


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    return music_transformer_file(tmp_path_factory.mktemp("mt") / "mt.safetensors", context=256)


def _music(music, **kw):
    from aigc_studio.music.jobs import GenerateMusicJob

    logs = []
    result = run_job(GenerateMusicJob(str(music), bars=4), seed=9, on_log=logs.append, **kw)
    notes = [(n.pitch, n.start, n.duration) for t in result["fragment"].tracks for n in t.notes]
    return notes, logs


def test_music_retries_after_running_out_of_memory_and_writes_the_same_notes(monkeypatch, music):
    from aigc_studio.music.decoding import IncrementalDecoder

    expected, _ = _music(music)
    memory = FakeMemory(monkeypatch, IncrementalDecoder, "feed", lambda d, args, n: n == 30)
    notes, logs = _music(music)
    assert memory.failures == 1 and notes == expected and notes
    assert logs == ["Out of memory while writing 4 bars: freed memory and trying again."]


def test_music_moves_to_the_cpu_when_the_device_runs_out(monkeypatch, music):
    from aigc_studio.nn.transformer import TransformerLM

    expected, _ = _music(music)
    FakeMemory(monkeypatch, TransformerLM, "forward", lambda m, args, n: _off_cpu(m))
    from aigc_studio.music.decoding import IncrementalDecoder

    FakeMemory(monkeypatch, IncrementalDecoder, "feed", lambda d, args, n: d.keys.device.type != "cpu")
    notes, logs = _music(music, device="meta")
    assert notes == expected
    assert logs == ["Out of memory on the META while writing 4 bars: trying again on the CPU."]


def test_music_with_no_memory_at_all_says_what_to_change(monkeypatch, music):
    from aigc_studio.music.decoding import IncrementalDecoder

    FakeMemory(monkeypatch, IncrementalDecoder, "feed", lambda d, args, n: True)
    with pytest.raises(StudioError, match="fewer bars"):
        _music(music)
