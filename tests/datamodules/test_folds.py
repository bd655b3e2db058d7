"""Protocols in datamodules/folds.py: group disjointness on every fold, loso order, kfold coverage."""

import numpy as np
import pytest

from emobench.datamodules.folds import count_folds, split_indices

GROUPS = np.array(["s10", "s02", "s01", "s10", "s02", "s01", "s03", "s03", "s04", "s04", "s02", "s01"])


def _split(protocol, fold, groups=GROUPS, num_folds=2, seed=3):
    return split_indices(protocol, fold, num_folds, 0.25, seed, None, groups, len(groups))


@pytest.mark.parametrize("protocol", ["loso", "group-kfold"])
def test_group_protocols_never_share_a_group_on_any_fold(protocol):
    tested = []
    for fold in range(count_folds(protocol, 2, GROUPS)):
        train, valid, test = _split(protocol, fold)
        sets = [set(GROUPS[i]) for i in (train, valid, test)]
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]), fold
        assert len(train) + len(valid) + len(test) == len(GROUPS)
        tested.extend(sorted(sets[2]))
    assert sorted(tested) == sorted(set(GROUPS))  # every group is tested exactly once


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loso_fold_k_holds_out_the_kth_group_in_sorted_order(seed):
    for fold, group in enumerate(sorted(set(GROUPS))):
        test = _split("loso", fold, seed=seed)[2]
        assert set(GROUPS[test]) == {group}


def test_kfold_tests_every_row_once_and_validates_outside_test():
    n, seen = 23, []
    for fold in range(4):
        train, valid, test = split_indices("kfold", fold, 4, 0.2, 0, None, None, n)
        assert not (set(valid) & set(test) or set(train) & set(test) or set(train) & set(valid))
        seen.extend(test)
    assert sorted(seen) == list(range(n))


