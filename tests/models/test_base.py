"""The model base (models/base.py) on its own: a probe method whose logits and auxiliary losses the test sets, so
the training objective, the epoch means, the metrics per stage, the defaults, the optimiser groups and the names
logged in a short fit are checked against hand-computed values."""

from __future__ import annotations

import math
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from emobench.datamodules import DATAMODULES
from emobench.datamodules.batch import EmotionBatch
from emobench.metrics import metrics_for
from emobench.models import MODELS, EmotionModel, ModelOutput
from emobench.models.task_head import predict, task_loss
from tests.models.helpers import TASKS, THREE, random_batch


class Probe(EmotionModel):
    """Returns `self.logits` (plus a zero-initialised bias) and `self.aux`; not registered (no name)."""

    def __init__(self, task, modalities, label_stats=None, **kwargs) -> None:
        super().__init__(task, modalities, label_stats, **kwargs)
        self.bias = nn.Parameter(torch.zeros(task.num_labels))
        self.matrix = nn.Parameter(torch.zeros(2, 3))
        self.logits = torch.zeros(1, task.num_labels)
        self.aux: dict[str, torch.Tensor] = {}

    def forward(self, batch: EmotionBatch) -> ModelOutput:
        return ModelOutput(logits=self.logits[: len(batch)] + self.bias, aux_losses=dict(self.aux))


class WeightedProbe(Probe):
    default_aux_weights = {"b": 2.0}
    task_loss_weight = 0.25


def probe(kind: str = "multilabel", batch_size: int = 4, seed: int = 0, cls: type = Probe,
          **kwargs) -> tuple[Probe, EmotionBatch]:
    model = cls(TASKS[kind], THREE, **kwargs)
    batch = random_batch(TASKS[kind], THREE, batch_size=batch_size, seed=seed)
    model.logits = torch.randn(batch_size, TASKS[kind].num_labels, generator=torch.Generator().manual_seed(seed))
    return model, batch


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_training_objective_weights_the_task_loss_and_each_auxiliary_loss(kind):
    model, batch = probe(kind)
    task = float(task_loss(kind, model.logits, batch.target))
    assert float(model._shared_step(batch, "train").detach()) == pytest.approx(task)  # by default: the task loss
    model, batch = probe(kind, cls=WeightedProbe, aux_weights={"a": 0.5, "c": 0.0})
    model.aux = {"a": torch.tensor(2.0), "b": torch.tensor(3.0), "c": torch.tensor(math.nan), "d": torch.tensor(4.0)}
    aux = 0.5 * 2.0 + 2.0 * 3.0 + 4.0  # a: given weight; b: class default; c: weight 0 (not added); d: weight 1
    assert float(model._shared_step(batch, "train").detach()) == pytest.approx(0.25 * task + aux)
    for stage in ("val", "test"):  # validation and test report the full task loss
        assert float(model._shared_step(batch, stage)) == pytest.approx(task + aux)


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_training_objective_outside_the_trainer_is_the_training_steps_loss(kind):
    """`training_objective` (the benchmarks' step) weighs the task loss and every auxiliary loss as
    `_shared_step` does, an auxiliary loss missing from `aux_weights` included (weight 1)."""
    model, batch = probe(kind, cls=WeightedProbe, aux_weights={"a": 0.5, "c": 0.0})
    model.aux = {"a": torch.tensor(2.0), "b": torch.tensor(3.0), "c": torch.tensor(math.nan), "d": torch.tensor(4.0)}
    task = float(task_loss(kind, model.logits, batch.target))
    assert float(model.training_objective(batch)) == pytest.approx(0.25 * task + 0.5 * 2.0 + 2.0 * 3.0 + 4.0)
    assert float(model.training_objective(batch)) == pytest.approx(float(model._shared_step(batch, "train")))


def test_a_non_finite_training_loss_stops_training_but_not_evaluation():
    model, batch = probe()
    model.aux = {"a": torch.tensor(math.nan)}
    with pytest.raises(FloatingPointError, match="non-finite training loss"):
        model._shared_step(batch, "train")
    assert math.isnan(float(model._shared_step(batch, "val")))
    model._shared_step(batch, "val")
    model._flush("val")  # the base folds an epoch's batches into its means at the epoch's end
    assert math.isnan(float(model._loss_means["val/loss"].compute()))  # shown as NaN, not dropped
    assert not math.isnan(float(model._loss_means["val/task_loss"].compute()))


