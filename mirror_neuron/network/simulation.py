"""The network simulation: validators forward and set weights under the chain's rules, epochs run Yuma.

Usage::

    network = Network.build(config, prompts, seed=0)
    for _ in range(epochs):
        step = network.step()          # one epoch: churn, reveals, forward passes, set_weights, Yuma
        step.result.incentive, step.calls

Timeline of epoch ``e`` (blocks after the previous epoch's block up to ``block(e)``, when the epoch runs):
miners due for churn are re-registered at its first block, commits due are revealed there, each
validator makes its forward passes, then sets (or, with commit-reveal, commits) weights at the block
before the epoch. :meth:`Network.save` / :meth:`Network.load` keep everything an epoch needs, so a run
resumes exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirror_neuron.chain.commit_reveal import Commit, CommitReveal
from mirror_neuron.chain.emission import blocks_until_epoch
from mirror_neuron.chain.matrix import norm, top_k
from mirror_neuron.chain.params import ChainParams
from mirror_neuron.chain.weights import SetWeightsOutcome, WeightStore, check_set_weights
from mirror_neuron.chain.yuma import EpochInputs, EpochResult, epoch
from mirror_neuron.errors import UserError
from mirror_neuron.lab.tournament import CallCounts, strategy_labels
from mirror_neuron.network.config import NetworkConfig
from mirror_neuron.network.honest import Quality
from mirror_neuron.network.strategies import (
    CONSENSUS_KEPT,
    ChainView,
    Player,
    Population,
    Seat,
    ValidatorStrategy,
    make_strategy,
)
from mirror_neuron.neuron.config import part_seeds
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.miners.base import Reference
from mirror_neuron.neuron.population import build_population, make_behaviour
from mirror_neuron.neuron.state import pack, unpack

STATE_FILE = "network_state.npz"


@dataclass(frozen=True)
class Group:
    """A validator group as seated: its name, strategy and uids."""

    name: str
    strategy_name: str
    strategy: ValidatorStrategy
    uids: np.ndarray


@dataclass
class Call:
    """One set_weights (``set``), commit or reveal of an epoch, and what the chain said."""

    action: str
    outcome: SetWeightsOutcome


@dataclass
class EpochStep:
    epoch: int
    block: int
    result: EpochResult
    calls: list[Call]
    registered: np.ndarray


def validator_stakes(config: NetworkConfig, seed: int) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Each validator's share of all validator stake (summing to 1), in group order, and (group, count)."""
    groups = config.validators
    given = {name: g.stake for name, g in groups.items() if g.stake is not None}
    total_given = sum(given.values())
    if total_given > 1 + 1e-9:
        raise UserError(f"validators: the groups' stake shares sum to {total_given:g}, more than 1")
    rest = [name for name in groups if name not in given]
    if not rest and abs(total_given - 1) > 1e-9:
        raise UserError(f"validators: the groups' stake shares sum to {total_given:g}; with every group setting "
                        "one they must sum to 1")
    if rest and total_given > 1 - 1e-9:
        raise UserError(f"validators: the groups' stake shares sum to {total_given:g}, leaving no stake for "
                        f"{', '.join(rest)}")
    counted = sum(groups[name].count for name in rest)
    rng = np.random.default_rng(seed)
    stakes = []
    for name, group in groups.items():
        share = given.get(name, (1 - total_given) * group.count / counted if counted else 0.0)
        spread = np.ones(group.count) if group.distribution == "equal" else rng.lognormal(0.0, group.spread, group.count)
        stakes.append(share * spread / spread.sum())
    return np.concatenate(stakes), [(name, group.count) for name, group in groups.items()]


def build_groups(config: NetworkConfig, where: str = "validators") -> list[tuple[str, str, ValidatorStrategy]]:
    """Each group's strategy, built from its parameters (a bad name or parameter: a UserError at the group)."""
    return [(name, group.strategy, make_strategy(group.strategy, group.params, f"{where}.{name}"))
            for name, group in config.validators.items()]


