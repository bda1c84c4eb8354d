"""The chain's hyperparameters, in the chain's own units, with subnet 1's values at its 2023 launch.

Ratios keep the units the chain stores them in (u16 parts of 65535, or parts per million), so a value
read off a hyperparameter listing can be copied in unchanged; the ``*_ratio`` properties give floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from mirror_neuron.errors import ConfigError, did_you_mean

U16 = 65535
PPM = 1_000_000

Version = Literal["yuma1-2023", "liquid-alpha-1", "yuma3"]
VERSIONS: tuple[str, ...] = ("yuma1-2023", "liquid-alpha-1", "yuma3")
LiquidAlphaTarget = Literal["new_bonds", "old_bonds"]


@dataclass(frozen=True)
class YumaParams:
    """How one epoch turns weights and stake into consensus, bonds and emission.

    Versions (yuma.md section 3): ``yuma1-2023`` classic bonds with one EMA rate; ``liquid-alpha-1``
    classic bonds with a per-miner rate from the consensus percentiles; ``yuma3`` per-validator
    absolute bonds, with liquid alpha 2 unless ``liquid_alpha`` is false.

    Consensus: ``kappa`` (u16), the stake share that must back a weight for it to count.
    Bonds: ``bonds_moving_average`` (ppm; the EMA rate is ``1 - bonds_moving_average / 1e6``),
    ``bonds_penalty`` (u16; how far bonds follow clipped rather than raw weights; 2023: implicitly
    1), ``alpha_low`` / ``alpha_high`` (u16, the liquid alpha range), ``alpha_sigmoid_steepness``.
    Masks: ``activity_cutoff`` (blocks), ``max_allowed_validators`` (permits by stake),
    ``permits_need_stake`` (only staked uids get permits; the chain since 2025-05, default on for
    yuma3), ``mask_self_weights`` (zero the diagonal; off only for toy graphs whose validators are
    not miners).
    Emission: ``owner_cut`` (u16; 0 in 2023, 11796 = 18% later, giving 18/41/41).
    Where public simulators differ from the chain (yuma.md section 9), a switch, the chain by default:
    ``normalize_consensus`` (they quantize C to sum 1 before clipping), ``liquid_alpha_1_weights``
    (``old_bonds``: their LA1 rate weights the old bond), ``quantize_bonds`` (the chain floors
    stored bonds to u16; the worked examples are float).
    """

    version: Version = "yuma1-2023"
    kappa: int = 32767
    bonds_moving_average: int = 900_000
    bonds_penalty: int = U16
    liquid_alpha: bool | None = None
    alpha_low: int = 45875
    alpha_high: int = 58982
    alpha_sigmoid_steepness: float = 1000.0
    activity_cutoff: int = 5000
    max_allowed_validators: int = 128
    permits_need_stake: bool | None = None
    mask_self_weights: bool = True
    owner_cut: int = 0
    normalize_consensus: bool = False
    liquid_alpha_1_weights: LiquidAlphaTarget = "new_bonds"
    quantize_bonds: bool = True

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ConfigError(f"unknown Yuma version {self.version!r}{did_you_mean(self.version, VERSIONS)}; "
                              f"choose one of {', '.join(VERSIONS)}", "chain.version")
        for name in ("kappa", "bonds_penalty", "alpha_low", "alpha_high", "owner_cut"):
            _check_range(name, getattr(self, name), 0, U16)
        _check_range("bonds_moving_average", self.bonds_moving_average, 0, PPM)
        _check_range("activity_cutoff", self.activity_cutoff, 0, None)
        _check_range("max_allowed_validators", self.max_allowed_validators, 1, None)
        if self.alpha_low > self.alpha_high:
            raise ConfigError(f"alpha_low ({self.alpha_low}) is above alpha_high ({self.alpha_high})", "chain.alpha_low")
        if self.liquid_alpha_1_weights not in ("new_bonds", "old_bonds"):
            raise ConfigError(f"liquid_alpha_1_weights must be new_bonds or old_bonds, not "
                              f"{self.liquid_alpha_1_weights!r}", "chain.liquid_alpha_1_weights")
        classic_la = self.version == "liquid-alpha-1"
        if self.version != "yuma3" and self.liquid_alpha is not None and self.liquid_alpha != classic_la:
            wanted = "liquid-alpha-1" if self.liquid_alpha else "yuma1-2023"
            raise ConfigError(f"liquid_alpha={self.liquid_alpha} contradicts version {self.version!r}; "
                              f"use version {wanted!r}", "chain.liquid_alpha")
        if self.liquid_alpha is None:
            object.__setattr__(self, "liquid_alpha", self.version != "yuma1-2023")
        if self.permits_need_stake is None:
            object.__setattr__(self, "permits_need_stake", self.version == "yuma3")

    @property
    def kappa_ratio(self) -> float:
        return self.kappa / U16

    @property
    def alpha(self) -> float:
        """The bonds' EMA rate without liquid alpha: the weight on the new bonds (0.1 by default)."""
        return 1.0 - self.bonds_moving_average / PPM

    @property
    def bonds_penalty_ratio(self) -> float:
        return self.bonds_penalty / U16

    @property
    def alpha_low_ratio(self) -> float:
        return self.alpha_low / U16

    @property
    def alpha_high_ratio(self) -> float:
        return self.alpha_high / U16

    @property
    def owner_cut_ratio(self) -> float:
        return self.owner_cut / U16


@dataclass(frozen=True)
class WeightRules:
    """What the chain checks when a validator sets weights (yuma.md section 1.6), 2023 subnet 1's values.

    ``min_allowed_weights``: at least min(this, n) entries; ``max_weight_limit`` (u16): the largest
    normalized weight, times 65535; ``weights_set_rate_limit``: blocks between two accepted calls.
    """

    min_allowed_weights: int = 8
    max_weight_limit: int = 455
    weights_set_rate_limit: int = 100

    def __post_init__(self) -> None:
        _check_range("min_allowed_weights", self.min_allowed_weights, 0, None)
        _check_range("max_weight_limit", self.max_weight_limit, 0, U16)
        _check_range("weights_set_rate_limit", self.weights_set_rate_limit, 0, None)


@dataclass(frozen=True)
class ChainParams:
    """A subnet: its epoch (``yuma``), its set_weights rules, its clock and its commit-reveal setting.

    ``tempo``: blocks per epoch (an epoch runs every tempo + 1 blocks); ``commit_reveal``: 0 (off) or
    the reveal period in epochs; ``emission_per_block`` in rao. Defaults: subnet 1 at its 2023 launch.
    """

    yuma: YumaParams = field(default_factory=YumaParams)
    weights: WeightRules = field(default_factory=WeightRules)
    tempo: int = 99
    commit_reveal: int = 0
    emission_per_block: int = 142_223_000
    max_allowed_uids: int = 1024
    immunity_period: int = 7200

    def __post_init__(self) -> None:
        _check_range("tempo", self.tempo, 1, None)
        _check_range("commit_reveal", self.commit_reveal, 0, 100)
        for spec in fields(self):
            if spec.name not in ("yuma", "weights"):
                _check_range(spec.name, getattr(self, spec.name), 0, None)


def _check_range(name: str, value: object, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, not {value!r}", f"chain.{name}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {bound}, not {value}", f"chain.{name}")


SUBNET1_2023 = ChainParams()