def test_epoch_means_weight_each_batch_by_its_size():
    model, big = probe("distribution", batch_size=3, seed=1)
    first = float(task_loss("distribution", model.logits, big.target))
    model.aux = {"a": torch.tensor(1.0)}
    model._shared_step(big, "val")
    other, small = probe("distribution", batch_size=1, seed=2)
    model.logits = other.logits
    model.aux = {"a": torch.tensor(5.0)}
    second = float(task_loss("distribution", model.logits, small.target))
    model._shared_step(small, "val")
    model._flush("val")
    means = {k: float(v.compute()) for k, v in model._loss_means.items()}
    assert means["val/task_loss"] == pytest.approx((3 * first + second) / 4)
    assert means["val/aux/a"] == pytest.approx((3 * 1.0 + 5.0) / 4)
    assert means["val/loss"] == pytest.approx((3 * (first + 1.0) + second + 5.0) / 4)


@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("stage", ["train", "val", "test"])
def test_each_stage_scores_the_predictions_of_its_own_batches(kind, stage):
    model, batch = probe(kind)
    model._shared_step(batch, stage)
    model._flush(stage)
    expected = metrics_for(kind, 4)
    expected.update(predict(kind, model.logits), batch.target)
    values = getattr(model, f"{stage}_metrics").compute()
    assert {k.split("/", 1)[1]: float(v) for k, v in values.items()} == pytest.approx(
        {k: float(v) for k, v in expected.compute().items()}, nan_ok=True)
    others = [s for s in ("train", "val", "test") if s != stage]
    assert all(not getattr(model, f"{s}_metrics")[next(iter(expected))]._update_count for s in others)


def test_documented_defaults_and_optimiser_groups():
    model, _ = probe()
    hp = model.hparams
    assert (hp.optimizer, hp.lr, hp.weight_decay, hp.schedule, hp.warmup_fraction, hp.threshold) == (
        "adamw", 1e-3, 1e-4, "constant", 0.0, 0.5)
    assert (hp.plateau_patience, hp.plateau_factor) == (20, 0.1)
    assert model.monitor == "val/micro_f1" and model.monitor_mode == "max"
    optimizer = model.configure_optimizers()  # constant schedule without warm-up: the optimiser alone
    assert type(optimizer) is torch.optim.AdamW
    decay, no_decay = optimizer.param_groups
    assert [p.shape for p in decay["params"]] == [(2, 3)] and decay["weight_decay"] == 1e-4
    assert [p.shape for p in no_decay["params"]] == [(4,)] and no_decay["weight_decay"] == 0.0
    assert decay["lr"] == no_decay["lr"] == 1e-3
    # threshold 0.5 is strict: p = 0.5 is negative, p = 0.525 positive
    model.test_metrics.update(torch.tensor([[0.5, 0.525, 0.9, 0.1]]), torch.tensor([[1, 1, 1, 0]]))
    assert float(model.test_metrics.compute()["test/micro_recall"]) == pytest.approx(2 / 3)


def test_distribution_and_multiclass_select_on_their_primary_metric():
    assert (probe("distribution")[0].monitor, probe("distribution")[0].monitor_mode) == ("val/kl", "min")
    assert (probe("multiclass")[0].monitor, probe("multiclass")[0].monitor_mode) == ("val/ua", "max")


def test_no_modality_and_no_forward_are_errors():
    with pytest.raises(ValueError, match="needs at least one modality"):
        Probe(TASKS["multilabel"], [])
    with pytest.raises(NotImplementedError, match="must implement forward"):
        EmotionModel(TASKS["multilabel"], THREE)(random_batch(TASKS["multilabel"], THREE))


def test_a_short_fit_logs_step_and_epoch_losses_metrics_and_the_monitor(tmp_path):
    data = DATAMODULES.get("synthetic-mosei")(num_samples=60, seq_len=4, batch_size=16)
    data.setup()
    model = MODELS.get("early_fusion")(data.task, data.modalities, hidden=8)
    # step values are logged on the steps a logger writes (every step here), as the base documents
    trainer = L.Trainer(max_epochs=1, logger=CSVLogger(tmp_path), log_every_n_steps=1, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=data)
    logged = set(trainer.callback_metrics)
    assert {"train/loss_step", "train/task_loss_step", "train/loss_epoch", "train/task_loss_epoch",
            "train/micro_f1", "val/loss", "val/task_loss", "val/micro_f1", "val/hamming_loss"} <= logged
    assert set(trainer.progress_bar_metrics) == {"val/micro_f1"}  # only the monitored metric
    trainer.test(model, datamodule=data, verbose=False)
    assert {"test/loss", "test/micro_f1", "test/accuracy"} <= set(trainer.callback_metrics)
    assert not model.val_metrics["micro_f1"]._update_count  # reset after each epoch


