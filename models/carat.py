"""`carat`: CARAT, contrastive feature reconstruction and aggregation for multi-modal multi-label emotion recognition.

Paper: Cheng Peng, Ke Chen, Lidan Shou, Gang Chen, "CARAT: Contrastive Feature Reconstruction and Aggregation for
Multi-Modal Multi-Label Emotion Recognition", AAAI 2024 (arXiv:2312.10201).
Official code: https://github.com/chengzju/CARAT, read at commit 3210086a (files `models/models.py`,
`models/until_module.py`, `models/module_encoder.py`, `models/losses.py`, `models/configs/*.json`, `main.py`,
`train.sh`, `train_m3ed.sh`, `utils/m3ed_reader.py`). This file is our own implementation of that structure;
the Transformer encoder and the soft aligner are shared with TAILOR (`models/layers/bert.py`).

Structure (forward order; N modalities, K labels, d = 256, d_z = 64):
1. A LayerNorm (eps 1e-12) over each modality's features.
2. Unaligned inputs: an LSTM soft aligner (`CtcAligner`, no CTC loss in CARAT: a free learned re-sampler) for every
   modality whose length differs from the primary's; it maps to the modality's own length (official default, 500
   on MOSEI) or, with `aligner_same_length`, to the primary's length (official `--unaligned_mask_same_length`).
3. BERT-style encoders (`BertEncoder`, 8 heads, FFN 256, dropout 0.3, post-LN): 6 layers for the primary, 4 else.
4. Label-specific attention per modality (W_m in R^{K x d}, no bias): Z_m = softmax_t(W_m H_m^T) H_m, padded steps
   excluded.
5. Latent encoder Enc_m (d -> 128 ReLU -> d_z) and decoder Dec_m (d_z -> 128 ReLU -> d) per modality:
   z_m = Enc_m(Z_m), R_m = Dec_m(z_m).
6. Prototypes (buffers, per modality, polarity and label, start at 0): similarity softmax over {+, -} of
   <normalize(z), p>; training pads with the soft mixture, evaluation with the closer prototype; Pad_m = Dec_m(u).
7. Reconstruction fusion F_m (Linear N d -> d): Aug_m = F_m([slot i: Pad_i if i = m else R_i]); second pass
   Beta_m = F_m([Aug_1 .. Aug_N]).
8. Per-label classifiers W^clf_m (K x d, no bias) on Z (o1), Aug (o3), Beta (o4); max over modalities.
9. Aggregation head G (K d -> d ReLU -> K) per modality on vec(Beta_m): g_m.
10. Prediction p = 1/2 [sigmoid(max_m o4) + mean_m sigmoid(g_m)].
Training only: SupCon over normalize(Enc_m(X)), X in {Z, Aug, Beta}, with class id k + K (2 m + [y_k absent]) and a
FIFO queue of 8192 detached past rows (every row, queue rows included, is an anchor; temperature = base = 0.07);
shuffle-based aggregation (per label and modality slot a batch permutation, per label and sample a modality
permutation, G on the shuffled Beta, BCE against the equally shuffled targets); then enqueue and the per-sample
prototype EMA (momentum 0.99, on normalize(z_m) of Z, detached), all vectorised (no loop over labels or samples).

Returned logits and losses. The base turns logits into probabilities (multilabel: sigmoid) and adds its task loss
on them with weight 1. Multilabel: logits = logit(clamp(p, 1e-6, 1 - 1e-6)), so the base's sigmoid gives p back
(exactly, inside the clamp) and thresholds it like the official code. Distribution / multiclass: p = 1/2
[softmax(max_m o4) + mean_m softmax(g_m)] (a distribution), logits = log p, so the base's softmax gives p back; every
official BCE-with-logits term on (B, K) label scores becomes the task kind's loss (KL / cross-entropy) on them.
Official objective (`models.py`, weights of `train.sh`), and our aux names (`default_aux_weights` = those weights):
  0.01 BCE(max o1) "lsr_clf" + 0.1 BCE(max o3) "aug_clf" + 1 BCE(max o4) "beta_clf" + 1 SupCon "cl"
  + 1 sum_m MSE(R_m, Z_m) "recon_mse" + 1 sum_m MSE(Aug_m, Z_m) "aug_mse" + 0 sum_m MSE(Beta_m, Z_m) "beta_mse"
  + 1 BCE(g, y over modalities) "total_aug_clf" + 0.1 BCE(G(shuffled), shuffled y) "shuffle_aug_clf".
The base's task loss on logit(p), BCE(p, y), is not an official term, so the class sets `task_loss_weight = 0`:
the training objective is exactly the official one, and `train/task_loss` still logs BCE of the final prediction.
Aux losses are computed in training only, as the official code (`if training:`), so `val/loss` is the task loss of the final prediction. MSE targets Z_m are not
detached (official). For distribution / multiclass targets, "present" (SupCon polarity, prototype choice) means
y_k >= 1/K (distribution) or the true class (multiclass), and the shuffle term keeps BCE-with-logits against the
shuffled per-label targets (soft 0..1 values; a shuffled row is not a distribution, so no softmax loss applies).

Official defaults (class defaults here = the CMU-MOSEI configuration that `train.sh` runs):
- hidden 256, latent_dim 64: `--hidden_size 256`, `--proj_size 64` (argparse, `main.py`); paper "d = 256, dz = 64".
- num_heads 8, ffn_dim 256, dropout 0.3, attn_dropout 0.3: `models/configs/{text,visual,audio}_config.json`.
- primary_layers 6, layers 4: `train.sh --text_num_hidden_layers 6 --visual_num_hidden_layers 4
  --audio_num_hidden_layers 4` (paper "lt = 6, lv = la = 4").
- max_positions None = the MOSEI configs: 60 rows for the text encoder (`text_config.json`), 500 for the others
  (`visual_config.json`, `audio_config.json`), raised to the needed length when smaller. M3ED configs: 100.
- queue_size 8192 (`--moco_queue`), temperature 0.07 and base_temperature 0.07 (`SupConLoss` defaults in
  `models/losses.py`), proto_momentum 0.99 (`--proto_m`).
- pooler True: the official encoders hold an unused pooler (Linear + tanh; 197,376 parameters, no gradient).
- lr 5e-5 (`train.sh --lr 5e-5`), weight_decay 0.01 and warm-up fraction 0.1 with linear decay
  (`optimization.py` BertAdam `warmup_linear`, `--warmup_proportion 0.1`), threshold 0.25
  (`train.sh --binary_threshold 0.25`). Not model arguments: batch 64, 20 epochs, seed 1 (`train.sh`), gradient
  clipping 1.0 (`main.py`).

Parameters with the official configuration (ours = official; the official modules instantiated with the `train.sh`
settings under torch 2.13): CMU-MOSEI aligned (text 300 / audio 74 / visual 35, 60 steps, 6 labels) 7,359,736 = 7,359,736; MOSEI
unaligned (text 50, audio/visual 500 steps, aligners to 500 steps) 13,618,228 = 13,618,228; M3ED (text 768, audio
1024, visual 342, max_positions 100, 7 labels) 7,677,555 = 7,677,555. Buffers (not parameters): prototypes
2 N K d_z and the queue (8192 x 64 features and ids).

Generalisation (any N >= 1 modalities, any dims/lengths, every task kind): `primary` (default: the first "text"
modality, else the first) gets `primary_layers` and sets the aligner's target length; modalities need no common
length (label attention pools each over its own steps), so aligners are only built when `ctc_aligner` is True or,
by default (None), for modalities whose length differs from the primary's (as the official unaligned mode).
Fusion F_m takes N slots; SupCon has 2 N K classes; the modality shuffle permutes N slots. N = 1: F maps [Pad] to
Aug and [Aug] to Beta, the max over modalities is the identity and the modality shuffle is trivial (only samples are
shuffled); N = 2 works the same way with two slots.

Deliberate deviations:
- Official crashes fixed: `models/models.py` uses `np.random.permutation` without importing numpy, and
  `shuffle_total_aug.view(...)` fails on current torch (non-contiguous); we build the permutations with
  `torch.argsort(torch.rand(...))` (same distribution, seeded by torch) and reshape. The M3ED script loads the MOSEI
  dataset class (6 labels) and a data file name the reader does not write; here M3ED is an ordinary dataset.
- Evaluation: both official repos swap precision and recall in every log line (`get_metrics(pred, label)`);
  EmoBench reports them correctly. The official validation loader shuffles with drop_last=True; EmoBench scores
  every sample. The threshold 0.25 is the class default.
- Optimiser: the official BertAdam update is `optimizer="bertadam"` (`models/optim.py`; the paper sweep uses it);
  the class default is torch AdamW (with bias correction), both with the base's linear warm-up schedule (=
  `warmup_linear`); the official decay groups also decay the input LayerNorms (a naming quirk).
- Queue: enqueued features are detached (the official buffer keeps their autograd history; values are equal). The
  initial queue ids are -1 ("no class"), where the official uses random floats that never equal a class id: both
  make the initial rows pure negatives without positives. When one batch holds more rows than the queue (small
  compact queues), only the newest `queue_size` rows are kept.
- SupCon is computed exactly but without the (rows x rows) matrix with gradient: the positive term uses per-class
  feature sums, the queue-by-queue block of the denominator is computed without gradient (it has none), and
  only current-row similarities carry gradient; the 1e-12 guards of the official code are dropped (they change
  nothing at float precision).
- Masks: padded steps are zeroed after the input LayerNorm, never attended, and get weight 0 in the label attention
  and the aligner; outputs do not depend on padded values (the official M3ED reader gives all-ones masks).
- Dropout uses `models.layers.bert.FastDropout` (same distribution, p quantised to 1/65536) for speed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from emobench.datamodules.batch import EmotionBatch
from emobench.models.base import EmotionModel
from emobench.models.layers.bert import LAYER_NORM_EPS, BertEncoder, CtcAligner, init_bert_weights
from emobench.models.output import ModelOutput
from emobench.models.task_head import predict, task_loss

OFFICIAL_TEXT_POSITIONS, OFFICIAL_OTHER_POSITIONS = 60, 500  # models/configs/{text,visual,audio}_config.json


def _xavier_mlp(sizes: list[int]) -> nn.Sequential:
    """The official `MLLinear`: Linear layers with ReLU between them, Xavier-uniform weights, default biases."""
    blocks: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(a, b)
        nn.init.xavier_uniform_(linear.weight)
        blocks.append(linear)
        if i < len(sizes) - 2:
            blocks.append(nn.ReLU())
    return nn.Sequential(*blocks)


def supcon_with_queue(features: torch.Tensor, labels: torch.Tensor, queue: torch.Tensor, queue_labels: torch.Tensor,
                      num_classes: int, temperature: float = 0.07, base_temperature: float = 0.07) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al.) over the rows [features ; queue], every row an anchor, as the
    official `SupConLoss` with `features[:batch_size]` = all rows: positives = other rows with the same id, the
    denominator = every other row; an anchor without positives contributes 0 but counts in the mean.

    features: (n, d) unit rows with gradient; labels: (n,) ids in [0, num_classes); queue: (Q, d) without gradient;
    queue_labels: (Q,) ids, -1 = no class. Exact, without the (n + Q)^2 matrix with gradient (see module docstring).
    """
    n = features.shape[0]
    queue = queue.detach()
    rows = torch.cat([features, queue], dim=0)
    row_labels = torch.cat([labels, queue_labels], dim=0)
    sim = features @ rows.T / temperature  # (n, n + Q): every similarity that carries gradient
    sim[:, :n].diagonal().fill_(float("-inf"))  # a row is not its own denominator term
    lse_current = torch.logsumexp(sim, dim=1)
    lse_queue = torch.logsumexp(sim[:, n:], dim=0)
    with torch.no_grad():  # queue x queue block: no gradient, needed for the queue anchors' denominators
        lse_qq = torch.cat([_logsumexp_without_self(queue, start, temperature)
                            for start in range(0, queue.shape[0], 2048)]) if queue.shape[0] else queue.new_zeros(0)
    lse = torch.cat([lse_current, torch.logaddexp(lse_queue, lse_qq)])
    valid = row_labels >= 0
    ids = row_labels.clamp(min=0)
    weights = valid.to(rows.dtype).unsqueeze(1)
    class_sum = rows.new_zeros(num_classes, rows.shape[1]).index_add(0, ids, rows * weights)
    class_count = torch.zeros(num_classes, dtype=rows.dtype, device=rows.device).index_add(0, ids, weights[:, 0])
    positives = (class_count[ids] - 1.0) * valid
    positive_sim = ((rows * class_sum[ids]).sum(dim=1) - (rows * rows).sum(dim=1)) / temperature
    has_positive = positives > 0
    mean_log_prob = torch.where(has_positive, positive_sim / positives.clamp(min=1.0) - lse, torch.zeros_like(lse))
    return -(temperature / base_temperature) * mean_log_prob.mean()


