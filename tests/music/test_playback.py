"""Playback back-ends: a SoundFont renders the notes (programs and drums honoured), a broken one falls back
with a message, a MIDI port gets notes in time with the cursor and all-notes-off on stop."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.music.midi_out import ALL_NOTES_OFF, MidiScheduler
from aigc_studio.music.song import Note, Song, TempoChange, Track
from aigc_studio.music.soundfont import SoundFontSynth, render_song, tinysoundfont_installed
from aigc_studio.music.synth import SAMPLE_RATE
from tests.music.sf2 import sf2_bytes, write_sf2


class FakePort:
    """A MIDI output port that remembers what it was sent, and when."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, object]] = []
        import time

        self._clock, self._t0 = time.monotonic, time.monotonic()

    def send(self, msg) -> None:
        self.sent.append((self._clock() - self._t0, msg))

    def of_type(self, kind: str) -> list:
        return [m for _, m in self.sent if m.type == kind]


def one_note(program: int = 0, channel: int = 0, pitch: int = 69, beats: int = 2) -> Song:
    """One note at 120 bpm: ``beats`` half-seconds long."""
    return Song(tracks=[Track("t", program, channel, [Note(pitch, 0, 480 * beats, 100)])],
                tempos=[TempoChange(0, 500_000)])


def third_harmonic(pcm: np.ndarray) -> float:
    """Energy at 3 x 441 Hz relative to the strongest peak (square waves have it, sines do not)."""
    part = pcm[2000:12000].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(part))
    freqs = np.fft.rfftfreq(len(part), 1 / SAMPLE_RATE)
    assert abs(freqs[spectrum.argmax()] - 441) < 5  # the sample's pitch at key 69
    return float(spectrum[np.argmin(abs(freqs - 3 * 441))] / spectrum.max())


