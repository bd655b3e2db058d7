"""Contract checks of a method (an `EmotionModel` subclass) on hand-built specs of different dims and lengths, for
every task kind with one and three modalities: it builds, its forward returns finite (B, L) logits and scalar finite
auxiliary losses, the training loss reaches every parameter, and padded steps (mask False) change the outputs
neither by their values nor by their number."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emobench.benchmark.contract import CheckResult, Report, error_text
from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.specs import TASK_KINDS, ModalitySpec, TaskSpec
from emobench.datamodules.statistics import label_statistics
from emobench.models.base import EmotionModel, count_parameters
from emobench.models.output import ModelOutput
from emobench.models.task_head import task_loss

MODEL_CHECKS = ("builds", "forward", "logits shape (B, L)", "logits finite", "auxiliary losses", "backward",
                "gradients reach every parameter", "masks honoured", "padding length ignored")
MODALITIES = (ModalitySpec("text", 6, 5, "text"), ModalitySpec("audio", 4, 7, "audio"),
              ModalitySpec("visual", 5, 3, "visual"))
COUNTS = (1, 3)
LABELS = ("a", "b", "c", "d")
BATCH = 4
# Padding check: real steps are REAL_SCALE * N(0, 1), padded steps GARBAGE_SCALE * N(0, 1) + GARBAGE_SCALE, so a
# model that reads padded steps moves its outputs far above float noise; outputs must agree within MASK_RTOL
# of the largest reference logit (plus MASK_ATOL for all-zero logits).
REAL_SCALE, GARBAGE_SCALE = 3.0, 100.0
MASK_RTOL, MASK_ATOL = 1e-4, 1e-6


def lengths_of(spec: ModalitySpec, batch_size: int) -> list[int]:
    """Real lengths per sample: the full length first, then shorter ones (different for each modality's T)."""
    t = spec.seq_len
    return [t] + [max(1, t - 1 - (i * (t + 1)) // (batch_size + 1)) for i in range(1, batch_size)]


def make_batch(task: TaskSpec, modalities: tuple[ModalitySpec, ...], seed: int, padding: str) -> tuple[
        EmotionBatch, dict[str, list[int]]]:
    """A batch whose later samples are padded; padded steps hold zeros (`padding="zeros"`) or large random values
    (`"garbage"`), always with mask False. Also returns each modality's real lengths per sample."""
    g = torch.Generator().manual_seed(seed)
    inputs, masks, lengths = {}, {}, {}
    for m in modalities:
        lengths[m.name] = lengths_of(m, BATCH)
        x = REAL_SCALE * torch.randn(BATCH, m.seq_len, m.dim, generator=g)
        garbage = GARBAGE_SCALE * (torch.randn(BATCH, m.seq_len, m.dim, generator=g) + 1.0)
        mask = torch.arange(m.seq_len)[None, :] < torch.tensor(lengths[m.name])[:, None]
        pad = garbage if padding == "garbage" else torch.zeros_like(x)
        inputs[m.name], masks[m.name] = torch.where(mask[..., None], x, pad), mask
    n = task.num_labels
    if task.kind == "multilabel":
        target = (torch.rand(BATCH, n, generator=g) > 0.5).float()
        target[0] = torch.arange(n) % 2 == 0  # a fixed first row mixing 1s and 0s
    elif task.kind == "distribution":
        target = torch.softmax(torch.randn(BATCH, n, generator=g), dim=-1)
    else:
        target = torch.arange(BATCH) % (n - 1)  # unbalanced, so a constant model still gets a gradient
    return EmotionBatch(inputs=inputs, masks=masks, target=target, subject=torch.arange(BATCH),
                        index=torch.arange(BATCH), ids=[f"sample-{i}" for i in range(BATCH)]), lengths


def cut_sample(batch: EmotionBatch, lengths: dict[str, list[int]], i: int) -> EmotionBatch:
    """Sample `i` alone, each modality cut to its real length (no padding left)."""
    return EmotionBatch(
        inputs={k: x[i: i + 1, : lengths[k][i]] for k, x in batch.inputs.items()},
        masks={k: m[i: i + 1, : lengths[k][i]] for k, m in batch.masks.items()},
        target=batch.target[i: i + 1], subject=batch.subject[i: i + 1], index=batch.index[i: i + 1],
        ids=batch.ids[i: i + 1])


def config_label(kind: str, count: int) -> str:
    return f"{kind}, {count} modalit{'y' if count == 1 else 'ies'}"


def check_model_config(model_cls: type[EmotionModel], kind: str, count: int,
                       model_args: dict[str, Any] | None = None, seed: int = 0) -> list[CheckResult]:
    """Every model check for one task kind and modality count (the global torch RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _check_config(model_cls, TaskSpec(kind, LABELS), MODALITIES[:count], dict(model_args or {}), seed)


def _check_config(model_cls: type[EmotionModel], task: TaskSpec, modalities: tuple[ModalitySpec, ...],
                  model_args: dict[str, Any], seed: int) -> list[CheckResult]:
    report = Report(MODEL_CHECKS)
    batch, _ = make_batch(task, modalities, seed, padding="zeros")
    stats = label_statistics(batch.target.numpy(), task.num_labels)
    try:
        model = model_cls(task=task, modalities=modalities, label_stats=stats, **model_args)
    except Exception as err:  # noqa: BLE001 - a user's error becomes a failed check
        report.add("builds", False, error_text(err))
        return report.skip_rest("the model does not build")
    report.add("builds", True, f"{count_parameters(model):,} parameters")
    model.train()
    try:
        out = model(batch)
    except Exception as err:  # noqa: BLE001
        report.add("forward", False, error_text(err))
        return report.skip_rest("forward failed")
    if not isinstance(out, ModelOutput) or not isinstance(out.logits, torch.Tensor):
        report.add("forward", False, f"returned {type(out).__name__}; expected ModelOutput(logits=Tensor (B, L)).")
        return report.skip_rest("forward failed")
    report.add("forward", True)
    expected = (len(batch), task.num_labels)
    shape = tuple(out.logits.shape)
    if not report.add("logits shape (B, L)", shape == expected,
                      f"{shape}" if shape == expected else f"got {shape}, expected {expected}"):
        return report.skip_rest("the logits have the wrong shape")
    report.add("logits finite", bool(torch.isfinite(out.logits).all()),
               "" if torch.isfinite(out.logits).all() else "logits contain NaN or inf")
    _check_aux(report, out.aux_losses)
    _check_gradients(report, model, task, batch, out)
    _check_padding(report, model, task, modalities, seed)
    return report.results


def _check_aux(report: Report, aux: Any) -> None:
    if not isinstance(aux, dict):
        report.add("auxiliary losses", False, f"aux_losses is {type(aux).__name__}; expected dict[str, Tensor].")
        return
    bad = [f"{k}: {_describe_tensor(v)}" for k, v in aux.items()
           if not (isinstance(v, torch.Tensor) and v.ndim == 0 and torch.isfinite(v))]
    detail = f"not scalar and finite: {'; '.join(bad)}" if bad else (", ".join(aux) or "none")
    report.add("auxiliary losses", not bad, detail)


def _describe_tensor(value: Any) -> str:
    if not isinstance(value, torch.Tensor):
        return type(value).__name__
    return f"shape {tuple(value.shape)}" if value.ndim else f"value {float(value.detach())}"


def _check_gradients(report: Report, model: EmotionModel, task: TaskSpec, batch: EmotionBatch,
                     out: ModelOutput) -> None:
    """The training objective of the base model (task loss times its weight plus weighted auxiliary losses)."""
    try:
        loss = model.task_loss_weight * task_loss(task.kind, out.logits, batch.target)
        for name, value in out.aux_losses.items() if isinstance(out.aux_losses, dict) else ():
            if isinstance(value, torch.Tensor) and value.ndim == 0:
                loss = loss + model.aux_weights.get(name, 1.0) * value
        loss.backward()
    except Exception as err:  # noqa: BLE001
        report.add("backward", False, error_text(err))
        report.add("gradients reach every parameter", None, "not reached: backward failed")
        return
    report.add("backward", True, f"loss {float(loss.detach()):.4g}")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    none = [n for n, p in trainable if p.grad is None or not bool(p.grad.abs().sum())]
    shown = ", ".join(none[:8]) + (f" and {len(none) - 8} more" if len(none) > 8 else "")
    report.add("gradients reach every parameter", not none,
               f"no gradient: {shown}" if none else f"{len(trainable)} parameter tensors")


def _check_padding(report: Report, model: EmotionModel, task: TaskSpec, modalities: tuple[ModalitySpec, ...],
                   seed: int) -> None:
    """Eval mode. masks honoured: the batch padded with large random values against the same batch padded with
    zeros. padding length ignored: the zero-padded batch against each sample alone, cut to its real length (not
    run for a model that needs full-length inputs)."""
    garbage, lengths = make_batch(task, modalities, seed + 1, padding="garbage")
    zeros, _ = make_batch(task, modalities, seed + 1, padding="zeros")
    model.eval()
    try:
        with torch.no_grad():
            padded, reference = model(garbage).logits.detach(), model(zeros).logits.detach()
            unmasked = model(_all_real(garbage)).logits.detach()
    except Exception as err:  # noqa: BLE001
        report.add("masks honoured", False, f"forward in eval mode: {error_text(err)}")
        report.add("padding length ignored", None, "not reached: forward in eval mode failed")
        return
    tolerance = MASK_RTOL * (float(reference.abs().max()) if reference.numel() else 0.0) + MASK_ATOL
    diff = _max_diff(padded, reference)
    if diff > tolerance:
        report.add("masks honoured", False,
                   f"padded steps (mask False) holding large values instead of zeros change the logits by {diff:.3g} "
                   f"(tolerance {tolerance:.2g}). Make sure every pooling, attention, recurrence and last-step "
                   "read-out ignores steps whose mask is False.")
    else:
        moved = _max_diff(unmasked, reference)
        note = (f"counting the padding as real would move them by {moved:.3g}" if moved > 10 * tolerance
                else "the logits hardly depend on the inputs, so this check is weak here")
        report.add("masks honoured", True, f"max change {diff:.2g}; {note}")
    try:
        with torch.no_grad():
            cut = torch.cat([model(cut_sample(zeros, lengths, i)).logits.detach() for i in range(len(zeros))])
    except Exception as err:  # noqa: BLE001 - e.g. a model whose modalities must keep their declared lengths
        report.add("padding length ignored", None, f"not run: the model refuses shorter inputs ({error_text(err)})")
        return
    diff = _max_diff(cut, reference)
    report.add("padding length ignored", diff <= tolerance,
               f"max change {diff:.2g}" if diff <= tolerance else
               f"each sample cut to its real length gives logits that differ by {diff:.3g} from the zero-padded batch "
               f"(tolerance {tolerance:.2g}): outputs depend on how much padding follows, e.g. through positions "
               "or averages over the padded length. Make sure lengths come from the masks.")


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference; inf when shapes differ or a value is not finite."""
    if a.shape != b.shape:
        return float("inf")
    diff = float((a - b).abs().max()) if a.numel() else 0.0
    return diff if np.isfinite(diff) else float("inf")


def _all_real(batch: EmotionBatch) -> EmotionBatch:
    return EmotionBatch(inputs=batch.inputs, masks={k: torch.ones_like(m) for k, m in batch.masks.items()},
                        target=batch.target, subject=batch.subject, index=batch.index, ids=batch.ids)


def check_model(model_cls: type[EmotionModel], model_args: dict[str, Any] | None = None) -> list[CheckResult]:
    """Every check over every task kind x (1, 3) modalities, one row per check: passed where it passed in every
    configuration it reached; a failure shows the first failing configuration's detail and names the others."""
    per_config = {(kind, count): check_model_config(model_cls, kind, count, model_args)
                  for kind in TASK_KINDS for count in COUNTS}
    rows = []
    for name in MODEL_CHECKS:
        outcomes = {key: next(r for r in results if r.name == name) for key, results in per_config.items()}
        failed = {key: r for key, r in outcomes.items() if r.passed is False}
        ran = {key: r for key, r in outcomes.items() if r.passed is not None}
        if failed:
            (key, first), *others = failed.items()
            detail = f"{config_label(*key)}: {first.detail}"
            if others:
                detail += f" Also fails in: {'; '.join(config_label(*k) for k, _ in others)}."
            rows.append(CheckResult(name, False, detail))
        elif not ran:
            rows.append(CheckResult(name, None, next(iter(outcomes.values())).detail))
        else:
            first_key, first = next(iter(ran.items()))
            detail = f"{len(ran)} configurations; {config_label(*first_key)}: {first.detail}".rstrip(": ")
            missed = {key: r for key, r in outcomes.items() if key not in ran}
            if missed:
                detail += (f"; in {', '.join(config_label(*key) for key in missed)}: "
                           f"{next(iter(missed.values())).detail}")
            rows.append(CheckResult(name, True, detail))
    return rows
