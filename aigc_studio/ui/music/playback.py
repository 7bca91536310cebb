"""Playback: the built-in synth renders PCM that QAudioSink plays; a timer moves the cursor.

Without an audio output device (servers, offscreen tests) playback still runs
silently with a moving cursor, and says so. A SoundFont (tinysoundfont) and a
MIDI output port (mido + python-rtmidi) are used when those packages exist.
"""

from __future__ import annotations

import importlib.util

from PySide6.QtCore import QBuffer, QByteArray, QElapsedTimer, QIODevice, QObject, QTimer, Signal

from aigc_studio.music.song import Song


def optional_backends() -> dict[str, bool]:
    """Which optional playback back-ends are installed."""
    return {"soundfont (tinysoundfont)": importlib.util.find_spec("tinysoundfont") is not None,
            "MIDI out (python-rtmidi)": importlib.util.find_spec("rtmidi") is not None}


def midi_output_ports() -> list[str]:
    """Names of MIDI output ports (empty without python-rtmidi)."""
    if importlib.util.find_spec("rtmidi") is None:
        return []
    try:
        import mido

        return list(mido.get_output_names())
    except Exception:  # no backend or no MIDI system: no ports
        return []


class Player(QObject):
    """Plays a song from a tick, optionally looping a tick range; emits the play position."""

    position = Signal(int)  # tick, or -1 when stopped
    playing_changed = Signal(bool)
    message = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.sample_rate = 22050
        self._timer = QTimer(self)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._sink = None
        self._buffer: QBuffer | None = None
        self._song: Song | None = None
        self._span = (0, 0)
        self._loop = False
        self._muted: set[int] = set()
        self.silent = False

    @property
    def is_playing(self) -> bool:
        """True while playing."""
        return self._timer.isActive()

    def has_audio_device(self) -> bool:
        """True when Qt sees a default audio output."""
        try:
            from PySide6.QtMultimedia import QMediaDevices

            return not QMediaDevices.defaultAudioOutput().isNull()
        except Exception:  # QtMultimedia missing or broken
            return False

    def play(self, song: Song, start_tick: int, end_tick: int, loop: bool = False, muted: set[int] | None = None) -> None:
        """Start playing ``song`` between two ticks (looping when ``loop``)."""
        self.stop()
        if end_tick <= start_tick:
            self.message.emit("Nothing to play.")
            return
        self._song, self._span, self._loop, self._muted = song, (start_tick, end_tick), loop, set(muted or ())
        self._start_audio()
        self._clock.start()
        self._timer.start()
        self.playing_changed.emit(True)

    def _start_audio(self) -> None:
        from aigc_studio.music.synth import render

        self.silent = not self.has_audio_device()
        if self.silent:
            self.message.emit("No audio output device: playing silently (the cursor still moves).")
            return
        pcm = render(self._song, self.sample_rate, *self._span, muted=self._muted)
        try:
            from PySide6.QtMultimedia import QAudioFormat, QAudioSink

            fmt = QAudioFormat()
            fmt.setSampleRate(self.sample_rate)
            fmt.setChannelCount(1)
            fmt.setSampleFormat(QAudioFormat.Int16)
            self._buffer = QBuffer(self)
            self._buffer.setData(QByteArray(pcm.tobytes()))
            self._buffer.open(QIODevice.ReadOnly)
            self._sink = QAudioSink(fmt, self)
            self._sink.start(self._buffer)
        except Exception as exc:  # an audio system that refuses the format: keep going silently
            self.silent = True
            self.message.emit(f"Audio output failed ({exc}); playing silently.")

    def _tick(self) -> None:
        song = self._song
        if song is None:
            return
        start, end = self._span
        seconds = song.tick_to_seconds(start) + self._clock.elapsed() / 1000.0
        tick = song.seconds_to_tick(seconds)
        if tick >= end:
            if self._loop:
                self._stop_audio()
                self._start_audio()
                self._clock.restart()
                tick = start
            else:
                self.stop()
                return
        self.position.emit(tick)

    def _stop_audio(self) -> None:
        if self._sink is not None:
            self._sink.stop()
            self._sink.deleteLater()
            self._sink = None
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None

    def stop(self) -> None:
        """Stop playing (no-op when stopped)."""
        was = self._timer.isActive()
        self._timer.stop()
        self._stop_audio()
        if was:
            self.position.emit(-1)
            self.playing_changed.emit(False)
