"""Where a fit's framework overhead goes (`emobench perf report --breakdown`): the same model, data and number of
epochs fitted three ways, each from a fresh build at the same seed:
- loop: a plain Python loop over the datamodule's loaders (zero_grad, objective, backward, clipping, optimiser
  step; evaluation forward passes under no_grad): the model's work plus sampling, collation and the loop itself;
- bare: Lightning's Trainer with nothing of ours (no callbacks, loggers, metrics, progress bar or model summary)
  on a minimal LightningModule that calls the same objective and forward;
- the runner's fit (measured by `perf_report.measure_cell`): callbacks, metrics, logging on top.
With work = train steps x median step + validation batches x median evaluation step, the overhead
1 - work / fit splits into data and loop (loop - work), Lightning (bare - loop) and the runner's additions
(fit - bare), each as a share of the fit's wall time.
"""

from __future__ import annotations

import time

import lightning as L
import torch

from emobench.benchmark.perf_report import train_step
from emobench.datamodules.batch import EmotionBatch
from emobench.models.base import EmotionModel


class _Bare(L.LightningModule):
    """The model's objective and forward, with none of EmotionModel's metrics, logging or hooks."""

    def __init__(self, model: EmotionModel) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: EmotionBatch, batch_idx: int) -> torch.Tensor:
        return self.model.training_objective(batch)

    def validation_step(self, batch: EmotionBatch, batch_idx: int) -> None:
        self.model(batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.model.build_optimizer()

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        return self.model.transfer_batch_to_device(batch, device, dataloader_idx)


def bare_fit_seconds(datamodule: L.LightningDataModule, model: EmotionModel, epochs: int, clip: float,
                     trainer_keys: dict) -> tuple[float, int]:
    """(wall seconds, optimiser steps) of a fit of `epochs` epochs through a Trainer without callbacks, loggers or
    metrics."""
    trainer = L.Trainer(max_epochs=epochs, min_epochs=epochs, gradient_clip_val=clip or None, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        **trainer_keys)
    start = time.perf_counter()
    trainer.fit(_Bare(model), datamodule=datamodule)
    return time.perf_counter() - start, int(trainer.global_step)


def _validate(model: EmotionModel, datamodule: L.LightningDataModule, device: torch.device, autocast,
              limit: int | None = None) -> int:
    model.eval()
    done = 0
    with torch.no_grad(), autocast():
        for batch in datamodule.val_dataloader():
            if limit is not None and done >= limit:
                break
            model(batch.to(device))
            done += 1
    return done


def loop_seconds(datamodule: L.LightningDataModule, model: EmotionModel, epochs: int, clip: float,
                 device: torch.device, autocast, sanity_batches: int) -> tuple[float, int, int]:
    """(wall seconds, optimiser steps, validation batches) of a plain loop over the datamodule's loaders:
    `sanity_batches` validation batches (the Trainer's sanity check), then `epochs` epochs of training and
    validation."""
    model.to(device)
    optimizer = model.build_optimizer()
    steps = 0
    start = time.perf_counter()
    val_batches = _validate(model, datamodule, device, autocast, sanity_batches)
    for _ in range(epochs):
        model.train()
        for batch in datamodule.train_dataloader():
            train_step(model, optimizer, batch.to(device), clip, autocast())
            steps += 1
        val_batches += _validate(model, datamodule, device, autocast)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, steps, val_batches


def shares(work: float, loop: float, bare: float, fit: float) -> dict[str, float]:
    """The fit's overhead split into data_loop, lightning and runner shares of its wall time (they add up to
    1 - work / fit)."""
    return {"data_loop": (loop - work) / fit, "lightning": (bare - loop) / fit, "runner": (fit - bare) / fit}
