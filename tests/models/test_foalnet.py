"""Foal-Net (models/foalnet.py): the official parameter count, roles from modality kinds, AVEL against the official
formula and on constructed batches, MEM pairs and hard negatives, which parts each loss trains, padding invariance,
the optional WavLM encoder, and a short training that beats the label prior on the IEMOCAP and MOSEI twins."""

from __future__ import annotations

import math
import sys

import pytest
import torch
import torch.nn.functional as F

from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.models.base import count_parameters
from emobench.models.foalnet import FoalNet, avel_loss, hard_negatives, label_aware_contrastive, mem_pairs
from tests.models.helpers import TASKS, THREE, grad_norm, random_batch

IEMOCAP = TaskSpec("multiclass", ("hap", "neu", "sad", "ang"))  # Foal-Net's class order (dataloader.py)
FOALNET_INPUTS = (ModalitySpec("audio", 1024, 299, "audio"), ModalitySpec("visual", 768, 180, "visual"))
SMALL = dict(d_model=8, proj_dim=8, num_heads=2)


def test_parameter_count_matches_official():
    # official: ASolitaryMan/Foal-Net 781849f model.py MultiTaskModel without its WavLM, from the module shapes
    model = FoalNet(IEMOCAP, FOALNET_INPUTS)
    assert count_parameters(model) == 14_321_161
    parts = {"a2v": 7_352_320, "v2a": 5_514_240}
    assert {k: count_parameters(getattr(model, k)) for k in parts} == parts
    assert count_parameters(model.projections["audio"]) == 787_456
    assert count_parameters(model.projections["visual"]) == 656_384
    assert all(isinstance(s.input, torch.nn.Identity) for s in (*model.a2v, *model.v2a))  # no extra projection


def test_official_defaults():
    model = FoalNet(IEMOCAP, FOALNET_INPUTS)
    assert model.default_aux_weights == {"avel": 1.0, "mem": 0.1}
    assert model.temperature.item() == pytest.approx(math.log(1 / 0.07))
    assert (model.hparams.lr, model.hparams.weight_decay, model.hparams.schedule) == (1e-4, 0.01, "constant")
    layer = model.a2v[0].layers[0]
    assert layer.num_heads == 4 and layer.dropout.p == 0.1 and model.projections["audio"].dropout.p == 0.5


def test_roles_come_from_modality_kinds():
    mosei = FoalNet(TASKS["multilabel"], THREE, **SMALL)
    assert (mosei.audio, mosei.video) == ("audio", ["visual", "text"])
    assert len(mosei.a2v) == len(mosei.v2a) == 2
    pair = FoalNet(TASKS["multilabel"], THREE, video="visual", **SMALL)
    assert pair.video == ["visual"] and set(pair.projections) == {"audio", "visual"}
    physio = (ModalitySpec("eeg", 4, 6, "eeg"), ModalitySpec("ecg", 2, 6, "ecg"))
    dreamer = FoalNet(TASKS["distribution"], physio, **SMALL)
    assert (dreamer.audio, dreamer.video) == ("eeg", ["ecg"])
    single = FoalNet(TASKS["multiclass"], THREE[:1], **SMALL)
    assert single.video == [] and single.temperature is None and len(single.projections) == 0
    assert single.train()(random_batch(TASKS["multiclass"], THREE[:1])).aux_losses == {}
    with pytest.raises(ValueError, match="<audio=audio> and <video=\\['audio'\\]> must name distinct"):
        FoalNet(TASKS["multiclass"], THREE, video="audio", **SMALL)
    with pytest.raises(ValueError, match="<audio=speech>"):
        FoalNet(TASKS["multiclass"], THREE, audio="speech", **SMALL)


