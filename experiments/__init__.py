"""Package data: sweep files (`*.yaml`) and per-model / per-dataset defaults (`models/`, `datasets/`), found with
`importlib.resources` by `emobench.benchmark.config`; YAML only, no code."""
