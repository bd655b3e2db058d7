"""The dataset example (`examples/npy_dataset.py`) works from outside the package: listed, run, swept with the
smoke sweep (whose twin-only options stay on the twins), and its missing files are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emobench.benchmark.cli import main
from emobench.benchmark.store import cells_dir, load_records

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "npy_dataset.py"


@pytest.fixture
def npy_root(tmp_path) -> Path:
    """60 rows of 6 subjects; the 'happy' label depends on the EEG so that a model has something to learn."""
    rng = np.random.default_rng(0)
    n = 60
    root = tmp_path / "my-data"
    root.mkdir()
    eeg = rng.normal(size=(n, 16, 8))
    happy = (eeg[:, :, 0].mean(axis=1) > 0).astype(int)
    pd.DataFrame({"id": [f"r{i}" for i in range(n)], "subject": np.arange(n) % 6, "calm": 1 - happy,
                  "happy": happy, "sad": rng.integers(0, 2, n)}).to_csv(root / "labels.csv", index=False)
    np.save(root / "eeg.npy", eeg)
    np.save(root / "breathing.npy", rng.normal(size=(n, 16, 1)))
    return root


def test_list_shows_user_models_and_datasets(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # one line per row
    assert main(["list", f"imports=[{EXAMPLE},{EXAMPLE.with_name('gated_fusion.py')}]"]) == 0
    out = capsys.readouterr().out
    assert "my-npy" in out and "gated_fusion" in out and "breathing respiration 1x16 (physiological)" in out


def test_run_reads_the_example_files(npy_root, tiny_overrides):
    shrink = [o for o in tiny_overrides if "num_samples" not in o and "seq_len" not in o]
    assert main(["run", "model=early_fusion", "dataset=my-npy", f"imports=[{EXAMPLE}]",
                 f"data_args.root={npy_root}", *shrink]) == 0
    (record,) = load_records(cells_dir(npy_root.parent / "out", "single"))
    assert record["status"] == "ok" and record["split_sizes"]["test"] == 20  # fold 0 of 5 over 6 subjects: 2 subjects x 10 rows


def test_smoke_sweep_runs_on_a_user_dataset(npy_root, tmp_path):
    out = tmp_path / "out"
    code = main(["sweep", "smoke", "datasets=[my-npy]", f"imports=[{EXAMPLE}]", f"data_args.root={npy_root}",
                 "seeds=[0]", "--output", str(out), "--wandb", "disabled", "--quiet", "--no-leaderboard"])
    assert code == 0
    found = load_records(cells_dir(out, "smoke"))
    assert len(found) == 2 and all(r["status"] == "ok" for r in found)
    assert all("num_samples" not in r["config"]["data_args"] for r in found)


def test_missing_file_is_named(npy_root, tmp_path, capsys):
    (npy_root / "breathing.npy").unlink()
    code = main(["run", "model=prior", "dataset=my-npy", f"imports=[{EXAMPLE}]", f"data_args.root={npy_root}",
                 f"output={tmp_path / 'out'}", "wandb.mode=disabled", "trainer.progress_bar=false"])
    assert code == 1
    assert "breathing.npy not found" in capsys.readouterr().out
