"""Rating targets of datamodules/physio/targets.py: distributions, binary labels with ties, quadrants."""

from __future__ import annotations

import numpy as np
import pytest

from emobench.datamodules.physio import targets

NAMES = ("valence", "arousal", "dominance", "liking")


def test_rescale_maps_each_scale_onto_minus_one_to_one():
    np.testing.assert_allclose(targets.rescale([1, 5, 9], 1, 9), [-1, 0, 1])  # DEAP
    np.testing.assert_allclose(targets.rescale([1, 3, 5], 1, 5), [-1, 0, 1])  # DREAMER


def test_distribution_rows_are_distributions_peaked_at_the_nearest_prototype():
    rng = np.random.default_rng(0)
    ratings = rng.uniform(1, 9, size=(200, 4))
    ratings[0] = 5.0
    dist = targets.rating_targets("distribution", ratings, NAMES, (1, 9), 5.0)
    assert dist.shape == (200, 6) and dist.dtype == np.float32
    assert (dist >= 0).all()
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, rtol=1e-6)
    vad = targets.rescale(ratings[:, :3], 1, 9)
    prototypes = np.array([targets.PROTOTYPES[e] for e in targets.EMOTIONS])
    nearest = np.argmin(((vad[:, None] - prototypes[None]) ** 2).sum(-1), axis=1)
    for sigma in (0.2, 0.5, 2.0):  # sigma changes the spread, never the argmax
        assert (targets.emotion_distribution(vad, sigma).argmax(axis=1) == nearest).all()
    sharp, flat = targets.emotion_distribution(vad, 0.2), targets.emotion_distribution(vad, 2.0)
    assert (sharp.max(axis=1) >= flat.max(axis=1)).all()


def test_distribution_at_a_prototype_and_without_dominance():
    happy = np.array([targets.PROTOTYPES["happiness"]])
    ratings = 5 + 4 * happy  # DEAP scale
    dist = targets.rating_targets("distribution", np.c_[ratings, [[7.0]]], NAMES, (1, 9), 5.0)
    assert targets.EMOTIONS[int(dist.argmax())] == "happiness"
    manual = np.exp(-((happy[:, None, :] - np.array(list(targets.PROTOTYPES.values()))[None]) ** 2).sum(-1) / 0.5)
    np.testing.assert_allclose(dist, manual / manual.sum(), rtol=1e-6)
    two = targets.rating_targets("distribution", np.c_[ratings, [[7.0]]], NAMES, (1, 9), 5.0, use_dominance=False)
    manual2 = np.exp(-((happy[:, None, :2] - np.array(list(targets.PROTOTYPES.values()))[None, :, :2]) ** 2).sum(-1)
                     / 0.5)
    np.testing.assert_allclose(two, manual2 / manual2.sum(), rtol=1e-6)


@pytest.mark.parametrize(("operator", "expected"), [(">=", [0, 1, 1]), (">", [0, 0, 1])])
def test_binary_threshold_tie_follows_the_operator(operator, expected):
    ratings = np.array([[4.99, 1, 1, 1], [5.0, 1, 1, 1], [5.01, 9, 9, 9]])
    y = targets.rating_targets("binary", ratings, NAMES, (1, 9), 5.0, operator)
    assert y.shape == (3, 4)
    assert y[:, 0].tolist() == expected


def test_quadrants_number_valence_as_the_high_bit():
    ratings = np.array([[2, 2, 5, 5], [2, 8, 5, 5], [8, 2, 5, 5], [8, 8, 5, 5], [5, 5, 5, 5]], dtype=float)
    y = targets.rating_targets("quadrant", ratings, NAMES, (1, 9), 5.0)
    assert y.tolist() == [0, 1, 2, 3, 3]
    assert [targets.QUADRANTS[i] for i in y[:4]] == ["LVLA", "LVHA", "HVLA", "HVHA"]
    assert targets.rating_targets("quadrant", ratings, NAMES, (1, 9), 5.0, ">")[-1] == 0


def test_task_specs_and_errors():
    assert targets.task_spec("binary", NAMES[:3]).labels == NAMES[:3]
    assert targets.task_spec("quadrant", NAMES).kind == "multiclass"
    assert targets.task_spec("distribution", NAMES).labels == targets.EMOTIONS
    with pytest.raises(ValueError, match="target"):
        targets.task_spec("regression", NAMES)
    with pytest.raises(ValueError, match="binary_operator"):
        targets.binarise(np.ones(2), 5.0, "=>")
    with pytest.raises(ValueError, match="valence and arousal"):
        targets.rating_targets("binary", np.ones((2, 2)), ("liking", "dominance"), (1, 9), 5.0)
    with pytest.raises(ValueError, match="kernel_sigma"):
        targets.emotion_distribution(np.zeros((1, 2)), 0.0)
