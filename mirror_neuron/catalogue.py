"""The catalogue of declared components, read from the package's source without importing it.

A component is declared where it is defined, with :func:`mirror_neuron.registry.component` on its class
or function. Importing every module to find the declarations would import torch and transformers, so
the catalogue is read from the source instead: each module that mentions ``@component(`` is parsed
(:mod:`ast`), and each declaration's name, summary and parameters (with their defaults, as written) are
taken from its decorator, its docstring and its signature or fields. Parsing the few modules that
declare components takes tens of milliseconds; ``mirror-neuron ls`` and config validation use it.

The parameters of a component are what a config may set:

- a class with a ``config_class`` (a step): that config's fields, less ``id`` and ``requires``;
- a pydantic model (a miner behaviour): its fields, inherited ones included, less ``ClassVar``\\ s;
- any other class: the parameters of ``__init__`` (or of the declared ``factory`` classmethod);
- a function: its parameters.

In each case less the arguments the family supplies itself (``seed``, ``n_uids``, a transform's answer,
...: :data:`mirror_neuron.registry.FAMILIES`). ``tests/test_registry.py`` checks that what is read here
agrees with the imported objects.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "mirror_neuron"
ROOT = Path(__file__).resolve().parent
MARKER = "@component("
MAX_SHOWN_CONSTANT = 80  # characters: longer constants are shown by name
OMITTED_FIELDS = frozenset({"id", "requires", "model_config"})


@dataclass(frozen=True)
class Param:
    """One parameter of a component: its type and default as written in the source."""

    name: str
    type: str
    default: str | None  # source text of the default; None when the parameter is required

    @property
    def required(self) -> bool:
        return self.default is None

    def literal_default(self) -> tuple[bool, Any]:
        """``(True, value)`` when the default is a Python literal, else ``(False, None)``."""
        if self.default is None:
            return False, None
        try:
            return True, ast.literal_eval(self.default)
        except (ValueError, SyntaxError):
            return False, None

    def __str__(self) -> str:
        typed = f"{self.name}: {self.type}" if self.type else self.name
        return typed if self.required else f"{typed} = {self.default}"


@dataclass(frozen=True)
class Declaration:
    """What a ``@component(...)`` decorator in the source says."""

    family: str
    name: str
    target: str
    summary: str
    aliases: tuple[str, ...]
    params: tuple[Param, ...]
    details: tuple[tuple[str, str], ...] = ()  # a family's own facts (a transform's ``defence``)


@functools.cache
def declarations(supplied: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Declaration, ...]:
    """Every declaration in the package, in module then source order. ``supplied`` maps each family
    to the arguments it passes itself (left out of the parameters)."""
    given = dict(supplied)
    found: list[Declaration] = []
    for path in sorted(ROOT.rglob("*.py")):
        if MARKER not in path.read_text(encoding="utf-8"):
            continue
        module = _module_name(path)
        tree = _parse(module)
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                for decorator in node.decorator_list:
                    if _is_component_call(decorator):
                        found.append(_declaration(module, node, decorator, given))
    return tuple(found)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _parse(module: str) -> ast.Module:
    relative = Path(*module.split("."))
    path = ROOT.parent / relative.with_suffix(".py")
    if not path.is_file():
        path = ROOT.parent / relative / "__init__.py"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_component_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "component") or (
        isinstance(func, ast.Attribute) and func.attr == "component")


def _declaration(module: str, node: ast.ClassDef | ast.FunctionDef, call: ast.Call,
                 supplied: dict[str, tuple[str, ...]]) -> Declaration:
    args = [ast.literal_eval(a) for a in call.args]
    options = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    family = args[0] if args else options.pop("family")
    name = args[1] if len(args) > 1 else options.get("name") or node.name
    factory = options.get("factory")
    target = f"{module}:{node.name}" + (f".{factory}" if factory else "")
    summary = options.get("summary") or _first_line(ast.get_docstring(node))
    omitted = supplied.get(family, ())
    if isinstance(node, ast.FunctionDef):
        params = _signature(module, node, omitted)
    else:
        params = _class_params(module, node, factory, omitted)
    details = tuple((key, str(value)) for key, value in options.items()
                    if key not in ("family", "name", "summary", "aliases", "factory"))
    return Declaration(family, name, target, summary, tuple(options.get("aliases", ())), params, details)


def _first_line(docstring: str | None) -> str:
    return (docstring or "").strip().splitlines()[0].replace("``", "") if docstring and docstring.strip() else ""


def _signature(module: str, node: ast.FunctionDef, omitted: tuple[str, ...]) -> tuple[Param, ...]:
    """Parameters of a function, less ``self``/``cls``, ``*args``/``**kwargs`` and ``omitted``."""
    arguments = node.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    pairs = [*zip(positional, defaults), *zip(arguments.kwonlyargs, arguments.kw_defaults)]
    return tuple(Param(arg.arg, _text(arg.annotation), _default(module, default))
                 for arg, default in pairs if arg.arg not in ("self", "cls", *omitted))


def _class_params(module: str, node: ast.ClassDef, factory: str | None,
                  omitted: tuple[str, ...]) -> tuple[Param, ...]:
    config = _config_class(module, node)
    if config is not None:
        return tuple(p for p in _fields(*config) if p.name not in omitted)
    if _is_model(module, node):
        return tuple(p for p in _fields(module, node) if p.name not in omitted)
    found = _method(module, node, factory or "__init__")
    return _signature(*found, omitted) if found is not None else ()


def _config_class(module: str, node: ast.ClassDef) -> tuple[str, ast.ClassDef] | None:
    """The class a step's ``config_class = X`` names, found along its bases."""
    for owner_module, owner in _lineage(module, node):
        for statement in owner.body:
            if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "config_class"
                                                         for t in statement.targets):
                if isinstance(statement.value, ast.Name):
                    return _resolve(owner_module, statement.value.id)
    return None


