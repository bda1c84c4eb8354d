"""The neuron's config (a ``model`` entry with ``type: neuron``) and building a Neuron from it."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from mirror_neuron import registry
from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.limits import AtMost
from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.gating.base import GatingModelBase
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.population import build_population
from mirror_neuron.neuron.reward.base import RewardModelBase
from mirror_neuron.neuron.reward.filters.base import Filter
from mirror_neuron.neuron.versions import Version, resolve
from mirror_neuron.seeds import Seed


def _check_topk(value: int | None) -> int | None:
    if value is not None and value != -1 and value < 1:
        raise ValueError(f"topk is the number of uids to query: a positive whole number, or null or -1 for every "
                         f"available uid, not {value}")
    return value


TopK = Annotated[int | None, AfterValidator(_check_topk)]  # uids queried: None or -1 means every available one

MIRROR_BASE_PROMPT = "You are a helpful assistant. Answer accurately and concisely."
MIRROR_FOLLOW_UP = "\n\nAsk a follow up question."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetagraphConfig(_Strict):
    n: Annotated[PositiveInt, AtMost("uids")] = 64
    not_serving: float = Field(0.0, ge=0.0, le=1.0)  # share of uids whose axon does not serve
    validators: Annotated[NonNegativeInt, AtMost("uids")] = 0  # uids with a validator permit (never queried)


class ChurnConfig(_Strict):
    """Every ``every`` forward passes, ``count`` random uids get new hotkeys (0: no churn)."""

    every: NonNegativeInt = 0
    count: Annotated[NonNegativeInt, AtMost("uids")] = 1


class PartConfig(_Strict):
    """A gating or reward model: its registered ``type`` and its parameters."""

    model_config = ConfigDict(extra="allow")
    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class WeightsConfig(_Strict):
    alpha: float = Field(0.99, ge=0.0, le=1.0)  # weight on the old moving score
    rule: Literal["softmax_scatter", "scatter"] = "softmax_scatter"
    min_allowed_weights: Annotated[NonNegativeInt, AtMost("uids")] = 8
    max_weight_limit: float = Field(0.1, gt=0.0, le=1.0)
    exclude_quantile: float = Field(0.0, ge=0.0, lt=1.0)
    # the originals' rule: the quantile is clamped so that min_allowed_weights survive, and a metagraph
    # smaller than min_allowed_weights gets uniform weights
    quantile_clamp: bool = False


class LoopConfig(_Strict):
    """How the neuron trains: its loop (``kind``) and the loop's texts, timeouts and counts.

    ``custom``: the mirror's two passes a step (a question, then its answer, both rewarded). ``core-2023``:
    the answer pass is the forward; questions are separate calls to its best uids, kept by the difference
    reward. ``openvalidators``: one forward is an augment step, then ``followup_steps`` follow-up/answer
    pairs (see :mod:`mirror_neuron.neuron.loops`).
    """

    kind: Literal["custom", "core-2023", "openvalidators"] = "custom"
    base_prompt: str = MIRROR_BASE_PROMPT  # the system message (core-2023: replaced by the context at each reset)
    follow_up_prompt: str = MIRROR_FOLLOW_UP  # what follows the text a question is asked about
    reset_every: PositiveInt = 3  # steps between restarts from a fresh prompt
    question_timeout: PositiveFloat = 12.0  # core-2023: question calls; openvalidators: augment and follow-ups
    followup_steps: Annotated[PositiveInt, AtMost("steps")] = 4  # openvalidators: follow-up/answer pairs per forward
    context_sentences: Annotated[tuple[PositiveInt, PositiveInt], AtMost("words")] = (15, 30)  # openvalidators: the context's length, drawn
    summary_sentences: Annotated[tuple[PositiveInt, PositiveInt], AtMost("words")] = (4, 8)  # openvalidators: the summary asked for, drawn
    filter_base_prompt: bool = False  # openvalidators 1.1.8+: filters compare with the base prompt
    inference_topk: Annotated[PositiveInt, AtMost("uids")] = 10
    inference_over_all_uids: bool = False  # core-2023: the top uids by gating over every uid, not the available


class NeuronConfig(_Strict):
    """The parts of a simulated validator. Unset seeds follow the experiment's seed.

    ``validator`` names the version mirrored; its preset fills every key the config leaves out (see
    :mod:`mirror_neuron.neuron.versions`), and ``deviations`` (computed, not set) lists the keys set to
    other values than the version's.
    """

    validator: Version = "custom"
    deviations: list[dict[str, Any]] = []
    loop: LoopConfig = LoopConfig()
    metagraph: MetagraphConfig = MetagraphConfig()
    churn: ChurnConfig = ChurnConfig()
    miners: dict[str, Any] = {}  # behaviour -> count | share | {count|share, params...}; the rest are honest
    gating: PartConfig = PartConfig(type="RandomGatingModel")
    reward: PartConfig | None = PartConfig(type="ConstantRewardModel")  # null: gating scores stand in
    weights: WeightsConfig = WeightsConfig()
    screen: PartConfig | None = None  # core-2023: a filter screening questions and inference (its nsfw check)
    timeout: PositiveFloat = 12.0
    training_topk: Annotated[PositiveInt, AtMost("uids")] = 50
    vpermit_tao_limit: float | None = None  # permit holders with at most this stake are queried (None: none)
    seed: Seed | None = None
    # the miners' own habits (an honest uid's wording, an LM miner's sampling); unset: drawn from seed
    miners_seed: Seed | None = None

    @model_validator(mode="before")
    @classmethod
    def _version_preset(cls, data: Any) -> Any:
        return resolve(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> NeuronConfig:
        """openvalidators refused to start unless its scorer weights summed to 1; so does its mirror."""
        if self.validator.startswith("openvalidators") and self.reward is not None and \
                self.reward.type == "RewardStack":
            scorers = self.reward.params.get("scorers") or {}
            total = sum(float((spec or {}).get("weight", 1.0)) for spec in scorers.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"reward.scorers: the weights sum to {total:g}; {self.validator} requires 1 "
                                 "(the original refused to start otherwise)")
        return self


class PartSeeds(NamedTuple):
    metagraph: int
    population: int
    pool: int
    gating: int
    reward: int
    neuron: int
    miners: int


def part_seeds(seed: int) -> PartSeeds:
    """Independent seeds for each part, all derived from one experiment seed."""
    return PartSeeds(*(int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(PartSeeds._fields))))


def build_metagraph(config: NeuronConfig, seed: int) -> Metagraph:
    graph = config.metagraph
    return Metagraph.create(graph.n, graph.not_serving, graph.validators, seed=seed)


def build_pool(config: NeuronConfig, n: int, seeds: PartSeeds) -> DummyDendritePool:
    """The dendrite pool of the config's miners: roles shuffled by ``seeds.population``, the miners' own
    seed ``miners_seed`` (default ``seeds.miners``), the calls' latencies drawn from ``seeds.pool``."""
    miners_seed = config.miners_seed if config.miners_seed is not None else seeds.miners
    return DummyDendritePool(build_population(config.miners, n, seeds.population, miners_seed), seed=seeds.pool)


