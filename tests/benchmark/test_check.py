"""`emobench check`: passes for built-in and example code, fails with the broken check named for deliberately
broken user modules written to tmp_path, exits 2 on usage errors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from emobench.benchmark.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gated_fusion.py"
SMALL_TWIN = ["data_args.num_samples=120", "data_args.seq_len=4"]


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    """Rows on one line each (registries and user modules are reset by tests/conftest.py)."""
    monkeypatch.setenv("COLUMNS", "400")


def check(args: list[str], capsys) -> tuple[int, str, set[str]]:
    """(exit code, output, names of the failed checks from the summary line)."""
    code = main(["check", *args])
    out = capsys.readouterr().out
    summary = re.search(r"checks FAILED: (.*)", out)
    return code, out, set(summary.group(1).strip().split("; ")) if summary else set()


def status_of(out: str, name: str) -> str:
    match = re.search(rf"│ {re.escape(name)}\s*│ (pass|FAIL|skip)", out)
    assert match, f"no row {name!r} in\n{out}"
    return match.group(1)


def user_module(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return f"imports=[{path}]"


@pytest.mark.parametrize("args", [["model=early_fusion"], ["model=gated_fusion", f"imports=[{EXAMPLE}]"],
                                  ["dataset=synthetic-deap", *SMALL_TWIN]], ids=["early_fusion", "example", "twin"])
def test_built_in_and_example_code_passes(args, capsys):
    code, out, failed = check(args, capsys)
    assert (code, failed) == (0, set())
    assert re.search(r"all \d+ checks passed", out)
    if "imports" in args[-1]:
        assert "registered model gated_fusion" in out
    for name in ("gradients reach every parameter", "masks honoured") if "dataset" not in args[0] else (
            "describe() agrees with read()", "folds disjoint", "loader batches match specs"):
        assert status_of(out, name) == "pass"


def test_model_args_and_compact_defaults_reach_the_model(capsys):
    code, out, _ = check(["model=mult", "model_args.d_model=8"], capsys)
    assert code == 0
    assert "'d_model': 8" in out and "'memory_layers': 2" in out  # the override and experiments/models/mult.yaml


MODEL_HEADER = """
    import torch
    from torch import nn

    from emobench.models import EmotionModel, ModelOutput
    from emobench.models.layers import masked_mean

"""

BROKEN_MODELS = {
    "ignores_a_modality": ("""
    class FirstOnly(EmotionModel, name="first_only"):
        def __init__(self, task, modalities, label_stats=None, hidden: int = 8, **kwargs):
            super().__init__(task, modalities, label_stats, **kwargs)
            self.project = nn.ModuleDict({m.name: nn.Linear(m.dim, hidden) for m in modalities})
            self.head = nn.Linear(hidden, task.num_labels)

        def forward(self, batch):
            first = self.modalities[0].name  # the other projections never see a gradient
            return ModelOutput(self.head(self.project[first](masked_mean(batch.inputs[first], batch.masks[first]))))
    """, "first_only", {"gradients reach every parameter"}, "no gradient: project.audio.weight"),
    "ignores_masks": ("""
    class MeanOverAll(EmotionModel, name="mean_over_all"):
        def __init__(self, task, modalities, label_stats=None, **kwargs):
            super().__init__(task, modalities, label_stats, **kwargs)
            self.head = nn.Linear(sum(m.dim for m in modalities), task.num_labels)

        def forward(self, batch):  # mean over every step, padding included
            return ModelOutput(self.head(torch.cat([batch.inputs[m.name].mean(1) for m in self.modalities], -1)))
    """, "mean_over_all", {"masks honoured", "padding length ignored"}, "padded steps (mask False)"),
    "wrong_shape": ("""
    class OneTooMany(EmotionModel, name="one_too_many"):
        def __init__(self, task, modalities, label_stats=None, **kwargs):
            super().__init__(task, modalities, label_stats, **kwargs)
            self.head = nn.Linear(modalities[0].dim, task.num_labels + 1)

        def forward(self, batch):
            m = self.modalities[0].name
            return ModelOutput(self.head(masked_mean(batch.inputs[m], batch.masks[m])))
    """, "one_too_many", {"logits shape (B, L)"}, "got (4, 5), expected (4, 4)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MODELS))
def test_broken_user_model_fails_naming_the_check(case, tmp_path, capsys):
    body, name, expected, detail = BROKEN_MODELS[case]
    code, out, failed = check([f"model={name}", user_module(tmp_path, case, MODEL_HEADER + body)], capsys)
    assert code == 1
    assert failed == expected
    for check_name in expected:
        assert status_of(out, check_name) == "FAIL"
    assert detail in out
    assert status_of(out, "builds") == "pass"


DATA_HEADER = """
    import numpy as np

    from emobench.datamodules import DatasetArrays, EmotionDataModule, ModalitySpec, TaskSpec


    class Toy(EmotionDataModule):
        '''60 samples of one variable-length audio stream, 10 speakers, 3 classes.'''

        default_protocol = "group-kfold"
        declared_dim = 3

        def __init__(self, num_samples: int = 60, **kwargs):
            super().__init__(**kwargs)
            self.num_samples = num_samples

        def describe(self):
            return TaskSpec("multiclass", ("a", "b", "c")), (ModalitySpec("audio", self.declared_dim, 4, "audio"),)

        def read(self):
            rng = np.random.default_rng(0)
            n = self.num_samples
            mask = np.arange(4) < rng.integers(1, 5, n)[:, None]
            x = (rng.normal(size=(n, 4, 3)) * mask[..., None]).astype(np.float32)
            return DatasetArrays({"audio": x}, {"audio": mask}, rng.integers(0, 3, n), groups=np.arange(n) % 10)

