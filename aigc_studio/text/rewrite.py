"""Rewrite, expand, shorten or re-tone a passage with a local instruction model and its chat template.

Only a Hugging Face folder whose tokenizer carries a chat template (an
instruction-tuned model) can follow an instruction; :func:`rewrite_refusal`
says why any other model cannot, without loading it. Importing this module
does not import torch (the GUI reads the presets and the refusal).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc_studio.errors import InputError

# name -> (label, instruction, how long the answer may be compared with the passage, where it goes)
PRESETS: dict[str, tuple[str, str, float, str]] = {
    "rewrite": (
        "Rewrite",
        "Rewrite the following text so that it reads better. Keep its meaning, language and point of view.",
        1.5,
        "replace",
    ),
    "expand": (
        "Expand",
        "Expand the following text to about twice its length: add detail and description in the same style.",
        3.0,
        "replace",
    ),
    "shorten": (
        "Shorten",
        "Shorten the following text to about half its length, keeping what matters.",
        1.0,
        "replace",
    ),
    "grammar": (
        "Fix grammar",
        "Correct the spelling, grammar and punctuation of the following text. Change nothing else.",
        1.3,
        "replace",
    ),
    "tone": ("Change tone to…", "Rewrite the following text in a {tone} tone. Keep its meaning.", 1.5, "replace"),
    "continue": (
        "Continue in its style",
        "Write the paragraph that follows the text below, in the same style, voice and tense.",
        2.0,
        "after",
    ),
}
FREE_LENGTH = 2.0  # a free instruction may ask for anything: allow twice the passage
ANSWER_RULE = "Answer with the new text only, without any comment, heading or quotation marks."
MIN_BUDGET, MAX_BUDGET = 64, 4096


@dataclass
class Instruction:
    """What the writer asked for: a preset (with a tone) or their own words."""

    preset: str | None = None
    text: str = ""
    tone: str = ""

    def wording(self) -> str:
        """The instruction sent to the model."""
        if self.preset is None:
            if not self.text.strip():
                raise InputError("Type an instruction, e.g. 'Make it sound more formal'.")
            return self.text.strip()
        if self.preset not in PRESETS:
            raise InputError(f"Unknown preset {self.preset!r}; use one of {', '.join(PRESETS)}.")
        wording = PRESETS[self.preset][1]
        if "{tone}" in wording:
            if not self.tone.strip():
                raise InputError("Say which tone, e.g. 'warmer', 'formal' or 'playful'.")
            wording = wording.format(tone=self.tone.strip())
        return wording

    @property
    def placement(self) -> str:
        """'replace' (the answer replaces the passage) or 'after' (it follows it)."""
        return PRESETS[self.preset][3] if self.preset else "replace"

    @property
    def length_factor(self) -> float:
        """How many times the passage's tokens the answer may take."""
        return PRESETS[self.preset][2] if self.preset else FREE_LENGTH


def chat_messages(instruction: Instruction, passage: str) -> list[dict[str, str]]:
    """One user turn (some templates refuse a system turn): instruction, the answering rule, the passage."""
    if not passage.strip():
        raise InputError("Select the text to rewrite first.")
    return [{"role": "user", "content": f"{instruction.wording()}\n{ANSWER_RULE}\n\n{passage.strip()}"}]


def find_chat_template(folder: str | Path) -> str | None:
    """The chat template a Hugging Face folder's tokenizer carries, read from disk without loading anything."""
    folder = Path(folder)
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8", errors="replace") or None
    for name in ("chat_template.json", "tokenizer_config.json"):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        template = data.get("chat_template") if isinstance(data, dict) else None
        if isinstance(template, list):  # named templates: the default one
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default") or next(iter(named.values()), None)
        if isinstance(template, str) and template.strip():
            return template
    return None


def rewrite_refusal(model: str | Path | None) -> str | None:
    """Why this model cannot rewrite (a message for the writer), or None when it can."""
    if model is None:
        return "Choose a model first."
    path = Path(model).expanduser()
    name = path.name
    if not path.is_dir():
        return (
            f"{name} continues text but cannot follow instructions. Rewrite needs an instruction-tuned model: "
            "open a Hugging Face model folder whose tokenizer has a chat template (File > Open model folder…)."
        )
    if find_chat_template(path) is None:
        return (
            f"{name} has no chat template in its tokenizer files, so it cannot follow instructions; it can still "
            "Continue. Rewrite needs an instruction-tuned (chat) model folder."
        )
    return None


def fit_into_selection(passage: str, answer: str, placement: str = "replace") -> str:
    """What goes into the document: the answer with the passage's own outer white space, or after a break."""
    if placement == "after":
        return ("\n\n" if "\n" in passage.strip() or passage.endswith("\n") else " ") + answer.strip()
    lead = passage[: len(passage) - len(passage.lstrip())]
    trail = passage[len(passage.rstrip()) :]
    return lead + answer.strip() + trail


def token_budget(lm: Any, passage: str, instruction: Instruction) -> int:
    """Tokens the answer may take: the passage's own tokens times the preset's factor."""
    return max(MIN_BUDGET, min(MAX_BUDGET, int(len(lm.encode(passage)) * instruction.length_factor) + 32))


@dataclass
class RewriteJob:
    """Answer ``instruction`` about ``passage`` with a local chat model, streaming token partials.

    Returns a GeneratedText whose ``details`` add ``replacement`` (the answer fitted to the
    passage) and ``placement``; a TextTrim partial takes back the repeats of a loop that was cut.
    """

    model: str
    passage: str
    preset: str | None = "rewrite"
    instruction: str = ""
    tone: str = ""
    temperature: float = 0.7
    top_k: int = 0
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    seed: int | None = None
    allow_pickle: bool = False
    use_cache: bool = True
    loop_stop: bool = True
    title: str = "Rewrite selection"

    def run(self, ctx: Any) -> Any:
        """Check the model can follow instructions, build the chat prompt, stream the answer."""
        from aigc_studio.text.jobs import load_language_model, stream_into_job
        from aigc_studio.text.length import LengthGoal

        wanted = Instruction(self.preset, self.instruction, self.tone)
        messages = chat_messages(wanted, self.passage)
        if (refusal := rewrite_refusal(self.model)) is not None:
            raise InputError(refusal)
        ctx.progress(None, "Loading the model…")
        lm = load_language_model(self.model, ctx, self.allow_pickle)
        prompt_ids = lm.chat_prompt_ids(messages)
        budget = token_budget(lm, self.passage, wanted)
        goal = LengthGoal(budget, "tokens", "word")  # out of budget: end on a whole word
        result = stream_into_job(ctx, lm, self, budget, goal, "", prompt_ids=prompt_ids)
        result.details.update(
            replacement=fit_into_selection(self.passage, result.text, wanted.placement),
            placement=wanted.placement,
            instruction=wanted.wording(),
        )
        return result
