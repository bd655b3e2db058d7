"""Run one benchmark cell: build the datamodule and model from config, fit with early stopping on the primary
validation metric, test the best checkpoint, and return the result record. No logic of its own beyond that."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig

from emobench.benchmark import environment, tracking
from emobench.benchmark.arguments import check_cell_arguments
from emobench.benchmark.best_checkpoint import BestWeightsCheckpoint
from emobench.benchmark.config import to_plain
from emobench.benchmark.identity import cell_identity, identity_digest
from emobench.benchmark.no_profiler import NoProfiler
from emobench.benchmark.store import cells_dir, read_record
from emobench.models import count_parameters
from emobench.models.base import EmotionModel


def quiet_lightning() -> None:
    """Silence Lightning's banners and known harmless warnings (tiny loaders, few workers, empty log folders)."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*anonymous setting has no effect.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*Experiment logs directory.*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device`.*")  # EmotionModel's, on purpose


def effective_deterministic(setting: bool | str | None, accelerator: str) -> bool | str:
    """The `deterministic` value given to Lightning: the setting, or for None True on the CPU and "warn" on an
    accelerator (CUDA has no deterministic backward for ctc_loss, among others, so True would raise there)."""
    if setting is not None:
        return setting
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available()
                                      and not torch.backends.mps.is_available())
    return True if on_cpu else "warn"


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, EmotionModel]:
    """The datamodule (set up for the cell's fold) and the model, validated against their signatures."""
    data_cls, model_cls = check_cell_arguments(cfg)
    data_args, model_args = dict(to_plain(cfg)["data_args"]), dict(to_plain(cfg)["model_args"])
    datamodule = data_cls(fold=cfg.fold, **data_args)
    datamodule.setup()
    model = model_cls(task=datamodule.task, modalities=datamodule.modalities,
                      label_stats=datamodule.label_statistics(), **model_args)
    return datamodule, model


def trainer_deterministic(cfg: DictConfig) -> bool | str:
    """The `deterministic` value the cell's Trainer gets."""
    return effective_deterministic(cfg.trainer.deterministic, cfg.trainer.accelerator)


def stopping_monitor(cfg: DictConfig, model: EmotionModel) -> tuple[str, str]:
    """(metric, mode) early stopping watches: the primary validation metric, or with `trainer.stop_on=task_loss`
    the validation task loss, which keeps improving while a thresholded metric sits at the label prior's value in
    the first epochs (a flat start that would otherwise stop a run before it learns)."""
    if cfg.trainer.stop_on == "task_loss":
        return "val/task_loss", "min"
    return model.monitor, model.monitor_mode


def make_trainer(cfg: DictConfig, model: EmotionModel, cell_dir: Path, attempt: Path,
                 plain: dict[str, Any]) -> tuple[L.Trainer, Any, Any]:
    """The cell's Trainer with its callbacks (best checkpoint on the primary validation metric, early stopping as
    `stopping_monitor` says) and loggers (CSV, W&B in the configured mode); also used by `emobench perf report`
    to time a fit exactly as the runner runs it. Returns (trainer, checkpoint callback, W&B logger or None)."""
    # weights only: the checkpoint is for testing the best epoch (an interrupted cell reruns from scratch); without
    # optimiser and loop states a save takes 17 instead of 41 ms for compact TAILOR, and a third of the disk; held
    # in memory until training ends, then written once
    checkpoint = BestWeightsCheckpoint(
        dirpath=attempt, filename="best", monitor=model.monitor, mode=model.monitor_mode,
        auto_insert_metric_name=False, enable_version_counter=False)
    stop_metric, stop_mode = stopping_monitor(cfg, model)
    early_stop = L.pytorch.callbacks.EarlyStopping(monitor=stop_metric, mode=stop_mode, patience=cfg.trainer.patience)
    loggers: list[Any] = [L.pytorch.loggers.CSVLogger(cell_dir, name="csv", version="")]
    wandb_logger = tracking.make_wandb_logger(
        cfg.wandb.mode, cfg.wandb.project, cfg.wandb.entity, group=cfg.sweep,
        name=f"{cfg.model}-{cfg.dataset}-s{cfg.seed}-f{cfg.fold}",
        tags=[cfg.model, cfg.dataset, f"seed={cfg.seed}", f"fold={cfg.fold}"], config=plain,
        root=Path(cfg.output) / cfg.sweep)
    if wandb_logger is not None:
        loggers.append(wandb_logger)
    t = cfg.trainer
    trainer = L.Trainer(
        max_epochs=t.max_epochs, min_epochs=t.min_epochs, accelerator=t.accelerator, devices=t.devices,
        strategy=t.strategy, num_nodes=t.num_nodes, precision=t.precision,
        gradient_clip_val=t.gradient_clip_val or None, limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches, limit_test_batches=t.limit_test_batches,
        deterministic=trainer_deterministic(cfg), callbacks=[checkpoint, early_stop], logger=loggers,
        enable_progress_bar=t.progress_bar, enable_model_summary=False, default_root_dir=cell_dir,
        log_every_n_steps=10, profiler=NoProfiler())
    return trainer, checkpoint, wandb_logger


