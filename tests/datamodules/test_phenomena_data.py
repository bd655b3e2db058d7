"""The phenomena as generated (no training): evidence segments and distractors, lags, drops, the cross-modal
product in the labels, and the label structure, each present at its strength and absent at 0."""

from __future__ import annotations

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES
from emobench.datamodules.synthetic import labels as label_lib
from emobench.datamodules.synthetic.phenomena import Phenomena
from emobench.datamodules.synthetic.streams import StreamRecipe, event_times, evidence_share, generate_stream

RECIPE = StreamRecipe("x", 8, 40, "audio")
OFF = {"locality": 0.0, "interaction": 0.0, "lag": 0.0, "label_structure": 0.0, "drop_rate": 0.0}


def stream(ph: Phenomena, z: np.ndarray, seed: int = 0, times: np.ndarray | None = None, t: int = 40):
    rng = np.random.default_rng(seed)
    times = event_times(np.random.default_rng(99), len(z), ph) if times is None else times
    return generate_stream(rng, RECIPE, t, z, np.zeros((len(z), 0)), times, ph, np.zeros(len(z), int), 1)


@pytest.mark.parametrize("locality", [0.0, 0.5, 1.0])
def test_evidence_covers_its_share_and_only_it_depends_on_the_latent(locality):
    ph = Phenomena(locality=locality)
    z = np.random.default_rng(1).standard_normal((200, 4))
    x1, mask, evidence = stream(ph, z)
    x2, _, _ = stream(ph, z + 1.0)  # same draws, other latent
    assert mask.all()
    np.testing.assert_allclose(evidence.mean(), evidence_share(locality), atol=0.02)
    changed = np.abs(x1 - x2).max(axis=-1) > 0
    np.testing.assert_array_equal(changed, evidence), "steps outside the evidence ignore the latent"


def test_lag_shifts_each_modality_evidence_and_zero_lag_aligns_it():
    z = np.random.default_rng(1).standard_normal((300, 4))
    for lag, same in ((0.0, True), (0.5, False)):
        ph = Phenomena(locality=0.8, lag=lag)
        times = event_times(np.random.default_rng(3), len(z), ph)
        _, _, a = stream(ph, z, seed=0, times=times)
        _, _, b = stream(ph, z, seed=1, times=times)
        assert np.array_equal(a, b) is same, f"lag {lag}"


def test_lag_keeps_relative_time_across_rates():
    """At lag 0 the evidence of a 40-step and a 10-step modality starts at the same relative time."""
    ph = Phenomena(locality=0.8)
    z = np.random.default_rng(1).standard_normal((100, 4))
    times = event_times(np.random.default_rng(3), len(z), ph)
    _, _, fast = stream(ph, z, times=times, t=40)
    _, _, slow = stream(ph, z, times=times, t=10)
    start = lambda e: e.argmax(axis=1) / e.shape[1]  # noqa: E731
    assert np.abs(start(fast) - start(slow)).max() <= 0.1 + 1e-9


@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_drop_rate_masks_that_share_and_never_a_whole_sequence(rate):
    x, mask, _ = stream(Phenomena(drop_rate=rate), np.random.default_rng(1).standard_normal((500, 4)))
    np.testing.assert_allclose(1 - mask.mean(), rate, atol=0.03)
    assert mask.any(axis=1).all() and (x[~mask] == 0).all()


def test_interaction_puts_the_product_not_the_factors_into_the_labels():
    rng = np.random.default_rng(0)
    model = label_lib.LabelModel(rng, num_labels=4, num_pairs=1)
    z, pairs = rng.standard_normal((20000, 8)), rng.standard_normal((20000, 1, 2))
    product = pairs[..., 0] * pairs[..., 1]
    for w in (0.0, 0.6):
        label = model.scores(z, product, w)[:, 0]
        corr = [abs(np.corrcoef(a, label)[0, 1]) for a in (product[:, 0], pairs[:, 0, 0], pairs[:, 0, 1])]
        assert corr[0] == pytest.approx(np.sqrt(w), abs=0.03)
        assert corr[1] < 0.03 and corr[2] < 0.03, "no factor alone tells the label"


def test_label_structure_gives_the_declared_co_occurrence_and_off_gives_none():
    def correlation(structure: float) -> np.ndarray:
        dm = DATAMODULES.get("synthetic-mosei")(num_samples=6000, seq_len=4, **{**OFF, "label_structure": structure})
        return np.corrcoef(dm.arrays.target.T)

    labels = DATAMODULES.get("synthetic-mosei").task_spec.labels
    on, off = correlation(0.6), correlation(0.0)
    for child, parent, sign in DATAMODULES.get("synthetic-mosei").relations:
        i, j = labels.index(child), labels.index(parent)
        assert sign * on[i, j] > 0.15, f"{child} / {parent}: {on[i, j]:+.2f}"
    assert np.abs(off - np.eye(len(labels))).max() < 0.06, "independent labels without structure"
    rates = DATAMODULES.get("synthetic-mosei")(num_samples=6000, seq_len=4).arrays.target.mean(0)
    np.testing.assert_allclose(rates, DATAMODULES.get("synthetic-mosei").label_rates, atol=0.01)


def test_distribution_structure_moves_mass_to_prototype_neighbours():
    """With prototype structure, emotions close in valence/arousal (anger and fear) rise and fall together."""
    def correlation(structure: float) -> float:
        dm = DATAMODULES.get("synthetic-deap")(num_samples=3000, seq_len=4, **{**OFF, "label_structure": structure})
        return float(np.corrcoef(dm.arrays.target[:, 0], dm.arrays.target[:, 2])[0, 1])  # anger, fear

    assert correlation(0.8) > 0.3 > correlation(0.0)


def test_label_coupling_ties_labels_beyond_their_scores():
    """With scores that tell nothing (all zero), a coupled child still follows its parent's drawn label: the
    coupling goes through the parent's label noise, so labels depend on each other given the input. Without
    coupling (or without structure) they do not."""
    def correlation(structure: float, coupling: float) -> float:
        scores = np.zeros((20000, 2))
        labels = label_lib.multilabel_targets(np.random.default_rng(0), scores, (0.5, 0.3), [(1, 0, -1)], structure,
                                              coupling)
        return float(np.corrcoef(labels.T)[0, 1])

    assert correlation(0.8, 1.0) < -0.4, "the child excludes its parent"
    assert abs(correlation(0.8, 0.0)) < 0.03, "no coupling: independent given the scores"
    assert abs(correlation(0.0, 1.0)) < 0.03, "no structure, nothing to couple"
