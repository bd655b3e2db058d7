"""`emobench perf report`: speed, size and framework overhead of every model x twin of a sweep (default: the
default sweep), the data-preparation throughput of the real readers, and optionally a sweep's wall time, written
as CSV files and one Markdown report.

Per model x twin (the sweep's cell at seed 0, fold 0, with its model and data settings):
- parameters; median training-step time after warm-up (forward, every loss, backward, clipping, optimiser step on
  one training batch, outside Lightning) and samples per second; peak memory of the step timing (CUDA: peak
  allocated; CPU: the process's peak resident set above its size when the cell started).
- framework overhead of a short fit through the runner's own Trainer (`run_cell.make_trainer`: checkpoint and
  early-stopping callbacks, metrics, CSV logging, W&B in `--wandb` mode; progress bar off as in the README's
  `emobench sweep --workers 2`, on with `--progress-bar`):
      overhead = 1 - (train steps x median step + validation batches x median evaluation step) / fit wall time.
  It is the issue's 1 - steps x median step / fit time, with the validation forward passes (sanity check
  included), which every epoch of a sweep runs, counted as work rather than overhead. `overhead_cpu` is the same
  ratio in process CPU time: on a machine shared with other work, wall time also counts the time the process
  waited for a core, CPU time does not (compare that column there). `overhead_in_fit` = 1 - (the fit's own batch
  windows) / fit wall time, timed inside the same fit (`fit_clock.FitClock`): immune to work that changes as the
  model trains and to the machine's drift between step timing and fit; a lower bound (the windows hold
  Lightning's hooks inside a step).
`--breakdown` also fits each cell as a plain loop and through a bare Trainer (`perf_breakdown`) and splits the
overhead into data + loop, Lightning, and the runner's callbacks, metrics and logging.
Data: `benchmark/perf_data.py` (a reader registers its entry there). Sweep: `--sweep NAME` runs `emobench sweep
NAME` in a subprocess into a temporary folder and reports its wall time and cell count.

`--device cuda` runs the model rows on the GPU with bf16 autocast where the GPU supports it (`--precision auto`),
the fits with Lightning's "bf16-mixed"; `--precision bf16` also runs autocast on the CPU (the same code path).
Timings of a shared machine move with its load: compare rows of one run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from emobench.benchmark.perf_summary import overhead_summary

PRECISIONS = ("auto", "32", "bf16")


@dataclass
class ModelPerfRow:
    model: str
    dataset: str
    device: str
    precision: str
    parameters: int
    batch_size: int
    step_ms: float
    samples_per_s: float
    eval_step_ms: float
    peak_memory_mb: float
    fit_s: float
    train_steps: int
    val_batches: int
    overhead: float
    overhead_cpu: float
    overhead_in_fit: float
    fit_loop_s: float = float("nan")
    fit_bare_s: float = float("nan")
    overhead_data_loop: float = float("nan")
    overhead_lightning: float = float("nan")
    overhead_runner: float = float("nan")


@dataclass
class SweepPerfRow:
    sweep: str
    cells: int
    workers: int
    wall_s: float
    returncode: int


def resolve_device(device: str, precision: str) -> tuple[torch.device, str]:
    """(device, "32" or "bf16") for `--device` / `--precision`; raises ValueError with what to do."""
    if precision not in PRECISIONS:
        raise ValueError(f"perf report: <--precision={precision}> must be one of {PRECISIONS}.")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"perf report: <--device={device}> is not a device name ({err}). Make sure it is cpu or "
                         "cuda (cuda:N for another GPU).") from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"perf report: <--device={device}> must be cpu or cuda[:N], got a {dev.type} device.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"perf report: <--device={device}> but torch sees no CUDA device (torch "
                             f"{torch.__version__}). Make sure a GPU and a CUDA build of torch are present, or use "
                             "--device cpu.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"perf report: <--device={device}> but only {torch.cuda.device_count()} CUDA device(s) "
                             "exist. Make sure the index is one of them.")
    if precision == "auto":
        precision = "bf16" if dev.type == "cuda" and torch.cuda.is_bf16_supported() else "32"
    return dev, precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on the device, or nothing for full precision."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def trainer_settings(device: torch.device, precision: str) -> dict:
    """The cell's trainer keys for the device and precision (Lightning names)."""
    return {"accelerator": "cuda" if device.type == "cuda" else "cpu",
            "devices": [device.index] if device.index is not None else 1,
            "precision": "bf16-mixed" if precision == "bf16" else "32-true"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model, optimizer: torch.optim.Optimizer, batch, clip: float,
               context: contextlib.AbstractContextManager) -> torch.Tensor:
    """One training step as the Trainer runs it: zero_grad, the objective (inside `context`, e.g. autocast),
    backward, gradient-norm clipping when `clip` > 0, optimiser step. Returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    with context:
        loss = model.training_objective(batch)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss


def step_times(model, batch, clip: float, device: torch.device, precision: str, steps: int,
               warmup: int) -> dict[str, list[float]]:
    """Wall and process CPU seconds of training steps ("train", "train_cpu") and evaluation steps ("eval",
    "eval_cpu") over `steps` timed repeats after `warmup` untimed ones."""
    optimizer = model.build_optimizer()
    times: dict[str, list[float]] = {"train": [], "train_cpu": [], "eval": [], "eval_cpu": []}
    for i in range(warmup + steps):
        model.train()
        _sync(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        train_step(model, optimizer, batch, clip, autocast(device, precision))
        _sync(device)
        middle, middle_cpu = time.perf_counter(), time.process_time()
        model.eval()
        with torch.no_grad(), autocast(device, precision):
            model(batch)
        _sync(device)
        if i >= warmup:
            times["train"].append(middle - start)
            times["train_cpu"].append(middle_cpu - start_cpu)
            times["eval"].append(time.perf_counter() - middle)
            times["eval_cpu"].append(time.process_time() - middle_cpu)
    return times


def measure_cell(cell, device: torch.device, precision: str, steps: int, warmup: int, epochs: int | None,
                 wandb: str, output: Path, breakdown: bool = False, progress_bar: bool = False) -> ModelPerfRow:
    """One model x twin: step times on one training batch (half before, half after the fit), and a short fit
    through the runner's Trainer; with `breakdown`, also the plain-loop and bare-Trainer fits of
    `perf_breakdown` for as many epochs."""
    import lightning as L
    from lightning.fabric.utilities.apply_func import move_data_to_device
    from omegaconf import OmegaConf

    from emobench.benchmark import environment
    from emobench.benchmark.config import CellConfig, to_plain
    from emobench.benchmark.run_cell import build, make_trainer, quiet_lightning, trainer_deterministic
    from emobench.models import count_parameters

    quiet_lightning()
    cfg = OmegaConf.merge(OmegaConf.structured(CellConfig), cell.config)
    cfg.trainer.update(trainer_settings(device, precision))
    cfg.trainer.progress_bar = progress_bar  # off as in `emobench sweep --workers 2` and --quiet
    if epochs is not None:  # else the sweep's own epochs and early stopping
        cfg.trainer.max_epochs, cfg.trainer.min_epochs, cfg.trainer.patience = epochs, epochs, epochs + 1
    cfg.wandb.mode, cfg.output = wandb, str(output)
    start_mb = _released_resident_mb() if device.type == "cpu" else 0.0
    environment.reset_peak_memory()
    L.seed_everything(0, workers=True, verbose=False)
    datamodule, model = build(cfg)
    model.to(device)
    batch = move_data_to_device(next(iter(datamodule.train_dataloader())), device)
    clip = float(cfg.trainer.gradient_clip_val or 0.0)
    times = step_times(model, batch, clip, device, precision, (steps + 1) // 2, warmup)
    peak = environment.peak_memory_mb() - start_mb
    timed_model = model

    L.seed_everything(0, workers=True, verbose=False)
    datamodule, model = build(cfg)  # a fresh model: the fit starts as the sweep's does
    cell_dir = output / "runs" / f"{cell.model}-{cell.dataset}"
    trainer, _, wandb_logger = make_trainer(cfg, model, cell_dir, cell_dir / "checkpoints", to_plain(cfg))
    from emobench.benchmark import tracking
    from emobench.benchmark.fit_clock import FitClock

    clock = FitClock(model, device)

    try:
        start, start_cpu = time.perf_counter(), time.process_time()
        trainer.fit(model, datamodule=datamodule)
        _sync(device)
        fit, fit_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    finally:
        tracking.finish_wandb(wandb_logger)
    if steps > 1:  # the other half of the timed steps after the fit: both halves see the load around it
        after = step_times(timed_model, batch, clip, device, precision, steps // 2, 1)
        times = {k: v + after[k] for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    epochs_run = trainer.current_epoch
    val_per_epoch = len(datamodule.val_dataloader())
    val_batches = epochs_run * val_per_epoch + min(trainer.num_sanity_val_steps, val_per_epoch)
    train_steps = int(trainer.global_step)
    overhead = 1.0 - (train_steps * median["train"] + val_batches * median["eval"]) / fit
    overhead_cpu = 1.0 - (train_steps * median["train_cpu"] + val_batches * median["eval_cpu"]) / fit_cpu
    if clock.batches != {"train": train_steps, "validation": val_batches}:
        raise RuntimeError(f"perf report: {cell.model} x {cell.dataset}: the fit clock saw {clock.batches} batches, the "
                           f"fit ran {train_steps} training steps and {val_batches} validation batches, so its "
                           "in-fit overhead would be wrong. Make sure accumulate_grad_batches is 1 and the model "
                           "does not replace its on_*_batch_* hooks after construction.")
    step = median["train"]
    row = ModelPerfRow(cell.model, cell.dataset, str(device), precision, count_parameters(model), len(batch),
                       round(1000 * step, 3), round(len(batch) / step, 1), round(1000 * median["eval"], 3),
                       round(peak, 1), round(fit, 3), train_steps, val_batches, round(overhead, 4),
                       round(overhead_cpu, 4), round(1.0 - clock.seconds / fit, 4))
    if breakdown:
        from emobench.benchmark import perf_breakdown

        keys = {**trainer_settings(device, precision), "deterministic": trainer_deterministic(cfg)}
        L.seed_everything(0, workers=True, verbose=False)
        bare, bare_steps = perf_breakdown.bare_fit_seconds(*build(cfg), epochs_run, clip, keys)
        L.seed_everything(0, workers=True, verbose=False)
        loop, loop_steps, loop_val = perf_breakdown.loop_seconds(
            *build(cfg), epochs_run, clip, device, lambda: autocast(device, precision),
            val_batches - epochs_run * val_per_epoch)
        if not bare_steps == loop_steps == train_steps or loop_val != val_batches:
            raise RuntimeError(f"perf report --breakdown: {cell.model} x {cell.dataset}: the reference fits did other "
                               f"work than the runner's fit (steps {train_steps} / bare {bare_steps} / loop "
                               f"{loop_steps}, validation batches {val_batches} / loop {loop_val}), so their times "
                               "cannot be compared. Make sure the trainer limits (limit_*_batches) are unset.")
        work = train_steps * median["train"] + val_batches * median["eval"]
        split = perf_breakdown.shares(work, loop, bare, fit)
        row.fit_loop_s, row.fit_bare_s = round(loop, 3), round(bare, 3)
        row.overhead_data_loop, row.overhead_lightning, row.overhead_runner = (
            round(split[k], 4) for k in ("data_loop", "lightning", "runner"))
    return row


def _released_resident_mb() -> float:
    """The process's resident set (Linux) after a garbage collection and, with glibc, `malloc_trim(0)`, which
    returns freed heap pages to the system: a cell's CPU peak is counted above this, not above pages that earlier
    cells freed but the allocator kept (those would be reused unseen)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with contextlib.suppress(OSError, StopIteration):
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 2**10
    return 0.0


