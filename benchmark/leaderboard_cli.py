"""`emobench table <sweep dir> [--wandb online|offline|disabled] [--quiet] [--imports MODULE ...] [--published
FILE]`: write and print the leaderboards of a sweep folder from its results store."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from emobench.benchmark.tracking import WANDB_MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep_dir", type=Path, help="sweep folder <output>/<sweep name> holding cells/*.json")
    parser.add_argument("--wandb", choices=WANDB_MODES, default=None,
                        help="W&B mode of the leaderboard run (default: the mode the cells ran with, else offline)")
    parser.add_argument("--quiet", action="store_true", help="print only where the leaderboards were written")
    parser.add_argument("--imports", nargs="+", default=[], metavar="MODULE",
                        help="user modules (.py paths or dotted names) the records' cells imported: importing them "
                             "lets the table check those records' code hashes")
    parser.add_argument("--published", type=Path, default=None, metavar="FILE",
                        help="CSV of published results shown beside the measured rows (default: the shipped "
                             "experiments/published.csv; same columns)")


def command(args: argparse.Namespace) -> int:
    from emobench.benchmark.cli import print_error
    from emobench.benchmark.leaderboard import NoRecordsError, write_leaderboards
    from emobench.benchmark.published import PublishedFileError
    from emobench.benchmark.store import UnreadableRecordsError
    from emobench.datamodules.registry import import_user_module

    console = Console()
    for module in args.imports:
        import_user_module(module)
    try:
        result = write_leaderboards(args.sweep_dir, wandb_mode=args.wandb, quiet=args.quiet,
                                    published=args.published)
    except (NoRecordsError, UnreadableRecordsError, PublishedFileError) as err:
        print_error(err, console)
        return 1
    if args.quiet:
        console.print(f"Leaderboards written to {result['folder']}", markup=False, highlight=False, soft_wrap=True)
    return 0
