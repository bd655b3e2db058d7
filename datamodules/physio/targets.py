"""Targets from self-reported valence / arousal (/ dominance / liking) ratings: emotion distributions, binary
high/low labels and valence-arousal quadrants.

distribution: ratings on a `low`..`high` scale (DEAP 1-9, DREAMER 1-5) are rescaled to [-1, 1]
(2 (r - low) / (high - low) - 1, so 5 -> 0 on DEAP and 3 -> 0 on DREAMER); each basic emotion e scores
exp(-||v - p_e||^2 / (2 sigma^2)) with p_e its prototype in `PROTOTYPES`, over (valence, arousal, dominance) or,
with `use_dominance=False` (or no dominance rating), (valence, arousal); the scores are normalised to sum to 1.
Default sigma 0.5. The prototypes are the pleasure-arousal-dominance coordinates (on -1..1) that Russell &
Mehrabian (1977, "Evidence for a three-factor theory of emotions", Journal of Research in Personality 11(3),
273-294) report for the terms angry, disgust(ed), fearful, happy, sad and surprised; the six labels are
the basic emotions of the synthetic twins. The argmax is the nearest prototype whatever sigma; sigma only sets how
peaked the distribution is.

binary: one label per rating dimension, 1 where rating >= threshold (TorchEEG `Binary`; `operator=">"` for
strict), thresholds as TorchEEG's examples: 5 on DEAP, 3 on DREAMER.

quadrant: 4 classes from binary valence and arousal, numbered as TorchEEG's `BinariesToCategory` on
[valence, arousal]: 0 LVLA, 1 LVHA, 2 HVLA, 3 HVHA.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emobench.datamodules.specs import TaskSpec

TARGETS = ("distribution", "binary", "quadrant")
OPERATORS = (">=", ">")
EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
#: emotion -> (pleasure/valence, arousal, dominance) on -1..1, Russell & Mehrabian (1977), terms angry, disgust,
#: fearful, happy, sad, surprised.
PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "anger": (-0.51, 0.59, 0.25),
    "disgust": (-0.60, 0.35, 0.11),
    "fear": (-0.64, 0.60, -0.43),
    "happiness": (0.81, 0.51, 0.46),
    "sadness": (-0.63, -0.27, -0.33),
    "surprise": (0.40, 0.67, -0.13),
}
QUADRANTS = ("LVLA", "LVHA", "HVLA", "HVHA")
DEFAULT_SIGMA = 0.5


def rescale(ratings: np.ndarray, low: float, high: float) -> np.ndarray:
    """Ratings on `low`..`high` mapped linearly onto -1..1."""
    return 2.0 * (np.asarray(ratings, dtype=np.float64) - low) / (high - low) - 1.0


def emotion_distribution(vad: np.ndarray, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """(N, 6) distributions over `EMOTIONS` of rescaled (N, 2) valence-arousal or (N, 3) valence-arousal-dominance
    ratings: Gaussian kernel of width `sigma` around each prototype, normalised (a softmax, so never 0/0)."""
    if sigma <= 0:
        raise ValueError(f"<kernel_sigma={sigma}> must be > 0.")
    vad = np.asarray(vad, dtype=np.float64)
    prototypes = np.array([PROTOTYPES[e] for e in EMOTIONS])[:, : vad.shape[1]]
    logits = -((vad[:, None, :] - prototypes[None]) ** 2).sum(-1) / (2 * sigma**2)
    logits -= logits.max(axis=1, keepdims=True)
    scores = np.exp(logits)
    return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def binarise(ratings: np.ndarray, threshold: float, operator: str = ">=") -> np.ndarray:
    """1.0 where rating `operator` threshold, else 0.0 (float32, same shape)."""
    if operator not in OPERATORS:
        raise ValueError(f"<binary_operator={operator!r}> must be one of {list(OPERATORS)}.")
    ratings = np.asarray(ratings, dtype=np.float64)
    high = ratings >= threshold if operator == ">=" else ratings > threshold
    return high.astype(np.float32)


def quadrant(valence: np.ndarray, arousal: np.ndarray, threshold: float, operator: str = ">=") -> np.ndarray:
    """(N,) int64 class 2 * high(valence) + high(arousal): 0 LVLA, 1 LVHA, 2 HVLA, 3 HVHA."""
    return (2 * binarise(valence, threshold, operator) + binarise(arousal, threshold, operator)).astype(np.int64)


def task_spec(target: str, rating_names: Sequence[str]) -> TaskSpec:
    """The TaskSpec of `target` over ratings named `rating_names` (must include valence and arousal)."""
    if target == "distribution":
        return TaskSpec("distribution", EMOTIONS)
    if target == "binary":
        return TaskSpec("multilabel", tuple(rating_names))
    if target == "quadrant":
        return TaskSpec("multiclass", QUADRANTS)
    raise ValueError(f"<target={target!r}> must be one of {list(TARGETS)}.")


def rating_targets(target: str, ratings: np.ndarray, rating_names: Sequence[str], scale: tuple[float, float],
                   threshold: float, operator: str = ">=", sigma: float = DEFAULT_SIGMA,
                   use_dominance: bool = True) -> np.ndarray:
    """Targets of `target` for (N, R) ratings whose columns are `rating_names` on the `scale` (low, high):
    distribution (N, 6) float32, binary (N, R) float32, quadrant (N,) int64."""
    names = list(rating_names)
    missing = [d for d in ("valence", "arousal") if d not in names]
    if missing:
        raise ValueError(f"targets need valence and arousal ratings; this dataset has {names}.")
    ratings = np.asarray(ratings, dtype=np.float64)
    column = {name: ratings[:, names.index(name)] for name in names}
    if target == "distribution":
        dims = ["valence", "arousal"] + (["dominance"] if use_dominance and "dominance" in names else [])
        return emotion_distribution(rescale(np.stack([column[d] for d in dims], axis=1), *scale), sigma)
    if target == "binary":
        return binarise(ratings, threshold, operator)
    if target == "quadrant":
        return quadrant(column["valence"], column["arousal"], threshold, operator)
    raise ValueError(f"<target={target!r}> must be one of {list(TARGETS)}.")
