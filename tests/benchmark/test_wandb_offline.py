"""W&B offline, as a user runs it (README "W&B"): `emobench sweep` in a fresh process with a temporary HOME and no
WANDB_* or XDG_* variables writes one offline run per cell and the leaderboard run under `<output>/<sweep>/wandb/`,
and nothing under HOME."""

from __future__ import annotations

import os
import subprocess
import sys

CELL_RUN = b"prior-synthetic-mosei-s0-f0"  # the cell's run name, stored in its .wandb file
LEADERBOARD_RUN = b"smoke-leaderboard"


def test_offline_cell_and_leaderboard_runs_land_under_the_output_folder_and_nothing_under_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "XDG_"))}
    # matplotlib keeps its font cache in ~/.cache/matplotlib unless MPLCONFIGDIR says otherwise (the user's
    # matter, not the suite's); with it pointed away, any file under HOME is one the sweep or W&B wrote.
    env.update(HOME=str(home), MPLCONFIGDIR=str(tmp_path / "mpl"), EMOBENCH_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "emobench.benchmark.cli", "sweep", "smoke", "models=[prior]", "seeds=[0]",
         "datasets=[synthetic-mosei]", "--output", str(out), "--wandb", "offline", "--quiet"],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = sorted((out / "smoke" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, runs
    contents = {run.name: b"".join(p.read_bytes() for p in run.glob("run-*.wandb")) for run in runs}
    cell = [name for name, data in contents.items() if CELL_RUN in data and b"test/micro_f1" in data]
    board = [name for name, data in contents.items() if LEADERBOARD_RUN in data]
    assert len(cell) == 1 and len(board) == 1 and cell != board
    tables = {p.name.split("_0_")[0] for p in (out / "smoke" / "wandb" / board[0]).rglob("*.table.json")}
    assert tables == {"leaderboard_overall", "leaderboard_synthetic-mosei"}
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
    # the cell's run skips W&B's package list (tracking.RUN_SETTINGS: 0.3 s a cell); the leaderboard's keeps it
    assert not list((out / "smoke" / "wandb" / cell[0]).rglob("requirements.txt"))
    assert list((out / "smoke" / "wandb" / board[0]).rglob("requirements.txt"))
