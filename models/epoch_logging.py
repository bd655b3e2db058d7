"""One epoch's metric values handed to Lightning's callbacks, progress bar and loggers in one call.

`LightningModule.log` moves its bookkeeping object to the value's device on every call (a recursive walk over
its state): about 1 ms a key on a 2-core CPU, so a multi-label twin's 20 epoch-level keys per stage cost ~40 % of
a small model's fit. The values are computed once per epoch already (torchmetrics, synchronised across
processes), so `publish_epoch_values` writes them where `self.log(..., on_epoch=True)` would have put them:
`trainer.callback_metrics` (early stopping, checkpointing, the plateau schedule), `trainer.progress_bar_metrics`
and Lightning's logger connector (every logger, at the step and with the `epoch` key Lightning gives epoch-end
values; loggers write on rank zero only). `publish_step_values` does the same for the training losses of the
steps Lightning writes (every `log_every_n_steps`). tests/models/test_epoch_logging.py checks that the CSV log and
the callback metrics equal those of the `self.log` path.
"""

from __future__ import annotations

from typing import Any

import torch


def can_publish_directly(trainer: Any) -> bool:
    """Whether this trainer takes directly published values: a real Lightning trainer outside the sanity check
    (Lightning drops the sanity check's values; the `self.log` path does that for us there)."""
    connector = getattr(trainer, "_logger_connector", None)
    return (connector is not None and callable(getattr(connector, "log_metrics", None))
            and not getattr(trainer, "sanity_checking", True))


def publish_epoch_values(trainer: Any, stage: str, values: dict[str, torch.Tensor],
                         progress_bar: dict[str, torch.Tensor]) -> None:
    """Write one stage's epoch values (scalar tensors) to the trainer's callback metrics, its progress bar (the
    `progress_bar` items, which are also callback and logged values) and its loggers."""
    everything = {key: value.detach() for key, value in {**values, **progress_bar}.items()}
    trainer.callback_metrics.update(everything)
    trainer.progress_bar_metrics.update({key: float(value) for key, value in progress_bar.items()})
    if stage != "train":
        trainer._logger_connector.log_metrics(everything)
        return
    # Lightning writes the training epoch's values at the step of its last batch: it steps its counter back by
    # one around that call (FitLoop.on_advance_end); do the same
    loop = trainer.fit_loop.epoch_loop
    loop._batches_that_stepped -= 1
    try:
        trainer._logger_connector.log_metrics(everything)
    finally:
        loop._batches_that_stepped += 1


def publish_step_values(trainer: Any, values: dict[str, torch.Tensor]) -> None:
    """Write one training step's values where `self.log(..., on_step=True, on_epoch=False)` puts them: the callback
    metrics, and every logger at this step with the `epoch` key (called from `training_step`, where Lightning's
    own write later in the same batch uses the same step)."""
    everything = {key: value.detach() for key, value in values.items()}
    trainer.callback_metrics.update(everything)
    trainer._logger_connector.log_metrics(everything)
