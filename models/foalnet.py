"""`foalnet`: Foal-Net, audio-video emotion recognition that fuses after aligning: audio-video emotion alignment
(AVEL, a label-aware contrastive loss) and cross-modal emotion label matching (MEM) as auxiliary tasks.

Paper: Qifei Li, Yingming Gao, Yuhua Wen, Cong Wang, Ya Li, "Enhancing Modal Fusion by Alignment and Label
Matching for Multimodal Emotion Recognition", Interspeech 2024 (arXiv:2408.09438).
Official code: https://github.com/ASolitaryMan/Foal-Net, read at commit 781849f (files `model.py`
(`MultiTaskModel`, `MultiHeadCrossAttention`, `Projection`), `train.py`, `dataloader.py`). This file is our own
implementation of that structure.

Structure (forward order; official inputs: audio = WavLM-large frames 1024-d, video = CLIP frames 768-d):
1. Input frames -> Dropout(`feature_dropout`, WavLM's `final_dropout`) -> padded steps zeroed.
2. AVEL heads per modality: masked mean over time -> Projection g(x) = LN(e + Dropout_0.5(W2 GELU(e))), e = W1 x
   (W1: d -> 512, W2: 512 -> 512, no biases) -> L2 normalisation. S = a v^T / tau, where tau is ONE learnable
   scalar initialised to ln(1 / 0.07) = 2.659 and used as a divisor, exactly as the code (an effective
   temperature of 2.66, not 0.07; unconstrained).
3. Two cross-attention stacks of 2 post-LN layers without FFN: "a2v" (queries: audio frames, keys/values: the raw
   video frames in every layer), width 1024, 4 heads; "v2a" (queries video, keys/values raw audio), width 768.
   A layer: LN(q + Dropout_0.1(W_o MHA(W_q q, W_k src, W_v src))); every projection with bias; padded keys masked.
   Masked mean over the query's real steps gives u_a (1024) and u_v (768).
4. Classifier: Dropout(`feature_dropout`) on [u_a ; u_v] -> Linear(1792 -> K).
5. MEM heads Linear(1024 -> 2) and Linear(768 -> 2) on the pooled stack outputs.
Losses (`train.py`: loss = c_loss + loss_avc + 0.1 * loss_itm; `default_aux_weights` = those weights):
- "avel": L_a2v = mean_i -sum_j Y_ij log softmax_j(S_i.), with Y_ij = 1[same emotion] (the sample itself included,
  targets not normalised); L_v2a the same on S^T; avel = (L_a2v + L_v2a) / 2.
- "mem": without gradient, same-emotion entries of S are excluded and each row softmaxed; one hard negative
  video is drawn per audio from its row (one `torch.multinomial` call for the batch) and one negative audio per
  video from S^T. The a2v stack runs on [(a_i, v_i) ; (a_i, v_neg(i))] with match labels [1 ; 0], the v2a stack
  on [(v_i, a_i) ; (v_i, a_neg(i))]; mem = (CE_a2v + CE_v2a) / 2 of the 2-way heads.
- The task loss is the base's (multiclass: CE, as the official `CrossEntropyLoss`). Aux losses are computed in
  training only (the official eval forward computes them too, but they only enter the logged eval loss).

"Same emotion" (`emobench.datamodules.sampling.same_emotion`): multiclass equal class; multi-label equal label sets
(rows of y >= 0.5 equal; the empty set is a class); distribution equal dominant emotion (argmax). The same classes
drive the class-balanced sampler (`class_balanced` data argument), so the paper protocol's sampler and the losses
agree on every task kind.

Official defaults (class defaults here): d_model None = each stack as wide as its query modality (1024 / 768),
num_layers 2 (`n_layers=2`), num_heads 4, dropout 0.1 (`rate`), proj_dim 512 and proj_dropout 0.5 (`Projection`),
temperature_init ln(1 / 0.07) (`self.temp`), feature_dropout 0.0 (`config.final_dropout` of the WavLM-large config
microsoft/wavlm-large, revision 0dbabc6), init_std 0.02 (WavLM `initializer_range`: the heads are initialised by
`post_init`, Linear weights N(0, 0.02), biases 0, LayerNorm 1 / 0), lr 1e-4 with torch AdamW defaults (weight
decay 0.01) and no schedule (`train.py` builds a warm-up cosine scheduler but passes `lr_scheduler=None`). Not model
arguments: batch 16, 40 epochs, class-balanced `WeightedRandomSampler`, fp16 autocast, seed 1234 (`train.py`).

Parameters with the official configuration (audio 1024, video 768, 4 classes): ours 14,321,161 = official
14,321,161 (a2v 7,352,320; v2a 5,514,240; audio projection 787,456; video projection 656,384; two MEM heads,
classifier and tau 10,761), counted from the official module shapes; WavLM-large (about 315 M, fine-tuned by the
official code) is not included, as its frames are precomputed here by default.

Audio encoder. `audio_encoder="features"` (default) takes precomputed frame features (the IEMOCAP twin and the
Foal-Net feature layout: WavLM-large frames 1024-d). `audio_encoder="wavlm"` fine-tunes a local WavLM checkpoint
folder (`wavlm_path`, never downloaded; needs the optional `transformers` package, `pip install -e ".[wavlm]"`) on
the audio modality's raw 16 kHz samples, given as (B, T, 1) with a sample mask, fed without normalisation as the
official code does; the CNN feature encoder is frozen, the Transformer trained, the last hidden state used with the
frame mask derived from the sample mask. That setting with microsoft/wavlm-large reproduces the paper's model.

Generalisation (any N >= 1 modalities, any dims, every task kind):
- Roles: `audio` (default: the first modality of kind "audio", else the first modality) and `video` (a name or a
  list; default: every other modality, those of kind "visual" first, then in dataset order). Each (audio, video)
  pair gets its own a2v / v2a stacks and MEM heads; one AVEL head per modality (the audio head is shared by the
  pairs). avel and mem are averaged over pairs; the classifier sees [u_a ; u_v] of every pair. On IEMOCAP (audio,
  visual) this is the official model; on CMU-MOSEI (text, audio, visual) audio is paired with visual and text. Any
  two modalities form a pair (e.g. EEG and ECG on DREAMER: the first plays audio).
- N = 1: no pair, so no AVEL or MEM (no aux losses): the modality attends to itself through one stack of the a2v
  structure (queries and keys/values from the same frames), masked mean, classifier.
- Widths: `d_model` None keeps each stack as wide as its query modality, rounded up to a multiple of `num_heads`
  (a Linear maps the frames to that width only where they differ); an int sets every stack's width (the compact
  CPU size).

Deliberate deviations:
- Vectorised negatives: one `torch.multinomial` over the rows instead of a Python loop over the batch. Same-emotion
  entries are excluded with -inf instead of -10000: the same draw while |S| stays below about 1e4, and the
  guarantee holds even when a small learned tau makes S larger. A row whose batch holds only its own emotion draws
  uniformly over the batch (as the official all -10000 row), so its "negative" may share the emotion while
  labelled 0 (official behaviour).
- The matched half of the MEM pass is the classification pass: the official code runs each stack a third time on
  the matched pairs for the classifier, with fresh dropout; here both uses share one dropout draw (identical in
  evaluation) and the stacks run on 2B instead of 3B pairs. Key/value projections of the drawn negatives are
  gathered from the batch's, not recomputed, and the first layer projects its queries (the same frames in both
  halves) once. Matrix FLOPs of a training step at the official size: 0.43 of the official code's (counted by
  `benchmark/side_by_side/side_by_side.py`).
- Masks: padded keys are masked with -inf (official -10000; equal in float32 unless every key is padded); a sample
  with no real key attends all of its zeroed steps, as the official fill does. Means divide by max(1, real steps)
  (official: by the count, NaN for a sample without real steps). Outputs do not depend on padded values.
- Optimiser: the base's AdamW does not decay biases and norms (torch AdamW on all parameters officially). Model
  selection uses the validation split, not the best test-session epoch of the official `train.py`.
- Dropout is `models.layers.bert.FastDropout`, as in the other methods: the distribution of `nn.Dropout` (p
  quantised to 1/65536) from 16-bit uniform integers, 9-12 % faster per official-size CPU step than the
  `bernoulli_` draws of `nn.Dropout` (measured alternately, 2 threads); another random stream than the official's.
- No DDP gathering of features for S (single-process batches; the official gathers without gradient). Precision
  is the trainer's (float32 by default; the official code trains under fp16 autocast).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.sampling import same_emotion
from emobench.models.base import EmotionModel
from emobench.models.layers.bert import FastDropout
from emobench.models.layers.pooling import masked_mean
from emobench.models.output import ModelOutput

OFFICIAL_TEMPERATURE = math.log(1 / 0.07)  # model.py: self.temp = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
AUDIO_ENCODERS = ("features", "wavlm")


def label_aware_contrastive(sim: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """One direction of AVEL: mean_i -sum_j same_ij log softmax_j(sim_i.) (a sum over positives, unnormalised)."""
    return -(F.log_softmax(sim, dim=1) * same.to(sim.dtype)).sum(dim=1).mean()


def avel_loss(audio: torch.Tensor, video: torch.Tensor, temperature: torch.Tensor,
              same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, S): S = audio video^T / temperature of unit rows; loss = (L_a2v(S) + L_v2a(S^T)) / 2."""
    sim = audio @ video.T / temperature
    return 0.5 * (label_aware_contrastive(sim, same) + label_aware_contrastive(sim.T, same.T)), sim


