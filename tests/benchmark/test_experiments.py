"""Every YAML under experiments/ validates: sweeps against `SweepConfig`, models/*.yaml and datasets/*.yaml through
`group_defaults` and the class signatures; the runnable sweeps run end to end on twins (shrunk, as the template's
test_experiments runs each experiment with fast_dev_run)."""

from __future__ import annotations

import pytest

from emobench.benchmark import grid
from emobench.benchmark.cli import main
from emobench.benchmark.config import EXPERIMENTS, ConfigError, group_defaults, load_yaml
from emobench.benchmark.store import cells_dir, load_records
from emobench.datamodules import DATAMODULES
from emobench.datamodules.registry import init_parameter_names
from emobench.models import MODELS
from tests.fixtures.deap_files import write_deap
from tests.fixtures.dreamer_files import write_dreamer

SWEEPS = sorted(EXPERIMENTS.glob("*.yaml"))
MODEL_FILES = sorted((EXPERIMENTS / "models").glob("*.yaml"))
DATASET_FILES = sorted((EXPERIMENTS / "datasets").glob("*.yaml"))
SHRINK = ["seeds=[0]", "trainer.max_epochs=1", "trainer.min_epochs=1", "data_args.num_samples=200", "data_args.seq_len=8",
          "data_args.batch_size=32"]


def test_the_three_sweeps_exist():
    assert {p.stem for p in SWEEPS} >= {"default", "smoke", "paper"}


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_sweep_file_validates_and_says_how_to_run_it(path):
    assert path.read_text().startswith("#") and "emobench sweep" in path.read_text().split("\nname:")[0]
    cfg = grid.load_sweep_config(path)
    assert cfg.name == path.stem


@pytest.mark.parametrize("path", [p for p in SWEEPS if p.stem != "paper"], ids=lambda p: p.name)
def test_sweep_expands_on_registered_names(path):
    cfg, cells = grid.load_grid(path)
    assert cells and len({c.cell_id for c in cells}) == len(cells)
    assert all(c.config["sweep"] == cfg.name for c in cells)


def test_default_sweep_covers_every_model_twin_and_3_seeds():
    from emobench.datamodules.synthetic.twin import SyntheticTwin

    _, cells = grid.load_grid("default")
    twins = {n for n in DATAMODULES.names() if issubclass(DATAMODULES.get(n), SyntheticTwin)}
    assert {c.model for c in cells} == set(MODELS.names())
    assert {c.dataset for c in cells} == twins and len(twins) == 6
    assert {c.seed for c in cells} == {0, 1, 2}


PAPER_DATASETS = ["mosei", "m3ed", "iemocap", "deap", "dreamer", "wesad"]


def test_paper_sweep_names_missing_readers_clearly():
    """A dataset of the paper sweep whose reader is not registered stops the sweep at start, naming each one."""
    missing = [d for d in PAPER_DATASETS if d not in DATAMODULES]
    if not missing:
        assert grid.load_grid("paper", ["folds=[0]"])[1]
        return
    with pytest.raises(ConfigError) as err:
        grid.load_grid("paper")
    for name in missing:
        assert f"dataset {name}" in str(err.value)
    present = [d for d in PAPER_DATASETS if d in DATAMODULES]
    assert all(f"dataset {name};" not in str(err.value) for name in present)


def test_paper_sweep_runs_each_method_with_its_official_protocol():
    """On the registered real datasets: 5 seeds, official sizes (no compact YAML), thresholds and optimisers."""
    present = [d for d in ["mosei", "mosei-unaligned", "m3ed"] if d.split("-")[0] in DATAMODULES]
    cfg, cells = grid.load_grid("paper", [f"datasets=[{','.join(present)}]", "folds=[0]"])
    assert {c.seed for c in cells} == {0, 1, 2, 3, 4} and {c.dataset for c in cells} == set(present)
    unaligned = [c for c in cells if c.dataset == "mosei-unaligned"]
    assert unaligned and all(c.config["data_args"]["aligned"] is False for c in unaligned)
    official = {"tailor": {"threshold": 0.35, "optimizer": "bertadam"},
                "carat": {"threshold": 0.25, "optimizer": "bertadam"},
                "mult": {"optimizer": "adam", "schedule": "plateau"}}
    epochs = {"mult": 40, "foalnet": 40, "helo": 100}  # MulT / Foal-Net official; HeLo's guessed recipe; else 20
    clip = {"mult": 0.8, "foalnet": 0.0}  # MulT --clip 0.8, Foal-Net none; TAILOR and CARAT 1.0
    for cell in cells:
        assert cell.config["model_args"] == official.get(cell.model, {}), cell.model
        assert cell.config["trainer"]["max_epochs"] == epochs.get(cell.model, 20)
        assert cell.config["trainer"]["accelerator"] == "auto"
        assert cell.config["trainer"]["gradient_clip_val"] == clip.get(cell.model, 1.0)
        assert cell.config["data_args"].get("drop_last", False) is (cell.model in ("tailor", "carat"))
    foalnet = [c for c in cells if c.model == "foalnet"]
    assert foalnet and all(c.config["data_args"]["class_balanced"] and c.config["data_args"]["batch_size"] == 16
                           for c in foalnet)


