"""The latent emotion state behind every synthetic twin.

Every trial has a latent state z (LATENT_DIM independent standard normal dimensions, shared by the rows of a
trial up to a small per-row jitter) and, per pair of consecutive modalities, two more independent latents u_a and
u_b: modality a sees u_a, modality b sees u_b, and the label read-out sees their product u_a * u_b (cross-modal
interaction). Each modality sees an overlapping window of z, so fusing modalities beats any single one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LATENT_DIM = 8


@dataclass
class Latents:
    """z: (N, LATENT_DIM) trial states per row; pairs: (N, P, 2) the two latents of each of the P modality pairs;
    trial_z / trial_pairs: the same per trial, before the per-row jitter (labels read these)."""

    z: np.ndarray
    pairs: np.ndarray
    trial_z: np.ndarray
    trial_pairs: np.ndarray

    @property
    def products(self) -> np.ndarray:
        """(N_trials, P) u_a * u_b of each pair, unit variance."""
        return self.trial_pairs[..., 0] * self.trial_pairs[..., 1]


def draw_trials(rng: np.random.Generator, trials: int, num_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """(trials, LATENT_DIM) states and (trials, num_pairs, 2) pair latents, all independent N(0, 1)."""
    return rng.standard_normal((trials, LATENT_DIM)), rng.standard_normal((trials, num_pairs, 2))


def expand_rows(rng: np.random.Generator, trial_z: np.ndarray, trial_pairs: np.ndarray, trial_of_row: np.ndarray,
                jitter: float) -> Latents:
    """Per-row latents: each row gets its trial's state plus `jitter` times N(0, 1) (moment-to-moment change)."""
    z = trial_z[trial_of_row] + jitter * rng.standard_normal((len(trial_of_row), LATENT_DIM))
    pairs = trial_pairs[trial_of_row] + jitter * rng.standard_normal((len(trial_of_row), *trial_pairs.shape[1:]))
    return Latents(z, pairs, trial_z[trial_of_row], trial_pairs[trial_of_row])


def visible_dims(num_streams: int) -> list[np.ndarray]:
    """Overlapping windows of latent dims, one per stream; together they cover every dim, none covers all."""
    if num_streams == 1:
        return [np.arange(LATENT_DIM)]
    width = max(3, int(np.ceil(LATENT_DIM / num_streams)) + 1)
    starts = np.linspace(0, LATENT_DIM - width, num_streams).round().astype(int)
    return [np.arange(s, s + width) for s in starts]


def pair_slots(num_streams: int) -> list[list[tuple[int, int]]]:
    """For each stream, the (pair, side) latents it sees: pair i joins stream i (side 0) and stream i+1 (side 1)."""
    slots: list[list[tuple[int, int]]] = [[] for _ in range(num_streams)]
    for pair in range(num_streams - 1):
        slots[pair].append((pair, 0))
        slots[pair + 1].append((pair, 1))
    return slots
