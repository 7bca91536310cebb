"""The piano roll with the real engine: mouse edits with undo, keyboard edits, playback, files, generation."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QPoint, Qt

from aigc_studio.errors import InputError
from aigc_studio.music.midi_io import read_midi, write_midi


def _point(pane, tick, pitch):
    s = pane.state
    return QPoint(int(s.x(tick)) + 3, int(s.y(pitch)) + s.key_height // 2)


def test_draw_move_resize_delete_with_the_mouse_each_undoable(qtbot, pane):
    roll, s = pane.roll, pane.state
    qtbot.mouseClick(roll, Qt.LeftButton, pos=_point(pane, 480, 72))
    notes = pane.song.tracks[0].notes
    assert [(n.pitch, n.start, n.duration) for n in notes] == [(72, 480, 120)]
    assert pane.is_dirty()
    # Drag the note one beat right and two semitones up.
    start = _point(pane, 480, 72)
    end = start + QPoint(int(480 * s.pixels_per_tick), -2 * s.key_height)
    qtbot.mousePress(roll, Qt.LeftButton, pos=start)
    qtbot.mouseMove(roll, end)
    qtbot.mouseRelease(roll, Qt.LeftButton, pos=end)
    assert [(n.pitch, n.start) for n in pane.song.tracks[0].notes] == [(74, 960)]
    assert not pane.song.tracks[0].notes[0].generated
    pane.undo()
    assert [(n.pitch, n.start) for n in pane.song.tracks[0].notes] == [(72, 480)]
    pane.redo()
    # Right-click deletes; undo brings it back.
    qtbot.mouseClick(roll, Qt.RightButton, pos=_point(pane, 960, 74))
    assert pane.song.note_count == 0
    pane.undo()
    assert pane.song.note_count == 1
    while pane.stack.canUndo():
        pane.undo()
    assert pane.song.note_count == 0 and not pane.is_dirty()


def test_rubber_band_select_transpose_copy_paste_quantise_velocity(qtbot, pane, song, tmp_path):
    path = tmp_path / "song.mid"
    write_midi(song, path)
    pane.open_path(path)
    pane.roll.tool = "select"
    a, b = _point(pane, 0, 80), _point(pane, 3 * 480 + 200, 55)
    qtbot.mousePress(pane.roll, Qt.LeftButton, pos=a)
    qtbot.mouseMove(pane.roll, b)
    qtbot.mouseRelease(pane.roll, Qt.LeftButton, pos=b)
    assert len(pane.state.selection) == 4  # the first four melody notes
    pane._actions["up"].trigger()
    assert [n.pitch for n in pane.song.tracks[0].notes[:4]] == [61, 63, 65, 66]
    pane._actions["copy"].trigger()
    pane.state.cursor = 16 * 480
    pane._actions["paste"].trigger()
    assert pane.song.tracks[0].notes[-1].start == 16 * 480 + 3 * 480
    pane._actions["select_all"].trigger()
    assert len(pane.state.selection) == 20
    pane._actions["delete"].trigger()
    assert pane.song.tracks[0].notes == []
    for _ in range(3):
        pane.undo()
    assert [n.pitch for n in pane.song.tracks[0].notes[:4]] == [60, 62, 64, 65]
    assert pane.song.tracks[0].notes[0].velocity == 70


def test_playback_starts_and_stops_without_an_audio_device(qtbot, pane, song, tmp_path):
    path = tmp_path / "song.mid"
    write_midi(song, path)
    pane.open_path(path)
    messages = []
    pane.status_message.connect(messages.append)
    pane._actions["play"].trigger()
    assert pane.player.is_playing
    qtbot.waitUntil(lambda: (pane.state.play_tick or 0) > 0, timeout=3000)
    pane._actions["play"].trigger()
    assert not pane.player.is_playing and pane.state.play_tick is None
    if pane.player.silent:
        assert any("No audio output device" in m for m in messages)


def test_broken_midi_is_refused_and_the_song_is_kept(qtbot, pane, tmp_path):
    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 0, 60))
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    with pytest.raises(InputError):
        pane.open_path(bad)
    assert pane.song.note_count == 1


def test_save_writes_midi_that_reads_back(qtbot, pane, tmp_path):
    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 480, 64))
    pane.path = tmp_path / "mine.mid"
    assert pane.save()
    song, _ = read_midi(tmp_path / "mine.mid")
    assert [(n.pitch, n.start) for n in song.tracks[0].notes] == [(64, 480)]
    assert not pane.is_dirty()


def test_generate_then_regenerate_range_marks_notes_and_undo_removes_them(qtbot, pane, tiny_transformer_path):
    pane.model_picker.select_path(tiny_transformer_path)
    pane.toolbar.bars.setValue(2)
    pane._actions["generate"].trigger()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=30000)
    assert pane.song.note_count > 0
    assert all(n.generated for t in pane.song.tracks for n in t.notes)
    pane.state.range = (0, 1)
    before_outside = sorted((n.pitch, n.start) for t in pane.song.tracks for n in t.notes if n.start >= pane.song.bar_ticks)
    pane._actions["infill"].trigger()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=30000)
    after_outside = sorted((n.pitch, n.start) for t in pane.song.tracks for n in t.notes if n.start >= pane.song.bar_ticks)
    assert before_outside == after_outside
    pane.undo()
    pane.undo()
    assert pane.song.note_count == 0


def test_interpolate_uses_an_installed_music_vae_when_the_picked_model_is_a_transformer(
    qtbot, pane, song, tmp_path, tiny_transformer_path, tiny_vae_path
):
    import shutil

    from aigc_studio.core.paths import user_models_dir

    shutil.copy(tiny_vae_path, user_models_dir() / "my-phrases.safetensors")  # the user's own beats the bundled one
    path = tmp_path / "song.mid"
    write_midi(song, path)
    pane.open_path(path)
    pane.model_picker.select_path(tiny_transformer_path)
    messages = []
    pane.status_message.connect(messages.append)
    pane.state.range = (0, 4)
    bars_before = pane.song.bars
    pane.generation.interpolate()
    assert any("Interpolating with my-phrases" in m for m in messages)
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=30000)
    assert pane.song.bars > bars_before  # the phrases between were appended


def test_the_pane_module_does_not_import_torch():
    import subprocess

    code = "import sys, aigc_studio.ui.music.pane; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_velocity_lane_tempo_metre_and_tracks_are_undoable(qtbot, pane, song, tmp_path):
    path = tmp_path / "song.mid"
    write_midi(song, path)
    pane.open_path(path)
    lane, s = pane.velocity, pane.state
    first = pane.song.tracks[0].notes[0]
    x = int(s.x(first.start))
    qtbot.mousePress(lane, Qt.LeftButton, pos=QPoint(x, 2))
    qtbot.mouseRelease(lane, Qt.LeftButton, pos=QPoint(x, 2))
    assert pane.song.tracks[0].notes[0].velocity > 115  # dragged to the top of the lane
    pane.toolbar.tempo.setValue(90)
    pane.toolbar.tempo.editingFinished.emit()
    assert round(pane.song.tempos[0].bpm) == 90 and len(pane.song.tempos) == 1
    pane.toolbar.numerator.setValue(3)
    pane.toolbar.numerator.editingFinished.emit()
    assert pane.song.time_signature == (3, 4)
    pane.toolbar.add_track.click()
    assert len(pane.song.tracks) == 4 and s.track == 3
    pane.toolbar.mute.setChecked(True)
    assert not s.audible(3)
    for _ in range(4):
        pane.undo()
    assert pane.song.tracks[0].notes[0].velocity == 70
    assert len(pane.song.tempos) == 2 and pane.song.time_signature == (4, 4) and len(pane.song.tracks) == 3


def test_dropping_a_midi_file_opens_it(qtbot, pane, song, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    path = tmp_path / "dropped.mid"
    write_midi(song, path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    pane.dropEvent(event)
    assert pane.song.note_count == song.note_count and pane.path == path


def test_train_dialog_builds_settings_and_menus_offer_actions(qtbot, pane, midi_folder, tmp_path):
    from aigc_studio.ui.music.train_dialog import MusicTrainDialog

    dialog = MusicTrainDialog(pane)
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentText("music-vae")
    dialog.data.setText(str(midi_folder))
    dialog.steps.setValue(7)
    dialog.out.setText(str(tmp_path / "m.safetensors"))
    settings = dialog.settings()
    assert (settings.kind, settings.steps, settings.data) == ("music-vae", 7, [str(midi_folder)])
    for menu in ("generate", "edit", "file", "train"):
        assert pane.menu_actions(menu)


def _as_if_crashed(file):
    """Move this process's autosave under the id of a process that has exited, as a crash leaves it."""
    import json
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    data = json.loads(file.read_text())
    data["pid"] = child.pid
    orphan = file.with_name(f"music-{child.pid}.json")
    orphan.write_text(json.dumps(data))
    file.unlink()
    return orphan


