"""`mult`: the Multimodal Transformer (MulT), directional pairwise crossmodal attention between every ordered pair
of modalities, then a self-attention transformer per target modality.

Paper: Yao-Hung Hubert Tsai, Shaojie Bai, Paul Pu Liang, J. Zico Kolter, Louis-Philippe Morency, Ruslan
Salakhutdinov, "Multimodal Transformer for Unaligned Multimodal Language Sequences", ACL 2019 (arXiv:1906.00295).
Official code: https://github.com/yaohungt/Multimodal-Transformer, read at commit
a670936824ee722c8494fd98d204977a1d663c7a (files `main.py`, `src/models.py`, `src/train.py`, `modules/*.py`).
This file is our own implementation of the structure of that code.

Structure (as in `src/models.py` / `modules/transformer.py`):
1. Per modality, a temporal Conv1d (no bias) to a common width `d_model`; skipped when the input width already
   equals `d_model`. Text inputs first get `embed_dropout`.
2. Every transformer scales its input by sqrt(width), adds fairseq-style sinusoidal positions (positions 1..T, sines
   then cosines) and applies `embed_dropout`; layers are pre-LN (attention, ReLU FFN of width 4 x width); a final
   LayerNorm. In a crossmodal layer, keys and values (the source modality) go through the same LayerNorm as the
   query and get their own embedding dropout, as in the official code.
3. A crossmodal transformer for every ORDERED pair (target, source): target steps query, source steps are keys
   and values; N modalities give N (N - 1) of them (6 for text/audio/visual).
4. Per target, its N - 1 crossmodal outputs are concatenated on the feature axis ((N - 1) d_model wide) and fed to
   a self-attention ("memory") transformer; its last step is kept.
5. The N kept vectors are concatenated; a residual block (Linear, ReLU, dropout, Linear, + input) and an output
   Linear give the K logits, which feed the base's task head (sigmoid / softmax).

Official defaults (class defaults here; what `python main.py` runs, "the default arguments are for unaligned
version of MOSEI" per the official README):
- d_model 30: hard-coded `self.d_l, self.d_a, self.d_v = 30, 30, 30` (`src/models.py`).
- kernel_size 1: `nn.Conv1d(..., kernel_size=1, padding=0, bias=False)` (`src/models.py`).
- layers 5 (`--nlevels`), num_heads 5 (`--num_heads`) (`main.py`).
- memory layers max(nlevels, 3) = 5: `get_network(..., layers=3)` builds `max(self.layers, layers)` layers.
- attn_dropout 0.1, attn_dropout_audio 0.0 (`--attn_dropout_a`), attn_dropout_visual 0.0 (`--attn_dropout_v`),
  relu_dropout 0.1, res_dropout 0.1, embed_dropout 0.25, out_dropout 0.0 (`main.py`). The attention dropout of a
  crossmodal transformer is chosen by its SOURCE modality (`get_network`: 'la' -> attn_dropout_a); the memory
  transformers use attn_dropout.
- causal_mask True: `--attn_mask` is `action='store_false'`, so on by default; `buffered_future_mask` lets query
  step i see source steps j <= i + |T_source - T_target| (not described in the paper).
- lr 1e-3 (`--lr`), optimiser Adam (`--optim`), hence weight_decay 0 here (AdamW with no decay is Adam).
- Not model arguments (set them in the runner / sweep): batch_size 24 (`--batch_size`), gradient clip 0.8 on
  the norm (`--clip`, `clip_grad_norm_` in `src/train.py`), 40 epochs (`--num_epochs`), ReduceLROnPlateau on the
  validation loss with patience 20 (`--when`) and factor 0.1 (`src/train.py`), selection by validation loss.
The paper's appendix (Table 5) lists other settings per dataset (CMU-MOSEI: d 40, 4 crossmodal blocks, 8 heads,
kernel sizes (1 or 3)/3/3 for L/V/A, textual embedding dropout 0.3, crossmodal block dropout 0.1, output dropout
0.1, clip 1.0, batch 16, 20 epochs); we follow the released code's defaults and name the paper's values here.

Parameters at the default size on CMU-MOSEI aligned shapes (text 300, audio 74, visual 35, 60 steps, 6 labels):
1,074,636 (positions are not learned, so the count does not depend on the sequence length).

Deliberate deviations:
- Masks. Padded steps are zeroed before the temporal convolution, are never attended (key padding mask), and the
  prediction takes each target's LAST REAL step; the official code has no masks and takes index -1 (its datasets
  are fixed-length). With right padding a sample's output does not depend on how much padding it has.
- The causal mask's offset |T_source - T_target| uses each sample's real lengths, not the padded lengths. A query
  row with no allowed key (a sample with no real step in the source) attends the source's first step, whose input
  is zeroed, so the softmax stays finite and independent of padded values.
- Positions come from the step index (1..T); the official embedding also treats any step whose first projected
  feature is exactly 0 as padding (position 0, a zero vector).
- Any number N >= 1 of modalities and any kinds. N = 1: no crossmodal pairs; the memory transformer runs
  self-attention over the projected modality (d_model wide) and the head sees d_model features. `embed_dropout` on
  the raw input is applied to modalities of kind "text" (the official code applies it to language only).
  Per-source attention dropout: audio and visual sources use `attn_dropout_audio` / `attn_dropout_visual`, every
  other kind uses `attn_dropout`. `kernel_size` may map modality names or kinds to sizes (the paper's per-modality
  kernels); convolutions use "same" padding.
- Output: K logits for the task head (multilabel BCE, distribution KL, multiclass CE). The official code regresses
  one sentiment score (L1 loss) on MOSI/MOSEI and, for IEMOCAP emotions, outputs 2 logits (absent/present) per
  emotion with cross-entropy; for multi-label emotion we output one logit per label.
- Optimiser and schedule belong to the base: AdamW with weight_decay 0 (= Adam) and a constant lr by default;
  the official Adam + ReduceLROnPlateau on the validation loss (`--when` 20, factor 0.1) is
  `optimizer="adam", schedule="plateau"` (the paper sweep uses it); gradient clipping is the runner's
  `trainer.gradient_clip_val` (official 0.8); model selection uses the task's primary validation metric, not
  the validation loss.
- Attention is `torch.nn.functional.scaled_dot_product_attention` with an additive mask built once per
  transformer (one (Tq, Tk) mask for a batch without padding, else one per sample; no per-sample loops); in
  CPU it is computed explicitly (scores, softmax, dropout, product), which is faster there than SDPA at MulT's
  head width of 6, and with the causal mask in up to 8 blocks of queries, each over only the keys it may attend
  (about 56 % of the scores of a 500 x 500 self-attention; the skipped scores would get probability 0). Every dropout uses `fast_dropout` (`models/layers/bert.py`: the
  distribution of `F.dropout` with p quantised to 1/65536, drawn from 16-bit integers; faster on CPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from emobench.datamodules.batch import EmotionBatch
from emobench.models.base import EmotionModel
from emobench.models.layers.bert import fast_dropout, keep_mask
from emobench.models.output import ModelOutput


def _sinusoidal_positions(length: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(length, dim) fairseq/tensor2tensor positions for steps 1..length: sines in the first half, cosines in the
    second, a zero column when `dim` is odd."""
    half = dim // 2
    rate = math.log(10000.0) / max(half - 1, 1)
    freqs = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * -rate)
    angles = torch.arange(1, length + 1, device=device, dtype=torch.float32)[:, None] * freqs[None, :]
    table = torch.cat([torch.sin(angles), torch.cos(angles), angles.new_zeros(length, dim - 2 * half)], dim=1)
    return table.to(dtype)