@torch.no_grad()
def hard_negatives(sim: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """(B,) one column per row drawn from softmax(sim) over the columns of another emotion; a row without any such
    column draws uniformly over all columns."""
    logits = sim.detach().masked_fill(same, float("-inf"))
    logits = torch.where(same.all(dim=1, keepdim=True), torch.zeros_like(logits), logits)
    return torch.multinomial(torch.softmax(logits, dim=1), 1).squeeze(1)


def mem_pairs(sim: torch.Tensor, same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MEM pairs for B anchors: (partner (2B,), match (2B,) long). Anchor k % B is paired with partner[k]: itself for
    k < B (match 1), a hard negative for k >= B (match 0)."""
    b = sim.shape[0]
    own = torch.arange(b, device=sim.device)
    partner = torch.cat([own, hard_negatives(sim, same)])
    match = torch.cat([torch.ones(b, dtype=torch.long, device=sim.device), torch.zeros_like(own)])
    return partner, match


class _Projection(nn.Module):
    """The AVEL head: LN(e + Dropout(W2 GELU(e))) with e = W1 x, both Linear layers without bias."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(in_dim, out_dim, bias=False)
        self.linear2 = nn.Linear(out_dim, out_dim, bias=False)
        self.dropout = FastDropout(dropout)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.linear1(x)
        return self.norm(e + self.dropout(self.linear2(F.gelu(e))))


class _CrossAttention(nn.Module):
    """Post-LN cross-attention without FFN: LN(q + Dropout(W_o MHA(W_q q, W_k src, W_v src)))."""

    def __init__(self, width: int, source_dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(source_dim, width)
        self.value = nn.Linear(source_dim, width)
        self.out = nn.Linear(width, width)
        self.dropout = FastDropout(dropout)
        self.norm = nn.LayerNorm(width)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, source: torch.Tensor, allowed: torch.Tensor,
                index: torch.Tensor | None, copies: int = 1) -> torch.Tensor:
        """x: (N / copies, T, width) queries, used `copies` times (projected once); source: (B, S, source_dim);
        allowed: (N, 1, 1, S) bool; index: (N,) source rows of each query row (None: row i)."""
        key, value = self.key(source), self.value(source)
        if index is not None:
            # index_select: its backward (scatter-add) took 21 ms of an official-size CPU step, key[index]'s
            # accumulating index_put_ 317 ms
            key, value = key.index_select(0, index), value.index_select(0, index)
        query = self.query(x)
        if copies > 1:
            x, query = x.repeat(copies, 1, 1), query.repeat(copies, 1, 1)
        att = F.scaled_dot_product_attention(self._heads(query), self._heads(key), self._heads(value),
                                             attn_mask=allowed)
        return self.norm(x + self.dropout(self.out(att.transpose(1, 2).flatten(2))))


class _CrossStack(nn.Module):
    """`num_layers` cross-attention layers (keys/values from the raw source frames in each layer), then the masked
    mean over the query's real steps. A Linear maps the query frames to `width` first when their dims differ."""

    def __init__(self, query_dim: int, width: int, source_dim: int, num_layers: int, num_heads: int,
                 dropout: float) -> None:
        super().__init__()
        self.input = nn.Linear(query_dim, width) if query_dim != width else nn.Identity()
        self.layers = nn.ModuleList(_CrossAttention(width, source_dim, num_heads, dropout) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, source: torch.Tensor, source_mask: torch.Tensor,
                index: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, query_dim) with mask (B, T); source: (B, S, source_dim) with mask (B, S); index: (k B,) source
        row for each of k copies of the queries (None: row i for query i). Returns (k B, width)."""
        open_mask = source_mask | ~source_mask.any(dim=1, keepdim=True)  # no real key: attend the zeroed steps
        allowed = (open_mask if index is None else open_mask[index])[:, None, None, :]
        x = self.input(x)
        copies = 1 if index is None else len(index) // len(x)
        for i, layer in enumerate(self.layers):  # the first layer's queries are the same in every copy
            x = layer(x, source, allowed, index, copies if i == 0 else 1)
        return masked_mean(x, x_mask.repeat(copies, 1))


def _conv_frames(lengths: torch.Tensor, kernels: Sequence[int], strides: Sequence[int]) -> torch.Tensor:
    """Frames a stack of unpadded 1-d convolutions makes of `lengths` samples (floor((n - k) / s) + 1 per layer)."""
    for kernel, stride in zip(kernels, strides, strict=True):
        lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
    return lengths.clamp(min=0)


class _WavLMEncoder(nn.Module):
    """A local WavLM checkpoint fine-tuned on raw 16 kHz samples, CNN feature encoder frozen (`transformers`)."""

    def __init__(self, path: str | None) -> None:
        super().__init__()
        try:
            from transformers import WavLMModel
        except ImportError as err:
            raise ImportError(
                "FoalNet: <audio_encoder=wavlm> needs the optional `transformers` package, which is not installed. "
                "Make sure to install the extra with `pip install -e \".[wavlm]\"`, or use audio_encoder=features "
                "with precomputed WavLM frames.") from err
        if not path or not Path(path).expanduser().is_dir():
            raise ValueError(
                f"FoalNet: <wavlm_path={path}> must be a local folder holding a WavLM checkpoint (config.json and "
                "weights, e.g. microsoft/wavlm-large saved with save_pretrained); nothing is downloaded. Make sure "
                "the folder exists.")
        self.model = WavLMModel.from_pretrained(str(Path(path).expanduser()), local_files_only=True)
        extractor = self.model.feature_extractor
        extractor.requires_grad_(False)
        if hasattr(extractor, "_requires_grad"):  # lets transformers skip autograd through the frozen CNN
            extractor._requires_grad = False
        self.width = int(self.model.config.hidden_size)

    def forward(self, samples: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """samples: (B, T, 1) raw waveform; mask: (B, T) -> frames (B, F, width), frame mask (B, F)."""
        hidden = self.model(samples.squeeze(-1), attention_mask=mask.long()).last_hidden_state
        config = self.model.config
        frames = _conv_frames(mask.sum(dim=1), config.conv_kernel, config.conv_stride)
        frame_mask = torch.arange(hidden.shape[1], device=hidden.device)[None, :] < frames[:, None]
        return hidden, frame_mask


class FoalNet(EmotionModel, name="foalnet"):
    """Foal-Net (Li et al., Interspeech 2024): cross-attention fusion after audio-video emotion alignment (AVEL)
    with cross-modal emotion label matching (MEM).

    Structure, losses, the source of every default and the deviations are in the module docstring.

    Args:
        audio: the modality in the audio role (default: the first of kind "audio", else the first modality).
        video: the modality or modalities paired with audio (default: every other one, kind "visual" first).
        d_model: width of every cross-attention stack; None = each stack as wide as its query modality (official).
        num_layers, num_heads: layers and heads of each stack.  dropout: dropout after each attention output.
        proj_dim, proj_dropout: AVEL projection width and its dropout.
        temperature_init: initial value of the learnable divisor tau of S.
        feature_dropout: dropout on the input frames and on the classifier input (WavLM `final_dropout`).
        init_std: std of the normal initialisation of every Linear weight (biases 0).
        audio_encoder: "features" (precomputed frames) or "wavlm" (fine-tune the checkpoint at `wavlm_path` on raw
            16 kHz samples; needs `pip install -e ".[wavlm]"`).
        wavlm_path: local WavLM checkpoint folder for audio_encoder="wavlm".
        lr, weight_decay, schedule, warmup_fraction: the base's settings with the official values as defaults;
            other base keywords (aux_weights, threshold, ...) pass through `**kwargs`.
    """

    default_aux_weights = {"avel": 1.0, "mem": 0.1}  # train.py: loss = c_loss + loss_avc + 0.1 * loss_itm

    def __init__(self, task, modalities, label_stats=None, audio: str | None = None,
                 video: str | Sequence[str] | None = None, d_model: int | None = None, num_layers: int = 2,
                 num_heads: int = 4, dropout: float = 0.1, proj_dim: int = 512, proj_dropout: float = 0.5,
                 temperature_init: float = OFFICIAL_TEMPERATURE, feature_dropout: float = 0.0,
                 init_std: float = 0.02, audio_encoder: str = "features", wavlm_path: str | None = None,
                 lr: float = 1e-4, weight_decay: float = 0.01, schedule: str = "constant",
                 warmup_fraction: float = 0.0, **kwargs) -> None:
        super().__init__(task, modalities, label_stats, lr=lr, weight_decay=weight_decay, schedule=schedule,
                         warmup_fraction=warmup_fraction, **kwargs)
        specs = {m.name: m for m in self.modalities}
        self.audio, self.video = self._roles(audio, video)
        if audio_encoder not in AUDIO_ENCODERS:
            raise ValueError(f"FoalNet: <audio_encoder={audio_encoder}> must be one of {AUDIO_ENCODERS}.")
        if num_layers < 1 or num_heads < 1 or (d_model is not None and d_model % num_heads):
            raise ValueError(f"FoalNet: <num_layers={num_layers}>, <num_heads={num_heads}> must be >= 1 and "
                             f"<d_model={d_model}> a multiple of num_heads.")
        dims = {name: spec.dim for name, spec in specs.items()}
        self.audio_encoder = None
        if audio_encoder == "wavlm":
            if specs[self.audio].dim != 1:
                raise ValueError(f"FoalNet: audio_encoder=wavlm reads raw samples, so the audio modality "
                                 f"<{self.audio}> must have dim 1 (B, T, 1) at 16 kHz; it has dim "
                                 f"{specs[self.audio].dim}. Make sure the dataset gives the waveform.")
            self.audio_encoder = _WavLMEncoder(wavlm_path)
            dims[self.audio] = self.audio_encoder.width

        def width(name: str) -> int:
            return d_model if d_model is not None else math.ceil(dims[name] / num_heads) * num_heads

        def stack(query: str, source: str) -> _CrossStack:
            return _CrossStack(dims[query], width(query), dims[source], num_layers, num_heads, dropout)

        a = self.audio
        partners = self.video or [a]  # N = 1: the modality attends to itself
        self.a2v = nn.ModuleList(stack(a, v) for v in partners)
        self.v2a = nn.ModuleList(stack(v, a) for v in self.video)
        self.projections = nn.ModuleDict(  # AVEL heads; none without a pair
            {n: _Projection(dims[n], proj_dim, proj_dropout) for n in (a, *self.video)} if self.video else {})
        self.a2v_heads = nn.ModuleList(nn.Linear(width(a), 2) for _ in self.video)
        self.v2a_heads = nn.ModuleList(nn.Linear(width(v), 2) for v in self.video)
        self.feature_dropout = FastDropout(feature_dropout)
        fused = len(partners) * width(a) + sum(width(v) for v in self.video)
        self.classifier = nn.Linear(fused, task.num_labels)
        self.temperature = nn.Parameter(torch.tensor(float(temperature_init))) if self.video else None
        for module in (self.a2v, self.v2a, self.projections, self.a2v_heads, self.v2a_heads, self.classifier):
            module.apply(lambda m: _init_linear(m, init_std))

    def _roles(self, audio: str | None, video: str | Sequence[str] | None) -> tuple[str, list[str]]:
        names = [m.name for m in self.modalities]
        kinds = {m.name: m.kind for m in self.modalities}
        if audio is None:
            audio = next((n for n in names if kinds[n] == "audio"), names[0])
        if video is None:
            others = [n for n in names if n != audio]
            video = [n for n in others if kinds[n] == "visual"] + [n for n in others if kinds[n] != "visual"]
        video = [video] if isinstance(video, str) else list(video)
        unknown = [n for n in [audio, *video] if n not in names]
        if unknown or audio in video or len(set(video)) != len(video):
            raise ValueError(f"FoalNet: <audio={audio}> and <video={video}> must name distinct modalities of "
                             f"{names}. Make sure each is a modality name and audio is not also a video.")
        return audio, video

    # ---- forward -----------------------------------------------------------------------------------------------
    def _frames(self, batch: EmotionBatch, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = batch.inputs[name], batch.masks[name]
        if name == self.audio and self.audio_encoder is not None:
            x, mask = self.audio_encoder(x, mask)
        return self.feature_dropout(x) * mask.unsqueeze(-1).to(x.dtype), mask

    def forward(self, batch: EmotionBatch) -> ModelOutput:
        a, a_mask = self._frames(batch, self.audio)
        if not self.video:
            pooled = self.a2v[0](a, a_mask, a, a_mask)
            return ModelOutput(logits=self.classifier(self.feature_dropout(pooled)))
        train = self.training
        if train:
            same = same_emotion(self.task.kind, batch.target)
            z_a = F.normalize(self.projections[self.audio](masked_mean(a, a_mask)), dim=-1)
        fused, avel, mem = [], [], []
        for i, name in enumerate(self.video):  # loop over modality pairs, never over samples or labels
            v, v_mask = self._frames(batch, name)
            if not train:
                fused += [self.a2v[i](a, a_mask, v, v_mask), self.v2a[i](v, v_mask, a, a_mask)]
                continue
            z_v = F.normalize(self.projections[name](masked_mean(v, v_mask)), dim=-1)
            loss, sim = avel_loss(z_a, z_v, self.temperature, same)
            avel.append(loss)
            video_partner, match = mem_pairs(sim, same)
            audio_partner, _ = mem_pairs(sim.T, same.T)
            u_a = self.a2v[i](a, a_mask, v, v_mask, video_partner)  # pairs (a_k, v_partner[k]), k < 2B
            u_v = self.v2a[i](v, v_mask, a, a_mask, audio_partner)
            mem.append(0.5 * (F.cross_entropy(self.a2v_heads[i](u_a), match)
                              + F.cross_entropy(self.v2a_heads[i](u_v), match)))
            b = len(match) // 2
            fused += [u_a[:b], u_v[:b]]
        logits = self.classifier(self.feature_dropout(torch.cat(fused, dim=-1)))
        if not train:
            return ModelOutput(logits=logits)
        aux = {"avel": torch.stack(avel).mean(), "mem": torch.stack(mem).mean()}  # means over modality pairs
        return ModelOutput(logits=logits, aux_losses=aux)


def _init_linear(module: nn.Module, std: float) -> None:
    """transformers' `_init_weights` for the heads `post_init` creates: Linear N(0, std) and zero bias."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
