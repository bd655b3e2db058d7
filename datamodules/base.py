"""`EmotionDataModule`: the base every dataset subclasses. Subclasses read files into `DatasetArrays`; the base owns
the cache, fold splits, normalisation (fit on the training fold), masks, batching and label statistics."""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Sampler

from emobench.datamodules import cache as cache_lib
from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.folds import count_folds, split_indices
from emobench.datamodules.registry import Registry
from emobench.datamodules.sampling import class_balanced_sampler
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.statistics import LabelStatistics, label_statistics
from emobench.datamodules.validate import check_nonfinite_policy, nonfinite_features

log = logging.getLogger(__name__)
DATAMODULES = Registry("dataset")

# Options that do not change the arrays a reader returns, so they stay out of the cache key.
_LOADER_OPTIONS = {"batch_size", "fold", "protocol", "num_folds", "val_fraction", "split_seed", "normalize",
                   "drop_last", "include", "cache_dir", "num_workers", "root", "class_balanced"}
#: Largest float32 copy of all modalities (bytes) that `setup` z-scores once and keeps in memory, so batches only
#: index it; larger inputs (CMU-MOSEI unaligned is tens of GB) stay memory-mapped and are z-scored per batch.
PRECOMPUTE_LIMIT = 256 * 2**20


class EmotionDataModule(L.LightningDataModule):
    """Base datamodule. Subclass with `class MyData(EmotionDataModule, name="my-data")` and implement
    `describe()` (task and modalities from the options, without reading files) and `read()` (files -> arrays).
    Override `source_files()` to enable the cache (its key hashes those files' sizes/mtimes and the options).

    Args:
        root: dataset folder (readers of real data only).
        batch_size: mini-batch size.
        fold: which fold of the protocol to run.
        protocol: official | kfold | group-kfold | loso | subject-dependent (`datamodules.folds`); None = the
            dataset's `default_protocol`.
        num_folds: folds for kfold / group-kfold, and per subject for subject-dependent.
        val_fraction: share of training rows (kfold) or groups (group protocols) held out for validation.
        split_seed: seed of the fold assignment; fixed across training seeds so seeds share folds.
        include: use only these modalities (None = all).
        normalize: z-score each feature with training-fold statistics over real steps; "subject": with each
            subject's (group's) own statistics over all its rows, labels unused (subject-wise normalisation of
            cross-subject EEG: removes per-subject offsets and gains); False: raw; None = the dataset's
            `default_normalize` (real features as the official pipelines feed them; twins and computed
            physiological features z-scored). A feature constant on the training fold keeps scale 1.
        drop_last: drop the last partial training batch (as TAILOR's and CARAT's training loaders do).
        cache_dir: where decoded arrays are cached (default $EMOBENCH_CACHE_DIR or ~/.cache/emobench).
        num_workers: DataLoader workers (0 is fastest for in-memory tensors).
        nonfinite: what to do with NaN, inf and |x| > 1e18 in the features, checked once when the files are read:
            "error" (default) raises, naming the file, modality and counts per split; "zero" replaces them by 0
            with a warning giving the counts (`datamodules.validate`). Part of the cache key. A reader may
            document a narrower exception (CMU-MOSEI audio -inf, set to 0 as by the official loaders).
        class_balanced: draw training batches with the class-balanced sampler (`datamodules/sampling.py`: each
            emotion class equally often on average, with replacement, as Foal-Net trains) instead of shuffling.
    """

    default_protocol: ClassVar[str] = "official"
    default_normalize: ClassVar[bool] = True
    reader_version: ClassVar[int] = 1
    dataset_name: ClassVar[str] = ""

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            cls.dataset_name = name
            DATAMODULES.add(name, cls)

    def __init__(
        self,
        root: str | None = None,
        batch_size: int = 64,
        fold: int = 0,
        protocol: str | None = None,
        num_folds: int = 5,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        include: list[str] | None = None,
        normalize: bool | str | None = None,
        cache_dir: str | None = None,
        num_workers: int = 0,
        drop_last: bool = False,
        nonfinite: str = "error",
        class_balanced: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # also collects the subclass's own __init__ arguments
        self.root = Path(root).expanduser() if root else None
        self.batch_size = batch_size
        self.fold = fold
        self.protocol = protocol or self.default_protocol
        self._num_folds = num_folds
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.include = list(include) if include else None
        self.normalize = self.default_normalize if normalize is None else normalize
        if self.normalize not in (True, False, "subject"):
            raise ValueError(f"<normalize={self.normalize!r}> must be true, false or 'subject'.")
        self.drop_last = drop_last
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else cache_lib.default_cache_dir()
        self.num_workers = num_workers
        self.nonfinite = check_nonfinite_policy(nonfinite)
        self.class_balanced = class_balanced
        self._arrays: DatasetArrays | None = None
        self._tensors: dict[str, Any] | None = None
        self._splits: dict[str, np.ndarray] = {}
        self._cache_folder: Path | None = None
        self._setup_fold: int | None = None

    # ---- to implement in subclasses -------------------------------------------------------------------------
    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        """Task and all modalities, derived from the options alone."""
        raise NotImplementedError

    def read(self) -> DatasetArrays:
        """Read the dataset's files into arrays (called once; the result is cached)."""
        raise NotImplementedError

    def source_files(self) -> list[Path]:
        """Files whose size/mtime key the cache; [] disables caching (e.g. generated data)."""
        return []

    def validation_groups(self) -> np.ndarray | None:
        """(N,) units nested in `arrays.groups` from which group protocols draw validation (e.g. speakers within
        sessions), or None to validate on whole groups (default)."""
        return None

    def options(self) -> dict[str, Any]:
        """Options that change what `read()` returns (part of the cache key)."""
        return {k: v for k, v in self.hparams.items() if k not in _LOADER_OPTIONS}

    # ---- public contract ------------------------------------------------------------------------------------
    @property
    def task(self) -> TaskSpec:
        return self.describe()[0]

    @property
    def modalities(self) -> tuple[ModalitySpec, ...]:
        specs = self.describe()[1]
        if self.include is None:
            return specs
        unknown = set(self.include) - {s.name for s in specs}
        if unknown:
            raise ValueError(f"<include={self.include}>: unknown modalities {sorted(unknown)}; "
                             f"{self.dataset_name} has {[s.name for s in specs]}.")
        return tuple(s for s in specs if s.name in self.include)

    @property
    def num_folds(self) -> int:
        groups = self.arrays.groups if self.protocol in ("loso", "subject-dependent") else None
        return count_folds(self.protocol, self._num_folds, groups)

    @property
    def arrays(self) -> DatasetArrays:
        if self._arrays is None:
            self._arrays = self._load()
        return self._arrays

    def label_statistics(self) -> LabelStatistics:
        """Label statistics of the training fold only."""
        self.setup()
        return label_statistics(self.arrays.target[self._splits["train"]], self.task.num_labels)

    def setup(self, stage: str | None = None) -> None:
        if self._tensors is not None:
            if self._setup_fold != self.fold:
                raise RuntimeError(f"{self.dataset_name}: set up for fold {self._setup_fold}, now fold={self.fold}. "
                                   "Make a new datamodule per fold.")
            return
        self._setup_fold = self.fold
        arrays = self.arrays
        units = self.validation_groups() if self.protocol in ("loso", "group-kfold") else None
        train, valid, test = split_indices(self.protocol, self.fold, self._num_folds, self.val_fraction,
                                           self.split_seed, arrays.split, arrays.groups, len(arrays),
                                           trials=arrays.trials, val_groups=units)
        for name, rows in (("train", train), ("valid", valid), ("test", test)):
            if len(rows) == 0:
                raise ValueError(f"{self.dataset_name}: the {name} split of fold {self.fold} "
                                 f"(protocol {self.protocol!r}) is empty. Make sure the data has {name} rows.")
        self._splits = {"train": train, "valid": valid, "test": test}
        names = [spec.name for spec in self.modalities]
        stats = ({} if not self.normalize else self._subject_stats(names) if self.normalize == "subject"
                 else self._normalisation_stats(names, train))
        target = torch.from_numpy(np.array(arrays.target))
        masks = {n: torch.from_numpy(np.array(arrays.masks[n], dtype=bool)) for n in names}
        stats_t = {n: (torch.from_numpy(mean), torch.from_numpy(std)) for n, (mean, std) in stats.items()}
        inputs = {n: arrays.inputs[n] for n in names}  # stays memory-mapped when cached
        prepared = sum(math.prod(x.shape) for x in inputs.values()) * 4 <= PRECOMPUTE_LIMIT
        if prepared:
            inputs = {n: _standardised(x, masks[n], stats_t.get(n)) for n, x in inputs.items()}
        self._tensors = {
            "inputs": inputs,
            "prepared": prepared,
            "masks": masks,
            "stats": stats_t,
            "target": target.long() if self.task.kind == "multiclass" else target.float(),
            "groups": torch.from_numpy(arrays.groups.astype(np.int64)) if arrays.groups is not None else None,
            "ids": [str(i) for i in arrays.ids] if arrays.ids is not None else None,
        }

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def split_rows(self) -> dict[str, np.ndarray]:
        """Row indices into `arrays` of this fold's train / valid / test splits (copies)."""
        self.setup()
        return {k: v.copy() for k, v in self._splits.items()}

    def split_sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.split_rows().items()}

    # ---- internals ------------------------------------------------------------------------------------------
    def _load(self) -> DatasetArrays:
        task, specs = self.describe()
        files = self.source_files()
        source = f"dataset {self.dataset_name!r}"
        if not files:
            arrays = self._read_checked(task, specs, source, files)
        else:
            key = cache_lib.cache_key(type(self).__name__, self.reader_version, self.options(), files)
            folder = self.cache_dir / f"{self.dataset_name}-{key}"
            self._cache_folder = folder
            arrays = cache_lib.load_cached(folder)
            if arrays is None:
                arrays = self._read_checked(task, specs, source, files)
                cache_lib.save_cached(arrays, folder)
                arrays = cache_lib.load_cached(folder)
            else:
                log.info("%s: using cached arrays in %s", self.dataset_name, folder)
        arrays.check(task, specs, source)
        return arrays

    def _read_checked(self, task: TaskSpec, specs: tuple[ModalitySpec, ...], source: str,
                      files: list[Path]) -> DatasetArrays:
        """`read()`, then shapes against the specs, then the features' values under `nonfinite` (readers check
        them where they know the file and split; this catches what a reader left, e.g. a new reader's)."""
        arrays = self.read()
        arrays.check(task, specs, source)
        where = f"{source} ({', '.join(f.name for f in files)})" if files else source
        for name, x in arrays.inputs.items():
            arrays.inputs[name] = nonfinite_features(x, policy=self.nonfinite, source=where, modality=name,
                                                     row_splits=arrays.split)
        return arrays

    def _normalisation_stats(self, names: list[str], train: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-feature mean/std over the training rows' real steps, per modality; saved next to the cached arrays
        (keyed by the fold's split) so that a second setup of the same fold does not pass over the data again."""
        fold_key = hashlib.sha256(np.ascontiguousarray(train).tobytes()).hexdigest()[:16]
        path = self._cache_folder / f"stats-{fold_key}.npz" if self._cache_folder else None
        if path is not None and path.is_file():
            saved = np.load(path)
            if all(f"{n}.mean" in saved for n in names):
                return {n: (saved[f"{n}.mean"], saved[f"{n}.std"]) for n in names}
        stats = {n: feature_stats(self.arrays.inputs[n], self.arrays.masks[n], train) for n in names}
        if path is not None:
            cache_lib.save_npz_atomic(path, {f"{n}.{k}": v for n, (mean, std) in stats.items()
                                             for k, v in (("mean", mean), ("std", std))})
        return stats

    def _subject_stats(self, names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per row, the mean/std (1, D) of its subject's real steps over all of that subject's rows."""
        groups = self.arrays.groups
        if groups is None:
            raise ValueError(f"{self.dataset_name}: normalize='subject' needs subject ids, and this dataset has none. "
                             "Make sure it is a dataset with subjects (groups), or use normalize=true.")
        stats = {}
        for n in names:
            x, mask = self.arrays.inputs[n], self.arrays.masks[n]
            mean = np.empty((len(groups), 1, x.shape[-1]), np.float32)
            std = np.empty_like(mean)
            for group in np.unique(groups):
                rows = np.flatnonzero(groups == group)
                mean[rows, 0], std[rows, 0] = feature_stats(x, mask, rows)
            stats[n] = (mean, std)
        return stats

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        rows = torch.from_numpy(self._splits[split])
        sampler = None if split == "train" else self._evaluation_sampler(rows, split)
        if shuffle and self.class_balanced:
            sampler, shuffle = class_balanced_sampler(self.task.kind, self._tensors["target"][rows]), False
        return DataLoader(rows, batch_size=self.batch_size, shuffle=shuffle, sampler=sampler,
                          collate_fn=self._collate, num_workers=self.num_workers,
                          drop_last=self.drop_last and split == "train")

    def _evaluation_sampler(self, rows: torch.Tensor, split: str) -> Sampler | None:
        """In a multi-process run (torch.distributed initialised, world size W > 1) rank r evaluates rows r, r + W,
        ... of the split, each row once. Lightning's default DistributedSampler pads a split that W does not divide
        with repeated rows, which the metrics would count twice; Lightning leaves a loader's own DistributedSampler
        (this one is) in place. Training keeps Lightning's seeded, shuffled, padded split: DDP needs the same
        number of steps on every rank there."""
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return None
        world = dist.get_world_size()
        if len(rows) < world:
            raise ValueError(f"{self.dataset_name}: the {split} split of fold {self.fold} has {len(rows)} rows, "
                             f"fewer than the {world} processes evaluating it (each needs at least one). Make sure "
                             "the split is larger, or evaluate with fewer devices.")
        return UnrepeatedDistributedSampler(rows, num_replicas=world, rank=dist.get_rank(), shuffle=False)

    def _collate(self, rows: list[torch.Tensor]) -> EmotionBatch:
        idx = torch.stack(rows)
        t = self._tensors
        rows_np = idx.numpy()
        inputs = {}
        for name, source in t["inputs"].items():
            if t["prepared"]:
                inputs[name] = source.index_select(0, idx)  # a copy, as x[idx], but several times faster
                continue
            x = torch.from_numpy(np.array(source[rows_np], dtype=np.float32))
            if name in t["stats"]:
                mean, std = t["stats"][name]
                if mean.ndim == 3:  # per-subject statistics: one (1, D) pair per row
                    mean, std = mean.index_select(0, idx), std.index_select(0, idx)
                x = ((x - mean) / std).masked_fill_(~t["masks"][name][idx].unsqueeze(-1), 0.0)
            inputs[name] = x
        return EmotionBatch(
            inputs=inputs,
            masks={m: x.index_select(0, idx) for m, x in t["masks"].items()},
            target=t["target"].index_select(0, idx),
            subject=t["groups"].index_select(0, idx) if t["groups"] is not None else None,
            index=idx,
            ids=[t["ids"][i] for i in idx.tolist()] if t["ids"] is not None else [],
        )


def _standardised(x: np.ndarray, mask: torch.Tensor,
                  stats: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    """All rows of `x` as `_collate` makes a batch of them (float32, then z-scored and zeroed at padded steps when
    `stats` are given), with the same float32 operations in the same order, so the values are bit-identical."""
    out = torch.from_numpy(np.array(x, dtype=np.float32))
    if stats is None:
        return out
    mean, std = stats
    return out.sub_(mean).div_(std).masked_fill_(~mask.unsqueeze(-1), 0.0)


def feature_stats(x: np.ndarray, mask: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 mean and std per feature over the real steps of `rows` of `x` (N, T, D). A feature whose std is below
    1e-6 (constant on the training fold) gets std 1, so z-scoring only centres it and never multiplies a test-time
    variation of it by a million."""
    train_x, train_m = np.asarray(x[rows], dtype=np.float32), np.asarray(mask[rows], dtype=bool)
    real = train_x.reshape(-1, x.shape[-1]) if train_m.all() else train_x[train_m]
    if not len(real):
        return np.zeros(x.shape[-1], np.float32), np.ones(x.shape[-1], np.float32)
    mean = real.mean(axis=0, dtype=np.float64)
    std = np.sqrt(np.square(real - mean.astype(np.float32)).mean(axis=0, dtype=np.float64))
    return mean.astype(np.float32), np.where(std < 1e-6, 1.0, std).astype(np.float32)
