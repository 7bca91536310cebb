"""Shared test set-up: offscreen Qt, an isolated user data folder per test session."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the developer's real settings or models.
os.environ.setdefault("AIGC_STUDIO_HOME", tempfile.mkdtemp(prefix="aigc-test-home-"))

import pytest  # noqa: E402


@pytest.fixture
def studio_home(tmp_path, monkeypatch):
    """A fresh, empty user data folder for one test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("AIGC_STUDIO_HOME", str(home))
    return home


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread; more threads only fight over a shared CI machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def engine(qtbot):
    """The real model engine on the CPU, booted (torch imported on its thread)."""
    from aigc_studio.engine.thread import Engine

    engine = Engine("cpu")
    engine.start()
    qtbot.waitUntil(lambda: engine.is_ready, timeout=30000)
    yield engine
    engine.shutdown()
