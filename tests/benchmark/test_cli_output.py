"""What the user sees: paths, overrides and names with `[...]` in them are printed as written (never read as rich
markup), leaderboards stay readable when stdout is not a terminal, and the critical-difference title fits."""

from __future__ import annotations

import io

import pytest
from matplotlib.text import Text
from rich.console import Console

from emobench.benchmark.cli import main
from emobench.benchmark.leaderboard import build_leaderboards, print_leaderboards, write_leaderboards
from emobench.benchmark.plots import critical_difference_figure
from tests.benchmark.test_leaderboard import DEAP, MOSEI, write_fixture

MARKUP = "a[/x]b[bold]c"  # `[/x]` made rich raise MarkupError, `[bold]` vanished into a style


@pytest.fixture
def wide(monkeypatch):
    """A wide console, so that long paths are not folded across lines in the captured output."""
    monkeypatch.setenv("COLUMNS", "2000")


def test_run_error_shows_the_override_as_written(tiny_overrides, capsys, wide):
    assert main(["run", f"model={MARKUP}", "dataset=synthetic-mosei", *tiny_overrides]) == 2
    assert f"<model={MARKUP}>" in capsys.readouterr().out


def test_run_prints_an_output_path_as_written(tiny_overrides, tmp_path, capsys, wide):
    output = tmp_path / MARKUP
    assert main(["run", "model=prior", "dataset=synthetic-mosei", *tiny_overrides, f"output={output}"]) == 0
    out = capsys.readouterr().out
    assert f"record written to {output / 'single' / 'cells'}" in out


def test_sweep_prints_paths_and_errors_as_written(tmp_path, capsys, wide):
    output = tmp_path / MARKUP
    args = ["sweep", "smoke", "models=[prior]", "--output", str(output), "--wandb", "disabled"]
    assert main([*args, "--dry-run"]) == 0
    assert f"records in {output / 'smoke' / 'cells'}" in capsys.readouterr().out
    assert main([*args, f"model_args.schedule={MARKUP}", "model_args.lr=x[/y]"]) == 2
    out = capsys.readouterr().out
    assert "<model_args.lr> set in command line" in out and "'x[/y]'" in out


def test_table_error_shows_the_path_as_written(tmp_path, capsys, wide):
    missing = tmp_path / MARKUP / "sweep"
    assert main(["table", str(missing), "--wandb", "disabled"]) == 1
    out = capsys.readouterr().out
    assert f"<sweep_dir={missing}>" in out and "Traceback" not in out


def test_table_shows_names_with_brackets_as_written(tmp_path, capsys, wide):
    sweep = write_fixture(tmp_path / MARKUP, models=("alpha", "beta", "gamma"))
    for path in (sweep / "cells").glob("alpha-*.json"):
        path.write_text(path.read_text().replace('"alpha"', '"[bold]alpha[/x]"'))
    assert main(["table", str(sweep), "--wandb", "disabled"]) == 0
    out = capsys.readouterr().out
    assert "[bold]alpha[/x]" in out and str(sweep / "leaderboard") in out


def test_leaderboards_print_as_markdown_when_stdout_is_not_a_terminal(tmp_path, capsys):
    """Under capsys stdout is not a terminal, as in logs, CI and `| tee`: rich would squeeze the tables into 80
    columns of `0.…` cells; the Markdown written to the files is printed instead, whole."""
    sweep = write_fixture(tmp_path / "demo")
    assert main(["table", str(sweep), "--wandb", "disabled"]) == 0
    out = capsys.readouterr().out
    folder = sweep / "leaderboard"
    for name in (MOSEI, DEAP, "overall"):
        assert (folder / f"{name}.md").read_text() in out
    assert "…" not in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_leaderboards_print_as_rich_tables_on_a_terminal(tmp_path):
    result = build_leaderboards(write_fixture(tmp_path / "demo"))
    console = Console(file=_Terminal(), width=250, color_system=None)
    print_leaderboards(result, console)
    out = console.file.getvalue()
    assert "┃ model" in out and "Overall ranking" in out and "|:--" not in out


def test_critical_difference_title_fits_inside_the_figure(tmp_path):
    result = write_leaderboards(write_fixture(tmp_path / "demo"), wandb_mode="disabled", quiet=True)
    friedman = build_leaderboards(result["folder"].parent).friedman
    figure = critical_difference_figure(friedman)
    figure.canvas.draw()  # runs the constrained layout
    renderer = figure.canvas.get_renderer()
    titles = [t for t in figure.findobj(Text) if "Mean rank over" in t.get_text()]
    assert len(titles) == 1 and "Friedman p" in titles[0].get_text()
    box, frame = titles[0].get_window_extent(renderer), figure.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
