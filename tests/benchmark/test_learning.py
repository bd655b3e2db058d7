"""The twins are learnable the way real data is: fusing all modalities beats every single modality and the
label prior (one twin per task kind), measured on the test split after a short training."""

from __future__ import annotations

import pytest

from emobench.benchmark.config import from_cli, merge_cell
from emobench.benchmark.run_cell import run_cell
from emobench.datamodules import DATAMODULES

TWIN_PER_KIND = ["synthetic-mosei", "synthetic-deap", "synthetic-iemocap"]


def score(dataset: str, model: str, tmp_path, include: str | None = None) -> tuple[float, bool]:
    overrides = [f"model={model}", f"dataset={dataset}", f"output={tmp_path}", "wandb.mode=disabled",
                 "trainer.max_epochs=25", "trainer.patience=5", "trainer.progress_bar=false",
                 "data_args.num_samples=1500", "data_args.seq_len=8", "model_args.lr=3e-3"]
    if include:
        overrides.append(f"data_args.include=[{include}]")
    record = run_cell(merge_cell(from_cli(overrides)))
    return record["metrics"][f"test/{record['primary']['name']}"], record["primary"]["higher_is_better"]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", TWIN_PER_KIND)
def test_fusion_beats_single_modalities_and_prior(dataset, tmp_path):
    fused, higher = score(dataset, "early_fusion", tmp_path)
    better = (lambda a, b: a > b) if higher else (lambda a, b: a < b)
    prior, _ = score(dataset, "prior", tmp_path)
    assert better(fused, prior), f"fusion {fused:.4f} vs prior {prior:.4f}"
    for spec in DATAMODULES.get(dataset)().modalities:
        single, _ = score(dataset, "early_fusion", tmp_path, include=spec.name)
        assert better(fused, single), f"fusion {fused:.4f} vs {spec.name} alone {single:.4f}"
        assert better(single, prior), f"{spec.name} alone {single:.4f} vs prior {prior:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tailor", "carat", "mult"])
def test_published_methods_beat_the_prior_on_the_mosei_twin(model, tmp_path):
    trained, _ = score("synthetic-mosei", model, tmp_path)
    prior, _ = score("synthetic-mosei", "prior", tmp_path)
    assert trained > prior + 0.02, f"{model} micro-F1 {trained:.4f} vs prior {prior:.4f}"
