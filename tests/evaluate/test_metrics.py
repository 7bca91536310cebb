"""The evaluation measures give the known answers on data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_studio.evaluate import neighbours
from aigc_studio.evaluate.copying import longest_copy
from aigc_studio.evaluate.text import distinct_n, loops


@pytest.fixture
def points():
    return np.random.default_rng(0).normal(size=(200, 12))


def test_a_sample_set_that_is_the_reference_has_precision_and_recall_one_and_distance_zero(points):
    precision, recall = neighbours.precision_recall(points, points)
    assert (precision, recall) == (1.0, 1.0)
    _, dist = neighbours.nearest(points, points)
    assert np.allclose(dist, 0.0)


def test_one_repeated_item_has_recall_near_zero_but_looks_real(points):
    samples = np.repeat(points[:1], 64, axis=0)
    precision, recall = neighbours.precision_recall(samples, points)
    assert precision == 1.0
    assert recall <= 0.02  # only the item itself (and what lies at distance 0 from it) is covered
    assert neighbours.mean_pairwise(samples) == 0.0
    assert neighbours.close_pair_share(samples, 1e-6) == 1.0


def test_samples_far_from_the_reference_have_precision_zero(points):
    precision, recall = neighbours.precision_recall(points + 100.0, points)
    assert (precision, recall) == (0.0, 0.0)


def test_leave_one_out_distance_ignores_the_item_itself(points):
    loo = neighbours.leave_one_out_nearest(points)
    assert (loo > 0).all()
    full = neighbours.distances(points, points) + np.eye(len(points)) * 1e9
    assert np.allclose(loo, full.min(1))


def test_text_copied_from_the_reference_is_a_verbatim_copy_of_its_full_length():
    reference = "It was the best of times, it was the worst of times, it was the age of wisdom."
    sample = reference[10:60]
    copy = longest_copy(sample, reference)
    assert copy.length == len(sample)
    assert reference[copy.reference_start : copy.reference_start + copy.length] == sample


def test_longest_copy_finds_the_longest_shared_stretch_only():
    copy = longest_copy("zzz the worst of qqq", "it was the worst of times")
    assert copy.length == len(" the worst of ")
    assert longest_copy("xyz", "abc").length == 0


def test_distinct_n_and_loops_notice_repetition():
    looping = "the cat sat on the mat " * 6
    varied = "a quick brown fox jumps over the lazy dog while seven bold wizards vex a jumping queen"
    assert distinct_n([looping], 2) < 0.3
    assert distinct_n([varied], 2) == 1.0
    assert loops(looping) and not loops(varied)