# Sessions s1..s3, two speakers each (IEMOCAP-like): validation units nested in the groups.
SESSIONS = np.repeat(np.array(["s1", "s2", "s3"]), 4)
SPEAKERS = np.array([f"{s}{'FM'[i % 2]}" for i, s in enumerate(SESSIONS)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loso_with_validation_units_validates_on_training_speakers_only(seed):
    for fold, session in enumerate(["s1", "s2", "s3"]):
        train, valid, test = split_indices("loso", fold, 0, 0.1, seed, None, SESSIONS, len(SESSIONS), val_groups=SPEAKERS)
        assert set(SESSIONS[test]) == {session}, "fold k holds out the k-th session"
        assert session not in set(SESSIONS[train]) | set(SESSIONS[valid]), "no test-session row in train or valid"
        assert len(set(SPEAKERS[valid])) == 1 and not set(SPEAKERS[valid]) & set(SPEAKERS[train])
        assert sorted(np.concatenate([train, valid, test]).tolist()) == list(range(len(SESSIONS)))


def test_validation_units_must_leave_training_units():
    sessions, speakers = np.array(["s1", "s1", "s2"]), np.array(["a", "a", "b"])
    with pytest.raises(ValueError, match="too few validation units"):
        split_indices("loso", 0, 0, 0.1, 0, None, sessions, 3, val_groups=speakers)


def test_validation_units_must_be_nested_in_groups():
    sessions, speakers = np.array(["s1", "s2", "s2", "s3"]), np.array(["a", "a", "b", "c"])
    with pytest.raises(ValueError, match="nested"):
        split_indices("loso", 0, 0, 0.1, 0, None, sessions, 4, val_groups=speakers)


def _trial_table(subjects: int = 3, trials: int = 7, segments: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Subject ids (shuffled, not starting at 0) and unique trial ids of rows that are segments of trials."""
    subject = np.repeat(np.array([12, 3, 7])[:subjects], trials * segments)
    trial = np.repeat(np.arange(subjects * trials), segments)
    order = np.random.default_rng(0).permutation(len(subject))
    return subject[order], trial[order]


@pytest.mark.parametrize("seed", [0, 5])
def test_subject_dependent_trains_and_tests_one_subject_trialwise(seed):
    groups, trials = _trial_table()
    k = 3
    assert count_folds("subject-dependent", k, groups) == 3 * k
    tested = {}
    for fold in range(count_folds("subject-dependent", k, groups)):
        train, valid, test = split_indices("subject-dependent", fold, k, 0.2, seed, None, groups, len(groups), trials=trials)
        subject = sorted(set(groups))[fold // k]  # fold f -> the (f // k)-th subject in sorted order
        assert set(groups[np.concatenate([train, valid, test])]) == {subject}
        assert len(train) and len(valid) and len(test)
        parts = [set(trials[rows]) for rows in (train, valid, test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), "a trial is split"
        assert len(train) + len(valid) + len(test) == int((groups == subject).sum())
        for t in parts[2]:
            assert t not in tested, f"trial {t} tested twice"
            tested[t] = fold
    assert sorted(tested) == sorted(set(trials))  # every trial of every subject is tested exactly once


def test_subject_dependent_needs_trials_and_enough_of_them():
    groups, trials = _trial_table(trials=4)
    with pytest.raises(ValueError, match="needs each row's trial"):
        split_indices("subject-dependent", 0, 2, 0.2, 0, None, groups, len(groups), trials=None)
    with pytest.raises(ValueError, match="num_folds"):  # 4 trials in 5 folds
        split_indices("subject-dependent", 0, 5, 0.2, 0, None, groups, len(groups), trials=trials)
    groups, trials = _trial_table(trials=3)
    with pytest.raises(ValueError, match="num_folds"):  # a 2-trial test fold leaves 1 trial: no validation
        split_indices("subject-dependent", 0, 2, 0.2, 0, None, groups, len(groups), trials=trials)
    with pytest.raises(ValueError, match="out of range"):
        split_indices("subject-dependent", 3 * 2, 2, 0.2, 0, None, groups, len(groups), trials=trials)


def test_kfold_keeps_each_trial_on_one_side_when_trials_are_known():
    groups, trials = _trial_table()
    seen = []
    for fold in range(4):
        train, valid, test = split_indices("kfold", fold, 4, 0.2, 1, None, groups, len(groups), trials=trials)
        parts = [set(trials[rows]) for rows in (train, valid, test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), "a trial is split"
        seen.extend(test)
    assert sorted(seen) == list(range(len(groups)))


@pytest.mark.parametrize(("val_fraction", "expected"), [(0.2, 3), (0.5, 8), (0.01, 1)])
def test_kfold_validation_is_val_fraction_of_the_other_rows_and_never_empty(val_fraction, expected):
    train, valid, test = split_indices("kfold", 0, 4, val_fraction, 0, None, None, 23)
    assert len(test) == 6 and len(valid) == expected and len(train) == 17 - expected


@pytest.mark.parametrize(("protocol", "val_fraction", "expected"), [
    ("loso", 0.5, 2), ("loso", 0.01, 1), ("group-kfold", 0.34, 1), ("group-kfold", 0.01, 1)])
def test_group_validation_is_val_fraction_of_the_training_groups_and_never_empty(protocol, val_fraction, expected):
    # 5 groups: loso tests 1 and validates round(f * 4); group-kfold (2 folds) tests 3 or 2 and validates 1
    for fold in range(count_folds(protocol, 2, GROUPS)):
        train, valid, test = split_indices(protocol, fold, 2, val_fraction, 0, None, GROUPS, len(GROUPS))
        assert len(set(GROUPS[valid])) == expected and len(set(GROUPS[train])) == 5 - expected - len(set(GROUPS[test]))


def test_official_split_is_one_fold_of_the_datasets_own_split():
    split = np.array(["train", "valid", "test", "train", "test", "train"])
    assert count_folds("official", 5, None) == 1
    train, valid, test = split_indices("official", 0, 5, 0.1, 0, split, None, len(split))
    assert (train.tolist(), valid.tolist(), test.tolist()) == ([0, 3, 5], [1], [2, 4])
    with pytest.raises(ValueError, match="out of range"):
        split_indices("official", 1, 5, 0.1, 0, split, None, len(split))
    with pytest.raises(ValueError, match="needs a dataset with an official split"):
        split_indices("official", 0, 5, 0.1, 0, None, None, len(split))


@pytest.mark.parametrize(("protocol", "fold", "num_folds", "groups", "message"), [
    ("leave-one-out", 0, 2, GROUPS, "protocol must be one of"),
    ("kfold", 2, 2, None, "out of range"),
    ("kfold", -1, 2, None, "out of range"),
    ("loso", 5, 2, GROUPS, "out of range"),
    ("kfold", 0, 1, None, "kfold needs <num_folds=1> >= 2"),
    ("group-kfold", 0, 1, GROUPS, "needs 2 <= num_folds <= 5 groups"),
    ("group-kfold", 0, 6, GROUPS, "needs 2 <= num_folds <= 5 groups"),
    ("loso", 0, 2, None, "needs subject/session groups"),
    ("loso", 0, 2, np.array(["a", "b", "a", "b"]), "too few groups"),
])
def test_impossible_splits_are_refused(protocol, fold, num_folds, groups, message):
    n = 12 if groups is None else len(groups)
    with pytest.raises(ValueError, match=message):
        split_indices(protocol, fold, num_folds, 0.25, 0, None, groups, n)


@pytest.mark.parametrize(("protocol", "groups"), [("kfold", None), ("group-kfold", GROUPS)])
def test_the_smallest_allowed_splits_work(protocol, groups):
    n = 12 if groups is None else len(groups)
    for fold in (0, 1):  # 2 folds; group-kfold also with as many folds as groups
        assert all(len(part) for part in split_indices(protocol, fold, 2, 0.25, 0, None, groups, n))
    if groups is not None:
        assert len(split_indices(protocol, 4, 5, 0.25, 0, None, groups, n)[2])
    three = np.array(["a", "b", "c", "a", "b", "c"])  # loso with 3 groups: 1 test, 1 validation, 1 train
    assert all(len(part) == 2 for part in split_indices("loso", 2, 2, 0.25, 0, None, three, len(three)))


def test_validation_units_must_be_one_per_row():
    with pytest.raises(ValueError, match="val_groups has shape"):
        split_indices("loso", 0, 0, 0.1, 0, None, SESSIONS, len(SESSIONS), val_groups=SPEAKERS[:-1])


def test_validation_units_are_val_fraction_of_the_training_units():
    sessions = np.repeat(["s1", "s2"], 10)
    speakers = np.array([f"{s}-{i % 5}" for i, s in enumerate(sessions)])  # 5 speakers per session, 2 rows each
    train, valid, test = split_indices("loso", 0, 0, 0.4, 0, None, sessions, len(sessions), val_groups=speakers)
    assert len(set(speakers[valid])) == 2 and len(set(speakers[train])) == 3, "round(0.4 x 5) units validate"


@pytest.mark.parametrize("trials", [None, np.arange(3)])
def test_kfold_with_as_many_folds_as_units_tests_one_and_validates_one(trials):
    """3 units (rows or trials), 3 folds: each fold tests one unit, validates one and trains on the third."""
    for fold in range(3):
        parts = split_indices("kfold", fold, 3, 0.25, 0, None, None, 3, trials=trials)
        assert [len(p) for p in parts] == [1, 1, 1]


@pytest.mark.parametrize("val_fraction", [0.9, 0.99])
def test_kfold_always_leaves_a_training_unit(val_fraction):
    for n, num_folds in ((3, 3), (10, 5)):
        for fold in range(num_folds):
            train, valid, test = split_indices("kfold", fold, num_folds, val_fraction, 0, None, None, n)
            assert len(train) >= 1 and len(valid) >= 1 and len(test) >= 1