def model_cells(sweep: str, models: Sequence[str] | None, datasets: Sequence[str] | None) -> list:
    """The sweep's cells at its first seed and fold, one per model x dataset, optionally filtered."""
    from emobench.benchmark.grid import load_grid

    _, cells = load_grid(sweep)
    first = {}
    for cell in cells:
        if (models and cell.model not in models) or (datasets and cell.dataset not in datasets):
            continue
        first.setdefault((cell.model, cell.dataset), cell)
    if not first:
        raise ValueError(f"perf report: no cell of sweep <{sweep}> matches <--models={list(models or [])}> and "
                         f"<--datasets={list(datasets or [])}>. Make sure the names are in the sweep.")
    return list(first.values())


def time_sweep(sweep: str, workers: int, overrides: Sequence[str], workdir: Path | None) -> SweepPerfRow:
    """Wall time of `emobench sweep SWEEP` in a fresh subprocess (leaderboards off, W&B disabled)."""
    from emobench.benchmark.grid import load_grid

    cells = len(load_grid(sweep, list(overrides))[1])
    with tempfile.TemporaryDirectory(prefix="emobench-perf-sweep-", dir=workdir) as tmp:
        command = [sys.executable, "-m", "emobench.benchmark.cli", "sweep", sweep, "--output", tmp, "--quiet",
                   "--no-leaderboard", "--wandb", "disabled", "--workers", str(workers), *overrides]
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        print(f"warning: the sweep exited with code {done.returncode}: {done.stderr[-2000:]}", file=sys.stderr)
    return SweepPerfRow(sweep, cells, workers, round(wall, 1), done.returncode)


