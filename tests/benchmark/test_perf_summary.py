"""The Markdown summary of `emobench perf report`: the model x twin overhead matrix, the cells above the goal, and
the per-cell table without the breakdown's empty columns."""

from __future__ import annotations

import math

from emobench.benchmark.perf_report import ModelPerfRow, _table
from emobench.benchmark.perf_summary import OVERHEAD_GOAL, overhead_summary


def _row(model: str, dataset: str, step_ms: float, in_fit: float, formula: float, **breakdown: float) -> ModelPerfRow:
    return ModelPerfRow(model=model, dataset=dataset, device="cpu", precision="32", parameters=10, batch_size=4,
                        step_ms=step_ms, samples_per_s=1.0, eval_step_ms=1.0, peak_memory_mb=1.0, fit_s=1.0,
                        train_steps=10, val_batches=2, overhead=formula, overhead_cpu=formula,
                        overhead_in_fit=in_fit, **breakdown)


def test_matrix_has_one_row_per_model_and_one_column_per_twin():
    rows = [_row("big", "twin-a", 52.4, 0.04, -0.06), _row("big", "twin-b", 128.0, 0.06, 0.01),
            _row("small", "twin-a", 1.26, 0.43, 0.63)]  # small x twin-b was not measured
    text = overhead_summary(rows)
    assert "| model | step | twin-a | twin-b |" in text
    assert "| big | 52-128 ms | 4 % (-6 %) | 6 % (1 %) |" in text
    assert "| small | 1.3-1.3 ms | 43 % (63 %) |  |" in text


def test_cells_above_the_goal_are_named_and_a_whole_model_is_summarised():
    rows = [_row("helo", "deap", 24, 0.09, 0.18), _row("helo", "iemocap", 29, 0.125, 0.03),
            _row("helo", "dreamer", 23, 0.105, 0.15), _row("prior", "deap", 0.5, 0.58, 0.81),
            _row("prior", "iemocap", 0.6, 0.68, 0.87), _row("tailor", "deap", 52, OVERHEAD_GOAL, 0.0)]
    text = overhead_summary(rows)
    assert ("Above the 10 % goal in fit: 4 of 6 cells; helo: iemocap 12.5 %, dreamer 10.5 %; "
            "prior: every twin (58.0-68.0 %).") in text  # exactly at the goal (tailor) is within it
    assert "Every cell" in overhead_summary([_row("tailor", "deap", 52, 0.05, 0.02)])
    assert overhead_summary([]) == ""


def test_per_cell_table_drops_only_columns_empty_in_every_row():
    plain = [_row("m", "a", 1.0, 0.1, 0.2), _row("m", "b", 1.0, 0.1, 0.2)]
    header = _table(plain).splitlines()[0]
    assert "overhead_in_fit" in header and "overhead_runner" not in header and "fit_bare_s" not in header
    mixed = [plain[0], _row("m", "c", 1.0, 0.1, 0.2, overhead_runner=0.05)]
    lines = _table(mixed).splitlines()
    assert "overhead_runner" in lines[0] and "fit_bare_s" not in lines[0]
    assert lines[2].endswith("| nan |") and lines[3].endswith("| 0.05 |")
    assert math.isnan(plain[0].overhead_runner)  # the CSV keeps every field
