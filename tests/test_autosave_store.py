"""The autosave store on its own: orphans of dead processes only, newest first; pixels and JSON stay consistent."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np

from aigc_studio.core import autosave
from aigc_studio.core.autosave import KEEP_ARRAYS, AutosaveStore


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_autosaves_of_exited_processes_are_orphans_newest_first(studio_home):
    older, newer = _dead_pid(), _dead_pid()
    AutosaveStore("text", pid=older).write({"text": "older"})
    time.sleep(0.01)
    AutosaveStore("text", pid=newer).write({"text": "newer"})
    AutosaveStore("text", pid=os.getppid()).write({"text": "a running session"})
    mine = AutosaveStore("text")
    mine.write({"text": "this session"})
    AutosaveStore("music", pid=older).write({"song": {}})
    assert [a.data["text"] for a in mine.orphans()] == ["newer", "older"]


def test_pixels_and_recipes_always_come_back_as_a_pair(studio_home):
    pid = _dead_pid()
    store = AutosaveStore("image", pid=pid)
    first = {"picture.0": np.full((4, 4, 3), 7, np.uint8)}
    # Hold the writer so that the pixel write is still queued when the selection-only change arrives.
    gate = threading.Event()
    store._writer.submit(gate.wait)
    store.save({"selected": []}, first)
    store.save({"selected": [0]}, KEEP_ARRAYS)
    gate.set()
    store.wait()
    (found,) = AutosaveStore("image").orphans()
    assert found.data["selected"] == [0] and np.array_equal(found.arrays()["picture.0"], first["picture.0"])
    store.write({"selected": []}, {"picture.0": np.zeros((2, 2, 3), np.uint8)})
    assert len(list(store.folder.glob(f"image-{pid}.*.safetensors"))) == 1, "the replaced pixels are removed"


def test_failed_pixel_write_is_reported_and_never_paired_with_new_recipes(studio_home, monkeypatch):
    store = AutosaveStore("image")
    store.write({"recipes": ["a"]}, {"picture.0": np.zeros((2, 2, 3), np.uint8)})
    errors = []
    store.on_error = errors.append

    def full_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(autosave, "_write_arrays", full_disk)
    store.write({"recipes": ["b"]}, {"picture.0": np.ones((2, 2, 3), np.uint8)})
    store.write({"recipes": ["b"], "selected": [0]}, KEEP_ARRAYS)
    assert len(errors) == 2 and "No space left" in errors[0]
    assert '"a"' in store.file.read_text(), "the last good pair stays on disk"


def test_stray_pixel_files_of_dead_processes_are_removed(studio_home):
    pid = _dead_pid()
    folder = autosave.autosave_dir()
    stray = folder / f"image-{pid}.3.safetensors"
    stray.write_bytes(b"left by a crash between the two writes")
    running = folder / f"image-{os.getppid()}.1.safetensors"
    running.write_bytes(b"still being written by a running session")
    assert AutosaveStore("image").orphans() == []
    assert not stray.exists() and running.exists()
