"""One seed rule: a music file made with a "random" seed says which seed, and that seed makes it again."""

from __future__ import annotations

import re

import pytest

from aigc_studio.cli.main import main
from aigc_studio.core.jobs import run_job
from aigc_studio.music.jobs import GenerateMusicJob

SEED_LINE = re.compile(r"\(seed (\d+)\)")


@pytest.mark.parametrize("model", ["tiny_transformer_path", "tiny_vae_path"])
def test_generate_music_without_seed_prints_the_seed_that_remakes_the_same_file(tmp_path, capsys, request, model):
    path = str(request.getfixturevalue(model))
    first, again, other = tmp_path / "first.mid", tmp_path / "again.mid", tmp_path / "other.mid"
    assert main(["generate", "music", "--model", path, "--bars", "2", "--out", str(first)]) == 0
    printed = SEED_LINE.search(capsys.readouterr().out)
    assert printed, "the random seed was not printed"
    seed = printed.group(1)
    assert main(["generate", "music", "--model", path, "--bars", "2", "--seed", seed, "--out", str(again)]) == 0
    assert f"(seed {seed})" in capsys.readouterr().out
    assert again.read_bytes() == first.read_bytes()
    # A different seed gives different music (so the check above is not trivially true).
    assert (
        main(["generate", "music", "--model", path, "--bars", "2", "--seed", str(int(seed) + 1), "--out", str(other)])
        == 0
    )
    assert other.read_bytes() != first.read_bytes()


def test_a_job_without_a_seed_draws_one_and_records_it(tiny_transformer_path):
    job = GenerateMusicJob(str(tiny_transformer_path), bars=1)
    result = run_job(job)
    assert isinstance(result["seed"], int) and job.seed == result["seed"]
    again = run_job(GenerateMusicJob(str(tiny_transformer_path), bars=1, seed=result["seed"]))
    # Every track's notes (an untrained model may write a bar with no notes, hence no tracks, for some seeds).
    assert [t.notes for t in again["fragment"].tracks] == [t.notes for t in result["fragment"].tracks]