def _logsumexp_without_self(queue: torch.Tensor, start: int, temperature: float) -> torch.Tensor:
    block = queue[start:start + 2048] @ queue.T / temperature
    block[:, start:start + block.shape[0]].diagonal().fill_(float("-inf"))
    return torch.logsumexp(block, dim=1)


def supcon_reference(features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07,
                     base_temperature: float = 0.07) -> torch.Tensor:
    """The official dense formula on all rows (for tests): labels equal -> positive, -1 never matches."""
    n = features.shape[0]
    same = (labels[:, None] == labels[None, :]) & (labels[:, None] >= 0)
    logits = features @ features.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    not_self = ~torch.eye(n, dtype=torch.bool, device=features.device)
    mask = (same & not_self).to(features.dtype)
    exp_logits = torch.exp(logits) * not_self
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True) + 1e-12)
    mean_log_prob_pos = (mask * log_prob).sum(1) / (mask.sum(1) + 1e-12)
    return -(temperature / base_temperature) * mean_log_prob_pos.mean()


def ema_prototypes(prototypes: torch.Tensor, latents: torch.Tensor, present: torch.Tensor,
                   momentum: float) -> torch.Tensor:
    """The official sequential per-sample EMA, vectorised. prototypes: (N, 2, K, d) (index 0 = present, 1 = absent);
    latents: (N, B, K, d) normalised; present: (B, K) bool. For the n samples of a (label, polarity) in batch order
    p <- m^n p + (1 - m) sum_i m^(n - 1 - i) z_i."""
    select = torch.stack([present, ~present]).to(latents.dtype)  # (2, B, K)
    count = select.sum(dim=1, keepdim=True)  # (2, 1, K)
    rank = select.cumsum(dim=1) - 1.0
    weight = (1.0 - momentum) * torch.pow(momentum, count - 1.0 - rank) * select  # (2, B, K)
    decay = torch.pow(momentum, count[:, 0])  # (2, K)
    return decay[None, :, :, None] * prototypes + torch.einsum("sbk,mbkd->mskd", weight, latents)


