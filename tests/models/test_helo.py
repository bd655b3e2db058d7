"""HeLo (models/helo.py): the physiological / behavioural split, OT plan marginals, gradients through the OT term
into both groups' encoders, the correlation alignment loss, every parameter trained with fusion and OT present,
padding invariance, and (slow) beating the label prior on the DEAP, DREAMER and MOSEI twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.statistics import label_statistics
from emobench.models.base import count_parameters
from emobench.models.helo import (
    HeLo,
    HeterogeneityMining,
    correlation_alignment_loss,
    segment_mean,
    split_modalities,
    transport_plan,
    uniform_marginal,
)
from emobench.models.task_head import task_loss
from tests.models.helpers import TASKS, grad_norm, random_batch

SMALL = dict(hidden=16, num_heads=2, ffn_dim=32, encoder_layers=1, segments=4, dropout=0.0, attn_dropout=0.0)
EEG, ECG = ModalitySpec("eeg", 5, 10, "eeg"), ModalitySpec("ecg", 2, 12, "ecg")
ACC = ModalitySpec("acc", 3, 9, "motion")
PHYSIO_BEHAV = (EEG, ECG, ACC)  # WESAD-like: two physiological streams (fusion) and one behavioural (OT)


def test_default_split_follows_groups_and_documented_fallbacks():
    mosei = (ModalitySpec("text", 4, 5, "text"), ModalitySpec("audio", 3, 5, "audio"), ModalitySpec("visual", 2, 5, "visual"))
    deap = (ModalitySpec("eeg", 32, 8, "eeg"), ModalitySpec("peripheral", 8, 8, "peripheral"))
    wesad = (ModalitySpec("chest_ecg", 1, 8, "ecg"), ModalitySpec("chest_resp", 1, 8, "respiration", "physiological"),
             ModalitySpec("chest_acc", 3, 8, "motion"), ModalitySpec("wrist_acc", 3, 8, "motion"))
    assert split_modalities((EEG, ECG)) == (["eeg"], ["ecg"])  # DREAMER: EEG vs ECG
    assert split_modalities(deap) == (["eeg"], ["peripheral"])
    assert split_modalities(mosei) == (["text"], ["audio", "visual"])
    assert split_modalities(wesad) == (["chest_ecg", "chest_resp"], ["chest_acc", "wrist_acc"])
    assert split_modalities((ECG, EEG)) == (["eeg"], ["ecg"])  # EEG leads wherever it is listed
    assert split_modalities((ECG,)) == (["ecg"], [])
    assert split_modalities(PHYSIO_BEHAV, {"ecg": "behavioral"}) == (["eeg"], ["ecg", "acc"])


@pytest.mark.parametrize(("groups", "message"), [
    ({"eog": "behavioral"}, "unknown names \\['eog'\\]"),
    ({"eeg": "behavioural"}, "bad sides"),
    ({"acc": "physiological"}, "leaves the behavioral side empty"),
])
def test_bad_groups_raise_a_clear_error(groups, message):
    with pytest.raises(ValueError, match=message):
        HeLo(TASKS["distribution"], PHYSIO_BEHAV, groups=groups, **SMALL)


def test_structure_follows_the_split():
    two = HeLo(TASKS["distribution"], (EEG, ECG), **SMALL)
    assert two.primary == "eeg" and two.fusion_order == [] and two.mining is not None
    three = HeLo(TASKS["distribution"], PHYSIO_BEHAV, **SMALL)
    assert three.fusion_order == ["ecg"] and three.behavioral == ["acc"]
    one = HeLo(TASKS["distribution"], (EEG,), **SMALL)
    assert one.mining is None and not one.fusion
    out = one(random_batch(TASKS["distribution"], (EEG,)))
    assert set(out.aux_losses) == {"correlation"}  # one modality: OT skipped
    with pytest.raises(ValueError, match="primary=acc"):
        HeLo(TASKS["distribution"], PHYSIO_BEHAV, primary="acc", **SMALL)


def _padded_tokens(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(4, 16, generator=g)  # low-rank tokens: cosines spread over most of [-1, 1]
    p, b = torch.randn(6, 32, 4, generator=g) @ basis, torch.randn(6, 24, 4, generator=g) @ basis
    p_mask, b_mask = torch.ones(6, 32, dtype=torch.bool), torch.ones(6, 24, dtype=torch.bool)
    p_mask[1, 20:] = False
    b_mask[2, 5:] = False
    p_mask[3, :7] = False  # padding need not be at the end
    return p, p_mask, b, b_mask


@pytest.mark.parametrize("grad", ["implicit", "autodiff", "envelope"])
def test_plan_marginals_match_uniform_marginals(grad):
    """Row sums within the stopping tolerance (L2 norm of the row error <= ot_tol = 1e-5 per sample), column sums
    exact to float32 rounding (1e-6), padded tokens carry no mass, and float32 stops by the tolerance."""
    p, p_mask, b, b_mask = _padded_tokens()
    module = HeterogeneityMining(16, 0.0, grad=grad, tol=1e-5, max_iter=500)
    _, plan, _ = module(p, p_mask, b, b_mask)
    a, c = uniform_marginal(p_mask, plan.dtype), uniform_marginal(b_mask, plan.dtype)
    assert plan.dtype == torch.float32 and (plan >= 0).all()
    assert float(torch.linalg.vector_norm(plan.sum(dim=2) - a, dim=1).max()) <= 1e-5
    torch.testing.assert_close(plan.sum(dim=1), c, atol=1e-6, rtol=0)
    assert float(a[1, 20:].sum()) == 0 and float(plan[1, 20:].abs().sum()) == 0
    assert float(plan[2, :, 5:].abs().sum()) == 0 and float(plan[3, :7].abs().sum()) == 0
    assert 1 < module.last_iterations < 500  # converged by the tolerance, not by the cap


def test_half_precision_costs_are_solved_in_float32():
    """bfloat16 cannot reach the tolerance; the solve runs in float32 and only the returned plan is cast back."""
    p, p_mask, b, b_mask = _padded_tokens()
    cost = (1.0 - torch.nn.functional.normalize(p, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).transpose(1, 2))
    half = cost.to(torch.bfloat16)
    a, c = uniform_marginal(p_mask, torch.float32), uniform_marginal(b_mask, torch.float32)
    plan, iterations = transport_plan(half, a, c, reg=0.1, max_iter=500, tol=1e-5)
    assert plan.dtype == torch.bfloat16 and iterations < 500
    reference, _ = transport_plan(half.float(), a, c, 0.1, 500, 1e-5)
    torch.testing.assert_close(plan.float(), reference.to(torch.bfloat16).float())
    module = HeterogeneityMining(16, 0.0)
    _, plan, _ = module.transport(p.to(torch.bfloat16), p_mask, b.to(torch.bfloat16), b_mask)
    assert plan.dtype == torch.bfloat16 and module.last_iterations < module.max_iter  # float32 masses sum to 1


def test_plan_is_sharper_than_independent_coupling():
    """The plan moves mass to cheap pairs: its cost is below that of the independent coupling a b^T."""
    p, p_mask, b, b_mask = _padded_tokens(1)
    module = HeterogeneityMining(16, 0.0)
    _, plan, ot_loss = module(p, p_mask, b, b_mask)
    a, c = uniform_marginal(p_mask, plan.dtype), uniform_marginal(b_mask, plan.dtype)
    cost = 1.0 - torch.nn.functional.normalize(p, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).transpose(1, 2)
    independent = (a.unsqueeze(2) * c.unsqueeze(1) * cost).sum(dim=(1, 2)).mean()
    assert float(ot_loss) < 0.5 * float(independent)


@pytest.mark.parametrize("grad", ["implicit", "autodiff", "envelope"])
def test_gradients_flow_through_the_ot_term_into_both_groups_encoders(grad):
    torch.manual_seed(0)
    task = TASKS["distribution"]
    model = HeLo(task, PHYSIO_BEHAV, ot_grad=grad, **SMALL)
    out = model(random_batch(task, PHYSIO_BEHAV))
    out.aux_losses["ot"].backward()
    for name in ("eeg", "ecg", "acc"):  # physiological (query and fused) and behavioural encoders
        assert grad_norm(model.encoders[name]) > 0, name
    assert grad_norm(model.label_embedding) == 0 and grad_norm(model.mining.fuse) == 0  # only the OT path


def test_plan_carries_gradient_except_with_envelope():
    """The default (implicit) and autodiff plans train the tokens through the plan, with the same gradient."""
    grads = {}
    for grad in ("implicit", "autodiff"):
        p, p_mask, b, b_mask = _padded_tokens()
        p.requires_grad_()
        _, plan, _ = HeterogeneityMining(16, 0.0, grad=grad, tol=1e-7, max_iter=2000)(p, p_mask, b, b_mask)
        plan[:, :4, :4].sum().backward()
        grads[grad] = p.grad
    assert float(grads["implicit"].abs().sum()) > 0
    torch.testing.assert_close(grads["implicit"], grads["autodiff"], atol=1e-4, rtol=1e-3)
    assert HeLo(TASKS["distribution"], (EEG, ECG), **SMALL).mining.grad == "implicit"  # the default
    p, p_mask, b, b_mask = _padded_tokens()
    _, constant, _ = HeterogeneityMining(16, 0.0, grad="envelope")(p.requires_grad_(), p_mask, b, b_mask)
    assert not constant.requires_grad


def _correlation(k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A valid correlation matrix R = Z Z^T (unit rows Z) and its factor Z."""
    z = torch.nn.functional.normalize(torch.randn(k, 3, generator=torch.Generator().manual_seed(seed)), dim=-1)
    return z @ z.T, z


