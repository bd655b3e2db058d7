"""One modality of a synthetic twin: evidence segments among distractors, lags, rates, drops, noise and subject
offsets, generated for all rows at once.

A stream's content at a step is a fixed random non-linear map of a latent vector. In the evidence segments that
vector is the row's own latent (the part of z the stream sees, plus its pair latents); elsewhere it is a
distractor: the same map of latents drawn afresh per distractor segment, unrelated to the labels and on the same
scale, so only the evidence segments carry the label and a time average dilutes them. Evidence steps also carry
a fixed salience direction (the cue a listener or an attention layer uses to find the segment: voice activity, a
facial action, an arousal burst), which says nothing about the label itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emobench.datamodules.specs import ModalitySpec
from emobench.datamodules.synthetic.phenomena import Phenomena

PATTERNS = ("oscillation", "sustained", "burst")
#: Share of the steps holding evidence at locality 1 (locality 0: all of them).
MIN_EVIDENCE_SHARE = 1 / 8
#: Distractor segments per sequence (each with its own unrelated latent).
DISTRACTOR_SEGMENTS = 4
#: A sequence is dropped in eighths.
DROP_CHUNKS = 8
#: Size of the salience cue per feature, about the content's own per-feature scale.
SALIENCE = 0.7
HIDDEN = 32


@dataclass(frozen=True)
class StreamRecipe:
    """One modality: name, feature dim, real full length (steps), kind (and group for a kind that is not built in),
    own noise level, temporal pattern of its envelope, and whether sequences have variable lengths."""

    name: str
    dim: int
    seq_len: int
    kind: str
    noise: float = 1.0
    pattern: str = "sustained"
    variable_length: bool = False
    group: str = ""

    def spec(self, seq_len: int) -> ModalitySpec:
        return ModalitySpec(self.name, self.dim, seq_len, self.kind, self.group)


def evidence_share(locality: float) -> float:
    """Share of a sequence's real steps that hold evidence."""
    return 1.0 - locality * (1.0 - MIN_EVIDENCE_SHARE)


def event_times(rng: np.random.Generator, n: int, ph: Phenomena) -> np.ndarray:
    """(n, events) start of each evidence segment in relative time [0, 1 - share], shared by the modalities."""
    return rng.uniform(0.0, 1.0 - evidence_share(ph.locality), size=(n, ph.events))


class _ContentMap:
    """A random non-linear map from a stream's latents to its features: tanh MLP for z, linear for pair latents."""

    def __init__(self, rng: np.random.Generator, z_dim: int, pair_dim: int, dim: int) -> None:
        rank = min(dim, 16)
        self.w1 = rng.normal(size=(z_dim, HIDDEN)) / np.sqrt(z_dim)
        self.w2 = rng.normal(size=(HIDDEN, rank)) / np.sqrt(HIDDEN)
        self.loading = rng.normal(size=(rank, dim)) / np.sqrt(rank)
        self.pair_loading = rng.normal(size=(pair_dim, dim)) / np.sqrt(max(pair_dim, 1))

    def __call__(self, z: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        signal = np.tanh(3.0 * np.tanh(z @ self.w1) @ self.w2)
        return (signal @ self.loading + pairs @ self.pair_loading).astype(np.float32)


def _envelope(rng: np.random.Generator, pattern: str, n: int, t: int) -> np.ndarray:
    steps = np.arange(t, dtype=np.float32)[None, :]
    if pattern == "oscillation":
        freq = rng.uniform(0.05, 0.25, size=(n, 1))
        return 1.0 + 0.5 * np.sin(2 * np.pi * freq * steps + rng.uniform(0, 2 * np.pi, size=(n, 1)))
    if pattern == "burst":
        centre = rng.uniform(0, t, size=(n, 1))
        return 0.6 + 0.8 * np.exp(-0.5 * ((steps - centre) / max(1.0, t / 6)) ** 2)
    if pattern == "sustained":
        return 1.0 + 0.05 * np.cumsum(rng.normal(size=(n, t)), axis=1) / np.sqrt(t)
    raise ValueError(f"StreamRecipe pattern must be one of {PATTERNS}, got {pattern!r}.")


def evidence_mask(rng: np.random.Generator, times: np.ndarray, lengths: np.ndarray, t: int,
                  ph: Phenomena) -> np.ndarray:
    """(n, t) True where a row's evidence sits: `events` segments starting at `times` shifted by this stream's
    random lag (uniform in +-lag of the duration), each `share / events` of the row's real length."""
    share = evidence_share(ph.locality)
    shift = rng.uniform(-ph.lag, ph.lag, size=(len(times), 1))
    start_rel = np.clip(times + shift, 0.0, 1.0 - share)
    start = np.floor(start_rel * lengths[:, None]).astype(np.int64)
    width = np.maximum(1, np.round(share * lengths / ph.events)).astype(np.int64)[:, None]
    steps = np.arange(t)[None, None, :]
    inside = (steps >= start[..., None]) & (steps < (start + width)[..., None])
    return inside.any(axis=1) & (steps[0] < lengths[:, None])


def generate_stream(rng: np.random.Generator, recipe: StreamRecipe, t: int, z: np.ndarray, pairs: np.ndarray,
                    times: np.ndarray, ph: Phenomena, groups: np.ndarray,
                    num_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (n, t, dim) float32, mask (n, t) bool (True = real step) and evidence mask (n, t) of one modality
    seeing latent columns `z` (n, k) and pair latents `pairs` (n, p), at `t` steps."""
    n, d = len(z), recipe.dim
    content = _ContentMap(rng, z.shape[1], pairs.shape[1], d)
    lengths = rng.integers(max(1, t // 4), t + 1, size=n) if recipe.variable_length else np.full(n, t)
    evidence = evidence_mask(rng, times, lengths, t, ph)
    distractors = content(rng.standard_normal((n, DISTRACTOR_SEGMENTS, z.shape[1])),
                          rng.standard_normal((n, DISTRACTOR_SEGMENTS, pairs.shape[1])))
    segment = np.arange(t) * DISTRACTOR_SEGMENTS // t
    x = np.where(evidence[..., None], content(z, pairs)[:, None, :], distractors[:, segment, :])
    cue = rng.choice([-SALIENCE, SALIENCE], size=d).astype(np.float32)
    if ph.locality > 0:
        x += evidence[..., None] * cue
    x *= _envelope(rng, recipe.pattern, n, t)[..., None].astype(np.float32)
    x += (ph.noise * recipe.noise) * rng.standard_normal(size=(n, t, d), dtype=np.float32)
    shift = rng.normal(scale=0.6 * ph.subject_shift, size=(num_groups, d)).astype(np.float32)
    gain = 1.0 + ph.subject_shift * (rng.uniform(0.7, 1.4, size=(num_groups, 1, 1)) - 1.0)
    x = x * gain.astype(np.float32)[groups] + shift[groups][:, None, :]
    real = np.arange(t)[None, :] < lengths[:, None]
    dropped = rng.uniform(size=(n, DROP_CHUNKS)) < ph.drop_rate
    mask = real & ~dropped[:, np.arange(t) * DROP_CHUNKS // t]
    emptied = ~mask.any(axis=1)
    mask[emptied] = real[emptied]  # never drop a whole sequence
    x[~mask] = 0.0
    return x, mask, evidence & mask
