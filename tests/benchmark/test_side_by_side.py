"""benchmark/side_by_side/ (not part of the package): the alternating timer, the published settings of ours, the
checks on checkout paths and shims, and a full run with a stand-in for an official checkout writing its CSV and
Markdown (no timing is asserted; the official repositories are never fetched in tests)."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

FOLDER = Path(__file__).resolve().parents[2] / "benchmark" / "side_by_side"


def _module(name: str):
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(FOLDER))
    spec = importlib.util.spec_from_file_location(name, FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sbs():
    return _module("side_by_side")


@pytest.fixture(scope="module")
def official():
    return _module("official")


def test_steps_alternate_with_the_order_swapped_every_repetition(sbs):
    calls = []
    first, second = (lambda: calls.append("a")), (lambda: calls.append("b"))
    a_times, b_times = sbs.alternate(first, second, repeats=3, warmup=1)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert len(a_times) == len(b_times) == 3 and all(t >= 0 for t in a_times + b_times)


def test_flops_count_the_matrix_products_of_one_step(sbs):
    a, b = torch.randn(2, 3), torch.randn(3, 4, requires_grad=True)

    def step():
        (a @ b).sum().backward()  # forward 2*2*3*4 = 48 FLOPs, gradient of b (a^T g) 48 more
        return 0.0

    assert sbs.step_gflop(step) == pytest.approx(96e-9)


def test_ours_gets_the_papers_settings(sbs):
    assert sbs.paper_settings("tailor") == ({"optimizer": "bertadam"}, 1.0, 64)
    model_args, clip, size = sbs.paper_settings("mult")
    assert model_args == {"optimizer": "adam"} and clip == 0.8 and size == 24
    assert sbs.paper_settings("foalnet")[1:] == (0.0, 16)


def test_a_folder_that_is_not_a_checkout_is_refused(official, tmp_path):
    for builder in official.BUILDERS.values():
        with pytest.raises(FileNotFoundError, match="Make sure the path is the repository root"):
            builder(tmp_path, None)


def test_a_shim_refuses_a_source_that_differs_from_the_pinned_commit(official, tmp_path):
    source = tmp_path / "model.py"
    source.write_text("x = 1\n")
    with pytest.raises(RuntimeError, match="checkout differs"):
        official._load("sbs_test_module", source, replace={"x = 2": "x = 3"})
    assert official._load("sbs_test_module", source, replace={"x = 1": "x = 5"}).x == 5


def test_bad_method_argument_is_a_usage_error(sbs):
    with pytest.raises(SystemExit, match="METHOD=PATH"):
        sbs.parse_checkouts(["tailor:/src/TAILOR"])
    with pytest.raises(SystemExit, match="METHOD=PATH"):
        sbs.parse_checkouts(["bert=/src/BERT"])


def test_a_full_run_prints_and_writes_the_ratio(sbs, official, tmp_path, monkeypatch, capsys):
    """MulT's slot with a stand-in for the official checkout (EmoBench's own MulT with Adam): the harness builds
    both on the same batch, times them alternately and writes the CSV and the Markdown table."""
    from emobench.models.mult import MulT

    def stand_in(root, batch):
        task, specs, _ = _tiny_batch(len(batch))
        model = MulT(task, specs, d_model=10, num_heads=2, layers=1)
        optimizer = torch.optim.Adam(model.parameters())

        def step():
            optimizer.zero_grad()
            loss = model.training_objective(batch)
            loss.backward()
            optimizer.step()
            return float(loss.detach())

        return official.OfficialStep(sum(p.numel() for p in model.parameters()), step, "stand-in")

    monkeypatch.setitem(sbs.BUILDERS, "mult", stand_in)
    monkeypatch.setitem(sbs.INPUTS, "mult", ("tiny", _tiny_batch))
    out = tmp_path / "sbs.csv"
    rows = sbs.main(["mult=/nowhere", "--repeats", "2", "--warmup", "0", "--threads", "1", "--out", str(out)])
    assert [r.method for r in rows] == ["mult"] and rows[0].ratio_min <= rows[0].ratio <= rows[0].ratio_max
    written = list(csv.DictReader(out.open()))
    assert written[0]["method"] == "mult" and float(written[0]["ratio"]) > 0 and written[0]["note"] == "stand-in"
    assert rows[0].flop_ratio == pytest.approx(rows[0].ours_gflop / rows[0].official_gflop)
    assert rows[0].ours_gflop > 0 and float(written[0]["official_gflop"]) == rows[0].official_gflop
    assert "| mult | tiny x24 |" in out.with_suffix(".md").read_text()
    assert "ratio" in capsys.readouterr().out


def _tiny_batch(batch_size: int):
    from emobench.benchmark.perf_models import mosei_unaligned_batch
    from emobench.datamodules.batch import EmotionBatch

    task, specs, batch = mosei_unaligned_batch(batch_size)
    specs = tuple(type(s)(s.name, s.dim, 6, s.kind) for s in specs)
    cut = EmotionBatch(inputs={k: v[:, :6] for k, v in batch.inputs.items()},
                       masks={k: v[:, :6] for k, v in batch.masks.items()}, target=batch.target)
    return task, specs, cut
