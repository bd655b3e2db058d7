"""Speed of the optimal-transport part of HeLo's heterogeneity-mining module
(`emobench.models.helo.HeterogeneityMining.transport`): forward (cosine costs, batched log-domain Sinkhorn through
Sinkhorn of `models/layers/sinkhorn.py`, interaction I = n T B, OT loss) and backward, for a batch of independent problems, on CPU threads. The fusion
Linear and LayerNorm that follow are not timed.

Run: `emobench perf ot [--batch-size 64] [--tokens 32] [--hidden 64] [--repeats 20] [--warmup 3] [--threads 2]`.
Prints one row per gradient mode (`ot_grad`: implicit (HeLo's default), autodiff, envelope) and cost spread: "narrow" tokens are i.i.d.
Gaussian (cosines within about +-0.4, like a freshly initialised model), "broad" tokens of both sides lie in one
4-dimensional subspace (cosines over most of [-1, 1], the slow case for Sinkhorn). Each row gives the Sinkhorn iterations, the
median wall-clock milliseconds and the median process CPU milliseconds (all threads; less sensitive to other load). The last row times POT's `ot.solve_batch` alone on 64 x 32 x 32 uniform costs in [0, 1] with
reg 0.1 (autodiff, forward + backward): compare the rows with it, measured in the same run, rather than with
figures from another machine or another moment (the 2-core development machine is shared and its timings vary by
a factor of 2 between runs). The target is under 10 ms for 64 problems of 32 x 32 on CPU (HeLo's default path).
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import time
from collections.abc import Sequence

import torch

from emobench.models.helo import HeLo, HeterogeneityMining


def _tokens(batch: int, tokens: int, hidden: int, rank: int | None,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Physiological and behavioural tokens: i.i.d. Gaussian, or both sides in one shared rank-`rank` subspace."""
    if rank is None:
        return tuple(torch.randn(batch, tokens, hidden, generator=generator) for _ in range(2))
    basis = torch.randn(rank, hidden, generator=generator)
    return tuple(torch.randn(batch, tokens, rank, generator=generator) @ basis for _ in range(2))


def time_mining(grad: str, batch: int, tokens: int, hidden: int, rank: int | None, repeats: int,
                warmup: int) -> tuple[float, float, int]:
    """(median wall seconds and process CPU seconds of forward + backward, Sinkhorn iterations) of the module at
    HeLo's default OT settings."""
    defaults = {k: v.default for k, v in inspect.signature(HeLo.__init__).parameters.items()}
    module = HeterogeneityMining(hidden, 0.0, defaults["ot_cost"], defaults["ot_reg"], defaults["ot_max_iter"],
                                 defaults["ot_tol"], grad)
    g = torch.Generator().manual_seed(0)
    p_leaf, b_leaf = _tokens(batch, tokens, hidden, rank, g)
    mask = torch.ones(batch, tokens, dtype=torch.bool)
    wall, cpu = [], []
    for i in range(warmup + repeats):
        p, b = p_leaf.clone().requires_grad_(), b_leaf.clone().requires_grad_()
        start, start_cpu = time.perf_counter(), time.process_time()
        interaction, _, loss = module.transport(p, mask, b, mask)
        (interaction.mean() + loss).backward()
        if i >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), module.last_iterations


def time_reference(repeats: int, warmup: int) -> tuple[float, float]:
    import ot

    cost = torch.rand(64, 32, 32, generator=torch.Generator().manual_seed(0))
    wall, cpu = [], []
    for i in range(warmup + repeats):
        leaf = cost.clone().requires_grad_()
        start, start_cpu = time.perf_counter(), time.process_time()
        ot.solve_batch(leaf, 0.1, method="log_sinkhorn", grad="autodiff").value_linear.sum().backward()
        if i >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=64, help="independent OT problems")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per side (the costs are tokens x tokens)")
    parser.add_argument("--hidden", type=int, default=64, help="token width")
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed repeats first")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"HeLo OT forward + backward, {args.batch_size} problems of {args.tokens} x {args.tokens}, width "
          f"{args.hidden}, {args.threads} threads, median of {args.repeats} after {args.warmup} warm-up")
    print(f"{'ot_grad':<10} {'costs':<7} {'iterations':>10} {'median ms':>10} {'cpu ms':>8}")
    rows = []
    for grad in ("implicit", "autodiff", "envelope"):
        for spread, rank in (("narrow", None), ("broad", 4)):
            seconds, cpu, iterations = time_mining(grad, args.batch_size, args.tokens, args.hidden, rank,
                                                   args.repeats, args.warmup)
            rows.append({"grad": grad, "costs": spread, "iterations": iterations, "median_ms": 1000 * seconds,
                         "cpu_ms": 1000 * cpu})
            print(f"{grad:<10} {spread:<7} {iterations:>10} {1000 * seconds:>10.2f} {1000 * cpu:>8.2f}", flush=True)
    seconds, cpu = time_reference(args.repeats, args.warmup)
    rows.append({"grad": "reference", "costs": "uniform", "iterations": None, "median_ms": 1000 * seconds,
                 "cpu_ms": 1000 * cpu})
    print(f"reference: POT solve_batch alone {1000 * seconds:.2f} ms, cpu {1000 * cpu:.2f} ms (same run)")
    return rows


if __name__ == "__main__":
    main()
