"""Songs through a SoundFont (.sf2) with the optional ``tinysoundfont`` package, or the built-in synth.

Each track gets its own synth channel with its General MIDI program; tracks on
MIDI channel 10 (index 9) play the SoundFont's drum kit (bank 128). When no
SoundFont is set, tinysoundfont is missing or the file is broken,
:func:`render_song` falls back to :mod:`aigc_studio.music.synth` and says why.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aigc_studio.errors import Cancelled, InputError
from aigc_studio.music import synth
from aigc_studio.music.song import DRUM_CHANNEL, Song

# Debian/Ubuntu packages fluid-soundfont-gm and timgm6mb-soundfont (best first).
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)


class SoundFontError(InputError):
    """A SoundFont cannot be used: tinysoundfont is missing or the file is not a readable .sf2."""


def tinysoundfont_installed() -> bool:
    """True when the optional ``tinysoundfont`` package can be imported."""
    return importlib.util.find_spec("tinysoundfont") is not None


def find_system_soundfont(candidates: tuple[str, ...] = SYSTEM_SOUNDFONTS) -> Path | None:
    """The first General MIDI SoundFont installed by the system's packages, if any."""
    return next((Path(p) for p in candidates if Path(p).is_file()), None)


def check_soundfont_file(path: Path) -> None:
    """Raise SoundFontError unless ``path`` is a complete RIFF ``sfbk`` file (checks the header only)."""
    if not path.is_file():
        raise SoundFontError(f"SoundFont {path.name} not found.")
    try:
        with path.open("rb") as f:
            head = f.read(12)
        size = path.stat().st_size
    except OSError as exc:
        raise SoundFontError(f"{path.name} cannot be read ({exc.strerror}).") from exc
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise SoundFontError(f"{path.name} is not a usable SoundFont (not a RIFF sfbk file).")
    if int.from_bytes(head[4:8], "little") + 8 > size:
        raise SoundFontError(f"{path.name} is not a usable SoundFont (the file is truncated).")


