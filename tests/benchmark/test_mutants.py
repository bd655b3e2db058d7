"""The mutation-testing tool (benchmark/mutants.py, benchmark/mutate.py): which mutants a file gets, what is left
alone, ids that survive edits elsewhere in the file, and a throwaway copy that imports its own files."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from emobench.benchmark.mutants import find_mutants
from emobench.benchmark.mutate import TARGETS, make_copy, repository_root, select_mutants, triaged

SOURCE = textwrap.dedent('''
    """Docstring 1 < 2."""


    def score(preds, target, mask, threshold: float = 0.5):
        """Docstring with 3."""
        if preds.shape != target.shape:
            raise ValueError(f"shapes {preds.shape} != {target.shape} differ by {1}")
        hits = (preds > threshold) & target[mask]
        print("progress", 7)
        return hits.sum() / max(len(target) - 1, 1)
''')


def test_operators_and_what_is_left_alone(tmp_path):
    (tmp_path / "m.py").write_text(SOURCE)
    mutants = find_mutants(tmp_path, "m.py")
    found = {(m.operator, m.original, m.replacement) for m in mutants}
    assert ("compare", "preds > threshold", "(preds >= threshold)") in found
    assert ("compare", "preds.shape != target.shape", "(preds.shape == target.shape)") in found
    assert ("binop", "(preds > threshold) & target[mask]", "((preds > threshold) | target[mask])") in found
    assert ("drop mask", "target[mask]", "(target)") in found
    assert ("swap name", "max(len(target) - 1, 1)", "(min(len(target) - 1, 1))") in found
    assert ("swap operands", "hits.sum() / max(len(target) - 1, 1)", "(max(len(target) - 1, 1) / hits.sum())") in found
    assert ("constant", "0.5", "(1.0)") in found and ("constant", "1", "(0)") in found
    assert ("raise->pass", 'raise ValueError(f"shapes {preds.shape} != {target.shape} differ by {1}")', "pass") in found
    assert ("negate if", "preds.shape != target.shape", "(not preds.shape != target.shape)") in found
    lines = {m.line for m in mutants}
    assert not lines & {2, 6, 10}  # docstrings, print, and nothing inside the raise's message
    assert all(m.line != 8 or m.operator == "raise->pass" for m in mutants)
    for mutant in mutants:
        compile(mutant.apply(SOURCE.encode()), "m.py", "exec")


def test_ids_do_not_depend_on_line_numbers(tmp_path):
    (tmp_path / "m.py").write_text(SOURCE)
    before = {m.ident: m.describe().split(" ", 1)[1] for m in find_mutants(tmp_path, "m.py")}
    (tmp_path / "m.py").write_text("import os\n\n" + SOURCE)
    after = {m.ident: m.describe().split(" ", 1)[1] for m in find_mutants(tmp_path, "m.py")}
    assert before == after and len(before) == len(find_mutants(tmp_path, "m.py"))


def test_function_filter_seeded_sample_and_test_paths_exist():
    root = repository_root()
    resume = select_mutants(root, ["resume"], None, 0)["resume"]
    assert resume and {m.qualname.split(".")[0] for m in resume} <= set(TARGETS["resume"].functions)
    sample = select_mutants(root, ["store", "folds"], 3, seed=1)
    assert all(len(mutants) == 3 for mutants in sample.values())
    assert sample == select_mutants(root, ["store", "folds"], 3, seed=1)  # the same seed draws the same mutants
    assert all(any((root / "tests").glob(t.split("::")[0].removeprefix("tests/")) for t in target.tests
                   if t.startswith("tests/")) for target in TARGETS.values())


def test_the_copy_imports_its_own_files(tmp_path):
    copy = make_copy(repository_root(), tmp_path)
    (copy / "metrics" / "__init__.py").write_text("raise RuntimeError('the copy was imported')\n")
    probe = subprocess.run([sys.executable, "-c", "import emobench.metrics"], cwd=copy, capture_output=True,
                           text=True)
    assert probe.returncode == 1 and "the copy was imported" in probe.stderr


def test_only_ids_under_the_equivalent_heading_count_as_equivalent(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "mutation_triage.md").write_text(
        "# Triage\n\n## Killed by new tests\n- `aaaaaaaaaa` killed by test_x\n\n## Equivalent\n"
        "- `bbbbbbbbbb` a.py:3 `1` -> `(2)`: only formatting\n- `cccccccccc` also\n\n## Notes\n- `dddddddddd`\n")
    assert triaged(tmp_path) == {"bbbbbbbbbb", "cccccccccc"}
    assert triaged(tmp_path / "nowhere") == set()
