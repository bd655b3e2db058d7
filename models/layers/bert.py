"""BERT-style Transformer blocks shared by TAILOR and CARAT (both adapt Hugging Face BERT modules): an encoder with a dense input
projection, learned absolute positions, optional token types and an (unused) pooler, post-LN self-attention layers,
a post-LN decoder layer (self-attention, cross-attention, FFN) for TAILOR's label decoder, and the LSTM "CTC" soft
aligner both methods put in front of unaligned modalities.

Written for EmoBench after the shapes of the official TAILOR (`src/models/module_{bert,cross,decoder}.py`) and CARAT
(`models/module_encoder.py`) code; no code is copied. Differences from those modules, all numerically neutral:
- query/key/value are one fused `Linear(hidden, 3 hidden)` (one `Linear(hidden, 2 hidden)` for key/value in
  cross-attention); the parameter count equals three separate Linears.
- attention runs through `torch.nn.functional.scaled_dot_product_attention` with a boolean key-padding mask (the
  official code adds -10000 to padded keys; both give padded keys a weight of exactly or almost 0), or no mask when
  the batch has no padding. A row whose keys are all padding attends every key (what -10000 everywhere
  gives), so no NaN appears.
- dropout (hidden and attention probabilities) uses `FastDropout`: the same Bernoulli(1 - p) keep mask and 1/(1-p)
  scaling as `nn.Dropout`, drawn from 16-bit uniform integers, so p is quantised to 1/65536 (0.3 -> 0.300003).
  On CPU it is about 2.5x faster than `torch.nn.functional.dropout`, which dominates the official step time.
  In training with attention dropout on CPU, attention is computed explicitly (scores, softmax, dropout, product),
  because `scaled_dot_product_attention` with `dropout_p` falls back to the same math on CPU, only slower; on
  other devices SDPA's fused kernels apply the dropout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-12  # TF-style LayerNorm of the official code


def init_bert_weights(module: nn.Module) -> None:
    """Official `init_weights`: normal(0, 0.02) for Linear/Embedding weights, zero Linear biases, LayerNorm 1/0.
    Use with `model.apply(init_bert_weights)`; LSTMs and other modules keep their own initialisation."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def keep_mask(shape: torch.Size, p: float, like: torch.Tensor) -> torch.Tensor:
    """0/1 mask of `like`'s dtype and device, 1 with probability 1 - p (quantised to 1/65536), from uniform 16-bit
    integers (four per 64-bit draw); the comparison writes the float mask directly (one pass)."""
    numel = math.prod(shape)
    words = (numel + 3) // 4
    bits = torch.randint(-(2**63), 2**63 - 1, (words,), dtype=torch.int64, device=like.device).view(torch.int16)
    keep = torch.empty(shape, dtype=like.dtype, device=like.device)
    return torch.ge(bits[:numel].view(shape), -32768 + round(p * 65536), out=keep)


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout with the distribution of `F.dropout` (p quantised to 1/65536), faster on CPU."""
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    keep = keep_mask(x.shape, p, x).mul_(1.0 / (1.0 - p))  # scaled mask: one multiplication to differentiate
    return x * keep


class FastDropout(nn.Module):
    """`nn.Dropout` drop-in that uses `fast_dropout`."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"FastDropout: <p={p}> must be in [0, 1].")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def key_padding_mask(mask: torch.Tensor) -> torch.Tensor | None:
    """(B, T) bool, True = real step -> (B, 1, 1, T) bool attention mask (True = may attend), or None when no step of
    the batch is padding. A row with no real step attends every key (what the official -10000 everywhere gives)."""
    if bool(mask.all()):
        return None
    mask = mask | ~mask.any(dim=-1, keepdim=True)
    return mask[:, None, None, :]


