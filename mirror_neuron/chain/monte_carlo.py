"""The consensus-guarantees Monte Carlo of subtensor's docs/consensus.md (yuma.md section 6).

The game: an honest majority (stake S_H) and a cabal (1 - S_H) each hold validators and servers.
Honest validators put W_H of their weight on honest servers and the rest on the cabal's; cabal
validators put W_C on cabal servers and the rest on honest ones. One epoch with empty bonds is run per
grid point; the honest side keeps its stake when its emission share E_H = xi sum_H D + (1 - xi) sum_H I
is at least S_H. The read-out: on the contour E_H = S_H in the (W_H, W_C) plane, the largest W_H, the
"honest utility needed" to keep S_H whatever the cabal does.

Setup as ``map_consensus_guarantees``: 512 uids, validators 0-63 and servers 64-511, honest ones first
(floor(S_H * size), kept within 1..size-1); stake ~ N(1, 0.3^2) per validator and weights ~
N(1, sigma^2) per validator and server set, each clamped at 0, normalized within its set and scaled by
its side's mass; weights are stored as u16. Every grid point draws from a generator seeded 0 (the
original's Box-Muller on 16-bit uniforms, from numpy's generator rather than Rust's), so the noise is
the same across the (W_H, W_C) plane of one S_H, and the plane runs as batched epochs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mirror_neuron.chain.params import U16, YumaParams
from mirror_neuron.chain.yuma import EpochInputs, epoch
from mirror_neuron.figures import figure

HONEST_STAKES: tuple[float, ...] = (0.51, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)
UTILITIES = np.linspace(0.0, 1.0, 51)

# docs/consensus.md: honest utility needed to keep 60% of honest stake, per varied setting (the others
# at the baseline: weight spread 0.4, bonds penalty 1, validator emission share 0.5).
PUBLISHED: dict[str, dict[float, float]] = {
    "weight_stddev": {0.0: 0.60, 0.2: 0.67, 0.4: 0.73},
    "bonds_penalty": {0.0: 0.78, 0.5: 0.76, 1.0: 0.73},
    "validator_share": {0.0: 0.82, 0.25: 0.78, 0.5: 0.73},
}


@dataclass(frozen=True)
class Game:
    """One setting of the game: network size, noise, the chain's bonds penalty and kappa (u16)."""

    n: int = 512
    validators: int = 64
    weight_stddev: float = 0.4
    stake_stddev: float = 0.3
    bonds_penalty: float = 1.0
    kappa: int = 32767
    seed: int = 0
    utilities: np.ndarray = field(default_factory=lambda: UTILITIES.copy())

    def params(self) -> YumaParams:
        """Classic bonds (B = delta B on empty bonds); the penalty passed as the original's u16 conversion."""
        return YumaParams(version="yuma1-2023", kappa=self.kappa, bonds_penalty=int(self.bonds_penalty * (U16 - 1)),
                          max_allowed_validators=self.validators, permits_need_stake=True)


@dataclass(frozen=True)
class Plane:
    """The honest side's incentive and dividend shares over (W_H, W_C) for one honest stake."""

    honest_stake: float
    utilities: np.ndarray
    incentive: np.ndarray  # (W_H, W_C): sum over honest uids of I
    dividends: np.ndarray  # (W_H, W_C): sum over honest uids of D

    def retention(self, validator_share: float = 0.5) -> np.ndarray:
        """E_H over (W_H, W_C) with ``validator_share`` (xi) of emission to validators."""
        return validator_share * self.dividends + (1.0 - validator_share) * self.incentive

    def utility_needed(self, validator_share: float = 0.5) -> float:
        """The largest W_H on the contour E_H = S_H (nan when the contour misses the plane)."""
        return utility_needed(self.retention(validator_share), self.honest_stake, self.utilities)


def honest_count(share: float, size: int) -> int:
    """floor(share * size), kept within 1..size-1 (neither side is ever empty)."""
    return min(max(int(np.floor(share * size + 1e-9)), 1), size - 1)


def box_muller(rng: np.random.Generator, size: int) -> np.ndarray:
    """Standard normals from pairs of 16-bit uniforms, as the original draws them."""
    uniform = rng.integers(0, U16, size=2 * size) / U16 + 1e-6
    return np.sqrt(-2.0 * np.log(uniform[:size])) * np.cos(2.0 * np.pi * uniform[size:])


def _clamped_share(rng: np.random.Generator, size: int, stddev: float) -> np.ndarray:
    sample = np.maximum(stddev * box_muller(rng, size) + 1.0, 0.0)
    total = sample.sum()
    return sample / total if total > 0 else sample


