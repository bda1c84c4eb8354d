"""What a model step hands to the steps downstream: a typed spec, stored in its manifest.

A ``type: neuron`` step hands a :class:`~mirror_neuron.neuron.config.NeuronConfig` with its seed
resolved; a ``type: reward_model`` step a :class:`RewardModelSpec` (its options and the sha256 of its
checkpoint). Query steps read it with :func:`model_spec` and load a reward model with
:func:`load_reward_model`, which loads each model once per process.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, overload

if TYPE_CHECKING:
    from mirror_neuron.neuron.reward.base import RewardModelBase

from pydantic import BaseModel, ConfigDict, field_validator

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.models.device import DEVICE_PATTERN
from mirror_neuron.neuron.config import NeuronConfig

if TYPE_CHECKING:
    from mirror_neuron.store import StepOutput

# Options of a reward_model entry and the keyword each is passed to the kind's class as.
KIND_OPTIONS = {"ckpt": "checkpoint", "sha256": "sha256", "allow_unsafe_pickle": "allow_unsafe_pickle",
                "tokenizer": "tokenizer", "embedding": "embedding", "norm": "norm", "device": "device",
                "dtype": "dtype"}


class RewardModelOptions(BaseModel):
    """A reward model: what to load and how (the original's keys plus ``kind``).

    ``kind`` is a registered reward model that loads from a ``path``: ``trlx`` (``RewardModel``: a
    causal LM backbone with a scalar ``v_head``, the Dahoas GPT-J shape; ``ckpt`` loads ``hf_ckpt.pt``),
    ``sequence_classification`` (``AutoModelForSequenceClassification``, e.g. the OpenAssistant DeBERTa
    reward models) or ``log_prob`` (mean completion log-probability under a causal LM). ``ckpt``,
    ``sha256``, ``allow_unsafe_pickle``, ``tokenizer``, ``embedding`` and ``norm`` are trlx options;
    ``device`` and ``dtype`` follow :mod:`mirror_neuron.models.device`.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str = "trlx"
    path: str
    ckpt: str | None = None  # a local file or URL holding the whole module's weights
    sha256: str | None = None
    allow_unsafe_pickle: bool = False
    tokenizer: str = "default"  # or another tokenizer's path
    embedding: Literal["default", "resize"] = "default"  # resize: token embeddings to the tokenizer
    norm: Literal["default", "identity", "reset"] = "default"  # replace the final norm
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError(f"device must be auto, cpu or cuda[:N], not '{value}'")
        return value


class RewardModelSpec(RewardModelOptions):
    """A reward_model step's hand-off: its options and ``ckpt_sha256``, the sha256 of a local
    checkpoint (None without one, or for a URL: its content is only known once downloaded)."""

    ckpt_sha256: str | None = None


ModelSpec = NeuronConfig | RewardModelSpec
SpecT = TypeVar("SpecT", NeuronConfig, RewardModelSpec)
SPECS: dict[str, type[NeuronConfig] | type[RewardModelSpec]] = {"neuron": NeuronConfig,
                                                                 "reward_model": RewardModelSpec}


@overload
def model_spec(output: StepOutput) -> ModelSpec: ...


@overload
def model_spec(output: StepOutput, expected: type[SpecT]) -> SpecT: ...


def model_spec(output: StepOutput, expected: type[SpecT] | None = None) -> ModelSpec:
    """The typed spec a finished model step stored (of type ``expected`` when given)."""
    entrypoint = output.manifest["entrypoint"]
    spec_class = SPECS.get(entrypoint)
    if spec_class is None or (expected is not None and spec_class is not expected):
        wanted = f"a {expected.__name__}" if expected is not None else "a model spec"
        raise UserError(f"step '{output.manifest.get('id')}' ({entrypoint}) does not hand off {wanted}")
    return spec_class.model_validate(output.manifest["config"])


def reward_model_kind(kind: str) -> registry.Component:
    """The registered reward model ``kind`` names, when it loads from a ``path``; a UserError otherwise.
    Read from the catalogue: nothing is imported."""
    found = registry.get("reward", kind)
    if "path" not in _parameters(found):
        loadable = [c.aliases[0] if c.aliases else c.name for c in registry.components("reward")
                    if "path" in _parameters(c) and ":" not in c.name]
        raise UserError(f"reward model '{kind}' does not load from a path; use one that does "
                        f"({', '.join(loadable)}, or any with a path parameter)")
    return found


def unsupported_options(spec: RewardModelOptions) -> list[str]:
    """The options set to a non-default value that the spec's kind does not take."""
    parameters = _parameters(reward_model_kind(spec.kind))
    defaults = RewardModelOptions.model_fields
    return [name for name, keyword in KIND_OPTIONS.items()
            if keyword not in parameters and getattr(spec, name) != defaults[name].default]


def _parameters(found: registry.Component) -> set[str]:
    """A reward model's parameter names: from the catalogue, or from the imported class for user code."""
    if found.target == found.name:  # module:Class
        return set(inspect.signature(found.load()).parameters)
    return {param.name for param in found.params}


def load_reward_model(spec: RewardModelSpec, base_dir: Path, seed: int) -> RewardModelBase:
    """The reward model ``spec`` describes, loaded once per process (later calls return the same object;
    change its ``batch_size`` or ``max_length`` only through ``neuron.reward.base.configured``)."""
    return _load(spec.model_dump_json(), base_dir.resolve(), seed)


@functools.lru_cache(maxsize=4)
def _load(spec_json: str, base_dir: Path, seed: int) -> RewardModelBase:
    from mirror_neuron.models.checkpoints import fetch_checkpoint
    from mirror_neuron.neuron.reward.base import RewardModelBase

    spec = RewardModelSpec.model_validate_json(spec_json)
    model_class = reward_model_kind(spec.kind).load()
    if not (inspect.isclass(model_class) and issubclass(model_class, RewardModelBase)):
        raise UserError(f"reward model '{spec.kind}' is not a reward model (a RewardModelBase subclass)")
    unsupported = unsupported_options(spec)
    if unsupported:
        raise UserError(f"reward model kind '{spec.kind}' takes no {', '.join(unsupported)}")
    parameters = inspect.signature(model_class).parameters
    options = {keyword: getattr(spec, name) for name, keyword in KIND_OPTIONS.items() if keyword in parameters}
    if spec.ckpt:
        options["checkpoint"] = str(fetch_checkpoint(spec.ckpt, base_dir).resolve())
    return model_class(seed=seed, path=spec.path, base_dir=base_dir, **options)


def describe_reward_model(spec: RewardModelSpec, base_dir: Path, seed: int) -> dict[str, str | int]:
    """``kind``, ``path``, parameter count, device and dtype of the loaded model."""
    model = load_reward_model(spec, base_dir, seed)
    return {"kind": spec.kind, "path": spec.path, **model.describe()}
