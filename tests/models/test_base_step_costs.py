"""The base model's per-step savings keep its results: metrics and loss means folded in once per epoch equal
per-batch updates (uneven batches), training-step logs land on the same steps as when every step logs, and
`EmotionBatch.to` moves a batch without Lightning's deep copy (itself when already there). Lightning's per-hook
bookkeeping attribute is written without `nn.Module.__setattr__` yet read as Lightning set it. The sanity check's
metrics are computed (bad values stop the fit there) but not logged, and do not leak into epoch 0. The stage
collections skip their per-metric value checks; the epoch's inputs are checked once instead."""

from __future__ import annotations

import csv

import lightning as L
import pytest
import torch

from emobench.datamodules.batch import EmotionBatch
from emobench.metrics import metrics_for
from emobench.models import MODELS
from emobench.models.base import EmotionModel
from emobench.models.output import ModelOutput
from emobench.models.task_head import predict, task_loss
from tests.models.helpers import TASKS, THREE, random_batch


def test_epoch_metrics_and_loss_means_equal_per_batch_updates():
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    model = MODELS.get("early_fusion")(task=task, modalities=THREE).eval()
    batches = [random_batch(task, THREE, batch_size=n, seed=n) for n in (5, 2, 7)]
    reference = metrics_for(task.kind, task.num_labels, 0.5)
    losses, sizes = [], []
    with torch.no_grad():
        for batch in batches:
            model._shared_step(batch, "val")
            logits = model(batch).logits
            reference.update(predict(task.kind, logits), batch.target)
            losses.append(task_loss(task.kind, logits, batch.target))
            sizes.append(len(batch))
    assert len(model._pending["val"]) == 3  # nothing folded in yet
    model._flush("val")
    assert model._pending["val"] == []
    got, expected = model.val_metrics.compute(), reference.compute()
    for name, value in expected.items():
        torch.testing.assert_close(got[f"val/{name}"], value)
    weighted = sum(loss * n for loss, n in zip(losses, sizes, strict=True)) / sum(sizes)
    torch.testing.assert_close(model._loss_means["val/loss"].compute(), weighted)


@pytest.mark.parametrize("kind", ["multilabel", "distribution", "multiclass"])
def test_metric_inputs_are_checked_once_per_update_not_per_metric(kind):
    task = TASKS[kind]
    model = MODELS.get("early_fusion")(task=task, modalities=THREE)
    for stage in ("train", "val", "test"):
        assert not any(m.validate_args for m in getattr(model, f"{stage}_metrics").values())
    batch = random_batch(task, THREE, batch_size=3, seed=1)
    preds = predict(kind, model(batch).logits.detach())
    bad = preds.clone()
    bad[0, 0] = float("nan")  # every kind's checks reject NaN
    model._pending["val"] = [(preds, batch.target, {}, 3), (bad, batch.target, {}, 3)]
    with pytest.raises(ValueError) as from_model:
        model._flush("val")
    with pytest.raises(ValueError) as from_collection:
        metrics_for(kind, task.num_labels).update(torch.cat([preds, bad]), torch.cat([batch.target] * 2))
    assert str(from_model.value) == str(from_collection.value)


class _SmallModel(EmotionModel):  # unregistered: a Linear on the first modality's mean that trains in a Trainer
    """Records the hook name Lightning set around each forward and what it logs during the sanity check."""

    def __init__(self, task, modalities, nan_in_validation=False):
        super().__init__(task, modalities)
        self.linear = torch.nn.Linear(modalities[0].dim, task.num_labels)
        self.nan_in_validation, self.names_in_forward, self.logged_in_sanity = nan_in_validation, [], []

    def forward(self, batch):
        self.names_in_forward.append(self._current_fx_name)
        logits = self.linear(batch.inputs[self.modalities[0].name].mean(dim=1))
        return ModelOutput(logits=logits * float("nan") if self.nan_in_validation and not self.training else logits)

    def log(self, name, *args, **kwargs):
        if self.trainer.sanity_checking:
            self.logged_in_sanity.append(name)
        return super().log(name, *args, **kwargs)


