"""Convert the Bach chorales bundled with music21 (pip install music21) into .mid files.

Usage: python resources/recipes/music/prepare_chorales.py OUT_DIR
The music is public domain; music21 ships these encodings by permission (not an
open licence), so say so wherever a model trained on them is distributed.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(out_dir: str) -> int:
    """Write one .mid per chorale into ``out_dir``; returns the number written."""
    from music21 import corpus

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = failed = 0
    for path in corpus.getComposer("bach"):
        path = Path(str(path))
        if path.suffix not in (".mxl", ".xml", ".krn") or "bwv" not in path.stem.lower():
            continue
        try:
            score = corpus.parse(str(path))
            if len(score.parts) < 2:
                continue
            target = out / f"{path.stem}.mid"
            score.write("midi", fp=str(target))
            written += 1
        except Exception as exc:  # some encodings fail to convert; skip them and count
            failed += 1
            print(f"skipped {path.name}: {exc}", file=sys.stderr)
    print(f"wrote {written} chorales to {out} ({failed} failed)")
    return written


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "chorales")
