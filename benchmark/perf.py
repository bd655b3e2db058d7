"""`emobench perf models|cache|ot|prepare|report [...]`: speed and size figures printed by the benchmark scripts (never timed tests).

models: one training step per model at the official size on a CMU-MOSEI-shaped batch (`emobench.benchmark.perf_models`).
cache: first vs cached `setup()` of the real-format readers on generated files (`emobench.benchmark.perf_cache`).
ot: forward + backward of HeLo's optimal-transport module on 64 problems of 32 x 32 (`emobench.benchmark.perf_ot`).
prepare: feature preparation of full-size generated DEAP / DREAMER / WESAD subjects, MB/s and the projected time for the
whole dataset (`emobench.benchmark.perf_prepare`).
report: CSV + Markdown of every model x twin (step time, samples/s, memory, framework overhead), the readers'
data-preparation throughput and optionally a sweep's wall time (`emobench.benchmark.perf_report`).
"""

from __future__ import annotations

import argparse
import importlib

TARGETS = {"models": "emobench.benchmark.perf_models", "cache": "emobench.benchmark.perf_cache",
           "ot": "emobench.benchmark.perf_ot", "prepare": "emobench.benchmark.perf_prepare",
           "report": "emobench.benchmark.perf_report"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options of that benchmark (see --help after it)")


def command(args: argparse.Namespace) -> int:
    result = importlib.import_module(TARGETS[args.target]).main(args.args)
    return result if isinstance(result, int) else 0
