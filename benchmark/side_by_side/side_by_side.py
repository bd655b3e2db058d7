"""Step time of EmoBench's methods against their OFFICIAL code, measured side by side in one process.

Run from a clone of EmoBench, with local checkouts of the official repositories (URLs and commits in
`official.py`; nothing of them is vendored or committed):
    python benchmark/side_by_side/side_by_side.py tailor=/src/TAILOR carat=/src/CARAT \
        mult=/src/Multimodal-Transformer foalnet=/src/Foal-Net [--repeats 5] [--warmup 1] [--threads 2] \
        [--out side_by_side.csv]

For each method it builds the official model with its published settings (`official.py`) and EmoBench's at its
class defaults (the official size) with the method's `experiments/paper.yaml` settings (optimiser, gradient
clipping, batch size), feeds both the same random batch (CMU-MOSEI aligned for TAILOR and CARAT, CMU-MOSEI
unaligned for MulT, Foal-Net's IEMOCAP frames for Foal-Net), and times one full training step of each (forward with
every loss, backward, clipping, optimiser step) ALTERNATELY, the order swapped every repetition, so that both
see the same load on the machine. Each repetition gives a ratio ours / official; the table prints the median
ratio and its spread (min-max) over the repetitions, the median step times and the parameter counts, and
`--out` writes the same rows as CSV (and a Markdown table next to it). Only ratios measured in one run are
comparable: absolute times move with the machine and its load. Each side's matrix FLOPs of one step (matmul,
attention and convolution, counted by `torch.utils.flop_counter.FlopCounterMode` on one untimed step) and their
ratio come with it: they do not depend on the machine, and a time ratio far above the FLOP ratio points at work
outside the matrix products (dropout draws, copies, gathers) or at slower kernels.

This folder is not part of the installed package (pyproject lists the packages explicitly); it imports
`emobench` like any user script.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from emobench.benchmark.config import load_yaml
from emobench.benchmark.grid import find_sweep
from emobench.benchmark.perf_models import iemocap_batch, mosei_batch, mosei_unaligned_batch
from emobench.benchmark.perf_report import train_step
from emobench.models import MODELS, EmotionModel, count_parameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from official import BUILDERS, OfficialStep  # noqa: E402  (this folder is not a package)

# method -> (inputs label, batch maker) at the method's published batch size (paper.yaml's data_args.batch_size)
INPUTS = {"tailor": ("mosei", mosei_batch), "carat": ("mosei", mosei_batch),
          "mult": ("mosei-unaligned", mosei_unaligned_batch), "foalnet": ("iemocap", iemocap_batch)}


@dataclass
class Row:
    method: str
    inputs: str
    batch_size: int
    official_parameters: int
    ours_parameters: int
    official_seconds: float
    ours_seconds: float
    ratio: float
    ratio_min: float
    ratio_max: float
    official_gflop: float
    ours_gflop: float
    flop_ratio: float
    repeats: int
    threads: int
    note: str


def paper_settings(name: str) -> tuple[dict, float, int]:
    """(model_args, gradient_clip_val, batch_size) of `name` in experiments/paper.yaml (the published protocol)."""
    paper = load_yaml(find_sweep("paper"))
    defaults = paper.get("defaults", {})
    override = paper.get("model_overrides", {}).get(name, {})
    clip = override.get("trainer", {}).get("gradient_clip_val", defaults.get("trainer", {}).get("gradient_clip_val", 0.0))
    size = override.get("data_args", {}).get("batch_size", defaults.get("data_args", {}).get("batch_size", 64))
    model_args = {k: v for k, v in dict(override.get("model_args", {})).items() if k not in ("threshold", "schedule")}
    return model_args, float(clip or 0.0), int(size)


def our_step(model: EmotionModel, batch, clip: float) -> Callable[[], float]:
    """One training step of ours as the Trainer runs it: objective, backward, clipping, optimiser step."""
    optimizer = model.build_optimizer()
    model.train()

    def step() -> float:
        return float(train_step(model, optimizer, batch, clip, contextlib.nullcontext()).detach())

    return step


def step_gflop(step: Callable[[], float]) -> float:
    """Matrix GFLOPs (matmul, attention, convolution; forward and backward) of one call of `step`."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / 1e9


