"""`emobench perf` runs the benchmark scripts and prints their figures (no timing is asserted)."""

from __future__ import annotations

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
