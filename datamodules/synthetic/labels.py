"""Targets of a synthetic twin from the trial latents: label scores, then multi-label sets, emotion distributions
or classes, with the label structure of the real dataset mixed in at the `label_structure` strength.

A label's own score is a unit-variance read-out of z (directions orthonormal across labels, so with no structure
and no interaction the labels are independent) mixed with a read-out of the modality-pair products at the
`interaction` share. Structure for multi-label sets: a label with parents (`relations`: child, parent, sign) takes
`label_structure` of its score from its parents' presence (+1 co-occur, -1 exclude), labels thresholded in
`order` at their real rates; `label_coupling` passes that share of the parents' label noise into their presence.
For distributions: valence/arousal prototypes of the labels (mixed emotions near several prototypes at once).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emobench.datamodules.synthetic.latent import LATENT_DIM

#: Scale of the logistic noise on multi-label scores (the Bayes error floor).
LABEL_NOISE = 0.35
#: Width of the valence/arousal kernel around each prototype (coordinates in [-1, 1]).
PROTOTYPE_WIDTH = 0.5


def _unit_columns(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=0, keepdims=True)


class LabelModel:
    """The fixed read-out weights of one twin (drawn once from its generator)."""

    def __init__(self, rng: np.random.Generator, num_labels: int, num_pairs: int) -> None:
        raw = rng.normal(size=(LATENT_DIM, max(num_labels, LATENT_DIM)))
        own = np.linalg.qr(raw)[0][:, :num_labels] if num_labels <= LATENT_DIM else _unit_columns(raw[:, :num_labels])
        self.own = own
        self.pair = _unit_columns(rng.normal(size=(max(num_pairs, 1), num_labels)))[:num_pairs]
        self.valence_arousal = _unit_columns(rng.normal(size=(LATENT_DIM, 2)))

    def scores(self, z: np.ndarray, products: np.ndarray, interaction: float) -> np.ndarray:
        """(N, L) unit-variance label scores of trial states z (N, LATENT_DIM) and pair products (N, P)."""
        own = z @ self.own
        if products.shape[1] == 0 or interaction == 0:
            return own
        return np.sqrt(1 - interaction) * own + np.sqrt(interaction) * (products @ self.pair)

    def prototype_scores(self, z: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
        """(N, L) standardised closeness of each state's valence/arousal point to each label's prototype (L, 2)."""
        point = 0.5 * (z @ self.valence_arousal)
        closeness = -((point[:, None, :] - prototypes[None]) ** 2).sum(-1) / (2 * PROTOTYPE_WIDTH**2)
        return (closeness - closeness.mean(0)) / (closeness.std(0) + 1e-8)


def multilabel_targets(rng: np.random.Generator, scores: np.ndarray, rates: Sequence[float],
                       relations: Sequence[tuple[int, int, int]], structure: float,
                       coupling: float = 0.0) -> np.ndarray:
    """(N, L) 0/1 label sets. Labels are drawn in `label_order`: each label's score plus logistic noise is
    thresholded at the quantile giving its `rates` share. A label with parents first takes the `structure` share of
    its score from its parents' presence (sign +1: co-occur, -1: exclude): their score plus `coupling` times their
    label noise, thresholded at their rates. With coupling 0 labels are independent given the scores; with coupling
    1 a child follows its parents' drawn labels (annotators' choices coupled beyond what the input shows), so a
    decoder of the joint label set beats one label at a time on example-based metrics (exact match, Jaccard)."""
    n, num_labels = scores.shape
    noise = LABEL_NOISE * rng.logistic(size=(n, num_labels))
    parents: dict[int, list[tuple[int, int]]] = {}
    for child, parent, sign in relations:
        parents.setdefault(child, []).append((parent, sign))
    present, drawn = np.zeros_like(scores), np.zeros_like(scores, dtype=np.float32)
    for j in label_order(num_labels, relations):
        score = scores[:, j]
        if parents.get(j) and structure > 0:
            pull = sum(sign * (2 * present[:, p] - 1) for p, sign in parents[j])
            pull = (pull - pull.mean()) / (pull.std() + 1e-8)
            score = np.sqrt(1 - structure) * score + np.sqrt(structure) * pull
        noisy = score + noise[:, j]
        drawn[:, j] = noisy > np.quantile(noisy, 1 - rates[j])
        seen = score + coupling * noise[:, j]
        present[:, j] = seen > np.quantile(seen, 1 - rates[j])
    return drawn


def label_order(num_labels: int, relations: Sequence[tuple[int, int, int]]) -> list[int]:
    """Labels with every parent before its children (relations must form no cycle)."""
    order: list[int] = []
    pending = list(range(num_labels))
    while pending:
        ready = [j for j in pending if all(p in order for c, p, _ in relations if c == j)]
        if not ready:
            raise ValueError(f"label relations {list(relations)} form a cycle. Make sure parents come first.")
        order += ready
        pending = [j for j in pending if j not in ready]
    return order


def distribution_targets(rng: np.random.Generator, scores: np.ndarray, prototype_scores: np.ndarray | None,
                         structure: float) -> np.ndarray:
    """(N, L) emotion distributions: softmax of the scores mixed with the prototype closeness at `structure`."""
    if prototype_scores is not None and structure > 0:
        scores = np.sqrt(1 - structure) * scores + np.sqrt(structure) * prototype_scores
    logits = 1.5 * scores + 0.1 * rng.normal(size=scores.shape)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def multiclass_targets(rng: np.random.Generator, scores: np.ndarray, priors: Sequence[float]) -> np.ndarray:
    """(N,) class ids: argmax of the scores plus Gumbel noise, biased towards the class `priors`."""
    return class_scores(rng, scores, priors).argmax(axis=1).astype(np.int64)


def class_scores(rng: np.random.Generator, scores: np.ndarray, priors: Sequence[float]) -> np.ndarray:
    return 2.0 * scores + np.log(np.asarray(priors)) + 0.3 * rng.gumbel(size=scores.shape)