def test_avel_is_the_official_formula_with_the_temperature_as_divisor():
    torch.manual_seed(0)
    a, v = F.normalize(torch.randn(6, 5), dim=-1), F.normalize(torch.randn(6, 5), dim=-1)
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    same = labels[:, None] == labels[None, :]
    tau = torch.tensor(math.log(1 / 0.07))
    loss, sim = avel_loss(a, v, tau, same)
    torch.testing.assert_close(sim, a @ v.T / tau)
    reference = 0.0
    for s in (sim, sim.T):  # official: -sum(log_softmax(S) * targets, dim=1).mean(), targets = label equality
        rows = [-sum(torch.log_softmax(s[i], 0)[j] for j in range(6) if labels[i] == labels[j]) for i in range(6)]
        reference = reference + torch.stack(rows).mean() / 2
    torch.testing.assert_close(loss, reference)


def test_avel_pulls_same_emotion_pairs_together():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    same = labels[:, None] == labels[None, :]
    centres = torch.eye(3)
    aligned = F.normalize(centres[labels] + 0.1 * torch.randn(6, 3), dim=-1)
    swapped = F.normalize(centres[(labels + 1) % 3] + 0.1 * torch.randn(6, 3), dim=-1)
    tau = torch.tensor(0.1)
    assert avel_loss(aligned, aligned, tau, same)[0] < avel_loss(aligned, swapped, tau, same)[0]
    a = torch.nn.Parameter(F.normalize(torch.randn(6, 3), dim=-1))
    v = torch.nn.Parameter(F.normalize(torch.randn(6, 3), dim=-1))
    gap_before = _same_minus_other(a, v, same)
    optimizer = torch.optim.SGD([a, v], lr=0.1)
    for _ in range(100):
        optimizer.zero_grad()
        avel_loss(F.normalize(a, dim=-1), F.normalize(v, dim=-1), tau, same)[0].backward()
        optimizer.step()
    assert _same_minus_other(a, v, same) > gap_before + 0.5


def _same_minus_other(a: torch.Tensor, v: torch.Tensor, same: torch.Tensor) -> float:
    cos = F.normalize(a.detach(), dim=-1) @ F.normalize(v.detach(), dim=-1).T
    return (cos[same].mean() - cos[~same].mean()).item()


def test_label_aware_targets_are_unnormalised_sums_over_positives():
    sim = torch.zeros(3, 3)
    same = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    # uniform rows: each positive adds log 3; rows with 2, 2 and 1 positives
    assert float(label_aware_contrastive(sim, same)) == pytest.approx(math.log(3) * 5 / 3)


def test_mem_pairs_labels_and_negatives_never_share_the_anchor_emotion():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 1, 2, 2, 2, 3, 1])
    same = labels[:, None] == labels[None, :]
    for _ in range(200):
        sim = 3 * torch.randn(8, 8)
        partner, match = mem_pairs(sim, same)
        assert torch.equal(partner[:8], torch.arange(8)) and match.tolist() == [1] * 8 + [0] * 8
        anchors = torch.arange(16) % 8
        assert torch.equal(same[anchors, partner], match.bool())  # label 1 iff the pair shares the emotion
    hard = torch.zeros(8, 8)
    hard[0, 3] = 20.0  # a very similar sample of another emotion is the negative of anchor 0
    assert all(int(hard_negatives(hard, same)[0]) == 3 for _ in range(20))


def test_mem_negative_of_a_single_emotion_batch_is_uniform_as_officially():
    torch.manual_seed(0)
    same = torch.ones(4, 4, dtype=torch.bool)
    drawn = torch.stack([hard_negatives(torch.randn(4, 4), same) for _ in range(400)])
    assert set(drawn.flatten().tolist()) == {0, 1, 2, 3}  # no other emotion: any sample, labelled 0


