"""Training from a MIDI folder: broken files counted, loss streamed, checkpoints resume exactly; the CLI."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from aigc_studio.cli.main import main
from aigc_studio.core.jobs import CancelToken, run_job
from aigc_studio.core.modelfile import read_card
from aigc_studio.errors import Cancelled, InputError
from aigc_studio.music.midi_io import read_midi
from aigc_studio.music.training import TrainMusicJob, train_settings_for

TINY = dict(steps=4, eval_every=2, checkpoint_every=100, layers=1, heads=2, width=32, context=64, hidden=32,
            latent=8, batch_size=4)


@pytest.mark.parametrize("kind", ["music-transformer", "music-vae"])
def test_training_streams_loss_skips_broken_files_and_resumes_exactly(tmp_path, midi_folder, kind):
    logs, points = [], []
    full = tmp_path / "full.safetensors"
    run_job(TrainMusicJob(train_settings_for(kind, data=[str(midi_folder)], out=str(full), **TINY)),
            on_log=logs.append, on_partial=points.append)
    assert any("skipped 1 of 5" in line for line in logs)
    assert [p["step"] for p in points] == [1, 2, 3, 4] and all(p["type"] == "loss" for p in points)
    card = read_card(full, kind)
    assert card.training["steps"] == 4 and card.training["val_loss"] is not None
    if kind == "music-transformer":  # the decoder's limits: what the data had (melody + bass + drums at once)
        assert card.extra["limits"] == {"max_onset_notes": 3, "max_sounding_notes": 3, "programs": [0, 32, 128],
                                        "max_parts": 3, "max_onset_by_family": {"0": 1, "4": 1, "16": 1}}

    token = CancelToken()
    half = tmp_path / "half.safetensors"
    with pytest.raises(Cancelled):
        run_job(TrainMusicJob(train_settings_for(kind, data=[str(midi_folder)], out=str(half), **TINY)),
                cancel_token=token, on_partial=lambda p: p["step"] == 2 and token.cancel())
    assert read_card(half).training["steps"] == 2
    resumed = tmp_path / "resumed.safetensors"
    run_job(TrainMusicJob(train_settings_for(kind, data=[str(midi_folder)], out=str(resumed), steps=4, resume=str(half))))
    a, b = load_file(str(full)), load_file(str(resumed))
    weights = [k for k in a if not k.startswith("training_state")]
    assert weights and all(torch.equal(a[k], b[k]) for k in weights)


def test_folder_without_midi_is_refused(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError):
        run_job(TrainMusicJob(train_settings_for("music-vae", data=[str(tmp_path)], out=str(tmp_path / "o.safetensors"))))


def test_cli_generate_writes_a_midi_file_and_infill_keeps_the_rest(tmp_path, tiny_transformer_path, song, capsys):
    from aigc_studio.music.midi_io import write_midi

    out = tmp_path / "gen.mid"
    assert main(["generate", "music", "--model", str(tiny_transformer_path), "--bars", "2", "--seed", "4",
                 "--out", str(out)]) == 0
    generated, _ = read_midi(out)
    assert generated.note_count > 0
    prime = tmp_path / "prime.mid"
    write_midi(song, prime)
    out2 = tmp_path / "infill.mid"
    assert main(["generate", "music", "--model", str(tiny_transformer_path), "--prime", str(prime), "--infill", "1:2",
                 "--seed", "4", "--out", str(out2)]) == 0
    edited, _ = read_midi(out2)
    bar = song.bar_ticks
    keep = sorted((n.pitch, n.start) for t in song.tracks for n in t.notes if not bar <= n.start < 2 * bar)
    kept = sorted((n.pitch, n.start) for t in edited.tracks for n in t.notes if not bar <= n.start < 2 * bar)
    assert keep == kept


def test_cli_train_then_bad_model_kind_is_one_clear_error(tmp_path, midi_folder, capsys, tiny_vae_path):
    out = tmp_path / "m.safetensors"
    assert main(["train", "music-vae", "--data", str(midi_folder), "--steps", "2", "--out", str(out),
                 "--hidden", "16", "--latent", "4", "--batch-size", "4"]) == 0
    assert read_card(out, "music-vae").training["steps"] == 2
    rc = main(["generate", "music", "--model", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "x.mid")])
    assert rc == 1
