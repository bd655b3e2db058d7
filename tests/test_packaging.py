"""The wheel as a user gets it: built from this tree, installed into a fresh virtual environment, run from a folder
outside the repository. It holds every `emobench.*` package and the experiments' YAML and CSV files and no generic
top-level package, `emobench sweep smoke` runs there, and a user's own package named `models` coexists."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, ROOT], ROOT)
    (path,) = dist.glob("emobench-*.whl")
    return path


@pytest.fixture(scope="module")
def fresh_env(wheel, tmp_path_factory) -> tuple[Path, dict]:
    """A new venv with the wheel installed (no dependencies: those are this environment's, reached through a
    `.pth` line added after the install, so pip never sees or touches this environment's packages)."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], home)
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], home).stdout.strip()
    outer = [p for p in sys.path if p.endswith("site-packages")] or [sysconfig.get_paths()["purelib"]]
    Path(purelib, "zz_test_dependencies.pth").write_text("\n".join(outer) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{home / 'bin'}{os.pathsep}{env.get('PATH', '')}", WANDB_MODE="disabled")
    return home, env


def test_wheel_holds_the_emobench_packages_and_experiments_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"emobench"}
    for folder in ("benchmark", "datamodules", "datamodules/synthetic", "metrics", "models", "models/layers",
                   "models/baselines"):
        expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob("*.py")}
        assert {f"emobench/{p}" for p in expected} <= set(names), folder
    data = {p.relative_to(ROOT).as_posix() for pattern in ("*.yaml", "*.csv")
            for p in (ROOT / "experiments").rglob(pattern)}
    assert "experiments/published.csv" in data and {f"emobench/{p}" for p in data} <= set(names)
    assert not [n for n in names if "side_by_side" in n]  # the official-code comparison is not shipped


def test_smoke_sweep_runs_from_the_installed_wheel(fresh_env, tmp_path):
    home, env = fresh_env
    where = _run([home / "bin" / "python", "-c", "import emobench.models, emobench.benchmark.config as c; "
                  "print(emobench.models.__file__); print(c.EXPERIMENTS)"], tmp_path, env).stdout.split()
    assert all(Path(p).is_relative_to(home) for p in where), where
    _run([home / "bin" / "emobench", "sweep", "smoke", "--output", tmp_path / "out", "--wandb", "disabled",
          "--quiet", "--no-leaderboard", "seeds=[0]"], tmp_path, env)
    assert len(list((tmp_path / "out" / "smoke" / "cells").glob("*.json"))) == 4


def test_a_user_package_named_models_coexists(fresh_env, tmp_path):
    home, env = fresh_env
    package = tmp_path / "project" / "models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "my_model.py").write_text(textwrap.dedent('''
        import torch
        from emobench.models import EmotionModel, ModelOutput


        class Mine(EmotionModel, name="mine"):
            """A user's model in a user's package called `models`."""

            def __init__(self, task, modalities, label_stats=None, **kwargs):
                super().__init__(task, modalities, label_stats, **kwargs)
                self.bias = torch.nn.Parameter(torch.zeros(task.num_labels))

            def forward(self, batch):
                return ModelOutput(logits=self.bias.expand(len(batch), -1))
    '''))
    env = {**env, "PYTHONPATH": str(tmp_path / "project")}
    _run([home / "bin" / "emobench", "run", "model=mine", "dataset=synthetic-mosei", "imports=[models.my_model]",
          f"output={tmp_path / 'out'}", "wandb.mode=disabled", "trainer.max_epochs=1", "trainer.progress_bar=false",
          "data_args.num_samples=100", "data_args.seq_len=4"], tmp_path, env)
    assert len(list((tmp_path / "out" / "single" / "cells").glob("*.json"))) == 1
