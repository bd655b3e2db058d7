"""Evaluation protocols: which rows train, validate and test in fold k. Test rows never select models.

Where a dataset knows each row's trial (physiological datasets: a row is a segment of one trial), every protocol
keeps a trial's rows on one side: kfold folds whole trials, and subject-dependent splits each subject's trials.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = ("official", "kfold", "group-kfold", "loso", "subject-dependent")
#: Protocols whose test groups (subjects / sessions) are unseen in training and validation.
GROUP_PROTOCOLS = ("group-kfold", "loso")


def count_folds(protocol: str, num_folds: int, groups: np.ndarray | None) -> int:
    """Folds of `protocol`: 1 (official), `num_folds` (kfold, group-kfold), one per group (loso), or
    `num_folds` per group (subject-dependent: fold = subject index x num_folds + inner fold)."""
    if protocol == "official":
        return 1
    if protocol == "loso":
        return len(np.unique(_need_groups(groups, protocol)))
    if protocol == "subject-dependent":
        return len(np.unique(_need_groups(groups, protocol))) * num_folds
    return num_folds


def split_indices(
    protocol: str,
    fold: int,
    num_folds: int,
    val_fraction: float,
    seed: int,
    split: np.ndarray | None,
    groups: np.ndarray | None,
    n: int,
    *,
    trials: np.ndarray | None = None,
    val_groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, valid, test) row indices of fold `fold`.

    official: the dataset's own train/valid/test split.  kfold: rows (or, where `trials` is given, whole trials)
    in `num_folds` folds, validation a random `val_fraction` of the other rows (trials).  group-kfold / loso:
    whole groups (subjects, sessions) per fold and validation groups drawn from the training groups, so
    validation is as group-independent as test.  In loso, fold k holds out the k-th group in sorted order
    (fold 0 = subject 1 / session 1), so per-group results can be reported; group-kfold assigns shuffled groups
    to folds.  subject-dependent (needs `groups` and `trials`): one model per subject, as TorchEEG's
    `KFoldPerSubjectCrossTrial`; fold f trains and tests on subject `f // num_folds` (sorted order) only, its
    trials in `num_folds` folds, testing fold `f % num_folds`, validating on a `val_fraction` of its other trials.
    Every subject has `num_folds` folds, so the mean over folds is the mean over subjects.  `val_groups` (N,)
    (group-kfold / loso only): finer units nested in the groups (e.g. the speakers of IEMOCAP's sessions);
    validation is then a `val_fraction` (at least one) of the training groups' units instead of whole groups, so
    it stays unit-independent without taking a whole group from training.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got <protocol={protocol}>.")
    total = count_folds(protocol, num_folds, groups)
    if not 0 <= fold < total:
        raise ValueError(f"<fold={fold}> is out of range: protocol {protocol!r} has {total} fold(s) (0..{total - 1}).")
    rng = np.random.default_rng(seed)
    if protocol == "official":
        if split is None:
            raise ValueError("protocol 'official' needs a dataset with an official split; use kfold or group-kfold.")
        return tuple(np.flatnonzero(split == s) for s in ("train", "valid", "test"))
    if protocol == "kfold":
        units = np.arange(n) if trials is None else trials
        return _unit_kfold(units, np.arange(n), fold, num_folds, val_fraction, rng, "kfold")
    groups = _need_groups(groups, protocol)
    ordered = np.unique(groups)
    if protocol == "subject-dependent":
        if trials is None:
            raise ValueError("protocol 'subject-dependent' needs each row's trial, but this dataset has none. "
                             "Make sure the reader fills DatasetArrays.trials, or use kfold / group-kfold / loso.")
        subject = ordered[fold // num_folds]
        rows = np.flatnonzero(groups == subject)
        return _unit_kfold(trials[rows], rows, fold % num_folds, num_folds, val_fraction,
                           np.random.default_rng([seed, fold // num_folds]), f"subject-dependent (subject {subject})")
    folds = len(ordered) if protocol == "loso" else num_folds
    if folds < 2 or folds > len(ordered):
        raise ValueError(f"{protocol} needs 2 <= num_folds <= {len(ordered)} groups, got <num_folds={folds}>.")
    unique = ordered if protocol == "loso" else rng.permutation(ordered)
    test_groups = unique[fold::folds]
    if val_groups is not None:
        return _validate_on_units(protocol, np.asarray(val_groups), groups, test_groups, val_fraction, rng)
    rest = rng.permutation(np.array([g for g in unique if g not in set(test_groups)]))
    n_val = max(1, int(round(val_fraction * len(rest))))
    if n_val >= len(rest):
        raise ValueError(f"{protocol}: too few groups ({len(unique)}) to hold out test and validation groups.")
    val_groups = rest[:n_val]
    test = np.flatnonzero(np.isin(groups, test_groups))
    valid = np.flatnonzero(np.isin(groups, val_groups))
    train = np.flatnonzero(~np.isin(groups, np.concatenate([test_groups, val_groups])))
    return train, valid, test


def _validate_on_units(protocol: str, units: np.ndarray, groups: np.ndarray, test_groups: np.ndarray,
                       val_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test = the rows of `test_groups`; validation = whole units drawn from the other rows' units."""
    if units.shape != groups.shape:
        raise ValueError(f"val_groups has shape {units.shape}, expected one unit per row {groups.shape}.")
    in_test = np.isin(groups, test_groups)
    rest = np.flatnonzero(~in_test)
    shared = np.intersect1d(units[in_test], units[rest])
    if len(shared):
        raise ValueError(f"{protocol}: validation units {shared.tolist()[:5]} occur in both test and training "
                         "groups; val_groups must be nested in the groups.")
    candidates = rng.permutation(np.unique(units[rest]))
    n_val = max(1, int(round(val_fraction * len(candidates))))
    if n_val >= len(candidates):
        raise ValueError(f"{protocol}: too few validation units ({len(candidates)}) in the training groups to hold "
                         "out validation units and still train.")
    valid = np.isin(units[rest], candidates[:n_val])
    return rest[~valid], rest[valid], np.flatnonzero(in_test)


def _unit_kfold(units: np.ndarray, rows: np.ndarray, fold: int, num_folds: int, val_fraction: float,
                rng: np.random.Generator, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k-fold over the distinct `units` (row ids or trial ids) of `rows`: the shuffled units' fold `fold` tests,
    a `val_fraction` of the others validates; each unit's rows stay together."""
    if num_folds < 2:
        raise ValueError(f"{name} needs <num_folds={num_folds}> >= 2.")
    distinct = np.unique(units)
    if len(distinct) < num_folds or len(distinct) - -(-len(distinct) // num_folds) < 2:
        raise ValueError(f"{name}: {len(distinct)} trial(s)/row(s) cannot be split into <num_folds={num_folds}> "
                         "test folds with a training and a validation trial left besides each. Make sure num_folds "
                         "is smaller than the number of trials.")
    order = rng.permutation(distinct)
    test_units = order[fold::num_folds]
    rest = rng.permutation(np.setdiff1d(distinct, test_units))
    n_val = min(max(1, int(round(val_fraction * len(rest)))), len(rest) - 1)
    in_test, in_val = np.isin(units, test_units), np.isin(units, rest[:n_val])
    return np.sort(rows[~in_test & ~in_val]), np.sort(rows[in_val]), np.sort(rows[in_test])


def _need_groups(groups: np.ndarray | None, protocol: str) -> np.ndarray:
    if groups is None:
        raise ValueError(f"protocol {protocol!r} needs subject/session groups, but this dataset has none.")
    return groups