class _Mask(NamedTuple):
    """An additive attention bias and, on CPU, the query blocks (start, stop, keys) that `_explicit_attention`
    computes: a block of queries needs only the keys up to the last one any of them may attend."""

    bias: torch.Tensor
    blocks: tuple[tuple[int, int, int], ...]


QUERY_BLOCKS = 8  # causal masks on CPU: queries in up to 8 blocks, each over the keys it may attend (about 56 %)


def _query_blocks(bias: torch.Tensor) -> tuple[tuple[int, int, int], ...]:
    """(start, stop, keys) per block of queries: `keys` = 1 + the last key any query of the block may attend in any
    sample. One block over all keys when blocking would skip less than a tenth of the scores."""
    tq, tk = bias.shape[-2:]
    steps = torch.arange(1, tk + 1, device=bias.device)
    last = ((bias == 0).any(dim=0).squeeze(0) * steps).amax(dim=-1).cummax(dim=0).values.tolist()
    size = -(-tq // QUERY_BLOCKS)
    blocks = tuple((a, min(a + size, tq), int(last[min(a + size, tq) - 1])) for a in range(0, tq, size))
    if sum((b - a) * keys for a, b, keys in blocks) > 0.9 * tq * tk:
        return ((0, tq, tk),)
    return blocks


def _attention_bias(query_mask: torch.Tensor, key_mask: torch.Tensor, causal: bool, dtype: torch.dtype) -> _Mask:
    """Additive attention bias, 0 where query i may attend key j and -inf elsewhere: real keys only and, when
    `causal`, key j <= query i + |Lk - Lq| with each sample's real lengths (the official `buffered_future_mask`).
    A row with no allowed key attends key 0. Shape (B, 1, Tq, Tk), or (1, 1, Tq, Tk) when the batch has no padding
    (every sample then has the same mask); built once per transformer and shared by its layers, with its query
    blocks (`_query_blocks`; CPU and causal only)."""
    tq, tk = query_mask.shape[1], key_mask.shape[1]
    if bool(query_mask.all()) and bool(key_mask.all()):
        query_mask, key_mask = query_mask[:1], key_mask[:1]
    batch = query_mask.shape[0]
    allowed = key_mask[:, None, :].expand(batch, tq, tk)
    if causal:
        offset = (key_mask.sum(dim=1) - query_mask.sum(dim=1)).abs()
        steps_q = torch.arange(tq, device=query_mask.device)
        steps_k = torch.arange(tk, device=query_mask.device)
        allowed = allowed & (steps_k[None, None, :] <= steps_q[None, :, None] + offset[:, None, None])
    first = torch.zeros(tk, dtype=torch.bool, device=key_mask.device)
    first[0] = True
    allowed = torch.where(allowed.any(dim=-1, keepdim=True), allowed, first)
    bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))[:, None]
    blocks = _query_blocks(bias) if causal and bias.device.type == "cpu" else ((0, tq, tk),)
    return _Mask(bias, blocks)