def draw(game: Game, honest_stake: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The seeded draws of one honest stake: stake (n,), per-set weight shares (validators, n), and
    which validators and which uids are honest."""
    servers = game.n - game.validators
    honest_validators = honest_count(honest_stake, game.validators)
    honest_servers = honest_count(honest_stake, servers)
    rng = np.random.default_rng(game.seed)
    stake = np.zeros(game.n)
    stake[:honest_validators] = honest_stake * _clamped_share(rng, honest_validators, game.stake_stddev)
    stake[honest_validators:game.validators] = (1 - honest_stake) * _clamped_share(
        rng, game.validators - honest_validators, game.stake_stddev)
    shares = np.zeros((game.validators, game.n))
    sets = (slice(game.validators, game.validators + honest_servers), slice(game.validators + honest_servers, game.n))
    for validator in range(game.validators):
        for uids in sets:
            shares[validator, uids] = _clamped_share(rng, uids.stop - uids.start, game.weight_stddev)
    honest_validator = np.arange(game.validators) < honest_validators
    honest_uid = np.zeros(game.n, dtype=bool)
    honest_uid[:honest_validators] = True
    honest_uid[sets[0]] = True
    return stake, shares, honest_validator, honest_uid


def plane(game: Game, honest_stake: float, chunk: int = 64, dtype: type = np.float32, workers: int = 1) -> Plane:
    """Run the (W_H, W_C) plane of one honest stake as batched epochs, ``chunk`` epochs at a time
    (float32 by default: the read-outs agree with float64 to 1e-6), on ``workers`` threads."""
    stake, shares, honest_validator, honest_uid = draw(game, honest_stake)
    grid_h, grid_c = (g.ravel() for g in np.meshgrid(game.utilities, game.utilities, indexing="ij"))
    honest_server = honest_uid.copy()
    honest_server[:game.validators] = False
    shares = shares.astype(dtype)
    params, rows = game.params(), np.arange(game.validators)
    incentive, dividends = np.empty(grid_h.size), np.empty(grid_h.size)

    def run(start: int) -> None:
        w_h, w_c = grid_h[start:start + chunk], grid_c[start:start + chunk]
        on_honest = np.where(honest_validator[None, :], w_h[:, None], 1.0 - w_c[:, None])  # (chunk, validators)
        mass = np.where(honest_server[None, None, :], on_honest[:, :, None], 1.0 - on_honest[:, :, None])
        weights = _stored_u16(mass.astype(dtype) * shares)
        result = epoch(EpochInputs(stake=np.broadcast_to(stake, (len(w_h), game.n)), weights=weights, rows=rows,
                                   block=1), params)
        incentive[start:start + chunk] = result.incentive[:, honest_uid].sum(-1)
        dividends[start:start + chunk] = result.dividends[:, honest_uid].sum(-1)

    starts = range(0, grid_h.size, chunk)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, starts))
    else:
        for start in starts:
            run(start)
    shape = (game.utilities.size, game.utilities.size)
    return Plane(honest_stake, game.utilities, incentive.reshape(shape), dividends.reshape(shape))


def _stored_u16(weights: np.ndarray) -> np.ndarray:
    """Rows as the original sets them (floored to u16) and the chain stores them (max-upscaled and
    floored), in place; in units of 1/65535 (the epoch normalizes each row)."""
    weights *= U16
    np.floor(weights, out=weights)
    weights *= U16 / np.where((top := weights.max(axis=-1, keepdims=True)) > 0, top, 1)
    return np.floor(weights, out=weights)


def grid(game: Game, honest_stakes: tuple[float, ...] = HONEST_STAKES, chunk: int = 64, dtype: type = np.float32,
         workers: int = 1) -> dict[float, Plane]:
    """The whole grid: one plane per honest stake (11 x 51 x 51 = 28,611 epochs by default)."""
    return {stake: plane(game, stake, chunk, dtype, workers) for stake in honest_stakes}


def utility_needed(retention: np.ndarray, honest_stake: float, utilities: np.ndarray) -> float:
    """The largest W_H on the contour line E_H = S_H of ``retention`` (W_H, W_C), as matplotlib draws it."""
    import contourpy

    x, y = np.meshgrid(utilities, utilities, indexing="ij")
    lines = contourpy.contour_generator(x, y, retention).lines(honest_stake)
    points = [line[:, 0] for line in lines if len(line)]
    return float(max(p.max() for p in points)) if points else float("nan")


def series(varied: str, values: tuple[float, ...], game: Game = Game(), honest_stake: float = 0.6,
           validator_share: float = 0.5) -> dict[float, float]:
    """Honest utility needed to keep ``honest_stake`` as one setting varies (``weight_stddev``,
    ``bonds_penalty`` or ``validator_share``), the others as given."""
    if varied == "validator_share":
        measured = plane(game, honest_stake)
        return {value: measured.utility_needed(value) for value in values}
    return {value: plane(replace(game, **{varied: value}), honest_stake).utility_needed(validator_share)
            for value in values}


def plot_contours(planes: dict[float, Plane], path: Path, validator_share: float = 0.5,
                  highlight: float = 0.6) -> Path:
    """The retention lines E_H = S_H of every honest stake over (W_H, W_C), S_H = ``highlight`` bold."""
    from matplotlib import cm

    colors = cm.viridis(np.linspace(0, 1, len(planes) + 1))[1:]
    with figure(path, size=(6.0, 6.0)) as axes:
        for color, (stake, measured) in zip(colors, sorted(planes.items()), strict=True):
            x, y = np.meshgrid(measured.utilities, measured.utilities, indexing="ij")
            lines = axes.contour(x, y, measured.retention(validator_share), levels=[stake], colors=[color],
                                 linewidths=3 if abs(stake - highlight) < 1e-9 else 1)
            axes.clabel(lines, inline=True, fontsize=8, fmt=lambda _, s=stake: f"{s:.2f}")
        axes.set_xlabel("honest utility W_H (honest validators' weight on honest servers)")
        axes.set_ylabel("cabal self-weight W_C")
        axes.set_title("Honest emission = honest stake (retention lines)")
        axes.grid(linestyle="dotted", color=(0.85, 0.85, 0.85))
    return path
