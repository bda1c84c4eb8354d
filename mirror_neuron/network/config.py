"""A network's config (a ``model`` entry with ``type: network``): the miner population, the validator
groups and the chain, with subnet 1's 2023 values as defaults (see :mod:`mirror_neuron.chain.params`)."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from mirror_neuron.chain.params import PPM, ChainParams, Version, WeightRules, YumaParams
from mirror_neuron.limits import AtMost
from mirror_neuron.neuron.config import MetagraphConfig

OWNER_CUTS = {"50/50": 0, "18/41/41": 11796}  # emission split (miners/validators, or owner/miners/validators)
YUMA, RULES, CHAIN = YumaParams(), WeightRules(), ChainParams()  # the chain layer's defaults: one source of truth


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChainConfig(_Strict):
    """The subnet: its clock, its Yuma version and parameters (chain units: u16 parts of 65535, ppm), the
    set_weights rules, commit-reveal and the emission split. Defaults: subnet 1 at its 2023 launch.

    ``forward_passes_per_block``: forward passes each honest validator makes per block (0.2 with tempo
    99: 20 per epoch); ``commit_reveal``: ``off`` or the reveal period in tempos; ``emission_split``:
    ``50/50`` (2023) or ``18/41/41`` (an 18% owner cut first).
    """

    tempo: Annotated[PositiveInt, AtMost("steps")] = CHAIN.tempo
    netuid: NonNegativeInt = 1
    forward_passes_per_block: float = Field(0.2, ge=0.0, le=100.0)
    version: Version = YUMA.version
    kappa: int = YUMA.kappa
    bonds_moving_average: int = YUMA.bonds_moving_average
    bonds_penalty: int = YUMA.bonds_penalty
    liquid_alpha: bool | None = None
    alpha_low: int = YUMA.alpha_low
    alpha_high: int = YUMA.alpha_high
    alpha_sigmoid_steepness: float = YUMA.alpha_sigmoid_steepness
    activity_cutoff: NonNegativeInt = YUMA.activity_cutoff
    max_allowed_validators: PositiveInt = YUMA.max_allowed_validators
    min_allowed_weights: NonNegativeInt = RULES.min_allowed_weights
    max_weight_limit: int = RULES.max_weight_limit
    weights_set_rate_limit: NonNegativeInt = RULES.weights_set_rate_limit
    commit_reveal: Literal["off"] | Annotated[PositiveInt, Field(le=100)] = "off"
    emission_split: Literal["50/50", "18/41/41"] = "50/50"
    emission_per_block: NonNegativeInt = CHAIN.emission_per_block

    @field_validator("bonds_moving_average")
    @classmethod
    def _ppm(cls, value: int) -> int:
        if not 0 <= value <= PPM:
            raise ValueError(f"bonds_moving_average is in parts per million (0..{PPM}), not {value}")
        return value

    @property
    def reveal_period(self) -> int:
        """Tempos a commit stays hidden (0: commit-reveal is off)."""
        return 0 if self.commit_reveal == "off" else int(self.commit_reveal)

    @property
    def passes_per_epoch(self) -> int:
        return round(self.forward_passes_per_block * (self.tempo + 1))

    def _fields_of(self, params: type) -> dict[str, Any]:
        """This config's values of the chain-layer dataclass ``params``'s fields that it declares."""
        return {f.name: getattr(self, f.name) for f in fields(params) if f.name in type(self).model_fields}

    def params(self) -> ChainParams:
        """The chain layer's parameters (a value out of the chain's range is a ConfigError at ``chain.KEY``)."""
        yuma = YumaParams(**self._fields_of(YumaParams), owner_cut=OWNER_CUTS[self.emission_split])
        rules = WeightRules(**self._fields_of(WeightRules))
        return ChainParams(yuma=yuma, weights=rules, tempo=self.tempo, commit_reveal=self.reveal_period,
                           emission_per_block=self.emission_per_block)


class ValidatorGroup(BaseModel):
    """Validators that play one strategy: how many, their share of all validator stake (default: in
    proportion to their count among the groups that set none), how it is spread among them
    (``equal``, or ``lognormal`` with sigma ``spread``), and the strategy with its parameters (every
    other key)."""

    model_config = ConfigDict(extra="allow")

    strategy: str = "honest"
    count: Annotated[PositiveInt, AtMost("uids")] = 1
    stake: float | None = Field(None, gt=0.0, le=1.0)
    distribution: Literal["equal", "lognormal"] = "equal"
    spread: float = Field(0.5, ge=0.0, le=5.0)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class NetworkChurn(_Strict):
    """Every ``every`` epochs, ``count`` random miner uids are re-registered under new hotkeys (0: none)."""

    every: NonNegativeInt = 0
    count: Annotated[NonNegativeInt, AtMost("uids")] = 1


class NetworkConfig(_Strict):
    """One miner population (``metagraph``: its ``n`` miners; ``miners``: their behaviours, as a neuron's),
    validator groups by name, and the chain. Validators take uids 0..V-1 in group order; miners follow.
    Unset seeds follow the experiment's seed."""

    metagraph: MetagraphConfig = MetagraphConfig()
    miners: dict[str, Any] = {}
    churn: NetworkChurn = NetworkChurn()
    validators: dict[str, ValidatorGroup] = {"honest": ValidatorGroup(count=4)}
    chain: ChainConfig = ChainConfig()
    seed: int | None = None
    miners_seed: int | None = None

    @field_validator("validators")
    @classmethod
    def _some_validators(cls, value: dict[str, ValidatorGroup]) -> dict[str, ValidatorGroup]:
        if not value:
            raise ValueError("a network needs at least one validator group")
        return value

    @model_validator(mode="after")
    def _copied_groups_exist(self) -> NetworkConfig:
        for name, group in self.validators.items():
            source = group.params.get("source", "consensus")
            if group.strategy == "copier" and source != "consensus" and source not in self.validators:
                raise ValueError(f"validators.{name}.source: '{source}' is no validator group "
                                 f"({', '.join(self.validators)}) and not 'consensus'")
            if group.strategy == "copier" and source == name:
                raise ValueError(f"validators.{name}.source: a copier group cannot copy itself")
        return self

    @property
    def validator_count(self) -> int:
        return sum(group.count for group in self.validators.values())

    def rules(self) -> WeightRules:
        return WeightRules(self.chain.min_allowed_weights, self.chain.max_weight_limit,
                           self.chain.weights_set_rate_limit)
