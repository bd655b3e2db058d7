"""Every synthetic twin builds deterministically, matches its specs, masks real steps, and exposes its protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.benchmark.contract_data import check_dataset
from emobench.datamodules import DATAMODULES
from emobench.datamodules.synthetic.twin import SyntheticTwin

TWINS = [n for n in DATAMODULES.names() if issubclass(DATAMODULES.get(n), SyntheticTwin)]


def test_all_six_twins_registered():
    assert set(TWINS) == {"synthetic-deap", "synthetic-dreamer", "synthetic-mosei", "synthetic-m3ed",
                          "synthetic-iemocap", "synthetic-wesad"}


@pytest.mark.parametrize("name", TWINS)
def test_twin_batches_match_specs(name):
    dm = DATAMODULES.get(name)(num_samples=240, seq_len=12, batch_size=16)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert len(batch) == 16
    for spec in dm.modalities:
        x, m = batch.inputs[spec.name], batch.masks[spec.name]
        assert x.shape == (16, spec.seq_len, spec.dim) and x.dtype == torch.float32
        assert m.shape == (16, spec.seq_len) and m.dtype == torch.bool
        assert m.any(dim=1).all(), "every sample has at least one real step"
        assert (x[~m] == 0).all(), "padding steps are zero"
    task = dm.task
    if task.kind == "multiclass":
        assert batch.target.dtype == torch.long and batch.target.max() < task.num_labels
    else:
        assert batch.target.shape == (16, task.num_labels)
        if task.kind == "distribution":
            torch.testing.assert_close(batch.target.sum(1), torch.ones(16))
        else:
            assert set(batch.target.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", TWINS)
def test_twin_is_deterministic_and_seed_dependent(name):
    a = DATAMODULES.get(name)(num_samples=120, seq_len=8).arrays
    b = DATAMODULES.get(name)(num_samples=120, seq_len=8).arrays
    c = DATAMODULES.get(name)(num_samples=120, seq_len=8, data_seed=1).arrays
    first = next(iter(a.inputs))
    np.testing.assert_array_equal(a.inputs[first], b.inputs[first])
    np.testing.assert_array_equal(a.target, b.target)
    assert not np.array_equal(a.inputs[first], c.inputs[first])


def test_full_length_option_gives_the_real_sequence_length():
    dm = DATAMODULES.get("synthetic-mosei")(seq_len=None)
    assert {m.name: m.seq_len for m in dm.modalities} == {"text": 60, "audio": 60, "visual": 60}
    assert {m.name: m.dim for m in dm.modalities} == {"text": 300, "audio": 74, "visual": 35}
    unaligned = DATAMODULES.get("synthetic-mosei")(seq_len=None, aligned=False)
    assert {m.name: m.seq_len for m in unaligned.modalities} == {"text": 50, "audio": 500, "visual": 500}
    assert unaligned.phenomena.lag > 0 == dm.phenomena.lag


def test_capped_lengths_keep_the_modalities_rates():
    """seq_len caps the longest modality; the others keep their ratio to it down to a floor of seq_len // 4."""
    lengths = DATAMODULES.get("synthetic-iemocap")(seq_len=32).lengths()
    assert lengths == {"audio": 32, "visual": round(180 * 32 / 299)}
    assert DATAMODULES.get("synthetic-mosei")(seq_len=32, aligned=False).lengths() == {
        "text": 8, "audio": 32, "visual": 32}
    dm = DATAMODULES.get("synthetic-wesad")(num_samples=60, seq_len=64)
    assert dm.lengths() == {"ecg": 64, "physio": 16, "motion": 16}
    assert {k: v.shape[1] for k, v in dm.arrays.inputs.items()} == dm.lengths()


@pytest.mark.parametrize("name", TWINS)
def test_twin_meets_the_dataset_contract(name):
    """describe()/read() agreement, targets, masks, disjoint folds with held-out groups over every fold of the
    protocol, train-only label statistics, loader batches (benchmark.contract_data)."""
    results = check_dataset(DATAMODULES.get(name), {"num_samples": 120, "seq_len": 4, "batch_size": 16})
    assert [f"{r.name}: {r.detail}" for r in results if r.passed is not True] == []


@pytest.mark.parametrize("name", [n for n in TWINS if DATAMODULES.get(n).official_split is not None])
def test_official_splits_hold_out_groups(name):
    dm = DATAMODULES.get(name)(num_samples=300, seq_len=4)
    assert dm.protocol == "official"
    rows, groups = dm.split_rows(), dm.arrays.groups
    assert not set(groups[rows["train"]]) & set(groups[rows["test"]]), "test groups unseen in training"
    assert not set(groups[rows["valid"]]) & set(groups[rows["test"]])


