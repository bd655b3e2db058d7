"""Label statistics of the training fold (frequencies, co-occurrence, correlation) that some methods use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LabelStatistics:
    """frequency: (L,) mean target (label rate, mean distribution or class prior); cooccurrence: (L, L) E[y_i y_j];
    correlation: (L, L) Pearson correlation of the label columns (0 off the diagonal where a column is
    constant; the diagonal is 1)."""

    frequency: np.ndarray
    cooccurrence: np.ndarray
    correlation: np.ndarray
    num_samples: int


def label_statistics(target: np.ndarray, num_labels: int) -> LabelStatistics:
    """Statistics of `target` rows (multiclass ids are one-hot encoded first)."""
    y = np.eye(num_labels)[target] if target.ndim == 1 else np.asarray(target, dtype=np.float64)
    n = max(len(y), 1)
    frequency = y.mean(axis=0) if len(y) else np.zeros(num_labels)
    cooccurrence = y.T @ y / n
    centred = y - frequency
    std = np.sqrt((centred**2).mean(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = (centred.T @ centred / n) / np.outer(std, std)
    correlation = np.nan_to_num(correlation, nan=0.0, posinf=0.0, neginf=0.0)
    np.fill_diagonal(correlation, 1.0)
    return LabelStatistics(frequency.astype(np.float32), cooccurrence.astype(np.float32),
                           correlation.astype(np.float32), len(y))
