"""Judging a tournament: each strategy's weight per uid against honest miners', with a bootstrap CI.

The estimate for strategy ``b`` is a ratio of means: the mean over repetitions of the mean weight per
available uid playing ``b``, over the same for the baseline (``honest``). Uids that are not
available (not serving, validator permits) are never queried and are left out.

The confidence interval is a two-level (hierarchical) percentile bootstrap. Each resample draws the
repetitions with replacement (the same draw for ``b`` and the baseline, so shocks a repetition
shares cancel in the ratio), then within each drawn repetition draws each strategy's uids with
replacement. With few repetitions (R = 5 has only 126 distinct resamples, and a plain bootstrap
over 5 values gives intervals that are too narrow), the second level keeps the interval honest: the
uid-to-uid noise enters once more than it strictly should, so the interval errs on the wide side,
and it still works with a single repetition. By default the level is Bonferroni-corrected for the
number of strategies judged (``confidence`` 0.95 over 4 strategies gives 98.75% intervals each),
so that a tournament of many harmless strategies does not declare an exploit by chance.

Backends: when a strategy's uids share fewer machines than uids (an optional ``backend`` column names
each uid's machine; a copycat's 8 hotkeys on one backend), it is judged by its weight per backend:
the ratio and its interval are multiplied by its uids per backend (over the baseline's), so that one
machine behind many hotkeys is compared with one honest miner's machine (``ratio_per_backend``;
``ratio_per_uid`` keeps the ratio per uid). Given the uid table of the same tournament run with one
hotkey per backend (``one_hotkey``: the tournament's second run), such a strategy is judged against
itself instead: ``ratio`` is its ratio per backend to honest over the same in the one-hotkey run
(``ratio_to_one_hotkey``; the draws pair each repetition with its one-hotkey twin), which asks
whether the machine earns more behind many hotkeys than on one, whatever the quality of its answers.

The baseline is checked first (:func:`baseline_health`). It is unhealthy, and every strategy that
did not fail on its own is **inconclusive** with a sentence naming the cause and the change to make,
when any of these holds:

- it was never queried, or its calls succeeded less than ``min_success_rate`` of the time (the
  sentence counts the short answers, 10 characters or fewer, when they make most of the failures);
- a filter that gates the reward zeroed more than ``max_zeroed_share`` (half) of its scored
  completions: honest answers cannot pass the defense, so nothing is compared with a fair baseline;
- every one of its scored completions got the same reward: the reward separates nothing;
- it earned no weight at all (a network whose honest validators' weights never reached the chain).

Convergence: the moving average needs about ``1 / (1 - alpha)`` scored calls per uid to settle
(``alpha``: the neuron's ``weights.alpha``; 100 at 0.99). When the baseline's uids got fewer (the
median over its available uids), the tournament is **not converged**: the verdicts stand, each
flagged (column ``converged``, and a sentence appended), since weights far from their steady state
may still change order.

Controls (``controls``): strategies that play honest miners under another label or wording and
must come out neutral. A control judged exploit, penalized, weight_leak or failed is *flagged*; its
sentence says that the tournament's verdicts are suspect.

Verdicts, in this order:

- **failed**: fewer than ``min_success_rate`` of its calls succeeded by the neuron's rule (return
  code success and a completion of more than 10 characters); or it earns less than the baseline
  (the CI's upper bound is below 1) but its weight per *successful* call is not below the
  baseline's (that CI reaches 1): its failed calls explain the loss, not the validator's judgement.
- **weight_leak**: it earns significantly more than honest answering although every reward it got was
  0: the weight comes from the moving-average rule (the 2023 softmax scatter gives every successful
  uid a share), not from fooling the reward.
- **exploit**: the CI's lower bound is above 1: it earns significantly more than honest answering.
- **penalized**: the CI's upper bound is below 1 (and failures do not explain it).
- **neutral**: otherwise, including strategies with fewer than 2 uids in all to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mirror_neuron.stats import percentile_interval, simultaneous_alpha
from mirror_neuron.verdicts import TOURNAMENT, Interval, Verdict, to_table

MIN_UIDS = 2  # uid observations (over all repetitions) a strategy needs before it can be judged
MOSTLY = 0.5  # an interval needs this share of its bootstrap draws defined
TOLERANCE = 1e-6  # ratios this close to 1 are 1: identical weights must not differ by rounding
SAME_REWARD = 1e-6  # rewards whose standard deviation is at most this share of their root mean square are equal
UID_COLUMNS = ("repetition", "uid", "behaviour", "available", "weight", "calls", "successes", "reward_sum")
OPTIONAL_COLUMNS = ("short_calls", "reward_sq_sum", "backend")  # and zeroed_<filter>: the checks that need them
ZEROED = "zeroed_"  # prefix of the uid_weights columns counting each gating filter's zeroed completions
EVIDENCE = ("ratio", "success_rate", "uids", "repetitions", "confidence", "converged", "control")
FLAGGED = ("exploit", "penalized", "weight_leak", "failed")  # a control given one of these is flagged


@dataclass(frozen=True)
class JudgeOptions:
    """How strategies are judged (the Tournament step's config sets these)."""

    baseline: str = "honest"
    confidence: float = 0.95
    correction: Literal["bonferroni", "none"] = "bonferroni"
    resamples: int = 4000
    min_success_rate: float = 0.5
    seed: int = 0
    alpha: float | None = None  # the neuron's weights.alpha: the convergence check (None: no check)
    controls: tuple[str, ...] = ()  # strategies that must come out neutral
    max_zeroed_share: float = 0.5  # a filter zeroing more of the baseline's completions makes it unhealthy
    averages: int = 1  # moving averages the calls are spread over (a network's honest validators keep one each)
    measure: str = "weight"  # what the uid table's ``weight`` column holds, as sentences name it


@dataclass(frozen=True)
class Health:
    """The baseline's figures before any verdict, and what is wrong with it (None: healthy)."""

    problem: str | None
    converged: bool
    median_calls: float
    calls_to_settle: float  # 1 / (1 - alpha); NaN without alpha
    figures: dict[str, float]  # success_rate, short_share, zeroed_<filter>, reward_std of the baseline


@dataclass
class _Draws:
    """One strategy's bootstrap draws: mean weight per uid and pooled calls/successes, shape (B,)."""

    weight: np.ndarray
    calls: np.ndarray
    successes: np.ndarray


def judge(uids: pd.DataFrame, options: JudgeOptions = JudgeOptions(),
          one_hotkey: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(strategies, verdicts)`` from the per-uid table of every repetition (columns :data:`UID_COLUMNS`,
    and when present :data:`OPTIONAL_COLUMNS` and ``zeroed_<filter>``), and of the one-hotkey run when
    there is one (the same columns, repetitions and seeds).

    ``strategies`` has one row per strategy, the baseline included (verdict ``baseline``), sorted by
    ratio, with each strategy's health figures (short_share, reward_std, zeroed_<filter> shares,
    median_calls), the tournament's ``converged`` flag and ``control``; ``verdicts`` one
    :class:`~mirror_neuron.verdicts.Verdict` per other strategy (the ratio with its interval, and
    :data:`EVIDENCE`), as :func:`~mirror_neuron.verdicts.to_table` stores them.
    """
    repetitions = sorted(uids["repetition"].unique())
    behaviours = sorted(uids["behaviour"].unique())
    if options.baseline not in behaviours:
        raise ValueError(f"no uid plays the baseline behaviour '{options.baseline}'")
    available = uids[uids["available"]]
    groups = {key: frame for key, frame in available.groupby(["behaviour", "repetition"])}
    rng = np.random.default_rng(options.seed)
    picks = rng.integers(len(repetitions), size=(options.resamples, len(repetitions)))
    draws = {b: _draw(b, repetitions, groups, picks, rng) for b in behaviours}
    judged = [b for b in behaviours if b != options.baseline]
    alpha = simultaneous_alpha(options.confidence, len(judged), options.correction)
    base = draws[options.baseline]
    base_rate = base.successes / np.where(base.calls > 0, base.calls, np.nan)
    base_point = _point(options.baseline, repetitions, groups)
    alone = _OneHotkey(one_hotkey, options.baseline, repetitions, picks, rng)
    health = baseline_health(uids, options)
    rows = []
    for b in behaviours:
        point = _point(b, repetitions, groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_backend = point["uids_per_backend"] / base_point["uids_per_backend"]
            ratio_per_uid = float(np.divide(point["mean_weight"], base_point["mean_weight"]))
            ratio_per_backend = ratio = ratio_per_uid * per_backend
            ratio_draws = draws[b].weight / base.weight * per_backend
            ratio_to_one_hotkey = np.nan
            if per_backend > 1 + TOLERANCE and b in alone.draws:
                ratio_to_one_hotkey = ratio = ratio_per_backend / alone.ratio(b)
                ratio_draws = ratio_draws / alone.ratio_draws(b)
            rate_draws = draws[b].successes / np.where(draws[b].calls > 0, draws[b].calls, np.nan)
            adjusted_draws = ratio_draws * base_rate / rate_draws
            adjusted = float(np.divide(ratio * base_point["success_rate"], point["success_rate"]))  # inf, not a crash
        low, high = percentile_interval(ratio_draws, alpha, MOSTLY)
        adjusted_low, adjusted_high = percentile_interval(adjusted_draws, alpha, MOSTLY)
        share = uids[uids["behaviour"] == b].groupby("repetition")["weight"].sum().reindex(repetitions, fill_value=0)
        rows.append({"behaviour": b, **point, "share": float(share.mean()), "ratio": ratio,
                     "ratio_per_uid": ratio_per_uid, "ratio_per_backend": ratio_per_backend,
                     "ratio_to_one_hotkey": float(ratio_to_one_hotkey), "ci_low": low,
                     "ci_high": high, "adjusted_ratio": adjusted, "adjusted_ci_low": adjusted_low,
                     "adjusted_ci_high": adjusted_high, "confidence": 1.0 - alpha,
                     **_health_figures(available[available["behaviour"] == b]), "converged": health.converged,
                     "control": b in options.controls})
    strategies = pd.DataFrame(rows)
    strategies["verdict"] = [("baseline" if row.behaviour == options.baseline
                              else _verdict(row, options, len(repetitions), health.problem))
                             for row in strategies.itertuples()]
    strategies = strategies.sort_values(["ratio", "behaviour"], ascending=[False, True], na_position="last",
                                        ignore_index=True)
    flagged = flagged_controls(strategies)
    records = [Verdict(row.behaviour, row.verdict,
                       _sentence(row, options, len(repetitions), health.problem)
                       + _flags(row, options, health, flagged),
                       row.ratio, Interval(row.ci_low, row.ci_high, row.confidence),
                       {"ratio": row.ratio, "success_rate": row.success_rate, "uids": row.uids,
                        "repetitions": len(repetitions), "confidence": row.confidence,
                        "converged": bool(row.converged), "control": bool(row.control)})
               for row in strategies.itertuples() if row.behaviour != options.baseline]
    return strategies, to_table(records, TOURNAMENT, EVIDENCE)


def flagged_controls(strategies: pd.DataFrame) -> int:
    """How many control strategies of a ``strategies`` table were not judged neutral (or inconclusive)."""
    if "control" not in strategies:
        return 0
    return int((strategies["control"].astype(bool) & strategies["verdict"].isin(FLAGGED)).sum())


def _point(behaviour: str, repetitions: list[int], groups: dict) -> dict[str, float]:
    """The strategy's point figures: uids per repetition, calls, success rate, mean reward and weight, and
    uids per backend."""
    frames = [groups[(behaviour, r)] for r in repetitions if (behaviour, r) in groups]
    if not frames:
        return {"uids": 0.0, "calls": 0.0, "success_rate": np.nan, "mean_reward": np.nan, "mean_weight": np.nan,
                "uids_per_backend": 1.0}
    calls = sum(float(f["calls"].sum()) for f in frames)
    successes = sum(float(f["successes"].sum()) for f in frames)
    rewards = sum(float(f["reward_sum"].sum()) for f in frames)
    return {"uids": sum(len(f) for f in frames) / len(repetitions), "calls": calls,
            "success_rate": successes / calls if calls else np.nan,
            "mean_reward": rewards / successes if successes else np.nan,
            # the mean over repetitions of each repetition's mean weight per uid
            "mean_weight": float(np.mean([f["weight"].mean() for f in frames])),
            "uids_per_backend": float(np.mean([len(f) / f["backend"].nunique() if "backend" in f else 1.0
                                               for f in frames]))}


class _OneHotkey:
    """The one-hotkey run of a tournament, for judging strategies whose uids share backends: each such
    strategy's ratio per backend to the baseline there, and its bootstrap draws (the same repetition
    draws, ``picks``, as the tournament's)."""

    def __init__(self, uids: pd.DataFrame | None, baseline: str, repetitions: list[int], picks: np.ndarray,
                 rng: np.random.Generator) -> None:
        self.baseline = baseline
        self.draws: dict[str, _Draws] = {}
        self.points: dict[str, dict[str, float]] = {}
        if uids is None or baseline not in set(uids["behaviour"]):
            return
        available = uids[uids["available"]]
        groups = {key: frame for key, frame in available.groupby(["behaviour", "repetition"])}
        for b in sorted(uids["behaviour"].unique()):
            self.points[b] = _point(b, repetitions, groups)
            self.draws[b] = _draw(b, repetitions, groups, picks, rng)

    def ratio(self, behaviour: str) -> float:
        """``behaviour``'s weight per backend over the baseline's, on one hotkey per backend."""
        weight = np.divide(self.points[behaviour]["mean_weight"], self.points[self.baseline]["mean_weight"])
        return float(weight * self._uids_per_backend(behaviour))

    def ratio_draws(self, behaviour: str) -> np.ndarray:
        """The bootstrap draws of :meth:`ratio`."""
        return self.draws[behaviour].weight / self.draws[self.baseline].weight * self._uids_per_backend(behaviour)

    def _uids_per_backend(self, behaviour: str) -> float:
        """``behaviour``'s uids per backend over the baseline's."""
        return self.points[behaviour]["uids_per_backend"] / self.points[self.baseline]["uids_per_backend"]


def _health_figures(frame: pd.DataFrame) -> dict[str, float]:
    """A strategy's health figures over its available uids: the share of its calls that were short answers,
    the spread (standard deviation) of its rewards, each filter's share of its scored completions zeroed,
    and the median number of calls per uid (NaN where a column is missing or nothing was scored)."""
    calls, successes = float(frame["calls"].sum()), float(frame["successes"].sum())
    figures = {"median_calls": float(frame["calls"].median()) if len(frame) else np.nan,
               "short_share": np.nan, "reward_std": np.nan}
    if "short_calls" in frame and calls:
        figures["short_share"] = float(frame["short_calls"].sum()) / calls
    if "reward_sq_sum" in frame and successes:
        mean = float(frame["reward_sum"].sum()) / successes
        figures["reward_std"] = float(np.sqrt(max(float(frame["reward_sq_sum"].sum()) / successes - mean ** 2, 0.0)))
    for column in (c for c in frame.columns if c.startswith(ZEROED)):
        figures[column] = float(frame[column].sum()) / successes if successes else np.nan
    return figures


def baseline_health(uids: pd.DataFrame, options: JudgeOptions) -> Health:
    """The baseline's health and convergence, from its available uids in the per-uid table."""
    frame = uids[uids["available"] & (uids["behaviour"] == options.baseline)]
    figures = _health_figures(frame)
    calls, successes = float(frame["calls"].sum()), float(frame["successes"].sum())
    figures["success_rate"] = successes / calls if calls else np.nan
    figures["earned"] = float(frame["weight"].sum())
    settle = options.averages / (1.0 - options.alpha) if options.alpha is not None and options.alpha < 1 else (
        np.inf if options.alpha is not None else np.nan)
    converged = not (figures["median_calls"] < settle)  # NaN (no alpha, or no uid) is no evidence against
    short = float(frame["short_calls"].sum()) if "short_calls" in frame else 0.0
    # all rewards equal: their spread is nothing next to their size (rounding aside)
    rms = np.sqrt(float(frame["reward_sq_sum"].sum()) / successes) if "reward_sq_sum" in frame and successes else 0.0
    same_reward = successes > 1 and bool(figures["reward_std"] <= SAME_REWARD * rms)
    return Health(_problem(figures, calls, successes, short, same_reward, options), converged,
                  figures["median_calls"], settle, figures)


def _problem(figures: dict[str, float], calls: float, successes: float, short: float, same_reward: bool,
             options: JudgeOptions) -> str | None:
    """Why the baseline cannot be compared with (a clause of a sentence), or None when it is healthy."""
    base = options.baseline
    if not calls:
        return f"no {base} miner was queried, so there is nothing to compare with: give {base} miners available uids"
    rate = successes / calls
    if rate < options.min_success_rate:
        failed = calls - successes
        if short and short >= failed / 2:
            return (f"{short:.0f} of {calls:.0f} {base} answers were 10 characters or shorter and counted as failed "
                    f"calls ({base} miners' calls succeeded {rate:.0%} of the time, min_success_rate "
                    f"{options.min_success_rate:.0%}); {_longer(base)}")
        return (f"{base} miners' calls succeeded {rate:.0%} of the time (min_success_rate "
                f"{options.min_success_rate:.0%}), so no ratio to them means anything: give {base} miners answers "
                "the validator counts as successful (more than 10 characters, within the timeout)")
    if not figures.get("earned", 1.0):
        return (f"{base} miners earned no {options.measure}, so no ratio to them means anything: run longer, or "
                "check that the validators' weights were set (a network's set_weights table)")
    zeroed = {key.removeprefix(ZEROED): share for key, share in figures.items()
              if key.startswith(ZEROED) and share > options.max_zeroed_share}
    if zeroed:
        name, share = max(zeroed.items(), key=lambda item: item[1])
        return f"the {name} filter zeroed {share:.0%} of {base} completions: {_filter_advice(name, base)}"
    if same_reward:
        return (f"every scored {base} completion got the same reward, so the reward separates nothing and no "
                "weight ratio reflects it: use a reward that varies with the answer (a scorer, not a constant)")
    return None


def _longer(base: str) -> str:
    """The change to make when the baseline's answers are too short."""
    if base == "honest":
        return "use honest: {style: sentence} or longer references"
    return f"give {base} miners answers of more than 10 characters, or use longer references"


def _filter_advice(name: str, base: str) -> str:
    """The change to make when filter ``name`` zeroes most honest completions."""
    if name == "diversity":
        wording = " (honest: {style: sentence})" if base == "honest" else ""
        return f"{base} miners' answers are too alike to compare with; give them varied wording{wording} or disable it"
    if name == "relevance":
        return (f"{base} answers read as unrelated to their prompts; give them answers built around the prompt, "
                "or lower the filter's threshold")
    if name == "blacklist":
        return f"{base} answers contain its banned phrases; shorten its list or change the answers"
    return f"{base} answers do not pass it; loosen its parameters or disable it"


def _draw(behaviour: str, repetitions: list[int], groups: dict, picks: np.ndarray,
          rng: np.random.Generator) -> _Draws:
    """Bootstrap draws for one strategy: uids resampled within each repetition, then repetitions by ``picks``."""
    resamples = picks.shape[0]
    per_rep = np.full((3, resamples, len(repetitions)), np.nan)
    for column, repetition in enumerate(repetitions):
        frame = groups.get((behaviour, repetition))
        if frame is None or frame.empty:
            continue
        index = rng.integers(len(frame), size=(resamples, len(frame)))
        per_rep[0, :, column] = frame["weight"].to_numpy()[index].mean(axis=1)
        per_rep[1, :, column] = frame["calls"].to_numpy(dtype=np.float64)[index].sum(axis=1)
        per_rep[2, :, column] = frame["successes"].to_numpy(dtype=np.float64)[index].sum(axis=1)
    chosen = np.take_along_axis(per_rep, np.broadcast_to(picks, per_rep.shape), axis=2)
    present = np.isfinite(chosen[0])
    counts = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(present, chosen[0], 0.0).sum(axis=1) / np.where(counts > 0, counts, np.nan)
    return _Draws(weight, np.nansum(chosen[1], axis=1), np.nansum(chosen[2], axis=1))


def width_zero(row: tuple) -> bool:
    """Whether the ratio's interval has no width (identical repetitions and uids), not a precise estimate."""
    return bool(np.isfinite(row.ci_low) and np.isfinite(row.ci_high) and row.ci_high - row.ci_low <= TOLERANCE)


def _verdict(row: tuple, options: JudgeOptions, repetitions: int, problem: str | None = None) -> str:
    if np.isfinite(row.success_rate) and row.success_rate < options.min_success_rate:
        return "failed"
    if problem is not None:
        return "inconclusive"
    if row.uids * repetitions < MIN_UIDS or not np.isfinite(row.ci_low) or not np.isfinite(row.ci_high):
        return "neutral"
    if row.ci_low > 1.0 + TOLERANCE:
        return "weight_leak" if row.mean_reward == 0 else "exploit"
    if row.ci_high < 1.0 - TOLERANCE:
        explained = not np.isfinite(row.adjusted_ci_high) or row.adjusted_ci_high >= 1.0 - TOLERANCE
        return "failed" if explained else "penalized"
    return "neutral"


def _sentence(row: tuple, options: JudgeOptions, repetitions: int, problem: str | None = None) -> str:
    """One sentence a person can act on, for the verdicts table."""
    name, base = row.behaviour, options.baseline
    if row.verdict == "inconclusive":
        return f"{name} cannot be judged: {problem}."
    if row.verdict == "neutral" and row.uids * repetitions < MIN_UIDS:
        return f"{name} is played by too few available uids ({row.uids * repetitions:g} in all) to judge."
    if not np.isfinite(row.ratio) or not np.isfinite(row.ci_low):
        if row.verdict == "failed":
            return f"{name}'s calls succeeded {row.success_rate:.0%} of the time: it failed to answer."
        return f"{name} cannot be compared with {base} miners: too few uids were queried or {base} earned no weight."
    interval = f"{100 * row.confidence:.4g}% CI {row.ci_low:.2f}-{row.ci_high:.2f}, {repetitions} repetition" + \
        ("s" if repetitions != 1 else "")
    earns = f"{name} earns {row.ratio:.2f}x the {options.measure} per uid of {base} miners ({interval})"
    against = base
    if np.isfinite(row.ratio_to_one_hotkey):
        against = "its backend on one hotkey"
        earns = (f"{name} earns {row.ratio:.2f}x the {options.measure} per backend that its backend earns on one "
                 f"hotkey ({interval}; relative to {base} miners, {row.ratio_per_backend:.2f}x per backend over "
                 f"{row.uids_per_backend:.3g} available uids per backend, {row.ratio_per_uid:.2f}x per uid)")
    elif abs(row.ratio - row.ratio_per_uid) > TOLERANCE * abs(row.ratio):
        earns = (f"{name} earns {row.ratio:.2f}x the {options.measure} per backend of {base} miners ({interval}; "
                 f"{row.uids_per_backend:.3g} of its available uids per backend, {row.ratio_per_uid:.2f}x per uid)")
    if width_zero(row):
        earns += (" (an interval of width 0: every repetition and uid of it earned the same "
                  f"{options.measure} relative to {base}, which shows no spread, not certainty)")
    if row.verdict == "weight_leak":
        return (f"{earns}, though every reward it got was 0: the moving-average rule gives each successful uid a "
                "share of the weight whatever its reward (the 2023 softmax scatter), so this is a weight leak, "
                "not an exploit of the reward.")
    if row.verdict == "exploit":
        return f"{earns}: an exploit; find the defense that closes it."
    if row.verdict == "penalized":
        return f"{earns}: the validator penalizes it."
    if row.verdict == "failed":
        if row.success_rate < options.min_success_rate:
            return (f"{name}'s calls succeeded {row.success_rate:.0%} of the time: it failed to answer, so its "
                    f"{row.ratio:.2f}x of {base} {options.measure} says nothing about the validator's defenses.")
        return (f"{earns}, but only because {1 - row.success_rate:.0%} of its calls failed; per successful call it "
                f"earns {row.adjusted_ratio:.2f}x: failed, not penalized.")
    return f"{earns}: not distinguishable from {against}."


def _flags(row: tuple, options: JudgeOptions, health: Health, flagged: int) -> str:
    """What is appended to a verdict's sentence: a flagged control's warning, and ``not converged``."""
    text = ""
    if row.control and row.verdict in FLAGGED:
        controls = len(options.controls)
        text += (f" {row.behaviour} is a control (honest miners under another label) and should be neutral: "
                 f"{flagged} of {controls} control{'s' if controls != 1 else ''} flagged, so this tournament's "
                 "verdicts are suspect.")
    if not health.converged:
        rule = "1 / (1 - alpha)" if options.averages == 1 else f"{options.averages} validators x 1 / (1 - alpha)"
        text += (f" Not converged: {options.baseline} uids got a median of {health.median_calls:g} scored calls, "
                 f"fewer than the {health.calls_to_settle:.0f} ({rule}, alpha {options.alpha:g}) the "
                 "moving average needs to settle; run more steps or query more uids per step.")
    return text
