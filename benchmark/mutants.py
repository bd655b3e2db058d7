"""Mutants for `emobench.benchmark.mutate`: small deliberate breakages of one Python file, one at a time, found on
its syntax tree. Each mutant replaces one source span (an expression or a statement) and keeps the rest of the
file byte for byte. Operators: comparison flips (`<` / `<=`, `==` / `!=`, `in` / `not in`, `is` / `is not`),
arithmetic and bitwise operator swaps (`+` / `-`, `*` / `/`, `&` / `|`), swapped operands of non-commutative
operators and of a call's first two arguments (when both are variables), constants off by one (ints +-1, floats x2, booleans negated),
`and` / `or`, a dropped `not` / `~` / unary minus, a dropped keyword argument, `min` / `max` and `any` / `all`
swaps, dropped masks (`x[mask]` -> `x`, `x.masked_fill(...)` / `x.clamp(...)` -> `x`, `where(c, a, b)` -> `a`),
a negated `if`, a `raise` or a call statement replaced by `pass`.

Not mutated: docstrings and other strings, f-strings, annotations, decorators, the arguments of a `raise`
(message text), `print` / `console.print` calls, and names assigned to."""

from __future__ import annotations

import ast
import copy
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

COMPARE_FLIPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
               ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
NAME_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any", "amin": "amax", "amax": "amin",
              "argmin": "argmax", "argmax": "argmin", "minimum": "maximum", "maximum": "minimum",
              "floor": "ceil", "ceil": "floor"}
RECEIVER_CALLS = {"clamp", "clamp_min", "clamp_max", "clip", "abs", "nan_to_num"}  # x.f(...) -> x
QUIET_CALLS = {"print", "console.print"}


@dataclass(frozen=True)
class Mutant:
    """One source change: bytes [start, end) of `path` replaced by `replacement`."""

    path: str  # relative to the repository root, posix
    qualname: str  # enclosing function or class ("<module>" at the top)
    line: int
    operator: str
    start: int
    end: int
    original: str
    replacement: str
    ident: str = ""

    def describe(self) -> str:
        before, after = (" ".join(s.split()) for s in (self.original, self.replacement))
        cut = lambda s: s if len(s) <= 70 else s[:67] + "..."  # noqa: E731 - one-line helper
        return f"{self.path}:{self.line} {self.qualname} [{self.operator}] `{cut(before)}` -> `{cut(after)}`"

    def apply(self, source: bytes) -> bytes:
        return source[:self.start] + self.replacement.encode() + source[self.end:]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        inner = _name(func.value)
        return f"{inner}.{func.attr}" if inner else func.attr
    return ""


def _mentions_mask(node: ast.expr) -> bool:
    return "mask" in _name(node).lower()


