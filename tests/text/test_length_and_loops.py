"""Lengths in words/sentences/paragraphs end at a word or sentence boundary; a repetition loop is stopped and cut."""

from __future__ import annotations

import pytest
import torch

from aigc_studio.cli.main import main
from aigc_studio.core.jobs import run_job
from aigc_studio.nn.sampling import SamplingSettings
from aigc_studio.text.generate import Retract, TextStream
from aigc_studio.text.length import LengthGoal, count_words, tokens_per_word
from aigc_studio.text.loops import LoopDetector

from .scripted_lm import ScriptedLM


def _stream(lm, goal=None, loops=None, budget=2000):
    settings = SamplingSettings(temperature=0.0, max_new_tokens=budget)
    stream = TextStream(lm, "", settings, torch.Generator(), length=goal, loops=loops, prompt_ids=[])
    pieces = list(stream)
    return stream, pieces


PROSE = (
    "The rain had stopped by the time she reached the bridge. The river below was loud with three days of water. "
    "She waited a while, listening, then turned back towards the town and the lamps of the inn, where somebody "
    "was singing badly about the sea and the others laughed and joined in with him. Nobody had followed her."
)


def test_word_goal_ends_at_the_sentence_end_nearest_the_goal_and_never_takes_text_back():
    stream, pieces = _stream(ScriptedLM(PROSE), LengthGoal(20, "words", "sentence"))
    assert all(isinstance(p, str) for p in pieces)  # nothing shown is taken back
    assert "".join(pieces) == stream.text
    assert stream.text == PROSE[: PROSE.index("water.") + len("water.")]  # 20 words end mid-sentence; 21 finish it
    assert stream.reason == "length" and count_words(stream.text) == 21


def test_without_a_sentence_end_in_reach_it_ends_on_the_goal_word():
    goal = LengthGoal(40, "words", "sentence")  # the 40th word falls in a 46-word sentence: no end within 4 words
    stream, _ = _stream(ScriptedLM(PROSE), goal)
    assert count_words(stream.text) == 40 and stream.text == " ".join(PROSE.split()[:40])


def test_word_finish_ends_on_a_whole_word_and_sentence_units_count_sentences():
    stream, _ = _stream(ScriptedLM(PROSE), LengthGoal(7, "words", "word"))
    assert stream.text == "The rain had stopped by the time"
    stream, _ = _stream(ScriptedLM(PROSE), LengthGoal(2, "sentences"))
    assert stream.text.endswith("three days of water.") and stream.text.count(".") == 2


def test_paragraph_goal_stops_at_the_blank_line():
    text = "One two three.\n\nFour five six.\n\nSeven eight."
    stream, _ = _stream(ScriptedLM(text), LengthGoal(2, "paragraphs"))
    assert stream.text == "One two three.\n\nFour five six."


def test_an_exhausted_budget_ends_on_a_whole_word():
    stream, _ = _stream(ScriptedLM(PROSE), LengthGoal(50, "words", "sentence"), budget=33)
    assert stream.reason == "budget" and stream.text == PROSE[:33].rsplit(" ", 1)[0]


def test_tokens_per_word_follows_the_tokenizer():
    lm = ScriptedLM(PROSE)
    assert 4.5 < tokens_per_word(lm) < 7  # one token per character
    assert LengthGoal(60, "words").budget(tokens_per_word(lm)) > 60 * 4.5


def test_a_forced_loop_is_stopped_and_its_repeats_are_cut():
    lm = ScriptedLM("Once upon a time. I will go to the market now. ", loop_from=len("Once upon a time. "))
    stream, pieces = _stream(lm, LengthGoal(300, "words"), LoopDetector())
    assert stream.reason == "loop"
    assert stream.text == "Once upon a time. I will go to the market now. "[:-1] or stream.text.startswith("Once upon")
    assert stream.text.count("market") == 1
    assert isinstance(pieces[-1], Retract)
    shown = "".join(p for p in pieces if isinstance(p, str))
    assert shown[: len(shown) - pieces[-1].chars] == stream.text
    assert stream.tokens < 200  # stopped soon after the third repeat, not at the budget


