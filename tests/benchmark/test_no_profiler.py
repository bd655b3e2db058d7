"""The runner's Trainer profiles nothing, as Lightning's default does, without building a generator per hook call."""

from __future__ import annotations

from lightning.pytorch.profilers import Profiler

from emobench.benchmark.config import from_cli, merge_cell
from emobench.benchmark.no_profiler import NoProfiler
from emobench.benchmark.run_cell import build, make_trainer


def test_profile_yields_the_action_name_and_records_nothing():
    profiler = NoProfiler()
    with profiler.profile("[Callback]Early.on_train_end") as name:
        assert name == "[Callback]Early.on_train_end"
    assert profiler.summary() == ""


def test_the_runner_fit_never_enters_lightnings_profiling_generator(tmp_path, monkeypatch):
    entered = []
    original = Profiler.profile

    def counted(self, action_name):
        entered.append(action_name)
        return original(self, action_name)

    monkeypatch.setattr(Profiler, "profile", counted)
    cfg = merge_cell(from_cli(["model=prior", "dataset=synthetic-mosei", "trainer.max_epochs=1",
                               "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                               f"output={tmp_path}", "wandb.mode=disabled"]))
    datamodule, model = build(cfg)
    trainer, _, _ = make_trainer(cfg, model, tmp_path, tmp_path / "attempt", {})
    trainer.fit(model, datamodule=datamodule)
    assert isinstance(trainer.profiler, NoProfiler)
    assert trainer.global_step == 2 and entered == []
