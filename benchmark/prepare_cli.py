"""`emobench prepare <dataset> --root DIR [--workers N] [key=value ...]`: read a dataset's files once and fill its
cache (physiological readers: per-subject features, with a progress bar per subject), so that sweeps start from
the cache. `key=value` are the dataset's options (`data_args`), e.g. `features=raw segment_seconds=5`."""

from __future__ import annotations

import argparse
import time
from typing import Any

from omegaconf import OmegaConf
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from emobench.benchmark.arguments import check_arguments
from emobench.benchmark.config import ConfigError

console = Console()


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=None, help="the dataset folder (see the reader's docstring)")
    parser.add_argument("--cache-dir", default=None, help="cache folder (default $EMOBENCH_CACHE_DIR or "
                                                          "~/.cache/emobench)")
    parser.add_argument("--workers", type=int, default=1, help="processes computing subjects in parallel")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="registered dataset name (emobench list)")
    _flags(parser)
    parser.add_argument("options", nargs=argparse.REMAINDER,
                        help="dataset options as key=value (data_args), before or after the flags")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given after the dataset name (argparse leaves them in `options`) and the key=value options."""
    flags = argparse.ArgumentParser(prog=f"emobench prepare {args.dataset}", add_help=False)
    _flags(flags)
    flags.set_defaults(root=args.root, cache_dir=args.cache_dir, workers=args.workers)
    parsed, rest = flags.parse_known_args(args.options)
    args.root, args.cache_dir, args.workers = parsed.root, parsed.cache_dir, parsed.workers
    bad = [item for item in rest if "=" not in item or item.startswith("-")]
    if bad:
        raise ConfigError(f"<{bad[0]}> is neither --root, --cache-dir, --workers nor key=value. Make sure dataset "
                          "options are written as key=value, e.g. features=raw.")
    options: dict[str, Any] = OmegaConf.to_container(OmegaConf.from_dotlist(rest)) if rest else {}
    for key, value in (("root", args.root), ("cache_dir", args.cache_dir)):
        if value is not None:
            options[key] = value
    return options


def command(args: argparse.Namespace) -> int:
    from emobench.datamodules import DATAMODULES

    cls = DATAMODULES.get(args.dataset)
    options = _options(args)
    if args.workers < 1:
        raise ConfigError(f"<--workers={args.workers}> must be >= 1.")
    check_arguments("data_args", args.dataset, cls, options)
    datamodule = cls(**options)
    start = time.perf_counter()
    if hasattr(datamodule, "prepare") and hasattr(datamodule, "subject_sources"):
        sources = datamodule.subject_sources()
        computed: list[Any] = []
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(f"{args.dataset}: subject features", total=len(sources))

            def done(source: Any, cached: bool) -> None:
                if not cached:
                    computed.append(source)
                progress.update(task, advance=1, description=f"{args.dataset}: {source.name} "
                                                             f"{'(cached)' if cached else 'done'}")

            datamodule.prepare(done, workers=args.workers)
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in {f for s in computed for f in s.files}) / 1e6
        rate = f", {size / seconds:.1f} MB/s of source files" if computed and seconds > 0 else ""
        console.print(escape(f"{args.dataset}: {len(computed)} subject(s) computed, {len(sources) - len(computed)} "
                             f"already cached, {seconds:.1f} s{rate}"), highlight=False)
    with console.status(f"{args.dataset}: building the dataset cache"):
        arrays = datamodule.arrays
    console.print(escape(f"{args.dataset}: {len(arrays)} samples cached in {datamodule.cache_dir} "
                         f"({time.perf_counter() - start:.1f} s in all)"), highlight=False, soft_wrap=True)
    return 0
