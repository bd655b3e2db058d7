"""`emobench table <sweep dir> [--wandb online|offline|disabled] [--quiet]`: write and print the leaderboards of a
sweep folder from its results store."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from emobench.benchmark.tracking import WANDB_MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep_dir", type=Path, help="sweep folder <output>/<sweep name> holding cells/*.json")
    parser.add_argument("--wandb", choices=WANDB_MODES, default=None,
                        help="W&B mode of the leaderboard run (default: the mode the cells ran with, else offline)")
    parser.add_argument("--quiet", action="store_true", help="print only where the leaderboards were written")


def command(args: argparse.Namespace) -> int:
    from emobench.benchmark.leaderboard import NoRecordsError, write_leaderboards

    console = Console()
    try:
        result = write_leaderboards(args.sweep_dir, wandb_mode=args.wandb, quiet=args.quiet)
    except NoRecordsError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False)
        return 1
    if args.quiet:
        console.print(f"Leaderboards written to {result['folder']}", highlight=False, soft_wrap=True)
    return 0
