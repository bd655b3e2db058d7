"""Contract checks of a dataset (an `EmotionDataModule` subclass): `describe()` agrees with `read()`, targets fit
the task kind, masks are boolean with zero padding, inputs are finite, every fold of the protocol keeps its
train / valid / test rows apart (and, for group protocols, its test groups; where rows are segments of trials, its
test trials), label statistics come from the training split, and the loaders yield batches that match the
ModalitySpecs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from emobench.benchmark.contract import CheckResult, Report, error_text
from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.folds import GROUP_PROTOCOLS
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.statistics import label_statistics

DATA_CHECKS = ("builds", "describe() agrees with read()", "targets fit the task", "masks boolean, padding zero",
               "inputs finite", "folds disjoint", "label statistics from train split", "loader batches match specs")
SPLITS = ("train", "valid", "test")
CHUNK_VALUES = 1 << 24  # values per chunk when scanning (possibly memory-mapped) inputs


def check_dataset(data_cls: type[EmotionDataModule], data_args: dict[str, Any] | None = None) -> list[CheckResult]:
    """Every dataset check with `data_args` (constructor options; `fold` is set by the fold check)."""
    args = {k: v for k, v in (data_args or {}).items() if k != "fold"}
    report = Report(DATA_CHECKS)
    try:
        datamodule = data_cls(**args)
        task, specs = datamodule.describe()
    except Exception as err:  # noqa: BLE001 - a user's error becomes a failed check
        report.add("builds", False, error_text(err))
        return report.skip_rest("the datamodule does not build")
    mods = ", ".join(f"{m.name} {m.kind} {m.dim}x{m.seq_len}" for m in specs)
    report.add("builds", True, f"{task.kind}, {task.num_labels} labels; {mods}; protocol {datamodule.protocol}")
    try:
        arrays = datamodule.read()
    except Exception as err:  # noqa: BLE001
        report.add("describe() agrees with read()", False, f"read() failed: {error_text(err)}")
        return report.skip_rest("read() failed")
    source = f"dataset {datamodule.dataset_name or data_cls.__name__!r}"
    problem = _agreement_problem(arrays, task, specs, source)
    if not report.add("describe() agrees with read()", problem is None,
                      problem or f"{len(arrays)} samples; shapes and dtypes as declared"):
        return report.skip_rest("read() disagrees with describe()")
    report.add("targets fit the task", *_target_problems(arrays.target, task))
    report.add("masks boolean, padding zero", *_mask_problems(arrays, specs))
    report.add("inputs finite", *_finite_problems(arrays, specs))
    del arrays
    _check_folds(report, data_cls, args, task)
    return report.results


def _agreement_problem(arrays: Any, task: TaskSpec, specs: tuple[ModalitySpec, ...], source: str) -> str | None:
    if not isinstance(arrays, DatasetArrays):
        return f"read() returned {type(arrays).__name__}; expected DatasetArrays."
    try:
        arrays.check(task, specs, source)
    except ValueError as err:
        return str(err)
    for spec in specs:
        dtype = arrays.inputs[spec.name].dtype
        if not np.issubdtype(dtype, np.floating):
            return f"{source}: modality {spec.name!r} has dtype {dtype}; expected float32. Make sure read() casts it."
    if task.kind != "multiclass" and not np.issubdtype(arrays.target.dtype, np.number):
        return f"{source}: {task.kind} target has dtype {arrays.target.dtype}; expected float32."
    return None


def _target_problems(target: np.ndarray, task: TaskSpec) -> tuple[bool, str]:
    y = np.asarray(target)
    if task.kind == "multiclass":
        counts = np.bincount(y, minlength=task.num_labels)
        return True, "class counts " + ", ".join(f"{n} {c}" for n, c in zip(task.labels, counts, strict=True))
    if not np.isfinite(y).all():
        return False, f"{task.kind} target has NaN or inf values. Make sure missing labels are dropped or filled."
    if task.kind == "multilabel":
        bad = np.setdiff1d(np.unique(y), [0, 1])
        if bad.size:
            return False, f"multilabel target must be 0/1, found values {bad[:5].tolist()}. Make sure read() binarises."
        rates = y.mean(axis=0)
        return True, "label rates " + ", ".join(f"{n} {r:.2f}" for n, r in zip(task.labels, rates, strict=True))
    sums = y.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1))) if len(y) else 0
    if (y < 0).any() or (len(y) and abs(sums[worst] - 1) > 1e-3):
        return False, (f"distribution rows must be non-negative and sum to 1; row {worst} sums to {sums[worst]:.4f}, "
                       f"minimum value {y.min():.4f}. Make sure read() normalises each row.")
    return True, f"rows non-negative and sum to 1 (largest deviation {abs(sums[worst] - 1) if len(y) else 0:.1e})"


def _row_chunks(x: np.ndarray) -> Iterator[slice]:
    step = max(1, CHUNK_VALUES // max(1, int(np.prod(x.shape[1:]))))
    for start in range(0, len(x), step):
        yield slice(start, start + step)


def _mask_problems(arrays: DatasetArrays, specs: tuple[ModalitySpec, ...]) -> tuple[bool, str]:
    notes, problems = [], []
    for spec in specs:
        x, mask = arrays.inputs[spec.name], arrays.masks[spec.name]
        if mask.dtype != np.bool_:
            problems.append(f"mask of {spec.name!r} has dtype {mask.dtype}; expected bool")
            continue
        nonzero = sum(int(np.count_nonzero(x[rows][~mask[rows]])) for rows in _row_chunks(x))
        if nonzero:
            problems.append(f"{spec.name!r} has {nonzero} non-zero values in padded steps (mask False)")
        empty = int((~mask.any(axis=1)).sum())
        notes.append(f"{spec.name} {1 - mask.mean():.0%} padded" + (f", {empty} samples without a real step"
                                                                   if empty else ""))
    if problems:
        return False, "; ".join(problems) + ". Make sure masks are bool (True = real step) and padding is zero."
    return True, "; ".join(notes)


def _finite_problems(arrays: DatasetArrays, specs: tuple[ModalitySpec, ...]) -> tuple[bool, str]:
    bad = []
    for spec in specs:
        x = arrays.inputs[spec.name]
        count = sum(int(np.count_nonzero(~np.isfinite(x[rows]))) for rows in _row_chunks(x))
        if count:
            bad.append(f"{spec.name!r} has {count} NaN/inf values")
    if bad:
        return False, "; ".join(bad) + ". Make sure read() replaces missing features (and masks them)."
    return True, f"{len(specs)} modalities"


def _check_folds(report: Report, data_cls: type[EmotionDataModule], args: dict[str, Any], task: TaskSpec) -> None:
    """One datamodule per fold: disjoint splits, held-out groups, train-only label statistics; loaders of fold 0."""
    fold_problems: list[str] = []
    stats_problems: list[str] = []
    tested: dict[int, int] = {}  # row -> first fold testing it
    first: EmotionDataModule | None = None
    first_rows: dict[str, np.ndarray] = {}
    try:
        probe = data_cls(fold=0, **args)
        protocol, num_folds = probe.protocol, probe.num_folds
    except Exception as err:  # noqa: BLE001
        report.add("folds disjoint", False, f"fold 0: {error_text(err)}")
        report.skip_rest("the folds could not be built")
        return
    for fold in range(num_folds):
        try:
            # splits do not depend on normalisation; skipping it saves a pass over each fold's training rows
            datamodule = probe if fold == 0 else data_cls(fold=fold, **{**args, "normalize": False})
            rows = datamodule.split_rows()
        except Exception as err:  # noqa: BLE001
            fold_problems.append(f"fold {fold}: {error_text(err)}")
            continue
        if fold == 0:
            first, first_rows = datamodule, rows
        fold_problems += _split_problems(fold, rows, datamodule.arrays, protocol, tested)
        stats_problems += _statistics_problems(fold, datamodule, rows, task)
    sizes = "/".join(str(len(first_rows.get(s, ()))) for s in SPLITS)
    held_out = "; test groups unseen in train and valid" if protocol in GROUP_PROTOCOLS else ""
    report.add("folds disjoint", not fold_problems,
               "; ".join(fold_problems[:6]) + ". Make sure each fold keeps its train, valid and test rows (and, for "
               "group protocols, its test groups) apart." if fold_problems else
               f"protocol {protocol}, {num_folds} fold(s); train/valid/test rows disjoint{held_out}; "
               f"fold 0 sizes {sizes}")
    report.add("label statistics from train split", not stats_problems,
               "; ".join(stats_problems[:4]) + ". Make sure label_statistics() uses the training split only."
               if stats_problems else
               f"every fold's statistics are those of its training rows ({len(first_rows.get('train', ()))} "
               "in fold 0)")
    if first is None:
        report.add("loader batches match specs", None, "not reached: fold 0 could not be set up")
        return
    report.add("loader batches match specs", *_loader_problems(first, first_rows, task))


def _split_problems(fold: int, rows: dict[str, np.ndarray], arrays: DatasetArrays, protocol: str,
                    tested: dict[int, int]) -> list[str]:
    problems = []
    n = len(arrays)
    for split in SPLITS:
        r = rows[split]
        if len(r) and (r.min() < 0 or r.max() >= n):
            problems.append(f"fold {fold}: {split} rows outside [0, {n})")
        if len(np.unique(r)) != len(r):
            problems.append(f"fold {fold}: {split} lists a row twice")
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            both = np.intersect1d(rows[a], rows[b])
            if both.size:
                problems.append(f"fold {fold}: {both.size} rows in both {a} and {b} (e.g. row {both[0]})")
    if protocol in GROUP_PROTOCOLS and arrays.groups is not None:
        test_groups = set(np.unique(arrays.groups[rows["test"]]).tolist())
        for split in ("train", "valid"):
            leaked = sorted(test_groups & set(np.unique(arrays.groups[rows[split]]).tolist()))
            if leaked:
                problems.append(f"fold {fold}: test group(s) {leaked[:5]} also in {split}")
    if arrays.trials is not None:
        test_trials = set(np.unique(arrays.trials[rows["test"]]).tolist())
        for split in ("train", "valid"):
            leaked = sorted(test_trials & set(np.unique(arrays.trials[rows[split]]).tolist()))
            if leaked:
                problems.append(f"fold {fold}: test trial(s) {leaked[:5]} also in {split}")
    if protocol != "official":
        again = [row for row in rows["test"].tolist() if row in tested]
        if again:
            problems.append(f"fold {fold}: {len(again)} test rows already tested in fold {tested[again[0]]} "
                            f"(e.g. row {again[0]})")
        tested.update((row, fold) for row in rows["test"].tolist() if row not in tested)
    return problems


def _statistics_problems(fold: int, datamodule: EmotionDataModule, rows: dict[str, np.ndarray],
                         task: TaskSpec) -> list[str]:
    try:
        stats = datamodule.label_statistics()
    except Exception as err:  # noqa: BLE001
        return [f"fold {fold}: {error_text(err)}"]
    expected = label_statistics(np.asarray(datamodule.arrays.target)[rows["train"]], task.num_labels)
    same = (stats.num_samples == expected.num_samples
            and np.allclose(stats.frequency, expected.frequency, atol=1e-6)
            and np.allclose(stats.cooccurrence, expected.cooccurrence, atol=1e-6))
    if same:
        return []
    return [f"fold {fold}: label_statistics() has num_samples {stats.num_samples} and label frequencies "
            f"{_rounded(stats.frequency)}, but the {len(rows['train'])} train rows give {_rounded(expected.frequency)}"]


def _rounded(values: np.ndarray) -> list[float]:
    return np.round(np.asarray(values, dtype=np.float64), 3).tolist()


def _loader_problems(datamodule: EmotionDataModule, rows: dict[str, np.ndarray], task: TaskSpec) -> tuple[bool, str]:
    loaders: dict[str, Callable[[], Any]] = {"train": datamodule.train_dataloader,
                                             "valid": datamodule.val_dataloader, "test": datamodule.test_dataloader}
    problems, sizes = [], []
    for split, make in loaders.items():
        try:
            batch = next(iter(make()))
        except Exception as err:  # noqa: BLE001
            problems.append(f"{split}: {error_text(err)}")
            continue
        found = _batch_problems(batch, datamodule.modalities, task, rows[split])
        problems += [f"{split}: {p}" for p in found]
        sizes.append(f"{split} {len(batch) if isinstance(batch, EmotionBatch) else '?'}")
    if problems:
        return False, "; ".join(problems[:6]) + ". Make sure batches come from the base class's collation."
    return True, f"first batch sizes: {', '.join(sizes)}"


def _batch_problems(batch: Any, specs: tuple[ModalitySpec, ...], task: TaskSpec, rows: np.ndarray) -> list[str]:
    if not isinstance(batch, EmotionBatch):
        return [f"the loader yields {type(batch).__name__}; expected EmotionBatch"]
    b, problems = len(batch), []
    if sorted(batch.inputs) != sorted(s.name for s in specs) or sorted(batch.masks) != sorted(batch.inputs):
        problems.append(f"modalities {sorted(batch.inputs)} / masks {sorted(batch.masks)}, "
                        f"expected {sorted(s.name for s in specs)}")
        return problems
    for spec in specs:
        x, m = batch.inputs[spec.name], batch.masks[spec.name]
        if tuple(x.shape) != (b, spec.seq_len, spec.dim) or x.dtype != torch.float32:
            problems.append(f"{spec.name!r} is {tuple(x.shape)} {x.dtype}, expected {(b, spec.seq_len, spec.dim)} "
                            "torch.float32")
        elif tuple(m.shape) != (b, spec.seq_len) or m.dtype != torch.bool:
            problems.append(f"mask of {spec.name!r} is {tuple(m.shape)} {m.dtype}, expected {(b, spec.seq_len)} "
                            "torch.bool")
        elif (x[~m] != 0).any():
            problems.append(f"{spec.name!r} has non-zero padded steps")
    want = ((b,), torch.int64) if task.kind == "multiclass" else ((b, task.num_labels), torch.float32)
    if (tuple(batch.target.shape), batch.target.dtype) != want:
        problems.append(f"target is {tuple(batch.target.shape)} {batch.target.dtype}, expected {want[0]} {want[1]}")
    if batch.index is not None and not np.isin(batch.index.numpy(), rows).all():
        problems.append("the batch holds rows of another split")
    return problems
