"""Nearest-neighbour measures on point sets: k-NN precision and recall, pairwise spread, nearest pairs.

Precision and recall follow Kynkäänniemi et al. (2019): each set's k-th nearest-neighbour
distance gives every point a ball; precision is the share of samples inside some reference
ball, recall the share of reference points inside some sample ball. Distances are Euclidean
in whatever space the caller hands in (pixels, features).
"""

from __future__ import annotations

import numpy as np

K = 3  # neighbours per ball, as in the paper's recommended setting


def distances(a: np.ndarray, b: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Euclidean distances (len(a), len(b)) between rows, in chunks so big sets fit in memory."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    b2 = (b * b).sum(1)
    out = np.empty((len(a), len(b)))
    for start in range(0, len(a), chunk):
        part = a[start : start + chunk]
        a2 = (part * part).sum(1)[:, None]
        sq = a2 + b2[None, :] - 2.0 * part @ b.T
        # The expansion leaves rounding noise (~1e-16 of the norms) where points coincide: a copy is at 0.
        sq[sq < 1e-12 * (a2 + b2[None, :])] = 0.0
        out[start : start + chunk] = np.sqrt(sq)
    return out


def kth_radii(within: np.ndarray, k: int = K) -> np.ndarray:
    """Each row's distance to its k-th nearest other row, from a square distance matrix."""
    n = within.shape[0]
    if n < 2:
        return np.zeros(n)
    k = min(k, n - 1)
    d = within.copy()
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def precision_recall(samples: np.ndarray, reference: np.ndarray, k: int = K) -> tuple[float, float]:
    """k-NN precision (samples that look real) and recall (reference covered by the samples)."""
    cross = distances(samples, reference)
    ref_radii = kth_radii(distances(reference, reference), k)
    sample_radii = kth_radii(distances(samples, samples), k)
    precision = float((cross <= ref_radii[None, :] + 1e-9).any(1).mean())
    recall = float((cross <= sample_radii[:, None] + 1e-9).any(0).mean())
    return precision, recall


def mean_pairwise(points: np.ndarray) -> float:
    """Mean distance over all distinct pairs (0 for fewer than two points)."""
    n = len(points)
    if n < 2:
        return 0.0
    d = distances(points, points)
    return float(d[np.triu_indices(n, 1)].mean())


def close_pair_share(points: np.ndarray, threshold: float) -> float:
    """Share of distinct pairs closer than ``threshold``."""
    n = len(points)
    if n < 2:
        return 0.0
    d = distances(points, points)
    return float((d[np.triu_indices(n, 1)] < threshold).mean())


def nearest(samples: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each sample: index of its nearest reference point and the distance to it."""
    cross = distances(samples, reference)
    index = cross.argmin(1)
    return index, cross[np.arange(len(samples)), index]


def leave_one_out_nearest(reference: np.ndarray) -> np.ndarray:
    """Each reference point's distance to its nearest *other* reference point."""
    return kth_radii(distances(reference, reference), 1)
