"""Label-distribution metrics against a NumPy oracle of PyLDL's definitions (pyldl/metrics.py and
pyldl/algorithms/utils.py of SpriteMisaka/PyLDL): Clark, Canberra and KL clip both distributions to
[eps(float64), 1]; Chebyshev, cosine and intersection do not clip; cosine is 1 - sklearn's paired cosine
distance; intersection is computed as 1 - sum|d - p| / 2."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import paired_cosine_distances

from emobench.metrics import (
    CanberraDistance,
    ChebyshevDistance,
    ClarkDistance,
    CosineSimilarity,
    IntersectionSimilarity,
    KLDivergence,
)
from emobench.metrics.canberra import canberra_distance
from emobench.metrics.chebyshev import chebyshev_distance
from emobench.metrics.clark import clark_distance
from emobench.metrics.cosine import cosine_similarity
from emobench.metrics.intersection import intersection_similarity
from emobench.metrics.kl_divergence import kl_divergence
from tests.metrics.helpers import N_SAMPLES, assert_close, assert_sum_states, run_metric_checks

L = 6
EPS = np.finfo(np.float64).eps  # PyLDL's EPS


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x.astype(np.float64), EPS, 1.0)


def ref_chebyshev(p, d):
    return float(np.mean(np.max(np.abs(d.astype(np.float64) - p), axis=1)))


def ref_clark(p, d):
    d, p = _clip(d), _clip(p)
    return float(np.mean(np.sqrt(np.sum((d - p) ** 2 / (d + p) ** 2, axis=1))))


def ref_canberra(p, d):
    d, p = _clip(d), _clip(p)
    return float(np.mean(np.sum(np.abs(d - p) / (d + p), axis=1)))


def ref_kl(p, d):
    d, p = _clip(d), _clip(p)
    return float(np.mean(np.sum(d * (np.log(d) - np.log(p)), axis=1)))


def ref_cosine(p, d):
    d, p = d.astype(np.float64), p.astype(np.float64)
    return float(np.mean(np.sum(d * p, axis=1) / (np.linalg.norm(d, axis=1) * np.linalg.norm(p, axis=1))))


def ref_intersection(p, d):
    return float(np.mean(np.sum(np.minimum(d.astype(np.float64), p.astype(np.float64)), axis=1)))


CASES = {
    "chebyshev": (ChebyshevDistance, chebyshev_distance, ref_chebyshev, False),
    "clark": (ClarkDistance, clark_distance, ref_clark, False),
    "canberra": (CanberraDistance, canberra_distance, ref_canberra, False),
    "kl": (KLDivergence, kl_divergence, ref_kl, False),
    "cosine": (CosineSimilarity, cosine_similarity, ref_cosine, True),
    "intersection": (IntersectionSimilarity, intersection_similarity, ref_intersection, True),
}


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / x.sum(axis=1, keepdims=True)).astype(np.float32)


def _data(seed: int = 0, zeros: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    target = rng.dirichlet(np.full(L, 0.7), size=N_SAMPLES)
    preds = np.exp(rng.normal(size=(N_SAMPLES, L)))
    if zeros:
        target[rng.random((N_SAMPLES, L)) < 0.2] = 0.0  # zeros in the true distributions
        preds[rng.random((N_SAMPLES, L)) < 0.1] = 0.0  # and some in the predictions
        target[:, 0] = np.where(np.arange(N_SAMPLES) % 3 == 0, 0.0, target[:, 0] + 0.05)
        preds[:, 0] = np.where(np.arange(N_SAMPLES) % 4 == 0, 0.0, preds[:, 0])  # both zero at some (i, 0)
        target[1], preds[1] = np.eye(L)[2], np.eye(L)[3]  # disjoint one-hot rows: the worst case
        target[2], preds[2] = np.eye(L)[1], np.eye(L)[1]  # identical one-hot rows
        preds[3] = target[3]  # identical rows with zeros
    return torch.from_numpy(_normalise(preds)), torch.from_numpy(_normalise(target))


def test_data_has_zeros_where_it_matters():
    preds, target = _data()
    assert (target == 0).float().mean() > 0.1 and (preds == 0).float().mean() > 0.05
    assert ((target == 0) & (preds > 0)).any() and ((preds == 0) & (target > 0)).any()
    assert ((preds == 0) & (target == 0)).any()
    assert torch.allclose(preds.double().sum(1), torch.ones(N_SAMPLES, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("zeros", [True, False], ids=["with-zeros", "positive"])
@pytest.mark.parametrize("name", list(CASES))
def test_against_pyldl_oracle(name, zeros):
    cls, functional, reference, higher = CASES[name]
    preds, target = _data(zeros=zeros)
    run_metric_checks(lambda: cls(num_labels=L), functional, reference, preds, target, atol=1e-6)
    metric = cls()
    assert metric.higher_is_better is higher
    assert metric.is_differentiable is False and metric.full_state_update is False
    assert_sum_states(metric)


def test_pyldl_forms_of_cosine_and_intersection():
    """PyLDL: cosine is 1 - sklearn's paired_cosine_distances, intersection is 1 - sum|d - p| / 2."""
    preds, target = _data()
    p, d = preds.numpy().astype(np.float64), target.numpy().astype(np.float64)
    pyldl_cosine = float(np.mean(1 - paired_cosine_distances(d, p)))
    pyldl_intersection = float(np.mean(1 - 0.5 * np.sum(np.abs(d - p), axis=1)))
    assert_close(cosine_similarity(preds, target), pyldl_cosine, 1e-6, "cosine vs sklearn paired distance")
    assert_close(
        intersection_similarity(preds, target), pyldl_intersection, 1e-6, "intersection vs PyLDL form"
    )
    # a zero row (only reachable without validation) follows scikit-learn's normalize: left as 0, finite
    zero, uniform = torch.zeros(1, 3), torch.full((1, 3), 1 / 3)
    expected = float(1 - paired_cosine_distances(zero.numpy(), uniform.numpy())[0])
    assert expected == pytest.approx(0.5)
    assert_close(cosine_similarity(uniform, zero, validate_args=False), expected, 1e-12, "cosine, zero row")


