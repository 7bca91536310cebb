"""Playback: PCM from the built-in synth or a SoundFont played by QAudioSink, or messages to a MIDI port.

One clock drives everything: a timer on the GUI thread reads the elapsed time,
moves the cursor and, with a MIDI port, sends the messages that have come due
(sending is quick; nothing waits). Rendering PCM (and loading a SoundFont,
which can be 100+ MB) runs on a worker thread and comes back as a signal, so
the window never freezes. Without an audio output device (servers, offscreen
tests) playback runs silently with a moving cursor, and says so.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QElapsedTimer, QIODevice, QObject, Qt, QTimer, Signal

from aigc_studio.errors import InputError
from aigc_studio.music.midi_out import MidiScheduler, open_midi_port
from aigc_studio.music.song import Song
from aigc_studio.music.soundfont import SoundFontError, SoundFontSynth


class Player(QObject):
    """Plays a song from a tick, optionally looping a tick range; emits the play position."""

    position = Signal(int)  # tick, or -1 when stopped
    playing_changed = Signal(bool)
    message = Signal(str)
    soundfont_loaded = Signal(str)  # file name, or "" when it could not be used (the message says why)
    _rendered = Signal(object, int, str)  # pcm, play number, message: from the render thread
    _loaded = Signal(object, object, str)  # path, SoundFontSynth or None, message: from the load thread

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.sample_rate = 22050
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._sink = None
        self._buffer: QBuffer | None = None
        self._pcm = b""
        self._song: Song | None = None
        self._span = (0, 0)
        self._loop = False
        self._muted: set[int] = set()
        self._play_number = 0
        self._rendering = False
        self._render_stop = threading.Event()  # set by stop(): the render thread gives up within ~0.1 s
        self.render_thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one render or load at a time uses the SoundFont
        self.silent = False
        self.soundfont_path: Path | None = None
        self.use_soundfont = False
        self._quiet_load = False
        self._soundfont: SoundFontSynth | None = None
        self.midi_port_name: str | None = None
        self._port = None
        self._scheduler: MidiScheduler | None = None
        self._rendered.connect(self._on_rendered)
        self._loaded.connect(self._on_loaded)

    @property
    def is_playing(self) -> bool:
        """True while playing (or preparing the sound to play)."""
        return self._timer.isActive() or self._rendering

    def has_audio_device(self) -> bool:
        """True when Qt sees a default audio output."""
        try:
            from PySide6.QtMultimedia import QMediaDevices

            return not QMediaDevices.defaultAudioOutput().isNull()
        except Exception:  # QtMultimedia missing or broken
            return False

    # ------------------------------------------------------------ sound sources
    def set_soundfont(self, path: str | Path | None, quiet: bool = False) -> None:
        """Use ``path`` for audio from now on (loaded on a worker thread; ``soundfont_loaded`` tells the result).

        ``quiet``: no status message when it is ready or fails (the one restored at start-up was not asked for now).
        """
        self.soundfont_path = Path(path) if path else None
        self._quiet_load = quiet
        self._soundfont = None
        self.use_soundfont = self.soundfont_path is not None
        if self.soundfont_path is None:
            return
        target = self.soundfont_path

        def load() -> None:
            with self._lock:
                try:
                    synth, text = SoundFontSynth(target, self.sample_rate), f"SoundFont {target.name} ready."
                except SoundFontError as exc:
                    synth, text = None, f"{exc} Playback uses the built-in synth."
            self._loaded.emit(target, synth, text)

        threading.Thread(target=load, name="soundfont-load", daemon=True).start()

    def _on_loaded(self, path: Path, synth: SoundFontSynth | None, text: str) -> None:
        if path != self.soundfont_path:
            return  # another SoundFont was chosen meanwhile
        self._soundfont = synth
        self.use_soundfont = synth is not None
        self.soundfont_loaded.emit(path.name if synth is not None else "")
        if not self._quiet_load:
            self.message.emit(text)

    def set_midi_port(self, name: str | None) -> bool:
        """Send playback to the MIDI port ``name`` (None: back to audio). False, with a message, if it fails."""
        self._close_port()
        if name is None:
            return True
        try:
            self._port = open_midi_port(name)
        except InputError as exc:
            self.message.emit(f"{exc} Playback uses audio.")
            return False
        self.midi_port_name = name
        self.message.emit(f"Playback goes to MIDI port {name}.")
        return True

    def attach_port(self, port, name: str = "port") -> None:
        """Use an already open port (anything with ``send(msg)``): for tests and scripts."""
        self._close_port()
        self._port, self.midi_port_name = port, name

    def _close_port(self) -> None:
        self.stop()
        if self._port is not None and hasattr(self._port, "close"):
            self._port.close()
        self._port, self.midi_port_name = None, None

    # ------------------------------------------------------------ playing
    def play(
        self, song: Song, start_tick: int, end_tick: int, loop: bool = False, muted: set[int] | None = None
    ) -> None:
        """Start playing ``song`` between two ticks (looping when ``loop``)."""
        self.stop()
        if end_tick <= start_tick:
            self.message.emit("Nothing to play.")
            return
        self._song, self._span, self._loop, self._muted = song.copy(), (start_tick, end_tick), loop, set(muted or ())
        self._play_number += 1
        if self._port is not None:
            self._scheduler = MidiScheduler(self._song, self._port, start_tick, end_tick, self._muted)
            self._timer.setInterval(5)  # MIDI notes land within ~5 ms of their time
            self._start_clock()
            return
        self._timer.setInterval(30)
        self.silent = not self.has_audio_device()
        if self.silent:
            self.message.emit("No audio output device: playing silently (the cursor still moves).")
            self._start_clock()
            return
        self._render_in_background()

    def _start_clock(self) -> None:
        self._clock.start()
        self._timer.start()
        self.playing_changed.emit(True)
        if self._scheduler is not None:
            self._scheduler.advance(0.0)

    def _render_in_background(self) -> None:
        from aigc_studio.errors import Cancelled
        from aigc_studio.music.soundfont import render_song

        self._render_stop.set()  # a render still running for an earlier play gives up
        stop_flag = self._render_stop = threading.Event()
        self._rendering = True
        self.playing_changed.emit(True)
        song, span, muted, number = self._song, self._span, set(self._muted), self._play_number
        soundfont = self._soundfont if self.use_soundfont and self._soundfont is not None else None
        if self.use_soundfont and soundfont is None and self.soundfont_path is not None:
            soundfont = self.soundfont_path  # still loading: load it here

        def work() -> None:
            try:
                with self._lock:
                    pcm, text = render_song(
                        song, self.sample_rate, *span, muted=muted, soundfont=soundfont, should_stop=stop_flag.is_set
                    )
            except Cancelled:
                return  # stopped: nothing to play, nothing kept
            self._rendered.emit(pcm, number, text)

        self.render_thread = threading.Thread(target=work, name="music-render", daemon=True)
        self.render_thread.start()

    def _on_rendered(self, pcm, number: int, text: str) -> None:
        if number != self._play_number or not self._rendering:
            return  # stopped or restarted meanwhile
        self._rendering = False
        if "SoundFont" in text:
            self.message.emit(text)
        self._pcm = pcm.tobytes()
        self._start_sink()
        self._start_clock()

    def _start_sink(self) -> None:
        try:
            from PySide6.QtMultimedia import QAudioFormat, QAudioSink

            fmt = QAudioFormat()
            fmt.setSampleRate(self.sample_rate)
            fmt.setChannelCount(1)
            fmt.setSampleFormat(QAudioFormat.Int16)
            self._buffer = QBuffer(self)
            self._buffer.setData(QByteArray(self._pcm))
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
        elapsed = self._clock.elapsed() / 1000.0
        if self._scheduler is not None:
            self._scheduler.advance(elapsed)
        tick = song.seconds_to_tick(song.tick_to_seconds(start) + elapsed)
        if tick >= end:
            if self._loop:
                self._restart_loop()
                tick = start
            else:
                self.stop()
                return
        self.position.emit(tick)

    def _restart_loop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
        elif self._pcm and not self.silent:
            self._stop_audio()
            self._start_sink()
        self._clock.restart()
        if self._scheduler is not None:
            self._scheduler.advance(0.0)

    def _stop_audio(self) -> None:
        if self._sink is not None:
            self._sink.stop()
            self._sink.deleteLater()
            self._sink = None
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None

    def stop(self) -> None:
        """Stop playing (no-op when stopped); a MIDI port gets note-offs and all-notes-off."""
        was = self.is_playing
        self._timer.stop()
        self._rendering = False
        self._render_stop.set()
        self._stop_audio()
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        if was:
            self.position.emit(-1)
            self.playing_changed.emit(False)

    def close(self) -> None:
        """Stop and close the MIDI port (when the window closes)."""
        self._close_port()
