"""Tokenizers round-trip any text; the corpus reader refuses binary and empty input."""

from __future__ import annotations

import pytest

from aigc_studio.errors import InputError
from aigc_studio.text.corpus import load_corpus, read_text_file
from aigc_studio.text.tokenizer import BPETokenizer, CharTokenizer, tokenizer_from_card

UNICODE = "Ünïcödé “quotes” — 東京 🚀 naïve café\n\ttabs and emoji 👩‍👩‍👧"


def test_bpe_round_trips_unicode_through_the_model_card():
    bpe = BPETokenizer.train("plain English text for merges. " * 50, vocab_size=300)
    restored = tokenizer_from_card(bpe.to_card())
    ids = restored.encode(UNICODE)
    assert restored.decode(ids) == UNICODE
    assert ids == bpe.encode(UNICODE)


def test_char_tokenizer_round_trips_and_marks_unseen_characters():
    char = CharTokenizer.train(UNICODE)
    restored = tokenizer_from_card(char.to_card())
    assert restored.decode(restored.encode(UNICODE)) == UNICODE
    assert restored.decode(restored.encode("Z")) == "\ufffd"


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10)
    with pytest.raises(InputError, match="binary"):
        load_corpus(path)


def test_empty_corpus_is_refused(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        load_corpus(tmp_path)
    nothing = tmp_path / "none"
    nothing.mkdir()
    with pytest.raises(InputError, match="No .txt"):
        load_corpus(nothing)


def test_cp1252_file_is_decoded_and_reported(tmp_path):
    (tmp_path / "old.txt").write_bytes("Caf\u00e9 \u201cquoted\u201d text.".encode("cp1252"))
    (tmp_path / "new.md").write_text("Modern UTF-8 text.", encoding="utf-8")
    (tmp_path / "junk.txt").write_bytes(b"\x00\x01\x02" * 100)
    corpus = load_corpus(tmp_path)
    assert "Caf\u00e9 \u201cquoted\u201d text." in corpus.text
    assert "Modern UTF-8 text." in corpus.text
    assert any("cp1252" in m for m in corpus.messages)
    assert any("junk.txt" in m and "binary" in m for m in corpus.messages)


def test_editor_reader_normalises_line_endings(tmp_path):
    path = tmp_path / "dos.txt"
    path.write_bytes(b"one\r\ntwo\r\n")
    assert read_text_file(path) == ("one\ntwo\n", "utf-8")


def test_writer_pane_imports_without_torch():
    import subprocess
    import sys

    code = "import sys, aigc_studio.ui.text.pane, aigc_studio.text.jobs; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