def _second_pane(qtbot, engine, studio_home):
    from PySide6.QtCore import QSettings

    from aigc_studio.ui.music.pane import MusicPane

    second = MusicPane(engine, QSettings(str(studio_home / "second.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    return second


def test_unsaved_song_is_autosaved_and_restored_after_a_crash(qtbot, engine, pane, studio_home, tmp_path):
    pane.path = tmp_path / "tune.mid"
    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 0, 60))
    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 480, 64))
    pane.toolbar.tempo.setValue(96)
    pane.toolbar.tempo.editingFinished.emit()
    pane.toolbar.add_track.click()
    pane.toolbar.program.setValue(40)
    pane.toolbar.program.editingFinished.emit()
    # No explicit flush: the timer writes it a moment after the edits.
    qtbot.waitUntil(lambda: pane.autosave.file.exists() and '"program": 40' in pane.autosave.file.read_text(), timeout=5000)
    expected = pane.song.copy()
    orphan = _as_if_crashed(pane.autosave.file)

    second = _second_pane(qtbot, engine, studio_home)
    assert not second.banner.isHidden()
    text = second.banner.label.text()
    assert "did not close properly" in text and "tune.mid" in text and "2 notes" in text
    second.banner.restore_button.click()
    assert second.song.tracks == expected.tracks and second.song.tempos == expected.tempos
    assert second.song.time_signature == expected.time_signature and second.song.tracks[1].program == 40
    assert second.path == tmp_path / "tune.mid" and second.is_dirty()
    assert not orphan.exists() and second.autosave.file.exists() and second.banner.isHidden()
    second.shutdown()