def test_each_auxiliary_loss_trains_its_own_parts():
    torch.manual_seed(0)
    task = TASKS["multiclass"]
    model = FoalNet(task, THREE[1:], **SMALL)
    batch = random_batch(task, THREE[1:], batch_size=8)
    out = model(batch)
    out.aux_losses["mem"].backward(retain_graph=True)
    assert grad_norm(model.a2v_heads) > 0 and grad_norm(model.v2a_heads) > 0 and grad_norm(model.a2v) > 0
    # negatives are drawn without gradient and the stacks read the frames, not the AVEL heads
    assert grad_norm(model.projections) == 0 and model.temperature.grad is None
    model.zero_grad(set_to_none=True)
    out.aux_losses["avel"].backward()
    assert grad_norm(model.projections) > 0 and float(model.temperature.grad.abs()) > 0
    assert grad_norm(model.a2v) == 0 and grad_norm(model.classifier) == 0


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_padding_values_do_not_change_outputs(kind):
    task = TASKS[kind]
    model = FoalNet(task, THREE, **SMALL)
    batch = random_batch(task, THREE, batch_size=6)
    garbage = EmotionBatch(
        inputs={n: torch.where(batch.masks[n].unsqueeze(-1), x, 1e3 * torch.randn_like(x))
                for n, x in batch.inputs.items()},
        masks=batch.masks, target=batch.target)
    assert any((garbage.inputs[n] != batch.inputs[n]).any() for n in batch.inputs)
    for training in (False, True):
        model.train(training)
        torch.manual_seed(1)
        clean = model(batch)
        torch.manual_seed(1)
        dirty = model(garbage)
        torch.testing.assert_close(dirty.logits, clean.logits)
        for name, value in clean.aux_losses.items():
            torch.testing.assert_close(dirty.aux_losses[name], value)


def test_padded_steps_count_for_nothing():
    """A padded sample scores as the same sample cut to its real steps (padded keys and queries are ignored)."""
    task = TASKS["multiclass"]
    model = FoalNet(task, THREE, **SMALL).eval()
    batch = random_batch(task, THREE, batch_size=4)
    lengths = {n: int(m[-1].sum()) for n, m in batch.masks.items()}
    assert any(lengths[n] < batch.masks[n].shape[1] for n in lengths)
    cut = EmotionBatch(inputs={n: x[-1:, :lengths[n]] for n, x in batch.inputs.items()},
                       masks={n: m[-1:, :lengths[n]] for n, m in batch.masks.items()}, target=batch.target[-1:])
    torch.testing.assert_close(model(cut).logits, model(batch).logits[-1:])


def test_a_sample_without_real_keys_attends_its_zeroed_steps_as_officially():
    """Official -10000 fill: with every key padded, attention is uniform over the (zeroed) padded steps."""
    task = TASKS["multiclass"]
    model = FoalNet(task, THREE[1:], **SMALL).eval()
    for layer in model.a2v[0].layers:  # biases start at 0; make the value of a zeroed step visible
        torch.nn.init.normal_(layer.value.bias)
    batch = random_batch(task, THREE[1:], batch_size=3)
    batch.masks["visual"][0] = False
    batch.inputs["visual"][0] = 0.0
    assert torch.isfinite(model(batch).logits).all()
    a, a_mask, v = batch.inputs["audio"], batch.masks["audio"], batch.inputs["visual"]
    uniform = model.a2v[0](a, a_mask, v, torch.ones_like(batch.masks["visual"]))
    torch.testing.assert_close(model.a2v[0](a, a_mask, v, batch.masks["visual"])[0], uniform[0])


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_stack_on_partner_rows_equals_one_pass_per_pair(num_layers):
    """The MEM pass runs the stack once on k copies of the queries (first layer's queries projected once, keys and
    values gathered by `index`); each copy must equal a plain pass on (queries, the source rows it names)."""
    task = TASKS["multiclass"]
    model = FoalNet(task, THREE[1:], num_layers=num_layers, **SMALL).eval()
    for parameter in model.a2v[0].parameters():  # at init (std 0.02) attention is near uniform whatever the query
        torch.nn.init.normal_(parameter, std=0.5)
    batch = random_batch(task, THREE[1:], batch_size=5)
    a, a_mask, v, v_mask = batch.inputs["audio"], batch.masks["audio"], batch.inputs["visual"], batch.masks["visual"]
    v_mask[1, 3:] = False  # a partner with padded keys: its mask must travel with it
    index = torch.tensor([0, 1, 2, 3, 4, 1, 0, 4, 2, 3, 3, 3, 1, 0, 2])
    stacked = model.a2v[0](a, a_mask, v, v_mask, index)
    for copy in range(3):
        rows = index[5 * copy:5 * (copy + 1)]
        torch.testing.assert_close(stacked[5 * copy:5 * (copy + 1)], model.a2v[0](a, a_mask, v[rows], v_mask[rows]))


