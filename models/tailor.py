"""`tailor`: TAILOR, multi-modal multi-label emotion recognition with private/common features, adversarial modality
alignment, granularity-descent cross encoders and a label-guided decoder.

Paper: Yi Zhang, Mingyuan Chen, Jundong Shen, Chongjun Wang, "Tailor Versatile Multi-modal Learning for Multi-label
Emotion Recognition", AAAI 2022 (arXiv:2201.05834).
Official code: https://github.com/kniter1/TAILOR, read at commit d61121ba (files `src/models/models.py`,
`src/models/module_{bert,visual,audio,cross,decoder}.py`, `src/models/until_module.py`, `src/models/*-base/*.json`,
`train.py`, `train.sh`). This file is our own implementation of that structure; blocks shared with
CARAT live in `models/layers/bert.py`.

Structure (forward order; "primary" = the text modality on CMU-MOSEI):
1. A LayerNorm (eps 1e-12) over each modality's features.
2. Unaligned inputs (a modality whose length differs from the primary's): a CTC soft aligner, a 2-layer LSTM
   (d_m -> L_p + 1) whose per-step softmax, blank column dropped, re-samples the normalised features to the primary's
   L_p steps (P^T X); trained by a CTC loss whose target for each sample is the position sequence 1..L_p.
3. Unimodal BERT-style encoders (`BertEncoder`: Linear(d_m -> 256), learned positions, 8 heads, FFN 256, dropout
   0.3, post-LN): 6 layers for the primary modality, 4 for every other one.
4. Private extractors (one per modality: Linear, Dropout 0.1, tanh) and one common extractor shared by all
   modalities (Linear, Dropout 0.3, tanh); C = sum_m C_m.
5. A modality discriminator (Linear 256->128, Dropout 0.1, ReLU, Linear 128->N) applied per time step to every
   private feature and, through a gradient-reversal layer (coefficient 1), to every common feature.
6. Cross encoders in granularity-descent order (token types 0/1, positions over the concatenation): the non-primary
   modalities' private features are folded left to right ([P_a ; P_v] on MOSEI), then the primary's private feature
   is put in front ([P_t ; VA]), then the common feature is appended ([VAT ; C]).
7. A label-guided decoder: learned label embeddings (K x 256, no positions) -> LayerNorm -> Dropout 0.3 -> one
   post-LN decoder layer (self-attention among labels, cross-attention to the last cross encoder's output,
   FFN) -> a Linear(256 -> 1) shared over labels -> Dropout 0.1 on the logit (`logit_dropout`).
8. A common classifier (Linear 256 -> K, Dropout 0.1 on the logits) on the first time step of C (auxiliary).

Losses (official `all_loss`, `models.py`): BCE(s, y) + 0.5 BCE(common, y) + 0.01 (L_advC + L_advP)
+ 5e-6 (L_diff private + L_diff common) [+ 0.5 L_ctc unaligned]. Here the base's task loss on the returned logits
is the main BCE (the official BCELoss on sigmoid outputs equals BCE-with-logits on the logits); the others are
returned in `aux_losses` under the names of `default_aux_weights`, which hold the official weights (nothing is
weighted inside `forward`). Aux losses are computed in training only, as in the official code (`if training:`).
- "common": the task loss of the common classifier's logits (official: BCE, weight 0.5).
- "adversarial_private" / "adversarial_common": sum over modalities of the cross-entropy of the discriminator's
  per-step prediction against the modality id, averaged over real steps (weights 0.01 / 0.01).
- "orthogonality": sum over modality pairs (i < j) of mean_b ||P_i P_j^T||_F^2 plus sum over m of
  mean_b ||C_m P_m^T||_F^2; time x time products, as the code (weight 5e-6).
- "ctc": sum over aligned modalities of `F.ctc_loss` (reduction sum over the batch, blank 0) of the aligner's LSTM
  outputs against positions 1..L_p (weight 0.5); only when a modality is aligned.

Official defaults (class defaults here = the CMU-MOSEI configuration that `train.sh` runs):
- hidden 256, num_heads 8, ffn_dim 256, dropout 0.3, attn_dropout 0.3: `src/models/*-base/*_config.json`
  (`hidden_size`, `num_attention_heads`, `intermediate_size`, `hidden_dropout_prob`,
  `attention_probs_dropout_prob`); `--hidden_size 256` (argparse, `train.py`).
- primary_layers 6, layers 4: `train.sh` `--bert_num_hidden_layers 6 --visual_num_hidden_layers 4
  --audio_num_hidden_layers 4` (the CLI overrides the configs' 12 / 1 / 1).
- cross_layers 3: argparse default `--cross_num_hidden_layers 3` (overrides `cross_config.json`'s 2).
- decoder_layers 1: argparse default `--decoder_num_hidden_layers 1`.
- max_positions 60 (`bert/visual/audio_config.json`), cross_max_positions 240 (`cross_config.json`); both are
  raised automatically when a dataset needs more rows.
- private_dropout 0.1, common_dropout 0.3, discriminator_dropout 0.1, logit_dropout 0.1: hard-coded in
  `models.py` (`private_feature_extractor`, `common_feature_extractor`, `modal_discriminator`,
  `EmotionClassifier` / `common_classfier`).
- pooler True: every official encoder holds an unused pooler (Linear + tanh); it never receives a gradient but
  counts toward the parameters (394,752 of them here).
- lr 5e-5 (`train.sh --lr 5e-5`), weight_decay 0.01, warm-up fraction 0.1 with linear decay to 0
  (`optimization.py` BertAdam `warmup_linear`, `--warmup_proportion 0.1`), threshold 0.35 (`getBinaryTensor`
  default in `until_module.py`). Not model arguments (runner / sweep): batch 64, 20 epochs (`train.sh`),
  gradient clipping 1.0 (`train.py`), seed 42.

Parameters with the official configuration (text 300 / audio 74 / visual 35, 6 labels): ours 10,798,652 on
MOSEI aligned (60 steps each) and 10,884,944 on MOSEI unaligned (text 50, audio/visual 500 steps); the official
model has 10,798,652 and 10,884,944 (the official modules instantiated with the `train.sh` settings under torch 2.13). Exact match.

Generalisation (any N >= 1 modalities of any dims/lengths, every task kind):
- `primary` (default: the first modality of kind "text", else the first modality) sets the time axis: every
  modality whose length differs from the primary's is aligned to it by the CTC aligner (`ctc_aligner=None`:
  automatic; True: align every non-primary modality; False: never, and unequal lengths raise).
- `fusion_order` lists the non-primary modalities in the order they are folded (default: dataset order; on MOSEI
  (text, audio, visual) this gives the official [P_a ; P_v] -> [P_t ; VA] -> [VAT ; C]). N cross encoders for
  N >= 2. N = 2: [P_primary ; P_other], then [. ; C]. N = 1: only [P ; C] (private and common features of the one
  modality); no discriminator and no adversarial terms (a one-class discriminator has nothing to learn), the
  orthogonality loss keeps its C-P term.
- Task kinds: the K decoder logits go to the base's head (multilabel sigmoid + BCE, as the original; distribution
  and multiclass softmax + KL / cross-entropy); the common classifier's aux loss uses the same task loss. For
  the softmax kinds the label classifier has no bias (one bias shared by all labels cancels in a softmax).

Deliberate deviations:
- Model selection: the official `train.py` keeps `best_model = model` (a reference), so it tests the LAST epoch's
  weights; EmoBench tests the checkpoint that is best on the validation primary metric.
- Evaluation: the official val/test loaders shuffle with drop_last=True (4,608 of 4,659 test samples scored, a
  different subset each run); EmoBench scores every sample. The official code swaps precision and recall in every
  log line (`get_metrics(pred, label)` against `get_metrics(y_true, y_pred)`); EmoBench reports them correctly.
  A sample with no true and no predicted label scores 0 in the official Jaccard accuracy.
- Threshold: the official 0.35 is hard-coded; here it is the class default and can be overridden.
- Optimiser: the official BertAdam update is `optimizer="bertadam"` (`models/optim.py`; the paper sweep uses it);
  the class default is torch AdamW (with bias correction), both with the base's linear warm-up schedule (=
  `warmup_linear`). The base decays every weight with more than one dimension; the official groups also decay
  the input LayerNorms (a naming quirk).
- Unaligned CTC: the released file has the warp-ctc import commented out (and an unconditional `.cuda()`), so the
  official unaligned path does not run; we use torch's `F.ctc_loss` on log-softmax outputs (warp-ctc applies the
  softmax itself), reduction sum, `zero_infinity=True` so a modality shorter than the primary adds 0 instead of inf.
- Masks: padded steps are zeroed after the input LayerNorm, never attended, left out of the discriminator average,
  zeroed in the orthogonality products and in C; the common stream's mask is the union of the modality masks (the
  official one is all ones, its data has no padding). The aligner ignores padded source steps; an aligned modality
  takes the primary's mask. Outputs do not depend on padded values.
- Dropout uses `models.layers.bert.FastDropout` (same distribution, p quantised to 1/65536) for speed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emobench.datamodules.batch import EmotionBatch
from emobench.models.base import EmotionModel
from emobench.models.layers.bert import (
    LAYER_NORM_EPS,
    BertDecoderLayer,
    BertEncoder,
    CtcAligner,
    FastDropout,
    init_bert_weights,
    key_padding_mask,
)
from emobench.models.output import ModelOutput
from emobench.models.task_head import task_loss


class _GradReverse(torch.autograd.Function):
    """Identity forward, gradient times -coefficient backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coefficient: float) -> torch.Tensor:  # type: ignore[override]
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.coefficient * grad, None


