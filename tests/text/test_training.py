"""Training from the command line: loss and samples stream, checkpoints resume exactly, bad data is refused."""

from __future__ import annotations

import torch

from aigc_studio.cli.main import main
from aigc_studio.core.jobs import run_job
from aigc_studio.core.modelfile import load_model, read_card
from aigc_studio.core.statefile import model_only
from aigc_studio.text.gpt import load_gpt
from aigc_studio.text.jobs import TrainGPTJob

TINY = dict(
    layers=1,
    heads=2,
    width=16,
    context=16,
    batch_size=4,
    eval_every=5,
    sample_every=10,
    sample_tokens=20,
    checkpoint_every=0,
    tokenizer="char",
)


def test_training_streams_loss_and_samples_and_writes_a_model(corpus_dir, tmp_path):
    out = tmp_path / "mine.safetensors"
    payloads = []
    result = run_job(
        TrainGPTJob(dict(TINY, data=[str(corpus_dir)], out=str(out), steps=10)), on_partial=payloads.append
    )
    kinds = {p["type"] for p in payloads}
    assert {"loss", "val_loss", "sample"} <= kinds
    assert result["val_nats_per_char"] is not None
    card = read_card(out, "text-gpt")
    assert card.training["steps"] == 10 and card.tokenizer["type"] == "char"
    assert load_gpt(out).encode("It") != []


def test_resume_is_exact(corpus_dir, tmp_path):
    straight, split = tmp_path / "straight.safetensors", tmp_path / "split.safetensors"
    run_job(TrainGPTJob(dict(TINY, data=[str(corpus_dir)], out=str(straight), steps=12)))
    run_job(TrainGPTJob(dict(TINY, data=[str(corpus_dir)], out=str(split), steps=6)))
    run_job(TrainGPTJob(dict(TINY, data=[str(corpus_dir)], out=str(split), steps=12, resume=str(split))))
    a, b = model_only(load_model(straight)[1]), model_only(load_model(split)[1])
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_cli_trains_fine_tunes_and_generates(corpus_dir, tmp_path, capsys):
    base = tmp_path / "base.safetensors"
    tuned = tmp_path / "tuned.safetensors"
    common = [
        "--layers",
        "1",
        "--heads",
        "2",
        "--width",
        "16",
        "--context",
        "16",
        "--batch-size",
        "4",
        "--sample-every",
        "0",
    ]
    assert main(["train", "text-gpt", "--data", str(corpus_dir), "--steps", "4", "--out", str(base), *common]) == 0
    assert (
        main(["train", "text-gpt", "--data", str(corpus_dir), "--steps", "3", "--out", str(tuned), "--init", str(base)])
        == 0
    )
    assert read_card(tuned).training["fine_tuned_from"] == "base.safetensors"
    capsys.readouterr()
    assert (
        main(["generate", "text", "--model", str(tuned), "--prompt", "It was", "--max-tokens", "12", "--seed", "1"])
        == 0
    )
    first = capsys.readouterr().out
    assert first.startswith("It was") and len(first) > len("It was")
    main(["generate", "text", "--model", str(tuned), "--prompt", "It was", "--max-tokens", "12", "--seed", "1"])
    assert capsys.readouterr().out == first


def test_cli_refuses_a_binary_corpus(tmp_path, capsys):
    data = tmp_path / "model.txt"
    data.write_bytes(bytes(range(256)) * 8)
    assert (
        main(["train", "text-gpt", "--data", str(data), "--steps", "2", "--out", str(tmp_path / "x.safetensors")]) == 1
    )
    assert "binary" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()
