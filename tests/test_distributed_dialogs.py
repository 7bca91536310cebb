"""The Train dialogs offer "GPUs" when two or more are visible and then run the job through the launcher.

There is no GPU on the test machine: the count the dialogs read is patched.
"""

from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.core import launch
from aigc_studio.core.events import HeldOutLoss, LossPoint, Preview, Sample, TrainingResult
from aigc_studio.core.launched_job import LaunchedTrainingJob, decode_event, encode_event, job_spec
from aigc_studio.core.rank_worker import build_job


@pytest.fixture
def gpus(monkeypatch):
    def set_count(n: int) -> None:
        monkeypatch.setattr(launch, "visible_gpus_quick", lambda: n)

    return set_count


def _text_dialog(qtbot, tmp_path, studio_home):
    from aigc_studio.ui.text.train_dialog import TrainTextDialog

    dialog = TrainTextDialog(engine=None)
    qtbot.addWidget(dialog)
    dialog.data.setText(str(tmp_path / "corpus.txt"))
    dialog.out.setText(str(tmp_path / "model.safetensors"))
    return dialog


def test_text_dialog_runs_on_every_gpu_through_the_launcher(qtbot, tmp_path, studio_home, gpus):
    gpus(4)
    dialog = _text_dialog(qtbot, tmp_path, studio_home)
    assert dialog.gpus is not None and (dialog.gpus.minimum(), dialog.gpus.maximum(), dialog.gpus.value()) == (1, 4, 4)
    dialog.gpus.setValue(2)
    job = dialog.build_job()
    assert isinstance(job, LaunchedTrainingJob) and job.processes == 2 and "on 2 GPUs" in job.title
    command = job.command("/tmp/job.json", "cuda")
    assert "--nproc-per-node=2" in command and command[-3:] == ["aigc_studio.core.rank_worker", "/tmp/job.json", "cuda"]
    rebuilt = build_job(job_spec(job.job))  # what each rank runs: the same job with the same settings
    assert type(rebuilt) is type(job.job) and rebuilt.settings == job.job.settings
    dialog.gpus.setValue(1)
    assert not isinstance(dialog.build_job(), LaunchedTrainingJob)


def test_one_gpu_shows_no_choice(qtbot, tmp_path, studio_home, gpus):
    gpus(1)
    dialog = _text_dialog(qtbot, tmp_path, studio_home)
    assert dialog.gpus is None
    assert not isinstance(dialog.build_job(), LaunchedTrainingJob)


def test_image_and_music_dialogs_offer_gpus(qtbot, studio_home, gpus, tmp_path):
    from aigc_studio.image.jobs import TrainImageJob
    from aigc_studio.ui.image.train_dialog import TrainDialog
    from aigc_studio.ui.music.train_dialog import MusicTrainDialog

    gpus(2)
    image, music = TrainDialog(folder=str(tmp_path)), MusicTrainDialog()
    qtbot.addWidget(image)
    qtbot.addWidget(music)
    assert image.gpu_count() == 2 and music.gpu_count() == 2
    image.out.setText(str(tmp_path / "gan.safetensors"))
    job = TrainImageJob(image.settings())
    rebuilt = build_job(job_spec(job))  # a settings dataclass travels as its dict and comes back equal
    assert rebuilt.settings == job.settings
    gpus(0)
    plain = TrainDialog(folder=str(tmp_path))
    qtbot.addWidget(plain)
    assert plain.gpus is None and plain.gpu_count() == 1


def test_rank_zero_reports_come_back_as_the_same_events():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    for event in (
        LossPoint(3, {"loss": 1.5}),
        HeldOutLoss(4, {"loss": 1.25}),
        Sample(5, "text"),
        TrainingResult("m.safetensors", "text-gpt", 6, 1.5, {"loss": 1.0}),
    ):
        assert decode_event(encode_event(event)) == event
    back = decode_event(encode_event(Preview(7, image)))
    assert back.step == 7 and np.array_equal(back.image, image)


def test_gpu_count_without_torch_follows_cuda_visible_devices(tmp_path, monkeypatch):
    monkeypatch.delitem(__import__("sys").modules, "torch", raising=False)
    driver = tmp_path / "gpus"
    driver.mkdir()
    for bus in ("0000:01:00.0", "0000:02:00.0", "0000:03:00.0"):
        (driver / bus).mkdir()
    assert launch.visible_gpus_quick({}, str(driver)) == 3
    assert launch.visible_gpus_quick({"CUDA_VISIBLE_DEVICES": "0,2"}, str(driver)) == 2
    assert launch.visible_gpus_quick({"CUDA_VISIBLE_DEVICES": "-1"}, str(driver)) == 0
    assert launch.visible_gpus_quick({}, str(tmp_path / "none")) == 0
