"""Leaderboard figures as PNG: a models x datasets heatmap of the primary metric, a bar chart per dataset, and the
critical-difference diagram of the Friedman/Nemenyi test.

Figures are built as `matplotlib.figure.Figure` objects and saved with the Agg canvas, so no pyplot state or
display is touched (safe in sweeps, tests and headless jobs)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emobench.benchmark.stats import ALPHA, FriedmanResult

HEATMAP_CMAP = "viridis"  # perceptually uniform and colour-blind safe; bright = better everywhere
DPI = 150


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


def arrow(higher_is_better: bool | None) -> str:
    return {True: "↑", False: "↓"}.get(higher_is_better, "")


def normalised_scores(means: pd.DataFrame, higher: dict[str, bool]) -> pd.DataFrame:
    """Per dataset (column), 1 for the best model and 0 for the worst, linear in between, whatever the metric's
    direction; a dataset where every model ties scores 1. NaN where a model did not run."""
    scores = {}
    for dataset, column in means.items():
        oriented = column if higher[dataset] else -column
        low, high = oriented.min(), oriented.max()
        scores[dataset] = (oriented - low) / (high - low) if high > low else oriented * 0 + 1.0
    return pd.DataFrame(scores, index=means.index)


def heatmap(means: pd.DataFrame, stds: pd.DataFrame, metric: dict[str, str], higher: dict[str, bool],
            path: Path) -> Path:
    """Models (rows) x datasets (columns) coloured by the per-dataset normalised score (bright = better), with the
    raw primary-metric mean ± std written in each cell.

    Args:
        means, stds: primary-metric mean and std, index models, columns datasets.
        metric: dataset -> name of its primary metric; higher: dataset -> whether higher is better.
    """
    scores = normalised_scores(means, higher)
    n_models, n_datasets = means.shape
    figure = _figure(1.9 * n_datasets + 2.6, 0.55 * n_models + 1.6)
    ax = figure.add_subplot()
    cmap = matplotlib.colormaps[HEATMAP_CMAP].with_extremes(bad="lightgrey")  # grey: model not run there
    image = ax.imshow(np.ma.masked_invalid(scores.to_numpy(float)), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(n_datasets), [f"{d}\n{metric[d]} {arrow(higher[d])}" for d in means.columns])
    ax.set_yticks(range(n_models), list(means.index))
    for i, model in enumerate(means.index):
        for j, dataset in enumerate(means.columns):
            mean, std, score = means.at[model, dataset], stds.at[model, dataset], scores.at[model, dataset]
            text = "–" if np.isnan(mean) else f"{mean:.3f}" + ("" if np.isnan(std) else f"\n±{std:.3f}")
            dark = np.isnan(score) or score > 0.6  # viridis is bright at the top: dark text there
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="black" if dark else "white")
    bar = figure.colorbar(image, ax=ax, fraction=0.05)
    bar.set_label("score within dataset (1 = best, 0 = worst)")
    ax.set_title("Primary test metric (mean ± sample std over seeds x folds)")
    return _save(figure, path)


def bar_chart(means: pd.Series, stds: pd.Series, dataset: str, metric: str, higher: bool, path: Path) -> Path:
    """One bar per model (in the given order, best first) with the sample std as error bar."""
    figure = _figure(max(4.0, 0.9 * len(means) + 1.5), 3.6)
    ax = figure.add_subplot()
    x = np.arange(len(means))
    ax.bar(x, means.to_numpy(float), yerr=stds.fillna(0.0).to_numpy(float), capsize=4,
           color="tab:blue", alpha=0.85)
    ax.set_xticks(x, list(means.index), rotation=30, ha="right")
    ax.set_ylabel(f"test {metric} {arrow(higher)}")
    ax.set_title(f"{dataset}\n{metric} ({'higher' if higher else 'lower'} is better): mean ± sample std", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def critical_difference_figure(result: FriedmanResult) -> Figure:
    """The critical-difference diagram (scikit-posthocs): mean ranks on an axis, models joined by a bar where the
    Nemenyi test finds no significant difference at `ALPHA`. The title is a figure title in two lines, so that
    the constrained layout keeps it inside the figure (one line of it is wider than the figure)."""
    import scikit_posthocs

    if not result.applicable:
        raise ValueError(f"No critical-difference diagram: {result.reason}.")
    figure = _figure(7.0, 0.35 * result.n_models + 1.9)
    ax = figure.add_subplot()
    scikit_posthocs.critical_difference_diagram(result.mean_ranks, result.nemenyi, alpha=ALPHA, ax=ax)
    figure.suptitle(f"Mean rank over {result.n_datasets} datasets (1 = best), Friedman p = {result.p_value:.3g}\n"
                    f"joined by a bar: no significant difference (Nemenyi, α = {ALPHA})", fontsize=9)
    return figure


def critical_difference(result: FriedmanResult, path: Path) -> Path:
    """`critical_difference_figure` saved as PNG at `path`."""
    return _save(critical_difference_figure(result), path)
