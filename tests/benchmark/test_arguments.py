"""Options checked before anything is built: model_args / data_args against the class signatures (keys and
annotated types), trainer values against their ranges, and every bad option of a sweep in one error at start."""

from __future__ import annotations

import collections.abc
import typing
from pathlib import Path

import pytest
import yaml

import emobench.benchmark.run_cell as run_cell_module
from emobench.benchmark import grid
from emobench.benchmark.arguments import argument_problems, conforms, parameter_annotations
from emobench.benchmark.cli import main
from emobench.benchmark.config import ConfigError, from_cli, merge_cell

if typing.TYPE_CHECKING:
    from decimal import Decimal  # resolvable by type checkers only: the runtime check must accept anything


class _Base:
    def __init__(self, lr: float = 1e-3, names: list[str] | None = None, **kwargs) -> None:
        pass


class _Options(_Base):
    """Annotations as strings (this module has `from __future__ import annotations`)."""

    def __init__(self, hidden: int = 8, flag: bool = True, ratio: float = 0.5, size: int | None = None,
                 shape: tuple[int, int] = (1, 2), order: collections.abc.Sequence[str] | None = None,
                 weights: dict[str, float] | None = None, sizes: int | collections.abc.Mapping[str, int] = 1,
                 mode: typing.Literal["a", "b"] = "a", anything: typing.Any = None, untyped=3,
                 later: Decimal = None, seq_len: int = None, **kwargs) -> None:
        super().__init__(**kwargs)


ACCEPTED = {"hidden", "flag", "ratio", "size", "shape", "order", "weights", "sizes", "mode", "anything", "untyped",
            "later", "seq_len", "lr", "names"}


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("hidden", 3, True), ("hidden", "abc", False), ("hidden", True, False), ("hidden", 3.0, False),
        ("hidden", None, False),
        ("flag", False, True), ("flag", 1, False), ("flag", "yes", False),
        ("ratio", 1, True), ("ratio", 0.5, True), ("ratio", True, False), ("ratio", "0.5", False),
        ("size", None, True), ("size", 4, True), ("size", 4.5, False),
        ("shape", [3, 4], True), ("shape", [3], False), ("shape", [3, "4"], False),
        ("order", ["text", "audio"], True), ("order", "text", False), ("order", [1], False), ("order", None, True),
        ("weights", {"ctc": 0.5, "nce": 1}, True), ("weights", {"ctc": "high"}, False), ("weights", [0.5], False),
        ("sizes", 2, True), ("sizes", {"text": 3}, True), ("sizes", {"text": 3.5}, False), ("sizes", None, False),
        ("mode", "b", True), ("mode", "c", False),
        ("anything", object(), True), ("untyped", "x", True), ("later", [1], True),
        ("seq_len", None, True),  # None default: None is accepted whatever the annotation says
        ("lr", 1, True), ("lr", "fast", False),  # a parent's annotation applies to what **kwargs passes on
        ("names", ["a"], True), ("names", "a", False),
    ],
)
def test_values_are_checked_against_the_resolved_annotations(key, value, ok):
    problems = argument_problems("model_args", _Options, {key: value}, ACCEPTED)
    assert (problems == []) == ok, problems


def test_annotations_are_resolved_from_strings_and_the_nearest_class_wins():
    found = parameter_annotations(_Options)
    assert found["hidden"] == (int, 8) and found["lr"] == (float, 1e-3)
    assert found["later"][0] is typing.Any  # TYPE_CHECKING-only name: no opinion
    assert found["untyped"] == (typing.Any, 3)
    assert not conforms("x", collections.abc.Sequence[str])


def test_a_type_problem_names_key_expected_type_and_value():
    problems = argument_problems("model_args", _Options, {"hidden": "abc", "hiden": 2}, ACCEPTED)
    assert problems == [("hiden", "unknown key"), ("hidden", "expected int, got 'abc' (str)")]


# ---- emobench run ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model_args.hidden=abc", ["<model_args.hidden>", "expected int", "'abc'"]),
        ("model_args.dropout=[0.1]", ["<model_args.dropout>", "expected float", "[0.1]"]),
        ("data_args.batch_size=big", ["<data_args.batch_size>", "expected int", "'big'", "synthetic-mosei"]),
        ("data_args.normalize=3", ["<data_args.normalize>", "expected bool", "3 (int)"]),
    ],
)
def test_run_refuses_a_mistyped_option_before_building(override, expected, tiny_overrides, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")
    monkeypatch.setattr(run_cell_module, "run_cell", lambda cfg: pytest.fail("run_cell was called"))
    assert main(["run", "model=early_fusion", "dataset=synthetic-mosei", *tiny_overrides, override]) == 2
    out = capsys.readouterr().out
    for text in expected:
        assert text in out
    assert "Traceback" not in out and not (tmp_path / "out").exists()


# ---- trainer ranges ----------------------------------------------------------------------------------------------
BASE = ["model=prior", "dataset=synthetic-mosei"]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.max_epochs=-5", "trainer.max_epochs=-5"), ("trainer.max_epochs=0", "trainer.max_epochs=0"),
        ("trainer.patience=-1", "trainer.patience=-1"), ("trainer.min_epochs=-1", "trainer.min_epochs=-1"),
        ("trainer.min_epochs=40", "trainer.min_epochs=40"),  # more than max_epochs (30)
        ("trainer.limit_train_batches=0", "trainer.limit_train_batches=0"),
        ("trainer.limit_val_batches=-0.5", "trainer.limit_val_batches=-0.5"),
        ("trainer.limit_test_batches=2.5", "trainer.limit_test_batches=2.5"),
        ("trainer.gradient_clip_val=-1", "trainer.gradient_clip_val=-1"),
        ("trainer.gradient_clip_val=nan", "trainer.gradient_clip_val=nan"),
        ("trainer.num_threads=-2", "trainer.num_threads=-2"),
        ("trainer.stop_on=val_loss", "trainer.stop_on=val_loss"),
    ],
)
def test_trainer_values_out_of_range_are_refused(override, key):
    with pytest.raises(ConfigError, match="Make sure") as err:
        merge_cell(from_cli([*BASE, override]))
    assert key in str(err.value)