def test_discarding_a_recovered_song_deletes_it(qtbot, engine, pane, studio_home):
    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 0, 60))
    pane.flush_autosave()
    orphan = _as_if_crashed(pane.autosave.file)
    second = _second_pane(qtbot, engine, studio_home)
    second.banner.discard_button.click()
    assert not orphan.exists() and second.banner.isHidden() and second.song.note_count == 0
    assert _second_pane(qtbot, engine, studio_home).banner.isHidden()


def test_saving_or_quitting_with_discard_leaves_nothing_to_recover(qtbot, engine, pane, studio_home, tmp_path):
    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 0, 60))
    pane.flush_autosave()
    assert pane.autosave.file.exists()
    pane.path = tmp_path / "kept.mid"
    assert pane.save()
    assert not pane.autosave.file.exists()
    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 960, 62))
    pane.flush_autosave()
    assert pane.autosave.file.exists()
    pane.discard_unsaved()
    pane.shutdown()
    assert not list(pane.autosave.folder.glob("music-*.json"))


def test_restore_asks_before_replacing_notes_drawn_since_the_start(qtbot, engine, pane, studio_home, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    qtbot.mouseClick(pane.roll, Qt.LeftButton, pos=_point(pane, 0, 60))
    pane.flush_autosave()
    _as_if_crashed(pane.autosave.file)
    second = _second_pane(qtbot, engine, studio_home)
    qtbot.mouseClick(second.roll, Qt.LeftButton, pos=_point(second, 960, 72))
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.No)
    second.banner.restore_button.click()
    assert [n.pitch for n in second.song.tracks[0].notes] == [72] and not second.banner.isHidden()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Yes)
    second.banner.restore_button.click()
    assert [n.pitch for n in second.song.tracks[0].notes] == [60] and second.banner.isHidden()


