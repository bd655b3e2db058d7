"""CARAT (models/carat.py): official parameter counts, every task kind with 1-3 modalities, auxiliary losses and
their gradients, the exact official objective, SupCon and prototype EMA against their dense / sequential
definitions, prototype and queue updates (training only, detached), padding invariance."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.models.base import count_parameters
from emobench.models.carat import Carat, ema_prototypes, supcon_reference, supcon_with_queue
from emobench.models.task_head import task_loss
from tests.models.helpers import TASKS, THREE, grad_norm, random_batch

MOSEI = TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear"))
M3ED = TaskSpec("multilabel", ("Happy", "Neutral", "Sad", "Disgust", "Anger", "Fear", "Surprise"))
ALIGNED = (ModalitySpec("text", 300, 60, "text"), ModalitySpec("audio", 74, 60, "audio"),
           ModalitySpec("visual", 35, 60, "visual"))
UNALIGNED = (ModalitySpec("text", 300, 50, "text"), ModalitySpec("audio", 74, 500, "audio"),
             ModalitySpec("visual", 35, 500, "visual"))
M3ED_SPECS = (ModalitySpec("text", 768, 60, "text"), ModalitySpec("audio", 1024, 60, "audio"),
              ModalitySpec("visual", 342, 60, "visual"))
SMALL = dict(hidden=16, latent_dim=8, num_heads=2, ffn_dim=16, primary_layers=1, layers=1, max_positions=8,
             queue_size=64, pooler=False)
OFFICIAL_TERMS = {"lsr_clf": 0.01, "aug_clf": 0.1, "beta_clf": 1.0, "cl": 1.0, "recon_mse": 1.0, "aug_mse": 1.0,
                  "beta_mse": 0.0, "total_aug_clf": 1.0, "shuffle_aug_clf": 0.1}


@pytest.mark.parametrize(("task", "modalities", "kwargs", "official"), [
    (MOSEI, ALIGNED, {}, 7_359_736),
    (MOSEI, UNALIGNED, {}, 13_618_228),
    (M3ED, M3ED_SPECS, {"max_positions": 100}, 7_677_555),
])
def test_parameter_count_matches_official(task, modalities, kwargs, official):
    # official counts: the official CARAT modules (chengzju/CARAT 3210086a) instantiated with train.sh settings
    count = count_parameters(Carat(task, modalities, **kwargs))
    assert count == official  # exact, as the README states


@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("count", [1, 2, 3])
def test_forward_backward_every_task_and_modality_count(kind, count):
    torch.manual_seed(0)
    task, modalities = TASKS[kind], THREE[:count]
    model = Carat(task, modalities, **SMALL)
    batch = random_batch(task, modalities)
    out = model(batch)
    assert out.logits.shape == (len(batch), task.num_labels) and torch.isfinite(out.logits).all()
    assert set(out.aux_losses) == set(model.default_aux_weights)
    loss = task_loss(kind, out.logits, batch.target)
    loss = loss + sum(model.aux_weights[k] * v for k, v in out.aux_losses.items())
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    probs = torch.sigmoid(out.logits) if kind == "multilabel" else torch.exp(out.logits)
    assert ((probs > 0) & (probs < 1)).all()
    if kind != "multilabel":  # log p of a distribution: the base's softmax returns p itself
        torch.testing.assert_close(probs.sum(dim=-1), torch.ones(len(batch)))


def test_total_objective_equals_the_official_one():
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    model = Carat(task, THREE, **SMALL)
    batch = random_batch(task, THREE)
    out = model(batch)
    base_total = model.task_loss_weight * task_loss(task.kind, out.logits, batch.target) + sum(
        model.aux_weights[k] * v for k, v in out.aux_losses.items())
    official = sum(w * out.aux_losses[k] for k, w in OFFICIAL_TERMS.items())
    assert float((base_total - official).detach()) == pytest.approx(0.0, abs=1e-5)
    assert model.task_loss_weight == 0.0 and set(out.aux_losses) == set(OFFICIAL_TERMS)


def test_auxiliary_losses_are_nonzero_and_train_their_parts():
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    model = Carat(task, THREE, **SMALL)
    batch = random_batch(task, THREE)
    parts = {
        "lsr_clf": ["classifiers", "label_attention", "encoders"],
        "aug_clf": ["classifiers", "fusion", "latent_decoders"],
        "beta_clf": ["classifiers", "fusion", "encoders"],
        "cl": ["latent_encoders", "fusion", "encoders"],
        "recon_mse": ["latent_decoders", "latent_encoders", "label_attention"],
        "aug_mse": ["fusion", "latent_decoders"],
        "beta_mse": ["fusion"],
        "total_aug_clf": ["aggregation", "fusion"],
        "shuffle_aug_clf": ["aggregation", "fusion"],
    }
    for name, modules in parts.items():
        model.zero_grad(set_to_none=True)
        aux = model(batch).aux_losses
        assert aux[name].detach() > 0, name
        aux[name].backward()
        for module in modules:
            assert grad_norm(getattr(model, module)) > 0, (name, module)
        if name in ("lsr_clf", "recon_mse"):
            assert grad_norm(model.aggregation) == 0, name


def test_prototypes_and_queue_update_only_in_training_and_stay_detached():
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    model = Carat(task, THREE, **{**SMALL, "queue_size": 256})
    batch = random_batch(task, THREE)
    state = {k: v.clone() for k, v in model.named_buffers()}
    model.eval()
    with torch.no_grad():
        model(batch)
    for name, value in model.named_buffers():
        torch.testing.assert_close(value, state[name])
    model.train()
    out = model(batch)
    assert not torch.equal(model.prototypes, state["prototypes"])
    assert not torch.equal(model.queue, state["queue"])
    rows = len(batch) * 3 * len(THREE) * task.num_labels  # 3 views x N modalities x K labels per sample: 144
    assert int(model.queue_ptr) == rows and int((model.queue_labels >= 0).sum()) == rows
    for buffer in (model.queue, model.prototypes):
        assert not buffer.requires_grad and buffer.grad_fn is None
    sum(out.aux_losses.values()).backward()  # buffers updated in place after use: backward still works
    assert (model.prototypes.norm(dim=-1) <= 1.0 + 1e-6).all()  # EMA of unit vectors from 0
    model(batch)  # second step wraps around the FIFO queue
    assert int(model.queue_ptr) == 2 * rows - 256 and bool((model.queue_labels >= 0).all())


def test_supcon_matches_the_dense_official_formula():
    torch.manual_seed(0)
    feats = F.normalize(torch.randn(30, 8), dim=-1).requires_grad_()
    labels = torch.randint(0, 5, (30,))
    queue = F.normalize(torch.randn(20, 8), dim=-1)
    queue_labels = torch.randint(-1, 5, (20,))
    ours = supcon_with_queue(feats, labels, queue, queue_labels, 5)
    (g_ours,) = torch.autograd.grad(ours, feats)
    dense = supcon_reference(torch.cat([feats, queue]), torch.cat([labels, queue_labels]))
    (g_dense,) = torch.autograd.grad(dense, feats)
    torch.testing.assert_close(ours, dense)
    torch.testing.assert_close(g_ours, g_dense)


def test_vectorised_prototype_ema_matches_the_sequential_update():
    torch.manual_seed(0)
    protos, z = torch.randn(2, 2, 3, 4), torch.randn(2, 6, 3, 4)
    present = torch.rand(6, 3) > 0.5
    expected = protos.clone()
    for m in range(2):  # the official per-sample loop
        for b in range(6):
            for k in range(3):
                s = 0 if present[b, k] else 1
                expected[m, s, k] = 0.99 * expected[m, s, k] + 0.01 * z[m, b, k]
    torch.testing.assert_close(ema_prototypes(protos, z, present, 0.99), expected)


def test_padding_values_do_not_change_outputs():
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    model = Carat(task, THREE, **SMALL)
    model(random_batch(task, THREE, seed=3))  # one training step so the prototypes differ from zero
    model.eval()
    batch = random_batch(task, THREE)
    with torch.no_grad():
        before = model(batch).logits
        for name, mask in batch.masks.items():
            batch.inputs[name][~mask] = 1e3 * torch.randn(int((~mask).sum()), batch.inputs[name].shape[-1])
        after = model(batch).logits
    torch.testing.assert_close(before, after)


def test_default_aligners_follow_lengths():
    assert not Carat(MOSEI, ALIGNED, **SMALL).aligners
    model = Carat(MOSEI, UNALIGNED, **SMALL)
    assert sorted(model.aligners) == ["audio", "visual"] and model.aligners["audio"].out_steps == 500
    same = Carat(MOSEI, UNALIGNED, aligner_same_length=True, **SMALL)
    assert same.aligners["visual"].out_steps == 50
