"""`FitClock`: the wall seconds a Trainer fit spends inside its training and validation batches, for
`emobench perf report`'s in-fit overhead.

The report's overhead, 1 - (train steps x median step + validation batches x median evaluation step) / fit, times
the steps on one batch outside the fit. Two things then count as overhead that are not: work that changes during
training (HeLo's Sinkhorn solver runs 16-19 iterations on a fresh model and up to its 200-iteration cap once
training has sharpened the costs) and the machine's drift between the step timing and the fit (this VM's speed
moves by up to 50 % within minutes). The clock times the fit's own batches instead, in the same minutes as the
fit: each window runs from the model's `on_*_batch_start` hook to its `on_*_batch_end` hook, which Lightning
calls around the step (after the batch reached the device and the callbacks' start hooks; the end hook after the
callbacks' end hooks). The windows hold Lightning's per-step hooks inside the step (zero_grad, backward, gradient
clipping and optimiser-step hooks), so 1 - windows / fit is a lower bound of the framework overhead.

The model instance's hooks are wrapped (no callback is added, so the fit dispatches the same hooks as the runner's).
On CUDA the end hook synchronises the device first, so that a window holds the kernels it launched."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

STAGES = ("train", "validation")


class FitClock:
    """Wraps `model`'s batch start/end hooks; `seconds` and `batches` (per stage) grow as a fit runs."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.seconds = 0.0
        self.batches = dict.fromkeys(STAGES, 0)
        self._device = device
        self._started = 0.0
        for stage in STAGES:
            start, end = f"on_{stage}_batch_start", f"on_{stage}_batch_end"
            setattr(model, start, self._start(getattr(model, start)))
            setattr(model, end, self._end(getattr(model, end), stage))

    def _start(self, hook: Callable) -> Callable:
        def start(*args, **kwargs):
            response = hook(*args, **kwargs)
            self._started = time.perf_counter()
            return response

        return start

    def _end(self, hook: Callable, stage: str) -> Callable:
        def end(*args, **kwargs):
            if self._device.type == "cuda":
                torch.cuda.synchronize(self._device)
            self.seconds += time.perf_counter() - self._started
            self.batches[stage] += 1
            return hook(*args, **kwargs)

        return end
