"""Wall time of a tournament: 1,024 miners, 2,000 training steps, 5 repetitions, non-neural rewards.

A mixed population of scripted strategies (a third of the uids) against honest miners, random
gating, and a reward stack of a random scorer behind the blacklist and task-validator filters (no
neural model anywhere). Prints the wall time of the whole tournament (repetitions, bootstrap
verdicts and the weight-share plot), the time per training step, and the verdicts
(target: a few minutes on 2 CPUs).

Usage: .venv/bin/python bench/tournament.py [--miners 1024] [--steps 2000] [--repetitions 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import pandas as pd

from mirror_neuron.lab.tournament import TournamentPlan, plot_weight_share, run_repetition
from mirror_neuron.lab.tournament_judge import JudgeOptions, judge
from mirror_neuron.neuron.config import NeuronConfig
from mirror_neuron.steps.data.sources import builtin_path

POPULATION = {"echo": 0.05, "stock_phrase": 0.05, "length_padder": 0.05, "keyword_stuffer": 0.03,
              "self_scorer": 0.03, "copycat": 0.03, "flaky": 0.05, "slow": 0.03}
REWARD = {"type": "RewardStack", "scorers": {"random": {"type": "RandomRewardModel"}},
          "filters": {"blacklist": {}, "task_validator": {}}}


def plan(miners: int, steps: int, repetitions: int) -> TournamentPlan:
    neuron = NeuronConfig.model_validate({
        "metagraph": {"n": miners, "not_serving": 0.02, "validators": 8}, "miners": POPULATION,
        "gating": {"type": "RandomGatingModel"}, "reward": REWARD, "training_topk": 50})
    rows = pd.read_json(builtin_path("prompts"), lines=True)  # honest miners answer with the references
    return TournamentPlan(neuron, "train", steps, repetitions, record_every=20, seed=0,
                          prompts=tuple(rows["question"]), answers=tuple(rows["answer"]))


def run(tournament: TournamentPlan) -> tuple[pd.DataFrame, list[float]]:
    """The tournament as the step runs it: repetitions in turn, then the verdicts and the plot."""
    times, shares, uids = [], [], []
    for repetition in range(tournament.repetitions):
        start = time.perf_counter()
        result = run_repetition(tournament, repetition)
        times.append(time.perf_counter() - start)
        shares.append(result.shares)
        uids.append(result.uid_weights)
    start = time.perf_counter()
    _, verdicts = judge(pd.concat(uids, ignore_index=True), JudgeOptions())
    with tempfile.TemporaryDirectory() as folder:
        plot_weight_share(pd.concat(shares, ignore_index=True), Path(folder) / "weight_share.png")
    times.append(time.perf_counter() - start)
    return verdicts, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--miners", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the 25 most expensive functions")
    args = parser.parse_args()
    tournament = plan(args.miners, args.steps, args.repetitions)
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    verdicts, times = run(tournament)
    if profiler:
        profiler.disable()
    total = time.perf_counter() - start
    steps = args.steps * args.repetitions
    print(f"tournament: {args.miners:,} miners, {args.steps:,} training steps x {args.repetitions} repetitions")
    print(f"repetitions: {', '.join(f'{t:.1f}' for t in times[:-1])} s; verdicts and plot: {times[-1]:.1f} s")
    print(f"wall time: {total:.1f} s  ({1000 * sum(times[:-1]) / steps:.2f} ms per training step; "
          "target: a few minutes)")
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(verdicts[["subject", "verdict", "ratio", "ci_low", "ci_high", "success_rate"]].to_string(index=False))
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
