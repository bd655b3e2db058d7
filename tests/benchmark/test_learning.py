"""The twins are learnable the way real data is: fusing all modalities beats every single modality and the
label prior (one twin per task kind), and the published methods beat the prior, measured on the test split
after a short training.

Fusion is compared with each single modality and with the prior on the primary metric. The best single modality
is compared with the prior on the test task loss (BCE / KL / cross-entropy, a proper scoring rule), not on the
primary metric: on the MOSEI twin a single-modality model scores a lower micro-F1 at the 0.5 threshold than the
prior, which predicts "happy" (54 % of samples) for everyone. Not every modality alone beats the prior, as in the
real data (the MOSEI twin's audio and visual streams are noisy, as COVAREP and Facet features are).
"""

from __future__ import annotations

import pytest

from emobench.benchmark.config import from_cli, merge_cell
from emobench.benchmark.run_cell import run_cell
from emobench.datamodules import DATAMODULES

TWIN_PER_KIND = ["synthetic-mosei", "synthetic-deap", "synthetic-iemocap"]
#: A flat start (the prior's micro-F1 for a few epochs) must not end a run: at least this many epochs.
MIN_EPOCHS = 10


def score(dataset: str, model: str, tmp_path, include: str | None = None, lr: float | None = None,
          extra: tuple[str, ...] = ()) -> tuple[float, float, bool]:
    """(test primary metric, test task loss, primary higher is better) after a short training on one torch
    thread (the numbers then do not depend on the machine's core count); `extra` overrides come last."""
    overrides = [f"model={model}", f"dataset={dataset}", f"output={tmp_path}", "wandb.mode=disabled",
                 "trainer.max_epochs=25", f"trainer.min_epochs={MIN_EPOCHS}", "trainer.patience=5",
                 "trainer.num_threads=1", "trainer.progress_bar=false", "data_args.num_samples=1500",
                 "data_args.seq_len=8"]
    if lr is not None:
        overrides.append(f"model_args.lr={lr}")
    if include:
        overrides.append(f"data_args.include=[{include}]")
    overrides += extra
    record = run_cell(merge_cell(from_cli(overrides)))
    metrics = record["metrics"]
    return metrics[f"test/{record['primary']['name']}"], metrics["test/task_loss"], record["primary"]["higher_is_better"]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", TWIN_PER_KIND)
def test_fusion_beats_single_modalities_and_prior(dataset, tmp_path):
    fused, _, higher = score(dataset, "early_fusion", tmp_path, lr=3e-3)
    better = (lambda a, b: a > b) if higher else (lambda a, b: a < b)
    prior, prior_loss, _ = score(dataset, "prior", tmp_path)
    assert better(fused, prior), f"fusion {fused:.4f} vs prior {prior:.4f}"
    single_losses = {}
    for spec in DATAMODULES.get(dataset)().modalities:
        single, single_losses[spec.name], _ = score(dataset, "early_fusion", tmp_path, include=spec.name, lr=3e-3)
        assert better(fused, single), f"fusion {fused:.4f} vs {spec.name} alone {single:.4f}"
    assert min(single_losses.values()) < prior_loss, f"single modalities' test losses {single_losses} vs prior {prior_loss:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tailor", "carat", "mult"])
def test_published_methods_beat_the_prior_on_the_mosei_twin(model, tmp_path):
    """At the compact sizes and learning rates of experiments/models/*.yaml."""
    trained, _, _ = score("synthetic-mosei", model, tmp_path)
    prior, _, _ = score("synthetic-mosei", "prior", tmp_path)
    assert trained > prior + 0.02, f"{model} micro-F1 {trained:.4f} vs prior {prior:.4f}"