def test_paper_sweep_runs_deap_and_dreamer_leave_one_subject_out_on_distributions(tmp_path):
    """Every fold of DEAP and DREAMER is one held-out subject; the fold count comes from the files on disk."""
    write_deap(tmp_path / "deap")
    write_dreamer(tmp_path / "dreamer", subjects=2, trials=2)
    overrides = ["datasets=[deap,dreamer]", "seeds=[0]",
                 f"dataset_overrides.deap.data_args.root={tmp_path / 'deap'}",
                 f"dataset_overrides.dreamer.data_args.root={tmp_path / 'dreamer'}"]
    _, cells = grid.load_grid("paper", overrides)
    assert sorted({(c.dataset, c.fold) for c in cells}) == [("deap", 0), ("deap", 1), ("deap", 2), ("dreamer", 0),
                                                            ("dreamer", 1)]
    for cell in cells:
        assert cell.config["data_args"]["protocol"] == "loso"
        assert cell.config["data_args"]["target"] == "distribution"


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.name)
def test_model_defaults_file_names_only_signature_keys(path):
    data = group_defaults("models", path.stem)
    assert "citation" in load_yaml(path), "a method YAML names its citation"
    cls = MODELS.get(path.stem)
    unknown = set(data.get("model_args", {})) - cls.hyperparameter_names()
    assert not unknown, f"{path}: model_args {sorted(unknown)} are not parameters of {cls.__name__}"


def unknown_data_args(dataset: str) -> set[str]:
    """The `data_args` keys of `experiments/datasets/<dataset>.yaml` that the dataset's class does not accept."""
    data = group_defaults("datasets", dataset)
    return set(data.get("data_args", {})) - init_parameter_names(DATAMODULES.get(dataset))


def test_dataset_defaults_files_name_only_signature_keys():
    """Every shipped file (none yet; test_dataset_defaults.py shows this check catching a misspelt key)."""
    unknown = {path.name: unknown_data_args(path.stem) for path in DATASET_FILES}
    assert {name: keys for name, keys in unknown.items() if keys} == {}


def test_smoke_sweep_runs_end_to_end(tmp_path):
    out = tmp_path / "out"
    assert main(["sweep", "smoke", "--output", str(out), "--wandb", "disabled", "--quiet"]) == 0
    found = load_records(cells_dir(out, "smoke"))
    assert len(found) == len(grid.load_grid("smoke")[1]) and all(r["status"] == "ok" for r in found)
    assert any((out / "smoke" / "leaderboard").iterdir())


def test_default_sweep_runs_shrunk(tmp_path):
    out = tmp_path / "out"
    code = main(["sweep", "default", "models=[prior]", *SHRINK, "--output", str(out), "--wandb", "disabled",
                 "--quiet", "--no-leaderboard"])
    assert code == 0
    assert len(load_records(cells_dir(out, "default"))) == 6  # one per twin, synthetic-wesad included


def test_paper_sweep_narrows_to_one_method_on_the_command_line():
    """`models: all` in the file declares every method, so `models=[foalnet]` keeps the other methods' overrides
    legal (they name entries of the file); a misspelt override is still refused."""
    cfg, cells = grid.load_grid("paper", ["models=[foalnet]", "datasets=[mosei]", "folds=[0]"])
    assert {c.model for c in cells} == {"foalnet"} and cells[0].config["trainer"]["max_epochs"] == 40
    with pytest.raises(ConfigError, match="model_overrides.foalnt"):
        grid.load_grid("paper", ["models=[foalnet]", "datasets=[mosei]", "folds=[0]",
                                 "model_overrides.foalnt.trainer.max_epochs=1"])
