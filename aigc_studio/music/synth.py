"""A small numpy synthesizer: songs to 16-bit PCM and WAV (no SoundFont needed).

Pitched notes are a few decaying harmonics with a short attack and release;
drums are filtered noise bursts. Good enough to hear the notes and to check
generated samples by their spectrum.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aigc_studio.errors import Cancelled
from aigc_studio.music.song import Song

SAMPLE_RATE = 22050


def render(song: Song, sample_rate: int = SAMPLE_RATE, start_tick: int = 0, end_tick: int | None = None,
           muted: set[int] | frozenset = frozenset(), gain: float = 0.25,
           should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Mono int16 samples of ``song`` between two ticks (muted track indices are skipped).

    ``should_stop`` is asked every few notes; when it says yes, Cancelled is raised (playback was stopped).
    """
    end_tick = song.end_tick if end_tick is None else end_tick
    t0 = song.tick_to_seconds(start_tick)
    length = max(0.0, song.tick_to_seconds(end_tick) - t0)
    out = np.zeros(int(length * sample_rate) + 1, dtype=np.float32)
    rng = np.random.default_rng(0)
    for index, track in enumerate(song.tracks):
        if index in muted:
            continue
        for count, note in enumerate(track.notes):
            if should_stop is not None and count % 64 == 0 and should_stop():
                raise Cancelled()
            if note.end <= start_tick or note.start >= end_tick:
                continue
            begin = song.tick_to_seconds(max(note.start, start_tick)) - t0
            dur = song.tick_to_seconds(min(note.end, end_tick)) - t0 - begin
            a = int(begin * sample_rate)
            n = max(1, min(len(out) - a, int((dur + 0.05) * sample_rate)))
            if n <= 0 or a >= len(out):
                continue
            tt = np.arange(n, dtype=np.float32) / sample_rate
            amp = (note.velocity / 127.0) ** 1.5
            if track.is_drum:
                wave_ = rng.standard_normal(n).astype(np.float32) * np.exp(-tt * 30.0)
                if note.pitch < 40:  # kick: add a falling sine
                    wave_ = 0.3 * wave_ + np.sin(2 * np.pi * 60 * tt * np.exp(-tt * 8)) * np.exp(-tt * 12)
            else:
                freq = 440.0 * 2 ** ((note.pitch - 69) / 12)
                phase = 2 * np.pi * freq * tt
                wave_ = (np.sin(phase) + 0.4 * np.sin(2 * phase) * np.exp(-tt * 3) + 0.15 * np.sin(3 * phase) * np.exp(-tt * 5))
                envelope = np.minimum(1.0, tt / 0.01) * np.exp(-tt * 1.2)
                release = np.clip((dur + 0.05 - tt) / 0.05, 0.0, 1.0)
                wave_ = wave_ * envelope * release
            out[a:a + n] += gain * amp * wave_.astype(np.float32)
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if peak > 0.99:
        out *= 0.99 / peak
    return (out * 32767).astype(np.int16)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Save mono int16 samples as a .wav file."""
    from aigc_studio.core.atomic import atomic_path

    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(samples, dtype=np.int16).tobytes())
