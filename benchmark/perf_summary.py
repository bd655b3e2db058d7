"""The model x twin summary of `emobench perf report`'s Markdown: in-fit overhead (formula in parentheses) per model
and twin with each model's step-time range, and the cells above the overhead goal (issue: at most 10 % on every
twin), so that a reader sees where the goal is missed without reading the wide per-cell table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The framework-overhead goal of `emobench perf report`: at most this share of a fit's wall time.
OVERHEAD_GOAL = 0.10


def _percent(value: float) -> str:
    return f"{round(100 * value)} %"


def _milliseconds(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def overhead_summary(rows: Sequence[Any], goal: float = OVERHEAD_GOAL) -> str:
    """Markdown: one row per model (in the rows' order), one column per dataset, "in fit % (formula %)", then the
    cells whose in-fit overhead is above `goal`. `rows` need model, dataset, step_ms, overhead and
    overhead_in_fit (`perf_report.ModelPerfRow`)."""
    if not rows:
        return ""
    models = list(dict.fromkeys(r.model for r in rows))
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    cells = {(r.model, r.dataset): r for r in rows}
    lines = ["| model | step | " + " | ".join(datasets) + " |", "|---|---:|" + "---:|" * len(datasets)]
    for model in models:
        steps = [r.step_ms for r in rows if r.model == model]
        values = [f"{_percent(c.overhead_in_fit)} ({_percent(c.overhead)})" if (c := cells.get((model, d))) else ""
                  for d in datasets]
        lines.append(f"| {model} | {_milliseconds(min(steps))}-{_milliseconds(max(steps))} ms | "
                     + " | ".join(values) + " |")
    above = [r for r in rows if r.overhead_in_fit > goal]
    verdict = f"Every cell is at or under the {_percent(goal)} goal in fit."
    if above:
        verdict = (f"Above the {_percent(goal)} goal in fit: {len(above)} of {len(rows)} cells; "
                   + "; ".join(_above(model, [r for r in above if r.model == model], rows)
                               for model in models if any(r.model == model for r in above)) + ".")
    return ("In-fit overhead (formula overhead in parentheses) and each model's range of median step times:\n\n"
            + "\n".join(lines) + f"\n\n{verdict}\n")


def _above(model: str, above: list[Any], rows: Sequence[Any]) -> str:
    """"model: every twin (34.2-42.9 %)" or "model: twin 12.5 %, twin 10.5 %" (one decimal: 10.4 % is above 10 %)."""
    if len(above) == sum(r.model == model for r in rows) > 1:
        values = [r.overhead_in_fit for r in above]
        return f"{model}: every twin ({100 * min(values):.1f}-{100 * max(values):.1f} %)"
    return f"{model}: " + ", ".join(f"{r.dataset} {100 * r.overhead_in_fit:.1f} %" for r in above)
