"""The network steps through the runner: tables, figures, resume after an interruption, config errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.config import parse_experiment
from mirror_neuron.errors import ConfigError
from mirror_neuron.runner import plan
from mirror_neuron.store import Store
from mirror_neuron.yaml_source import load_yaml_text
from tests.fixtures.interrupt import stopped_after
from tests.fixtures.runs import Run, run_config

CONFIG = """\
experiment: {name: network, seed: 1}
tracking: {backend: none}
data: {id: prompts, path: builtin:prompts}
model:
  id: net
  type: network
  metagraph: {n: 24}
  miners: {slow: 4}
  validators:
    honest: {count: 3, neuron: {reward: {type: LengthRewardModel, cap: 50}}, topk: 8}
    copiers: {count: 1, strategy: copier}
  chain: {tempo: 4, forward_passes_per_block: 1, weights_set_rate_limit: 5, max_weight_limit: 65535}
query:
  id: run
  requires: [net, prompts]
  entrypoint: Network
  epochs: 6
  chunk_epochs: 2
  warmup: 1
  repetitions: 2
  record_matrices: true
"""
TABLES = ("epochs", "shares", "set_weights", "matrices", "miners", "miner_calls", "uid_emission", "strategies",
          "validators", "groups", "performance", "verdicts")


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_config(tmp_path_factory.mktemp("whole"), CONFIG)


def test_a_network_run_stores_the_chain_per_epoch_and_judges_the_validator_groups(whole: Run) -> None:
    output = whole.output
    for name in TABLES:
        assert output.table_path(name).exists(), name
    epochs = output.table("epochs")
    assert len(epochs) == 2 * 6 * 28 and sorted(epochs["epoch"].unique()) == list(range(6))
    per_epoch = epochs.groupby(["repetition", "epoch"])
    emission = 142_223_000 * 5
    assert per_epoch["emission"].sum().to_numpy() == pytest.approx(emission)
    assert per_epoch["incentive"].sum().iloc[1:].to_numpy() == pytest.approx(1.0)
    shares = output.table("shares")
    assert shares.groupby(["repetition", "epoch"])["share"].sum().to_numpy() == pytest.approx(1.0)
    groups = output.table("groups").set_index(["side", "group"])
    copiers = groups.loc[("validators", "copiers")]
    assert groups.loc[("validators", "honest"), "g_ratio"] == pytest.approx(1, abs=0.05)
    assert copiers["ci_low"] <= copiers["g_ratio"] <= copiers["ci_high"]
    assert groups.loc[("miners", "slow"), "emission_share"] < groups.loc[("miners", "honest"), "emission_share"]
    summary = whole.result.records[-1].summary
    assert summary["g/copiers"] == pytest.approx(copiers["g_ratio"])
    assert 0 < summary["honest_miner_share"] <= 0.5 and 0 < summary["emission_weighted_f1"] <= 1
    assert summary["rejected_set_weights"] == 0
    assert sorted(p.name for p in output.plots()) == ["emission_per_uid.png", "emission_share.png", "g_ratio.png"]
    assert set(output.table("miners")["label"]) == {"honest", "slow"}
    verdicts = output.table("verdicts").set_index(["side", "subject"])
    assert list(verdicts.index) == [("miners", "slow"), ("validators", "copiers")]
    assert verdicts.loc[("validators", "copiers"), "estimate"] == copiers["g_ratio"]
    assert verdicts.loc[("validators", "copiers"), "sentence"].startswith("copiers (copier) earns G = ")
    # miners mostly timing out: the honest validators' tally says their calls failed
    assert verdicts.loc[("miners", "slow"), "verdict"] == "failed"
    calls = output.table("miner_calls")
    assert calls.groupby("behaviour")["successes"].sum()["slow"] < calls.groupby("behaviour")["calls"].sum()["slow"] / 2
    assert "verdicts of query 'run':" in whole.stderr


TOURNAMENT = CONFIG.replace("miners: {slow: 4}", "miners: {length_padder: 4, honest_twin: {behaviour: honest, count: 4}}") \
    .replace("copiers: {count: 1, strategy: copier}", "lazy: {count: 1, strategy: lazy}") \
    .replace("cap: 50}}", "cap: 50}, weights: {alpha: 0.9}}") \
    .replace("  record_matrices: true", "  controls: [honest_twin]").replace("  epochs: 6\n", "  epochs: 8\n")


def test_a_network_tournament_judges_miner_strategies_by_their_emission_per_uid(tmp_path: Path) -> None:
    run = run_config(tmp_path, TOURNAMENT)
    verdicts = run.output.table("verdicts").set_index(["side", "subject"])
    strategies = run.output.table("strategies").set_index("behaviour")
    # a reward that pays for words: padded answers take more of the emission per uid than honest ones
    assert verdicts.loc[("miners", "length_padder"), "verdict"] == "exploit"
    assert "emission share per uid of honest miners" in verdicts.loc[("miners", "length_padder"), "sentence"]
    assert verdicts.loc[("miners", "honest_twin"), "verdict"] == "neutral"
    assert strategies.loc["length_padder", "ratio"] > 1 > strategies.loc["honest_twin", "ratio"] - 0.2
    # validators setting random weights earn less per stake than honest ones
    assert verdicts.loc[("validators", "lazy"), "verdict"] == "penalized"
    summary = run.result.records[-1].summary
    assert summary["controls/flagged"] == 0 and summary["baseline/healthy"] == 1
    assert summary["ratio/miners/length_padder"] == pytest.approx(strategies.loc["length_padder", "ratio"])


def test_a_network_whose_honest_validators_set_no_weight_is_inconclusive(tmp_path: Path) -> None:
    config = TOURNAMENT.replace("weights_set_rate_limit: 5", "weights_set_rate_limit: 12")  # once every 3 epochs
    verdicts = run_config(tmp_path, config).output.table("verdicts").set_index(["side", "subject"])
    validators = verdicts.loc["validators"]
    assert set(validators["verdict"]) == {"inconclusive"}
    assert "the chain accepted 38% of the honest validators' set_weights (mostly" in validators["sentence"].iloc[0]


def test_an_interrupted_network_run_resumes_at_the_next_block_of_epochs(whole: Run, tmp_path: Path) -> None:
    with stopped_after(4, "run"):
        run_config(tmp_path, CONFIG)
    experiment = parse_experiment(load_yaml_text(CONFIG, "c.yml"))
    assert Store(tmp_path / "store").partial_chunks(plan(experiment, None)[-1].fingerprint) == 4
    resumed = run_config(tmp_path, CONFIG)
    for name in TABLES:
        pd.testing.assert_frame_equal(resumed.output.table(name), whole.output.table(name))


@pytest.mark.parametrize(("change", "message"), [
    (("strategy: copier", "strategy: copyer"), r"c.yml: model.validators.copiers \(line 11\): unknown "
                                               r"validator_strategy component 'copyer' \(did you mean 'copier'\?\)"),
    (("strategy: copier", "strategy: copier, lagg: 2"), r"model.validators.copiers \(line 11\): strategy copier: "
                                                        r"lagg: Extra inputs are not permitted"),
    (("strategy: copier", "strategy: cabal, targets: [slw]"), r"model.validators.copiers.targets \(line 11\): cabal "
                                                              r"target 'slw' is no miner strategy"),
    (("tempo: 4,", "tempo: 4, kappa: 70000,"), r"model.chain.kappa \(line 12\): kappa must be between 0 and 65535"),
    (("tempo: 4,", "tempo: 4, version: yuma4,"), r"model.chain.version \(line 12\): expected one of"),
    (("copiers: {count: 1,", "copiers: {count: 1, stake: 1.0,"), r"model.validators \(line 9\): validators: the "
                                                                 r"groups' stake shares sum to 1, leaving no stake for honest"),
    (("neuron: {reward:", "neuron: {metagraph: {n: 3}, reward:"), r"model.validators.honest \(line 10\): .*metagraph is "
                                                                  r"the network's"),
    (("warmup: 1", "warmup: 6"), r"query \(line 13\): warmup \(6\) must leave some of the 6 epochs"),
])
def test_config_errors_say_where_before_anything_runs(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan(parse_experiment(load_yaml_text(CONFIG.replace(*change), "c.yml")), None)


def test_on_ray_a_network_s_repetitions_run_as_ray_tasks_and_give_the_same_tables(whole: Run, tmp_path: Path) -> None:
    import ray

    from mirror_neuron import ray_runtime

    ray_runtime.init(num_cpus=2)  # as a point of a sweep on Ray runs
    try:
        on_ray = run_config(tmp_path, CONFIG)
    finally:
        ray.shutdown()
    assert "network: 2 repetition(s) as Ray tasks" in on_ray.stderr
    for name in TABLES:
        pd.testing.assert_frame_equal(on_ray.output.table(name), whole.output.table(name))
