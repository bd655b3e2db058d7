"""EmoBench: a PyTorch Lightning benchmark suite for multi-modal emotion recognition.

The sub-packages live in the repository's top-level folders and are installed under this name by the
`package-dir` mapping in `pyproject.toml`: `emobench.metrics` (metrics/), `emobench.datamodules` (datamodules/),
`emobench.models` (models/), `emobench.benchmark` (benchmark/, the runner and the `emobench` command) and
`emobench.experiments` (experiments/, YAML package data). Dependencies point one way:
metrics <- datamodules <- models <- benchmark.
"""

from importlib import metadata

try:
    __version__ = metadata.version("emobench")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
