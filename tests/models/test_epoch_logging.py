"""Epoch values published directly (models/epoch_logging.py) reach the CSV log, the callbacks and the progress bar
exactly as `self.log` puts them there."""

from __future__ import annotations

import lightning as L
import pandas as pd
import pytest
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

import emobench.models.base as base
from emobench.datamodules import DATAMODULES
from emobench.models import MODELS


def fit(tmp_path, direct: bool, monkeypatch) -> tuple[pd.DataFrame, dict, dict, float, float]:
    if not direct:
        monkeypatch.setattr(base, "can_publish_directly", lambda trainer: False)
    L.seed_everything(0, verbose=False)
    data = DATAMODULES.get("synthetic-mosei")(num_samples=80, seq_len=4, batch_size=16)
    data.setup()
    model = MODELS.get("early_fusion")(data.task, data.modalities, hidden=8, lr=1e-2, schedule="plateau",
                                       plateau_patience=0)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor=model.monitor, mode=model.monitor_mode)
    stop = EarlyStopping(monitor="val/task_loss", mode="min", patience=1, min_delta=1.0)  # stops after 2 epochs
    trainer = L.Trainer(max_epochs=4, logger=CSVLogger(tmp_path, name="csv", version=""), log_every_n_steps=1,
                        callbacks=[checkpoint, stop], enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path, deterministic=True)
    trainer.fit(model, datamodule=data)
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    logged = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    callback = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return logged, callback, dict(trainer.progress_bar_metrics), lr, float(checkpoint.best_model_score)


def test_direct_publishing_equals_self_log(tmp_path, monkeypatch):
    direct = fit(tmp_path / "direct", True, monkeypatch)
    reference = fit(tmp_path / "reference", False, monkeypatch)
    logged, logged_ref = direct[0], reference[0]
    assert sorted(logged.columns) == sorted(logged_ref.columns)
    assert {"epoch", "step", "val/micro_f1", "val/task_loss", "train/loss_epoch", "train/loss_step",
            "train/micro_f1"} <= set(logged)
    columns = sorted(logged.columns)
    pd.testing.assert_frame_equal(logged[columns], logged_ref[columns])  # same rows, steps, epochs and values
    assert direct[1] == pytest.approx(reference[1])  # what early stopping, checkpointing and the schedule read
    assert direct[2] == reference[2] and set(direct[2]) == {"val/micro_f1"}
    assert direct[3] == reference[3] < 1e-2  # the plateau schedule saw val/loss and lowered the lr
    assert direct[4] == reference[4]  # the checkpoint's best score
    assert logged["epoch"].max() == 1  # early stopping read val/task_loss and stopped after 2 epochs


def test_sanity_check_and_test_values_go_through_self_log():
    assert not base.can_publish_directly(None)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.state.stage = "sanity_check"
    assert not base.can_publish_directly(trainer)
    trainer.state.stage = "validate"
    assert base.can_publish_directly(trainer)
