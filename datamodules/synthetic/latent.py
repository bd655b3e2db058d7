"""A latent emotion model that generates learnable multi-modal data.

Every sample has a latent emotion state z (correlated dimensions). Labels are a function of z. Each modality sees
only part of z, through its own random non-linear map, temporal pattern and noise level, plus an offset per
subject/session; so fusing modalities beats any single one, and unseen subjects are harder than seen ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LATENT_DIM = 8
PATTERNS = ("oscillation", "sustained", "burst")


@dataclass(frozen=True)
class StreamRecipe:
    """How one modality is generated: dims, time steps, temporal pattern, noise, variable length or not."""

    name: str
    dim: int
    seq_len: int
    pattern: str
    noise: float
    variable_length: bool = False


def latent_states(rng: np.random.Generator, n: int, share: int = 1) -> np.ndarray:
    """(n, LATENT_DIM) correlated latent states; `share` consecutive rows (chunks of one trial) share a state."""
    mixing = np.eye(LATENT_DIM) + 0.35 * rng.normal(size=(LATENT_DIM, LATENT_DIM))
    base = rng.normal(size=(-(-n // share), LATENT_DIM)) @ mixing / np.sqrt(1 + 0.35**2 * LATENT_DIM)
    z = np.repeat(base, share, axis=0)[:n]
    return z + 0.1 * rng.normal(size=z.shape)


def visible_dims(num_streams: int) -> list[np.ndarray]:
    """Overlapping windows of latent dims, one per stream; together they cover every dim, none covers all."""
    if num_streams == 1:
        return [np.arange(LATENT_DIM)]
    width = max(3, int(np.ceil(LATENT_DIM / num_streams)) + 1)
    starts = np.linspace(0, LATENT_DIM - width, num_streams).round().astype(int)
    return [np.arange(s, s + width) for s in starts]


def generate_stream(rng: np.random.Generator, recipe: StreamRecipe, z: np.ndarray, groups: np.ndarray,
                    num_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, T, D) float32 and mask (N, T) bool of one modality seeing latent columns `z`."""
    n, t, d = len(z), recipe.seq_len, recipe.dim
    rank = min(d, 16)
    w1 = rng.normal(size=(z.shape[1], 32)) / np.sqrt(z.shape[1])
    w2 = rng.normal(size=(32, rank)) / np.sqrt(32)
    signal = np.tanh(1.5 * np.tanh(z @ w1) @ w2 * 2.0)  # (N, rank), non-linear in z
    loading = rng.normal(size=(rank, d)).astype(np.float32) / np.sqrt(rank)
    steps = np.arange(t, dtype=np.float32)[None, :]
    if recipe.pattern == "oscillation":
        freq = rng.uniform(0.05, 0.25, size=(n, 1))
        envelope = 1.0 + 0.8 * np.sin(2 * np.pi * freq * steps + rng.uniform(0, 2 * np.pi, size=(n, 1)))
    elif recipe.pattern == "burst":
        centre = rng.uniform(0, t, size=(n, 1))
        envelope = 0.2 + 1.6 * np.exp(-0.5 * ((steps - centre) / max(1.0, t / 6)) ** 2)
    else:
        envelope = 1.0 + 0.05 * np.cumsum(rng.normal(size=(n, t)), axis=1) / np.sqrt(t)
    x = (envelope[..., None] * (signal @ loading)[:, None, :]).astype(np.float32)
    x += recipe.noise * rng.standard_normal(size=(n, t, d), dtype=np.float32)
    shift = rng.normal(scale=0.6, size=(num_groups, d)).astype(np.float32)
    gain = rng.uniform(0.7, 1.4, size=(num_groups, 1, 1)).astype(np.float32)
    x = x * gain[groups] + shift[groups][:, None, :]
    mask = np.ones((n, t), dtype=bool)
    if recipe.variable_length:
        lengths = rng.integers(max(1, t // 4), t + 1, size=n)
        mask = steps < lengths[:, None]
        x[~mask] = 0.0
    return x, mask


def multilabel_targets(rng: np.random.Generator, z: np.ndarray, rates: list[float]) -> np.ndarray:
    """(N, L) 0/1 labels; shared latent directions make labels co-occur; `rates` set each label's frequency."""
    shared = rng.normal(size=(z.shape[1], 2))
    w = rng.normal(size=(z.shape[1], len(rates))) + shared @ rng.normal(size=(2, len(rates)))
    score = z @ w / np.linalg.norm(w, axis=0) + 0.35 * rng.logistic(size=(len(z), len(rates)))
    thresholds = np.array([np.quantile(score[:, j], 1 - rate) for j, rate in enumerate(rates)])
    return (score > thresholds).astype(np.float32)


def distribution_targets(rng: np.random.Generator, z: np.ndarray, num_labels: int) -> np.ndarray:
    """(N, L) emotion distributions: softmax of a linear read-out of z."""
    w = rng.normal(size=(z.shape[1], num_labels))
    logits = z @ w / np.sqrt(z.shape[1]) * 1.5 + 0.1 * rng.normal(size=(len(z), num_labels))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def multiclass_targets(rng: np.random.Generator, z: np.ndarray, priors: list[float]) -> np.ndarray:
    """(N,) class ids: argmax of a linear read-out of z plus noise, biased towards the class `priors`."""
    w = rng.normal(size=(z.shape[1], len(priors)))
    score = z @ w / np.sqrt(z.shape[1]) * 2.0 + np.log(priors) + 0.3 * rng.gumbel(size=(len(z), len(priors)))
    return score.argmax(axis=1).astype(np.int64)
