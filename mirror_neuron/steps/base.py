"""The contract every step implements, and the typed config every step's config extends.

A step is built from its validated config, may check and resolve it before anything runs
(:meth:`Step.resolve`), then writes its output in chunks through a :class:`~mirror_neuron.store.ChunkWriter`
(:meth:`Step.run`). Steps meet only through stored outputs (:class:`~mirror_neuron.store.StepOutput`).
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from mirror_neuron.yaml_source import KeyPath, YamlSource

if TYPE_CHECKING:
    from mirror_neuron.store import ChunkWriter, StepOutput

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class StepConfig(BaseModel):
    """Keys every entry of every section has. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    requires: list[str] = []

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not ID_PATTERN.match(value) or value in {".", ".."}:
            raise ValueError("an id is 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return value

    @classmethod
    def normalize(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Rewrite loose shapes of the original tool into the clean form before validation."""
        return raw


@dataclass(frozen=True)
class StepContext:
    """What a step may know about the experiment around it."""

    seed: int
    config_dir: Path
    source: YamlSource
    key_path: KeyPath

    def where(self, *keys: str | int) -> str:
        """``file: section[i].key (line N)``: where to point an error about this entry."""
        return self.source.where(self.key_path + keys)

    def where_entry(self, entry_id: str, *keys: str | int) -> str:
        """Where a key of another entry of the config (found by its ``id``) is; this entry when none has it."""
        data = self.source.data if isinstance(self.source.data, dict) else {}
        for section, value in data.items():
            entries = [((section,), value)] if isinstance(value, dict) else \
                [((section, i), item) for i, item in enumerate(value)] if isinstance(value, list) else []
            for key_path, entry in entries:
                if isinstance(entry, dict) and entry.get("id") == entry_id:
                    return self.source.where(key_path + keys)
        return self.where()


class Step(abc.ABC):
    """One entry of a config section, turned into work."""

    section: ClassVar[str]
    config_class: ClassVar[type[StepConfig]] = StepConfig

    def __init__(self, config: StepConfig, context: StepContext) -> None:
        self.config = config
        self.context = context

    def resolve(self) -> dict[str, Any]:
        """The resolved config that, with upstream fingerprints, fingerprints this step's output.

        Runs before anything is computed; raise :class:`~mirror_neuron.errors.ConfigError` for
        problems a user can fix. Defaults are filled in; ``id`` and ``requires`` are left out.
        """
        return self.config.model_dump(mode="json", by_alias=True, exclude={"id", "requires"})

    def preflight(self, stored: dict[str, StepOutput]) -> None:
        """Checks that need more than the config (a data file's fields, the columns of a stored upstream
        output), run before tracking starts and only for steps that will be computed; ``stored`` maps each
        required id whose output is already in the store to it. Raise
        :class:`~mirror_neuron.errors.ConfigError`. Default: none."""

    @abc.abstractmethod
    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        """Compute the output, writing it chunk by chunk; return summary figures for tracking.

        ``inputs`` maps each required id to its finished output. ``writer.completed`` chunks
        are already stored from an interrupted run: skip them and produce the same rest.
        """

    @staticmethod
    def inputs_of(inputs: dict[str, StepOutput], kind: str, entrypoint: str | None = None) -> list[StepOutput]:
        """The required outputs of one section (and entrypoint), in ``requires`` order."""
        return [output for output in inputs.values() if output.manifest["kind"] == kind
                and (entrypoint is None or output.manifest["entrypoint"] == entrypoint)]

    def sample_table(self) -> str:
        """Name of the table whose first rows represent this step in tracking."""
        return "data"
