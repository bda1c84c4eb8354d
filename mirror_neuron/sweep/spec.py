"""The sweep block: the keys a sweep varies, their values, and the points they expand to.

```yaml
sweep:
  name: echo-filters        # folder runs/<name> and W&B group (default: <experiment name>-sweep)
  grid:                     # every combination (cartesian product); keys in the --set syntax
    model.neuron.reward.filters: [{}, {blacklist: {}}]
    query.tournament.steps: [200, 1000]
  zip:                      # lists taken together: their i-th values make one combination
    data.sample.n: [10, 20]
    data.sample.seed: [0, 1]
  seeds: 3                  # repetitions of every combination: experiment.seed = the config's + 0, 1, 2
  plots: [tournament/ratio/echo]   # summary figures the report draws (default: those that vary)
```

Points are numbered in order: the grid's first key varies slowest, then the zip's rows, the seed fastest.
A point is the base config with its values assigned by the ``--set`` machinery (:mod:`mirror_neuron.overrides`).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from mirror_neuron import limits
from mirror_neuron.config import NAME_CHARACTERS, validate_block
from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.yaml_source import YamlSource, load_yaml_file

SWEEP = "sweep"  # the config's top-level key
SEED_KEY = "experiment.seed"  # the key ``seeds`` sets


class SweepConfig(BaseModel):
    """A sweep block, validated."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=NAME_CHARACTERS)
    grid: dict[str, list[Any]] = {}
    zip: dict[str, list[Any]] = {}
    seeds: Annotated[PositiveInt, limits.AtMost("repetitions")] | None = None
    plots: list[str] = []

    @field_validator("grid", "zip")
    @classmethod
    def _values_given(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in axes.items():
            if not values:
                raise ValueError(f"'{key}' has no values; give a list of at least one")
        return axes

    @model_validator(mode="after")
    def _consistent(self) -> SweepConfig:
        if not (self.grid or self.zip or self.seeds):
            raise ValueError("a sweep needs a grid, a zip or seeds")
        lengths = {len(values) for values in self.zip.values()}
        if len(lengths) > 1:
            shown = ", ".join(f"{key}: {len(values)}" for key, values in self.zip.items())
            raise ValueError(f"zip lists are taken together and must have the same length ({shown})")
        both = sorted(set(self.grid) & set(self.zip))
        if both:
            raise ValueError(f"'{both[0]}' is in both grid and zip; sweep each key once")
        if self.seeds and SEED_KEY in {*self.grid, *self.zip}:
            raise ValueError(f"seeds sets {SEED_KEY}, which the sweep also varies; keep one of them")
        return self

    def keys(self) -> list[str]:
        """The swept keys, in point order (``experiment.seed`` last, with ``seeds``)."""
        return [*self.grid, *self.zip, *([SEED_KEY] if self.seeds else [])]


@dataclass(frozen=True)
class Point:
    """One experiment of a sweep: the base config with ``values`` (swept key -> value) assigned."""

    sweep: str
    index: int
    total: int
    values: dict[str, Any]

    @property
    def name(self) -> str:
        return f"point-{self.index:0{max(3, len(str(self.total - 1)))}d}"

    @property
    def assignments(self) -> list[str]:
        """The values in ``--set`` form (JSON, which the YAML reader reads back unchanged)."""
        return [f"{key}={json.dumps(value, sort_keys=True)}" for key, value in self.values.items()]

    @property
    def experiment_name(self) -> str:
        """The point's experiment (and W&B run) name: ``<sweep>.point-003``."""
        return f"{self.sweep}.{self.name}"

    @property
    def name_assignment(self) -> str:
        return f"experiment.name={json.dumps(self.experiment_name)}"

    origin = "sweep"  # what an error about a swept key says set it: ``(set by sweep key=value)``

    @property
    def title(self) -> str:
        """``sweep point 3 of 8``, how messages name the point."""
        return f"sweep point {self.index} of {self.total}"

    def label(self) -> str:
        """``filters={}, steps=200``: each value by the last part of its key."""
        return ", ".join(f"{key.rsplit('.', 1)[-1]}={value_text(value)}" for key, value in self.values.items())


def value_text(value: Any) -> str:
    """A swept value as one short line of text (JSON for anything but a plain string)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@dataclass
class Sweep:
    """A base config and the sweep over it."""

    config: Path
    source: YamlSource  # the base config (with --set applied), its sweep block removed
    spec: SweepConfig
    name: str
    points: list[Point]


def has_sweep(config: Path) -> bool:
    """Whether ``config`` holds a ``sweep:`` block (a config that cannot be read has none: its own error follows)."""
    try:
        data = load_yaml_file(config).data
    except UserError:
        return False
    return isinstance(data, dict) and SWEEP in data


def read_sweep(config: Path, grid: Path | None, overrides: list[str]) -> Sweep:
    """The sweep of ``config``: its own ``sweep:`` block, or the one in ``grid`` (a file holding a sweep
    block's keys, or a config whose ``sweep:`` block it is). ``overrides`` apply to the base config."""
    from mirror_neuron.overrides import override

    source = load_yaml_file(config)
    data = source.data if isinstance(source.data, dict) else {}
    if grid is not None:
        if SWEEP in data:
            raise ConfigError("the config has a sweep block and --grid names another; keep one",
                              source.where((SWEEP,)))
        grid_source = load_yaml_file(grid)
        raw = grid_source.data
        key_path: tuple[str, ...] = ()
        if isinstance(raw, dict) and SWEEP in raw:
            raw, key_path = raw[SWEEP], (SWEEP,)
    elif SWEEP in data:
        grid_source, raw, key_path = source, data[SWEEP], (SWEEP,)
    else:
        raise UserError(f"{config}: no sweep block; add `sweep:` (grid, zip, seeds) or pass --grid FILE")
    spec = validate_block(SweepConfig, raw if raw is not None else {}, grid_source, key_path)
    data.pop(SWEEP, None)
    if overrides:
        override(source, overrides)
    experiment = source.data.get("experiment") if isinstance(source.data, dict) else None
    experiment = experiment if isinstance(experiment, dict) else {}
    name = spec.name or f"{experiment.get('name') or 'experiment'}-sweep"
    base_seed = experiment.get("seed", 0)
    return Sweep(config, source, spec, name, expand(spec, name, base_seed if isinstance(base_seed, int) else 0))


def expand(spec: SweepConfig, sweep: str, base_seed: int = 0) -> list[Point]:
    """Every point of ``spec``: grid combinations x zip rows x seeds (``base_seed`` + repetition)."""
    axes: list[list[dict[str, Any]]] = [[{key: value} for value in values] for key, values in spec.grid.items()]
    if spec.zip:
        rows = zip(*spec.zip.values())
        axes.append([dict(zip(spec.zip, row)) for row in rows])
    if spec.seeds:
        axes.append([{SEED_KEY: base_seed + repetition} for repetition in range(spec.seeds)])
    combinations = list(itertools.islice(itertools.product(*axes), limits.limit("points") + 1))
    if len(combinations) > limits.limit("points"):
        total = 1
        for axis in axes:
            total *= len(axis)
        raise UserError(f"sweep: {total:,} points; {limits.over('points')}")
    values = [{key: value for part in combination for key, value in part.items()} for combination in combinations]
    return [Point(sweep, index, len(values), point) for index, point in enumerate(values)]