def _table(rows: Sequence) -> str:
    """Every field as a column, except those empty (NaN) in every row: the breakdown's without `--breakdown`."""
    if not rows:
        return "(none)\n"
    names = [f.name for f in fields(rows[0])
             if not all(isinstance(v := getattr(r, f.name), float) and math.isnan(v) for r in rows)]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(f"{getattr(r, n):,}" if type(getattr(r, n)) is int else str(getattr(r, n))
                                for n in names) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, rows: Sequence) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(rows[0])])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} with {torch.get_num_threads()} "
            f"threads{gpu}")


def write_report(out: Path, model_rows: Sequence[ModelPerfRow], data_rows: Sequence, sweep_rows: Sequence,
                 note: str) -> Path:
    """perf_models.csv, perf_data.csv, perf_sweep.csv (those with rows) and perf_report.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("perf_models", model_rows), ("perf_data", data_rows), ("perf_sweep", sweep_rows)):
        if rows:
            _write_csv(out / f"{name}.csv", rows)
    text = [f"# emobench perf report\n\n{note}\n\nMachine: {machine()}.\n",
            "## Models x twins\n\noverhead = 1 - (train steps x step + validation batches x evaluation step) / "
            "fit wall time, for a fit through the runner's Trainer; overhead_cpu: the same in process CPU time; "
            "overhead_in_fit: 1 - the fit's own training and validation batches (timed inside the fit, from the "
            "model's batch-start to its batch-end hook) / fit wall time, a lower bound. "
            "With --breakdown, fit_loop_s and fit_bare_s are the same epochs as a plain loop over the loaders and "
            "through a Trainer without callbacks, loggers or metrics, and the overhead splits into "
            "overhead_data_loop (loop - work), overhead_lightning (bare - loop) and overhead_runner (fit - bare), "
            "shares of the fit's wall time. "
            "peak_memory_mb: CUDA peak allocated, or the CPU process's peak resident set above its size at the "
            "cell's start.\n", overhead_summary(model_rows), _table(model_rows),
            "## Data preparation (real readers, generated files)\n\nfirst setup = decode the files + write the "
            "cache; cached setup = a fresh datamodule on the same cache.\n", _table(data_rows)]
    if sweep_rows:
        text += ["## Sweep wall time\n", _table(sweep_rows)]
    path = out / "perf_report.md"
    path.write_text("\n".join(text))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emobench perf report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("perf"), help="folder for the CSV files and the report")
    parser.add_argument("--grid", default="default", help="sweep whose model x twin cells are measured")
    parser.add_argument("--models", nargs="*", help="only these models (default: all of the sweep)")
    parser.add_argument("--datasets", nargs="*", help="only these datasets (default: all of the sweep)")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per cell (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the timed fit (default: the sweep's max_epochs and early stopping)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 autocast on a GPU that supports it, else full precision")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also fit each cell as a plain loop and through a bare Trainer, and split the overhead "
                             "into data + loop, Lightning and the runner's callbacks, metrics and logging")
    parser.add_argument("--progress-bar", action="store_true",
                        help="time the fits with Lightning's progress bar (a one-worker sweep's); default off, as "
                             "`emobench sweep --workers N` (N > 1) and --quiet run them")
    parser.add_argument("--wandb", default="disabled", choices=("disabled", "offline"),
                        help="W&B mode during the timed fits (offline adds W&B's logging to the overhead)")
    parser.add_argument("--data", nargs="*", help="data entries to time (default: all registered; `--data` without names: skip)")
    parser.add_argument("--data-fraction", type=float, default=1.0, help="share of each dataset's full size")
    parser.add_argument("--no-models", action="store_true", help="skip the model x twin rows")
    parser.add_argument("--sweep", help="also time this sweep end to end (e.g. default; long)")
    parser.add_argument("--sweep-workers", type=int, default=1, help="--workers of the timed sweep")
    parser.add_argument("--sweep-override", nargs="*", default=[], help="key=value overrides of the timed sweep")
    args = parser.parse_args(argv)
    from emobench.benchmark import perf_data

    if args.data != []:
        perf_data.check_request(args.data, args.data_fraction)  # before the long model part, not after it
    device, precision = resolve_device(args.device, args.precision)
    if args.threads:
        torch.set_num_threads(args.threads)
    model_rows: list[ModelPerfRow] = []
    if not args.no_models:
        with tempfile.TemporaryDirectory(prefix="emobench-perf-fit-") as tmp:
            for cell in model_cells(args.grid, args.models, args.datasets):
                row = measure_cell(cell, device, precision, args.steps, args.warmup, args.epochs, args.wandb,
                                   Path(tmp), args.breakdown, args.progress_bar)
                model_rows.append(row)
                print(f"{row.model:<13} {row.dataset:<18} {row.parameters:>11,} params  step {row.step_ms:9.2f} ms  "
                      f"{row.samples_per_s:9.1f} samples/s  peak {row.peak_memory_mb:8.1f} MB  overhead "
                      f"{100 * row.overhead:5.1f} % (cpu {100 * row.overhead_cpu:5.1f} %, in fit {100 * row.overhead_in_fit:5.1f} %)"
                      + (f" = data+loop {100 * row.overhead_data_loop:.1f} + Lightning {100 * row.overhead_lightning:.1f}"
                         f" + runner {100 * row.overhead_runner:.1f} %" if args.breakdown else ""), flush=True)
    data_rows = [] if args.data == [] else perf_data.measure(args.data, args.data_fraction)
    for row in data_rows:
        print(f"data {row.entry:<16} {row.dataset:<15} {row.samples:>7} samples {row.file_mb:>8.1f} MB  first "
              f"{row.first_setup_s:8.2f} s ({row.samples_per_s:,.0f} samples/s)  cached {row.cached_setup_s:.2f} s",
              flush=True)
    sweep_rows = [time_sweep(args.sweep, args.sweep_workers, args.sweep_override, None)] if args.sweep else []
    for row in sweep_rows:
        print(f"sweep {row.sweep}: {row.cells} cells, {row.workers} worker(s), {row.wall_s:.1f} s", flush=True)
    epochs = f"{args.epochs} epochs" if args.epochs else "the sweep's epochs and early stopping"
    note = (f"`emobench perf report` on {device} ({'bf16 autocast' if precision == 'bf16' else 'full precision'}), "
            f"grid {args.grid}, {args.steps} timed steps after {args.warmup} warm-up, fits of {epochs}, "
            f"W&B {args.wandb}, progress bar {'on' if args.progress_bar else 'off'}, data at {args.data_fraction:g} of full size.")
    path = write_report(args.out, model_rows, data_rows, sweep_rows, note)
    print(f"report written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
