"""The experiment config: YAML -> validated, typed entries, with errors that say where.

A config has the sections ``model``, ``data``, ``query`` and ``analysis`` (each one entry or a list
of entries) and the optional ``experiment`` and ``tracking`` blocks. Each entry is validated by the
config class of the step it names (``type`` for models, ``entrypoint`` for the other sections).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mirror_neuron import registry
from mirror_neuron.errors import ConfigError, UserError, did_you_mean
from mirror_neuron.seeds import Seed
from mirror_neuron.steps.base import Step, StepContext
from mirror_neuron.yaml_source import KeyPath, YamlSource, format_key_path

SECTIONS = ("model", "data", "query", "analysis")
NAME_CHARACTERS = 128  # of an experiment name (a folder name, like a step id)
TOP_LEVEL_KEYS = ("experiment", "tracking", *SECTIONS)

# Which key names an entry's component in each section, and its default.
DISCRIMINATORS: dict[str, tuple[str, str | None]] = {
    "model": ("type", "reward_model"),
    "data": ("entrypoint", "Dataset"),
    "query": ("entrypoint", None),
    "analysis": ("entrypoint", "analysis"),
}


class ExperimentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("experiment", max_length=NAME_CHARACTERS)  # names the run folder and the tracked run
    seed: Seed = 0
    tags: list[str] = []


class TrackingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["wandb", "none"] = "wandb"
    project: str = "mirror-neuron"
    entity: str | None = None


@dataclass
class Entry:
    """One validated entry of a section, ready to become a :class:`Step`."""

    section: str
    entrypoint: str
    key_path: KeyPath
    step: Step

    @property
    def id(self) -> str:
        return self.step.config.id

    @property
    def requires(self) -> list[str]:
        return self.step.config.requires

    @property
    def label(self) -> str:
        return format_key_path(self.key_path)


@dataclass
class Experiment:
    source: YamlSource
    info: ExperimentInfo
    tracking: TrackingConfig
    entries: list[Entry] = field(default_factory=list)

    def entry(self, entry_id: str) -> Entry:
        return next(e for e in self.entries if e.id == entry_id)

    def where(self, key_path: KeyPath) -> str:
        return self.source.where(key_path)


def parse_experiment(source: YamlSource) -> Experiment:
    """Validate a whole config; the first problem raises :class:`ConfigError`."""
    data = source.data
    if data is None:
        raise ConfigError("the config is empty; it needs at least one of " + ", ".join(SECTIONS), source.path)
    if not isinstance(data, dict):
        raise ConfigError(f"the config must be a mapping of sections, got {_kind(data)}", source.path)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = did_you_mean(key, TOP_LEVEL_KEYS)
            raise ConfigError(f"unknown section '{key}'{hint}; valid: {', '.join(TOP_LEVEL_KEYS)}", source.where((key,)))
    _refuse_nan(data, (), source)
    if not any(data.get(section) for section in SECTIONS):
        raise ConfigError("the config defines no step; add at least one of " + ", ".join(SECTIONS), source.path)
    info = validate_block(ExperimentInfo, data.get("experiment") or {}, source, ("experiment",))
    tracking = validate_block(TrackingConfig, data.get("tracking") or {}, source, ("tracking",))
    experiment = Experiment(source, info, tracking)
    config_dir = Path(source.path).resolve().parent
    for section in SECTIONS:
        for key_path, raw in _section_entries(data.get(section), section, source):
            experiment.entries.append(_parse_entry(section, key_path, raw, source, info.seed, config_dir))
    _check_ids(experiment)
    return experiment


def _refuse_nan(value: Any, key_path: KeyPath, source: YamlSource) -> None:
    """NaN and infinite numbers are refused wherever they are (no setting means them), before a stored
    config turns them into null."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"expected a finite number, got {value} ({'NaN' if math.isnan(value) else 'infinity'})",
                          source.where(key_path))
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        _refuse_nan(child, key_path + (key,), source)


