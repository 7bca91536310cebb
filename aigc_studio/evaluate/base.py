"""The one small interface every studio's evaluator implements, and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Loaded:
    """A model ready to sample from, and what the report says about it."""

    name: str
    kind: str
    hash: str
    path: Path
    model: Any
    parameters: int


@dataclass
class Reference:
    """Reference items (pictures, text, songs) with a label for each, and what they were read from."""

    path: str
    items: list[Any]
    labels: list[str]
    what: str  # e.g. "images at 64 px", "characters of text"
    total: int  # how many the source held (items may be a subset)
    text: str = ""  # text studio: the whole reference as one string

    def __len__(self) -> int:
        return len(self.items)

    def split_in_half(self, count: int, seed: int) -> tuple[list[int], Reference]:
        """Indices of a random half (at most ``count``) to pose as samples, and the rest as a reference."""
        import numpy as np

        order = np.random.default_rng(seed).permutation(len(self.items))
        half = min(count, len(self.items) // 2)
        rest = order[half:]
        kept = Reference(
            self.path, [self.items[i] for i in rest], [self.labels[i] for i in rest], self.what, self.total
        )
        return [int(i) for i in order[:half]], kept


@dataclass
class Pair:
    """One sample beside the reference item nearest to it."""

    sample_label: str
    reference_label: str
    distance: float
    sample: Any
    reference: Any
    sample_span: tuple[int, int] | None = None  # text / melody: the copied stretch in the sample
    reference_span: tuple[int, int] | None = None
    memorised: bool = False


@dataclass
class Measured:
    """Quality, diversity and novelty of one set of samples (named numbers), plus the nearest pairs."""

    quality: dict[str, Any] = field(default_factory=dict)
    diversity: dict[str, Any] = field(default_factory=dict)
    novelty: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    pairs: list[Pair] = field(default_factory=list)
    memorised: int = 0  # samples closer to a reference item than reference items are to each other
    memorised_rule: str = ""


class Studio(Protocol):
    """What one studio's evaluator offers; ``aigc_studio.evaluate.job`` drives it the same way for all."""

    kinds: tuple[str, ...]
    unit: str  # what the speed counts: "images", "tokens", "sentences", "pieces"

    def load(self, ref: str, ctx: Any) -> Loaded:
        """Load the model named or pointed to by ``ref`` (refusing other kinds)."""

    def read_reference(self, path: str, loaded: Loaded, ctx: Any, limit: int, seed: int) -> Reference:
        """Read the reference data (InputError for an empty, unreadable or wrong kind of source)."""

    def sample(self, loaded: Loaded, count: int, ctx: Any, seed: int) -> tuple[list[Any], int]:
        """``count`` samples and how many units (images, tokens) that made; reports progress."""

    def split(self, reference: Reference, count: int, seed: int) -> tuple[list[Any], Reference]:
        """Reference items posing as ``count`` samples, and the rest of the reference to compare them with."""

    def measure(
        self,
        samples: list[Any],
        reference: Reference | None,
        loaded: Loaded | None,
        ctx: Any,
        baseline: Measured | None,
    ) -> Measured:
        """Figures for ``samples`` (against ``reference`` when given; model-based ones when ``loaded``)."""
