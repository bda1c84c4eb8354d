"""Network performance from a run's per-uid epoch table: who the emission goes to, and at what quality.

- honest miners' share: the share of each epoch's emission paid to miners of the baseline strategy;
- the G ratio (yuma.md section 5): a validator group's dividends per stake over the median honest
  validator's, ``G = mean_{i in g}(D_i / S_i) / median_{i honest}(D_i / S_i)``, with dividends summed
  over the epochs after the warm-up; its interval resamples the repetitions (bootstrap);
- consensus spread: the stake-weighted share of weight clipped away by consensus, ``1 - sum_i S_i VT_i``;
- emission-weighted token F1: the F1 against the reference of what each miner answered (its first
  calls), weighted by its emission;
- per miner uid, its share of the emission after the warm-up beside the honest validators' tally of its
  calls and rewards (:func:`miner_uids`): what the tournament judge compares strategies by.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mirror_neuron.figures import figure
from mirror_neuron.verdicts import Interval, Verdict, from_table


def validator_dividends(epochs: pd.DataFrame, warmup: int) -> pd.DataFrame:
    """Per repetition and validator: group, strategy, stake share and its share of the emission paid
    after the warm-up (``dividends``), and dividends per stake."""
    kept = epochs[(epochs["role"] == "validator") & (epochs["epoch"] >= warmup)]
    totals = epochs[epochs["epoch"] >= warmup].groupby("repetition")["emission"].sum()
    table = kept.groupby(["repetition", "uid", "group", "strategy"], as_index=False).agg(
        stake=("stake", "first"), dividends=("validator_emission", "sum"))
    table["dividends"] = table["dividends"] / table["repetition"].map(totals)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["dividends_per_stake"] = np.where(table["stake"] > 0, table["dividends"] / table["stake"], np.nan)
    return table


def miner_uids(epochs: pd.DataFrame, calls: pd.DataFrame, warmup: int) -> pd.DataFrame:
    """Per repetition and miner uid: its calls tally (``calls``: repetition, uid, behaviour, available,
    calls, successes, ...) and as ``weight`` its share of all emission paid after the warm-up."""
    kept = epochs[epochs["epoch"] >= warmup]
    totals = kept.groupby("repetition")["emission"].sum()
    paid = kept[kept["role"] == "miner"].groupby(["repetition", "uid"], as_index=False)["miner_emission"].sum()
    paid["weight"] = paid["miner_emission"] / paid["repetition"].map(totals)
    table = calls.merge(paid[["repetition", "uid", "weight"]], on=["repetition", "uid"], how="left")
    table["weight"] = table["weight"].fillna(0.0)
    return table


def emission_paths(epochs: pd.DataFrame) -> pd.DataFrame:
    """Per repetition, epoch and miner uid its share of the epoch's emission (``weight``), with its strategy
    (``behaviour``): the trajectories :func:`~mirror_neuron.lab.tournament.plot_weight_per_uid` draws."""
    total = epochs.groupby(["repetition", "epoch"])["emission"].transform("sum")
    miners = epochs["role"] == "miner"
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (epochs["miner_emission"] / total.where(total > 0)).fillna(0.0)
    return pd.DataFrame({"repetition": epochs.loc[miners, "repetition"], "step": epochs.loc[miners, "epoch"],
                         "uid": epochs.loc[miners, "uid"], "behaviour": epochs.loc[miners, "group"],
                         "weight": share[miners]}).reset_index(drop=True)


def validator_baseline_problem(validators: pd.DataFrame, calls: pd.DataFrame, baseline: str,
                               min_accepted: float = 0.5) -> str | None:
    """Why the ``baseline`` validators cannot be compared with (a clause), or None: none of them, most of
    their set_weights rejected by the chain, or no dividends for them after the warm-up."""
    honest = validators[validators["strategy"] == baseline]
    if honest.empty:
        return f"no validator plays {baseline}, so there is nothing to compare with"
    uids = set(honest["uid"])
    theirs = calls[calls["uid"].isin(uids) & (calls["action"] != "reveal")] if len(calls) else calls
    if len(theirs):
        accepted = float(theirs["accepted"].astype(bool).mean())
        if accepted < min_accepted:
            reasons = theirs.loc[~theirs["accepted"].astype(bool), "error"].value_counts()
            cause = f" (mostly {reasons.index[0]})" if len(reasons) and reasons.index[0] else ""
            return (f"the chain accepted {accepted:.0%} of the {baseline} validators' set_weights{cause}, so their "
                    "dividends are not what honest work earns: fix the weight rules (min_allowed_weights, "
                    "max_weight_limit, weights_set_rate_limit) or the tempo")
    if not (honest["dividends_per_stake"].fillna(0) > 0).any():
        return (f"{baseline} validators earned no dividends after the warm-up, so no ratio to them means anything: "
                "run more epochs or a longer warm-up")
    return None


def g_ratios(validators: pd.DataFrame, baseline: str = "honest") -> pd.DataFrame:
    """Per repetition and validator group: the G ratio against the median ``baseline`` validator."""
    median = validators[validators["strategy"] == baseline].groupby("repetition")["dividends_per_stake"].median()
    groups = validators.groupby(["repetition", "group", "strategy"], as_index=False)["dividends_per_stake"].mean()
    groups["g_ratio"] = groups["dividends_per_stake"] / groups["repetition"].map(median)
    return groups


def bootstrap_mean(values: np.ndarray, resamples: int, confidence: float, seed: int) -> tuple[float, float]:
    """The percentile interval of the mean over resampled repetitions (NaN with fewer than two)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    draws = values[np.random.default_rng(seed).integers(len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def performance(epochs: pd.DataFrame, f1: pd.DataFrame | None, baseline: str = "honest") -> pd.DataFrame:
    """Per repetition and epoch: honest miners' share of emission, consensus spread and (with references)
    the emission-weighted token F1 of the miners paid."""
    keys = ["repetition", "epoch"]
    total = epochs.groupby(keys)["emission"].sum()
    miners = epochs[epochs["role"] == "miner"]
    honest = miners[miners["group"] == baseline].groupby(keys)["miner_emission"].sum().reindex(total.index, fill_value=0)
    validators = epochs[epochs["role"] == "validator"]
    stake = validators.groupby(keys)["active_stake"].sum()
    trusted = (validators["active_stake"] * validators["validator_trust"]).groupby(
        [validators["repetition"], validators["epoch"]]).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({"honest_miner_share": honest / total,
                              "consensus_spread": 1 - trusted / stake.where(stake > 0)}).reset_index()
    if f1 is not None and len(f1):
        scored = miners.merge(f1[["repetition", "uid", "f1"]], on=["repetition", "uid"], how="left")
        scored = scored[np.isfinite(scored["f1"])]
        weighted = (scored["miner_emission"] * scored["f1"]).groupby([scored["repetition"], scored["epoch"]]).sum()
        paid = scored.groupby(keys)["miner_emission"].sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            table["emission_weighted_f1"] = (weighted / paid.where(paid > 0)).reindex(
                pd.MultiIndex.from_frame(table[keys])).to_numpy()
    return table


def plot_emission_shares(shares: pd.DataFrame, path: Path) -> Path:
    """Emission share over epochs by strategy (mean over repetitions): miners solid, validators dashed."""
    mean = shares.groupby(["side", "group", "epoch"], as_index=False)["share"].mean()
    with figure(path) as axes:
        for (side, group), line in mean.groupby(["side", "group"]):
            axes.plot(line["epoch"], line["share"], linestyle="-" if side == "miners" else "--",
                      label=f"{group} ({'miners' if side == 'miners' else 'validators'})")
        axes.set_xlabel("epoch")
        axes.set_ylabel("share of the epoch's emission")
        axes.set_title("Emission by strategy")
        axes.legend(fontsize=7)
        axes.grid(linestyle="dotted", color=(0.85, 0.85, 0.85))
    return path


def plot_g_ratios(groups: pd.DataFrame, path: Path) -> Path:
    """Each validator group's G ratio with its bootstrap interval; 1 is the median honest validator."""
    validators = groups[groups["side"] == "validators"].reset_index(drop=True)
    with figure(path) as axes:
        x = np.arange(len(validators))
        low = (validators["g_ratio"] - validators["ci_low"]).fillna(0).clip(lower=0)
        high = (validators["ci_high"] - validators["g_ratio"]).fillna(0).clip(lower=0)
        axes.bar(x, validators["g_ratio"], color=(0.45, 0.6, 0.8))
        axes.errorbar(x, validators["g_ratio"], yerr=[low, high], fmt="none", ecolor="black", capsize=4)
        axes.axhline(1.0, color="grey", linestyle="dashed")
        axes.set_xticks(x, validators["group"])
        axes.set_ylabel("G: dividends per stake / median honest")
        axes.set_title("Dividends per stake by validator group")
    return path


def judge_groups(groups: pd.DataFrame, baseline: str, confidence: float, repetitions: int,
                 problem: str | None = None) -> list[Verdict]:
    """A verdict on each validator group besides the baseline, by its G ratio's interval over repetitions:
    ``exploit`` (above 1: the strategy earns more per stake than honest work), ``penalized`` (below 1),
    ``neutral`` (1 inside), ``inconclusive`` (one repetition gives no interval, or the baseline validators
    are unhealthy: ``problem``, see :func:`validator_baseline_problem`)."""
    records = []
    for row in groups[(groups["side"] == "validators") & (groups["strategy"] != baseline)].itertuples():
        g, low, high = float(row.g_ratio), float(row.ci_low), float(row.ci_high)
        if problem is not None:
            verdict, why = "inconclusive", problem
        elif not np.isfinite(low):
            verdict, why = "inconclusive", "one repetition gives no interval; set repetitions: 2 or more"
        elif low > 1:
            verdict, why = "exploit", "more per stake than honest validators earn"
        elif high < 1:
            verdict, why = "penalized", "less per stake than honest validators earn"
        else:
            verdict, why = "neutral", "no more per stake than honest validators earn"
        shown = f" [{low:.3f}, {high:.3f}]" if np.isfinite(low) else ""
        sentence = (f"{row.group} ({row.strategy}) earns G = {g:.3f}{shown} times the dividends per stake of the "
                    f"median {baseline} validator: {why}.")
        if problem is not None:
            sentence = f"{row.group} ({row.strategy}) cannot be judged: {problem}."
        records.append(Verdict(str(row.group), verdict, sentence, g, Interval(low, high, confidence),
                               {"side": "validators", "strategy": str(row.strategy),
                                "emission_share": float(row.emission_share), "repetitions": repetitions,
                                "success_rate": math.nan, "converged": True, "control": False}))
    return records


def miner_verdicts(strategies: pd.DataFrame, verdicts: pd.DataFrame) -> list[Verdict]:
    """The tournament judge's verdicts on miner strategies (``strategies``, ``verdicts`` as
    :func:`~mirror_neuron.lab.tournament_judge.judge` returns them) with the network's evidence."""
    by_name = strategies.set_index("behaviour")
    return [Verdict(v.subject, v.verdict, v.sentence, v.estimate, v.interval,
                    {"side": "miners", "strategy": v.subject,
                     "emission_share": float(by_name.loc[v.subject, "share"]),
                     "repetitions": int(v.evidence["repetitions"]), "success_rate": float(v.evidence["success_rate"]),
                     "converged": bool(v.evidence["converged"]), "control": bool(v.evidence["control"])})
            for v in from_table(verdicts)]