def test_variations_audition_keep_one_and_undo_brings_the_original_back(qtbot, pane, song, tmp_path, band_model):
    path = tmp_path / "song.mid"
    write_midi(song, path)
    pane.open_path(path)
    t = pane.toolbar
    assert t.key_label.text() == "Key: C major" and t.key_lock.isChecked()  # locks to the song's key by default
    pane.model_picker.select_path(band_model)
    assert [a.text() for a in t.instruments.menu().actions()] == ["Piano", "Bass", "Drums"]
    t.instruments.menu().actions()[2].setChecked(False)  # no drums this time

    def bars_notes():
        return sorted((n.pitch, n.start) for tr in pane.song.tracks for n in tr.notes if n.start < 2 * pane.song.bar_ticks)

    original, steps = bars_notes(), pane.stack.count()
    pane.state.range = (0, 2)
    t.variation_count.setValue(3)
    pane._actions["variations"].trigger()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=30000)
    bar = pane.variations_bar
    assert bar.isVisible() and bar.label.text() == "Variation 1 of 3 · bars 1-2"
    seen = {tuple(bars_notes())}
    for _ in range(2):
        pane._actions["next_variation"].trigger()
        seen.add(tuple(bars_notes()))
        assert pane.stack.count() == steps + 1  # flipping stays one undo step
    assert bar.label.text() == "Variation 3 of 3 · bars 1-2" and len(seen) > 1
    assert not any(tr.is_drum and n.start < 2 * pane.song.bar_ticks and n.generated
                   for tr in pane.song.tracks for n in tr.notes)
    assert all(n.pitch % 12 in (0, 2, 4, 5, 7, 9, 11) for tr in pane.song.tracks if not tr.is_drum
               for n in tr.notes if n.generated)
    bar.audition.click()
    assert pane.player.is_playing
    kept = bars_notes()
    bar.keep.click()
    assert not bar.isVisible() and bars_notes() == kept and not pane.player.is_playing
    pane.undo()
    assert bars_notes() == original


def _notes_of(song):
    return sorted((t.channel, n.pitch, n.start, n.duration) for t in song.tracks for n in t.notes)


def test_saved_song_carries_the_recipe_and_regenerate_writes_the_same_notes(qtbot, pane, tmp_path, tiny_transformer_path):
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.music.midi_io import read_provenance

    pane.model_picker.select_path(tiny_transformer_path)
    pane.toolbar.bars.setValue(2)
    pane.toolbar.seed.setValue(11)
    pane._actions["generate"].trigger()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=30000)
    generated = _notes_of(pane.song)
    pane.path = tmp_path / "idea.mid"
    assert pane.save()
    (record,) = read_provenance(pane.path)
    assert (record.operation, record.seed, record.settings["bars"]) == ("generate", 11, 2)
    assert record.model_hash == read_card(tiny_transformer_path).content_hash

    pane.new_document()
    pane.open_path(tmp_path / "idea.mid")
    pane.toolbar.seed.setValue(12345)  # the toolbar moved on; the recipe keeps its own seed
    dialog = pane.show_recipe()
    assert dialog.rows["Seed"].text() == "11" and dialog.regenerate_button.isEnabled()
    dialog.regenerate_button.click()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=30000)
    assert _notes_of(pane.song) == generated  # the same notes, in the same bars
    assert len(pane.records) == 2


def test_a_song_recovered_after_a_crash_keeps_its_recipes(qtbot, engine, pane, studio_home, tiny_transformer_path):
    pane.model_picker.select_path(tiny_transformer_path)
    pane.toolbar.bars.setValue(1)
    pane._actions["generate"].trigger()
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=30000)
    pane.flush_autosave()
    orphan = _as_if_crashed(pane.autosave.file)
    second = _second_pane(qtbot, engine, studio_home)
    second.banner.restore_button.click()
    assert second.records == pane.records and len(second.records) == 1
    assert not orphan.exists()
    second.shutdown()
