"""The contract checks of a method or a dataset, as `CheckResult` rows: what `emobench check` reports on a user's own
code and what the registry-wide tests assert on the built-in code (`check_model`, `check_dataset`)."""

from __future__ import annotations

import traceback
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """One check: `passed` is True, False, or None when it did not run because an earlier check failed."""

    name: str
    passed: bool | None
    detail: str = ""

    @property
    def status(self) -> str:
        return {True: "pass", False: "FAIL", None: "skip"}[self.passed]


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.passed is False]


def error_text(err: BaseException) -> str:
    """`Type: message (at file:line)`: the innermost frame outside installed libraries (the user's or EmoBench's
    code rather than torch's), the message cut to its first 300 characters."""
    frames = traceback.extract_tb(err.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename and not f.filename.startswith("<")]
    frame = (own or frames)[-1] if frames else None
    where = f" (at {frame.filename}:{frame.lineno})" if frame else ""
    message = " ".join(str(err).split())
    message = message if len(message) <= 300 else message[:297] + "..."
    return f"{type(err).__name__}: {message}{where}"


class Report:
    """Collects results in a fixed order of check names; `skip_rest` marks the checks not reached."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.results: list[CheckResult] = []

    def add(self, name: str, passed: bool | None, detail: str = "") -> bool:
        assert name in self.names, name
        self.results.append(CheckResult(name, passed, detail))
        return bool(passed)

    def skip_rest(self, reason: str) -> list[CheckResult]:
        done = {r.name for r in self.results}
        for name in self.names:
            if name not in done:
                self.results.append(CheckResult(name, None, f"not reached: {reason}"))
        return self.results