def _section_entries(value: Any, section: str, source: YamlSource) -> list[tuple[KeyPath, dict[str, Any]]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [((section,), value)]
    if isinstance(value, list):
        entries = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(f"expected an entry (a mapping with an 'id'), got {_kind(item)}",
                                  source.where((section, index)))
            entries.append(((section, index), item))
        return entries
    raise ConfigError(f"expected an entry or a list of entries, got {_kind(value)}", source.where((section,)))


def _parse_entry(section: str, key_path: KeyPath, raw: dict[str, Any], source: YamlSource,
                 seed: int, config_dir: Path) -> Entry:
    raw = dict(raw)
    key, default = DISCRIMINATORS[section]
    named_at = key_path + (key,) if key in raw else key_path
    name = raw.pop(key, default)
    if name is None:
        raise ConfigError(f"missing '{key}': which {section} component to run", source.where(key_path))
    if not isinstance(name, str):
        raise ConfigError(f"expected a component name, got {_kind(name)}", source.where(named_at))
    try:
        step_class = registry.get(section, name).load()
    except UserError as error:
        raise ConfigError(error.message, source.where(named_at)) from None
    if not (isinstance(step_class, type) and issubclass(step_class, Step)):
        raise ConfigError(f"'{name}' is not a step (a subclass of mirror_neuron.steps.base.Step)",
                          source.where(named_at))
    if inspect.isabstract(step_class):
        missing = ", ".join(sorted(step_class.__abstractmethods__))
        raise ConfigError(f"'{name}' is an abstract step (it does not implement {missing}); name a step that does",
                          source.where(named_at))
    config = validate_block(step_class.config_class, step_class.config_class.normalize(raw), source, key_path)
    context = StepContext(seed=seed, config_dir=config_dir, source=source, key_path=key_path)
    return Entry(section, name, key_path, step_class(config, context))


def validate_block(model: type[BaseModel], raw: Any, source: YamlSource, key_path: KeyPath) -> Any:
    """``raw`` validated by ``model``; the most specific problem raises :class:`ConfigError` at its key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping, got {_kind(raw)}", source.where(key_path))
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        # Union members add their type names to ``loc``; keep only the parts that index the data,
        # and report the most specific problem.
        details = [(_data_path(raw, detail["loc"]), detail) for detail in error.errors()]
        loc, detail = max(details, key=lambda pair: len(pair[0]))
        raise ConfigError(_explain(detail, loc, model), source.where(key_path + loc)) from None


def _data_path(raw: Any, loc: tuple) -> KeyPath:
    path: list[str | int] = []
    current = raw
    for part in loc:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        elif isinstance(current, dict) and part == loc[-1]:
            path.append(part)  # the key itself is wrong (unknown or missing)
            break
        else:
            continue
        path.append(part)
    return tuple(path)


def _explain(detail: dict[str, Any], loc: KeyPath, model: type[BaseModel]) -> str:
    """A pydantic error as one plain sentence."""
    kind, value = detail["type"], detail.get("input")
    if kind == "extra_forbidden":
        valid = _keys_at(model, loc[:-1])
        return f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), valid)}; valid: {', '.join(valid)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = detail.get("ctx", {}).get("expected", "")
        choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",") if c.strip(" '")]
        return f"expected one of {expected}, got {value!r}{did_you_mean(str(value), choices)}"
    message = detail["msg"].replace("Input should be", "expected").replace("Value error, ", "")
    if kind not in ("value_error", "assertion_error"):
        message += f", got {_short(value)}"
    return message


def _keys_at(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The keys the config model accepts at ``loc`` (for did-you-mean)."""
    current: Any = model
    for part in loc:
        if _is_model(current):
            info = _aliases(current).get(part)
            current = info.annotation if info else None
        else:  # a list or dict: step into its element type
            args = get_args(current)
            current = args[-1] if args else None
        current = _model_in(current)
    return list(_aliases(current)) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_in(annotation: Any) -> Any:
    """The config model inside ``X | None`` or ``str | X``, else ``annotation`` itself."""
    if get_origin(annotation) in (Union, UnionType):
        return next((arg for arg in get_args(annotation) if _is_model(arg)), annotation)
    return annotation


def _aliases(model: Any) -> dict[str, Any]:
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else _kind(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__)


def _check_ids(experiment: Experiment) -> None:
    seen: dict[str, Entry] = {}
    for entry in experiment.entries:
        if entry.id in seen:
            raise ConfigError(f"duplicate id '{entry.id}' (also used by {seen[entry.id].label})",
                              experiment.where(entry.key_path + ("id",)))
        seen[entry.id] = entry
