"""Cell identity: resolved arguments and code in, locations out; records carry the code hash; `emobench table`
flags records made by other code."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from emobench.benchmark import grid
from emobench.benchmark.cli import main
from emobench.benchmark.config import merge_cell
from emobench.benchmark.identity import cell_id, cell_identity, resolved_arguments, source_modules
from emobench.benchmark.store import cells_dir, load_records
from emobench.datamodules import DATAMODULES
from emobench.models import MODELS

MODEL_SOURCE = '''
import torch
from emobench.models import EmotionModel, ModelOutput
from emobench.models.layers import masked_mean


class IdentityProbe(EmotionModel, name="identity_probe"):
    def __init__(self, task, modalities, label_stats=None, hidden: int = {hidden}, **kwargs):
        super().__init__(task, modalities, label_stats, **kwargs)
        self.heads = torch.nn.ModuleDict({{m.name: torch.nn.Linear(m.dim, task.num_labels) for m in modalities}})

    def forward(self, batch):
        logits = sum(self.heads[m.name](masked_mean(batch.inputs[m.name], batch.masks[m.name]))
                     for m in self.modalities)
        return ModelOutput(logits=logits)
'''


def write_model(folder: Path, hidden: int = 8, comment: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "identity_probe.py"
    path.write_text(MODEL_SOURCE.format(hidden=hidden) + comment)
    return path


def cfg(**extra):
    return merge_cell({"model": "early_fusion", "dataset": "synthetic-mosei", **extra})


def test_locations_and_presentation_stay_out_of_the_id(tmp_path):
    base = cell_id(cfg())
    moved = cfg(output=str(tmp_path / "elsewhere"), sweep="other", wandb={"mode": "disabled"},
                data_args={"root": str(tmp_path / "data"), "cache_dir": str(tmp_path / "c"), "num_workers": 3},
                trainer={"progress_bar": False, "num_threads": 7})
    assert cell_id(moved) == base


def test_what_changes_numbers_changes_the_id():
    base = cell_id(cfg())
    for changed in (cfg(seed=1), cfg(fold=1), cfg(model_args={"lr": 0.5}), cfg(data_args={"batch_size": 7}),
                    cfg(trainer={"max_epochs": 2}), cfg(model="prior"), cfg(dataset="synthetic-deap")):
        assert cell_id(changed) != base


def test_defaults_are_resolved_so_spelling_a_default_out_changes_nothing():
    ident = cell_identity(cfg())
    assert ident["model_args"]["lr"] == 1e-3 and "hidden" in ident["model_args"]
    assert ident["data_args"]["seq_len"] == 32 and "root" not in ident["data_args"]
    assert cell_id(cfg(model_args={"lr": 1e-3})) == cell_id(cfg())


def test_resolved_arguments_take_the_most_derived_default():
    class Base:
        def __init__(self, a: int = 1, b: int = 2) -> None: ...

    class Child(Base):
        def __init__(self, a: int = 10, **kwargs) -> None: ...

    assert resolved_arguments(Child, {}) == {"a": 10, "b": 2}
    assert resolved_arguments(Child, {"b": 3}, leave_out={"a"}) == {"b": 3}


def test_code_hash_covers_the_method_its_bases_and_metrics_but_not_other_methods():
    names = {m.__name__ for m in source_modules([MODELS.get("tailor"), DATAMODULES.get("synthetic-mosei")])}
    assert {"emobench.models.tailor", "emobench.models.base", "emobench.models.layers.bert",
            "emobench.metrics.micro_f1", "emobench.datamodules.base", "emobench.datamodules.synthetic.latent"} <= names
    assert "emobench.models.carat" not in names and "emobench.datamodules.mosei" not in names


def test_a_user_module_edit_or_default_change_gives_a_new_id_a_move_does_not(tmp_path):
    path = write_model(tmp_path / "a")
    config = lambda p: cfg(model="identity_probe", imports=[str(p)])  # noqa: E731
    first = cell_id(config(path))
    assert cell_id(config(path)) == first
    write_model(tmp_path / "a", comment="\n# a comment is a source change too\n")
    edited = cell_id(config(path))
    assert edited != first
    write_model(tmp_path / "a", hidden=16)
    assert cell_id(config(path)) not in (first, edited)
    moved = write_model(tmp_path / "b", hidden=16)  # same file content elsewhere: same id
    assert cell_id(config(moved)) == cell_id(config(path))


def test_sweep_reruns_after_a_source_edit_and_table_flags_stale_records(tmp_path, capsys):
    path = write_model(tmp_path / "m")
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(yaml.safe_dump({
        "name": "s", "models": ["identity_probe"], "datasets": ["synthetic-mosei"], "seeds": [0], "folds": [0],
        "defaults": {"imports": [str(path)], "trainer": {"max_epochs": 1},
                     "data_args": {"num_samples": 120, "seq_len": 4, "batch_size": 32}}}))
    out = tmp_path / "out"
    args = ["sweep", str(sweep_file), "--output", str(out), "--wandb", "disabled", "--quiet", "--no-leaderboard"]
    assert main(args) == 0
    first = load_records(cells_dir(out, "s"))
    assert len(first) == 1 and first[0]["code_hash"] == first[0]["identity"]["code"]
    _, cells = grid.load_grid(sweep_file)
    assert [c.cell_id for c in cells] == [first[0]["cell_id"]]  # the record is found again: nothing to rerun

    write_model(tmp_path / "m", comment="\n# edited\n")
    _, cells = grid.load_grid(sweep_file)
    assert cells[0].cell_id != first[0]["cell_id"]  # the edit reruns the cell
    capsys.readouterr()
    assert main(["table", str(out / "s"), "--wandb", "disabled"]) == 0
    text = (out / "s" / "leaderboard" / "synthetic-mosei.md").read_text()
    assert "Stale: records of identity_probe (1)" in text


def test_table_checks_user_records_only_when_their_modules_are_imported(tmp_path):
    from emobench.benchmark.leaderboard import code_status

    path = write_model(tmp_path / "m")
    record = {"config": {"model": "identity_probe", "dataset": "synthetic-mosei", "imports": [str(tmp_path / "x.py")]},
              "code_hash": "0" * 12}
    assert code_status(record, {}) == "unchecked"  # never imported: nothing is run to check it
    assert not (tmp_path / "x.py").exists()
    ident = cell_identity(cfg(model="identity_probe", imports=[str(path)]))
    record = {"config": {"model": "identity_probe", "dataset": "synthetic-mosei", "imports": [str(path)]},
              "code_hash": ident["code"]}
    assert code_status(record, {}) == "current"
    assert code_status({**record, "code_hash": "f" * 12}, {}) == "stale"
    assert code_status({"config": record["config"]}, {}) == "stale"  # records from before code hashing


def test_records_store_identity_as_plain_json(tmp_path, tiny_overrides):
    assert main(["run", "model=prior", "dataset=synthetic-mosei", *tiny_overrides]) == 0
    (record,) = load_records(cells_dir(tmp_path / "out", "single"))
    json.dumps(record["identity"])
    assert record["identity"]["model_args"]["lr"] == 1e-3 and len(record["code_hash"]) == 12
    assert record["cell_id"] == cell_id(merge_cell(record["config"]))
