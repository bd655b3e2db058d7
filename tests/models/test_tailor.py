"""TAILOR (models/tailor.py): official parameter counts, every task kind with 1-3 modalities, auxiliary losses and
their gradients (the reversed gradient into the common extractor), padding invariance."""

from __future__ import annotations

import pytest
import torch

from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.models.base import count_parameters
from emobench.models.layers.bert import BertAttention, fast_dropout, key_padding_mask
from emobench.models.tailor import Tailor
from emobench.models.task_head import task_loss
from tests.models.helpers import TASKS, THREE, grad_norm, random_batch

MOSEI = TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear"))
ALIGNED = (ModalitySpec("text", 300, 60, "text"), ModalitySpec("audio", 74, 60, "audio"),
           ModalitySpec("visual", 35, 60, "visual"))
UNALIGNED = (ModalitySpec("text", 300, 50, "text"), ModalitySpec("audio", 74, 500, "audio"),
             ModalitySpec("visual", 35, 500, "visual"))
SMALL = dict(hidden=16, num_heads=2, ffn_dim=16, primary_layers=1, layers=1, cross_layers=1, pooler=False)
EQUAL = (ModalitySpec("text", 6, 5, "text"), ModalitySpec("audio", 4, 5, "audio"), ModalitySpec("visual", 5, 5, "visual"))


@pytest.mark.parametrize(("modalities", "official"), [(ALIGNED, 10_798_652), (UNALIGNED, 10_884_944)])
def test_parameter_count_matches_official(modalities, official):
    # official counts: the official TAILOR modules (kniter1/TAILOR d61121ba) instantiated with train.sh settings
    count = count_parameters(Tailor(MOSEI, modalities))
    assert count == official  # exact, as the README states


@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("count", [1, 2, 3])
def test_forward_backward_every_task_and_modality_count(kind, count):
    torch.manual_seed(0)
    task, modalities = TASKS[kind], THREE[:count]
    model = Tailor(task, modalities, **SMALL)
    batch = random_batch(task, modalities)
    out = model(batch)
    assert out.logits.shape == (len(batch), task.num_labels) and torch.isfinite(out.logits).all()
    expected = {"common", "orthogonality"} | ({"adversarial_private", "adversarial_common"} if count > 1 else set())
    expected |= {"ctc"} if count > 1 else set()  # THREE has unequal lengths: audio/visual are CTC-aligned
    assert set(out.aux_losses) == expected
    loss = task_loss(kind, out.logits, batch.target)
    loss = loss + sum(model.aux_weights[k] * v for k, v in out.aux_losses.items())
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert (model.discriminator is None) == (count == 1)


def test_auxiliary_losses_are_nonzero_and_train_their_parts():
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    model = Tailor(task, THREE, **SMALL)
    batch = random_batch(task, THREE)
    parts = {
        "common": ["common_classifier", "common", "encoders"],
        "orthogonality": ["private", "common", "encoders"],
        "adversarial_private": ["discriminator", "private", "encoders"],
        "adversarial_common": ["discriminator", "common", "encoders"],
        "ctc": ["aligners"],
    }
    for name, modules in parts.items():
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        aux = model(batch).aux_losses
        assert aux[name].detach() > 0, name
        aux[name].backward()
        for module in modules:
            assert grad_norm(getattr(model, module)) > 0, (name, module)
        if name in ("common", "orthogonality", "ctc"):
            assert grad_norm(model.discriminator) == 0, name
        if name.startswith("adversarial"):
            assert grad_norm(model.decoder) == 0 and grad_norm(model.label_classifier) == 0, name


