"""Multilabel ``macro_f1``: the unweighted mean of the per-label F1 (a label without TP, FP, FN scores 0).

The statistics and their DDP reduction are torchmetrics' ``MultilabelF1Score(average="macro")``; ``metrics._checked_multilabel`` adds
the suite's input contract (probabilities in [0, 1], strict ``p > threshold``)."""

from __future__ import annotations

from torch import Tensor
from torchmetrics.classification import MultilabelF1Score
from torchmetrics.functional.classification import multilabel_f1_score

from emobench.metrics._checked_multilabel import CheckedMultilabel, checked_functional


def multilabel_macro_f1(
    preds: Tensor, target: Tensor, threshold: float = 0.5, validate_args: bool = True
) -> Tensor:
    """Functional form of :class:`MultilabelMacroF1` on one set of predictions; L = ``preds.shape[1]``."""
    return checked_functional(multilabel_f1_score, preds, target, threshold, validate_args,
                              average="macro", zero_division=0)


class MultilabelMacroF1(CheckedMultilabel, MultilabelF1Score):
    r"""The unweighted mean over labels of each label's F1 (a label with no TP, FP or FN scores 0).

    .. math::

        \text{macro\_f1} = \frac{1}{L} \sum_{j=1}^{L} \frac{2\,TP_j}{2\,TP_j + FP_j + FN_j},
        \qquad \hat y_{ij} = \mathbb{1}[p_{ij} > \text{threshold}]

    The threshold comparison is strict (a probability equal to the threshold is not predicted). A zero
    denominator gives 0 (``zero_division=0``), as scikit-learn with ``zero_division=0``.

    Inputs:
        ``preds``: (B, L) floating tensor of probabilities in [0, 1] (apply a sigmoid to logits first).
        ``target``: (B, L) float, integer or bool tensor holding only 0 and 1.

    Args:
        num_labels: number of labels L (>= 2).
        threshold: decision threshold in [0, 1] (default 0.5); label j is predicted iff ``p_j > threshold``.
        validate_args: check values (preds in [0, 1], 0/1 targets); shapes and dtypes are always checked.
        kwargs: passed to :class:`torchmetrics.Metric`.

    Raises:
        ValueError: ``num_labels`` not an integer >= 2 or ``threshold`` not in [0, 1]; ``preds``/``target``
            not 2-D, of different shapes, with ``shape[1] != num_labels``, ``preds`` outside [0, 1] or
            ``target`` not 0/1.
        TypeError: ``preds`` not floating point, or either input not a tensor.

    Example:
        >>> import torch
        >>> from metrics import MultilabelMacroF1
        >>> preds = torch.tensor([[0.9, 0.2, 0.7], [0.5, 0.1, 0.3], [0.6, 0.8, 0.1]])
        >>> target = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 0]])
        >>> metric = MultilabelMacroF1(num_labels=3)
        >>> metric(preds, target)  # labels 0 and 1 score 1, label 2 (one false positive) scores 0
        tensor(0.6667)
    """

    higher_is_better = True
    fixed_kwargs = {"average": "macro", "zero_division": 0}
