"""The music studio's provenance records: one per generation, saved in the MIDI file, and Regenerate.

Qt-free: the record of a finished job, and the job that writes the same notes again.
"""

from __future__ import annotations

from typing import Any

from aigc_studio.core.provenance import Provenance, model_identity
from aigc_studio.music.song import Song

MUSIC_KINDS = ("music-transformer", "music-vae")
REGENERABLE = ("generate", "continue", "infill")


def record_of(job: Any, seed: int | None, first_bar: int | None, stamp: bool = True) -> Provenance:
    """The record of a finished music job (which notes: ``first_bar`` and the job's bars).

    ``stamp=False`` leaves the time out: the command line promises the same bytes for the same seed.
    """
    from aigc_studio.music.jobs import GenerateMusicJob, InfillMusicJob, InterpolateMusicJob

    settings: dict[str, Any] = {}
    options = getattr(job, "options", None)
    if options is not None:
        settings.update(temperature=options.temperature, top_k=options.top_k, top_p=options.top_p)
    if isinstance(job, GenerateMusicJob):
        operation = "generate" if job.prime is None else "continue"
        settings["bars"] = job.bars
    elif isinstance(job, InfillMusicJob):
        operation = "infill"
        settings["infill"] = [job.first_bar, job.last_bar]
    elif isinstance(job, InterpolateMusicJob):
        operation = "interpolate"
        settings.update(phrases=[job.bar_a, job.bar_b], steps=job.steps)
    else:
        operation = "variations"
        settings.update(bar=getattr(job, "bar", 0), count=getattr(job, "count", 0))
    if first_bar is not None:
        settings["first_bar"] = int(first_bar)
    name, model_hash = model_identity(job.model, MUSIC_KINDS)
    record = Provenance("music", operation, name, model_hash, seed, settings)
    return record.stamped() if stamp else record


def bars_of(record: Provenance) -> tuple[int, int] | None:
    """The bars a record's notes were written into, when it says."""
    s = record.settings
    if record.operation == "infill" and isinstance(s.get("infill"), list) and len(s["infill"]) == 2:
        return int(s["infill"][0]), int(s["infill"][1])
    if isinstance(s.get("first_bar"), int) and isinstance(s.get("bars"), int):
        return s["first_bar"], s["first_bar"] + s["bars"]
    return None


def regenerate_job(record: Provenance, model: str, song: Song) -> tuple[Any, tuple[int, int]]:
    """The job that writes the record's notes again into ``song``, and the tick range it replaces."""
    from aigc_studio.music.jobs import GenerateMusicJob, InfillMusicJob, SamplingOptions

    s = record.settings
    options = SamplingOptions(float(s.get("temperature", 1.0)), int(s.get("top_k", 0)), float(s.get("top_p", 0.95)))
    first, last = bars_of(record)
    clear = (first * song.bar_ticks, last * song.bar_ticks)
    if record.operation == "infill":
        return InfillMusicJob(model, song.copy(), first, last, options, seed=record.seed), clear
    if record.operation == "generate":
        return GenerateMusicJob(model, last - first, None, None, options, seed=record.seed), clear
    return GenerateMusicJob(model, last - first, song.copy(), first, options, seed=record.seed), clear


def why_not_regenerable(record: Provenance) -> str:
    """Empty when Regenerate can run the record again, else why not."""
    if record.operation not in REGENERABLE:
        return f"{record.operation.capitalize()} is not regenerated from a recipe; run it again from the Generate menu."
    if bars_of(record) is None:
        return "This recipe does not say which bars it wrote."
    return ""


def record_for_bars(records: list[Provenance], bars: set[int]) -> Provenance:
    """The latest record whose generated bars meet ``bars`` (else the latest record); ``records`` is not empty."""
    covering = [r for r in records if (b := bars_of(r)) is not None and bars & set(range(*b))]
    return (covering or records)[-1]
