"""Play a song on a MIDI output port (a DAW, a hardware synth): messages sent in time with a clock.

:class:`MidiScheduler` is plain Python: the player calls :meth:`MidiScheduler.advance` from its
playback timer with the seconds played so far, and every message that has come due goes to the
port (anything with ``send(msg)``: a mido port, or a fake in tests). Opening real ports needs
the optional ``python-rtmidi`` package.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import mido

from aigc_studio.errors import InputError
from aigc_studio.music.song import Song
from aigc_studio.music.soundfont import assign_channels

ALL_NOTES_OFF = 123
ALSA_SEQUENCER = "/dev/snd/seq"


def midi_output_ports() -> tuple[list[str], str]:
    """Output port names, and when there are none a line saying why (for a disabled menu item)."""
    if importlib.util.find_spec("rtmidi") is None:
        return [], "MIDI output needs python-rtmidi (pip install python-rtmidi)"
    if sys.platform.startswith("linux") and not Path(ALSA_SEQUENCER).exists():
        # Asking rtmidi here would only print ALSA errors to the terminal.
        return [], "No MIDI system (no ALSA sequencer on this computer)"
    try:
        names = list(mido.get_output_names())
    except Exception as exc:  # rtmidi raises its own errors when the OS has no MIDI system
        return [], f"No MIDI system ({type(exc).__name__})"
    return names, "" if names else "No MIDI output ports found"


def open_midi_port(name: str):
    """Open a MIDI output port by name (raises :class:`InputError` with a readable message)."""
    try:
        return mido.open_output(name)
    except Exception as exc:  # the port vanished, or the back-end refused it
        raise InputError(f"Could not open MIDI port {name!r}: {exc}") from exc


class MidiScheduler:
    """Program changes, note-ons and note-offs of a song span, due at seconds from the span's start."""

    def __init__(self, song: Song, port, start_tick: int = 0, end_tick: int | None = None,
                 muted: set[int] | frozenset = frozenset()) -> None:
        self.port = port
        end_tick = song.end_tick if end_tick is None else end_tick
        t0 = song.tick_to_seconds(start_tick)
        events: list[tuple[float, int, mido.Message]] = []  # (seconds, order, message); offs sort before ons
        self.channels: set[int] = set()
        for index, (channel, track) in enumerate(zip(assign_channels(song), song.tracks)):
            if index in muted or not track.notes:
                continue
            self.channels.add(channel)
            events.append((0.0, -1, mido.Message("program_change", channel=channel, program=track.program)))
            for n in track.notes:
                if n.end <= start_tick or n.start >= end_tick:
                    continue
                on = song.tick_to_seconds(max(n.start, start_tick)) - t0
                off = song.tick_to_seconds(min(n.end, end_tick)) - t0
                events.append((on, 1, mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity)))
                events.append((off, 0, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        self.events = events
        self._next = 0
        self._sounding: dict[tuple[int, int], int] = {}  # (channel, pitch) -> how many note-ons are open

    @property
    def finished(self) -> bool:
        """True once every message has been sent."""
        return self._next >= len(self.events)

    def advance(self, seconds: float) -> int:
        """Send every message due by ``seconds``; returns how many were sent."""
        sent = 0
        while self._next < len(self.events) and self.events[self._next][0] <= seconds:
            msg = self.events[self._next][2]
            self._next += 1
            key = (msg.channel, getattr(msg, "note", -1))
            if msg.type == "note_on":
                self._sounding[key] = self._sounding.get(key, 0) + 1
            elif msg.type == "note_off":
                if self._sounding.get(key, 0) <= 0:
                    continue  # its note-on was never sent
                self._sounding[key] -= 1
            self.port.send(msg)
            sent += 1
        return sent

    def stop(self) -> None:
        """Release every sounding note, then all-notes-off on each channel used; rewind to the start."""
        for (channel, pitch), count in self._sounding.items():
            for _ in range(count):
                self.port.send(mido.Message("note_off", channel=channel, note=pitch, velocity=0))
        for channel in sorted(self.channels):
            self.port.send(mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0))
        self._sounding.clear()
        self._next = 0