def lr_curve(schedule: str, warmup_fraction: float, steps: int = 100, estimated: int = 100) -> list[float]:
    model, _ = probe(lr=1.0, schedule=schedule, warmup_fraction=warmup_fraction)
    model._trainer = SimpleNamespace(estimated_stepping_batches=estimated)  # what Lightning tells the base
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_cosine_and_constant_schedules_after_warm_up():
    cosine = lr_curve("cosine", 0.1)  # T = 100, 10 warm-up steps, then 0.5 (1 + cos(pi p)), p = (t - 10) / 90
    assert cosine[0] == 0.0 and cosine[5] == pytest.approx(0.5) and cosine[10] == pytest.approx(1.0)
    assert cosine[55] == pytest.approx(0.5) and cosine[99] == pytest.approx(0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert lr_curve("cosine", 0.1, steps=120)[110] == pytest.approx(0.0, abs=1e-12)  # past T it stays at 0
    constant = lr_curve("constant", 0.2)
    assert constant[10] == pytest.approx(0.5) and constant[20:] == pytest.approx([1.0] * 80)


def test_linear_schedule_over_a_single_step():
    assert lr_curve("linear", 0.0, steps=2, estimated=1) == pytest.approx([1.0, 0.0])
    assert lr_curve("linear", 0.0, steps=2, estimated=0) == pytest.approx([1.0, 0.0])  # T is at least 1


def test_predict_step_returns_probabilities():
    for kind in sorted(TASKS):
        model, batch = probe(kind)
        torch.testing.assert_close(model.predict_step(batch, 0), predict(kind, model.logits))


def test_unknown_schedule_is_refused_and_a_misspelt_class_keyword_is_an_error():
    with pytest.raises(ValueError, match=r"<schedule=cosine_annealing> must be one of \('constant', 'linear'"):
        Probe(TASKS["multilabel"], THREE, schedule="cosine_annealing")
    with pytest.raises(TypeError, match="__init_subclass__"):  # `nmae=` instead of `name=` is not silently dropped

        class Misspelt(EmotionModel, nmae="misspelt"):
            pass


def test_each_epoch_logs_the_means_of_its_own_batches_only():
    model, batch = probe("distribution", batch_size=3, seed=1)
    logged: list[dict[str, float]] = []  # per epoch: name -> value, as `_log_metrics` hands them to Lightning
    options: list[dict] = []

    def log_dict(values, **kwargs):
        logged.append({k: float(v) for k, v in values.items()})
        options.append(kwargs)

    def log(name, value, **kwargs):
        logged[-1][name] = float(value)
        options.append(kwargs)

    model.log_dict, model.log = log_dict, log
    losses = []
    for seed in (1, 2):  # two validation epochs of one batch each, with different losses
        other, batch = probe("distribution", batch_size=3, seed=seed)
        model.logits = other.logits
        losses.append(float(task_loss("distribution", model.logits, batch.target)))
        model._shared_step(batch, "val")
        model._log_metrics("val")
    assert losses[0] != pytest.approx(losses[1])
    assert [epoch["val/task_loss"] for epoch in logged] == pytest.approx(losses), "epoch 2 without epoch 1's losses"
    expected = metrics_for("distribution", 4)
    expected.update(predict("distribution", model.logits), batch.target)
    assert logged[1]["val/kl"] == pytest.approx(float(expected.compute()["kl"]))  # metrics reset as well
    # every process logs the same synced values; sync_dist keeps Lightning from warning about it under DDP, and
    # only the monitored metric goes to the progress bar
    assert options[:2] == [{"sync_dist": True}, {"prog_bar": True, "sync_dist": True}]


def test_end_of_epoch_flush_stays_on_the_model_device_and_weights_by_batch_size():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device: on the CPU every tensor is on the one device already")
    model, batch = probe(batch_size=3)
    model = model.cuda()
    model.logits = model.logits.cuda()
    model._shared_step(batch.to(torch.device("cuda")), "val")
    model._shared_step(batch.to(torch.device("cuda")), "val")
    model._flush("val")
    mean = model._loss_means["val/task_loss"]
    assert mean.weight.device.type == "cuda" and float(mean.weight) == 6.0


def test_end_of_epoch_loss_weights_follow_the_logged_values_device():
    """The CUDA test's check on every machine: the meta device stands in for a second device, so batch-size
    weights built on the CPU beside losses on another device fail here too."""
    model, batch = probe(batch_size=3)
    model._shared_step(batch, "val")
    model._pending["val"] = [(p, t, {k: v.to("meta") for k, v in logs.items()}, bs)
                             for p, t, logs, bs in model._pending["val"]]
    model._device = torch.device("meta")  # where LightningModule.device reads the module's device
    model._flush("val")
    mean = model._loss_means["val/task_loss"]
    assert mean.weight.device.type == "meta" and mean.total.device.type == "meta"