def alternate(first: Callable[[], float], second: Callable[[], float], repeats: int,
              warmup: int) -> tuple[list[float], list[float]]:
    """Seconds per call of `first` and `second`, called alternately (order swapped every repetition) after
    `warmup` untimed calls of each."""
    times: tuple[list[float], list[float]] = ([], [])
    for rep in range(warmup + repeats):
        order = ((0, first), (1, second)) if rep % 2 == 0 else ((1, second), (0, first))
        for index, fn in order:
            start = time.perf_counter()
            fn()
            if rep >= warmup:
                times[index].append(time.perf_counter() - start)
    return times


def compare(method: str, checkout: Path, repeats: int, warmup: int, threads: int) -> Row:
    label, make = INPUTS[method]
    model_args, clip, size = paper_settings(method)
    task, modalities, batch = make(size)
    torch.manual_seed(0)
    official: OfficialStep = BUILDERS[method](checkout, batch)
    torch.manual_seed(0)
    ours = MODELS.get(method)(task=task, modalities=modalities, **model_args)
    ours_step = our_step(ours, batch, clip)
    official_gflop, ours_gflop = step_gflop(official.step), step_gflop(ours_step)
    official_times, ours_times = alternate(official.step, ours_step, repeats, warmup)
    ratios = [o / f for o, f in zip(ours_times, official_times, strict=True)]
    return Row(method, label, size, official.parameters, count_parameters(ours), statistics.median(official_times),
               statistics.median(ours_times), statistics.median(ratios), min(ratios), max(ratios),
               official_gflop, ours_gflop, ours_gflop / official_gflop if official_gflop else float("nan"), repeats,
               threads, official.note)


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| method | inputs | official s/step | ours s/step | ours / official (min-max) | matrix GFLOP official "
             "/ ours (ratio) | parameters official / ours |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.method} | {r.inputs} x{r.batch_size} | {r.official_seconds:.3f} | {r.ours_seconds:.3f} | "
                     f"{r.ratio:.2f}x ({r.ratio_min:.2f}-{r.ratio_max:.2f}) | "
                     f"{r.official_gflop:,.4g} / {r.ours_gflop:,.4g} ({r.flop_ratio:.2f}) | "
                     f"{r.official_parameters:,} / {r.ours_parameters:,} |")
    return "\n".join(lines) + "\n"


def parse_checkouts(items: Sequence[str]) -> dict[str, Path]:
    checkouts = {}
    for item in items:
        method, sep, path = item.partition("=")
        if not sep or method not in BUILDERS:
            raise SystemExit(f"side_by_side: <{item}> must be METHOD=PATH with METHOD one of {sorted(BUILDERS)}, e.g. "
                             "tailor=/src/TAILOR.")
        checkouts[method] = Path(path)
    return checkouts


def main(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="+", help="METHOD=PATH of an official checkout (tailor, carat, mult, foalnet)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps of each side (ratios per pair)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps of each side first")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write (a .md table is written beside it)")
    args = parser.parse_args(argv)
    checkouts = parse_checkouts(args.checkouts)
    torch.set_num_threads(args.threads)
    print(f"one training step, ours vs official, alternately in one process; {args.threads} threads, "
          f"{args.repeats} timed pairs after {args.warmup} warm-up")
    rows = []
    for method, path in checkouts.items():
        row = compare(method, path, args.repeats, args.warmup, args.threads)
        rows.append(row)
        print(f"{method:<8} {row.inputs} x{row.batch_size}: official {row.official_seconds:.3f} s, ours "
              f"{row.ours_seconds:.3f} s, ratio {row.ratio:.2f}x ({row.ratio_min:.2f}-{row.ratio_max:.2f}); "
              f"matrix GFLOP {row.official_gflop:,.4g} / {row.ours_gflop:,.4g} ({row.flop_ratio:.2f}); "
              f"parameters {row.official_parameters:,} / {row.ours_parameters:,}"
              + (f"; {row.note}" if row.note else ""), flush=True)
    print(markdown(rows))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
        args.out.with_suffix(".md").write_text(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