def test_evaluation_returns_no_auxiliary_losses_and_is_deterministic():
    task = TASKS["multilabel"]
    model = FoalNet(task, THREE, **SMALL).eval()
    batch = random_batch(task, THREE)
    first, second = model(batch), model(batch)
    assert first.aux_losses == {} and torch.equal(first.logits, second.logits)


def test_wavlm_encoder_errors_name_the_fix(monkeypatch):
    task = TASKS["multiclass"]
    wave = (ModalitySpec("audio", 1, 400, "audio"), ModalitySpec("visual", 5, 3, "visual"))
    with pytest.raises(ValueError, match="<audio> must have dim 1"):
        FoalNet(task, THREE[1:], audio_encoder="wavlm", wavlm_path="/nowhere")
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if the optional extra were not installed
    with pytest.raises(ImportError, match=r'pip install -e "\.\[wavlm\]"'):
        FoalNet(task, wave, audio_encoder="wavlm", wavlm_path="/nowhere")
    with pytest.raises(ValueError, match="<audio_encoder=hubert>"):
        FoalNet(task, wave, audio_encoder="hubert")


def test_wavlm_encoder_fine_tunes_a_local_checkpoint_with_the_cnn_frozen(tmp_path):
    # Optional extra for users (pip install -e ".[wavlm]"); the dev extra installs it, so CI runs this test.
    transformers = pytest.importorskip("transformers")
    config = transformers.WavLMConfig(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, conv_dim=(8, 8),
        conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer", do_stable_layer_norm=True, mask_time_prob=0.0, layerdrop=0.0)
    torch.manual_seed(0)
    transformers.WavLMModel(config).save_pretrained(tmp_path)  # tiny, random: nothing is downloaded
    task = TASKS["multiclass"]
    specs = (ModalitySpec("audio", 1, 400, "audio"), ModalitySpec("visual", 5, 3, "visual"))
    model = FoalNet(task, specs, audio_encoder="wavlm", wavlm_path=str(tmp_path), **SMALL)
    samples = torch.randn(4, 400, 1)
    masks = {"audio": torch.ones(4, 400, dtype=torch.bool), "visual": torch.ones(4, 3, dtype=torch.bool)}
    masks["audio"][-1, 200:] = False
    samples[-1, 200:] = 0.0
    batch = EmotionBatch(inputs={"audio": samples, "visual": torch.randn(4, 3, 5)}, masks=masks,
                         target=torch.tensor([0, 1, 0, 2]))
    out = model.train()(batch)
    frames, frame_mask = model.audio_encoder(samples, masks["audio"])
    assert frames.shape[-1] == 16  # samples -> frames: 400 -> 79 -> 39, 200 -> 39 -> 19
    assert frame_mask.sum(1).tolist() == [39, 39, 39, 19]
    (F.cross_entropy(out.logits, batch.target) + sum(out.aux_losses.values())).backward()
    cnn = model.audio_encoder.model.feature_extractor
    assert all(not p.requires_grad and p.grad is None for p in cnn.parameters())
    assert grad_norm(model.audio_encoder.model.encoder) > 0 and grad_norm(model.a2v) > 0


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "margin", "extra"), [("synthetic-iemocap", 0.1, ()),
                                                          ("synthetic-mosei", 0.03, ("model_args.lr=3e-3",))])
def test_foalnet_beats_the_prior_on_its_twins(dataset, margin, extra, tmp_path):
    """At the compact size of experiments/models/foalnet.yaml, with test_learning's short training. The MOSEI
    twin's margin is smaller: its phenomena leave every method within about 0.08 micro-F1 of the prior there."""
    from tests.benchmark.test_learning import score

    trained, _, _ = score(dataset, "foalnet", tmp_path, extra=extra)
    prior, _, _ = score(dataset, "prior", tmp_path, extra=extra)
    assert trained > prior + margin, f"foalnet {trained:.4f} vs prior {prior:.4f} on {dataset}"