"""

DATASETS = {
    "good": ("""
    class GoodToy(Toy, name="good-toy"):
        pass
    """, "good-toy", set(), ""),
    "leaky_folds": ("""
    class LeakyToy(Toy, name="leaky-toy"):
        def setup(self, stage=None):  # a custom split that moves one row of a test speaker into training
            first = not self._splits
            super().setup(stage)
            if first:
                test = self._splits["test"]
                self._splits["train"], self._splits["test"] = np.union1d(self._splits["train"], test[:1]), test[1:]
    """, "leaky-toy", {"folds disjoint"}, "also in train"),
    "split_trial": ("""
    class SplitTrialToy(Toy, name="split-trial-toy"):
        default_protocol = "kfold"

        def read(self):  # rows are segments of trials (two per trial)
            arrays = super().read()
            arrays.trials = np.arange(len(arrays)) // 2
            return arrays

        def setup(self, stage=None):  # moves one row of a test trial into training (its other row stays in test)
            first = not self._splits
            super().setup(stage)
            if first:
                test = self._splits["test"]
                self._splits["train"], self._splits["test"] = np.union1d(self._splits["train"], test[:1]), test[1:]
    """, "split-trial-toy", {"folds disjoint"}, "test trial(s)"),
    "describe_disagrees": ("""
    class WrongDimToy(Toy, name="wrong-dim-toy"):
        declared_dim = 8
    """, "wrong-dim-toy", {"describe() agrees with read()"}, "expected (60, 4, 8)"),
}


@pytest.mark.parametrize("case", sorted(DATASETS))
def test_user_dataset_fails_naming_the_check(case, tmp_path, capsys):
    body, name, expected, detail = DATASETS[case]
    code, out, failed = check([f"dataset={name}", user_module(tmp_path, case, DATA_HEADER + body)], capsys)
    assert failed == expected
    assert code == (1 if expected else 0)
    for check_name in expected:
        assert status_of(out, check_name) == "FAIL"
    assert detail in out
    assert status_of(out, "builds") == "pass"


@pytest.mark.parametrize(("body", "message"), [("raise RuntimeError('boom')", "RuntimeError: boom"),
                                              ("import no_such_dependency", "No module named 'no_such_dependency'")])
def test_error_inside_a_user_module_is_a_failed_row(body, message, tmp_path, capsys):
    code, out, failed = check(["model=early_fusion", user_module(tmp_path, "raises", body)], capsys)
    assert code == 1 and len(failed) == 1 and next(iter(failed)).startswith("imports ")
    assert message in out and "raises.py:1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model=early_fusoin"], "Did you mean 'early_fusion'"),
        (["dataset=synthetic-mose"], "Known datasets"),
        (["model=early_fusion", "model_args.hiden=2"], "hiden"),
        (["dataset=synthetic-deap", "data_args.fold=2"], "fold"),
        (["model=early_fusion", "seed=1"], "unknown key(s) ['seed']"),
        (["imports=[nowhere.py]", "model=x"], "no such Python file"),
        (["imports=[no_such_package.module]", "model=x"], "cannot import"),
        (["model_args.hidden=2"], "give model=<name> or dataset=<name>"),
    ],
)
def test_usage_errors_exit_2(args, message, capsys):
    code, out, _ = check(args, capsys)
    assert code == 2
    assert message in out.replace("\n", "")