def is_global_zero() -> bool:
    """Whether this process is rank 0 of its run (always so without a multi-process strategy). Lightning sets the
    rank when a strategy starts, and before that reads RANK / LOCAL_RANK / SLURM_PROCID, which the `ddp` launcher
    sets in the processes it starts: only rank 0 removes dead attempts and writes the cell's record."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def attempt_name(started: float) -> str:
    """Checkpoint folder of one attempt at a cell: `attempt-<host>-<pid>-<start time in ms>` (two runs of a cell in
    one process within a second get their own folders)."""
    return f"attempt-{socket.gethostname()}-{os.getpid()}-{int(started * 1000)}"


def recorded_attempts(record_path: Path, checkpoints: Path) -> set[str]:
    """The attempt folder whose checkpoint the cell's ok record reports (none without an ok record); a record
    that does not name its checkpoint is matched by its start time, which ends the folder's name."""
    try:
        record = read_record(record_path)
    except (OSError, ValueError):
        return set()
    if record.get("status") != "ok":
        return set()
    if "checkpoint" in record:
        return {Path(record["checkpoint"]).parent.name}
    return {p.name for p in checkpoints.glob(f"attempt-*-{int(record.get('started', -1))}")}


def _alive_here(name: str) -> bool:
    """Whether the attempt `name` belongs to another process that is alive on this host."""
    fields = name.removeprefix("attempt-").rsplit("-", 2)  # [host,] pid, start time; older names have no host
    host, pid = fields[0] if len(fields) == 3 else "", fields[-2] if len(fields) >= 2 else ""
    if not pid.isdigit() or int(pid) == os.getpid() or host not in ("", socket.gethostname()):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_dead_attempts(checkpoints: Path, keep: set[str]) -> list[Path]:
    """Remove the attempt folders under `checkpoints` (one cell's) that no record reports: attempts killed,
    interrupted or failed before writing an ok record. Called only by the process about to run the cell, which is
    safe because a cell runs once at a time (shards split the cells); an attempt whose process is alive on this
    host is kept anyway (another host's cannot be checked). Returns the removed folders."""
    removed = []
    for folder in sorted(checkpoints.glob("attempt-*")) if checkpoints.is_dir() else []:
        if folder.name in keep or not folder.is_dir() or _alive_here(folder.name):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def run_cell(cfg: DictConfig) -> dict[str, Any]:
    """Fit, test the best checkpoint, and return a record (status "ok"); exceptions propagate to the caller."""
    quiet_lightning()
    started, cpu_started = time.time(), time.process_time()
    environment.reset_peak_memory()
    plain = to_plain(cfg)
    identity = cell_identity(cfg)
    cid = identity_digest(identity)
    sweep_dir = Path(cfg.output) / cfg.sweep
    cell_dir = sweep_dir / "runs" / cid
    attempt = cell_dir / "checkpoints" / attempt_name(started)
    if is_global_zero():
        remove_dead_attempts(attempt.parent, recorded_attempts(cells_dir(cfg.output, cfg.sweep) / f"{cid}.json",
                                                               attempt.parent))
    if cfg.trainer.num_threads:
        torch.set_num_threads(cfg.trainer.num_threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, model = build(cfg)
    trainer, checkpoint, wandb_logger = make_trainer(cfg, model, cell_dir, attempt, plain)
    deterministic = trainer_deterministic(cfg)
    try:
        fit_start = time.time()
        trainer.fit(model, datamodule=datamodule)
        fit_seconds = time.time() - fit_start
        if checkpoint.best_model_path == "":
            raise RuntimeError(f"no checkpoint was saved: the monitored metric <{model.monitor}> was never "
                               "logged. Make sure the validation split is not empty.")
        test_start = time.time()
        results = trainer.test(model, datamodule=datamodule, ckpt_path="best", verbose=False,
                               weights_only=True)
        test_seconds = time.time() - test_start
        test_metrics = {k: float(v) for k, v in results[0].items()}
        if wandb_logger is not None and trainer.is_global_zero:  # other ranks hold a dummy experiment
            wandb_logger.experiment.summary.update(test_metrics)
    finally:
        tracking.finish_wandb(wandb_logger)
    best = checkpoint.best_model_score
    return {
        "cell_id": cid,
        "status": "ok",
        "model": cfg.model,
        "dataset": cfg.dataset,
        "seed": cfg.seed,
        "fold": cfg.fold,
        "task": datamodule.task.to_dict(),
        "primary": {"name": model.monitor.split("/", 1)[1], "higher_is_better": model.monitor_mode == "max"},
        "config": plain,
        "identity": identity,  # what the cell id hashes: resolved arguments, trainer settings, code hash
        "code_hash": identity["code"],
        "metrics": test_metrics,
        "best_val": {"name": model.monitor, "value": float(best) if best is not None else None},
        "checkpoint": (attempt / Path(checkpoint.best_model_path).name).relative_to(sweep_dir).as_posix(),
        "epochs": int(trainer.current_epoch),  # epochs completed
        "deterministic": deterministic,  # what Lightning was given (see effective_deterministic)
        "torch_threads": torch.get_num_threads(),  # changes float reduction order; not part of the cell id
        "fit_seconds": round(fit_seconds, 3),
        "test_seconds": round(test_seconds, 3),
        # CPU seconds of this process (all its threads) for the whole cell: unlike wall-clock times, not inflated
        # by other load on the machine; with one torch thread, the cell's time on an idle core
        "cpu_seconds": round(time.process_time() - cpu_started, 3),
        "parameters": count_parameters(model),
        "peak_memory_mb": round(environment.peak_memory_mb(), 1),
        "split_sizes": datamodule.split_sizes(),
        "versions": environment.package_versions(),
        "git_commit": environment.git_commit(),
        "started": started,
        "finished": time.time(),
    }