def test_correlation_alignment_loss_is_zero_at_the_target_and_falls_under_training():
    target, z = _correlation(6, 0)
    matching = torch.cat([z, torch.zeros(6, 13)], dim=1) * torch.linspace(0.5, 2.0, 6).unsqueeze(1)  # any row scale
    assert float(correlation_alignment_loss(matching, target)) < 1e-10
    embeddings = torch.nn.Parameter(0.02 * torch.randn(6, 16, generator=torch.Generator().manual_seed(1)))
    start = float(correlation_alignment_loss(embeddings.detach(), target))
    assert start > 0.1
    optimizer = torch.optim.Adam([embeddings], lr=0.01)
    for _ in range(300):
        optimizer.zero_grad()
        correlation_alignment_loss(embeddings, target).backward()
        optimizer.step()
    assert float(correlation_alignment_loss(embeddings.detach(), target)) < 0.01 * start


def test_model_aligns_with_the_training_fold_correlation():
    task = TaskSpec("distribution", ("a", "b", "c", "d"))
    rng = np.random.default_rng(0)
    base = rng.dirichlet(np.ones(4), size=200)
    base[:, 1] = base[:, 0] * 0.9 + 0.01  # labels a and b move together
    stats = label_statistics(base / base.sum(axis=1, keepdims=True), 4)
    model = HeLo(task, (EEG, ECG), label_stats=stats, **SMALL)
    torch.testing.assert_close(model.label_correlation, torch.as_tensor(stats.correlation))
    out = model(random_batch(task, (EEG, ECG)))
    expected = correlation_alignment_loss(model.label_embedding.weight, torch.as_tensor(stats.correlation))
    torch.testing.assert_close(out.aux_losses["correlation"], expected)
    assert not torch.equal(HeLo(task, (EEG, ECG), **SMALL).label_correlation, model.label_correlation)