def _is_model(module: str, node: ast.ClassDef) -> bool:
    """Whether the class derives from pydantic's BaseModel (through the package's own classes)."""
    for owner_module, owner in _lineage(module, node):
        for base in owner.bases:
            if _text(base).split(".")[-1] == "BaseModel":
                return True
    return False


def _fields(module: str, node: ast.ClassDef) -> list[Param]:
    """A pydantic model's fields in definition order, bases first; a redefinition keeps its place."""
    fields: dict[str, Param] = {}
    for owner_module, owner in reversed(list(_lineage(module, node))):
        for statement in owner.body:
            if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
                continue
            name, annotation = statement.target.id, _text(statement.annotation)
            if name.startswith("_") or name in OMITTED_FIELDS or annotation.startswith("ClassVar"):
                continue
            key = _field_alias(statement.value) or name
            fields[key] = Param(key, annotation, _default(owner_module, _field_default(statement.value)))
    return list(fields.values())


def _field_alias(value: ast.expr | None) -> str | None:
    """``alias=`` of ``Field(...)``: the name a config uses for the field."""
    if isinstance(value, ast.Call) and _text(value.func).split(".")[-1] == "Field":
        for keyword in value.keywords:
            if keyword.arg == "alias" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return None


def _field_default(value: ast.expr | None) -> ast.expr | None:
    """The default of ``x: T = value``; ``Field(d, ...)`` gives ``d`` (or its ``default=``/``default_factory=``)."""
    if value is None:
        return None
    if isinstance(value, ast.Call) and _text(value.func).split(".")[-1] == "Field":
        if value.args and not (isinstance(value.args[0], ast.Constant) and value.args[0].value is Ellipsis):
            return value.args[0]
        for keyword in value.keywords:
            if keyword.arg == "default":
                return keyword.value
            if keyword.arg == "default_factory":
                return ast.Call(keyword.value, [], [])
        return None
    return value


def _default(module: str, value: ast.expr | None) -> str | None:
    """A default's source text; a module constant (``STOCK_PHRASES``) is shown by its value when that is a
    short literal."""
    if value is None:
        return None
    if isinstance(value, ast.Name):
        for statement in _parse(module).body:
            targets = statement.targets if isinstance(statement, ast.Assign) else (
                [statement.target] if isinstance(statement, ast.AnnAssign) and statement.value else [])
            if any(isinstance(t, ast.Name) and t.id == value.id for t in targets):
                constant = statement.value
                try:
                    literal = repr(ast.literal_eval(constant))
                except (ValueError, SyntaxError):
                    break
                return literal if len(literal) <= MAX_SHOWN_CONSTANT else _text(value)
    return _text(value)


def _method(module: str, node: ast.ClassDef, name: str) -> tuple[str, ast.FunctionDef] | None:
    """The method ``name`` along the class's bases, with the module defining it."""
    for owner_module, owner in _lineage(module, node):
        for statement in owner.body:
            if isinstance(statement, ast.FunctionDef) and statement.name == name:
                return owner_module, statement
    return None


def _lineage(module: str, node: ast.ClassDef) -> list[tuple[str, ast.ClassDef]]:
    """The class and its bases defined in the package, nearest first (a simple depth-first MRO)."""
    seen: list[tuple[str, ast.ClassDef]] = []
    stack = [(module, node)]
    while stack:
        owner_module, owner = stack.pop(0)
        if any(owner is known for _, known in seen):
            continue
        seen.append((owner_module, owner))
        for base in owner.bases:
            if isinstance(base, ast.Name):
                resolved = _resolve(owner_module, base.id)
                if resolved is not None:
                    stack.append(resolved)
    return seen


def _resolve(module: str, name: str) -> tuple[str, ast.ClassDef] | None:
    """The package class ``name`` means in ``module``: defined there, or imported from a package module."""
    tree = _parse(module)
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef) and statement.name == name:
            return module, statement
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module and statement.level == 0 \
                and statement.module.startswith(PACKAGE):
            for alias in statement.names:
                if (alias.asname or alias.name) == name:
                    try:
                        return _resolve(statement.module, alias.name)
                    except (OSError, SyntaxError):
                        return None
    return None


def _text(node: ast.expr | None) -> str:
    """An annotation as ``ls`` shows it: as written, but ``Annotated[PositiveInt, AtMost("uids")]`` as
    ``PositiveInt (limit uids)`` (:mod:`mirror_neuron.limits`)."""
    if node is None:
        return ""
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "Annotated" and isinstance(node.slice, ast.Tuple):
        inner, *extras = node.slice.elts
        limits = [extra.args[0].value for extra in extras if isinstance(extra, ast.Call) and
                  ast.unparse(extra.func) == "AtMost" and extra.args and isinstance(extra.args[0], ast.Constant)]
        if limits and len(limits) == len(extras):
            return f"{ast.unparse(inner)} (limit {', '.join(limits)})"
    return ast.unparse(node)
