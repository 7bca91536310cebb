"""The command line: version, model listing for scripts, and one-line errors."""

import json
import subprocess
import sys

import pytest
import torch

from aigc_studio import __version__
from aigc_studio.cli.main import main
from aigc_studio.core.modelfile import ModelCard, save_model
from aigc_studio.core.paths import user_models_dir
from aigc_studio.core.registry import list_models, resolve_model
from aigc_studio.errors import ModelFileError


def test_version_is_printed(capsys):
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.strip() == f"aigc-studio {__version__}"


def test_models_list_json_includes_user_models(studio_home, capsys):
    save_model(
        user_models_dir() / "my-faces.safetensors",
        {"w": torch.zeros(2)},
        ModelCard(kind="image-vae", config={}, description="faces I drew", untrained=True),
    )
    (user_models_dir() / "junk.safetensors").write_text("not a model")
    assert main(["models", "list", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["my-faces"]["kind"] == "image-vae"
    assert listed["my-faces"]["path"].endswith("my-faces.safetensors")
    assert listed["my-faces"]["untrained"] is True
    assert "junk" not in listed
    assert main(["models", "list"]) == 0
    assert "UNTRAINED" in capsys.readouterr().out


def test_model_names_and_paths_resolve_and_kinds_are_checked(studio_home, tmp_path):
    path = user_models_dir() / "tunes.safetensors"
    save_model(path, {"w": torch.zeros(2)}, ModelCard(kind="music-vae", config={}))
    assert resolve_model("tunes") == path
    assert resolve_model(str(path), "music") == path
    assert [e.name for e in list_models("music") if e.source == "user"] == ["tunes"]
    assert all(e.source == "bundled" for e in list_models("image"))
    with pytest.raises(ModelFileError, match="'tunes' is a music-vae model; this needs a text-gpt model"):
        resolve_model("tunes", "text-gpt")


def test_unknown_model_is_one_clear_line_and_exit_1(studio_home):
    result = subprocess.run(
        [sys.executable, "-m", "aigc_studio", "models", "info", "no-such-model"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "AIGC_STUDIO_HOME": str(studio_home)},
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("aigc-studio: error: No model named 'no-such-model'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_terminal_eta_follows_the_recent_rate_not_a_resumed_start(monkeypatch):
    import io

    from aigc_studio.cli import runner
    from aigc_studio.core.jobs import Progress

    clock = [1000.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    bar = runner.TerminalProgress("Train", stream=out)
    # A resumed run: it reports 0 % while reading data, jumps to 50 %, then gains 1 % every 10 s.
    bar.update(Progress(0.0, "Reading images"))
    for step in range(20):
        clock[0] += 10.0
        bar.update(Progress(0.5 + 0.01 * step, f"step {step}"))
    eta = int(out.getvalue().strip().splitlines()[-1].split(" eta ")[1].split("s")[0])
    assert abs(eta - (1 - 0.69) / 0.01 * 10) < 5  # about 310 s left at the recent pace
