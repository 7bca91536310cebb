"""The writer studio's provenance records: one per generated span, saved in the text sidecar, and Regenerate.

Qt-free: the record of a text job (Continue or Rewrite selection) and the
GenerateTextJob options that write a span again from its record. The CLI's
``--out`` and the studio build records here, so both carry the same fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aigc_studio.core.provenance import Provenance, model_identity
from aigc_studio.errors import InputError

SAMPLING_KEYS = ("temperature", "top_k", "top_p", "repetition_penalty")
LENGTH_KEYS = ("length", "length_unit", "finish")
REGENERABLE = ("continue",)  # a rewrite's record shows what made it; its passage is not kept, so it cannot rerun


def record_of(job: Any, model: str | Path, prompt_chars: int, stamp: bool = True) -> Provenance:
    """The record of a GenerateTextJob (operation "continue") or a RewriteJob ("rewrite") once its seed is known.

    Length goals are kept as the user set them (words, sentences, paragraphs or tokens
    and how to finish); without one, the token budget.
    """
    settings: dict[str, Any] = {key: getattr(job, key) for key in SAMPLING_KEYS}
    settings["loop_stop"] = bool(getattr(job, "loop_stop", True))
    if hasattr(job, "passage"):  # RewriteJob
        operation = "rewrite"
        settings.update(
            preset=job.preset or "", instruction=job.instruction, tone=job.tone, passage_chars=len(job.passage)
        )
    else:
        operation = "continue"
        settings["stop"] = list(job.stop)
        if job.length is not None:
            settings.update({key: getattr(job, key) for key in LENGTH_KEYS})
        else:
            settings["max_new_tokens"] = job.max_new_tokens
        settings["prompt_chars"] = prompt_chars
    name, model_hash = model_identity(model, "text-gpt")
    record = Provenance("text", operation, name, model_hash, job.seed, settings)
    return record.stamped() if stamp else record


def job_options(record: Provenance) -> dict[str, Any]:
    """GenerateTextJob keyword arguments (sampling, stop, length) that write ``record``'s span again.

    Raises InputError when the record is not a Continue's or its settings are damaged.
    """
    if record.media != "text" or record.operation not in REGENERABLE:
        raise InputError(
            f"This text was made by “{record.operation}”, whose input is not kept: select the passage and run it "
            "again to get a new version."
        )
    settings = record.settings
    options: dict[str, Any] = {}
    for key in SAMPLING_KEYS:
        value = settings.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InputError(f"The recipe's {key.replace('_', ' ')} is damaged ({value!r}).")
        options[key] = int(value) if key == "top_k" else float(value)
    stop = settings.get("stop", [])
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InputError("The recipe's stop texts are damaged.")
    options["stop"] = list(stop)
    options["loop_stop"] = bool(settings.get("loop_stop", True))
    if settings.get("length") is not None:
        length, unit, finish = (settings.get(key) for key in LENGTH_KEYS)
        if not isinstance(length, int) or isinstance(length, bool) or not isinstance(unit, str):
            raise InputError(f"The recipe's length is damaged ({length!r} {unit!r}).")
        options.update(length=length, length_unit=unit, finish=finish if isinstance(finish, str) else "sentence")
    else:
        tokens = settings.get("max_new_tokens", 200)
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            raise InputError(f"The recipe's token count is damaged ({tokens!r}).")
        options.update(length=None, max_new_tokens=tokens)
    return options
