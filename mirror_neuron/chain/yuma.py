"""One Yuma consensus epoch (yuma.md sections 1-4), batched: many independent epochs run as one.

Every array may carry leading batch axes (the same for all inputs); ``epoch`` returns results with the
same batch axes. Weight and bond matrices hold one row per uid in ``rows`` (default: every uid), so a
network with 64 validators among 512 uids passes 64 x 512 matrices; every other uid's rows are empty.

Usage: ``epoch(EpochInputs(stake=stake, weights=weights), YumaParams(version="yuma3"))``, then read
``.incentive``, ``.dividends``, ``.emission`` and ``.bonds`` (feed back as ``bonds_prev``) of the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import numpy as np

from mirror_neuron.chain import bonds as bond_rules
from mirror_neuron.chain.emission import split_emission
from mirror_neuron.chain.matrix import floor_u16, norm, quantized_consensus, top_k, weighted_median
from mirror_neuron.chain.params import YumaParams
from mirror_neuron.errors import UserError


@dataclass
class EpochInputs:
    """The chain state an epoch reads at block ``block``.

    ``stake`` (..., n) hotkey stake (any scale). ``weights`` (..., r, n) the stored weight rows of the
    uids in ``rows`` (any scale; each row is normalized). ``bonds_prev`` (..., r, n) the stored bonds
    (default none). ``permits`` (..., n) the validator permits stored by the previous epoch (default:
    the permits this epoch's stake earns). ``last_update`` / ``registration_block`` (..., n) blocks of
    each uid's last set_weights and registration (default: all active, no weight outdated).
    ``active`` (..., n) overrides the activity rule (last_update + activity_cutoff >= block).
    ``pending_commit_block`` (..., n) block of each uid's oldest unexpired commit, -1 for none (only
    with commit-reveal on). ``last_epoch_block``: the previous epoch's block (Yuma3 zeroes the bonds
    of uids registered since; default: bonds follow the outdated-weight mask). ``emission``: the
    amount queued for this epoch. ``present`` (..., r, n): which weight entries the chain stores
    (the uids of each set_weights, explicit zeros included); given, Yuma3 follows the chain's sparse
    epoch, where a bond whose entry is absent (or masked) drops to 0; by default every entry is
    present and such bonds decay (the dense epoch).
    """

    stake: np.ndarray
    weights: np.ndarray
    bonds_prev: np.ndarray | None = None
    permits: np.ndarray | None = None
    last_update: np.ndarray | None = None
    registration_block: np.ndarray | None = None
    active: np.ndarray | None = None
    pending_commit_block: np.ndarray | None = None
    block: int | np.ndarray = 0
    last_epoch_block: int | np.ndarray | None = None
    emission: float | np.ndarray = 1.0
    rows: np.ndarray | None = None
    present: np.ndarray | None = None


@dataclass
class EpochResult:
    """What an epoch stores and pays, per uid (..., n) unless noted.

    ``bonds``, ``new_bonds`` and ``weights`` (..., r, n) are on the rows of the inputs: the bonds as
    stored for the next epoch (computed on first access), the bonds the dividends were computed from,
    and the weights after masking and normalization. ``emission`` = ``miner_emission`` +
    ``validator_emission``; ``owner_emission`` (...,) is the owner's cut; together they sum to the
    input emission.
    """

    consensus: np.ndarray
    rank: np.ndarray
    trust: np.ndarray
    incentive: np.ndarray
    validator_trust: np.ndarray
    dividends: np.ndarray
    emission: np.ndarray
    miner_emission: np.ndarray
    validator_emission: np.ndarray
    owner_emission: np.ndarray
    active_stake: np.ndarray
    permits: np.ndarray
    new_bonds: np.ndarray
    weights: np.ndarray
    rows: np.ndarray
    params: YumaParams = field(repr=False, default_factory=YumaParams)

    @cached_property
    def bonds(self) -> np.ndarray:
        """The bonds as stored for the next epoch (``new_bonds`` after the chain's storage rules)."""
        return _stored_bonds(self.new_bonds, self.permits[..., self.rows, None], self.params)


SLICE_ENTRIES = 1 << 17  # weight entries per slice of a batch: a slice's matrices stay in the CPU's cache

# the number of trailing (per-epoch) axes of each input; any axes before them are batch axes
EPOCH_AXES = {"stake": 1, "weights": 2, "bonds_prev": 2, "permits": 1, "last_update": 1, "registration_block": 1,
              "active": 1, "pending_commit_block": 1, "block": 0, "last_epoch_block": 0, "emission": 0,
              "present": 2}


def epoch(inputs: EpochInputs, params: YumaParams | None = None) -> EpochResult:
    """Run one epoch (or a batch of independent epochs) in the order of the chain's ``run_epoch``.

    A large batch runs in slices of about ``SLICE_ENTRIES`` weight entries (a whole batch of big
    matrices runs slower than the same epochs in cache-sized slices); the result is the same.
    """
    params = params or YumaParams()
    stake, weights = np.asarray(inputs.stake), np.asarray(inputs.weights)
    batch = stake.shape[:-1]
    size = int(np.prod(batch))
    per_slice = max(1, SLICE_ENTRIES // max(weights.shape[-1] * weights.shape[-2], 1)) if weights.ndim >= 2 else size
    if stake.ndim < 1 or size <= per_slice:
        return _epoch(inputs, params)
    flat = {}
    for name, axes in EPOCH_AXES.items():
        value = getattr(inputs, name)
        if value is not None:
            value = np.asarray(value)
            tail = value.shape[value.ndim - axes:] if axes else ()
            try:
                flat[name] = np.broadcast_to(value, batch + tail).reshape((size,) + tail)  # a view when full
            except ValueError:
                raise UserError(f"{name} has shape {value.shape}, expected {batch + tail}", "epoch inputs") from None
    joined: dict[str, np.ndarray] = {}
    rows = None
    for start in range(0, size, per_slice):
        part = _epoch(replace(inputs, **{name: value[start:start + per_slice] for name, value in flat.items()}),
                      params)
        rows = part.rows
        for spec in fields(EpochResult):
            if spec.name not in ("rows", "params"):
                value = getattr(part, spec.name)
                if spec.name not in joined:
                    joined[spec.name] = np.empty((size,) + value.shape[1:], value.dtype)
                joined[spec.name][start:start + per_slice] = value
    joined = {name: value.reshape(batch + value.shape[1:]) for name, value in joined.items()}
    return EpochResult(**joined, rows=rows, params=params)


def _epoch(inputs: EpochInputs, params: YumaParams) -> EpochResult:
    stake = np.asarray(inputs.stake, dtype=np.float64)
    if stake.ndim < 1:
        raise UserError("stake must have one entry per uid", "epoch inputs")
    batch, n = stake.shape[:-1], stake.shape[-1]
    per_uid = batch + (n,)
    rows = np.arange(n) if inputs.rows is None else np.asarray(inputs.rows, dtype=int)
    if rows.ndim != 1 or len(np.unique(rows)) != len(rows) or (len(rows) and (rows.min() < 0 or rows.max() >= n)):
        raise UserError(f"rows must be distinct uids in 0..{n - 1}, one per weight row", "epoch inputs")
    dtype = np.float32 if np.asarray(inputs.weights).dtype == np.float32 else np.float64
    weights = _shaped(inputs.weights, batch + (len(rows), n), "weights", dtype)  # a copy, masked in place
    bonds_prev = None if inputs.bonds_prev is None else _shaped(inputs.bonds_prev, weights.shape, "bonds_prev", dtype)
    last_update = None if inputs.last_update is None else _shaped(inputs.last_update, per_uid, "last_update", int)
    registered = (None if inputs.registration_block is None
                  else _shaped(inputs.registration_block, per_uid, "registration_block", int)[..., None, :])

    # 1. stake, permits, activity
    stake = norm(stake)
    new_permits = top_k(stake, params.max_allowed_validators, positive_only=params.permits_need_stake)
    permits = new_permits if inputs.permits is None else _shaped(inputs.permits, per_uid, "permits", bool)
    if inputs.active is not None:
        active = _shaped(inputs.active, per_uid, "active", bool)
    elif last_update is not None:
        active = last_update + params.activity_cutoff >= np.asarray(inputs.block)[..., None]
    else:
        active = np.ones(per_uid, dtype=bool)
    active_stake = norm(stake * active * permits)
    row_stake = active_stake[..., rows].astype(dtype)

    # 1.4-1.5 weight and bond masks
    outdated = None if last_update is None or registered is None else last_update[..., rows, None] <= registered
    _mask_weights(weights, permits[..., rows, None], rows, outdated, registered, inputs, params)
    present = None
    if inputs.present is not None and params.version == "yuma3":
        present = _shaped(inputs.present, weights.shape, "present", bool)
        _mask_weights(present, permits[..., rows, None], rows, outdated, registered, inputs, params)
    weights /= _nonzero(weights.sum(axis=-1, keepdims=True))
    if bonds_prev is not None:
        if params.version == "yuma3" and inputs.last_epoch_block is not None and registered is not None:
            bonds_prev[np.broadcast_to(registered > np.asarray(inputs.last_epoch_block)[..., None, None],
                                       bonds_prev.shape)] = 0
        elif outdated is not None:
            bonds_prev[np.broadcast_to(outdated, bonds_prev.shape)] = 0
    else:
        bonds_prev = np.zeros(weights.shape, dtype)

    # 2. consensus, clipping, rank, incentive, trust
    consensus = weighted_median(row_stake, weights, params.kappa_ratio)
    clip_at = quantized_consensus(consensus).astype(dtype) if params.normalize_consensus else consensus
    clipped = np.minimum(weights, clip_at[..., None, :])
    prerank = (row_stake[..., None, :] @ weights)[..., 0, :]
    rank = (row_stake[..., None, :] @ clipped)[..., 0, :]
    incentive = norm(rank)
    trust = np.where(prerank > 0, rank / _nonzero(prerank), 0)
    validator_trust = np.zeros(per_uid, dtype)
    validator_trust[..., rows] = clipped.sum(axis=-1)
    beta = params.bonds_penalty_ratio
    bonding = clipped if beta == 1 else weights if beta == 0 else weights + beta * (clipped - weights)

    # 3. bonds and dividends
    rule = bond_rules.yuma3 if params.version == "yuma3" else bond_rules.classic
    if present is not None:  # the sparse epoch's interpolation keeps only positive entries
        bonds, row_dividends = rule(row_stake, bonding, bonds_prev, consensus, incentive, params,
                                    present & (bonding > 0) if 0 < beta < 1 else present)
    else:
        bonds, row_dividends = rule(row_stake, bonding, bonds_prev, consensus, incentive, params)
    dividends = np.zeros(per_uid, dtype)
    dividends[..., rows] = row_dividends

    # 4. emission
    split = split_emission(inputs.emission, incentive, dividends, active_stake, stake, params.owner_cut_ratio)
    return EpochResult(
        consensus=consensus, rank=rank, trust=trust, incentive=incentive, validator_trust=validator_trust,
        dividends=dividends, emission=split.total, miner_emission=split.miner, validator_emission=split.validator,
        owner_emission=split.owner, active_stake=active_stake, permits=new_permits, new_bonds=bonds, weights=weights,
        rows=rows, params=params)


def _mask_weights(weights: np.ndarray, permitted: np.ndarray, rows: np.ndarray, outdated: np.ndarray | None,
                  registered: np.ndarray | None, inputs: EpochInputs, params: YumaParams) -> None:
    """Zero, in place: rows without a permit, the diagonal, outdated weights, weights hidden by a commit."""
    if not permitted.all():
        weights *= permitted
    if params.mask_self_weights:
        weights[..., np.arange(len(rows)), rows] = 0
    if outdated is not None and outdated.any():
        weights[np.broadcast_to(outdated, weights.shape)] = 0
    if inputs.pending_commit_block is not None and registered is not None:
        commit = _shaped(inputs.pending_commit_block, registered.shape[:-2] + registered.shape[-1:],
                         "pending_commit_block", int)[..., rows, None]
        weights[np.broadcast_to((commit >= 0) & (commit < registered), weights.shape)] = 0


def _nonzero(x: np.ndarray) -> np.ndarray:
    return np.where(x == 0, 1, x)


def _stored_bonds(bonds: np.ndarray, permitted: np.ndarray, params: YumaParams) -> np.ndarray:
    """Bonds as the next epoch reads them: rows of uids without a new permit cleared, u16 floors.

    Classic bonds are stored max-upscaled per column (so the floor is relative to the column's
    largest bond); Yuma3 bonds are absolute.
    """
    if not permitted.all():
        bonds = bonds * permitted
    if not params.quantize_bonds:
        return bonds
    if params.version == "yuma3":
        return floor_u16(bonds).astype(bonds.dtype)
    top = _nonzero(bonds.max(axis=-2, keepdims=True))
    return (floor_u16(bonds / top) * top).astype(bonds.dtype)


def _shaped(values: object, shape: tuple[int, ...], name: str, dtype: type) -> np.ndarray:
    array = np.asarray(values)
    try:
        return np.broadcast_to(array, shape).astype(dtype)  # always a fresh, writable copy
    except ValueError:
        raise UserError(f"{name} has shape {array.shape}, expected {shape}", "epoch inputs") from None
