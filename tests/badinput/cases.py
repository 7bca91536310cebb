"""The corpus entries, written once per session at import (so tests can be parametrised by entry).

Kept apart from conftest.py: tests import this module by its dotted name, so there is one corpus.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from tests.badinput.corpus import MARKER_NAME, huge_text_entry, write_corpus

# Written at collection time so that tests can be parametrised by entry (it takes well under a second;
# the 200 MB file is written only by the `huge_text` fixture, when a test needs it).
CORPUS_ROOT = Path(tempfile.mkdtemp(prefix="aigc-bad-inputs-"))
ENTRIES = write_corpus(CORPUS_ROOT) + [huge_text_entry(CORPUS_ROOT / "texts" / "huge.txt")]
MARKER = CORPUS_ROOT / MARKER_NAME
atexit.register(shutil.rmtree, CORPUS_ROOT, True)  # also when the tests were collected but not run


def entries_for(loader: str) -> list:
    """Corpus entries that apply to ``loader``."""
    return [e for e in ENTRIES if loader in e.loaders]


def prepare(entry, request) -> None:
    """Make sure the entry's file exists (the huge file is written lazily, once)."""
    if entry.id == "huge.txt":
        request.getfixturevalue("huge_text")
