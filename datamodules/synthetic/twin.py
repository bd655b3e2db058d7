"""`SyntheticTwin`: base of the synthetic datamodules, generated deterministically from a seed in seconds."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.synthetic import latent
from emobench.datamodules.synthetic.latent import StreamRecipe


class SyntheticTwin(EmotionDataModule):
    """A learnable twin of a real dataset (see `datamodules.synthetic.latent`).

    Subclasses set the class attributes: `task_spec`, `streams` (one StreamRecipe per modality, real full
    lengths and dims), `kinds` (modality kind per stream), `num_groups` (subjects / sessions / series),
    `chunks_per_trial` (rows sharing one latent state), `official_split` (train/valid/test shares of the groups, or
    None), `default_protocol`, and `label_rates` / `class_priors` for the label generator.

    Args:
        num_samples: rows to generate.
        seq_len: cap on every modality's time steps (None = the real dataset's full length).
        data_seed: seed of the generator (fixed by default, so training seeds see the same data).
        **kwargs: EmotionDataModule options (batch_size, fold, protocol, ...).
    """

    task_spec: ClassVar[TaskSpec]
    streams: ClassVar[tuple[StreamRecipe, ...]]
    kinds: ClassVar[tuple[str, ...]]
    num_groups: ClassVar[int]
    chunks_per_trial: ClassVar[int] = 1
    official_split: ClassVar[tuple[float, float, float] | None] = None
    label_rates: ClassVar[list[float]] = []
    class_priors: ClassVar[list[float]] = []
    default_num_samples: ClassVar[int] = 2000

    def __init__(self, num_samples: int | None = None, seq_len: int | None = 32, data_seed: int = 0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_samples = num_samples or self.default_num_samples
        self.seq_len = seq_len
        self.data_seed = data_seed

    def _length(self, recipe: StreamRecipe) -> int:
        return recipe.seq_len if self.seq_len is None else min(self.seq_len, recipe.seq_len)

    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        specs = tuple(ModalitySpec(r.name, r.dim, self._length(r), kind) for r, kind in zip(self.streams, self.kinds, strict=True))
        return self.task_spec, specs

    def read(self) -> DatasetArrays:
        rng = np.random.default_rng(self.data_seed)
        n = self.num_samples
        trials = -(-n // self.chunks_per_trial)
        groups = np.repeat(rng.permutation(np.arange(trials) % self.num_groups), self.chunks_per_trial)[:n]
        z = latent.latent_states(rng, n, self.chunks_per_trial)
        kind = self.task_spec.kind
        if kind == "multilabel":
            target = latent.multilabel_targets(rng, z, self.label_rates)
        elif kind == "distribution":
            target = latent.distribution_targets(rng, z, self.task_spec.num_labels)
        else:
            target = latent.multiclass_targets(rng, z, self.class_priors)
        inputs, masks = {}, {}
        for recipe, dims in zip(self.streams, latent.visible_dims(len(self.streams)), strict=True):
            capped = StreamRecipe(recipe.name, recipe.dim, self._length(recipe), recipe.pattern, recipe.noise,
                                  recipe.variable_length)
            inputs[recipe.name], masks[recipe.name] = latent.generate_stream(rng, capped, z[:, dims], groups,
                                                                             self.num_groups)
        split = None
        if self.official_split is not None:
            order = rng.permutation(self.num_groups)
            edges = np.cumsum(np.round(np.array(self.official_split) * self.num_groups)).astype(int)
            names = np.empty(self.num_groups, dtype=object)
            names[order[: edges[0]]], names[order[edges[0]: edges[1]]], names[order[edges[1]:]] = "train", "valid", "test"
            split = names[groups].astype(str)
        ids = np.array([f"{self.dataset_name}-{i:05d}" for i in range(n)])
        return DatasetArrays(inputs, masks, target, groups.astype(np.int64), split, ids)
