"""MulT (`models/mult.py`): every task kind with 1-3 modalities of different lengths, gradients, mask handling,
number of crossmodal transformers and the official size."""

from __future__ import annotations

import pytest
import torch

from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.models import mult
from emobench.models.base import count_parameters
from emobench.models.mult import MulT
from emobench.models.task_head import task_loss

MODALITIES = (
    ModalitySpec("text", 6, 5, "text"),
    ModalitySpec("audio", 4, 7, "audio"),
    ModalitySpec("visual", 8, 3, "visual"),  # dim == d_model: no projection, as the official code
    ModalitySpec("eeg", 3, 4, "eeg"),
)
LABELS = ("anger", "joy", "sadness", "fear")
SMALL = dict(d_model=8, num_heads=2, layers=1, memory_layers=1, kernel_size={"audio": 3, "eeg": 2})


def make_batch(kind: str, modalities, lengths: dict[str, list[int]] | None = None, seed: int = 0,
               batch_size: int = 3) -> EmotionBatch:
    """Random batch; `lengths[name][i]` real steps for sample i (rest padded with random junk, mask False)."""
    g = torch.Generator().manual_seed(seed)
    inputs, masks = {}, {}
    for m in modalities:
        x = torch.randn(batch_size, m.seq_len, m.dim, generator=g)
        real = (lengths or {}).get(m.name, [m.seq_len] * batch_size)
        masks[m.name] = torch.arange(m.seq_len)[None, :] < torch.tensor(real)[:, None]
        inputs[m.name] = x
    if kind == "multilabel":
        target = (torch.rand(batch_size, len(LABELS), generator=g) > 0.5).float()
    elif kind == "distribution":
        target = torch.softmax(torch.randn(batch_size, len(LABELS), generator=g), dim=-1)
    else:
        target = torch.arange(batch_size) % len(LABELS)
    return EmotionBatch(inputs=inputs, masks=masks, target=target)


@pytest.mark.parametrize("kind", ["multilabel", "distribution", "multiclass"])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_forward_backward_finite(kind, count):
    torch.manual_seed(0)
    modalities = MODALITIES[:count]
    model = MulT(TaskSpec(kind, LABELS), modalities, **SMALL).train()
    batch = make_batch(kind, modalities, {m.name: [m.seq_len, m.seq_len - 1, 1] for m in modalities})
    logits = model(batch).logits
    assert logits.shape == (3, len(LABELS)) and torch.isfinite(logits).all()
    task_loss(kind, logits, batch.target).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_every_parameter_gets_a_gradient_with_three_modalities():
    torch.manual_seed(0)
    modalities = MODALITIES[:3]
    model = MulT(TaskSpec("multilabel", LABELS), modalities, **SMALL).train()
    batch = make_batch("multilabel", modalities, {m.name: [m.seq_len, 2, 1] for m in modalities})
    task_loss("multilabel", model(batch).logits, batch.target).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


@pytest.mark.parametrize("causal_mask", [True, False])
@pytest.mark.parametrize("count", [1, 3])
def test_padding_does_not_change_outputs(causal_mask, count):
    """Each sample alone, cut to its real lengths, gives the same logits as inside a padded batch whose padding
    holds random junk (key padding mask, zeroed conv inputs, last REAL step pooled)."""
    torch.manual_seed(0)
    modalities = MODALITIES[:count]
    model = MulT(TaskSpec("multiclass", LABELS), modalities, causal_mask=causal_mask, **SMALL).eval()
    lengths = {m.name: [m.seq_len, max(1, m.seq_len - 2), 1] for m in modalities}
    batch = make_batch("multiclass", modalities, lengths, seed=1)
    with torch.no_grad():
        padded = model(batch).logits
        for i in range(len(batch)):
            alone = EmotionBatch(
                inputs={m.name: batch.inputs[m.name][i:i + 1, :lengths[m.name][i]] for m in modalities},
                masks={m.name: batch.masks[m.name][i:i + 1, :lengths[m.name][i]] for m in modalities},
                target=batch.target[i:i + 1],
            )
            torch.testing.assert_close(model(alone).logits[0], padded[i], atol=1e-5, rtol=1e-5)
        junk = make_batch("multiclass", modalities, lengths, seed=2)
        for m in modalities:  # same real steps, different padding values
            junk.inputs[m.name] = torch.where(batch.masks[m.name][..., None], batch.inputs[m.name], junk.inputs[m.name])
        torch.testing.assert_close(model(junk).logits, padded)
    assert not torch.allclose(padded[0], padded[2])  # outputs do depend on the real steps


