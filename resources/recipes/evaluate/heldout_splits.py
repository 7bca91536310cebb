"""Copy the starter models' held-out data into folders that `aigc-studio evaluate --data` reads.

Usage: python resources/recipes/evaluate/heldout_splits.py SHAKESPEARE_DIR CHORALES_DIR OUT_DIR
- text: the last three plays by file name (Twelfth Night, The Two Gentlemen of Verona, The Winter's
  Tale), which shakespeare-gpt never saw (its held-out 10 % also holds most of Troilus and Cressida);
- music: the chorales the trainers keep for validation (10 % of the files, by file-name CRC-32:
  `aigc_studio.music.dataset.split_validation`), which neither music model trained on.
The emoji models trained on all 1,374 emoji, so their reference is the training folder itself (a
memorisation check), and the sentence VAE trained on every play (same).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from aigc_studio.music.dataset import load_corpus, split_validation


def main(shakespeare: str, chorales: str, out: str) -> None:
    """Write OUT/heldout-text and OUT/heldout-chorales."""
    text_out, music_out = Path(out) / "heldout-text", Path(out) / "heldout-chorales"
    text_out.mkdir(parents=True, exist_ok=True)
    music_out.mkdir(parents=True, exist_ok=True)
    plays = sorted(Path(shakespeare).glob("*.txt"))[-3:]
    for play in plays:
        shutil.copy(play, text_out / play.name)
    _, validation = split_validation(load_corpus([chorales]).songs, 0.1)
    for name, _song in validation:
        shutil.copy(name, music_out / Path(name).name)
    print(f"{len(plays)} plays -> {text_out}; {len(validation)} chorales -> {music_out}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