class Carat(EmotionModel, name="carat"):
    """CARAT (Peng et al., AAAI 2024): contrastive feature reconstruction and shuffle aggregation, multi-label.

    Structure, losses, the source of every default and the deviations are in the module docstring.

    Args:
        hidden: model width.  latent_dim: prototype / contrastive latent width (`--proj_size`).
        num_heads, ffn_dim, dropout, attn_dropout: encoder Transformer settings.
        primary_layers: layers of the primary modality's encoder.  layers: layers of every other encoder.
        max_positions: position-table rows; an int for every encoder, a map from modality name or kind to rows, or
            None for the official MOSEI tables (text 60, others 500). Raised to the needed length when smaller.
        queue_size: SupCon FIFO queue rows.  temperature, base_temperature: SupCon temperatures.
        proto_momentum: prototype EMA momentum.
        primary: the modality with `primary_layers` and the aligners' target (default: text, else the first).
        ctc_aligner: None = aligners for modalities whose length differs from the primary's; True = for every
            non-primary modality; False = none.
        aligner_same_length: aligners map to the primary's length instead of the modality's own length.
        pooler: build the unused official poolers (parameter count only).
        lr, weight_decay, schedule, warmup_fraction, threshold: the base's settings with the official values as
            defaults; other base keywords (aux_weights, ...) pass through `**kwargs`.
    """

    task_loss_weight = 0.0  # BCE on the final prediction is not an official term
    default_aux_weights = {
        "lsr_clf": 0.01,  # --lsr_clf_weight 0.01
        "aug_clf": 0.1,  # --aug_clf_weight 0.1
        "beta_clf": 1.0,  # fixed 1 in models.py
        "cl": 1.0,  # --cl_weight 1.0
        "recon_mse": 1.0,  # --recon_mse_weight 1.0
        "aug_mse": 1.0,  # --aug_mse_weight 1.0
        "beta_mse": 0.0,  # --beta_mse_weight 0.0 (argparse default 1.0)
        "total_aug_clf": 1.0,  # --total_aug_clf_weight 1.0
        "shuffle_aug_clf": 0.1,  # --shuffle_aug_clf_weight 0.1
    }

    def __init__(self, task, modalities, label_stats=None, hidden: int = 256, latent_dim: int = 64, num_heads: int = 8,
                 ffn_dim: int = 256, dropout: float = 0.3, attn_dropout: float = 0.3, primary_layers: int = 6,
                 layers: int = 4, max_positions: int | Mapping[str, int] | None = None, queue_size: int = 8192,
                 temperature: float = 0.07, base_temperature: float = 0.07, proto_momentum: float = 0.99,
                 primary: str | None = None, ctc_aligner: bool | None = None, aligner_same_length: bool = False,
                 pooler: bool = True, lr: float = 5e-5, weight_decay: float = 0.01, schedule: str = "linear",
                 warmup_fraction: float = 0.1, threshold: float = 0.25, **kwargs) -> None:
        super().__init__(task, modalities, label_stats, lr=lr, weight_decay=weight_decay, schedule=schedule,
                         warmup_fraction=warmup_fraction, threshold=threshold, **kwargs)
        specs = {m.name: m for m in self.modalities}
        self.names = [m.name for m in self.modalities]
        self.primary = primary if primary is not None else next(
            (m.name for m in self.modalities if m.kind == "text"), self.names[0])
        if self.primary not in specs:
            raise ValueError(f"Carat: <primary={self.primary}> is not a modality; known: {self.names}.")
        if queue_size < 1:
            raise ValueError(f"Carat: <queue_size={queue_size}> must be >= 1.")
        primary_steps = specs[self.primary].seq_len
        others = [n for n in self.names if n != self.primary]
        if ctc_aligner is None:
            aligned = [n for n in others if specs[n].seq_len != primary_steps]
        else:
            aligned = others if ctc_aligner else []
        self.aligner_same_length = aligner_same_length
        out_steps = {n: primary_steps if aligner_same_length else specs[n].seq_len for n in aligned}
        self.aligners = nn.ModuleDict({n: CtcAligner(specs[n].dim, out_steps[n]) for n in aligned})
        self.temperature, self.base_temperature, self.proto_momentum = temperature, base_temperature, proto_momentum
        k, n_mod = task.num_labels, len(self.names)

        def positions(spec) -> int:
            if max_positions is None:
                rows = OFFICIAL_TEXT_POSITIONS if spec.kind == "text" else OFFICIAL_OTHER_POSITIONS
            elif isinstance(max_positions, Mapping):
                rows = max_positions.get(spec.name, max_positions.get(spec.kind, 0))
            else:
                rows = int(max_positions)
            return max(rows, out_steps.get(spec.name, spec.seq_len))

        self.input_norms = nn.ModuleDict({n: nn.LayerNorm(specs[n].dim, eps=LAYER_NORM_EPS) for n in self.names})
        self.encoders = nn.ModuleDict({
            n: BertEncoder(specs[n].dim, hidden, primary_layers if n == self.primary else layers, num_heads, ffn_dim,
                           dropout, attn_dropout, positions(specs[n]), 0, pooler)
            for n in self.names})
        self.input_norms.apply(init_bert_weights)
        self.encoders.apply(init_bert_weights)
        # created after the official `apply(init_weights)`: their own (Xavier / Kaiming) initialisation
        self.label_attention = nn.Parameter(torch.empty(n_mod, k, hidden))
        for w in self.label_attention:
            nn.init.xavier_uniform_(w)
        self.latent_encoders = nn.ModuleList(_xavier_mlp([hidden, hidden // 2, latent_dim]) for _ in self.names)
        self.latent_decoders = nn.ModuleList(_xavier_mlp([latent_dim, hidden // 2, hidden]) for _ in self.names)
        self.fusion = nn.ModuleList(_xavier_mlp([n_mod * hidden, hidden]) for _ in self.names)
        self.aggregation = _xavier_mlp([k * hidden, hidden, k])
        self.classifiers = nn.Parameter(torch.empty(n_mod, k, hidden))
        for w in self.classifiers:
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        self.register_buffer("prototypes", torch.zeros(n_mod, 2, k, latent_dim))  # (modality, present/absent, label)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, latent_dim), dim=0))
        self.register_buffer("queue_labels", torch.full((queue_size,), -1, dtype=torch.long))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    # ---- helpers -----------------------------------------------------------------------------------------------
    def _present(self, target: torch.Tensor) -> torch.Tensor:
        """(B, K) bool: label present (multilabel y >= 0.5; distribution y >= 1/K; multiclass the true class)."""
        k = self.task.num_labels
        if self.task.kind == "multiclass":
            return F.one_hot(target.long(), k).bool()
        if self.task.kind == "distribution":
            return target >= 1.0 / k
        return target >= 0.5

    def _label_targets(self, target: torch.Tensor) -> torch.Tensor:
        """(B, K) float per-label targets for the shuffle term (multiclass: one-hot)."""
        if self.task.kind == "multiclass":
            return F.one_hot(target.long(), self.task.num_labels).to(torch.get_default_dtype())
        return target.float()

    def _loss(self, scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The task kind's loss on (B, K) scores, or on (B, M, K) scores against the target repeated over M."""
        if scores.ndim == 3:
            m = scores.shape[1]
            target = target.unsqueeze(1).expand(target.shape[0], m, *target.shape[1:]).reshape(-1, *target.shape[1:])
            scores = scores.reshape(-1, scores.shape[-1])
        return task_loss(self.task.kind, scores, target)

    # ---- forward -----------------------------------------------------------------------------------------------
    def forward(self, batch: EmotionBatch) -> ModelOutput:
        lsr, latents, recon, pads = [], [], [], []
        prototypes = self.prototypes.clone()  # the buffer is updated in place after this forward
        for i, name in enumerate(self.names):
            mask = batch.masks[name]
            x = self.input_norms[name](batch.inputs[name]) * mask.unsqueeze(-1).to(batch.inputs[name].dtype)
            if name in self.aligners:
                x, _ = self.aligners[name](x, mask)
                if self.aligner_same_length:
                    mask = batch.masks[self.primary]
            h = self.encoders[name](x, mask)
            scores = torch.einsum("kd,btd->bkt", self.label_attention[i], h)
            open_mask = mask | ~mask.any(dim=1, keepdim=True)  # a sample without real steps attends all steps
            scores = scores.masked_fill(~open_mask.unsqueeze(1), float("-inf"))
            z_in = torch.softmax(scores, dim=-1) @ h  # (B, K, hidden)
            z = self.latent_encoders[i](z_in)
            sim = torch.einsum("bkd,pkd->bkp", F.normalize(z, dim=-1), prototypes[i])
            if self.training:
                padding = torch.einsum("bkp,pkd->bkd", torch.softmax(sim, dim=-1), prototypes[i])
            else:
                closer = (sim[..., 0] > sim[..., 1]).unsqueeze(-1)
                padding = torch.where(closer, prototypes[i, 0], prototypes[i, 1])
            lsr.append(z_in)
            latents.append(z)
            recon.append(self.latent_decoders[i](z))
            pads.append(self.latent_decoders[i](padding))
        n_mod = len(self.names)
        aug = [self.fusion[i](torch.cat([pads[j] if j == i else recon[j] for j in range(n_mod)], dim=-1))
               for i in range(n_mod)]
        aug_all = torch.cat(aug, dim=-1)
        beta = [self.fusion[i](aug_all) for i in range(n_mod)]

        def clf(features: list[torch.Tensor]) -> torch.Tensor:  # max over modalities of per-label logits
            return torch.einsum("mbkd,mkd->bkm", torch.stack(features), self.classifiers).amax(dim=-1)

        o4 = clf(beta)
        beta_stack = torch.stack(beta, dim=1)  # (B, N, K, hidden)
        agg = self.aggregation(beta_stack.flatten(2))  # (B, N, K)
        p = 0.5 * (predict(self.task.kind, o4) + predict(self.task.kind, agg).mean(dim=1))
        if self.task.kind == "multilabel":
            logits = torch.logit(p.clamp(1e-6, 1.0 - 1e-6))
        else:
            logits = torch.log(p.clamp(min=1e-12))
        if not self.training:
            return ModelOutput(logits=logits)

        y = batch.target
        present = self._present(y)
        aux = {
            "lsr_clf": self._loss(clf(lsr), y),
            "aug_clf": self._loss(clf(aug), y),
            "beta_clf": self._loss(o4, y),
            "recon_mse": sum(F.mse_loss(r, z) for r, z in zip(recon, lsr, strict=True)),
            "aug_mse": sum(F.mse_loss(a, z) for a, z in zip(aug, lsr, strict=True)),
            "beta_mse": sum(F.mse_loss(b, z) for b, z in zip(beta, lsr, strict=True)),
            "total_aug_clf": self._loss(agg, y),
            "shuffle_aug_clf": self._shuffle_loss(beta_stack, y),
        }
        aux["cl"] = self._contrastive(latents, aug, beta, present)
        self._update_prototypes(latents, present)
        return ModelOutput(logits=logits, aux_losses=aux)

    def _shuffle_loss(self, beta_stack: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """G on Beta shuffled per label: sample permutation per (label, slot), modality permutation per (label,
        sample), BCE-with-logits against the targets of the drawn samples."""
        b, n_mod, k, _ = beta_stack.shape
        device = beta_stack.device
        sample_idx = torch.argsort(torch.rand(k, n_mod, b, device=device), dim=-1).permute(2, 1, 0)  # (B, N, K)
        modality_idx = torch.argsort(torch.rand(k, b, n_mod, device=device), dim=-1).permute(1, 2, 0)  # (B, N, K)
        label_idx = torch.arange(k, device=device).expand(b, n_mod, k)
        shuffled = beta_stack[sample_idx, modality_idx, label_idx]  # (B, N, K, hidden)
        targets = self._label_targets(y)[sample_idx, label_idx]
        return F.binary_cross_entropy_with_logits(self.aggregation(shuffled.flatten(2)), targets)

    def _contrastive(self, latents: list[torch.Tensor], aug: list[torch.Tensor], beta: list[torch.Tensor],
                     present: torch.Tensor) -> torch.Tensor:
        """SupCon over normalize(Enc_m(X)) for X in (Z, Aug, Beta), with the queue; then enqueue (detached)."""
        views = list(latents)
        views += [self.latent_encoders[i](x) for i, x in enumerate(aug)]
        views += [self.latent_encoders[i](x) for i, x in enumerate(beta)]
        feats = F.normalize(torch.stack(views, dim=1), dim=-1)  # (B, 3N, K, d_z)
        b, n_views, k, _ = feats.shape
        n_mod = len(self.names)
        modality = torch.arange(n_views, device=feats.device) % n_mod
        ids = (torch.arange(k, device=feats.device)[None, None, :]
               + k * (2 * modality[None, :, None] + (~present)[:, None, :].long()))  # (B, 3N, K)
        feats, ids = feats.reshape(-1, feats.shape[-1]), ids.reshape(-1)
        loss = supcon_with_queue(feats, ids, self.queue, self.queue_labels, 2 * n_mod * k, self.temperature,
                                 self.base_temperature)
        self._enqueue(feats.detach(), ids)
        return loss

    @torch.no_grad()
    def _enqueue(self, feats: torch.Tensor, ids: torch.Tensor) -> None:
        size = self.queue.shape[0]
        if feats.shape[0] >= size:
            self.queue.copy_(feats[-size:])
            self.queue_labels.copy_(ids[-size:])
            self.queue_ptr.zero_()
            return
        index = (self.queue_ptr + torch.arange(feats.shape[0], device=feats.device)) % size
        self.queue[index] = feats
        self.queue_labels[index] = ids
        self.queue_ptr.copy_((self.queue_ptr + feats.shape[0]) % size)

    @torch.no_grad()
    def _update_prototypes(self, latents: list[torch.Tensor], present: torch.Tensor) -> None:
        z = F.normalize(torch.stack([x.detach() for x in latents]), dim=-1)  # (N, B, K, d_z)
        self.prototypes.copy_(ema_prototypes(self.prototypes, z, present, self.proto_momentum))