def build_gating(config: NeuronConfig, n: int, seed: int) -> GatingModelBase:
    return _part("gating", config.gating, n_uids=n, seed=seed)


def build_reward(config: NeuronConfig, seed: int, base_dir: Path | None = None) -> RewardModelBase | None:
    """The neuron's reward model (None: ``reward: null``, the gating scores stand in). Relative model
    paths and checkpoints are read from ``base_dir`` (the config's folder) when given."""
    if config.reward is None:
        return None
    model = _part("reward", config.reward, seed=seed, base_dir=base_dir)
    if not isinstance(model, RewardModelBase):
        raise UserError(f"reward.{config.reward.type}: builds a {type(model).__name__}, not a reward model "
                        "(a RewardModelBase)")
    return model


def build_screen(config: NeuronConfig) -> Filter | None:
    """core-2023's screen of questions and inference texts (a filter: 0 flags a text), or None."""
    if config.screen is None:
        return None
    return _part("filter", config.screen)


def _part(family: str, part: PartConfig, **fixed: Any) -> Any:
    """Build a part, its parameters checked against its parameter model first; a supplied argument its
    class does not take (``base_dir``) is left out."""
    found = registry.get(family, part.type)
    cls = found.load()
    try:
        registry.validate_params(found, part.params)
    except registry.ParamError as error:
        raise UserError(error.message) from None
    try:
        return cls(**registry.taken(cls, **fixed), **part.params)
    except TypeError as error:
        raise UserError(f"{family}.{part.type}: {error}") from None