@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("data_correlation", [True, False])
def test_every_parameter_trains_with_fusion_and_ot(kind, data_correlation):
    torch.manual_seed(0)
    task = TASKS[kind]
    model = HeLo(task, PHYSIO_BEHAV, data_correlation=data_correlation, **SMALL)
    batch = random_batch(task, PHYSIO_BEHAV)
    out = model(batch)
    assert out.logits.shape == (4, 4) and torch.isfinite(out.logits).all()
    loss = task_loss(kind, out.logits, batch.target) + sum(model.aux_weights[k] * v for k, v in out.aux_losses.items())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


def test_segment_mean_splits_real_steps_evenly():
    x = torch.arange(10, dtype=torch.float32).view(1, 10, 1).repeat(2, 1, 1)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    pooled, seg_mask = segment_mean(x, mask, 4)
    # 10 real steps -> runs of 3, 2, 3, 2 (floor(4 r / 10)); 6 real steps -> 2, 1, 2, 1
    torch.testing.assert_close(pooled[0, :, 0], torch.tensor([1.0, 3.5, 6.0, 8.5]))
    torch.testing.assert_close(pooled[1, :, 0], torch.tensor([0.5, 2.0, 3.5, 5.0]))
    assert seg_mask.all()
    _, short = segment_mean(x[:, :3], mask[:, :3], 4)
    assert short.sum(dim=1).tolist() == [3, 3]  # fewer real steps than segments: the rest are masked


