"""Child process of test_atomic_kill.py: saves large files over existing ones, forever, until killed.

Run as ``python atomic_writer.py FOLDER FIRST_VERSION``. Version ``v`` of each
file is generated from ``v`` alone, so a reader can tell a complete file of one
version from a torn one. After each save it prints ``saved NAME v``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

MODEL_MB = 128  # the large model file
IMAGE_SIDE = 2048  # noise compresses badly: a ~12 MB PNG
MIDI_NOTES = 20_000
TEXT_LINES = 200_000
TARGETS = ("model.safetensors", "export.png", "song.mid", "document.md")


def model_tensors(version: int) -> dict:
    """Four float32 tensors filled with ``version``: MODEL_MB in all."""
    import torch

    numel = MODEL_MB * 1024 * 1024 // 4 // 4
    return {f"layer{i}.weight": torch.full((numel,), float(version)) for i in range(4)}


def image_pixels(version: int) -> np.ndarray:
    """Noise seeded by ``version``."""
    return np.random.default_rng(version).integers(0, 256, (IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8)


def song_pitches(version: int) -> list[int]:
    """The pitches of the song of ``version`` (one note per beat)."""
    return [36 + (version + i) % 48 for i in range(MIDI_NOTES)]


def document_text(version: int) -> str:
    """A long Markdown document that names its version at both ends."""
    body = "".join(f"Line {i} of version {version}.\n" for i in range(TEXT_LINES))
    return f"# Version {version}\n{body}END {version}\n"


def save(name: str, folder: Path, version: int) -> None:
    """Write version ``version`` of ``name`` with the app's own (atomic) save function."""
    target = folder / name
    if name == "model.safetensors":
        from aigc_studio.core.modelfile import ModelCard, save_model

        save_model(target, model_tensors(version), ModelCard("image-gan", {}, name=f"v{version}"))
    elif name == "export.png":
        from aigc_studio.image.recipe import save_png

        save_png(target, image_pixels(version), {"op": "generate", "seed": version})
    elif name == "song.mid":
        from aigc_studio.music.midi_io import write_midi
        from aigc_studio.music.song import Note, Song, Track

        notes = [Note(p, i * 480, 240, 90) for i, p in enumerate(song_pitches(version))]
        write_midi(Song(tracks=[Track(f"v{version}", 0, 0, notes)]), target)
    else:
        from aigc_studio.core.atomic import atomic_write_text

        atomic_write_text(target, document_text(version))


def main() -> None:
    folder, version = Path(sys.argv[1]), int(sys.argv[2])
    print("ready", flush=True)
    while True:
        for name in TARGETS:
            save(name, folder, version)
            print(f"saved {name} {version}", flush=True)
        version += 1


if __name__ == "__main__":
    main()