def test_iemocap_twin_is_leave_one_session_out():
    dm = DATAMODULES.get("synthetic-iemocap")(num_samples=200, seq_len=4)
    assert dm.protocol == "loso" and dm.num_folds == 5
    tests = []
    for fold in range(5):
        fold_dm = DATAMODULES.get("synthetic-iemocap")(num_samples=200, seq_len=4, fold=fold)
        fold_dm.setup()
        held_out = set(fold_dm.arrays.groups[fold_dm._splits["test"]])
        assert len(held_out) == 1
        tests.append(held_out.pop())
    assert sorted(tests) == [0, 1, 2, 3, 4]


def test_label_statistics_use_the_training_fold_only():
    dm = DATAMODULES.get("synthetic-mosei")(num_samples=300, seq_len=4)
    stats = dm.label_statistics()
    train_target = dm.arrays.target[dm._splits["train"]]
    np.testing.assert_allclose(stats.frequency, train_target.mean(0), rtol=1e-6)
    assert stats.num_samples == len(dm._splits["train"]) != len(dm.arrays)
    np.testing.assert_allclose(np.diag(stats.correlation), 1.0)
    assert stats.cooccurrence.shape == (6, 6)


def test_normalisation_is_fit_on_training_rows():
    dm = DATAMODULES.get("synthetic-dreamer")(num_samples=300, seq_len=6, batch_size=1000)
    dm.setup()
    train = next(iter(dm._loader("train", shuffle=False)))
    real = train.inputs["eeg"][train.masks["eeg"]]
    torch.testing.assert_close(real.mean(0), torch.zeros(14), atol=1e-4, rtol=0)
    torch.testing.assert_close(real.std(0, unbiased=False), torch.ones(14), atol=1e-3, rtol=0)
    test = next(iter(dm.test_dataloader()))
    assert test.inputs["eeg"][test.masks["eeg"]].mean(0).abs().max() > 1e-3, "test rows use training statistics"


def test_include_selects_modalities_and_rejects_unknown():
    dm = DATAMODULES.get("synthetic-mosei")(num_samples=100, seq_len=4, include=["audio"])
    assert [m.name for m in dm.modalities] == ["audio"]
    dm.setup()
    assert list(next(iter(dm.train_dataloader())).inputs) == ["audio"]
    with pytest.raises(ValueError, match="unknown modalities"):
        _ = DATAMODULES.get("synthetic-mosei")(include=["smell"]).modalities


def test_fold_out_of_range_is_a_clear_error():
    dm = DATAMODULES.get("synthetic-deap")(num_samples=100, seq_len=4, fold=7)
    with pytest.raises(ValueError, match="out of range"):
        dm.setup()


def test_changing_the_fold_after_setup_is_refused():
    dm = DATAMODULES.get("synthetic-deap")(num_samples=100, seq_len=4)
    dm.setup()
    dm.fold = 1
    with pytest.raises(RuntimeError, match="new datamodule per fold"):
        dm.setup()


def test_wesad_twin_modalities_subjects_and_conditions():
    dm = DATAMODULES.get("synthetic-wesad")(num_samples=450, seq_len=16)
    assert [(m.name, m.kind, m.group, m.dim) for m in dm.modalities] == [
        ("ecg", "ecg", "physiological", 1), ("physio", "physio", "physiological", 6),
        ("motion", "motion", "behavioral", 6)]
    assert dm.task.kind == "multiclass" and dm.task.labels == ("baseline", "stress", "amusement")
    assert dm.protocol == "loso" and dm.num_folds == 15
    arrays = dm.arrays
    assert sorted(np.unique(arrays.groups)) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17]
    for subject in np.unique(arrays.groups):
        counts = np.bincount(arrays.target[arrays.groups == subject], minlength=3)
        assert counts[0] > counts[1] > counts[2] > 0, f"subject {subject}: {counts}"
    dm.setup()
    assert set(arrays.groups[dm.split_rows()["test"]]) == {2}, "fold 0 holds out S2"


def test_wesad_distribution_target_and_bad_target():
    dm = DATAMODULES.get("synthetic-wesad")(num_samples=150, seq_len=8, target="distribution")
    assert dm.task.kind == "distribution" and dm.task.labels == ("stressed", "frustrated", "happy", "sad")
    np.testing.assert_allclose(dm.arrays.target.sum(1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="target"):
        DATAMODULES.get("synthetic-wesad")(target="valence")


def test_phenomenon_strengths_are_validated():
    with pytest.raises(ValueError, match=r"<locality=1.5> must lie in \[0, 1\]"):
        DATAMODULES.get("synthetic-mosei")(locality=1.5)
    assert DATAMODULES.get("synthetic-mosei")(locality=0).phenomena.locality == 0.0
    assert DATAMODULES.get("synthetic-mosei")().phenomena.locality > 0, "on by default"