class _Finder(ast.NodeVisitor):
    """Collects (node, operator, replacement text, is_statement) in source order, with the enclosing qualname."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.found: list[tuple[ast.AST, str, str, str, bool]] = []

    def add(self, node: ast.AST, operator: str, new: ast.AST | str, statement: bool = False) -> None:
        text = new if isinstance(new, str) else ast.unparse(new)
        self.found.append((node, ".".join(self.stack) or "<module>", operator, text, statement))

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.stack.append(node.name)
        for field in ("args", "bases", "keywords"):  # defaults are code; annotations are skipped below
            value = getattr(node, field, None)
            if isinstance(value, ast.arguments):
                for default in [*value.defaults, *(d for d in value.kw_defaults if d is not None)]:
                    self.visit(default)
            elif isinstance(value, list):
                for item in value:
                    self.visit(item)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # docstring
        for statement in body:
            self.visit(statement)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    # ---- skipped ----------------------------------------------------------------------------------------------
    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Import(self, node: ast.AST) -> None:
        return

    visit_ImportFrom = visit_Import

    def visit_Raise(self, node: ast.Raise) -> None:
        self.add(node, "raise->pass", "pass", statement=True)

    # ---- statements -------------------------------------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            if _name(node.value.func) in QUIET_CALLS:
                return
            self.add(node, "drop call", "pass", statement=True)
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)):  # "drop unary" does it
            self.add(node.test, "negate if", ast.UnaryOp(ast.Not(), copy.deepcopy(node.test)))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        swap = BINOP_SWAPS.get(type(node.op))
        if swap is not None:
            self.add(node, "augassign", ast.AugAssign(node.target, swap(), node.value), statement=True)
        self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        for target in node.targets:  # subscripts of targets are code (x[i + 1] = ...), names are not
            if not isinstance(target, ast.Name):
                self.generic_visit(target)
        self.visit(node.value)

    # ---- expressions ------------------------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            flip = COMPARE_FLIPS.get(type(op))
            if flip is not None:
                new = copy.deepcopy(node)
                new.ops[i] = flip()
                self.add(node, "compare", new)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swap = BINOP_SWAPS.get(type(node.op))
        if swap is not None:
            self.add(node, "binop", ast.BinOp(node.left, swap(), node.right))
        if isinstance(node.op, NON_COMMUTATIVE):
            self.add(node, "swap operands", ast.BinOp(node.right, node.op, node.left))
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self.add(node, "boolop", ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values))
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not | ast.Invert | ast.USub):
            self.add(node, "drop unary", node.operand)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self.add(node, "constant", repr(not value))
        elif isinstance(value, int):
            self.add(node, "constant", repr(value + 1))
            self.add(node, "constant", repr(value - 1))
        elif isinstance(value, float):
            self.add(node, "constant", repr(value * 2 if value else 1.0))

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load) and _mentions_mask(node.slice):
            self.add(node, "drop mask", node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        short = name.rsplit(".", 1)[-1]
        for i, keyword in enumerate(node.keywords):
            if keyword.arg is not None:
                new = copy.deepcopy(node)
                del new.keywords[i]
                self.add(node, "drop keyword", new)
        first_two = node.args[:2]  # two variables (preds, target), not a variable and a literal option
        if len(first_two) == 2 and all(isinstance(a, ast.Name | ast.Attribute) for a in first_two):
            new = copy.deepcopy(node)
            new.args[0], new.args[1] = new.args[1], new.args[0]
            self.add(node, "swap arguments", new)
        if short in NAME_SWAPS:
            new = copy.deepcopy(node)
            if isinstance(new.func, ast.Name):
                new.func.id = NAME_SWAPS[short]
            elif isinstance(new.func, ast.Attribute):
                new.func.attr = NAME_SWAPS[short]
            self.add(node, "swap name", new)
        if isinstance(node.func, ast.Attribute) and (short in RECEIVER_CALLS or "mask" in short.lower()):
            self.add(node, "drop call", node.func.value)
        if short == "where" and len(node.args) == 3:
            self.add(node, "drop mask", node.args[1])
        self.generic_visit(node)


def _offsets(source: bytes) -> list[int]:
    starts, total = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(total)
        total += len(line)
    return starts + [total]


def find_mutants(root: Path, relative: str, functions: tuple[str, ...] = ()) -> list[Mutant]:
    """Every mutant of `root/relative` (inside `functions` only, when given) that still parses."""
    source = (root / relative).read_bytes()
    tree = ast.parse(source)
    finder = _Finder()
    finder.visit(tree)
    starts, original_dump = _offsets(source), ast.dump(tree)
    mutants, seen = [], Counter()
    for node, qualname, operator, text, statement in finder.found:
        if functions and not any(qualname == f or qualname.startswith(f + ".") for f in functions):
            continue
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset
        original = source[start:end].decode()
        replacement = text if statement else f"({text})"
        mutant = Mutant(relative, qualname, node.lineno, operator, start, end, original, replacement)
        mutated = mutant.apply(source)
        try:
            if mutated == source or ast.dump(ast.parse(mutated)) == original_dump:
                continue
        except SyntaxError:
            continue
        key = (relative, qualname, operator, original, replacement)
        seen[key] += 1  # identical changes in one function are told apart by their order, not their line
        ident = hashlib.sha1("|".join(map(str, (*key, seen[key]))).encode()).hexdigest()[:10]
        mutants.append(Mutant(**{**mutant.__dict__, "ident": ident}))
    return mutants


def iter_files(root: Path, patterns: tuple[str, ...]) -> Iterator[str]:
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            yield path.relative_to(root).as_posix()
