"""Name -> class registries filled by subclassing, and loading of a user's own module by import path."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


class UnknownNameError(KeyError):
    """Raised for a name that no registered class carries; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


class Registry:
    """A registry of classes by name. Duplicate names from different classes raise."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type] = {}

    def add(self, name: str, cls: type) -> None:
        old = self._classes.get(name)
        if old is not None and f"{old.__module__}.{old.__qualname__}" != f"{cls.__module__}.{cls.__qualname__}":
            raise ValueError(
                f"Duplicate {self.kind} name {name!r}: already registered by {old.__module__}.{old.__qualname__}, "
                f"now also by {cls.__module__}.{cls.__qualname__}. Make sure each {self.kind} has its own name."
            )
        self._classes[name] = cls

    def get(self, name: str) -> type:
        if name not in self._classes:
            close = difflib.get_close_matches(name, self._classes, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} <{self.kind}={name}>.{hint} Known {self.kind}s: {', '.join(self.names())}. "
                f"Make sure a module defining your own {self.kind} is imported (config key `imports`)."
            )
        return self._classes[name]

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: str) -> bool:
        return name in self._classes


def _user_module_name(path: str) -> tuple[str, Path | None]:
    """(module name, file) of an `imports` entry: `emobench_user_<stem>` for a `.py` file, else the dotted name."""
    if path.endswith(".py"):
        file = Path(path).expanduser().resolve()
        return f"emobench_user_{file.stem}", file
    return path, None


def loaded_user_module(path: str) -> ModuleType | None:
    """The module of an `imports` entry if this process has imported it already, else None (imports nothing)."""
    name, file = _user_module_name(path)
    module = sys.modules.get(name)
    if module is None or (file is not None and getattr(module, "__file__", None) != str(file)):
        return None
    return module


def import_user_module(path: str) -> ModuleType:
    """Import `path`: a dotted module name (`mypkg.my_model`) or a `.py` file; its subclasses register. A file is
    executed once per process (as module `emobench_user_<stem>`); importing it again returns that module."""
    loaded = loaded_user_module(path)
    if loaded is not None:
        return loaded
    name, file = _user_module_name(path)
    if file is not None:
        if not file.is_file():
            raise FileNotFoundError(f"imports: no such Python file <{path}>. Make sure the path is right.")
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"imports: cannot import <{path}> ({err}). Make sure it is on PYTHONPATH or give a .py file path."
        ) from err


def init_parameter_names(cls: type) -> set[str]:
    """Keyword names accepted by `cls(...)`: the union of `__init__` parameters over its MRO, up to the first
    Lightning base class (subclasses pass `**kwargs` on to their parents)."""
    import inspect

    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith(("lightning", "pytorch_lightning", "torch")) or klass is object:
            break
        if "__init__" in vars(klass):
            names |= {p.name for p in inspect.signature(klass.__init__).parameters.values()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names - {"self"}