class BertAttention(nn.Module):
    """Multi-head attention + output Linear + dropout + LayerNorm(query + .) (post-LN).

    Self-attention when `memory` is None; cross-attention (queries from `x`, keys/values from `memory`) when
    built with `cross=True`."""

    def __init__(self, hidden: int, num_heads: int, dropout: float, attn_dropout: float, cross: bool = False) -> None:
        super().__init__()
        if hidden % num_heads:
            raise ValueError(f"BertAttention: <hidden={hidden}> must be a multiple of <num_heads={num_heads}>.")
        self.num_heads, self.attn_dropout, self.cross = num_heads, attn_dropout, cross
        if cross:
            self.query = nn.Linear(hidden, hidden)
            self.key_value = nn.Linear(hidden, 2 * hidden)
        else:
            self.qkv = nn.Linear(hidden, 3 * hidden)
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = FastDropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        return x.view(batch, steps, self.num_heads, width // self.num_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None,
                memory: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, Tq, H); attn_mask: (B, 1, 1, Tk) bool from `key_padding_mask` or None (no padding);
        memory: (B, Tk, H) keys/values for cross-attention."""
        if self.cross:
            if memory is None:
                raise ValueError("BertAttention(cross=True) needs `memory`.")
            q = self._heads(self.query(x))
            k, v = (self._heads(t) for t in self.key_value(memory).chunk(2, dim=-1))
        else:
            q, k, v = (self._heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        dropout_p = self.attn_dropout if self.training else 0.0
        if dropout_p > 0 and q.device.type == "cpu":  # explicit math is faster than SDPA's CPU dropout path
            context = self._dropout_attention(q, k, v, attn_mask)
        else:  # GPU kernels (flash / memory-efficient) handle dropout themselves
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        context = context.transpose(1, 2).flatten(2)
        return self.norm(x + self.dropout(self.dense(context)))

    def _dropout_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           attn_mask: torch.Tensor | None) -> torch.Tensor:
        """softmax(q k^T / sqrt(d) + mask) with dropout on the probabilities, times v. The 1/sqrt(d) scale is applied
        to q and the 1/(1-p) dropout scale to v (small tensors), the mask rides on `baddbmm`'s input, so the only
        passes over the (B H, Tq, Tk) scores are the product, softmax, keep mask and its multiplication (they
        dominate the CPU time)."""
        batch, heads, tq, dim = q.shape
        tk = k.shape[2]
        q = (q * (1.0 / math.sqrt(dim))).reshape(batch * heads, tq, dim)
        k = k.reshape(batch * heads, tk, dim).transpose(1, 2)
        v = (v * (1.0 / (1.0 - self.attn_dropout))).reshape(batch * heads, tk, dim)
        if attn_mask is None:
            scores = torch.bmm(q, k)
        else:
            bias = torch.zeros(attn_mask.shape, dtype=q.dtype, device=q.device).masked_fill_(~attn_mask, float("-inf"))
            scores = torch.baddbmm(bias.expand(batch, heads, 1, tk).reshape(batch * heads, 1, tk), q, k)
        probs = torch.softmax(scores, dim=-1)
        probs = probs.mul(keep_mask(probs.shape, self.attn_dropout, probs))
        return torch.bmm(probs, v).view(batch, heads, tq, dim)


class BertFeedForward(nn.Module):
    """Linear(hidden -> ffn) -> exact GELU -> Linear(ffn -> hidden) -> dropout -> LayerNorm(x + .)."""

    def __init__(self, hidden: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.intermediate = nn.Linear(hidden, ffn_dim)
        self.output = nn.Linear(ffn_dim, hidden)
        self.dropout = FastDropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.dropout(self.output(F.gelu(self.intermediate(x)))))


class BertLayer(nn.Module):
    """Post-LN encoder layer: self-attention block then feed-forward block (395,776 parameters at 256/256)."""

    def __init__(self, hidden: int, num_heads: int, ffn_dim: int, dropout: float, attn_dropout: float) -> None:
        super().__init__()
        self.attention = BertAttention(hidden, num_heads, dropout, attn_dropout)
        self.feed_forward = BertFeedForward(hidden, ffn_dim, dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        return self.feed_forward(self.attention(x, attn_mask))


class BertDecoderLayer(nn.Module):
    """Post-LN decoder layer: self-attention among the queries, cross-attention to `memory` (keys/values, masked),
    feed-forward (659,456 parameters at 256/256), as the official TAILOR `DecoderLayer`."""

    def __init__(self, hidden: int, num_heads: int, ffn_dim: int, dropout: float, attn_dropout: float) -> None:
        super().__init__()
        self.self_attention = BertAttention(hidden, num_heads, dropout, attn_dropout)
        self.cross_attention = BertAttention(hidden, num_heads, dropout, attn_dropout, cross=True)
        self.feed_forward = BertFeedForward(hidden, ffn_dim, dropout)

    def forward(self, x: torch.Tensor, self_mask: torch.Tensor | None, memory: torch.Tensor,
                memory_mask: torch.Tensor | None) -> torch.Tensor:
        """self_mask / memory_mask: (B, 1, 1, T) bool masks from `key_padding_mask`, or None."""
        x = self.self_attention(x, self_mask)
        x = self.cross_attention(x, memory_mask, memory=memory)
        return self.feed_forward(x)


class BertEncoder(nn.Module):
    """Embedding + post-LN Transformer layers + optional pooler, as the official `BertModel`/`TfModel`/`CrossModel`.

    Embedding: optional `Linear(in_dim -> hidden)` (`in_dim=None`: inputs are already `hidden` wide, as the cross
    encoders), plus a learned position embedding (`max_positions` rows), plus a token-type embedding when
    `type_vocab_size` > 0, then LayerNorm (eps 1e-12) and dropout.

    Args:
        in_dim: input feature width, or None for no input projection.  hidden: model width.
        num_layers: Transformer layers.  num_heads: attention heads.  ffn_dim: feed-forward width.
        dropout: hidden dropout.  attn_dropout: dropout on attention probabilities.
        max_positions: rows of the position table (>= the longest sequence).
        type_vocab_size: token types (0 = none).
        pooler: build the official pooler (Linear + tanh on step 0). It is never used by TAILOR or CARAT, so it
            gets no gradient; it exists so the parameter count matches the official models.
    """

    def __init__(self, in_dim: int | None, hidden: int = 256, num_layers: int = 1, num_heads: int = 8,
                 ffn_dim: int = 256, dropout: float = 0.3, attn_dropout: float = 0.3, max_positions: int = 512,
                 type_vocab_size: int = 0, pooler: bool = True) -> None:
        super().__init__()
        self.input = nn.Linear(in_dim, hidden) if in_dim is not None else None
        self.positions = nn.Embedding(max_positions, hidden)
        self.token_types = nn.Embedding(type_vocab_size, hidden) if type_vocab_size > 0 else None
        self.norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.dropout = FastDropout(dropout)
        self.layers = nn.ModuleList(
            BertLayer(hidden, num_heads, ffn_dim, dropout, attn_dropout) for _ in range(num_layers))
        self.pooler = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh()) if pooler else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor, token_types: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, in_dim or hidden); mask: (B, T) bool, True = real step; token_types: (B, T) long or None.
        Returns the last layer's sequence (B, T, hidden)."""
        steps = x.shape[1]
        if steps > self.positions.num_embeddings:
            raise ValueError(f"BertEncoder: sequence of {steps} steps exceeds <max_positions="
                             f"{self.positions.num_embeddings}>. Make sure max_positions covers the longest input.")
        h = self.input(x) if self.input is not None else x
        h = h + self.positions.weight[:steps]
        if self.token_types is not None:
            if token_types is None:
                token_types = torch.zeros(x.shape[:2], dtype=torch.long, device=x.device)
            h = h + self.token_types(token_types)
        h = self.dropout(self.norm(h))
        attn_mask = key_padding_mask(mask)
        for layer in self.layers:
            h = layer(h, attn_mask)
        return h

    def pool(self, sequence: torch.Tensor) -> torch.Tensor:
        """The official pooler output (tanh(Linear(step 0))); kept for completeness, unused by the methods."""
        if self.pooler is None:
            raise RuntimeError("BertEncoder was built with pooler=False.")
        return self.pooler(sequence[:, 0])


class CtcAligner(nn.Module):
    """Soft re-sampling of a sequence to `out_steps` positions (the official `CTCModule`): a 2-layer LSTM
    (in_dim -> out_steps + 1) scores every source step against the blank (column 0) and each output position; the
    softmax without the blank column, transposed, re-weights the source steps (`P^T X`). Padded source steps get
    weight 0. The LSTM keeps PyTorch's default initialisation, as the official module (the BERT init skips LSTMs)."""

    def __init__(self, in_dim: int, out_steps: int) -> None:
        super().__init__()
        self.out_steps = out_steps
        self.lstm = nn.LSTM(in_dim, out_steps + 1, num_layers=2, batch_first=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, D) with padded steps zeroed; mask: (B, T) bool. Returns the re-sampled (B, out_steps, D) sequence
        and the raw LSTM scores (B, T, out_steps + 1), e.g. for a CTC loss."""
        scores, _ = self.lstm(x)
        weights = torch.softmax(scores, dim=-1)[..., 1:] * mask.unsqueeze(-1).to(x.dtype)
        return weights.transpose(1, 2) @ x, scores