def _logged_steps(tmp_path, monkeypatch, gate: bool) -> list[int]:
    from emobench.models import base

    if not gate:  # the reference: every step through self.log, Lightning keeping the steps it writes
        monkeypatch.setattr(base.EmotionModel, "_step_logs_written", lambda self: True)
        monkeypatch.setattr(base, "can_publish_directly", lambda trainer: False)
    task = TASKS["multiclass"]
    batches = [random_batch(task, THREE, batch_size=4, seed=i) for i in range(7)]
    model = _SmallModel(task, THREE)
    logger = L.pytorch.loggers.CSVLogger(tmp_path / ("gate" if gate else "all"), name="", version="")
    trainer = L.Trainer(max_epochs=2, logger=logger, log_every_n_steps=3, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    rows = list(csv.DictReader(open(tmp_path / ("gate" if gate else "all") / "metrics.csv")))
    return [int(r["step"]) for r in rows if r.get("train/loss_step")]


def test_training_step_logs_land_on_the_same_steps(tmp_path, monkeypatch):
    gated = _logged_steps(tmp_path, monkeypatch, gate=True)
    assert gated and gated == _logged_steps(tmp_path, monkeypatch, gate=False)


def test_batch_to_moves_without_copying_what_is_already_there():
    batch = random_batch(TASKS["multiclass"], THREE)
    batch.index = torch.arange(len(batch))
    assert batch.to("cpu") is batch and batch.to(torch.device("cpu")) is batch
    moved = batch.to("meta")
    assert isinstance(moved, EmotionBatch) and moved is not batch
    assert all(t.device.type == "meta" for t in [*moved.inputs.values(), *moved.masks.values(), moved.target,
                                                 moved.index])
    assert moved.subject is None and batch.target.device.type == "cpu"


def test_hook_name_bookkeeping_skips_module_setattr_and_reads_back(monkeypatch):
    seen_by_module_setattr = []
    original = torch.nn.Module.__setattr__

    def counting(self, name, value):
        if name == "_current_fx_name":
            seen_by_module_setattr.append(value)
        original(self, name, value)

    monkeypatch.setattr(torch.nn.Module, "__setattr__", counting)

    task = TASKS["multiclass"]
    model = _SmallModel(task, THREE)
    batches = [random_batch(task, THREE, batch_size=4, seed=i) for i in range(3)]
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    assert model.names_in_forward == ["training_step"] * 3 and model._current_fx_name is None
    assert seen_by_module_setattr == []
    model._current_fx_name = torch.nn.Linear(1, 1)  # anything but a str or None: nn.Module's rules
    assert "_current_fx_name" in model._modules and seen_by_module_setattr


def _fit_with_sanity_check(model):
    task = TASKS["multiclass"]
    train = [random_batch(task, THREE, batch_size=4, seed=i) for i in range(3)]
    val = [random_batch(task, THREE, batch_size=5, seed=10 + i) for i in range(3)]
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=2)
    loader = torch.utils.data.DataLoader
    trainer.fit(model, train_dataloaders=loader(train, batch_size=None), val_dataloaders=loader(val, batch_size=None))
    return trainer, val


def test_sanity_check_metrics_are_computed_not_logged_and_do_not_leak():
    model = _SmallModel(TASKS["multiclass"], THREE)
    trainer, val = _fit_with_sanity_check(model)
    assert model.logged_in_sanity == []
    reference = metrics_for("multiclass", TASKS["multiclass"].num_labels)
    with torch.no_grad():
        for batch in val:  # epoch 0's validation: the three batches once, not the sanity check's two again
            reference.update(predict("multiclass", model.eval()(batch).logits), batch.target)
    for name, value in reference.compute().items():
        assert float(trainer.callback_metrics[f"val/{name}"]) == pytest.approx(float(value), abs=1e-7), name


def test_sanity_check_stops_on_bad_predictions_before_training():
    model = _SmallModel(TASKS["multiclass"], THREE, nan_in_validation=True)
    with pytest.raises(ValueError, match="to hold no NaN"):
        _fit_with_sanity_check(model)
    assert model.global_step == 0
