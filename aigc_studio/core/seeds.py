"""One seed rule for every generation job: the job owns its seed; "random" is drawn once, before the job.

The GUI and the command line draw a random seed with :func:`random_seed` before
they build the job, show or print it, and the job records it in its result, so
that anything made can be made again. A job run from a script without a seed
draws one itself, once, with :func:`job_seed`, and records that one.
"""

from __future__ import annotations

import secrets
from typing import Any

SEED_LIMIT = 2**31  # seeds fit a 32-bit signed int: spin boxes, PNG text chunks and other tools take them


def random_seed() -> int:
    """A fresh seed for "random" (shown to the user, so it can be reused)."""
    return secrets.randbelow(SEED_LIMIT)


def job_seed(seed: int | None, ctx: Any = None) -> int:
    """The seed a job runs with: its own, else the engine's for this job, else one drawn now."""
    if seed is not None:
        return int(seed)
    if ctx is not None and getattr(ctx, "seed", None) is not None:
        return int(ctx.seed)
    return random_seed()
