"""Fixtures for the music studio: real MIDI files written byte by byte, tiny models built here."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from aigc_studio.music.song import Note, Song, TempoChange, Track


def chorale_like_song() -> Song:
    """Four bars, two parts plus drums, on a sixteenth grid, with a tempo change."""
    melody = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 64, 60]
    bass = [48, 43, 45, 41, 48, 43, 45, 48]
    song = Song(ticks_per_beat=480, tempos=[TempoChange(0, 500_000), TempoChange(1920 * 2, 600_000)])
    song.tracks = [
        Track("Melody", 0, 0, [Note(p, i * 480, 480, 70 + (i % 4) * 10) for i, p in enumerate(melody)]),
        Track("Bass", 32, 1, [Note(p, i * 960, 960, 90) for i, p in enumerate(bass)]),
        Track("Drums", 0, 9, [Note(36 if i % 2 == 0 else 38, i * 480, 120, 100) for i in range(16)]),
    ]
    return song


@pytest.fixture
def song() -> Song:
    """A small multi-track song."""
    return chorale_like_song()


def write_type0_with_extras(path: Path) -> None:
    """A type 0 file with running status, two tempos, drums, pitch bend, a CC and lyrics."""
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    track.append(mido.Message("program_change", channel=0, program=5, time=0))
    track.append(mido.Message("note_on", channel=0, note=60, velocity=80, time=0))
    track.append(mido.Message("note_on", channel=0, note=64, velocity=80, time=0))  # running status
    track.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0))
    track.append(mido.Message("pitchwheel", channel=0, pitch=2000, time=10))
    track.append(mido.Message("control_change", channel=0, control=64, value=127, time=0))
    track.append(mido.MetaMessage("lyrics", text="la", time=0))
    track.append(mido.Message("note_on", channel=9, note=36, velocity=0, time=110))
    track.append(mido.Message("note_on", channel=0, note=60, velocity=0, time=360))  # note-on 0 = off
    track.append(mido.Message("note_off", channel=0, note=64, velocity=0, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=400_000, time=0))
    track.append(mido.Message("note_on", channel=0, note=67, velocity=90, time=0))
    track.append(mido.Message("note_off", channel=0, note=67, velocity=0, time=480))
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(path))


@pytest.fixture(scope="session")
def tiny_transformer_path(tmp_path_factory) -> Path:
    """An untrained tiny music transformer saved as a real model file."""
    import torch

    from aigc_studio.core.modelfile import ModelCard, save_model
    from aigc_studio.music.event_model import model_tensors, new_music_transformer
    from aigc_studio.music.tokenizer import MusicTokenizer

    torch.manual_seed(0)
    mt = new_music_transformer(MusicTokenizer(), layers=2, heads=2, width=32, context=128)
    path = tmp_path_factory.mktemp("mt") / "tiny-music.safetensors"
    from dataclasses import asdict

    card = ModelCard("music-transformer", asdict(mt.model.config), name="tiny", tokenizer=mt.tok.to_card(), untrained=True)
    save_model(path, model_tensors(mt.model), card)
    return path


@pytest.fixture(scope="session")
def tiny_vae_path(tmp_path_factory) -> Path:
    """An untrained tiny MusicVAE model file."""
    import torch

    from aigc_studio.core.modelfile import save_model
    from aigc_studio.music.vae import MusicVAE, MusicVAEConfig, vae_card

    torch.manual_seed(0)
    model = MusicVAE(MusicVAEConfig(hidden=32, latent=8, embed=16))
    path = tmp_path_factory.mktemp("vae") / "tiny-vae.safetensors"
    save_model(path, model.state_dict(), vae_card(model, name="tiny-vae", untrained=True))
    return path


@pytest.fixture(scope="session")
def midi_folder(tmp_path_factory) -> Path:
    """A folder of a few real .mid files plus one broken file."""
    from aigc_studio.music.midi_io import write_midi
    from aigc_studio.music.song import move_notes

    folder = tmp_path_factory.mktemp("midi")
    for i in range(4):
        song = chorale_like_song()
        for t in range(2):
            move_notes(t, song.tracks[t].notes, 0, i).do(song)
        write_midi(song, folder / f"song{i}.mid")
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x90\x3c")
    (folder / "notes.txt").write_text("not midi")
    return folder


@pytest.fixture
def pane(qtbot, engine, studio_home):
    """A shown music pane with its own settings file."""
    from PySide6.QtCore import QSettings

    from aigc_studio.ui.music.pane import MusicPane

    settings = QSettings(str(studio_home / "settings.ini"), QSettings.Format.IniFormat)
    pane = MusicPane(engine, settings)
    qtbot.addWidget(pane)
    pane.resize(1200, 700)
    pane.show()
    qtbot.waitExposed(pane)
    pane.toolbar.random_seed.setChecked(False)
    yield pane
    pane.shutdown()


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The CI machine is small and shared: one torch thread is faster than fighting over cores."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def band_model(tmp_path_factory):
    """An untrained tiny transformer whose card says it knows drums, bass and piano, 3 notes per onset."""
    from dataclasses import asdict

    import torch

    from aigc_studio.core.modelfile import ModelCard, save_model
    from aigc_studio.music.event_model import model_tensors, new_music_transformer
    from aigc_studio.music.tokenizer import MusicTokenizer

    torch.manual_seed(1)
    mt = new_music_transformer(MusicTokenizer(), layers=1, heads=2, width=32, context=128)
    card = ModelCard(
        "music-transformer",
        asdict(mt.model.config),
        name="band",
        tokenizer=mt.tok.to_card(),
        extra={"limits": {"max_onset_notes": 3, "max_sounding_notes": 5, "programs": [0, 33, 128]}},
    )
    path = tmp_path_factory.mktemp("band") / "band.safetensors"
    save_model(path, model_tensors(mt.model), card)
    return path