def test_a_soundfont_note_sounds_at_its_pitch_for_its_length(tmp_path):
    pytest.importorskip("tinysoundfont")
    synth = SoundFontSynth(write_sf2(tmp_path / "tiny.sf2"))
    pcm = synth.render(one_note(beats=2))
    assert pcm.dtype == np.int16 and len(pcm) == SAMPLE_RATE + 1  # 2 beats at 120 bpm, like the built-in synth
    assert np.abs(pcm[: SAMPLE_RATE // 2]).max() > 2000  # loud while held
    assert third_harmonic(pcm) < 0.05  # program 0 is the sine preset


def test_programs_and_the_drum_channel_pick_their_presets(tmp_path):
    pytest.importorskip("tinysoundfont")
    synth = SoundFontSynth(write_sf2(tmp_path / "tiny.sf2"))
    assert third_harmonic(synth.render(one_note(program=1))) > 0.2  # program 1 is the square preset
    assert third_harmonic(synth.render(one_note(program=0, channel=9))) > 0.2  # channel 10: the bank-128 kit
    pcm, message = render_song(one_note(program=40), soundfont=synth)
    assert np.abs(pcm).max() > 2000 and "program 40 missing" in message  # a program the file lacks still sounds


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing"])
def test_a_broken_soundfont_falls_back_to_the_builtin_synth_with_a_message(tmp_path, damage):
    path = tmp_path / "broken.sf2"
    if damage == "garbage":
        path.write_bytes(b"this is not a soundfont")
    elif damage == "truncated":
        path.write_bytes(sf2_bytes()[:300])
    pcm, message = render_song(one_note(), soundfont=path)
    assert "built-in synth" in message and "broken.sf2" in message
    assert len(pcm) == SAMPLE_RATE + 1 and np.abs(pcm).max() > 1000


def test_midi_scheduler_sends_programs_and_notes_when_due_and_silences_on_stop():
    song = Song(tracks=[Track("Lead", 40, 0, [Note(60, 0, 480, 90), Note(64, 480, 480, 80)]),
                        Track("Drums", 0, 9, [Note(36, 0, 120, 100)]),
                        Track("Muted", 5, 1, [Note(50, 0, 960)])], tempos=[TempoChange(0, 500_000)])
    port = FakePort()
    scheduler = MidiScheduler(song, port, 0, song.end_tick, muted={2})
    scheduler.advance(0.0)
    programs = {(m.channel, m.program) for m in port.of_type("program_change")}
    assert programs == {(0, 40), (9, 0)}  # muted track: nothing
    assert {(m.channel, m.note) for m in port.of_type("note_on")} == {(0, 60), (9, 36)}
    scheduler.advance(0.2)
    assert [(m.channel, m.note) for m in port.of_type("note_off")] == [(9, 36)]  # the drum hit is 0.0625 s
    scheduler.advance(0.6)  # the second note starts at 0.5 s, after the first one ends
    names = [(m.type, m.note) for _, m in port.sent if m.type.startswith("note")]
    assert names[-2:] == [("note_off", 60), ("note_on", 64)]
    scheduler.stop()
    assert port.of_type("note_off")[-1].note == 64  # the sounding note is released
    assert {m.channel for m in port.of_type("control_change") if m.control == ALL_NOTES_OFF} == {0, 9}


def test_pane_plays_to_a_midi_port_with_the_cursor_and_stops_it(qtbot, pane, song):
    port = FakePort()
    pane.player.attach_port(port, "Fake synth")
    pane.song = song
    pane.song_changed()
    pane.toggle_playback()
    qtbot.waitUntil(lambda: len(port.of_type("note_on")) >= 5, timeout=5000)  # ~1 s of notes
    first = {(m.channel, m.note) for m in port.of_type("note_on")[:3]}
    assert first == {(0, 60), (1, 48), (9, 36)}
    late = [t for t, m in port.sent if m.type == "note_on"][-1]
    tick = pane.state.play_tick
    assert tick is not None and abs(song.tick_to_seconds(tick) - late) < 0.6  # the cursor keeps time with the notes
    pane.toggle_playback()
    assert not pane.player.is_playing and pane.state.play_tick is None
    offs = {m.channel for m in port.of_type("control_change") if m.control == ALL_NOTES_OFF}
    assert offs == {0, 1, 9}
    ons, offs_ = len(port.of_type("note_on")), len(port.of_type("note_off"))
    assert ons == offs_  # every note that started was released


def test_sound_menu_lists_ports_or_says_why_not_and_remembers_the_soundfont(qtbot, pane, tmp_path, monkeypatch):
    import aigc_studio.music.midi_out as midi_out
    import aigc_studio.ui.music.playback as playback

    monkeypatch.setattr(midi_out, "midi_output_ports", lambda: ([], "MIDI output needs python-rtmidi"))
    pane.sound.fill_menu()
    assert not pane.sound.actions["no_ports"].isEnabled()
    assert "python-rtmidi" in pane.sound.actions["no_ports"].text()
    port = FakePort()
    monkeypatch.setattr(midi_out, "midi_output_ports", lambda: (["Fake synth"], ""))
    monkeypatch.setattr(playback, "open_midi_port", lambda name: port)
    pane.sound.fill_menu()
    pane.sound.actions["midi:Fake synth"].trigger()
    assert pane.player.midi_port_name == "Fake synth" and "MIDI" in pane.toolbar.sound.text()
    from aigc_studio.ui.music.pane import MusicPane

    next_session = MusicPane(pane.engine, pane.settings)  # the port is there again: playback goes to it
    qtbot.addWidget(next_session)
    assert next_session.player.midi_port_name == "Fake synth"
    next_session.shutdown()

    messages: list[str] = []
    pane.status_message.connect(messages.append)
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\0\0\0\0sfbk" + bytes(64))
    pane.sound.choose_soundfont(broken)
    assert pane.player.midi_port_name is None and not pane.settings.contains("music/midi_port")  # back to audio
    qtbot.waitUntil(lambda: any("not a usable SoundFont" in m or "tinysoundfont" in m for m in messages), timeout=5000)
    assert not pane.player.use_soundfont and pane.toolbar.sound.text() == "Built-in synth"
    assert pane.settings.value("music/soundfont") == str(broken)
    if tinysoundfont_installed():
        good = write_sf2(tmp_path / "good.sf2")
        pane.sound.choose_soundfont(good)
        qtbot.waitUntil(lambda: any("good.sf2 ready" in m for m in messages), timeout=5000)
        assert pane.player.use_soundfont and pane.toolbar.sound.text() == "SoundFont: good"
        pcm, message = render_song(one_note(), soundfont=pane.player._soundfont)
        assert "good.sf2" in message


def test_a_soundfont_found_at_start_up_is_used_without_a_status_message(qtbot, pane, tmp_path, monkeypatch):
    import aigc_studio.ui.music.sound_output as sound_output
    from aigc_studio.ui.music.pane import MusicPane

    if tinysoundfont_installed():
        system_soundfont = write_sf2(tmp_path / "system.sf2")
    else:  # without tinysoundfont a start-up load could only fail, and say so
        system_soundfont = tmp_path / "system.sf2"
        system_soundfont.write_bytes(b"RIFF\0\0\0\0sfbk" + bytes(64))
    monkeypatch.setattr(sound_output, "find_system_soundfont", lambda: system_soundfont)
    fresh = MusicPane(pane.engine, pane.settings)  # nobody chose a SoundFont: the system's is found
    qtbot.addWidget(fresh)
    messages: list[str] = []
    fresh.status_message.connect(messages.append)
    if tinysoundfont_installed():
        qtbot.waitUntil(lambda: fresh.player._soundfont is not None, timeout=5000)
        assert fresh.toolbar.sound.text() == "SoundFont: system"
    else:
        qtbot.wait(500)  # a load thread, had one started, reports within this
        assert fresh.player.soundfont_path == system_soundfont and not fresh.player.use_soundfont
    assert messages == []
    fresh.shutdown()