@pytest.mark.parametrize("override", ["trainer.limit_train_batches=1", "trainer.limit_train_batches=0.25",
                                      "trainer.limit_train_batches=3", "trainer.max_epochs=-1",
                                      "trainer.min_epochs=0", "trainer.patience=0", "trainer.gradient_clip_val=0.5",
                                      "trainer.stop_on=task_loss", "trainer.stop_on=primary"])
def test_trainer_values_in_range_are_accepted(override):
    merge_cell(from_cli([*BASE, override]))


def test_run_with_negative_epochs_exits_2(tiny_overrides, capsys):
    assert main(["run", *BASE, *tiny_overrides, "trainer.max_epochs=-5"]) == 2
    assert "trainer.max_epochs=-5" in capsys.readouterr().out.replace("\n", "")


# ---- sweeps: every bad option at start -------------------------------------------------------------------------
def _sweep(tmp_path: Path, **fields) -> Path:
    data = {"name": "t", "seeds": [0, 1], "folds": "all", "models": ["mult", "prior"],
            "datasets": ["synthetic-mosei", "synthetic-deap"],
            "defaults": {"trainer": {"max_epochs": 1}, "data_args": {"num_samples": 200, "seq_len": 8}}, **fields}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_sweep_lists_every_bad_option_with_its_entry_before_running(tmp_path, capsys, monkeypatch):
    path = _sweep(tmp_path, model_overrides={"mult": {"model_args": {"hiddden": 3}},
                                             "prior": {"model_args": {"threshold": "high"}}},
                  dataset_overrides={"synthetic-deap": {"data_args": {"num_sampels": 10}}})
    with pytest.raises(ConfigError) as err:
        grid.load_grid(path, ["data_args.batch_size=big"])
    message = " ".join(str(err.value).split())
    assert str(path) in message and "4 option(s)" in message
    assert ("<model_args.hiddden> set in model_overrides.mult, for model(s) mult on dataset(s) synthetic-deap, "
            "synthetic-mosei: unknown key (MulT accepts [") in message
    assert ("<model_args.threshold> set in model_overrides.prior, for model(s) prior on dataset(s) synthetic-deap, "
            "synthetic-mosei: expected float, got 'high' (str)") in message
    assert ("<data_args.num_sampels> set in dataset_overrides.synthetic-deap, for model(s) mult, prior on dataset(s) "
            "synthetic-deap: unknown key") in message
    assert ("<data_args.batch_size> set in command line, for model(s) mult, prior on dataset(s) synthetic-deap, "
            "synthetic-mosei: expected int, got 'big' (str)") in message

    monkeypatch.setattr(run_cell_module, "run_cell", lambda cfg: pytest.fail("a cell ran"))
    assert main(["sweep", str(path), "--output", str(tmp_path / "out"), "--wandb", "disabled", "--quiet"]) == 2
    assert "hiddden" in capsys.readouterr().out and not (tmp_path / "out").exists()


def test_sweep_option_check_follows_model_defaults_false(tmp_path):
    """With `model_defaults: false` the group defaults (experiments/models/*.yaml) are not applied, nor checked;
    a sweep's own keys still are."""
    path = _sweep(tmp_path, models=["mult"], datasets=["synthetic-mosei"], model_defaults=False,
                  defaults={"model_args": {"d_model": 10}})
    _, cells = grid.load_grid(path)
    assert cells and all(c.config["model_args"] == {"d_model": 10} for c in cells)
    with pytest.raises(ConfigError, match=r"<model_args.d_model> set in command line.*expected int, got 2.5"):
        grid.load_grid(path, ["model_args.d_model=2.5"])


@pytest.mark.parametrize(("stop_on", "monitor"), [("primary", ("val/micro_f1", "max")),
                                                  ("task_loss", ("val/task_loss", "min"))])
def test_stop_on_chooses_what_early_stopping_watches_and_the_checkpoint_stays_on_primary(stop_on, monitor, tmp_path):
    from emobench.benchmark.run_cell import build, make_trainer

    cfg = merge_cell(from_cli([*BASE, f"trainer.stop_on={stop_on}", f"output={tmp_path}", "wandb.mode=disabled"]))
    _, model = build(cfg)
    trainer, checkpoint, _ = make_trainer(cfg, model, tmp_path, tmp_path / "attempt", {})
    stopping = [c for c in trainer.callbacks if type(c).__name__ == "EarlyStopping"]
    assert [(c.monitor, c.mode) for c in stopping] == [monitor]
    assert (checkpoint.monitor, checkpoint.mode) == ("val/micro_f1", "max")