def test_zero_probabilities_stay_finite():
    # disjoint one-hot rows: every clipped metric meets 0 against 1
    target = torch.eye(4)[[0, 1]]
    preds = torch.eye(4)[[1, 0]]
    expected = {
        "chebyshev": 1.0,
        "clark": np.sqrt(2.0) * (1 - EPS) / (1 + EPS),
        "canberra": 2.0 * (1 - EPS) / (1 + EPS),
        "kl": np.log(1 / EPS) + EPS * np.log(EPS),  # 1 ln(1 / eps) + eps ln(eps / 1) + 2 eps ln(eps / eps)
        "cosine": 0.0,
        "intersection": 0.0,
    }
    for name, (_, functional, reference, _) in CASES.items():
        value = functional(preds, target)
        assert torch.isfinite(value), name
        assert_close(value, reference(preds.numpy(), target.numpy()), 1e-6, name)
        assert_close(value, expected[name], 1e-6, f"{name} by hand")
    assert float(kl_divergence(preds, target)) == pytest.approx(36.04365338911715, abs=1e-6)
    # identical rows with zeros: every distance is exactly 0, every similarity 1
    same = torch.tensor([[0.0, 0.25, 0.75, 0.0]])
    for name, (_, functional, _, higher) in CASES.items():
        assert float(functional(same, same)) == pytest.approx(1.0 if higher else 0.0, abs=1e-12), name


def test_empty_compute_is_nan():
    metric = KLDivergence()
    with pytest.warns(UserWarning, match="compute"):
        assert torch.isnan(metric.compute())


BAD_INPUTS = [
    (torch.rand(4), torch.rand(4), ValueError, r"`preds` to be 2-D of shape \(B, L\), but got shape \(4,\)"),
    (torch.rand(4, 3), torch.rand(3, 3), ValueError, r"same shape, but got \(4, 3\) and \(3, 3\)"),
    (
        torch.full((2, 4), 0.25),
        torch.full((2, 4), 0.25),
        ValueError,
        r"`preds.shape\[1\]` to equal `num_labels`=3",
    ),
    (
        torch.full((2, 3), 1 / 3),
        torch.ones(2, 3, dtype=torch.long),
        TypeError,
        r"`target` to be a floating point",
    ),
    (
        torch.ones(2, 3, dtype=torch.long),
        torch.full((2, 3), 1 / 3),
        TypeError,
        r"`preds` to be a floating point",
    ),
    (
        torch.tensor([[1.5, -0.5, 0.0]]),
        torch.full((1, 3), 1 / 3),
        ValueError,
        r"`preds` to hold values in \[0, 1\]",
    ),
    (
        torch.full((1, 3), 1 / 3),
        torch.tensor([[0.5, 0.5, float("nan")]]),
        ValueError,
        r"`target` to hold values in",
    ),
    (
        torch.full((2, 3), 0.5),
        torch.full((2, 3), 1 / 3),
        ValueError,
        r"every row of `preds` to sum to 1 .*\[1.5, 1.5\]",
    ),
    (torch.full((2, 3), 1 / 3), torch.zeros(2, 3), ValueError, r"every row of `target` to sum to 1"),
    (torch.full((2, 3), 1 / 3), "target", TypeError, r"`target` to be a torch.Tensor, but got str"),
]


@pytest.mark.parametrize("cls", [c for c, *_ in CASES.values()])
@pytest.mark.parametrize(("preds", "target", "error", "match"), BAD_INPUTS)
def test_bad_inputs(cls, preds, target, error, match):
    with pytest.raises(error, match=match):
        cls(num_labels=3).update(preds, target)


@pytest.mark.parametrize("cls", [c for c, *_ in CASES.values()])
def test_bad_num_labels(cls):
    with pytest.raises(ValueError, match=r"`num_labels` to be an integer >= 1, but got 0"):
        cls(num_labels=0)


def test_validate_args_false_skips_value_checks_only():
    preds, target = torch.full((1, 3), 0.5), torch.full((1, 3), 0.5)  # rows sum to 1.5
    assert float(chebyshev_distance(preds, target, validate_args=False)) == 0.0
    with pytest.raises(ValueError, match="sum to 1"):
        chebyshev_distance(preds, target)
    with pytest.raises(ValueError, match="same shape"):
        chebyshev_distance(preds, target[:, :2], validate_args=False)
