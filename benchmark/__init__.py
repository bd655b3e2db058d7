"""The runner: configs, one benchmark cell, sweeps over the grid, the results store, tables, plots, W&B, CLI."""
