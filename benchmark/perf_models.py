"""Speed of one training step of registered models at their default (official) size on a CMU-MOSEI-aligned-shaped
batch: forward with every loss, backward, gradient clipping at norm 1.0 and the model's optimiser step, on CPU
threads. Methods published on other inputs are measured on those (`PAPER_INPUTS`): Foal-Net on IEMOCAP as its official code feeds
it (audio 299 x 1024 WavLM frames, video 180 x 768 CLIP frames, 4 classes, batch 16; WavLM itself not included).

Run: `python -m emobench.benchmark.perf_models [model ...] [--steps 5] [--warmup 2] [--threads 2] [--batch-size 64]`
(default models: tailor carat foalnet helo). Prints one row per model: its inputs, parameters, the median wall-clock
seconds per step after the warm-up steps, and the median process CPU seconds (all threads; less sensitive to other
load on the machine).
Against the official code: `python benchmark/side_by_side/side_by_side.py` builds the official model from a local
checkout and times both alternately in one process (a ratio measured in one run, not a remembered figure). The step
here uses the model's own optimiser setting (class default); that script uses the paper sweep's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch

from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.models import MODELS, EmotionModel, count_parameters

MOSEI_LABELS = ("happy", "sad", "anger", "surprise", "disgust", "fear")
MOSEI_ALIGNED = (ModalitySpec("text", 300, 60, "text"), ModalitySpec("audio", 74, 60, "audio"),
                 ModalitySpec("visual", 35, 60, "visual"))
MOSEI_UNALIGNED = (ModalitySpec("text", 300, 50, "text"), ModalitySpec("audio", 74, 500, "audio"),
                   ModalitySpec("visual", 35, 500, "visual"))
IEMOCAP_LABELS = ("hap", "neu", "sad", "ang")  # Foal-Net dataloader.py class order
IEMOCAP_FOALNET = (ModalitySpec("audio", 1024, 299, "audio"), ModalitySpec("visual", 768, 180, "visual"))


def mosei_batch(batch_size: int = 64, seed: int = 0) -> tuple[TaskSpec, tuple[ModalitySpec, ...], EmotionBatch]:
    """A random batch shaped like CMU-MOSEI aligned (text 60x300, audio 60x74, visual 60x35, 6 labels, no padding)."""
    g = torch.Generator().manual_seed(seed)
    task = TaskSpec("multilabel", MOSEI_LABELS)
    inputs = {m.name: torch.randn(batch_size, m.seq_len, m.dim, generator=g) for m in MOSEI_ALIGNED}
    masks = {m.name: torch.ones(batch_size, m.seq_len, dtype=torch.bool) for m in MOSEI_ALIGNED}
    target = (torch.rand(batch_size, len(MOSEI_LABELS), generator=g) < 0.3).float()
    return task, MOSEI_ALIGNED, EmotionBatch(inputs=inputs, masks=masks, target=target)


def mosei_unaligned_batch(batch_size: int = 24,
                          seed: int = 0) -> tuple[TaskSpec, tuple[ModalitySpec, ...], EmotionBatch]:
    """A random batch shaped like CMU-MOSEI unaligned (text 50x300, audio 500x74, visual 500x35, 6 labels, MulT's
    default data)."""
    g = torch.Generator().manual_seed(seed)
    task = TaskSpec("multilabel", MOSEI_LABELS)
    inputs = {m.name: torch.randn(batch_size, m.seq_len, m.dim, generator=g) for m in MOSEI_UNALIGNED}
    masks = {m.name: torch.ones(batch_size, m.seq_len, dtype=torch.bool) for m in MOSEI_UNALIGNED}
    target = (torch.rand(batch_size, len(MOSEI_LABELS), generator=g) < 0.3).float()
    return task, MOSEI_UNALIGNED, EmotionBatch(inputs=inputs, masks=masks, target=target)


def iemocap_batch(batch_size: int = 16, seed: int = 0) -> tuple[TaskSpec, tuple[ModalitySpec, ...], EmotionBatch]:
    """A random batch shaped like Foal-Net's IEMOCAP inputs (6 s of WavLM frames, 180 CLIP frames, no padding)."""
    g = torch.Generator().manual_seed(seed)
    task = TaskSpec("multiclass", IEMOCAP_LABELS)
    inputs = {m.name: torch.randn(batch_size, m.seq_len, m.dim, generator=g) for m in IEMOCAP_FOALNET}
    masks = {m.name: torch.ones(batch_size, m.seq_len, dtype=torch.bool) for m in IEMOCAP_FOALNET}
    target = torch.randint(0, len(IEMOCAP_LABELS), (batch_size,), generator=g)
    return task, IEMOCAP_FOALNET, EmotionBatch(inputs=inputs, masks=masks, target=target)


# model -> (label, batch maker, batch size) of the inputs its paper uses, where they are not CMU-MOSEI's
PAPER_INPUTS = {"foalnet": ("iemocap", iemocap_batch, 16)}


def step_times(model: EmotionModel, batch: EmotionBatch, steps: int,
               warmup: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of each of `steps` timed training steps after `warmup` untimed ones."""
    optimizer = model.build_optimizer()
    model.train()
    wall, cpu = [], []
    for i in range(warmup + steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        model.training_objective(batch).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if i >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["tailor", "carat", "foalnet", "helo"], help="registered model names")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mosei = mosei_batch(args.batch_size)
    rows = []
    print(f"one training step, {args.threads} threads, median of {args.steps} after {args.warmup} warm-up; inputs "
          f"mosei = CMU-MOSEI aligned shapes x {args.batch_size}, or the method's paper inputs")
    print(f"{'model':<14} {'inputs':>12} {'parameters':>12} {'median s/step':>14} {'cpu s/step':>11}")
    for name in args.models:
        label, make, size = PAPER_INPUTS.get(name, ("mosei", None, args.batch_size))
        task, modalities, batch = make(size) if make else mosei
        torch.manual_seed(0)
        model = MODELS.get(name)(task=task, modalities=modalities)
        wall, cpu = step_times(model, batch, args.steps, args.warmup)
        row = {"model": name, "inputs": f"{label} x{size}", "parameters": count_parameters(model),
               "median_seconds": statistics.median(wall), "median_cpu_seconds": statistics.median(cpu)}
        rows.append(row)
        print(f"{name:<14} {row['inputs']:>12} {row['parameters']:>12,} {row['median_seconds']:>14.3f} "
              f"{row['median_cpu_seconds']:>11.3f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
