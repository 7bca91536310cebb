"""Training on several processes (torchrun, gloo on the CPU): the same weights as one process, one writer,
Ctrl+C saves a resumable checkpoint for every rank, a dying rank ends the others.

The multi-process tests start real processes (two ranks each) and are marked slow; the launcher's
command line and the single-process behaviour of the rank helpers are checked in the default run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from aigc_studio.cli.main import main
from aigc_studio.core.distributed import launch_command, launched_by_torchrun, strip_launch_options
from aigc_studio.core.statefile import load_checkpoint
from aigc_studio.core.training_loop import Ranks
from aigc_studio.errors import InputError

REPO = Path(__file__).resolve().parents[1]


# --- the launcher's command line (default run) ---
def test_launch_options_are_taken_out_of_the_relaunched_command():
    argv = ["train", "text-gpt", "--nproc-per-node", "2", "--data", "a.txt", "--master-port=1234", "--out", "m"]
    assert strip_launch_options(argv) == ["train", "text-gpt", "--data", "a.txt", "--out", "m"]


def test_one_machine_uses_a_free_port_and_runs_the_package_as_a_module():
    command = launch_command(["train", "image-gan", "--nproc-per-node", "2", "--data", "d"], "2")
    assert command[:4] == [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2"]
    assert "--standalone" in command
    assert command[command.index("--module") :] == ["--module", "aigc_studio", "train", "image-gan", "--data", "d"]


def test_two_machines_name_the_first_one():
    command = launch_command(["train", "text-gpt"], "4", nnodes=2, node_rank=1, master_addr="10.0.0.5")
    assert "--standalone" not in command
    assert {"--nnodes=2", "--node-rank=1", "--master-addr=10.0.0.5", "--master-port=29500"} <= set(command)
    with pytest.raises(InputError, match="master-addr"):
        launch_command(["train", "text-gpt"], "4", nnodes=2, node_rank=0)
    with pytest.raises(InputError, match="node-rank"):
        launch_command(["train", "text-gpt"], "4", nnodes=2, node_rank=2, master_addr="h")


def test_auto_takes_every_visible_gpu_and_needs_one():
    assert "--nproc-per-node=3" in launch_command(["train", "text-gpt"], "auto", gpus=3)
    with pytest.raises(InputError, match="GPU"):
        launch_command(["train", "text-gpt"], "auto", gpus=0)
    with pytest.raises(InputError, match="number"):
        launch_command(["train", "text-gpt"], "two")


def test_torchrun_variables_mean_several_processes():
    assert launched_by_torchrun({"RANK": "1", "WORLD_SIZE": "2"})
    assert not launched_by_torchrun({"RANK": "0", "WORLD_SIZE": "1"})
    assert not launched_by_torchrun({})


def test_one_process_keeps_the_whole_batch_and_its_gradients():
    ranks, batch = Ranks(), torch.arange(8)
    assert torch.equal(ranks.shard(batch), batch)
    assert ranks.reduce({"loss": 2.0}) == {"loss": 2.0}
    assert ranks.any(True) and not ranks.any(False)


def test_nproc_option_outside_train_is_refused(capsys):
    # The generate commands have no launch options: argparse refuses them there.
    with pytest.raises(SystemExit):
        main(["generate", "text", "--model", "x", "--nproc-per-node", "2"])


# --- real processes (slow) ---
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "AIGC_STUDIO_DIST_TIMEOUT": "60", **extra}


def start_ranks(args: list[str], world: int = 2) -> list[subprocess.Popen]:
    """``aigc-studio <args>`` as ``world`` ranks with torchrun's variables set (a cluster script's way)."""
    port = str(_free_port())
    procs = []
    for rank in range(world):
        env = _env(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(world),
            LOCAL_WORLD_SIZE=str(world),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "aigc_studio", *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def run_ranks(args: list[str], world: int = 2, timeout: float = 300) -> list[tuple[int, str]]:
    procs = start_ranks(args, world)
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, out + err))
    for code, text in results:
        assert code == 0, text
    return results


def _weights_close(a: Path, b: Path, atol: float = 1e-5, mean_atol: float = 1e-6) -> float:
    ta, tb = load_file(str(a)), load_file(str(b))
    model_keys = {k for k in ta if not k.startswith("training_state/")}  # the rest is training state (optimisers, RNGs)
    assert model_keys and model_keys == {k for k in tb if not k.startswith("training_state/")}
    diffs = torch.cat(
        [(ta[k].double() - tb[k].double()).abs().flatten() for k in model_keys if ta[k].is_floating_point()]
    )
    assert float(diffs.max()) <= atol, float(diffs.max())
    assert float(diffs.mean()) <= mean_atol, float(diffs.mean())
    return float(diffs.max())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    import random

    rnd = random.Random(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "while", "rain", "fell", "over", "old", "hills", "and", "sea"]
    lines = [" ".join(rnd.choice(words) for _ in range(rnd.randint(5, 12))).capitalize() + "." for _ in range(300)]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


@pytest.fixture(scope="module")
def midi(tmp_path_factory) -> Path:
    import pretty_midi

    folder = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for i in range(6):
        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        for program in (0, 32):
            inst = pretty_midi.Instrument(program=program)
            for beat in range(32):
                pitch = int(rng.integers(48, 72)) + (12 if program == 0 else -12)
                inst.notes.append(pretty_midi.Note(80, pitch, beat * 0.5, beat * 0.5 + 0.45))
            pm.instruments.append(inst)
        pm.write(str(folder / f"song{i}.mid"))
    return folder


def gpt_args(corpus: Path, out: Path, steps: int = 6) -> list[str]:
    return [
        "train", "text-gpt", "--data", str(corpus), "--steps", str(steps), "--batch-size", "4", "--layers", "1",
        "--heads", "2", "--width", "32", "--context", "32", "--tokenizer", "char", "--eval-every", "3",
        "--sample-every", "0", "--checkpoint-every", "0", "--out", str(out),
    ]  # fmt: skip


TRAINERS = {
    # kind: (arguments, what equals the single process's run)
    "image-vae": (
        lambda d, c, m: ["train", "image-vae", "--data", str(d), "--resolution", "32", "--size", "tiny", "--no-flip"],
        "weights",
    ),
    "image-gan": (
        lambda d, c, m: ["train", "image-gan", "--data", str(d), "--resolution", "32", "--size", "tiny", "--augment", ""],
        "ranks",
    ),
    "text-vae": (
        lambda d, c, m: ["train", "text-vae", "--data", str(c), "--latent", "4", "--hidden", "16", "--embed", "8"],
        "ranks",
    ),
    "music-transformer": (
        lambda d, c, m: ["train", "music-transformer", "--data", str(m), "--layers", "1", "--heads", "2", "--width",
                         "32", "--context", "32", "--transpose", "0", "--eval-every", "2"],
        "ranks",
    ),
    "music-vae": (
        lambda d, c, m: ["train", "music-vae", "--data", str(m), "--hidden", "16", "--latent", "4", "--transpose", "0"],
        "ranks",
    ),
}  # fmt: skip


@pytest.mark.slow
def test_gpt_at_two_processes_equals_one_process_and_writes_once(corpus, tmp_path):
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    assert main(gpt_args(corpus, one)) == 0
    results = run_ranks(gpt_args(corpus, two))
    _weights_close(one, two)
    _, _, state = load_checkpoint(two, "text-gpt")
    assert state["world_size"] == 2 and len(state["rank_rng"]) == 2
    # Only rank 0 reports and writes: the other rank prints nothing but its (empty) progress line.
    assert "Finished 6 steps" in results[0][1] and "Finished" not in results[1][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.safetensors", "two.safetensors"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(TRAINERS))
def test_every_trainer_runs_on_two_processes(kind, pictures, corpus, midi, tmp_path):
    """Two ranks with global batch 4 for 3 steps.

    "weights": the saved weights equal one process's at batch 4 within float rounding (the image VAE:
    no BatchNorm, per-image mean losses; the GPT is compared to 1e-5 in its own test). "ranks": both ranks end with identical weights, optimiser and generator states (the
    loop compares them at the end and fails otherwise) and the file loads; not the single-process
    weights, because the loss is not a mean over examples (BatchNorm in the GAN, free-bits KL and
    per-rank reparameterisation noise in the VAEs, token-count-weighted loss in the music transformer).
    """
    make_args, compare = TRAINERS[kind]
    run = [*make_args(pictures, corpus, midi), "--steps", "3", "--batch-size", "4", "--checkpoint-every", "0"]
    two = tmp_path / "two.safetensors"
    run_ranks([*run, "--out", str(two)])
    card, tensors, state = load_checkpoint(two, kind)
    assert card.training["steps"] == 3 and state["world_size"] == 2
    if compare == "weights":
        one = tmp_path / "one.safetensors"
        assert main([*run, "--out", str(one)]) == 0
        # The gradients agree to float rounding (the batch is summed in another order: ~2e-6 of a gradient
        # of ~1); Adam's first steps divide by the gradient's size, which turns that into up to ~1/3 of
        # one step (lr 5e-4) for the few weights whose gradients are near zero; the rest agree to 1e-7.
        _weights_close(one, two, atol=1e-3, mean_atol=2e-6)


def _read_until(proc: subprocess.Popen, text: str, timeout: float) -> str:
    seen, end = "", time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"never saw {text!r}:\n{seen}")


@pytest.mark.slow
def test_a_dying_rank_ends_the_other_with_a_message(corpus, tmp_path):
    procs = start_ranks([*gpt_args(corpus, tmp_path / "m.safetensors", steps=100000), "--log-every", "1"])
    try:
        _read_until(procs[0], "step 2/", 240)
        procs[1].kill()
        started = time.monotonic()
        out, err = procs[0].communicate(timeout=60)
        assert time.monotonic() - started < 30
        assert procs[0].returncode not in (0, None)
        assert "another training process stopped" in err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly_at_two_processes(corpus, tmp_path):
    """Through the launcher (--nproc-per-node 2): Ctrl+C to the terminal's process group, then resume."""
    stopped, straight = tmp_path / "stopped.safetensors", tmp_path / "straight.safetensors"
    steps = 40
    args = [*gpt_args(corpus, stopped, steps=steps), "--log-every", "1", "--nproc-per-node", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "aigc_studio", *args],
        env=_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _read_until(proc, "step 3/", 240)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in a terminal does
        started = time.monotonic()
        proc.communicate(timeout=60)
        assert time.monotonic() - started < 30
        assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _, _, state = load_checkpoint(stopped, "text-gpt")
    assert 3 <= state["step"] < steps and state["world_size"] == 2
    resume = [*gpt_args(corpus, stopped, steps=steps), "--resume", str(stopped)]
    run_ranks(resume)
    run_ranks(gpt_args(corpus, straight, steps=steps))
    _weights_close(stopped, straight, atol=0.0)


@pytest.mark.slow
def test_the_app_launcher_follows_rank_zero(corpus, tmp_path):
    """What the Train dialog runs with "GPUs: 2" (here two CPU processes): rank 0's reports, one result."""
    from aigc_studio.core.events import HeldOutLoss, LossPoint
    from aigc_studio.core.jobs import run_job
    from aigc_studio.core.launched_job import LaunchedTrainingJob
    from aigc_studio.text.jobs import TrainGPTJob

    out = tmp_path / "m.safetensors"
    settings = dict(data=[str(corpus)], out=str(out), steps=4, batch_size=4, layers=1, heads=2, width=32, context=32)
    job = LaunchedTrainingJob(TrainGPTJob({**settings, "tokenizer": "char", "eval_every": 2, "sample_every": 0}), 2)
    events, logs = [], []
    result = run_job(job, "cpu", on_partial=events.append, on_log=logs.append)
    assert result.path == str(out) and result.steps == 4 and out.exists()
    assert [e.step for e in events if type(e) is LossPoint] == [1, 2, 3, 4]  # once each: only rank 0 reports
    assert [e.step for e in events if isinstance(e, HeldOutLoss)] == [2, 4]
    assert any("Finished 4 steps" in line for line in logs)