def grad_reverse(x: torch.Tensor, coefficient: float = 1.0) -> torch.Tensor:
    return _GradReverse.apply(x, coefficient)


def ctc_position_loss(scores: torch.Tensor, source_mask: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """CTC loss (sum over the batch, blank 0) of aligner scores (B, T, L + 1) against the position sequence 1..n_b,
    n_b = real target steps of sample b; input lengths = real source steps."""
    batch, steps = target_mask.shape
    log_probs = F.log_softmax(scores, dim=-1).transpose(0, 1)
    targets = torch.arange(1, steps + 1, device=scores.device).expand(batch, steps)
    return F.ctc_loss(log_probs, targets, source_mask.sum(dim=1), target_mask.sum(dim=1), blank=0,
                      reduction="sum", zero_infinity=True)


def default_primary(modalities: Sequence) -> str:
    """The first modality of kind "text", else the first modality."""
    return next((m.name for m in modalities if m.kind == "text"), modalities[0].name)


def _masked(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return x * mask.unsqueeze(-1).to(x.dtype)


class Tailor(EmotionModel, name="tailor"):
    """TAILOR (Zhang et al., AAAI 2022): adversarial private/common refinement and a label-guided decoder.

    Structure, the source of every default and the deviations are in the module docstring.

    Args:
        hidden: model width of every Transformer.  num_heads: attention heads.  ffn_dim: feed-forward width.
        dropout: hidden dropout.  attn_dropout: attention-probability dropout.
        primary_layers: layers of the primary modality's encoder.  layers: layers of every other encoder.
        cross_layers: layers of each cross encoder.  decoder_layers: layers of the label decoder.
        private_dropout / common_dropout / discriminator_dropout: dropout inside those extractors.
        logit_dropout: dropout on the label and common classifiers' logits (official quirk; 0 disables it).
        max_positions / cross_max_positions: position-table rows of the unimodal / cross encoders (raised to the
            needed length when smaller).
        primary: name of the modality that sets the time axis (default: text, else the first).
        fusion_order: non-primary modality names in granularity-descent order (default: dataset order).
        ctc_aligner: None = align modalities whose length differs from the primary's; True = every non-primary;
            False = none (lengths must then be equal).
        pooler: build the unused official poolers (parameter count only).
        lr, weight_decay, schedule, warmup_fraction, threshold: the base's optimiser/metric settings with the
            official values as defaults; other base keywords (aux_weights, ...) pass through `**kwargs`.
    """

    default_aux_weights = {
        "common": 0.5,
        "adversarial_private": 0.01,
        "adversarial_common": 0.01,
        "orthogonality": 5e-6,
        "ctc": 0.5,
    }

    def __init__(self, task, modalities, label_stats=None, hidden: int = 256, num_heads: int = 8, ffn_dim: int = 256,
                 dropout: float = 0.3, attn_dropout: float = 0.3, primary_layers: int = 6, layers: int = 4,
                 cross_layers: int = 3, decoder_layers: int = 1, private_dropout: float = 0.1,
                 common_dropout: float = 0.3, discriminator_dropout: float = 0.1, logit_dropout: float = 0.1,
                 max_positions: int = 60, cross_max_positions: int = 240, primary: str | None = None,
                 fusion_order: Sequence[str] | None = None, ctc_aligner: bool | None = None, pooler: bool = True,
                 lr: float = 5e-5, weight_decay: float = 0.01, schedule: str = "linear", warmup_fraction: float = 0.1,
                 threshold: float = 0.35, **kwargs) -> None:
        super().__init__(task, modalities, label_stats, lr=lr, weight_decay=weight_decay, schedule=schedule,
                         warmup_fraction=warmup_fraction, threshold=threshold, **kwargs)
        specs = {m.name: m for m in self.modalities}
        self.primary = primary if primary is not None else default_primary(self.modalities)
        if self.primary not in specs:
            raise ValueError(f"Tailor: <primary={self.primary}> is not a modality; known: {sorted(specs)}.")
        others = [m.name for m in self.modalities if m.name != self.primary]
        order = list(fusion_order) if fusion_order is not None else others
        if sorted(order) != sorted(others):
            raise ValueError(f"Tailor: <fusion_order={order}> must list every non-primary modality once: {others}.")
        self.order = order
        self.names = [self.primary, *order]  # modality index = discriminator class id
        steps = specs[self.primary].seq_len
        if ctc_aligner is None:
            aligned = [n for n in order if specs[n].seq_len != steps]
        else:
            aligned = list(order) if ctc_aligner else []
        unequal = [n for n in order if n not in aligned and specs[n].seq_len != steps]
        if unequal:
            raise ValueError(f"Tailor: modalities {unequal} have lengths {[specs[n].seq_len for n in unequal]} but the "
                             f"primary {self.primary!r} has {steps}; make sure ctc_aligner is None or True.")
        self.aligners = nn.ModuleDict({n: CtcAligner(specs[n].dim, steps) for n in aligned})
        self.logit_dropout = logit_dropout
        n_mod = len(self.names)

        def encoder(in_dim: int | None, depth: int, positions: int, types: int) -> BertEncoder:
            return BertEncoder(in_dim, hidden, depth, num_heads, ffn_dim, dropout, attn_dropout, positions, types,
                               pooler)

        self.input_norms = nn.ModuleDict({n: nn.LayerNorm(specs[n].dim, eps=LAYER_NORM_EPS) for n in self.names})
        self.encoders = nn.ModuleDict({
            n: encoder(specs[n].dim, primary_layers if n == self.primary else layers, max(max_positions, steps), 0)
            for n in self.names})
        self.private = nn.ModuleDict({
            n: nn.Sequential(nn.Linear(hidden, hidden), FastDropout(private_dropout), nn.Tanh()) for n in self.names})
        self.common = nn.Sequential(nn.Linear(hidden, hidden), FastDropout(common_dropout), nn.Tanh())
        self.discriminator = nn.Sequential(
            nn.Linear(hidden, hidden // 2), FastDropout(discriminator_dropout), nn.ReLU(), nn.Linear(hidden // 2, n_mod),
        ) if n_mod > 1 else None
        cross_positions = max(cross_max_positions, (n_mod + 1) * steps)
        # fold of the non-primary modalities (n_mod - 2 encoders), primary in front (1), common appended (1)
        n_cross = max(n_mod - 2, 0) + (1 if n_mod > 1 else 0) + 1
        self.cross = nn.ModuleList(encoder(None, cross_layers, cross_positions, 2) for _ in range(n_cross))
        k = task.num_labels
        self.label_embedding = nn.Embedding(k, hidden)
        self.label_norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.label_dropout = FastDropout(dropout)
        self.decoder = nn.ModuleList(
            BertDecoderLayer(hidden, num_heads, ffn_dim, dropout, attn_dropout) for _ in range(decoder_layers))
        # softmax heads are shift-invariant: a bias shared by all labels would get no gradient there
        self.label_classifier = nn.Linear(hidden, 1, bias=task.kind == "multilabel")
        self.common_classifier = nn.Linear(hidden, k)
        self.apply(init_bert_weights)

    # ---- parts -------------------------------------------------------------------------------------------------
    def _cross(self, index: int, first: torch.Tensor, first_mask: torch.Tensor, second: torch.Tensor,
               second_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([first, second], dim=1)
        mask = torch.cat([first_mask, second_mask], dim=1)
        types = torch.cat([torch.zeros_like(first_mask, dtype=torch.long),
                           torch.ones_like(second_mask, dtype=torch.long)], dim=1)
        return self.cross[index](x, mask, types), mask

    def _logit_dropout(self, logits: torch.Tensor) -> torch.Tensor:
        return F.dropout(logits, self.logit_dropout, self.training) if self.logit_dropout > 0 else logits

    def forward(self, batch: EmotionBatch) -> ModelOutput:
        primary_mask = batch.masks[self.primary]
        masks, aux = {}, {}
        ctc_terms = []
        hidden = {}
        for name in self.names:
            mask = batch.masks[name]
            x = _masked(self.input_norms[name](batch.inputs[name]), mask)
            if name in self.aligners:
                x, scores = self.aligners[name](x, mask)
                if self.training:
                    ctc_terms.append(ctc_position_loss(scores, mask, primary_mask))
                mask = primary_mask
            masks[name] = mask
            hidden[name] = self.encoders[name](x, mask)
        private = {n: _masked(self.private[n](h), masks[n]) for n, h in hidden.items()}
        common = {n: _masked(self.common(h), masks[n]) for n, h in hidden.items()}
        common_sum = torch.stack(list(common.values())).sum(dim=0)
        common_mask = torch.stack([masks[n] for n in self.names]).any(dim=0)

        # granularity descent: fold the non-primary modalities, put the primary in front, append the common stream
        index = 0
        if self.order:
            acc, acc_mask = private[self.order[0]], masks[self.order[0]]
            for name in self.order[1:]:
                acc, acc_mask = self._cross(index, acc, acc_mask, private[name], masks[name])
                index += 1
            acc, acc_mask = self._cross(index, private[self.primary], masks[self.primary], acc, acc_mask)
            index += 1
        else:
            acc, acc_mask = private[self.primary], masks[self.primary]
        fused, fused_mask = self._cross(index, acc, acc_mask, common_sum, common_mask)

        batch_size = fused.shape[0]
        labels = self.label_embedding.weight.unsqueeze(0).expand(batch_size, -1, -1)
        labels = self.label_dropout(self.label_norm(labels))
        memory_mask = key_padding_mask(fused_mask)
        for layer in self.decoder:
            labels = layer(labels, None, fused, memory_mask)  # label tokens: no padding
        logits = self._logit_dropout(self.label_classifier(labels).squeeze(-1))

        if self.training:
            common_logits = self._logit_dropout(self.common_classifier(common_sum[:, 0]))
            aux["common"] = task_loss(self.task.kind, common_logits, batch.target)
            aux["orthogonality"] = self._orthogonality(private, common)
            if self.discriminator is not None:
                aux["adversarial_private"] = self._adversarial(private, masks, reverse=False)
                aux["adversarial_common"] = self._adversarial(common, masks, reverse=True)
            if ctc_terms:
                aux["ctc"] = torch.stack(ctc_terms).sum()
        return ModelOutput(logits=logits, aux_losses=aux)

    def _adversarial(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
                     reverse: bool) -> torch.Tensor:
        """Sum over modalities of the discriminator's cross-entropy against the modality id, mean over real steps."""
        x = torch.stack([features[n] for n in self.names])  # (N, B, T, hidden)
        mask = torch.stack([masks[n] for n in self.names]).to(x.dtype)  # (N, B, T)
        if reverse:
            x = grad_reverse(x, 1.0)
        logits = self.discriminator(x)
        target = torch.arange(len(self.names), device=x.device).view(-1, 1, 1).expand(mask.shape)
        ce = F.cross_entropy(logits.flatten(0, 2), target.flatten(), reduction="none").view(mask.shape)
        return ((ce * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1.0)).sum()

    def _orthogonality(self, private: dict[str, torch.Tensor], common: dict[str, torch.Tensor]) -> torch.Tensor:
        """sum_{i<j} mean_b ||P_i P_j^T||_F^2 + sum_m mean_b ||C_m P_m^T||_F^2 (time x time products)."""
        def term(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a @ b.transpose(1, 2)).pow(2).sum(dim=(1, 2)).mean()

        total = sum(term(common[n], private[n]) for n in self.names)
        for i, a in enumerate(self.names):
            for b in self.names[i + 1:]:
                total = total + term(private[a], private[b])
        return total
