"""Constructor options of a cell (`model_args`, `data_args`) checked against the class signature before anything is
built: keys the class does not accept, and values that do not fit the parameter's annotation
(`model_args.hidden=abc` for `hidden: int`), each reported with the key, the expected type and the value.

Type rules: an int fits `float` but a bool fits neither `int` nor `float`; a list (YAML has no tuples) fits
`list`, `tuple`, `Sequence` and the other collection types but a string does not; `None` fits where the
annotation allows it or the default is None; an unannotated parameter, `Any`, or an annotation that cannot be
resolved accepts everything."""

from __future__ import annotations

import collections.abc
import enum
import inspect
import os
import sys
import types
import typing
from typing import Any

from omegaconf import DictConfig

from emobench.benchmark.config import ConfigError, to_plain
from emobench.datamodules.registry import import_user_module, init_parameter_names

_LIBRARY_PREFIXES = ("lightning", "pytorch_lightning", "torch")
_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)


def _resolve(annotation: Any, namespace: dict[str, Any]) -> Any:
    """A string annotation (`from __future__ import annotations`) as a type; `Any` if it names something the
    module does not define at run time (say a name imported under TYPE_CHECKING only)."""
    if not isinstance(annotation, str):
        return annotation
    holder = types.SimpleNamespace(__annotations__={"value": annotation})
    try:
        return typing.get_type_hints(holder, globalns=namespace)["value"]
    except Exception:  # noqa: BLE001 - an unresolvable annotation has no opinion on the value
        return Any


def parameter_annotations(cls: type) -> dict[str, tuple[Any, Any]]:
    """Keyword parameter -> (annotation, default) over `cls.__init__` and the `__init__`s of its bases up to the
    first Lightning/torch class (subclasses pass `**kwargs` on to their parents); the nearest class wins."""
    found: dict[str, tuple[Any, Any]] = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith(_LIBRARY_PREFIXES) or klass is object:
            break
        init = vars(klass).get("__init__")
        if init is None:
            continue
        module = sys.modules.get(klass.__module__)
        namespace = dict(vars(module)) if module is not None else {}
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) and param.name != "self":
                annotation = Any if param.annotation is param.empty else _resolve(param.annotation, namespace)
                found.setdefault(param.name, (annotation, param.default))
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def conforms(value: Any, annotation: Any) -> bool:
    """Whether a config value (plain YAML data: None, bool, int, float, str, list, dict) fits `annotation`."""
    if annotation is Any or annotation is object or isinstance(annotation, (str, typing.TypeVar, typing.ForwardRef)):
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in _UNION_TYPES:
        return any(conforms(value, arg) for arg in args)
    if origin is typing.Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if origin is typing.Annotated:
        return conforms(value, args[0])
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return _is_int(value)
    if annotation is float:
        return _is_int(value) or isinstance(value, float)
    container = origin or annotation
    if not isinstance(container, type):
        return True  # a typing construct without a runtime class (a NewType and the like): no opinion
    if issubclass(container, os.PathLike):
        return isinstance(value, (str, os.PathLike))
    if issubclass(container, enum.Enum):
        return any(value in (member.name, member.value) for member in container)
    if issubclass(container, collections.abc.Mapping):
        if not isinstance(value, collections.abc.Mapping):
            return False
        key_type, value_type = args if len(args) == 2 else (Any, Any)
        return all(conforms(k, key_type) and conforms(v, value_type) for k, v in value.items())
    if issubclass(container, collections.abc.Iterable) and not issubclass(container, (str, bytes)):
        if not isinstance(value, (list, tuple)):
            return False
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(conforms(v, a) for v, a in zip(value, args, strict=True))
        item_type = args[0] if args else Any
        return all(conforms(v, item_type) for v in value)
    try:
        return isinstance(value, container)
    except TypeError:  # a Protocol without @runtime_checkable cannot be checked
        return True


def type_name(annotation: Any) -> str:
    """`int | Mapping[str, int] | None` rather than the repr with module paths."""
    if annotation is Any:
        return "Any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return "None" if annotation is type(None) else annotation.__name__
    text = str(annotation)
    for prefix in ("typing.", "collections.abc.", "NoneType"):
        text = text.replace(prefix, "None" if prefix == "NoneType" else "")
    return text