def test_common_extractor_receives_the_reversed_discriminator_gradient():
    torch.manual_seed(0)
    model = Tailor(TASKS["multilabel"], EQUAL, **SMALL).eval()  # eval: no dropout, same discriminator output twice
    masks = {m.name: torch.ones(3, m.seq_len, dtype=torch.bool) for m in EQUAL}
    masks["audio"][0, -2:] = False
    base = {m.name: torch.randn(3, m.seq_len, 16) for m in EQUAL}
    grads = {}
    for reverse in (False, True):
        model.zero_grad(set_to_none=True)
        feats = {n: x.clone().requires_grad_() for n, x in base.items()}
        loss = model._adversarial(feats, masks, reverse=reverse)
        loss.backward()
        grads[reverse] = ([feats[n].grad for n in feats], [p.grad.clone() for p in model.discriminator.parameters()],
                          float(loss.detach()))
    assert grads[True][2] == pytest.approx(grads[False][2])
    for g_rev, g_plain in zip(grads[True][0], grads[False][0], strict=True):
        assert g_plain.abs().sum() > 0
        torch.testing.assert_close(g_rev, -g_plain)  # features: reversed
    for g_rev, g_plain in zip(grads[True][1], grads[False][1], strict=True):
        torch.testing.assert_close(g_rev, g_plain)  # discriminator: still learns to tell modalities apart
    # padded steps are left out of the discriminator average
    assert grads[False][0][1][0, -2:].abs().sum() == 0


@pytest.mark.parametrize("modalities", [EQUAL, THREE])
def test_padding_values_do_not_change_outputs(modalities):
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    model = Tailor(task, modalities, **SMALL).eval()
    batch = random_batch(task, modalities)
    with torch.no_grad():
        before = model(batch).logits
        for name, mask in batch.masks.items():
            batch.inputs[name][~mask] = 1e3 * torch.randn(int((~mask).sum()), batch.inputs[name].shape[-1])
        after = model(batch).logits
    assert any((~m).any() for m in batch.masks.values())
    torch.testing.assert_close(before, after)


def test_logit_dropout_quirk_is_a_flag():
    torch.manual_seed(0)
    task = TASKS["multilabel"]
    batch = random_batch(task, EQUAL, batch_size=16)
    quirky = Tailor(task, EQUAL, logit_dropout=0.5, **SMALL)
    assert (quirky(batch).logits == 0).any()  # training: dropout zeroes label logits (probability 0.5)
    assert not (quirky.eval()(batch).logits == 0).any()
    plain = Tailor(task, EQUAL, logit_dropout=0.0, **SMALL)
    assert not (plain(batch).logits == 0).any()


def test_default_order_and_validation():
    model = Tailor(MOSEI, (ModalitySpec("audio", 4, 5, "audio"), *EQUAL[:1], ModalitySpec("visual", 3, 5, "visual")),
                   **SMALL)
    assert model.primary == "text" and model.order == ["audio", "visual"]
    assert len(model.cross) == 3 and not model.aligners
    with pytest.raises(ValueError, match="fusion_order"):
        Tailor(MOSEI, EQUAL, fusion_order=["audio"], **SMALL)
    with pytest.raises(ValueError, match="ctc_aligner"):
        Tailor(MOSEI, THREE, ctc_aligner=False, **SMALL)
    with pytest.raises(ValueError, match="primary"):
        Tailor(MOSEI, EQUAL, primary="eeg", **SMALL)


def test_bert_attention_training_path_equals_sdpa_path_and_dropout_keeps_the_mean():
    torch.manual_seed(0)
    attention = BertAttention(16, 2, dropout=0.0, attn_dropout=1e-7)  # explicit training path, ~no dropout
    x, mask = torch.randn(3, 6, 16), torch.ones(3, 6, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2] = False  # a sample without real steps attends every key instead of producing NaN
    train_out = attention.train()(x, key_padding_mask(mask))
    eval_out = attention.eval()(x, key_padding_mask(mask))
    torch.testing.assert_close(train_out, eval_out)
    assert key_padding_mask(torch.ones(2, 3, dtype=torch.bool)) is None
    dropped = fast_dropout(torch.ones(200_000), 0.3)
    assert abs(float((dropped == 0).float().mean()) - 0.3) < 0.01
    assert abs(float(dropped.mean()) - 1.0) < 0.02
    assert dropped.unique().tolist() == [0.0, pytest.approx(1 / 0.7)]
    leaf = torch.ones(1000, requires_grad=True)
    out = fast_dropout(leaf, 0.3)
    out.sum().backward()
    torch.testing.assert_close(leaf.grad, out.detach())  # d out / d x = keep / (1 - p)
