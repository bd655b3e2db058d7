"""Mutation testing of the modules where a silent error corrupts results: each mutant (`benchmark/mutants.py`) is
applied alone in a throwaway copy of the repository, the tests named for its module run with `-x` and a timeout,
and a mutant that passes them all survives and is printed. Survivors are triaged in `tests/mutation_triage.md`:
each one is killed by a new test or listed there as equivalent (its id in backticks), and listed ids are reported
as equivalent. Not part of CI: a full run takes hours on 2 cores.

Run from a clone, in the environment that runs the tests:
    python -m emobench.benchmark.mutate                     # every target, every mutant
    python -m emobench.benchmark.mutate store folds --sample 20 --seed 0 --report mutation.md
    python -m emobench.benchmark.mutate --list              # the targets and how many mutants each has
    python -m emobench.benchmark.mutate store --only 45f4cc849d e02cade09f   # rerun chosen mutants
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from emobench.benchmark.mutants import Mutant, find_mutants, iter_files

SUBPACKAGES = ("benchmark", "datamodules", "metrics", "models", "experiments")
TRIAGE = "tests/mutation_triage.md"
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", ".ci-venv", "outputs", "runs", "wandb", "__pycache__",
                                     "*.egg-info", ".pytest_cache", ".ruff_cache", "build", "dist")


@dataclass(frozen=True)
class Target:
    """Source files (globs from the repository root), the pytest arguments that guard them, and optionally the
    functions (qualified names) to mutate."""

    files: tuple[str, ...]
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()


TARGETS = {
    "metrics": Target(("metrics/*.py",), ("tests/metrics",)),
    "folds": Target(("datamodules/folds.py",), ("tests/datamodules/test_folds.py", "tests/datamodules/test_twins.py")),
    "store": Target(("benchmark/store.py",), (
        "tests/benchmark/test_store.py", "tests/benchmark/test_resume.py",
        "tests/benchmark/test_crashes.py::test_sigkill_mid_write_leaves_the_old_record_or_none",
        "tests/benchmark/test_crashes.py::test_sweep_reruns_a_cell_whose_record_cannot_be_read_and_says_so")),
    "resume": Target(("benchmark/sweep.py",), ("tests/benchmark/test_resume.py", "tests/benchmark/test_store.py"),
                     ("existing_status", "select", "SweepResult", "run_sweep")),
    "model-base": Target(("models/base.py",), ("tests/models", "-m", "not slow")),
    "safe-loader": Target(
        ("datamodules/unpickler.py", "datamodules/safe_pickle.py", "datamodules/torch_format.py",
         "datamodules/validate.py"),
        ("tests/datamodules/test_safe_pickle.py", "tests/datamodules/test_torch_format.py",
         "tests/datamodules/test_validate.py", "tests/datamodules/test_mosei.py", "tests/datamodules/test_m3ed.py")),
}


def repository_root() -> Path:
    """The clone this module runs from (the folder holding pyproject.toml and tests/)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "tests").is_dir() or not (root / "pyproject.toml").is_file():
        raise SystemExit(f"mutate: {root} is not a clone of the repository (no tests/ or pyproject.toml). Make sure "
                         "you run it from a source checkout installed with `pip install -e .`.")
    return root


def make_copy(root: Path, parent: Path) -> Path:
    """A copy of the repository where `import emobench.<x>` reads the copy's files: the copy's emobench/ gets links
    to the sub-package folders, so the editable install's finder (which maps to the clone) is never asked."""
    copy = parent / "repo"
    shutil.copytree(root, copy, ignore=COPY_IGNORE, symlinks=True)
    for name in SUBPACKAGES:
        (copy / "emobench" / name).symlink_to(Path("..") / name, target_is_directory=True)
    probe = subprocess.run([sys.executable, "-c", "import emobench.benchmark.store as s, emobench.metrics as m, "
                            "emobench.models.base as b; print(s.__file__, m.__file__, b.__file__)"],
                           cwd=copy, env=_env(), capture_output=True, text=True)
    files = probe.stdout.split()
    if probe.returncode or not files or not all(f.startswith(str(copy)) for f in files):
        raise SystemExit(f"mutate: the copy in {copy} does not import its own files ({probe.stdout}{probe.stderr}). "
                         "Make sure no other `emobench` comes first on sys.path.")
    return copy


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # a mutant must never run from a stale .pyc


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float, log: Path) -> tuple[str, float]:
    """("passed" | "failed" | "timeout", seconds) of pytest -x on `tests` in `copy`; its output goes to `log`."""
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                   cwd=copy, env=_env(), stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return "timeout", time.monotonic() - started
    if code == 5:
        raise SystemExit(f"mutate: no tests collected for {tests}. Make sure the test paths exist.")
    return ("passed" if code == 0 else "failed"), time.monotonic() - started