def argument_problems(kind: str, cls: type, given: dict[str, Any], accepted: set[str]) -> list[tuple[str, str]]:
    """(key, what is wrong) for each key of `given` (the `kind` options, "model_args" or "data_args", of `cls`)
    that `cls` does not accept or whose value does not fit the parameter's annotation."""
    problems = [(key, "unknown key") for key in sorted(set(given) - accepted)]
    annotations = parameter_annotations(cls)
    for key in sorted(set(given) & accepted):
        annotation, default = annotations.get(key, (Any, None))
        value = given[key]
        if not (conforms(value, annotation) or (value is None and default is None)):
            problems.append((key, f"expected {type_name(annotation)}, got {value!r} ({type(value).__name__})"))
    return problems


def describe_problems(kind: str, name: str, cls: type, problems: list[tuple[str, str]], accepted: set[str]) -> str:
    """One sentence: `model_args of 'mult' (emobench.models.mult.MulT): <model_args.hiden>: unknown key; ...`."""
    items = "; ".join(f"<{kind}.{key}>: {what}" for key, what in problems)
    unknown = any(what == "unknown key" for _, what in problems)
    accepts = f"; {cls.__name__} accepts {sorted(accepted)}" if unknown else ""
    return f"{kind} of {name!r} ({cls.__module__}.{cls.__name__}): {items}{accepts}"


def cell_classes(cfg: DictConfig | dict[str, Any], imports: bool = True) -> tuple[type, type]:
    """(datamodule class, model class) of a cell config, after importing the config's `imports` (unless done)."""
    from emobench.datamodules import DATAMODULES
    from emobench.models import MODELS

    for path in (cfg["imports"] or []) if imports else []:
        import_user_module(path)
    return DATAMODULES.get(cfg["dataset"]), MODELS.get(cfg["model"])


def accepted_names(kind: str, cls: type) -> set[str]:
    """The keys a `kind` ("model_args" / "data_args") fragment may set for `cls`."""
    if kind == "model_args":
        return cls.hyperparameter_names()
    return init_parameter_names(cls) - {"fold", "kwargs"}


def cell_problems(plain: dict[str, Any], data_cls: type,
                  model_cls: type) -> list[tuple[str, str, type, list[tuple[str, str]]]]:
    """(kind, registered name, class, problems) for the data_args and model_args of a resolved cell config (as
    plain data) that have any."""
    found = []
    for kind, name, cls in (("data_args", plain["dataset"], data_cls), ("model_args", plain["model"], model_cls)):
        problems = argument_problems(kind, cls, dict(plain[kind] or {}), accepted_names(kind, cls))
        if problems:
            found.append((kind, name, cls, problems))
    return found


def check_arguments(kind: str, name: str, cls: type, given: dict[str, Any]) -> None:
    """Raise a ConfigError naming every key of `given` (`kind`: "model_args" / "data_args") that `cls` does not
    accept or whose value does not fit its annotation."""
    accepted = accepted_names(kind, cls)
    problems = argument_problems(kind, cls, given, accepted)
    if problems:
        raise ConfigError(f"{describe_problems(kind, name, cls, problems, accepted)}. Make sure each key is spelled "
                          "as in the class signature and each value has the type its annotation names.")


def check_cell_arguments(cfg: DictConfig) -> tuple[type, type]:
    """Raise one ConfigError naming every bad model_args / data_args key of the cell; else return (datamodule
    class, model class)."""
    plain = to_plain(cfg)
    data_cls, model_cls = cell_classes(plain)
    found = cell_problems(plain, data_cls, model_cls)
    if found:
        text = " ".join(describe_problems(kind, name, cls, problems, accepted_names(kind, cls)) + "."
                        for kind, name, cls, problems in found)
        raise ConfigError(f"{text} Make sure each key is spelled as in the class signature and each value has "
                          "the type its annotation names.")
    return data_cls, model_cls