def test_empty_modality_sample_stays_finite():
    modalities = MODALITIES[:3]
    model = MulT(TaskSpec("distribution", LABELS), modalities, **SMALL).eval()
    batch = make_batch("distribution", modalities, {"audio": [7, 0, 3]})
    assert torch.isfinite(model(batch).logits).all()


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_crossmodal_transformer_per_ordered_pair(count):
    model = MulT(TaskSpec("multilabel", LABELS), MODALITIES[:count], **SMALL)
    assert len(model.crossmodal) == count * (count - 1)
    assert len(model.memory) == count


def test_official_defaults_and_size_on_mosei_shapes():
    """Built from (task, modalities) alone; 1,074,636 parameters as written in the module docstring (structure
    of the official src/models.py at d=30, 5 heads, 5 + 5 layers)."""
    mosei = (ModalitySpec("text", 300, 60, "text"), ModalitySpec("audio", 74, 60, "audio"),
             ModalitySpec("visual", 35, 60, "visual"))
    model = MulT(TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear")), mosei)
    assert count_parameters(model) == 1_074_636
    assert model.hparams.lr == 1e-3 and model.hparams.weight_decay == 0.0
    assert len(model.crossmodal["text_with_audio"].layers) == 5 and len(model.memory["text"].layers) == 5


def test_rejects_heads_that_do_not_divide_width():
    with pytest.raises(ValueError, match="divisible"):
        MulT(TaskSpec("multilabel", LABELS), MODALITIES[:2], d_model=10, num_heads=3)


@pytest.mark.parametrize("padded", [False, True])
def test_causal_query_blocks_give_the_unblocked_result(monkeypatch, padded):
    """On CPU the causal attention runs in query blocks over the keys each block may attend; logits and gradients
    equal the one-block computation (with and without padding)."""
    modalities = (ModalitySpec("text", 6, 24, "text"), ModalitySpec("audio", 4, 40, "audio"))
    lengths = {"text": [24, 20, 9], "audio": [40, 33, 12]} if padded else None
    batch = make_batch("multilabel", modalities, lengths, seed=3)
    results = []
    mask = mult._attention_bias(batch.masks["audio"], batch.masks["audio"], True, torch.float32)
    assert len(mask.blocks) == mult.QUERY_BLOCKS > 1  # blocking is active in the first run
    for blocks in (mult.QUERY_BLOCKS, 1):
        monkeypatch.setattr(mult, "QUERY_BLOCKS", blocks)
        torch.manual_seed(0)
        model = MulT(TaskSpec("multilabel", LABELS), modalities, d_model=8, num_heads=2, layers=2).eval()
        logits = model(batch).logits
        logits.square().sum().backward()
        results.append((logits.detach(), {n: p.grad for n, p in model.named_parameters()}))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-6, rtol=1e-5)
    for name, grad in results[0][1].items():
        torch.testing.assert_close(grad, results[1][1][name], atol=1e-6, rtol=1e-5)


def test_short_sequences_use_one_query_block():
    """Below MIN_BLOCKED_SCORES scores a causal mask gets one block (blocking would only add matmuls)."""
    short = torch.ones(2, 16, dtype=torch.bool)
    assert mult._attention_bias(short, short, True, torch.float32).blocks == ((0, 16, 16),)
    long = torch.ones(2, 40, dtype=torch.bool)
    assert len(mult._attention_bias(long, long, True, torch.float32).blocks) > 1
