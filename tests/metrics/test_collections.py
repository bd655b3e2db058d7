"""`metrics_for`, `primary_metric`, `higher_is_better`: names, classes, settings, errors, and a collection
used the way the model base uses it (cloned per stage, compute groups on), against the metrics run alone;
`check_inputs` raises exactly what a collection's update raises."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch
from torchmetrics import MetricCollection

import emobench.metrics
from emobench.metrics import (
    PRIMARY_METRIC,
    ChebyshevDistance,
    JaccardAccuracy,
    KLDivergence,
    MicroF1,
    UnweightedAccuracy,
    WeightedAccuracy,
    check_inputs,
    higher_is_better,
    metric_names,
    metrics_for,
    primary_metric,
)

NAMES = {
    "multilabel": {
        "accuracy": True,
        "micro_precision": True,
        "micro_recall": True,
        "micro_f1": True,
        "macro_f1": True,
        "hamming_loss": False,
    },
    "distribution": {
        "chebyshev": False,
        "clark": False,
        "canberra": False,
        "kl": False,
        "cosine": True,
        "intersection": True,
    },
    "multiclass": {"wa": True, "ua": True, "macro_f1": True, "weighted_f1": True},
}


@pytest.mark.parametrize("kind", list(NAMES))
def test_names_and_directions(kind):
    collection = metrics_for(kind, 4)
    assert isinstance(collection, MetricCollection)
    assert set(collection.keys()) == set(NAMES[kind])
    assert metric_names(kind) == tuple(NAMES[kind])
    for name, higher in NAMES[kind].items():
        assert higher_is_better(kind, name) is higher
        assert collection[name].higher_is_better is higher


def test_primary_metrics():
    assert PRIMARY_METRIC == {"multilabel": "micro_f1", "distribution": "kl", "multiclass": "ua"}
    assert primary_metric("multilabel") == ("micro_f1", True)
    assert primary_metric("distribution") == ("kl", False)
    assert primary_metric("multiclass") == ("ua", True)


def test_settings_reach_the_metrics():
    ml = metrics_for("multilabel", 6, threshold=0.3)
    assert isinstance(ml["accuracy"], JaccardAccuracy) and isinstance(ml["micro_f1"], MicroF1)
    assert all(m.threshold == 0.3 and m.num_labels == 6 for m in ml.values())
    dist = metrics_for("distribution", 7)
    assert isinstance(dist["kl"], KLDivergence) and isinstance(dist["chebyshev"], ChebyshevDistance)
    assert all(m.num_labels == 7 for m in dist.values())
    mc = metrics_for("multiclass", 4)
    assert isinstance(mc["ua"], UnweightedAccuracy) and isinstance(mc["wa"], WeightedAccuracy)
    assert all(m.num_classes == 4 for m in mc.values())
    assert mc["wa"].average == "micro" and mc["macro_f1"].average == "macro"
    assert mc["weighted_f1"].average == "weighted"


@pytest.mark.parametrize("kind", list(NAMES))
def test_validate_args_reaches_every_metric(kind):
    assert all(m.validate_args is True for m in metrics_for(kind, 4).values())
    assert all(m.validate_args is False for m in metrics_for(kind, 4, validate_args=False).values())


_BAD_INPUTS = {  # one of each value check per kind: what `validate_args=False` lets through
    "multilabel": [(torch.tensor([[0.2, 1.5]]), torch.tensor([[0.0, 1.0]])),  # a probability above 1
                   (torch.tensor([[0.2, 0.5]]), torch.tensor([[0.0, 2.0]]))],  # a target that is not 0/1
    "distribution": [(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.7, 0.7]])),  # a row summing to 1.4
                     (torch.tensor([[-0.5, 1.5]]), torch.tensor([[0.5, 0.5]]))],  # values outside [0, 1]
    "multiclass": [(torch.tensor([[float("nan"), 0.5]]), torch.tensor([0])),  # NaN
                   (torch.tensor([[0.5, 0.5]]), torch.tensor([2]))],  # a class index outside [0, C)
}


@pytest.mark.parametrize(("kind", "case"), [(k, i) for k in _BAD_INPUTS for i in range(2)])
def test_check_inputs_raises_what_the_collection_raises(kind, case):
    preds, target = _BAD_INPUTS[kind][case]
    with pytest.raises(ValueError) as from_collection:
        metrics_for(kind, 2).update(preds, target)
    with pytest.raises(ValueError) as from_check:
        check_inputs(kind, preds, target, 2)
    assert str(from_check.value) == str(from_collection.value)


@pytest.mark.parametrize("kind", list(NAMES))
def test_check_inputs_passes_valid_inputs_and_checks_the_label_count(kind):
    preds, target = _batches(kind, seed=3)[0]
    check_inputs(kind, preds, target, 4)
    with pytest.raises(ValueError, match=r"shape\[1\]` to equal `num_(labels|classes)`=5"):
        check_inputs(kind, preds, target, 5)
    with pytest.raises(ValueError, match="Unknown task kind 'regression'"):
        check_inputs("regression", preds, target, 4)


def test_fresh_instances_and_prefixed_clones():
    a, b = metrics_for("multiclass", 3), metrics_for("multiclass", 3)
    assert a["ua"] is not b["ua"]
    val = a.clone(prefix="val/")
    assert set(val.keys()) == {"val/wa", "val/ua", "val/macro_f1", "val/weighted_f1"}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: metrics_for("regression", 3),
            r"Unknown task kind 'regression'; expected one of \('multilabel', ",
        ),
        (
            lambda: primary_metric("ranking"),
            r"expected one of \('multilabel', 'distribution', 'multiclass'\)",
        ),
        (lambda: higher_is_better("binary", "f1"), r"Unknown task kind 'binary'"),
        (
            lambda: higher_is_better("multiclass", "accuracy"),
            r"Unknown multiclass metric 'accuracy'; expected .*'wa'",
        ),
        (lambda: metrics_for("multilabel", 1), r"`num_labels` to be an integer >= 2, but got 1"),
        (
            lambda: metrics_for("distribution", 3, threshold=2),
            r"`threshold` to be a float in \[0, 1\], but got 2",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _batches(kind: str, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for size in (5, 1, 12, 7):
        if kind == "multilabel":
            out.append((torch.rand(size, 4, generator=g), (torch.rand(size, 4, generator=g) < 0.4).float()))
        elif kind == "distribution":
            target = torch.rand(size, 4, generator=g).softmax(1)
            preds = target.clone() if not out else torch.rand(size, 4, generator=g).softmax(1)
            out.append((preds, target))  # the first batch is a perfect prediction: every distance sum is 0
        else:
            out.append((torch.randn(size, 4, generator=g), torch.randint(0, 4, (size,), generator=g)))
    return out


@pytest.mark.parametrize("kind", list(NAMES))
def test_collection_equals_metrics_run_alone(kind):
    """Compute groups must only share states between metrics that truly have the same state."""
    batches = _batches(kind, seed=1)
    collection = metrics_for(kind, 4, threshold=0.5).clone(prefix="val/")
    for preds, target in batches:
        collection.update(preds, target)
    together = collection.compute()
    alone = {}
    for name, metric in metrics_for(kind, 4, threshold=0.5).items():
        for preds, target in batches:
            metric.update(preds, target)
        alone[f"val/{name}"] = metric.compute()
    assert together.keys() == alone.keys()
    values = {name: float(v) for name, v in alone.items()}
    assert len(set(values.values())) > 2, f"degenerate test data: {values}"
    for name, value in alone.items():
        assert float(together[name]) == pytest.approx(float(value), abs=1e-9), name


def _modules():
    return [f"emobench.metrics.{m.name}" for m in pkgutil.iter_modules(emobench.metrics.__path__)]


@pytest.mark.parametrize("module_name", _modules())
def test_module_docstring_and_doctests(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__ and len(module.__doc__.strip()) > 40, f"{module_name} needs a module docstring"
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    classes = [
        obj for obj in vars(module).values() if isinstance(obj, type) and obj.__module__ == module_name
    ]
    if classes and not module_name.rsplit(".", 1)[1].startswith("_"):  # private bases need no doctest
        assert result.attempted > 0, f"{module_name}: its metric class needs a doctest"


def test_every_metric_class_is_exported_and_declared():
    exported = {name for name in emobench.metrics.__all__ if isinstance(getattr(emobench.metrics, name), type)}
    registered = {cls.__name__ for classes in emobench.metrics.METRIC_CLASSES.values() for cls in classes.values()}
    assert exported == registered
    for name in exported:
        cls = getattr(emobench.metrics, name)
        assert "higher_is_better" in vars(cls) and cls.is_differentiable is False, name  # direction per class
        assert cls.full_state_update is False, name
        for section in ("Args:", "Raises:", "Example:", ".. math::", ">>> "):
            assert section in cls.__doc__, f"{name} docstring lacks {section!r}"
