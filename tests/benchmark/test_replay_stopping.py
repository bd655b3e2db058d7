"""Replaying early stopping on a sweep's validation curves (benchmark/replay_stopping.py)."""

from __future__ import annotations

import numpy as np
import pytest

from emobench.benchmark.replay_stopping import main, replay, replay_sweep
from emobench.benchmark.store import write_record


def test_replay_stops_patience_epochs_after_the_best_and_not_before_min_epochs():
    curve = np.array([0.1, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])  # best at epoch index 1
    assert replay(curve, True, patience=4, min_epochs=1) == (6, 1)  # 4 epochs without improvement: stop after 6
    assert replay(curve, True, patience=4, min_epochs=8) == (8, 1)  # min_epochs holds it until epoch 8
    assert replay(curve, True, patience=20, min_epochs=1) == (10, 1)  # never triggered: the whole curve
    assert replay(-curve, False, patience=2, min_epochs=1) == (4, 1)  # lower is better (KL)
    late = np.array([0.5, 0.4, 0.4, 0.4, 0.6])  # a new best after 3 flat epochs
    assert replay(late, True, patience=3, min_epochs=1) == (4, 0)
    assert replay(late, True, patience=4, min_epochs=1) == (5, 4)


def fake_sweep(root, curves):
    """Records and per-epoch CSV logs as `emobench sweep` writes them (train and val rows per epoch)."""
    sweep = root / "default"
    for i, (model, curve) in enumerate(curves.items()):
        cid = f"cell{i:08d}"
        write_record({"cell_id": cid, "status": "ok", "model": model, "primary": {"name": "ua",
                      "higher_is_better": True}, "epochs": len(curve), "fit_seconds": 2.0 * len(curve)},
                     sweep / "cells")
        log = sweep / "runs" / cid / "csv"
        log.mkdir(parents=True)
        lines = ["epoch,step,train/loss_epoch,val/ua"]
        for epoch, value in enumerate(curve):
            lines += [f"{epoch},{epoch * 3 + 2},0.5,", f"{epoch},{epoch * 3 + 2},,{value}"]
        (log / "metrics.csv").write_text("\n".join(lines) + "\n")
    return sweep


def test_replay_sweep_counts_cells_that_keep_their_best_epoch_and_the_training_saved(tmp_path, capsys):
    sweep = fake_sweep(tmp_path, {"early": [0.1, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4],  # best at 1, stops after 6
                                  "late": [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]})  # new best at 5
    table = replay_sweep(sweep, [(5, 1), (4, 1), (3, 1)], reference=(5, 1))
    assert list(table["same best epoch"]) == ["2/2", "2/2", "1/2"]
    # against patience 5 (early: 7 epochs, late: 11), patience 4 runs 6 and 10 epochs (1 + 1 epochs of 2 s saved),
    # patience 3 runs 5 and 5 (2 + 6 epochs saved, and late loses its best epoch)
    assert list(table["fit s saved"]) == [0, 2 * 2, 2 * (2 + 6)]
    assert table["cells changed per model"].iloc[2] == "late 1"
    main([str(sweep), "--rules", "4:1", "--reference", "5:1"])
    assert "2/2" in capsys.readouterr().out


def test_a_log_without_the_monitored_column_is_a_clear_error(tmp_path):
    sweep = fake_sweep(tmp_path, {"m": [0.1, 0.2]})
    path = next((sweep / "runs").glob("*/csv/metrics.csv"))
    path.write_text("epoch,step,val/kl\n0,1,0.3\n")
    with pytest.raises(ValueError, match="no `val/ua` or `epoch` column"):
        replay_sweep(sweep, [(4, 1)], reference=(5, 1))
    with pytest.raises(ValueError, match="no finished cells"):
        replay_sweep(tmp_path / "empty", [(4, 1)], reference=(5, 1))
