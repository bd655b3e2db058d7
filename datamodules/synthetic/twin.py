"""`SyntheticTwin`: base of the synthetic datamodules, generated deterministically from `data_seed` in seconds."""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import ClassVar

import numpy as np

from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.synthetic import labels as label_lib
from emobench.datamodules.synthetic import latent, memo
from emobench.datamodules.synthetic.phenomena import Phenomena
from emobench.datamodules.synthetic.streams import StreamRecipe, event_times, generate_stream

#: Shift of a trial's latent state along its class direction when the layout fixes the classes (WESAD conditions).
CLASS_SEPARATION = 2.0
#: Class attributes that shape a twin (part of its generation key).
_DECLARED = ("dataset_name", "num_groups", "group_ids", "chunks_per_trial", "row_jitter", "official_split",
             "label_rates", "relations", "prototypes", "class_priors")


class SyntheticTwin(EmotionDataModule):
    """A learnable twin of a real dataset (`datamodules.synthetic`: latent, streams, labels, phenomena).

    Subclasses set `task_spec`, `streams` (one StreamRecipe per modality at the real full length and dim; or
    override `recipes()`), `num_groups` (subjects / sessions / series; `group_ids` names them), `chunks_per_trial`
    (rows sharing one latent state), `official_split` (train/valid/test shares of the groups, or None),
    `default_protocol`, `label_rates` / `relations` (multi-label), `prototypes` (distribution), `class_priors`
    (multiclass), and `default_phenomena()` (the levels chosen for the dataset).

    Args:
        num_samples: rows to generate.
        seq_len: steps of the longest modality (None = the real full lengths); the others keep their real ratio to
            it, but no fewer than min(real length, max(4, seq_len // 4)) steps.
        data_seed: seed of the generator (fixed by default, so training seeds see the same data).
        locality, events, interaction, lag, label_structure, label_coupling, drop_rate, noise, subject_shift:
            phenomenon strengths (`datamodules.synthetic.phenomena`); None = the twin's default level, 0 = off.
        **kwargs: EmotionDataModule options (batch_size, fold, protocol, ...).
    """

    task_spec: ClassVar[TaskSpec]
    streams: ClassVar[tuple[StreamRecipe, ...]]
    num_groups: ClassVar[int]
    group_ids: ClassVar[tuple[int, ...] | None] = None
    chunks_per_trial: ClassVar[int] = 1
    row_jitter: ClassVar[float] = 0.1
    official_split: ClassVar[tuple[float, float, float] | None] = None
    label_rates: ClassVar[tuple[float, ...]] = ()
    relations: ClassVar[tuple[tuple[str, str, int], ...]] = ()
    prototypes: ClassVar[dict[str, tuple[float, float]]] = {}
    class_priors: ClassVar[tuple[float, ...]] = ()
    default_num_samples: ClassVar[int] = 2000

    def __init__(self, num_samples: int | None = None, seq_len: int | None = 32, data_seed: int = 0,
                 locality: float | None = None, events: int | None = None, interaction: float | None = None,
                 lag: float | None = None, label_structure: float | None = None, label_coupling: float | None = None,
                 drop_rate: float | None = None, noise: float | None = None, subject_shift: float | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_samples = num_samples or self.default_num_samples
        self.seq_len = seq_len
        self.data_seed = data_seed
        self.phenomena = self.default_phenomena().updated(
            locality=locality, events=events, interaction=interaction, lag=lag, label_structure=label_structure,
            label_coupling=label_coupling, drop_rate=drop_rate, noise=noise, subject_shift=subject_shift)

    # ---- what a twin declares -------------------------------------------------------------------------------
    def default_phenomena(self) -> Phenomena:
        """The levels chosen for this dataset (subclasses cite what they are based on)."""
        return Phenomena()

    def recipes(self) -> tuple[StreamRecipe, ...]:
        return self.streams

    def layout(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(group of each row, trial of each row, class of each trial or None): `chunks_per_trial` consecutive rows
        per trial, trials spread evenly over the groups in random order; classes come from the latents."""
        trials = -(-n // self.chunks_per_trial)
        trial_group = rng.permutation(np.arange(trials) % self.num_groups)
        trial_of_row = np.repeat(np.arange(trials), self.chunks_per_trial)[:n]
        return trial_group[trial_of_row], trial_of_row, None

    # ---- derived --------------------------------------------------------------------------------------------
    def lengths(self) -> dict[str, int]:
        """Steps of each modality under the `seq_len` option (see the class docstring)."""
        recipes = self.recipes()
        if self.seq_len is None:
            return {r.name: r.seq_len for r in recipes}
        scale = min(1.0, self.seq_len / max(r.seq_len for r in recipes))
        floor = max(4, self.seq_len // 4)
        return {r.name: max(min(r.seq_len, floor), round(r.seq_len * scale)) for r in recipes}

    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        lengths = self.lengths()
        return self.task_spec, tuple(r.spec(lengths[r.name]) for r in self.recipes())

    def read(self) -> DatasetArrays:
        """The generated arrays, read-only and shared with every twin of equal arguments in this process
        (`datamodules.synthetic.memo`)."""
        return memo.generated(self.generation_key(), self.generate)

    def generation_key(self) -> Hashable:
        """Everything `generate()` depends on: the class, its options and declared attributes, and the resolved
        size, lengths, seed and phenomena (the module constants are constants)."""
        declared = tuple((name, repr(getattr(self, name))) for name in _DECLARED)
        options = json.dumps(self.options(), sort_keys=True, default=repr)
        return (type(self), options, declared, self.num_samples, self.seq_len, self.data_seed, self.phenomena,
                self.recipes(), tuple(sorted(self.lengths().items())), self.task_spec)

    def generate(self) -> DatasetArrays:
        """Generate the twin from `data_seed` (what `read()` keeps)."""
        rng = np.random.default_rng(self.data_seed)
        ph, n, task = self.phenomena, self.num_samples, self.task_spec
        recipes = self.recipes()
        groups, trial_of_row, trial_classes = self.layout(rng, n)
        trials = int(trial_of_row.max()) + 1
        model = label_lib.LabelModel(rng, task.num_labels, len(recipes) - 1)
        trial_z, trial_pairs = self._trial_latents(rng, model, trials, len(recipes) - 1, trial_classes)
        target = self._targets(rng, model, trial_z, trial_pairs, trial_classes)[trial_of_row]
        lat = latent.expand_rows(rng, trial_z, trial_pairs, trial_of_row, self.row_jitter)
        times = event_times(rng, n, ph)
        lengths = self.lengths()
        inputs, masks = {}, {}
        for recipe, dims, slots in zip(recipes, latent.visible_dims(len(recipes)), latent.pair_slots(len(recipes)),
                                       strict=True):
            pairs = np.stack([lat.pairs[:, p, side] for p, side in slots], axis=1) if slots else np.zeros((n, 0))
            inputs[recipe.name], masks[recipe.name], _ = generate_stream(
                rng, recipe, lengths[recipe.name], lat.z[:, dims], pairs, times, ph, groups, self.num_groups)
        split = self._official_split(rng, groups)
        ids = np.array([f"{self.dataset_name}-{i:05d}" for i in range(n)])
        names = np.asarray(self.group_ids if self.group_ids is not None else np.arange(self.num_groups))
        return DatasetArrays(inputs, masks, target, names[groups].astype(np.int64), split, ids)

    # ---- internals ------------------------------------------------------------------------------------------
    def _trial_latents(self, rng: np.random.Generator, model: label_lib.LabelModel, trials: int, num_pairs: int,
                       classes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Trial states; with `classes` given (conditions fixed by the protocol), each trial's state is shifted by
        CLASS_SEPARATION along its class's read-out direction, as a condition moves every subject the same way."""
        z, pairs = latent.draw_trials(rng, trials, num_pairs)
        if classes is None:
            return z, pairs
        if self.task_spec.kind != "multiclass":
            model = label_lib.LabelModel(rng, len(self.class_priors), num_pairs)
        return z + CLASS_SEPARATION * model.own[:, classes].T, pairs

    def _targets(self, rng: np.random.Generator, model: label_lib.LabelModel, trial_z: np.ndarray,
                 trial_pairs: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
        ph, task = self.phenomena, self.task_spec
        scores = model.scores(trial_z, trial_pairs[..., 0] * trial_pairs[..., 1], ph.interaction)
        if task.kind == "multiclass":
            return classes if classes is not None else label_lib.multiclass_targets(rng, scores, self.class_priors)
        if task.kind == "multilabel":
            index = {label: i for i, label in enumerate(task.labels)}
            relations = [(index[c], index[p], sign) for c, p, sign in self.relations]
            return label_lib.multilabel_targets(rng, scores, self.label_rates, relations, ph.label_structure,
                                                ph.label_coupling)
        prototypes = None
        if self.prototypes:
            table = np.array([self.prototypes[label] for label in task.labels], dtype=np.float64)
            prototypes = model.prototype_scores(trial_z, table)
        return label_lib.distribution_targets(rng, scores, prototypes, ph.label_structure)

    def _official_split(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray | None:
        if self.official_split is None:
            return None
        order = rng.permutation(self.num_groups)
        edges = np.cumsum(np.round(np.array(self.official_split) * self.num_groups)).astype(int)
        names = np.empty(self.num_groups, dtype=object)
        names[order[: edges[0]]], names[order[edges[0]: edges[1]]], names[order[edges[1]:]] = "train", "valid", "test"
        return names[groups].astype(str)