def check_part(family: str, part: PartConfig, where: Callable[..., str], *keys: str,
               base_dir: Path | None = None) -> None:
    """Check a gating or reward part's ``type`` and parameters before any model is loaded (a RewardStack's
    scorers and filters too): names, types and values, model paths and devices; a problem is a
    :class:`ConfigError` at the key it concerns. ``where(*keys)`` locates a key path below the part's
    parent, ``keys`` the part itself; relative model paths are looked up in ``base_dir``."""
    _check_component(family, part.type, part.params, where, *keys, base_dir=base_dir)


def check_model_options(params: dict[str, Any], where: Callable[..., str], *keys: str,
                        base_dir: Path | None = None) -> None:
    """The model a component's ``path`` (and ``tokenizer``) names can be found, and its ``device`` exists."""
    from mirror_neuron.models.causal_lm import check_model_path
    from mirror_neuron.models.embeddings import ALIASES as EMBEDDERS

    for key in ("path", "tokenizer"):
        value = params.get(key)
        if isinstance(value, str) and value != "default" and value not in EMBEDDERS:  # minilm: the packaged copy
            try:
                check_model_path(value, base_dir, tokenizer=key == "tokenizer")
            except UserError as error:
                raise ConfigError(error.message, where(*keys, key)) from None
    device = params.get("device")
    if isinstance(device, str) and device.startswith("cuda"):
        from mirror_neuron.models.device import resolve_device

        try:
            resolve_device(device)
        except UserError as error:
            raise ConfigError(error.message, where(*keys, "device")) from None


def _check_component(family: str, name: str, params: dict[str, Any], where: Callable[..., str],
                     *keys: str, base_dir: Path | None = None) -> None:
    try:
        found = registry.get(family, name)
    except UserError as error:
        raise ConfigError(error.message, where(*keys)) from None
    if found.name == "RewardStack":
        _check_stack(params, where, *keys)
    try:
        registry.check_params(found, params)  # names first (nothing imported): the closest valid names
        if found.name != "RewardStack":  # its scorers and filters are checked one by one below
            registry.validate_params(found, params)  # then types and values, before any model is loaded
    except registry.ParamError as error:
        raise ConfigError(error.message, where(*keys, *([error.key] if error.key else []))) from None
    if found.name != "RewardStack":
        check_model_options(params, where, *keys, base_dir=base_dir)
        return
    for scorer, spec in params["scorers"].items():
        spec = {k: v for k, v in spec.items() if k != "weight"}
        _check_component("reward", spec.pop("type"), spec, where, *keys, "scorers", scorer, base_dir=base_dir)
    for fltr, spec in (params.get("filters") or {}).items():
        spec = {k: v for k, v in dict(spec or {}).items() if k != "enabled"} if isinstance(spec, dict) else {}
        _check_component("filter", fltr, spec, where, *keys, "filters", fltr, base_dir=base_dir)


def _check_stack(params: dict[str, Any], where: Callable[..., str], *keys: str) -> None:
    """A RewardStack's shape: at least one scorer, each a mapping with a ``type`` and a numeric ``weight``;
    filters a mapping of mappings."""
    scorers = params.get("scorers")
    if not isinstance(scorers, dict) or not scorers:
        got = "none" if not scorers else f"{type(scorers).__name__} {scorers!r}"[:60]
        raise ConfigError("a reward stack needs at least one scorer, as {name: {type: ..., weight: 1.0}}; "
                          f"got {got}", where(*keys, "scorers"))
    for scorer, spec in scorers.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError("a scorer is a mapping with a type (a registered reward model) and an optional weight",
                              where(*keys, "scorers", scorer))
        weight = spec.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise ConfigError(f"a scorer's weight is a finite number, not {weight!r}"[:120],
                              where(*keys, "scorers", scorer, "weight"))
    filters = params.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise ConfigError(f"filters are a mapping of filter names to their parameters, got {filters!r}"[:120],
                          where(*keys, "filters"))
    for fltr, spec in (filters or {}).items():
        if spec is not None and not isinstance(spec, (dict, bool)):
            raise ConfigError(f"a filter's parameters are a mapping, got {spec!r}"[:120], where(*keys, "filters", fltr))