def test_the_loop_stop_can_be_turned_off():
    lm = ScriptedLM("Again and again we go. ", loop_from=0)
    stream, _ = _stream(lm, LengthGoal(60, "words", "word"), loops=None)
    assert stream.reason == "length" and count_words(stream.text) == 60


def test_word_runs_repeated_with_other_punctuation_count_as_a_loop():
    detector = LoopDetector()
    assert detector.check("Well. And so it goes.\nAnd so it goes! And so it goes, ").keep == len(
        "Well. And so it goes."
    )
    for ordinary in ("Ha, ha, ha! Now, now, now, now. Never, never, never, never, never.", "O, O, O, O! " * 2):
        assert LoopDetector().check(ordinary) is None


def test_job_reports_words_and_a_loop_through_partials(monkeypatch):
    import aigc_studio.text.jobs as jobs

    looping = ScriptedLM("Hello there. The cat sat on the mat today. ", loop_from=len("Hello there. "))
    monkeypatch.setattr(jobs, "load_language_model", lambda *_args, **_kw: looping)
    partials = []
    result = run_job(jobs.GenerateTextJob(model="x", prompt="", length=100, seed=1), on_partial=partials.append)
    assert result["reason"] == "loop" and result["trimmed"] > 0
    assert partials[-1] == {"type": "trim", "chars": result["trimmed"]} or partials[-1]["type"] == "trim"
    assert "repeat" in jobs.generation_summary(result) and f"Added {result['words']} words" in jobs.generation_summary(
        result
    )


@pytest.mark.parametrize("finish", ["sentence", pytest.param("word", marks=pytest.mark.slow)])
def test_starter_model_writes_sixty_words(finish, capsys, one_torch_thread):
    assert (
        main(
            [
                "generate",
                "text",
                "--model",
                "shakespeare-gpt",
                "--prompt",
                "ROMEO:",
                "--max-words",
                "60",
                "--seed",
                "4",
                "--finish",
                finish,
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    out = captured.out.rstrip("\n")
    words = count_words(out) - 1
    assert 54 <= words <= 66 and not out[-1].isspace()
    assert f"{words} words added" in captured.err
    if finish == "word":
        assert words == 60
    else:
        assert out[-1] in ".!?" or words == 60


@pytest.mark.slow
def test_loop_stop_never_fires_on_twenty_ordinary_starter_samples(one_torch_thread):
    from aigc_studio.text.jobs import GenerateTextJob

    for seed in range(20):
        result = run_job(GenerateTextJob(model="shakespeare-gpt", prompt="ROMEO:\n", length=80, seed=seed))
        assert result["reason"] != "loop", (seed, result["text"])


def test_cli_cuts_a_loop_from_stdout_and_out_and_says_so(monkeypatch, capsys, tmp_path):
    import aigc_studio.text.jobs as jobs

    looping = ScriptedLM(" and then. The cat sat on the mat today.", loop_from=len(" and then."))
    monkeypatch.setattr(jobs, "load_language_model", lambda *_args, **_kw: looping)
    out = tmp_path / "story.txt"
    assert main(["generate", "text", "--model", "x", "--prompt", "Once", "--max-words", "100", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Once and then. The cat sat on the mat today.\n"  # a pipe gets only the final text
    assert out.read_text(encoding="utf-8") == captured.out.rstrip("\n")
    assert "stopped a repetition loop" in captured.err
    from aigc_studio.text.sidecar import read_sidecar_with_records

    spans, (record,) = read_sidecar_with_records(out, out.read_text(encoding="utf-8"))  # the --out file's recipe
    assert spans == [[len("Once"), len(captured.out) - 1]]
    assert f"seed {record.seed}" in captured.err
    assert (record.settings["length"], record.settings["length_unit"], record.settings["finish"]) == (
        100,
        "words",
        "sentence",
    )
