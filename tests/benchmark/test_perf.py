"""`emobench perf` runs the benchmark scripts and prints their figures (no timing is asserted)."""

from __future__ import annotations

from emobench.benchmark import perf_ot
from emobench.benchmark.cli import main


def test_perf_models_prints_step_time_and_parameters(capsys):
    assert main(["perf", "models", "prior", "early_fusion", "--steps", "1", "--warmup", "0", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "early_fusion" in out and "prior" in out


def test_perf_cache_prints_first_and_cached_setup(capsys):
    assert main(["perf", "cache", "--mosei-fraction", "0.002", "--m3ed-dialogues-per-series", "1",
                 "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "mosei" in out and "m3ed-utterance" in out and "target" in out


def test_perf_ot_prints_the_ot_module_time(capsys):
    rows = perf_ot.main(["--repeats", "1", "--warmup", "0", "--threads", "1", "--batch-size", "4", "--tokens", "8"])
    out = capsys.readouterr().out
    assert "64 problems" not in out and "4 problems of 8 x 8" in out
    assert [(r["grad"], r["costs"]) for r in rows[:6]] == [
        (grad, costs) for grad in ("implicit", "autodiff", "envelope") for costs in ("narrow", "broad")]
    assert all(r["median_ms"] > 0 and r["iterations"] >= 1 for r in rows[:6]) and "reference" in out
    assert main(["perf", "ot", "--repeats", "1", "--warmup", "0", "--threads", "1", "--batch-size", "2"]) == 0