def _xavier_linear(in_dim: int, out_dim: int) -> nn.Linear:
    layer = nn.Linear(in_dim, out_dim)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class _Attention(nn.Module):
    """Multi-head attention on (B, T, D) tensors through `scaled_dot_product_attention`; query/key/value weights
    are one (3D, D) matrix with Xavier init, as in the official fairseq-derived module."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.dropout = num_heads, dropout
        self.in_proj = _xavier_linear(dim, 3 * dim)
        self.out_proj = _xavier_linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, dim = x.shape
        return x.view(batch, steps, self.num_heads, dim // self.num_heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None, value: torch.Tensor | None,
                mask: _Mask) -> torch.Tensor:
        """`key`/`value` None: self-attention on `query`. `mask`: additive (B or 1, 1, Tq, Tk) bias + blocks."""
        if key is None:
            q, k, v = self.in_proj(query).chunk(3, dim=-1)
        else:
            w_q, w_k, w_v = self.in_proj.weight.chunk(3, dim=0)
            b_q, b_k, b_v = self.in_proj.bias.chunk(3, dim=0)
            q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        dropout_p = self.dropout if self.training else 0.0
        if q.device.type == "cpu":  # explicit math: faster on CPU than SDPA's kernels at MulT's small head width
            out = torch.cat([self._explicit_attention(q[:, :, a:b], k[:, :, :keys], v[:, :, :keys],
                                                      mask.bias[..., a:b, :keys], dropout_p)
                             for a, b, keys in mask.blocks], dim=2)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.bias.to(q.dtype), dropout_p=dropout_p)
        batch, _, steps, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(batch, steps, -1))

    @staticmethod
    def _explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor,
                            p: float) -> torch.Tensor:
        """softmax(q k^T / sqrt(d) + bias) with dropout on the probabilities (the 16-bit keep mask of
        `models/layers/bert.py`), times v; the scales ride on the small q and v."""
        q = q * (1.0 / math.sqrt(q.shape[-1]))
        scores = torch.matmul(q, k.transpose(-2, -1)).add_(bias)
        probs = torch.softmax(scores, dim=-1)
        if p <= 0.0:
            return torch.matmul(probs, v)
        probs = probs.mul(keep_mask(probs.shape, p, probs))
        return torch.matmul(probs, v * (1.0 / (1.0 - p)))


class _EncoderLayer(nn.Module):
    """Pre-LN layer: x + drop(attn(LN x, LN keys, LN values)), then x + drop(W2 drop(relu(W1 LN x)))."""

    def __init__(self, dim: int, num_heads: int, attn_dropout: float, relu_dropout: float,
                 res_dropout: float) -> None:
        super().__init__()
        self.attn = _Attention(dim, num_heads, attn_dropout)
        self.norm_attn, self.norm_ffn = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.fc1, self.fc2 = _xavier_linear(dim, 4 * dim), _xavier_linear(4 * dim, dim)
        self.relu_dropout, self.res_dropout = relu_dropout, res_dropout

    def forward(self, x: torch.Tensor, mask: _Mask, keys: torch.Tensor | None = None,
                values: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm_attn(x)
        if keys is None:
            h = self.attn(h, None, None, mask)
        else:
            h = self.attn(h, self.norm_attn(keys), self.norm_attn(values), mask)
        x = x + fast_dropout(h, self.res_dropout, self.training)
        h = fast_dropout(F.relu(self.fc1(self.norm_ffn(x))), self.relu_dropout, self.training)
        return x + fast_dropout(self.fc2(h), self.res_dropout, self.training)


class _Transformer(nn.Module):
    """Scaled input + sinusoidal positions + embedding dropout, `layers` pre-LN layers, final LayerNorm. With a
    `source`, every layer is crossmodal (queries from `x`, keys and values from `source`)."""

    def __init__(self, dim: int, num_heads: int, layers: int, attn_dropout: float, relu_dropout: float,
                 res_dropout: float, embed_dropout: float) -> None:
        super().__init__()
        self.dim, self.embed_dropout = dim, embed_dropout
        self.layers = nn.ModuleList(
            _EncoderLayer(dim, num_heads, attn_dropout, relu_dropout, res_dropout) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return math.sqrt(self.dim) * x + _sinusoidal_positions(x.shape[1], self.dim, x.device, x.dtype)

    def forward(self, x: torch.Tensor, mask: _Mask, source: torch.Tensor | None = None) -> torch.Tensor:
        x = fast_dropout(self._embed(x), self.embed_dropout, self.training)
        keys = values = None
        if source is not None:
            source = self._embed(source)
            keys = fast_dropout(source, self.embed_dropout, self.training)
            values = fast_dropout(source, self.embed_dropout, self.training)
        for layer in self.layers:
            x = layer(x, mask, keys, values)
        return self.norm(x)


class MulT(EmotionModel, name="mult"):
    """MulT (Tsai et al., ACL 2019): crossmodal attention between every pair of modalities, then self-attention.

    Defaults are the official code's (see the module docstring).

    Args:
        d_model: common width after the temporal convolutions (official 30).
        num_heads: attention heads in every transformer (official 5); must divide d_model.
        layers: layers per crossmodal transformer (official `--nlevels` 5).
        memory_layers: layers per self-attention transformer; None = max(layers, 3), as the official code.
        kernel_size: temporal Conv1d kernel, one int for all or a map from modality name or kind to size
            (missing ones: 1). Official 1 for all; the paper's Table 5 uses 1-5 per modality.
        attn_dropout: attention dropout with text (and other non audio/visual) sources and in memory transformers.
        attn_dropout_audio / attn_dropout_visual: attention dropout when the source is of kind audio / visual.
        relu_dropout, res_dropout, embed_dropout, out_dropout: FFN-hidden, residual, embedding (also on raw text
            inputs) and output-block dropout.
        causal_mask: the official `--attn_mask` future mask (query i sees source j <= i + |T_source - T_target|).
        lr, weight_decay: passed to the base (official Adam lr 1e-3, no decay).
    """

    def __init__(
        self,
        task,
        modalities,
        label_stats=None,
        d_model: int = 30,
        num_heads: int = 5,
        layers: int = 5,
        memory_layers: int | None = None,
        kernel_size: int | dict[str, int] = 1,
        attn_dropout: float = 0.1,
        attn_dropout_audio: float = 0.0,
        attn_dropout_visual: float = 0.0,
        relu_dropout: float = 0.1,
        res_dropout: float = 0.1,
        embed_dropout: float = 0.25,
        out_dropout: float = 0.0,
        causal_mask: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(task, modalities, label_stats, lr=lr, weight_decay=weight_decay, **kwargs)
        if d_model % num_heads:
            raise ValueError(f"mult: <d_model={d_model}> must be divisible by <num_heads={num_heads}>; "
                             "make sure d_model is a multiple of num_heads.")
        if layers < 1 or (memory_layers is not None and memory_layers < 1):
            raise ValueError(f"mult: <layers={layers}> and <memory_layers={memory_layers}> must be >= 1 (or None).")
        self.embed_dropout, self.out_dropout, self.causal_mask = embed_dropout, out_dropout, causal_mask
        names = [m.name for m in self.modalities]
        self.proj = nn.ModuleDict()
        for m in self.modalities:
            k = self._kernel(kernel_size, m.name, m.kind)
            if m.dim != d_model or k != 1:  # the official code skips the projection when widths already match
                self.proj[m.name] = nn.Conv1d(m.dim, d_model, kernel_size=k, padding="same", bias=False)
        source_dropout = {"audio": attn_dropout_audio, "visual": attn_dropout_visual}
        block = dict(num_heads=num_heads, relu_dropout=relu_dropout, res_dropout=res_dropout,
                     embed_dropout=embed_dropout)
        self.crossmodal = nn.ModuleDict()
        for target in names:
            for source in self.modalities:
                if source.name != target:
                    self.crossmodal[f"{target}_with_{source.name}"] = _Transformer(
                        d_model, layers=layers, attn_dropout=source_dropout.get(source.kind, attn_dropout), **block)
        memory_dim = max(len(names) - 1, 1) * d_model
        depth = max(layers, 3) if memory_layers is None else memory_layers
        self.memory = nn.ModuleDict(
            {t: _Transformer(memory_dim, layers=depth, attn_dropout=attn_dropout, **block) for t in names}
        )
        combined = len(names) * memory_dim
        self.proj1, self.proj2 = nn.Linear(combined, combined), nn.Linear(combined, combined)
        self.out_layer = nn.Linear(combined, task.num_labels)

    @staticmethod
    def _kernel(kernel_size: int | Mapping[str, int], name: str, kind: str) -> int:
        if isinstance(kernel_size, Mapping):
            size = kernel_size.get(name, kernel_size.get(kind, 1))
        else:
            size = kernel_size
        if int(size) < 1:
            raise ValueError(f"mult: kernel size for modality {name!r} must be >= 1, got <kernel_size={size}>.")
        return int(size)

    def forward(self, batch: EmotionBatch) -> ModelOutput:
        seqs, masks = {}, {}
        for m in self.modalities:
            mask = batch.masks[m.name]
            x = batch.inputs[m.name] * mask.unsqueeze(-1).to(batch.inputs[m.name].dtype)
            if m.kind == "text":
                x = fast_dropout(x, self.embed_dropout, self.training)
            if m.name in self.proj:
                x = self.proj[m.name](x.transpose(1, 2)).transpose(1, 2)
            seqs[m.name], masks[m.name] = x, mask
        pooled = []
        for target, x in seqs.items():
            sources = [s for s in seqs if s != target]
            if sources:
                x = torch.cat([
                    self.crossmodal[f"{target}_with_{s}"](
                        x, _attention_bias(masks[target], masks[s], self.causal_mask, x.dtype), seqs[s])
                    for s in sources
                ], dim=-1)
            mask = masks[target]
            h = self.memory[target](x, _attention_bias(mask, mask, self.causal_mask, x.dtype))
            steps = torch.arange(mask.shape[1], device=mask.device)
            last = (mask.long() * steps).argmax(dim=1)  # last real step (0 for an all-padding sample)
            pooled.append(h[torch.arange(h.shape[0], device=h.device), last])
        hidden = torch.cat(pooled, dim=-1)
        out = self.proj2(fast_dropout(F.relu(self.proj1(hidden)), self.out_dropout, self.training)) + hidden
        return ModelOutput(logits=self.out_layer(out))
