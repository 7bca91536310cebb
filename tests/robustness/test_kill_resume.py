"""kill -9 during training loses at most one checkpoint interval, and the resumed run ends bit-identical.

Each of the six trainers runs as the real ``aigc-studio train`` command in a
subprocess: once killed at a random moment after its first checkpoint (and,
for one trainer per studio, killed again in the middle of a checkpoint save),
resumed with ``--resume`` to the same total steps, and compared with an
uninterrupted run. The full variant with many kills is benchmarks/kill_resume.py.
"""

from __future__ import annotations

import os
import random
import subprocess

import pytest

from .harness import (
    KINDS,
    all_tensors,
    checkpoint_step,
    child_env,
    identical,
    part_files,
    resumed_step,
    run_and_kill,
    run_to_end,
    train_command,
    write_training_data,
)

STEPS = 50
INTERVAL = 5
SAVE_KILL_TRIES = 3
MAX_DELAY_S = 0.4
SEED = int(os.environ.get("AIGC_KILL_SEED", "6"))
KILLED_DURING_SAVE = {"image-gan", "text-gpt", "music-transformer"}  # one per studio
pytestmark = pytest.mark.slow  # a minute or more per trainer on 2 cores: CI runs it (pytest -m slow)


@pytest.mark.parametrize("kind", KINDS)
def test_killed_training_resumes_within_one_interval_and_ends_identical(kind, tmp_path, monkeypatch):
    from aigc_studio.core.registry import list_models

    rng = random.Random(f"{SEED}-{kind}")
    data = write_training_data(kind, tmp_path / "data")
    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    monkeypatch.setenv("AIGC_STUDIO_HOME", str(tmp_path / "home"))
    straight_out, out = tmp_path / "straight.safetensors", models / "killed.safetensors"
    command = train_command(kind, data, out, STEPS, INTERVAL)
    # The uninterrupted run goes on beside the killed one; both use one thread.
    with open(tmp_path / "straight.log", "w") as log:
        straight = subprocess.Popen(
            train_command(kind, data, straight_out, STEPS, INTERVAL), stdout=log, stderr=subprocess.STDOUT,
            env=child_env(),
        )

    kills = [run_and_kill(command, out, tmp_path / "killed-1.log", "random", rng, MAX_DELAY_S)]
    if kind in KILLED_DURING_SAVE:
        # A small model saves in milliseconds; on a busy machine the kill can land just after the save, so try again.
        for attempt in range(2, 2 + SAVE_KILL_TRIES):
            log = tmp_path / f"killed-{attempt}.log"
            kills.append(run_and_kill(command + ["--resume", str(out)], out, log, "save", rng, 0))
            assert resumed_step(log.read_text()) == kills[-2].checkpoint_step
            if kills[-1].part_files or kills[-1].checkpoint_step + 2 * INTERVAL >= STEPS:
                break
    print(f"{kind}: seed {SEED}, kills {kills}")

    for kill in kills:
        assert not kill.finished, f"the run finished before the kill landed: {kill}"
        assert kill.checkpoint_step % INTERVAL == 0 and 0 <= kill.steps_lost <= INTERVAL, kill
    if kind in KILLED_DURING_SAVE:
        during_save = kills[-1]
        assert during_save.part_files, f"the kill missed the save: {during_save}"
        # The interrupted save left only its temp file; the model list shows the complete checkpoint alone
        # and clears the temp file away, its writer being dead.
        assert [e.path.name for e in list_models() if e.source == "user"] == ["killed.safetensors"]
        assert part_files(out) == []

    final_log = run_to_end(command + ["--resume", str(out)], tmp_path / "resumed.log")
    assert resumed_step(final_log) == kills[-1].checkpoint_step
    assert straight.wait(timeout=300) == 0, (tmp_path / "straight.log").read_text()[-3000:]
    assert checkpoint_step(out) == checkpoint_step(straight_out) == STEPS
    assert identical(all_tensors(out), all_tensors(straight_out)), "resumed weights differ from the uninterrupted run"
    assert part_files(out) == [], "the resumed run did not clear the temp file of the killed save"
