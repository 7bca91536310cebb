"""Every command-line path that takes a user's file, tried with every bad input that applies to it.

A refused input ends with a non-zero exit and one line ``aigc-studio: error: …`` that names the file
and the problem, never a traceback; an awkward but usable input (Latin-1 text, a SMPTE MIDI file)
works. ``--debug`` adds the traceback; an unexpected exception is one "internal error" line, logged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigc_studio.cli.main import main
from tests.badinput import corpus as c
from tests.badinput.cases import ENTRIES, MARKER, prepare
from tests.badinput.corpus import bundled_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GPT, MUSIC = str(bundled_model("shakespeare-gpt")), str(bundled_model("music-chorales-transformer"))


def _train(kind: str, *extra: str):
    return lambda p, tmp, good: ["train", kind, *extra, "--out", str(tmp / "out.safetensors"), "--steps", "1"]


# loader -> {command label: argv builder(path, tmp folder, good inputs)}
COMMANDS = {
    c.TEXT_OPEN: {
        "generate text --prompt-file": lambda p, tmp, good: [
            "generate", "text", "--model", GPT, "--prompt-file", p, "--max-tokens", "1", "--seed", "1"],
    },
    c.TEXT_CORPUS: {
        "train text-gpt --data": lambda p, tmp, good: _train("text-gpt", "--data", p)(p, tmp, good),
        "train text-vae --data": lambda p, tmp, good: _train("text-vae", "--data", p)(p, tmp, good),
    },
    c.MIDI_OPEN: {
        "generate music --prime": lambda p, tmp, good: [
            "generate", "music", "--model", MUSIC, "--prime", p, "--bars", "1", "--seed", "1",
            "--out", str(tmp / "out.mid")],
    },
    c.MIDI_CORPUS: {
        "train music-transformer --data": lambda p, tmp, good: _train("music-transformer", "--data", p)(p, tmp, good),
        "train music-vae --data": lambda p, tmp, good: _train("music-vae", "--data", p)(p, tmp, good),
    },
    c.IMAGE_FOLDER: {
        "train image-gan --data": lambda p, tmp, good: _train(
            "image-gan", "--data", p, "--resolution", "32", "--size", "tiny", "--batch", "2")(p, tmp, good),
        "train image-vae --data": lambda p, tmp, good: _train(
            "image-vae", "--data", p, "--resolution", "32", "--size", "tiny", "--batch", "2")(p, tmp, good),
    },
    c.MODEL_IMAGE: {
        "generate image --model": lambda p, tmp, good: [
            "generate", "image", "--model", p, "--n", "1", "--seed", "1", "--out", str(tmp / "pictures")],
        "train image-vae --resume": lambda p, tmp, good: _train(
            "image-vae", "--data", str(good["images"]), "--resume", p, "--resolution", "32", "--size", "tiny")(
            p, tmp, good),
    },
    c.MODEL_TEXT: {
        "generate text --model": lambda p, tmp, good: [
            "generate", "text", "--model", p, "--prompt", "Once", "--max-tokens", "1"],
        "train text-gpt --init": lambda p, tmp, good: _train("text-gpt", "--data", str(good["text"]), "--init", p)(
            p, tmp, good),
        "train text-gpt --resume": lambda p, tmp, good: _train(
            "text-gpt", "--data", str(good["text"]), "--resume", p)(p, tmp, good),
    },
    c.MODEL_MUSIC: {
        "generate music --model": lambda p, tmp, good: [
            "generate", "music", "--model", p, "--bars", "1", "--out", str(tmp / "out.mid")],
        "train music-transformer --resume": lambda p, tmp, good: _train(
            "music-transformer", "--data", str(good["midi"]), "--resume", p)(p, tmp, good),
    },
    c.MODEL_INFO: {"models info": lambda p, tmp, good: ["models", "info", p]},
    c.HF_FOLDER: {
        "generate text --model FOLDER": lambda p, tmp, good: [
            "generate", "text", "--model", p, "--prompt", "Once", "--max-tokens", "1"],
    },
}

CASES = [
    pytest.param(entry, loader, label, id=f"{entry.id}::{label}")
    for entry in ENTRIES
    for loader in sorted(entry.loaders)
    for label in COMMANDS.get(loader, {})
]


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("aigc-studio:")]


@pytest.mark.parametrize(("entry", "loader", "label"), CASES)
def test_cli_refuses_bad_input_in_one_line_or_opens_it(entry, loader, label, tmp_path, capsys, request, good_inputs):
    prepare(entry, request)
    argv = COMMANDS[loader][label](str(entry.path), tmp_path, good_inputs)
    status = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    assert not MARKER.exists(), "the hostile pickle was unpickled"
    if entry.outcome(loader) == c.OPEN:
        assert status == 0, err
        assert not _error_lines(err)
        if entry.expected_text is not None:  # the prompt file's text is echoed before the continuation
            assert out.startswith(entry.expected_text), out[:200]
        return
    assert status == 1, (status, err)
    errors = _error_lines(err)
    assert len(errors) == 1 and errors[0].startswith("aigc-studio: error: "), err
    assert err.rstrip("\n").splitlines()[-1] == errors[0], "the error must be the last line"
    assert entry.message_ok(errors[0]), f"unclear message for {entry.id}: {errors[0]}"


def _run_cli(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIGC_STUDIO_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aigc_studio", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _entry(entry_id: str):
    return next(e for e in ENTRIES if e.id == entry_id)


def test_real_process_prints_one_line_and_exits_1_for_a_pickle_and_a_truncated_midi(tmp_path):
    pickle_file = _entry("pickle.bin").path
    result = _run_cli(["models", "info", str(pickle_file)], tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("aigc-studio: error: pickle.bin is a Python pickle")
    assert not MARKER.exists()
    midi = _entry("truncated.mid").path
    result = _run_cli(["generate", "music", "--model", MUSIC, "--prime", str(midi), "--out", str(tmp_path / "o.mid")],
                      tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == result.stderr.strip().splitlines()[-1]
    assert "truncated.mid" in result.stderr and "Traceback" not in result.stderr


def test_real_process_with_debug_prints_the_traceback_too(tmp_path):
    result = _run_cli(["--debug", "models", "info", str(_entry("empty.safetensors").path)], tmp_path)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("aigc-studio: error: empty.safetensors")


def test_unexpected_exception_is_one_internal_error_line_logged_and_exit_2(monkeypatch, capsys, studio_home):
    import aigc_studio.core.modelfile as modelfile

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug\nwith two lines")

    monkeypatch.setattr(modelfile, "read_card", broken)
    model = str(bundled_model("emoji-gan-64"))
    assert main(["models", "info", model]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("aigc-studio: internal error: RuntimeError: a bug with two lines")
    assert "--debug" in err
    log = studio_home / "logs" / "errors.log"
    assert "RuntimeError: a bug" in log.read_text(encoding="utf-8") and "Traceback" in log.read_text(encoding="utf-8")
    assert main(["--debug", "models", "info", model]) == 2
    _, err = capsys.readouterr()
    assert "Traceback (most recent call last)" in err and err.rstrip().splitlines()[-1].startswith(
        "aigc-studio: internal error:")
