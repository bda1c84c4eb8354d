"""Named components: declared where they are defined, listed without importing anything heavy.

A class or function becomes a component a config can name by declaring it in place::

    @component("reward", summary="uniform random rewards")
    class RandomRewardModel(RewardModelBase): ...

The catalogue is read from the package's source (:mod:`mirror_neuron.catalogue`), so ``mirror-neuron
ls`` and config validation import no component; ``Component.load()`` imports one when it is used.
Families whose components are generated (text features, built-in data sets) name a light provider
function instead. A config may also name its own code as ``"package.module:attr"``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mirror_neuron.catalogue import Declaration, Param, declarations
from mirror_neuron.errors import UserError, did_you_mean

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")


@dataclass(frozen=True)
class Family:
    """A kind of component: where configs name it, and the arguments the caller supplies itself
    (left out of each component's parameters)."""

    description: str
    supplied: tuple[str, ...] = ()
    provider: str | None = None  # "module:function" returning generated components, for generated families
    base: str | None = None  # "module:Class" a config's own class (``module:attr``) must subclass
    call: tuple[str, ...] | None = None  # the arguments a config's own function is called with (None: no function)

    def expected(self) -> str:
        """What a config's own code of this family must be, in words."""
        forms = []
        if self.base:
            forms.append(f"a subclass of {self.base.replace(':', '.')}")
        if self.call is not None:
            forms.append("a Python function(" + ", ".join((*self.call, "**params")) + ")")
        return " or ".join(forms) or "a registered component"


FAMILIES: dict[str, Family] = {
    "model": Family("model step types (`model[].type`)"),
    "data": Family("data step entrypoints (`data[].entrypoint`)"),
    "query": Family("query step entrypoints (`query[].entrypoint`)"),
    "analysis": Family("analysis step entrypoints (`analysis[].entrypoint`)"),
    "dataset": Family("built-in data sets (`data[].path: builtin:NAME`)",
                      provider="mirror_neuron.resources:datasets"),
    "dendrite": Family("the neuron's dendrite pool, which queries the miners (`model[].miners` sets its behaviours)",
                       supplied=("behaviours", "seed", "max_completion_chars")),
    "behaviour": Family("miner behaviours of the dummy dendrite pool (`model[].miners`)",
                        base="mirror_neuron.neuron.miners.base:Behaviour", call=("query", "uid", "rng")),
    "gating": Family("gating models of the neuron (`model[].gating.type`)", supplied=("n_uids", "seed"),
                     base="mirror_neuron.neuron.gating.base:GatingModelBase"),
    "reward": Family("reward models of the neuron (`model[].reward.type`, a RewardStack's scorers, "
                     "`model[].kind` of a reward_model step)", supplied=("seed", "base_dir"),
                     base="mirror_neuron.neuron.reward.base:RewardModelBase"),
    "filter": Family("reward filters of a RewardStack (`reward.filters`)", supplied=("embedder",),
                     base="mirror_neuron.neuron.reward.filters.base:Filter"),
    "feature": Family("text features of an analysis (`analysis[].compute`, `x`, `plot`)",
                      provider="mirror_neuron.analysis.features:declarations"),
    "transform": Family("text transforms of honest answers: reward-hack candidates and hacking miners "
                        "(`query[].transforms`)", supplied=("answer", "question", "rng"),
                        call=("answer", "question", "rng")),
    "validator_strategy": Family("validator strategies of a network (`model[].validators.<group>.strategy`)"),
}


# Families whose classes carry their registered name as ``cls.name`` (set by the declaration).
NAMED_FAMILIES = ("behaviour", "filter", "validator_strategy")


@dataclass(frozen=True)
class Component:
    """One named, lazily importable component of a family."""

    family: str
    name: str
    target: str  # "module:attr", or a packaged file for data sets
    summary: str
    aliases: tuple[str, ...] = ()  # other names a config may use (a reward model's ``kind``)
    params: tuple[Param, ...] = ()
    details: tuple[tuple[str, str], ...] = ()  # what else the declaration says (a transform's ``defence``)

    def load(self) -> Any:
        return load_target(self.target)

    def detail(self, key: str) -> str | None:
        """One of the declaration's own facts (``defence`` of a transform), or None."""
        return dict(self.details).get(key)

    def as_json(self) -> dict[str, Any]:
        params = []
        for param in self.params:
            entry: dict[str, Any] = {"name": param.name, "type": param.type, "required": param.required}
            if not param.required:
                is_literal, value = param.literal_default()
                entry["default"] = value if is_literal else None
                entry["default_text"] = param.default
            params.append(entry)
        return {"name": self.name, "target": self.target, "summary": self.summary, "aliases": list(self.aliases),
                "params": params, **dict(self.details)}


def component(family: str, name: str | None = None, *, summary: str | None = None,
              aliases: tuple[str, ...] = (), factory: str | None = None, **details: str) -> Callable[[T], T]:
    """Declare the decorated class or function as the component ``name`` (default: its own name) of
    ``family``. ``summary`` defaults to the first line of its docstring; ``factory`` names a classmethod
    that builds it from a config (``RewardStack.from_config``); ``details`` are a family's own facts
    (a transform's ``defence``: what closes the exploit it finds). Arguments must be literals: they are
    read from the source."""
    if family not in FAMILIES:
        raise ValueError(f"unknown component family '{family}'")

    def declare(obj: T) -> T:
        declared = name or obj.__name__  # type: ignore[attr-defined]
        if isinstance(obj, type) and family in NAMED_FAMILIES:
            obj.name = declared  # type: ignore[attr-defined]  # what the parts record themselves as
        return obj

    return declare


@functools.cache
def catalogue() -> tuple[Component, ...]:
    """Every registered component, family by family (in :data:`FAMILIES` order), then in source order."""
    supplied = tuple((family, spec.supplied) for family, spec in FAMILIES.items())
    found: dict[str, list[Component]] = {family: [] for family in FAMILIES}
    for declaration in declarations(supplied):
        found[declaration.family].append(_from_declaration(declaration))
    for family, spec in FAMILIES.items():
        if spec.provider:
            found[family].extend(_from_declaration(d) for d in load_target(spec.provider)())
    return tuple(c for family in FAMILIES for c in found[family])


def _from_declaration(declaration: Declaration) -> Component:
    return Component(declaration.family, declaration.name, declaration.target, declaration.summary,
                     declaration.aliases, declaration.params, declaration.details)


def components(family: str | None = None) -> list[Component]:
    """Registered components, optionally of one family, in catalogue order."""
    return [c for c in catalogue() if family is None or c.family == family]


def get(family: str, name: str) -> Component:
    """The component ``name`` (or alias) of ``family``; ``module:attr`` names resolve to user code.

    Raises :class:`UserError` naming the closest valid names.
    """
    if ":" in name:
        return Component(family, name, name, "user code")
    for found in components(family):
        if name == found.name or name in found.aliases:
            return found
    valid = [c.name for c in components(family)]
    listing = ", ".join(valid) if valid else "none yet"
    raise UserError(f"unknown {family} component '{name}'{did_you_mean(name, valid)}; valid: {listing}")


class ParamError(UserError):
    """A component's parameter is unknown or missing; ``key`` names it (for the config location)."""

    def __init__(self, message: str, key: str | None) -> None:
        super().__init__(message)
        self.key = key


def check_params(found: Component, params: dict[str, Any]) -> None:
    """Check the names of the parameters a config gives a component against its declared ones, before
    anything is imported: an unknown name (with the closest valid ones) or a missing required one is a
    :class:`ParamError`. User code (``module:attr``) is imported and checked by :func:`check_user_code`."""
    if is_user_code(found):
        check_user_code(found, params)
        return
    declared = {param.name: param for param in found.params}
    for key in params:
        if key not in declared:
            listing = ", ".join(declared) if declared else "none"
            raise ParamError(f"{found.family} '{found.name}' has no parameter '{key}'{did_you_mean(key, declared)}; "
                             f"its parameters: {listing}", key)
    missing = [name for name, param in declared.items() if param.required and name not in params]
    if missing:
        raise ParamError(f"{found.family} '{found.name}' needs {', '.join(missing)}", None)


def is_user_code(found: Component) -> bool:
    """Whether ``found`` is a config's own code (``package.module:attr``) rather than a registered name."""
    return ":" in found.name and found.target == found.name


def check_user_code(found: Component, params: dict[str, Any]) -> None:
    """Check a config's own code against what its family calls (this imports it): a class must subclass
    the family's base and implement every abstract method; a function must be written in Python and
    accept the family's arguments plus ``params`` by keyword (``os:system``, ``builtins:eval`` or a
    function of no arguments are refused). A problem is a :class:`ParamError` saying what is expected."""
    family = FAMILIES[found.family]
    obj = found.load()
    expected = f"a {found.family} from a config's own code is {family.expected()}"
    if isinstance(obj, type):
        base = load_target(family.base) if family.base else None
        if base is None or not issubclass(obj, base):
            raise ParamError(f"'{found.name}' is the class {obj.__name__}, not what is expected: {expected}", None)
        if inspect.isabstract(obj):
            missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
            raise ParamError(f"'{found.name}' is abstract (it does not implement {missing}); {expected}", None)
        return
    function = inspect.unwrap(obj) if callable(obj) else obj
    if family.call is None or not (inspect.isfunction(function) or inspect.ismethod(function)):
        kind = "a built-in function" if inspect.isbuiltin(obj) else f"a {type(obj).__name__}"
        raise ParamError(f"'{found.name}' is {kind}; {expected}", None)
    try:
        inspect.signature(obj).bind(*family.call, **params)
    except TypeError as error:
        plain = [str(p.replace(annotation=p.empty)) for p in inspect.signature(obj).parameters.values()]
        shown = f"{function.__name__}({', '.join(plain)})"
        raise ParamError(f"'{found.name}' cannot be called with ({', '.join(family.call)}"
                         f"{''.join(f', {key}=...' for key in params)}): {shown} ({error}); {expected}", None) from None


@functools.lru_cache(maxsize=None)
def params_model(found: Component) -> type[BaseModel]:
    """The pydantic model of a component's parameters, from the imported object (this imports it):
    a step's config class, a pydantic component itself, or one built from the signature of a class's
    ``__init__`` (or factory) or of a function, less the arguments its family supplies."""
    from pydantic import BaseModel, ConfigDict, create_model

    obj = found.load()
    omitted = {"id", "requires", *FAMILIES[found.family].supplied} if found.family in FAMILIES else set()
    config = getattr(obj, "config_class", None)
    model = config if isinstance(config, type) and issubclass(config, BaseModel) else (
        obj if isinstance(obj, type) and issubclass(obj, BaseModel) else None)
    if model is not None:
        fields = {name: (f.annotation, f) for name, f in model.model_fields.items()
                  if name not in omitted and (f.alias or name) not in omitted}
        return create_model(f"{found.name}Params", __config__=ConfigDict(extra="forbid", populate_by_name=True),
                            **fields)
    function = obj.__init__ if isinstance(obj, type) else obj
    signature = inspect.signature(function)
    hints = _type_hints(function)
    fields = {name: (hints.get(name, Any), ... if p.default is inspect.Parameter.empty else p.default)
              for name, p in signature.parameters.items()
              if name not in ("self", "cls", *omitted) and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return create_model(f"{found.name}Params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                        **fields)


def validate_params(found: Component, params: dict[str, Any]) -> None:
    """Check ``params`` by name (:func:`check_params`), then against the component's parameter model
    (types and values); the first problem is a :class:`ParamError` naming its key."""
    from pydantic import ValidationError

    check_params(found, params)  # names first: an unknown one gets the closest valid names
    try:
        params_model(found).model_validate(params)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] not in ("missing", "value_error"):  # a value error's own message says what it got
            message = f"{message}, got {first.get('input')!r}"[:300]
        raise ParamError(f"{found.family} '{found.name}': {key}: {message}" if key else
                         f"{found.family} '{found.name}': {message}", key) from None


def taken(target: Callable[..., Any], **supplied: Any) -> dict[str, Any]:
    """The ``supplied`` arguments (``seed``, ``base_dir``, ...) that ``target`` takes: a component
    need not declare what it does not use."""
    parameters = inspect.signature(target).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return supplied
    return {name: value for name, value in supplied.items() if name in parameters}


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The function's parameter types; one whose names exist only for type checking (``np`` under
    ``TYPE_CHECKING``) stays untyped (Any), the others are still checked."""
    try:
        return typing.get_type_hints(function, include_extras=True)  # Annotated limits (AtMost) are kept
    except Exception:  # noqa: BLE001 - evaluate each annotation alone instead
        pass
    hints: dict[str, Any] = {}
    namespace = getattr(function, "__globals__", {})
    for name, annotation in getattr(function, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation  # noqa: S307
        except Exception:  # noqa: BLE001 - a name imported for type checking only
            continue
    return hints


def load_target(target: str) -> Any:
    """Import ``"module:attr"``; a missing module or attribute is a :class:`UserError`."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UserError(f"'{target}' is not of the form 'package.module:attr'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise UserError(f"cannot import '{module_name}' for '{target}' ({error})") from None
    try:
        value: Any = module
        for part in attr.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise UserError(f"'{module_name}' has no attribute '{attr}' (from '{target}')") from None
    return value