class Network:
    """One network run: the chain's state and the seated validators."""

    def __init__(self, config: NetworkConfig, population: Population, stake: np.ndarray, groups: list[Group],
                 players: list[Player], params: ChainParams, seed: int) -> None:
        self.config = config
        self.population = population
        self.stake = stake
        self.groups = groups
        self.players = players
        self.params = params
        n = population.n
        self.rows = population.validator_uids
        self.store = WeightStore(n, params.weights)
        self.queue = CommitReveal(params.commit_reveal) if params.commit_reveal else None
        self.last_commit = np.full(n, -1, dtype=np.int64)
        self.consensus: list[np.ndarray] = []
        self.bonds: np.ndarray | None = None
        self.permits: np.ndarray | None = None
        self.epoch = 0
        self.rng = np.random.default_rng(seed)  # the chain's own draws: which miners churn

    @classmethod
    def build(cls, config: NetworkConfig, prompts: list[str], references: list[Reference | None] | None = None,
              contexts: list[str] | None = None, seed: int = 0, base_dir: Path | None = None) -> Network:
        """Seat every validator over one miner population, all drawn from ``seed``."""
        if not prompts:
            raise UserError("a network needs prompts for its honest validators (a data entry)")
        seeds = part_seeds(seed)
        stake_share, counts = validator_stakes(config, seeds.metagraph)
        validators, miners = len(stake_share), config.metagraph.n
        n = validators + miners
        miners_seed = config.miners_seed if config.miners_seed is not None else seeds.miners
        behaviours = build_population(config.miners, miners, seeds.population, miners_seed)
        labels = np.array([name for name, count in counts for _ in range(count)]
                          + strategy_labels(config.miners, behaviours, miners_seed), dtype=object)
        placeholder = make_behaviour("honest", {})
        rng = np.random.default_rng(seeds.metagraph)
        serving = np.ones(n, dtype=bool)
        serving[validators + rng.permutation(miners)[:round(config.metagraph.not_serving * miners)]] = False
        stake = np.zeros(n)
        stake[:validators] = stake_share
        permit = np.arange(n) < validators
        metagraph = Metagraph([f"hotkey-{uid}" for uid in range(n)], serving, stake, permit, 0, n)
        has_references = any(r is not None and r.answer for r in references or [])
        population = Population(n, np.arange(validators), np.arange(validators, n), [placeholder] * validators
                                + behaviours, labels, metagraph, config.rules(), list(prompts),
                                list(contexts or []), list(references or []), base_dir,
                                Quality(n) if has_references else None, CallCounts(n))
        built = build_groups(config)
        groups, players = [], []
        start = 0
        seat_seeds = np.random.SeedSequence(seeds.neuron).spawn(validators)
        for (name, strategy_name, strategy), (_, count) in zip(built, counts):
            uids = np.arange(start, start + count)
            groups.append(Group(name, strategy_name, strategy, uids))
            for index, uid in enumerate(uids):
                seat = Seat(int(uid), name, index, int(seat_seeds[uid].generate_state(1)[0]), population)
                players.append(strategy.play(seat))
            start += count
        return cls(config, population, stake, groups, players, config.chain.params(), seeds.gating)

    # -- the clock -----------------------------------------------------------------------------------

    def block(self, index: int) -> int:
        """The block at which epoch ``index`` runs."""
        tempo = self.params.tempo
        return blocks_until_epoch(0, tempo, self.config.chain.netuid) + index * (tempo + 1)

    def _permits(self) -> np.ndarray:
        if self.permits is not None:
            return self.permits
        yuma = self.params.yuma
        return top_k(norm(self.stake), yuma.max_allowed_validators, positive_only=yuma.permits_need_stake)

    # -- one epoch -----------------------------------------------------------------------------------

    def step(self, forward_passes: int | None = None) -> EpochStep:
        """Run the next epoch; each validator makes ``forward_passes`` passes first (default: the chain's
        ``forward_passes_per_block`` times the blocks of an epoch)."""
        index, block = self.epoch, self.block(self.epoch)
        first = self.block(index - 1) + 1 if index else 0
        permits = self._permits()
        calls: list[Call] = []
        registered = self._churn(index, first)
        if self.queue is not None:
            for commit in self.queue.due(index):
                calls.append(Call("reveal", self.store.set_weights(
                    commit.uid, list(commit.uids), list(commit.values), block=first, has_permit=bool(permits[commit.uid]))))
        passes = self.config.chain.passes_per_epoch if forward_passes is None else forward_passes
        for player in self.players:
            player.forward(passes)
        setting = block - 1
        view = ChainView(-1, index, setting, self.consensus, self.store.weights, self.stake,
                         self.population.miner_uids, self.population.labels)
        for player in self.players:
            view.uid = player.seat.uid
            row = player.weights(view)
            if row is not None:
                calls.append(self._set(player.seat.uid, np.asarray(row, dtype=np.float64), setting, index,
                                       bool(permits[player.seat.uid])))
        inputs = EpochInputs(
            stake=self.stake, weights=self.store.weights[self.rows], rows=self.rows, bonds_prev=self.bonds,
            permits=self.permits, last_update=self.store.last_update, registration_block=self.store.registration_block,
            block=block, last_epoch_block=self.block(index - 1) if index else None,
            pending_commit_block=self.queue.pending_commit_blocks(self.population.n) if self.queue else None,
            emission=float(self.params.emission_per_block * (self.params.tempo + 1)))
        result = epoch(inputs, self.params.yuma)
        self.bonds, self.permits = result.bonds, result.permits
        self.consensus = (self.consensus + [result.consensus])[-CONSENSUS_KEPT:]
        self.epoch += 1
        return EpochStep(index, block, result, calls, registered)

    def _churn(self, index: int, block: int) -> np.ndarray:
        churn = self.config.churn
        if not churn.every or index == 0 or index % churn.every:
            return np.zeros(0, dtype=int)
        miners = self.population.miner_uids
        uids = np.sort(self.rng.choice(miners, size=min(churn.count, len(miners)), replace=False))
        for uid in uids:
            self.store.register(int(uid), block)
        for player in self.players:
            player.registered(uids)
        return uids

    def _set(self, uid: int, row: np.ndarray, block: int, index: int, permit: bool) -> Call:
        if row.shape != (self.population.n,):
            raise UserError(f"validator {uid} ({self.population.labels[uid]}) returned weights of shape {row.shape}; "
                            f"expected one weight per uid ({self.population.n})")
        uids = np.flatnonzero(np.nan_to_num(row) > 0)
        values = row[uids]
        if self.queue is None:
            return Call("set", self.store.set_weights(uid, uids.tolist(), values.tolist(), block=block,
                                                      has_permit=permit))
        outcome = check_set_weights(uid, uids.tolist(), values, n=self.population.n, has_permit=permit, block=block,
                                    last_update=int(self.last_commit[uid]), rules=self.params.weights)
        if outcome.accepted:
            self.queue.commit(uid, uids.tolist(), values.tolist(), epoch=index, block=block)
            self.last_commit[uid] = block
        else:
            self.store.rejected.append(outcome)
        return Call("commit", outcome)

    # -- persistence ---------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Everything the next epoch reads, into ``folder`` (the chain's state and each validator's)."""
        folder.mkdir(parents=True, exist_ok=True)
        rows = self.rows
        state = {
            "epoch": self.epoch, "rng": self.rng.bit_generator.state, "weights": self.store.weights[rows],
            "present": self.store.present[rows], "last_update": self.store.last_update,
            "registration_block": self.store.registration_block, "last_commit": self.last_commit,
            "consensus": np.array(self.consensus) if self.consensus else np.zeros((0, self.population.n)),
            "bonds": self.bonds, "permits": self.permits,
            "pending": [[c.uid, c.epoch, c.block, list(c.uids), list(c.values)] for c in self.queue.pending]
            if self.queue else [],
            "quality": [self.population.quality.f1_sum, self.population.quality.calls]
            if self.population.quality else None,
            "calls": self.population.calls.columns(),
            "players": [player.save(folder) for player in self.players],
        }
        text, arrays = pack(state)
        with open(folder / STATE_FILE, "wb") as handle:
            np.savez(handle, state=text, **arrays)

    def load(self, folder: Path) -> None:
        """Restore what :meth:`save` wrote."""
        with np.load(folder / STATE_FILE) as saved:
            state = unpack(str(saved["state"]), saved)
        rows = self.rows
        self.epoch = state["epoch"]
        self.rng.bit_generator.state = state["rng"]
        self.store.weights[rows], self.store.present[rows] = state["weights"], state["present"]
        self.store.last_update[:], self.store.registration_block[:] = state["last_update"], state["registration_block"]
        self.last_commit[:] = state["last_commit"]
        self.consensus = list(state["consensus"])
        self.bonds, self.permits = state["bonds"], state["permits"]
        if self.queue is not None:
            self.queue.pending = [Commit(uid, epoch_, block, tuple(uids), tuple(values))
                                  for uid, epoch_, block, uids, values in state["pending"]]
        if self.population.quality is not None and state["quality"] is not None:
            self.population.quality.f1_sum[:], self.population.quality.calls[:] = state["quality"]
        self.population.calls.restore(state["calls"])
        for player, player_state in zip(self.players, state["players"]):
            player.set_state(player_state, folder)