def triaged(root: Path) -> set[str]:
    """Mutant ids (ten hex digits in backticks) listed under the `## Equivalent` heading of
    tests/mutation_triage.md; ids elsewhere in the file (survivors since killed) do not count."""
    path = root / TRIAGE
    if not path.is_file():
        return set()
    section = re.search(r"^## Equivalent.*?(?=^## |\Z)", path.read_text(), flags=re.M | re.S)
    return set(re.findall(r"`([0-9a-f]{10})`", section.group(0))) if section else set()


def select_mutants(root: Path, names: list[str], sample: int | None, seed: int,
                   only: set[str] | None = None) -> dict[str, list[Mutant]]:
    """Mutants per target: all, the ones whose id is in `only`, or a seeded sample of `sample` per target."""
    chosen = {}
    for name in names:
        target = TARGETS[name]
        mutants = [m for f in iter_files(root, target.files) for m in find_mutants(root, f, target.functions)]
        if only is not None:
            mutants = [m for m in mutants if m.ident in only]
        elif sample is not None and sample < len(mutants):
            mutants = sorted(random.Random(f"{seed}-{name}").sample(mutants, sample), key=lambda m: (m.path, m.start))
        chosen[name] = mutants
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emobench.benchmark.mutate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help=f"targets to mutate (default all): {', '.join(TARGETS)}")
    parser.add_argument("--sample", type=int, help="at most this many mutants per target, drawn with --seed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutant ids (e.g. last run's survivors)")
    parser.add_argument("--timeout-factor", type=float, default=3.0,
                        help="a mutant's tests time out after this many times the unmutated run (at least 60 s)")
    parser.add_argument("--report", type=Path, help="also write the results as Markdown to this file")
    parser.add_argument("--list", action="store_true", help="list the targets and their mutant counts; run nothing")
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")
    root = repository_root()
    names = args.targets or list(TARGETS)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background: the tests expect Ctrl-C
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.list:
        for name, mutants in select_mutants(root, names, None, 0).items():
            kinds = Counter(m.operator for m in mutants)
            print(f"{name:12s} {len(mutants):5d} mutants ({', '.join(f'{k} {v}' for k, v in kinds.most_common())})"
                  f"\n{'':12s} files {' '.join(TARGETS[name].files)}; tests {' '.join(TARGETS[name].tests)}")
        return 0
    chosen = select_mutants(root, names, args.sample, args.seed, set(args.only) if args.only else None)
    chosen = {name: mutants for name, mutants in chosen.items() if mutants}
    equivalent = triaged(root)
    rows: list[tuple[str, Mutant, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="emobench-mutate-") as tmp:
        copy = make_copy(root, Path(tmp))
        total, done = sum(len(v) for v in chosen.values()), 0
        for name, mutants in chosen.items():
            target = TARGETS[name]
            log = Path(tmp) / "pytest.log"
            status, seconds = run_tests(copy, target.tests, 3600, log)
            if status != "passed":
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise SystemExit(f"{tail}\nmutate: the unmutated tests of {name} do not pass "
                                 f"({' '.join(target.tests)}). Make sure the suite passes before mutating.")
            timeout = max(60.0, args.timeout_factor * seconds)
            print(f"== {name}: {len(mutants)} mutants, tests {' '.join(target.tests)} ({seconds:.0f} s unmutated)",
                  flush=True)
            for mutant in mutants:
                source_path = copy / mutant.path
                source = source_path.read_bytes()
                source_path.write_bytes(mutant.apply(source))
                try:
                    status, seconds = run_tests(copy, target.tests, timeout, log)
                finally:
                    source_path.write_bytes(source)
                outcome = {"passed": "survived", "failed": "killed", "timeout": "killed (timeout)"}[status]
                if outcome == "survived" and mutant.ident in equivalent:
                    outcome = "equivalent"
                done += 1
                rows.append((name, mutant, outcome, seconds))
                print(f"[{done}/{total}] {outcome:16s} {mutant.ident} {mutant.describe()} ({seconds:.0f} s)",
                      flush=True)
    print(summary(rows))
    if args.report:
        args.report.write_text(summary(rows) + "\n")
    return 1 if any(outcome == "survived" for _, _, outcome, _ in rows) else 0


def summary(rows: list[tuple[str, Mutant, str, float]]) -> str:
    counts = Counter((name, outcome.split(" ")[0]) for name, _, outcome, _ in rows)
    names = list(dict.fromkeys(name for name, *_ in rows))
    lines = ["| target | mutants | killed | equivalent | survived |", "|---|---:|---:|---:|---:|"]
    for name in [*names, "total"]:
        pick = (lambda o, n=name: counts[(n, o)]) if name != "total" else (
            lambda o: sum(v for (_, k), v in counts.items() if k == o))
        n = sum(pick(o) for o in ("killed", "equivalent", "survived"))
        lines.append(f"| {name} | {n} | {pick('killed')} | {pick('equivalent')} | {pick('survived')} |")
    survivors = [f"- `{m.ident}` {m.describe()}" for _, m, outcome, _ in rows if outcome == "survived"]
    return "\n".join([*lines, "", "Survivors:" if survivors else "No survivors.", *survivors])


if __name__ == "__main__":
    raise SystemExit(main())
