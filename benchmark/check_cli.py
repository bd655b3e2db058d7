"""`emobench check model=<name> | dataset=<name> [imports=[file.py]] [model_args.k=v] [data_args.k=v]`: run the
contract checks of `benchmark.contract_models` / `benchmark.contract_data` on a method or a dataset (built-in or a
user's own module) and print one table row per check. Exit code 0 when every check passes, 1 when one fails, 2 for
usage errors (unknown name, key or option)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from emobench.benchmark.config import ConfigError, from_cli, group_defaults, to_plain
from emobench.benchmark.contract import CheckResult, error_text, failures

KEYS = ("model", "dataset", "imports", "model_args", "data_args")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check a method or a dataset against the contracts the test suite applies to built-in code: a method on "
        "every task kind with one and three modalities (shapes, finite values, gradients on every parameter, "
        "masks); a dataset's declared specs, targets, masks, folds, label statistics and batches.")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="model=<name> and/or dataset=<name>; imports=[path/to/file.py] to load your own module; "
                             "model_args.<k>=<v> and data_args.<k>=<v> constructor options "
                             "(e.g. model_args.hidden=32 data_args.num_samples=200)")


def parse(overrides: list[str]) -> dict[str, Any]:
    """The plain options; ConfigError for an unknown key or neither model nor dataset."""
    options = to_plain(from_cli(overrides))
    unknown = sorted(set(options) - set(KEYS))
    if unknown:
        raise ConfigError(f"emobench check: unknown key(s) {unknown}; accepted: {list(KEYS)}. Example: "
                          "emobench check model=my_model imports=[my_model.py] model_args.hidden=32.")
    if not options.get("model") and not options.get("dataset"):
        raise ConfigError("emobench check: give model=<name> or dataset=<name> (or both). Make sure your own "
                          "module is listed in imports=[...].")
    imports = options.get("imports") or []
    options["imports"] = [imports] if isinstance(imports, str) else list(imports)
    for key in ("model_args", "data_args"):
        if not isinstance(options.get(key) or {}, dict):
            raise ConfigError(f"emobench check: <{key}={options[key]}> must be key=value pairs such as "
                              f"{key}.hidden=32.")
        options[key] = dict(options.get(key) or {})
    return options


def import_modules(paths: list[str]) -> list[CheckResult]:
    """One row per imported module, naming what it registered; a missing file or module is a usage error, an
    error raised inside the module a failed row."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.registry import import_user_module
    from emobench.models import MODELS

    rows = []
    for path in paths:
        if path.endswith(".py") and not Path(path).expanduser().is_file():
            raise ConfigError(f"imports: no such Python file <{path}>. Make sure the path is right.")
        before = {"model": set(MODELS.names()), "dataset": set(DATAMODULES.names())}
        try:
            import_user_module(path)
        except ModuleNotFoundError as err:
            cause = err.__cause__
            missing = getattr(cause, "name", None) or ""
            if not path.endswith(".py") and missing and (path == missing or path.startswith(f"{missing}.")):
                raise ConfigError(str(err)) from err
            rows.append(CheckResult(f"imports {path}", False, error_text(cause or err)))
        except Exception as err:  # noqa: BLE001 - the user's module raised while importing
            rows.append(CheckResult(f"imports {path}", False, error_text(err)))
        else:
            after = {"model": set(MODELS.names()), "dataset": set(DATAMODULES.names())}
            new = [f"{kind} {name}" for kind in after for name in sorted(after[kind] - before[kind])]
            rows.append(CheckResult(f"imports {path}", True, f"registered {', '.join(new)}" if new else
                                    "registered no new model or dataset"))
    return rows


def prepare(kind: str, name: str, overrides: dict[str, Any]) -> tuple[str, Callable[[], list[CheckResult]]]:
    """(table title, a function running the checks) for `kind` "model" or "dataset": the name and options
    (the compact YAML defaults under the command line's) are validated before anything runs."""
    from emobench.benchmark.arguments import check_arguments
    from emobench.benchmark.contract_data import check_dataset
    from emobench.benchmark.contract_models import check_model
    from emobench.datamodules import DATAMODULES
    from emobench.models import MODELS

    registry, group, key, checker = {"model": (MODELS, "models", "model_args", check_model),
                                     "dataset": (DATAMODULES, "datasets", "data_args", check_dataset)}[kind]
    cls = registry.get(name)
    args = {**to_plain(group_defaults(group, name)).get(key, {}), **overrides}
    check_arguments(key, name, cls, args)
    shown = f" with {args}" if args else (" with its class defaults" if kind == "model" else "")
    return f"{kind} {name} ({cls.__module__}.{cls.__name__}){shown}", lambda: checker(cls, args)


def render(title: str, rows: list[CheckResult]) -> Table:
    table = Table(title=escape(title), title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    style = {"pass": "green", "FAIL": "bold red", "skip": "yellow"}
    for row in rows:
        table.add_row(escape(row.name), f"[{style[row.status]}]{row.status}[/]", escape(row.detail))
    return table


def command(args: argparse.Namespace) -> int:
    from emobench.benchmark.cli import console
    from emobench.benchmark.run_cell import quiet_lightning

    options = parse(args.overrides)
    quiet_lightning()
    imported = import_modules(options["imports"])
    if imported:
        console.print(render("imports", imported))
    rows = list(imported)
    if not failures(imported):
        targets = [prepare("model", options["model"], options["model_args"])] if options.get("model") else []
        if options.get("dataset"):
            targets.append(prepare("dataset", options["dataset"], options["data_args"]))
        for title, run in targets:
            results = run()
            console.print(render(title, results))
            rows += results
    failed = failures(rows)
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(rows)} checks FAILED:[/] "
                      f"{escape('; '.join(r.name for r in failed))}", highlight=False)
        return 1
    console.print(f"[green]all {len(rows)} checks passed[/]", highlight=False)
    return 0
