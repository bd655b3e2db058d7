"""Learning-property proofs of the twins' phenomena: for each phenomenon, two small reference models that differ only
in the ability to use it (tests/datamodules/reference_models.py) are trained on the CMU-MOSEI twin with the
phenomenon on and off, every other phenomenon off (or, where the phenomenon needs another one to show, that one on
in both runs). The capable model wins by the stated margin when the phenomenon is on; the margin vanishes (or turns
against it) when it is off. Fixed seeds; test micro-F1 at the epoch of the best validation micro-F1.

Label structure with label coupling ties the drawn labels beyond what the input shows, so its capable model is a
classifier chain decoded as a whole label set against the same heads decoded one label at a time; it is scored on
what joint decoding is for: the log-probability of the true label set, and exact match.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from emobench.datamodules import DATAMODULES
from tests.datamodules.reference_models import LabelHeads, train_and_test

OFF = {"locality": 0.0, "interaction": 0.0, "lag": 0.0, "label_structure": 0.0, "drop_rate": 0.0}
#: Label structure with its coupling on (the twins' default coupling is 0; see `label_coupling`).
COUPLED = {"label_structure": 0.8, "label_coupling": 1.0}


def margin(knobs: dict, capable: dict, other: dict, seeds: tuple[int, ...] = (0,), num_samples: int = 2000,
           epochs: int = 30) -> float:
    """Mean over `seeds` of (capable - other) test micro-F1 on the MOSEI twin with `knobs` over OFF."""
    total = 0.0
    for seed in seeds:
        scores = []
        for model_args in (capable, other):
            dm = DATAMODULES.get("synthetic-mosei")(num_samples=num_samples, seq_len=16, batch_size=512,
                                                    **{**OFF, **knobs})
            scores.append(train_and_test(dm, seed, epochs=epochs, **model_args))
        total += scores[0] - scores[1]
    return total / len(seeds)


@pytest.mark.slow
def test_temporal_locality_rewards_attention_pooling():
    attention, mean = {"pool": "attention"}, {"pool": "mean"}
    on, off = margin({"locality": 1.0}, attention, mean), margin({}, attention, mean)
    assert on > 0.03, f"attention - mean pooling with locality on: {on:+.4f}"
    assert abs(off) < 0.02, f"attention - mean pooling with locality off: {off:+.4f}"


@pytest.mark.slow
def test_cross_modal_interaction_rewards_early_fusion():
    early, late = {"fusion": "early"}, {"fusion": "late"}
    on, off = margin({"interaction": 0.8}, early, late), margin({}, early, late)
    assert on > 0.08, f"early - late fusion with interaction on: {on:+.4f}"
    assert abs(off) < 0.03, f"early - late fusion with interaction off: {off:+.4f}"


@pytest.mark.slow
def test_misalignment_rewards_pooling_each_modality_before_fusing():
    """Evidence in segments that interact across modalities: fusing time-aligned steps finds the pair of cues only
    when they sit at the same steps; pooling each modality first finds them at any lag."""
    pooled, stepwise = {"pool": "attention"}, {"pool": "attention", "fusion": "stepwise"}
    base = {"locality": 0.5, "interaction": 0.5}
    on = margin({**base, "lag": 1.0}, pooled, stepwise, seeds=(0, 1), num_samples=3000)
    off = margin(base, pooled, stepwise, seeds=(0, 1), num_samples=3000)
    assert on > 0.03, f"pool-then-fuse - step-wise fusion with lag on: {on:+.4f}"
    assert off < 0.01, f"pool-then-fuse - step-wise fusion with lag off: {off:+.4f}"


@pytest.mark.slow
def test_dropped_segments_reward_masked_pooling():
    masked, unmasked = {"pool": "mean"}, {"pool": "unmasked"}
    on, off = margin({"drop_rate": 0.5}, masked, unmasked), margin({}, masked, unmasked)
    assert on > 0.02, f"masked - unmasked mean with drops on: {on:+.4f}"
    assert abs(off) < 0.005, f"masked - unmasked mean with drops off: {off:+.4f}"


@pytest.mark.slow
def test_label_structure_rewards_decoding_the_label_set_jointly():
    """Log-probability of the true label set (nats): the chain models the labels' coupling, independent heads
    cannot; without structure the labels are independent given the input and the chain gains nothing."""
    chain, independent = {"labels": "chain"}, {"labels": "independent"}
    scored = {"metric": "set_log_likelihood"}
    on = margin(COUPLED, {**chain, **scored}, {**independent, **scored}, seeds=(0, 1), num_samples=3000)
    off = margin({}, {**chain, **scored}, {**independent, **scored}, seeds=(0, 1), num_samples=3000)
    assert on > 0.3, f"chain - independent set log-likelihood with structure on: {on:+.4f}"
    assert abs(off) < 0.05, f"chain - independent set log-likelihood with structure off: {off:+.4f}"


@pytest.mark.slow
def test_label_structure_rewards_the_most_probable_label_set():
    """Exact match of the predicted label set. Modality noise and subject shifts are off in both runs: they leave
    the input's view of the label scores uncertain, which couples labels given the input even without structure."""
    chain, independent = {"labels": "chain", "metric": "exact_match"}, {"labels": "independent", "metric": "exact_match"}
    clear = {"noise": 0.0, "subject_shift": 0.0}
    on = margin({**clear, **COUPLED}, chain, independent, seeds=(0, 1, 2), num_samples=3000)
    off = margin(clear, chain, independent, seeds=(0, 1, 2), num_samples=3000)
    assert on > 0.015, f"chain - independent exact match with structure on: {on:+.4f}"
    assert abs(off) < 0.01, f"chain - independent exact match with structure off: {off:+.4f}"


def test_label_heads_chain_reads_only_earlier_labels_and_decodes_the_most_probable_set():
    torch.manual_seed(0)
    fused, labels = torch.randn(5, 8), torch.randint(0, 2, (5, 4)).float()
    chain, independent = LabelHeads(8, 4, chain=True), LabelHeads(8, 4, chain=False)
    flipped = labels.clone()
    flipped[:, 2] = 1 - flipped[:, 2]
    moved = chain(fused, labels) != chain(fused, flipped)
    assert not moved[:, :3].any() and moved[:, 3].all(), "label 2 reaches label 3 only"
    assert torch.equal(independent(fused, labels), independent(fused, flipped)), "independent heads read no label"
    assert torch.equal(independent.most_probable(fused), (independent(fused, labels) > 0).float())
    for row in range(5):
        sets = torch.tensor(list(itertools.product((0.0, 1.0), repeat=4)))
        probs = torch.sigmoid(chain(fused[row].expand(16, -1), sets))
        best = sets[torch.where(sets == 1, probs, 1 - probs).prod(dim=1).argmax()]
        assert torch.equal(chain.most_probable(fused[row:row + 1])[0], best)
