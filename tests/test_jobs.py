"""Jobs run the same outside the GUI: progress, cancellation and seeded randomness."""

import pytest
import torch

from aigc_studio.core.device import pick_device
from aigc_studio.core.jobs import CancelToken, FunctionJob, run_job
from aigc_studio.errors import Cancelled, InputError


def test_progress_reports_reach_the_caller_in_order():
    seen = []

    def work(ctx):
        for i in range(4):
            ctx.progress(i / 3, f"step {i}")
        return "done"

    assert run_job(FunctionJob("count", work), on_progress=seen.append) == "done"
    assert [p.message for p in seen] == ["step 0", "step 1", "step 2", "step 3"]
    assert seen[-1].fraction == 1.0


def test_cancel_stops_the_job_at_its_next_report():
    token = CancelToken()
    steps = []

    def work(ctx):
        for i in range(100):
            steps.append(i)
            if i == 5:
                token.cancel()
            ctx.progress(i / 100)

    with pytest.raises(Cancelled):
        run_job(FunctionJob("long", work), cancel_token=token)
    assert steps[-1] == 5


def test_same_seed_gives_the_same_noise_and_no_seed_differs():
    def noise(ctx):
        return torch.randn(4, generator=ctx.generator())

    a = run_job(FunctionJob("n", noise), seed=7)
    b = run_job(FunctionJob("n", noise), seed=7)
    c = run_job(FunctionJob("n", noise), seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_device_choice_falls_back_to_cpu_and_refuses_unknown_names():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(InputError, match="Unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA was requested"):
            pick_device("cuda")
