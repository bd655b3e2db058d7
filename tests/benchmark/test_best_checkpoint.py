"""`BestWeightsCheckpoint` writes, once training ends, the file `ModelCheckpoint(save_top_k=1,
save_weights_only=True)` writes: the best validation epoch's weights as they were then (the model keeps training
after it), nothing before the end, nothing when the fit raises."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from emobench.benchmark.best_checkpoint import BestWeightsCheckpoint

SCORES = [0.3, 0.9, 0.5, 0.4]  # validation score per epoch: epoch 1 is the best, three more epochs train after it


class Scripted(L.LightningModule):
    """A Linear whose validation score follows SCORES; keeps a copy of its weights at each validation."""

    def __init__(self, fail_at_epoch: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(3, 1)
        self.fail_at_epoch = fail_at_epoch
        self.weights_at: dict[int, dict[str, torch.Tensor]] = {}

    def training_step(self, batch, batch_idx):
        if self.current_epoch == self.fail_at_epoch:
            raise RuntimeError("scripted failure")
        return self.linear(batch).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/score", SCORES[self.current_epoch])

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.weights_at[self.current_epoch] = {k: v.clone() for k, v in self.state_dict().items()}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class FileSeen(L.Callback):
    """Whether the checkpoint file existed at the start of each training epoch."""

    def __init__(self, path) -> None:
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer, pl_module):
        self.seen.append(self.path.exists())


def _fit(tmp_path, callback, model, extra=()) -> None:
    torch.manual_seed(0)
    data = torch.utils.data.DataLoader(torch.randn(8, 3), batch_size=4)
    trainer = L.Trainer(max_epochs=len(SCORES), callbacks=[callback, *extra], logger=False, accelerator="cpu",
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, train_dataloaders=data, val_dataloaders=data)


def _settings(folder):
    return {"dirpath": folder, "filename": "best", "monitor": "val/score", "mode": "max",
            "auto_insert_metric_name": False, "enable_version_counter": False}


def test_writes_the_best_epochs_weights_once_training_ends(tmp_path):
    callback, model = BestWeightsCheckpoint(**_settings(tmp_path / "held")), Scripted()
    seen = FileSeen(tmp_path / "held" / "best.ckpt")
    _fit(tmp_path, callback, model, [seen])
    assert seen.seen == [False] * len(SCORES)  # held in memory while training
    assert callback.best_model_path == str(tmp_path / "held" / "best.ckpt")
    saved = torch.load(callback.best_model_path, weights_only=True)
    for key, value in model.weights_at[1].items():
        torch.testing.assert_close(saved["state_dict"][key], value, rtol=0, atol=0)
    assert not torch.equal(saved["state_dict"]["linear.weight"], model.linear.weight.detach())  # trained on

    reference = L.pytorch.callbacks.ModelCheckpoint(save_top_k=1, save_weights_only=True,
                                                    **_settings(tmp_path / "written"))
    _fit(tmp_path, reference, Scripted())
    expected = torch.load(reference.best_model_path, weights_only=True)
    assert saved.keys() == expected.keys() and "optimizer_states" not in saved
    assert (saved["epoch"], saved["global_step"]) == (expected["epoch"], expected["global_step"]) == (1, 4)
    assert saved["loops"] == expected["loops"]  # the progress counters of that epoch, not of the end
    for key, value in expected["state_dict"].items():
        torch.testing.assert_close(saved["state_dict"][key], value, rtol=0, atol=0)


def test_a_fit_that_raises_writes_nothing(tmp_path):
    callback = BestWeightsCheckpoint(**_settings(tmp_path))
    with pytest.raises(RuntimeError, match="scripted failure"):
        _fit(tmp_path, callback, Scripted(fail_at_epoch=2))
    assert callback.best_model_path and not list(tmp_path.iterdir())
