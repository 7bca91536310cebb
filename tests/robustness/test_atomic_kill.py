"""kill -9 in the middle of saving a large model, PNG, MIDI or document never leaves a torn file.

A child process (atomic_writer.py) saves new versions of four large files over
the existing ones with the app's own save functions, round and round. It is
killed at random moments, some of them while a particular file is being
written. After every kill each file must parse in full and be either the
version it had before that save or the version being saved.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from . import atomic_writer as writer
from .harness import child_env

SEED = int(os.environ.get("AIGC_KILL_SEED", "6"))
WRITER = Path(writer.__file__)
SAVED_LINE = re.compile(r"^saved (\S+) (\d+)$", re.MULTILINE)
# (how the kill is timed, the target whose save it waits for, the longest random delay after that save starts).
# The delays are short next to the writes, so a save that wrote straight into the target would be torn.
KILLS = [
    ("during", "model.safetensors", 0.04),
    ("during", "export.png", 0.1),
    ("during", "song.mid", 0.001),
    ("during", "document.md", 0.002),
    ("random", None, 4.0),
    ("random", None, 4.0),
]
MUST_CATCH_MID_WRITE = {"model.safetensors", "export.png"}  # large enough that a kill lands inside the write


def version_on_disk(name: str, path: Path) -> int:
    """Parse a target in full and return its version; fails the test if the file is not complete and consistent."""
    if name == "model.safetensors":
        import torch

        from aigc_studio.core.modelfile import load_model

        card, tensors = load_model(path)  # checks the header, the sizes and the content hash
        version = int(card.name[1:])
        expected = writer.model_tensors(version)
        assert tensors.keys() == expected.keys() and all(torch.equal(tensors[k], expected[k]) for k in tensors)
        return version
    if name == "export.png":
        from aigc_studio.image.recipe import JSON_KEY

        with Image.open(path) as image:
            image.load()  # decodes every row: a truncated PNG raises here
            version = int(json.loads(image.text[JSON_KEY])["seed"])
            pixels = np.asarray(image.convert("RGB"))
        assert np.array_equal(pixels, writer.image_pixels(version))
        return version
    if name == "song.mid":
        from aigc_studio.music.midi_io import read_midi

        song, _ = read_midi(path)
        version = int(song.tracks[0].name[1:])
        assert [n.pitch for n in song.tracks[0].notes] == writer.song_pitches(version)
        return version
    text = path.read_text(encoding="utf-8")
    version = int(text.split("\n", 1)[0].removeprefix("# Version "))
    assert text == writer.document_text(version)
    return version


@pytest.mark.slow  # many kills of a child saving large files; CI runs it (pytest -m slow)
def test_kill_during_large_saves_leaves_old_or_new_file_never_a_torn_one(tmp_path):
    rng = random.Random(f"{SEED}-atomic")
    folder = tmp_path / "files"
    folder.mkdir()
    for name in writer.TARGETS:  # the existing good files: version 0
        writer.save(name, folder, 0)
    known = dict.fromkeys(writer.TARGETS, 0)
    next_version = 1
    caught_mid_write: set[str] = set()
    report = []
    for mode, target, max_delay in KILLS:
        stale = set(folder.glob(".*.part"))
        log_path = tmp_path / f"writer-{next_version}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, str(WRITER), str(folder), str(next_version)], stdout=log, stderr=subprocess.STDOUT,
                env=child_env(),
            )
        try:
            delay = rng.uniform(0.0, max_delay)
            _wait_for_line(proc, log_path, "ready")
            if mode == "during":
                _wait_for_save_start(proc, folder, target, stale)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, log_path.read_text()[-2000:]
        printed = {name: int(v) for name, v in SAVED_LINE.findall(log_path.read_text())}
        left = sorted(p.name for p in set(folder.glob(".*.part")) - stale)
        for name in writer.TARGETS:
            before = printed.get(name, known[name])  # the last save of it known to have finished
            being_saved = before + 1 if name in printed else next_version
            version = version_on_disk(name, folder / name)
            assert version in (before, being_saved), f"{name}: version {version}, expected {before} or {being_saved}"
            known[name] = version
            if any(p.startswith(f".{name}.") for p in left):
                caught_mid_write.add(name)
        next_version = max([next_version, *printed.values(), *known.values()]) + 1
        report.append((mode, target, round(delay, 4), left))
    print(f"seed {SEED}: kills (mode, target, delay s, temp files left) {report}")
    assert caught_mid_write >= MUST_CATCH_MID_WRITE, f"no kill landed inside these writes: {report}"


def _wait_for_line(proc: subprocess.Popen, log: Path, line: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while line not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the writer did not print {line!r}: {log.read_text()[-2000:]}")
        time.sleep(0.01)


def _wait_for_save_start(proc: subprocess.Popen, folder: Path, target: str, stale: set[Path], timeout_s: float = 60) -> None:
    """Until a temp file for ``target`` appears, or (were the save not atomic) the file itself changes."""
    deadline = time.monotonic() + timeout_s
    before = _identity(folder / target)
    while not set(folder.glob(f".{target}.*.part")) - stale and _identity(folder / target) == before:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no save of {target} started")
        time.sleep(0.0005)


def _identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns



def test_temp_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    from aigc_studio.core.atomic import atomic_write_text
    from aigc_studio.core.paths import user_models_dir
    from aigc_studio.core.registry import list_models

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # reaped: nothing runs under its pid any more
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
        try:
            doc = tmp_path / "doc.md"
            doc.write_text("old")
            stale = tmp_path / f".doc.md.{finished.pid}-x1.part"
            live = tmp_path / f".doc.md.{alive.pid}-x2.part"
            stale.write_text("half a docu")
            live.write_text("being written")
            atomic_write_text(doc, "new")
            assert doc.read_text() == "new" and not stale.exists() and live.exists()

            monkeypatch.setenv("AIGC_STUDIO_HOME", str(tmp_path / "home"))
            half_model = user_models_dir() / f".mine.safetensors.{finished.pid}-x3.part"
            half_model.write_bytes(b"\x08" + b"\x00" * 7 + b"{")
            assert [e for e in list_models() if e.source == "user"] == [] and not half_model.exists()
        finally:
            alive.kill()
