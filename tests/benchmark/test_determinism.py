"""`trainer.deterministic`: None (default) is True on the CPU and "warn" on an accelerator; the effective value
reaches Lightning's Trainer and the record; values outside true/false/warn/null are refused."""

from __future__ import annotations

import lightning as L
import pytest

import emobench.benchmark.run_cell as run_cell_module
from emobench.benchmark.cli import main
from emobench.benchmark.config import ConfigError, merge_cell
from emobench.benchmark.run_cell import effective_deterministic
from emobench.benchmark.store import cells_dir, load_records


def test_default_is_true_on_cpu_and_warn_on_accelerators():
    assert effective_deterministic(None, "cpu") is True
    assert effective_deterministic(None, "gpu") == "warn" and effective_deterministic(None, "cuda") == "warn"
    assert effective_deterministic(False, "cpu") is False and effective_deterministic(True, "gpu") is True


@pytest.mark.parametrize(("setting", "expected"), [(None, True), (False, False), ("warn", "warn")])
def test_the_setting_reaches_the_trainer_and_the_record(setting, expected, tiny_overrides, tmp_path, monkeypatch):
    seen = []

    class SpyTrainer(L.Trainer):
        def __init__(self, *args, **kwargs):
            seen.append(kwargs["deterministic"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(run_cell_module.L, "Trainer", SpyTrainer)
    extra = [] if setting is None else [f"trainer.deterministic={str(setting).lower()}"]
    assert main(["run", "model=prior", "dataset=synthetic-mosei", *tiny_overrides, *extra]) == 0
    (record,) = load_records(cells_dir(tmp_path / "out", "single"))
    assert seen == [expected] and record["deterministic"] == expected


def test_other_values_are_refused():
    with pytest.raises(ConfigError, match="trainer.deterministic=maybe"):
        merge_cell({"model": "prior", "dataset": "synthetic-mosei", "trainer": {"deterministic": "maybe"}})
