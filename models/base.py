"""`EmotionModel`: the LightningModule every method subclasses. A subclass writes `__init__` and
`forward(batch) -> ModelOutput`; the base owns the task loss, weighted auxiliary losses, predictions, metrics,
logging under train/ val/ test/, the optimiser and its schedule. Subclassing with `name=` registers the method."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import lightning as L
import torch
from torch import nn
from torchmetrics import Metric

from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.registry import Registry, init_parameter_names
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.statistics import LabelStatistics
from emobench.metrics import check_inputs, metrics_for, primary_metric
from emobench.models.epoch_logging import can_publish_directly, publish_epoch_values, publish_step_values
from emobench.models.optim import BertAdam
from emobench.models.output import ModelOutput
from emobench.models.task_head import predict, task_loss

MODELS = Registry("model")


SCHEDULES = ("constant", "linear", "cosine", "plateau")
OPTIMIZERS = ("adamw", "adam", "bertadam")


class _WeightedMean(Metric):
    """sum(value x weight) / sum(weight), summed across processes; a NaN value makes the mean NaN. (torchmetrics
    1.9's `MeanMetric(nan_strategy="disable")` replaces the weights by ones, so it averaged the batches' losses
    unweighted.)"""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: torch.Tensor) -> None:
        self.total += (value.double() * weight.double()).sum()
        self.weight += weight.double().sum()

    def compute(self) -> torch.Tensor:
        return (self.total / self.weight).float()


class EmotionModel(L.LightningModule):
    """Base of every method: `class Tailor(EmotionModel, name="tailor")`.

    Args:
        task: the dataset's TaskSpec.  modalities: its ModalitySpecs (any number >= 1).
        label_stats: training-fold label statistics (for methods and baselines that use them).
        optimizer: adamw (decoupled decay) | adam (torch Adam, decay as L2; MulT's) | bertadam (the official
            TAILOR/CARAT update: no bias correction, eps 1e-6, per-tensor clipping at 1.0; `emobench.models.optim`).
            adamw and adam use torch's fused kernel (not under fp16 mixed precision).
        lr, weight_decay: learning rate and weight decay (no decay on biases and norm/1-d parameters).
        schedule: constant | linear (warm-up then linear decay to 0, as BERT's warmup_linear) | cosine |
            plateau (lr times `plateau_factor` after `plateau_patience` epochs without a lower validation loss, as
            MulT's ReduceLROnPlateau).
        warmup_fraction: share of all training steps spent warming up (linear and cosine).
        plateau_patience, plateau_factor: the plateau schedule's settings (MulT: `--when` 20, factor 0.1).
        threshold: multilabel decision threshold used by the metrics (strict >).
        aux_weights: weights of the auxiliary losses by name; overrides the class's `default_aux_weights`.
    """

    model_name: ClassVar[str] = ""
    default_aux_weights: ClassVar[dict[str, float]] = {}
    # Weight of the task loss on the returned logits in the training objective. A method whose own objective does
    # not include that term (CARAT) sets 0; validation and test always report the task loss.
    task_loss_weight: ClassVar[float] = 1.0

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            cls.model_name = name
            MODELS.add(name, cls)

    def __init__(
        self,
        task: TaskSpec,
        modalities: Sequence[ModalitySpec],
        label_stats: LabelStatistics | None = None,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        schedule: str = "constant",
        warmup_fraction: float = 0.0,
        plateau_patience: int = 20,
        plateau_factor: float = 0.1,
        threshold: float = 0.5,
        aux_weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        if not modalities:
            raise ValueError(f"{type(self).__name__}: needs at least one modality, got none.")
        if schedule not in SCHEDULES:
            raise ValueError(f"<schedule={schedule}> must be one of {SCHEDULES}.")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"<optimizer={optimizer}> must be one of {OPTIMIZERS}.")
        self.save_hyperparameters(ignore=["task", "modalities", "label_stats"])
        self.hparams["task"] = task.to_dict()
        self.hparams["modalities"] = [m.to_dict() for m in modalities]
        self.task = task
        self.modalities = tuple(modalities)
        self.label_stats = label_stats
        self.aux_weights = {**self.default_aux_weights, **(aux_weights or {})}
        metrics = metrics_for(task.kind, task.num_labels, threshold, validate_args=False)  # checked in `_flush`
        self.train_metrics, self.val_metrics, self.test_metrics = (
            metrics.clone(prefix=f"{stage}/") for stage in ("train", "val", "test"))
        name, higher = primary_metric(task.kind)
        self.monitor, self.monitor_mode = f"val/{name}", ("max" if higher else "min")
        self._loss_means: dict[str, _WeightedMean] = {}  # "<stage>/<loss>" -> epoch mean over samples
        # per stage, this epoch's (predictions, targets, losses, batch size), folded into the metrics at its end
        self._pending: dict[str, list[tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], int]]] = {
            "train": [], "val": [], "test": []}

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets `_current_fx_name` (a str or None) before and after every hook it calls, about 45 times a
        # training step; `nn.Module.__setattr__`'s parameter, module and buffer checks made that ~90 us a step on a
        # 2-core CPU (15 % of Lightning's per-step cost). For a str or None they end in a plain attribute write.
        if name == "_current_fx_name" and (value is None or isinstance(value, str)):
            self.__dict__[name] = value
            return
        super().__setattr__(name, value)

    @classmethod
    def hyperparameter_names(cls) -> set[str]:
        """Every keyword an instance accepts besides task/modalities/label_stats (for config validation)."""
        return init_parameter_names(cls) - {"task", "modalities", "label_stats", "kwargs"}

    def forward(self, batch: EmotionBatch) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward(batch) -> ModelOutput")

    # ---- one step for every stage -------------------------------------------------------------------------
    def _shared_step(self, batch: EmotionBatch, stage: str) -> torch.Tensor:
        out = self(batch)
        loss = task_loss(self.task.kind, out.logits, batch.target)
        total = loss * self.task_loss_weight if stage == "train" else loss
        log = {f"{stage}/task_loss": loss}
        for name, value in out.aux_losses.items():
            weight = self.aux_weights.get(name, 1.0)
            log[f"{stage}/aux/{name}"] = value
            if weight:
                total = total + weight * value
        log[f"{stage}/loss"] = total
        if stage == "train" and not torch.isfinite(total):
            raise FloatingPointError(
                f"{type(self).__name__}: non-finite training loss {total.item()} at step {self.global_step} "
                f"(terms: { {k: float(v.detach()) for k, v in log.items()} }). Make sure inputs are finite or lower the lr."
            )
        bs = len(batch)
        if stage == "train" and self._step_logs_written():
            step_values = {f"{k}_step": v for k, v in log.items()}
            if can_publish_directly(self._trainer):
                publish_step_values(self._trainer, step_values)
            else:
                self.log_dict(step_values, on_step=True, on_epoch=False, batch_size=bs)
        self._pending[stage].append((predict(self.task.kind, out.logits.detach()), batch.target,
                                     {k: v.detach() for k, v in log.items()}, bs))
        return total

    def _flush(self, stage: str) -> None:
        """Update the stage's metrics and loss means with the epoch's kept predictions, targets and losses in one
        call each. Metric updates cost about 1 ms per call on a 2-core CPU, so once per epoch
        instead of per step (the metrics are batch-size invariant: the result is the same). The inputs' values are
        checked once here, with the checks every metric of the kind runs (its collection skips them: six checks of
        a distribution update cost as much as the six updates)."""
        pending, self._pending[stage] = self._pending[stage], []
        if not pending:
            return
        preds, target = torch.cat([p for p, *_ in pending]), torch.cat([t for _, t, *_ in pending])
        check_inputs(self.task.kind, preds, target, self.task.num_labels)
        getattr(self, f"{stage}_metrics").update(preds, target)
        for key in dict.fromkeys(k for _, _, logs, _ in pending for k in logs):
            kept = [(logs[key], bs) for _, _, logs, bs in pending if key in logs]
            values = torch.stack([v.float() for v, _ in kept])
            self._loss_mean(key).update(values, torch.tensor([bs for _, bs in kept], dtype=values.dtype,
                                                              device=values.device))

    def _step_logs_written(self) -> bool:
        """Whether Lightning will write this training step's on-step values to the loggers: only every
        `log_every_n_steps` steps (it drops the others). Logging only those saves `self.log`'s per-call cost (about
        10 ms per `log_dict` on a 2-core CPU, the largest framework overhead of small models)."""
        trainer = self._trainer
        if trainer is None:
            return True
        connector = getattr(trainer, "_logger_connector", None)
        return bool(getattr(connector, "should_update_logs", True)) or bool(trainer.fast_dev_run)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """`EmotionBatch.to` (no copy when the batch is on the device already, as on the CPU); other batches as
        Lightning moves them."""
        if isinstance(batch, EmotionBatch):
            return batch.to(device, non_blocking=device.type == "cuda")
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def training_step(self, batch: EmotionBatch, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: EmotionBatch, batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: EmotionBatch, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def _loss_mean(self, key: str) -> _WeightedMean:
        """The epoch mean of one logged loss, weighted by batch size. A torchmetrics metric rather than
        `self.log(..., on_epoch=True, sync_dist=True)`: Lightning 2.6 averages the per-process sample counts in an
        integer tensor, so a split that the processes share unevenly gets a wrong mean (Lightning issue #21859)."""
        if key not in self._loss_means:
            self._loss_means[key] = _WeightedMean()  # a NaN loss shows as NaN
        # not a submodule: follows the model here; `.to` walks the states even when they are there (~180 us in a fit)
        mean = self._loss_means[key]
        return mean if mean.device == self.device else mean.to(self.device)

    def _log_metrics(self, stage: str) -> None:
        # compute() gathers every process's state, so each process logs the same values (sync_dist=True only
        # averages equal numbers, and keeps Lightning from warning about unsynced epoch-level values).
        self._flush(stage)
        metrics = getattr(self, f"{stage}_metrics")
        values = metrics.compute()
        suffix = "_epoch" if stage == "train" else ""  # the names Lightning gives to on_step and on_epoch logs
        for key, mean in self._loss_means.items():
            if key.startswith(f"{stage}/"):
                values[key + suffix] = mean.compute()
                mean.reset()
        primary = values.pop(self.monitor, None)
        if getattr(self._trainer, "sanity_checking", False):
            # Lightning discards the sanity check's values; computing them still tries the metrics before training,
            # and not logging them saves `self.log`'s ~1 ms a key (10-13 ms a fit on a 2-core CPU)
            metrics.reset()
            return
        if stage != "test" and can_publish_directly(self._trainer):  # the test results come from `self.log`
            publish_epoch_values(self._trainer, stage, values, {} if primary is None else {self.monitor: primary})
        else:
            self.log_dict(values, sync_dist=True)
            if primary is not None:  # only the monitored metric goes to the progress bar
                self.log(self.monitor, primary, prog_bar=True, sync_dist=True)
        metrics.reset()

    def on_train_epoch_start(self) -> None:
        self._pending["train"] = []  # what an interrupted epoch left

    def on_validation_epoch_start(self) -> None:
        self._pending["val"] = []

    def on_test_epoch_start(self) -> None:
        self._pending["test"] = []

    def on_train_epoch_end(self) -> None:
        self._log_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def predict_step(self, batch: EmotionBatch, batch_idx: int) -> torch.Tensor:
        return predict(self.task.kind, self(batch).logits)

    # ---- optimiser ------------------------------------------------------------------------------------------
    def build_optimizer(self) -> torch.optim.Optimizer:
        """The configured optimiser over the trainable parameters (no decay on biases and other 1-d tensors),
        without a schedule: what `configure_optimizers` returns, for loops outside a Trainer (benchmarks)."""
        hp = self.hparams
        decay = [p for p in self.parameters() if p.requires_grad and p.ndim > 1]
        no_decay = [p for p in self.parameters() if p.requires_grad and p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if hp.optimizer == "bertadam":
            return BertAdam(groups, lr=hp.lr)
        optimizer_class = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
        return optimizer_class(groups, lr=hp.lr, fused=self._fused_update_supported())

    def _fused_update_supported(self) -> bool:
        """torch's fused Adam/AdamW kernel (one pass over all tensors: 1.3 ms against 13.7 ms per step for compact
        TAILOR's 144 tensors on one CPU thread) for floating-point parameters on the CPU or CUDA, except under fp16
        mixed precision, whose gradient scaler Lightning does not combine with optimisers that unscale in `step`."""
        precision = str(getattr(self._trainer, "precision", "32-true"))
        return (not precision.startswith("16")
                and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in self.parameters()))

    def training_objective(self, batch: EmotionBatch) -> torch.Tensor:
        """The training loss of `_shared_step` without logging or metrics: task loss (times `task_loss_weight`)
        plus the weighted auxiliary losses (for loops outside a Trainer: benchmarks)."""
        out = self(batch)
        total = task_loss(self.task.kind, out.logits, batch.target) * self.task_loss_weight
        for name, value in out.aux_losses.items():
            weight = self.aux_weights.get(name, 1.0)
            if weight:
                total = total + weight * value
        return total

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        optimizer = self.build_optimizer()
        if hp.schedule == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=hp.plateau_factor, patience=hp.plateau_patience)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss", "interval": "epoch"}}
        if hp.schedule == "constant" and hp.warmup_fraction == 0:
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(hp.warmup_fraction * total)

        def factor(step: int) -> float:
            if step < warmup:
                return step / max(1, warmup)
            progress = (step - warmup) / max(1, total - warmup)
            if hp.schedule == "linear":
                return max(0.0, 1.0 - progress)
            if hp.schedule == "cosine":
                return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
            return 1.0

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
