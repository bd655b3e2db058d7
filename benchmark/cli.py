"""The `emobench` command: list, run (one cell), and the sweep/table/perf commands of the runner."""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emobench.benchmark.config import ConfigError, from_cli, merge_cell
from emobench.datamodules.registry import UnknownNameError

console = Console()
USAGE_ERRORS = (ConfigError, UnknownNameError)


def summary(cls: type) -> str:
    """The first line of a class docstring: its one-line summary."""
    lines = (cls.__doc__ or "").strip().splitlines()
    return lines[0] if lines else "(no docstring)"


def cmd_list(args: argparse.Namespace) -> int:
    """Print every registered model and dataset, a user's own from `imports=[...]` included."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.registry import import_user_module
    from emobench.datamodules.specs import MODALITY_GROUPS
    from emobench.models import MODELS

    overrides = from_cli(args.overrides)
    unknown = sorted(set(overrides) - {"imports"})
    if unknown:
        raise ConfigError(f"emobench list takes only imports=[...], got {unknown}. Example: emobench list "
                          "imports=[examples/gated_fusion.py,examples/npy_dataset.py].")
    for path in overrides.get("imports", []):
        import_user_module(path)
    models = Table(title="Models")
    models.add_column("name", no_wrap=True)
    for col in ("class", "summary"):
        models.add_column(col)
    for name in MODELS.names():
        cls = MODELS.get(name)
        models.add_row(escape(name), escape(f"{cls.__module__}.{cls.__name__}"), escape(summary(cls)))
    datasets = Table(title="Datasets")
    datasets.add_column("name", no_wrap=True)
    for col in ("task", "labels", "modalities (name kind dim x steps)", "protocol", "z-scored"):
        datasets.add_column(col)
    for name in DATAMODULES.names():
        dm = DATAMODULES.get(name)()
        task, specs = dm.describe()
        mods = ", ".join(f"{m.name} {m.kind} {m.dim}x{m.seq_len}" + ("" if m.kind in MODALITY_GROUPS else f" ({m.group})")
                         for m in specs)
        cells = (name, task.kind, ", ".join(task.labels), mods, dm.protocol, "yes" if dm.normalize else "no (raw)")
        datasets.add_row(*(escape(str(text)) for text in cells))
    console.print(models)
    console.print(datasets)
    if args.verbose:
        for table in phenomena_tables():
            console.print(table)
    return 0


def phenomena_tables() -> list[Table]:
    """Each twin's phenomenon strengths at its defaults, and what each knob means (`emobench list --verbose`)."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.synthetic.phenomena import DESCRIPTIONS, KNOBS
    from emobench.datamodules.synthetic.twin import SyntheticTwin

    strengths = Table(title="Twin phenomena (default strengths; 0 = off; set any as a data option, e.g. "
                            "data_args.locality=0)")
    strengths.add_column("twin", no_wrap=True)
    for knob in KNOBS:
        strengths.add_column(knob, justify="right")
    for name in DATAMODULES.names():
        cls = DATAMODULES.get(name)
        if issubclass(cls, SyntheticTwin):
            levels = cls().phenomena.to_dict()
            strengths.add_row(escape(name), *(f"{levels[k]:g}" for k in KNOBS))
    legend = Table(title="Phenomena")
    for col in ("knob", "what it generates", "value"):
        legend.add_column(col)
    for knob in KNOBS:
        legend.add_row(knob, *(escape(text) for text in DESCRIPTIONS[knob]))
    return [strengths, legend]


def cmd_run(args: argparse.Namespace) -> int:
    """Train and test one cell, write its record, print its test metrics."""
    from emobench.benchmark.arguments import check_cell_arguments
    from emobench.benchmark.identity import cell_id
    from emobench.benchmark.run_cell import is_global_zero, run_cell
    from emobench.benchmark.store import cells_dir, write_record

    cfg = merge_cell(from_cli(args.overrides), source="command line")
    check_cell_arguments(cfg)  # before any output: a misspelt or mistyped option is a usage error
    console.print("[bold]emobench run[/bold] " + escape(f"model={cfg.model} dataset={cfg.dataset} seed={cfg.seed} "
                                                       f"fold={cfg.fold} cell={cell_id(cfg)}"), highlight=False)
    record = run_cell(cfg)
    if not is_global_zero():  # another process of a multi-process (ddp) run: rank 0 writes and prints
        return 0
    path = write_record(record, cells_dir(cfg.output, cfg.sweep))
    table = Table(title=escape(f"{cfg.model} on {cfg.dataset} (seed {cfg.seed}, fold {cfg.fold}): test metrics"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(record["metrics"].items()):
        table.add_row(escape(key), f"{value:.4f}")
    console.print(table)
    console.print(escape(f"best {record['best_val']['name']} = {record['best_val']['value']:.4f} after "
                         f"{record['epochs']} epochs; record written to {path}"), highlight=False, soft_wrap=True)
    return 0


# Commands implemented in their own modules: name -> (module, help). Each module defines
# `add_arguments(parser)` and `command(args) -> int`; it is imported only when its command runs.
MODULE_COMMANDS: dict[str, tuple[str, str]] = {
    "sweep": ("emobench.benchmark.sweep_cli", "run a sweep: every model x dataset x seed x fold of a YAML file"),
    "table": ("emobench.benchmark.leaderboard_cli", "write leaderboards (CSV, Markdown, LaTeX, PNG) of a sweep folder"),
    "perf": ("emobench.benchmark.perf", "print speed and size figures (step time, parameters, cache, prepare)"),
    "prepare": ("emobench.benchmark.prepare_cli", "read a dataset once and fill its cache (physiological readers: "
                "per-subject features, with a progress bar)"),
    "check": ("emobench.benchmark.check_cli", "check a method or dataset (yours too) against the contracts of the tests"),
    "tune": ("emobench.benchmark.tune", "search learning rates / sizes of a sweep on the validation splits only"),
}


def build_parser(command_name: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the module of `command_name` (the first argument) is imported."""
    parser = argparse.ArgumentParser(prog="emobench", description="Multi-modal emotion recognition benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list models and datasets: emobench list [imports=[my_model.py,...]]")
    listing.add_argument("overrides", nargs="*", help="imports=[...]: user modules whose classes to list too")
    listing.add_argument("--verbose", "-v", action="store_true",
                         help="also print each synthetic twin's phenomena and their strengths")
    listing.set_defaults(handler=cmd_list)
    run = sub.add_parser("run", help="run one cell: emobench run model=<m> dataset=<d> seed=<s> [key=value ...]")
    run.add_argument("overrides", nargs="*", help="key=value config overrides")
    run.set_defaults(handler=cmd_run)
    for name, (module_name, help_text) in MODULE_COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        command.set_defaults(handler_module=module_name)
        if name == command_name:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(handler=module.command)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return args.handler(args)
    except USAGE_ERRORS as err:
        print_error(err)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print_error(err)
        return 1


def print_error(err: BaseException, console: Console = console) -> None:
    """`error: <message>`, the message shown as written (a path or key with `[...]` in it is not markup)."""
    console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False)


if __name__ == "__main__":
    sys.exit(main())