def _one_sample(lengths: dict[str, int], pad_to: dict[str, int] | None, seed: int = 5) -> EmotionBatch:
    """One sample with `lengths` real steps; with `pad_to`, padded to that length with large garbage."""
    g, noise = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    inputs, masks = {}, {}
    for spec in PHYSIO_BEHAV:
        real = torch.randn(1, lengths[spec.name], spec.dim, generator=g)
        steps = pad_to[spec.name] if pad_to else lengths[spec.name]
        garbage = 1e3 * torch.randn(1, steps - lengths[spec.name], spec.dim, generator=noise)
        inputs[spec.name] = torch.cat([real, garbage], dim=1)
        masks[spec.name] = torch.arange(steps).unsqueeze(0) < lengths[spec.name]
    return EmotionBatch(inputs=inputs, masks=masks, target=torch.full((1, 4), 0.25))



@pytest.mark.parametrize(("task", "modalities", "count"), [
    (TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear")),
     (ModalitySpec("text", 300, 60, "text"), ModalitySpec("audio", 74, 60, "audio"),
      ModalitySpec("visual", 35, 60, "visual")), 1_054_337),  # aligned CMU-MOSEI
    (TaskSpec("distribution", ("a", "b", "c", "d", "e", "f")),
     (ModalitySpec("eeg", 32, 128, "eeg"), ModalitySpec("peripheral", 8, 128, "peripheral")), 751_488),  # DEAP
])
def test_parameter_count_at_the_defaults_is_the_one_the_readme_states(task, modalities, count):
    # no official code exists; these are the README's figures for the class defaults (exact, so asserted equal)
    assert count_parameters(HeLo(task, modalities)) == count

@pytest.mark.parametrize("segments", [4, None])
def test_padding_does_not_change_outputs(segments):
    torch.manual_seed(0)
    model = HeLo(TASKS["distribution"], PHYSIO_BEHAV, **{**SMALL, "segments": segments}).eval()
    for weight in model.parameters():  # weights far larger than the N(0, 0.02) init, so any leak shows
        if weight.ndim > 1:
            torch.nn.init.normal_(weight, std=0.3)
    lengths = {"eeg": 3, "ecg": 7, "acc": 2}  # fewer real steps than segments: empty segments too
    padded = _one_sample(lengths, {m.name: m.seq_len for m in PHYSIO_BEHAV})
    with torch.no_grad():
        cut = model(_one_sample(lengths, None))
        full = model(padded)
        torch.testing.assert_close(full.logits, cut.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(full.aux_losses["ot"], cut.aux_losses["ot"], atol=1e-6, rtol=0)
        ignored = EmotionBatch(inputs=padded.inputs, masks={k: torch.ones_like(v) for k, v in padded.masks.items()},
                               target=padded.target)
        moved = (model(ignored).logits - cut.logits).abs().max()
    assert float(moved) > 0.1  # the garbage would show if a mask were dropped


# ---- learning (slow) ---------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "margin", "extra"), [
    ("synthetic-deap", 0.05, ()),
    # subject-independent DREAMER twin: strong per-subject offsets leave every method close to the prior
    ("synthetic-dreamer", 0.02, ("data_args.num_samples=600", "data_args.seq_len=16")),
    ("synthetic-mosei", 0.03, ("model_args.lr=3e-3",)),
])
def test_helo_beats_the_prior_on_its_twins(dataset, margin, extra, tmp_path):
    from tests.benchmark.test_learning import score

    trained, _, higher = score(dataset, "helo", tmp_path, extra=extra)
    prior, _, _ = score(dataset, "prior", tmp_path, extra=extra)
    gain = trained - prior if higher else prior - trained
    assert gain > margin, f"helo {trained:.4f} vs prior {prior:.4f} on {dataset}"
