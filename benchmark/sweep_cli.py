"""`emobench sweep [SWEEP.yaml] [--output DIR] [options] [key=value ...]`: argument parsing and glue between the
grid (`benchmark.grid`), the launchers (`benchmark.launchers`), execution (`benchmark.sweep`) and the leaderboard
writer (`benchmark.leaderboard`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from emobench.benchmark.config import ConfigError
from emobench.benchmark.tracking import WANDB_MODES

DEFAULT_SWEEP = "default"


def add_arguments(parser: argparse.ArgumentParser, remainder: bool = True) -> None:
    """The sweep's options. The positionals are taken raw (`argparse.REMAINDER`) and parsed again in `command` with
    `parse_intermixed_args`, so options may come before, between or after the sweep file and the overrides."""
    parser.description = (
        "Run every model x dataset x seed x fold cell of a sweep file. Records land in "
        "<output>/<sweep name>/cells/<cell id>.json and leaderboards in <output>/<sweep name>/; a second run "
        "runs only the cells without a record.")
    parser.add_argument("args", nargs=argparse.REMAINDER if remainder else "*", metavar="[SWEEP] [key=value ...]",
                        help="the sweep file, or a name in experiments/ (default: default), then dotlist overrides: "
                             "grid keys (models=[mult] seeds=[0] folds=all name=x) or cell keys "
                             "(trainer.max_epochs=3 data_args.num_samples=500)")
    parser.add_argument("--output", help="root folder of the results (default: the config's output, `outputs`)")
    run = parser.add_argument_group("which cells run")
    run.add_argument("--rerun-failed", action="store_true", help="also rerun cells whose record says failed")
    run.add_argument("--force", action="store_true", help="rerun every cell, overwriting its record")
    run.add_argument("--shard", metavar="i/N", help="run only cells k with k mod N == i (N shards partition the grid)")
    run.add_argument("--dry-run", action="store_true", help="list the cells and their record status; run nothing")
    where = parser.add_argument_group("where cells run")
    where.add_argument("--workers", type=int, default=1,
                       help="local worker processes, each with cores // workers torch threads (1: in this process)")
    where.add_argument("--launcher", choices=("local", "slurm"), default="local",
                       help="slurm: submit the remaining cells as one SLURM job array through submitit (falls back "
                            "to submitit's local executor when SLURM is absent)")
    where.add_argument("--slurm-partition", help="SLURM partition")
    where.add_argument("--timeout-min", type=int, default=60, help="time limit of each array task (minutes)")
    where.add_argument("--cpus-per-task", type=int, default=2, help="CPUs of each array task (= its torch threads)")
    where.add_argument("--gpus-per-node", type=int, default=0, help="GPUs of each array task")
    where.add_argument("--mem-gb", type=float, help="memory of each array task (GB)")
    where.add_argument("--array-parallelism", type=int, help="at most this many array tasks at once")
    where.add_argument("--no-wait", action="store_true",
                       help="slurm: submit and return (then `emobench table <output>/<sweep>` when the jobs end)")
    out = parser.add_argument_group("output")
    out.add_argument("--wandb", choices=WANDB_MODES, help="W&B mode of every cell (default: the config's, offline)")
    out.add_argument("--quiet", action="store_true", help="plain log lines; no progress bars")
    out.add_argument("--no-leaderboard", action="store_true", help="do not write leaderboards at the end")


def reparse(args: argparse.Namespace) -> argparse.Namespace:
    """Options given after the first positional (`emobench sweep smoke --workers 2 seeds=[0]`) win over the
    defaults; those given before it were parsed already."""
    parser = argparse.ArgumentParser(prog="emobench sweep")
    add_arguments(parser, remainder=False)
    late = parser.parse_intermixed_args(args.args)
    merged = vars(args).copy()
    for key, value in vars(late).items():
        if key == "args" or value != parser.get_default(key):
            merged[key] = value
    return argparse.Namespace(**merged)


def split_positionals(items: list[str]) -> tuple[str, list[str]]:
    """(sweep file or name, overrides): the first item is the sweep unless it is a key=value override."""
    if items and ("=" not in items[0] or Path(items[0]).is_file()):
        return items[0], items[1:]
    return DEFAULT_SWEEP, items


def write_leaderboards_of(sweep_dir: Path, wandb_mode: str | None, quiet: bool) -> bool:
    """Call the leaderboard writer; False (and a message) when it is missing or fails."""
    from emobench.benchmark.sweep import console

    try:
        from emobench.benchmark.leaderboard import write_leaderboards
    except ImportError as err:
        console.print(f"[yellow]leaderboards not written:[/yellow] benchmark.leaderboard.write_leaderboards is not "
                      f"available ({escape(str(err))}).", highlight=False)
        return False
    try:
        write_leaderboards(sweep_dir, wandb_mode=wandb_mode, quiet=quiet)
    except Exception as err:  # noqa: BLE001 - the cells are done; report and let the user retry
        console.print(f"[red]leaderboards not written:[/red] {type(err).__name__}: {escape(str(err))}. Make sure the "
                      f"records are readable, then run `emobench table {escape(str(sweep_dir))}`.", highlight=False)
        return False
    return True


def command(args: argparse.Namespace) -> int:
    from emobench.benchmark import grid, launchers
    from emobench.benchmark.store import cells_dir
    from emobench.benchmark.sweep import (
        console,
        describe_grid,
        existing_status,
        print_summary,
        run_sweep,
        select,
    )

    args = reparse(args)
    if args.workers < 1:
        raise ConfigError(f"<--workers={args.workers}> must be >= 1.")
    sweep_file, overrides = split_positionals(args.args)
    forced = [f"wandb.mode={args.wandb}"] if args.wandb else []
    lightning_bar = not args.quiet and args.workers == 1 and args.launcher == "local"
    if not lightning_bar:
        forced.append("trainer.progress_bar=false")
    sweep_cfg, cells = grid.load_grid(sweep_file, [*overrides, *forced], output=args.output)
    if args.launcher == "slurm" and cells and not Path(cells[0].config["output"]).is_absolute():
        # array tasks may start in another directory: give them an absolute output (not part of the cell id)
        output = str(Path(cells[0].config["output"]).resolve())
        sweep_cfg, cells = grid.load_grid(sweep_file, [*overrides, *forced], output=output)
    if not cells:
        raise ConfigError(f"sweep {sweep_cfg.name}: the grid is empty. Make sure models, datasets, seeds and folds "
                          "are non-empty.")
    sweep_dir = Path(cells[0].config["output"]) / sweep_cfg.name
    folder = cells_dir(cells[0].config["output"], sweep_cfg.name)
    selected = grid.shard(cells, args.shard)
    status = existing_status(folder)
    if args.dry_run:
        console.print(describe_grid(selected, status))
        todo, _ = select(selected, status, args.rerun_failed, args.force)
        console.print(escape(f"{len(selected)} cells, {len(todo)} to run; records in {folder}"), highlight=False)
        return 0
    todo, _ = select(selected, status, args.rerun_failed, args.force)
    shard_note = f" (shard {args.shard} of {len(cells)})" if args.shard else ""
    console.print("[bold]emobench sweep[/bold] " + escape(f"{sweep_cfg.name}: {len(selected)} cells{shard_note}, "
                  f"{len(todo)} to run, {len(selected) - len(todo)} with a record; records in {folder}"),
                  highlight=False)
    if args.launcher == "slurm":
        options = launchers.SubmititOptions(args.slurm_partition, args.timeout_min, args.cpus_per_task,
                                            args.gpus_per_node, args.mem_gb, args.array_parallelism,
                                            wait=not args.no_wait)
        launch = launchers.Submitit(folder, sweep_dir / "submitit", sweep_cfg.name, options)
    elif args.workers > 1:
        launch = launchers.LocalPool(folder, args.workers, sweep_dir / "logs")
    else:
        launch = launchers.InProcess(folder)
    live = not (lightning_bar and cells[0].config["trainer"]["progress_bar"])
    result = run_sweep(sweep_cfg.name, selected, folder, launch, rerun_failed=args.rerun_failed, force=args.force,
                       plain=args.quiet, live=live)
    if args.launcher == "slurm" and args.no_wait and not result.interrupted:
        jobs = getattr(launch, "jobs", None) or []
        job = jobs[0].job_id.split("_")[0] if jobs else "-"
        console.print(escape(f"submitted {len(jobs)} array task(s) (job {job}); logs in {sweep_dir / 'submitit'}. "
                             f"When they end: emobench table {sweep_dir}"), highlight=False)
        return 0
    print_summary(result)
    code = result.exit_code
    if result.interrupted:
        return code
    if args.shard:
        console.print(escape(f"shard {args.shard} done; when every shard is done: emobench table {sweep_dir}"),
                      highlight=False)
    elif not args.no_leaderboard and (result.ok or result.skipped_ok):
        if not write_leaderboards_of(sweep_dir, args.wandb, args.quiet) and code == 0:
            code = 1
    return code