class SoundFontSynth:
    """A loaded SoundFont that renders songs to mono int16 PCM (load once, render many times)."""

    def __init__(self, path: str | Path, sample_rate: int = synth.SAMPLE_RATE) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        check_soundfont_file(self.path)  # a broken file is named as such even without tinysoundfont
        if not tinysoundfont_installed():
            raise SoundFontError("SoundFont playback needs the tinysoundfont package (pip install tinysoundfont).")
        import tinysoundfont

        self._synth = tinysoundfont.Synth(samplerate=sample_rate)
        try:
            self._sfid = self._synth.sfload(str(self.path))
        except (OSError, RuntimeError, tinysoundfont.SoundFontException) as exc:
            raise SoundFontError(f"{self.path.name} is not a usable SoundFont (damaged, or not SoundFont 2).") from exc
        self.warnings: list[str] = []

    def _select(self, channel: int, program: int, drums: bool) -> None:
        """Program (or drum kit) on a channel; a program the SoundFont lacks falls back to its first."""
        try:
            self._synth.program_select(channel, self._sfid, 0, program, is_drums=drums)
            return
        except RuntimeError:
            pass
        for bank, preset in ((128, 0), (0, 0)) if drums else ((0, 0),):
            try:
                self._synth.program_select(channel, self._sfid, bank, preset, is_drums=drums)
            except RuntimeError:
                continue
            self.warnings.append(f"{'drum kit' if drums else f'program {program}'} missing: bank {bank} preset {preset} used")
            return
        raise SoundFontError(f"{self.path.name} has no preset to play program {program}.")

    def render(self, song: Song, start_tick: int = 0, end_tick: int | None = None,
               muted: set[int] | frozenset = frozenset(), should_stop: Callable[[], bool] | None = None
               ) -> np.ndarray:
        """Mono int16 samples of ``song`` between two ticks, as long as the built-in synth's.

        ``should_stop`` is asked every few hundred events; yes raises Cancelled (the synth is silenced first).
        """
        sr = self.sample_rate
        end_tick = song.end_tick if end_tick is None else end_tick
        t0 = song.tick_to_seconds(start_tick)
        total = int(max(0.0, song.tick_to_seconds(end_tick) - t0) * sr) + 1
        self.warnings = []
        self._synth.sounds_off()
        events: list[tuple[int, int, int, int, int]] = []  # (sample, 0 = off / 1 = on, channel, pitch, velocity)
        for index, (channel, track) in enumerate(zip(assign_channels(song), song.tracks)):
            if index in muted or not track.notes:
                continue
            self._select(channel, track.program, channel == DRUM_CHANNEL)
            for note in track.notes:
                if note.end <= start_tick or note.start >= end_tick:
                    continue
                on = int((song.tick_to_seconds(max(note.start, start_tick)) - t0) * sr)
                off = int((song.tick_to_seconds(min(note.end, end_tick)) - t0) * sr)
                events.append((on, 1, channel, note.pitch, note.velocity))
                events.append((max(off, on + 1), 0, channel, note.pitch, 0))
        events.sort()  # at one instant, note-offs first so that a repeated note sounds again
        out = np.zeros(total, dtype=np.float32)
        done = 0
        for count, (when, kind, channel, pitch, velocity) in enumerate(events + [(total, -1, 0, 0, 0)]):
            if should_stop is not None and count % 256 == 0 and should_stop():
                self._synth.sounds_off()  # the next render starts from silence
                raise Cancelled()
            when = min(when, total)
            if when > done:
                stereo = np.frombuffer(self._synth.generate(when - done), dtype=np.float32)
                out[done:when] = stereo.reshape(-1, 2).mean(axis=1)
                done = when
            if kind == 1:
                self._synth.noteon(channel, pitch, velocity)
            elif kind == 0:
                self._synth.noteoff(channel, pitch)
        self._synth.sounds_off()
        peak = float(np.abs(out).max()) if total else 0.0
        if peak > 0.99:
            out *= 0.99 / peak
        return (out * 32767).astype(np.int16)


def assign_channels(song: Song) -> list[int]:
    """A synth channel per track: drums on 9; others keep their MIDI channel unless another track has it."""
    used: set[int] = set()
    out = []
    for track in song.tracks:
        if track.is_drum:
            out.append(DRUM_CHANNEL)
            continue
        channel = track.channel
        if channel in used or channel == DRUM_CHANNEL:
            free = [c for c in range(16) if c != DRUM_CHANNEL and c not in used]
            channel = free[0] if free else track.channel % 9  # more than 15 parts: share a channel
        used.add(channel)
        out.append(channel)
    return out


def render_song(song: Song, sample_rate: int = synth.SAMPLE_RATE, start_tick: int = 0, end_tick: int | None = None,
                muted: set[int] | frozenset = frozenset(), soundfont: str | Path | SoundFontSynth | None = None,
                should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, str]:
    """PCM through ``soundfont`` when it can be used, else the built-in synth; and a line saying which (and why).

    Raises Cancelled soon after ``should_stop()`` turns true (playback stopped while rendering).
    """
    if soundfont is not None:
        try:
            sf = soundfont if isinstance(soundfont, SoundFontSynth) else SoundFontSynth(soundfont, sample_rate)
            pcm = sf.render(song, start_tick, end_tick, muted, should_stop)
            note = f" ({'; '.join(sorted(set(sf.warnings)))})" if sf.warnings else ""
            return pcm, f"Playing through SoundFont {sf.path.name}{note}."
        except SoundFontError as exc:
            pcm = synth.render(song, sample_rate, start_tick, end_tick, muted, should_stop=should_stop)
            return pcm, f"{exc} Playing with the built-in synth."
    pcm = synth.render(song, sample_rate, start_tick, end_tick, muted, should_stop=should_stop)
    return pcm, "Playing with the built-in synth."
