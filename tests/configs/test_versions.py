"""configs/validators/versions.yml: each validator version runs offline in a Neuron query and a Tournament.

The run goes through the runner with the config's own stand-ins, except that the SmolLM2 scorers are
swapped for a word-count reward (a cheaper stand-in) to keep the suite fast; the loops, filters,
normalizers and weight rules are the versions' own.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from mirror_neuron.runner import RunOptions, run_experiment

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "validators" / "versions.yml"
LENGTH = "{type: LengthRewardModel, cap: 50}"
CHEAP = ["tracking.backend=none", f"model.core.reward={LENGTH}",
         *(f"model.{m}.reward.scorers.{s}={LENGTH}" for m in ("ov11", "ov12") for s in ("rlhf", "reciprocate")),
         f"model.ov12.reward.scorers.dpo={LENGTH}", "model.ov11.training_topk=2", "model.ov12.training_topk=2"]


def test_every_version_runs_a_neuron_query_and_a_tournament_with_its_stand_ins_declared(tmp_path: Path) -> None:
    with contextlib.redirect_stderr(io.StringIO()) as said:
        result = run_experiment(RunOptions(config=CONFIG, out=tmp_path / "out", store=tmp_path / "store",
                                           overrides=CHEAP))
    outputs = {record.id: record.output for record in result.records}
    for model, version in (("core", "core-2023"), ("ov11", "openvalidators-1.1"), ("ov12", "openvalidators-1.2")):
        config = outputs[model].manifest["config"]
        assert config["validator"] == version
        keys = {d["key"] for d in config["deviations"]}
        assert "gating" in keys and (("screen" in keys) if model == "core" else ("reward.filters.nsfw" in keys))
        assert f"{model}: validator: {version}" in said.getvalue()
    core, ov11, ov12 = (outputs[f"{m}_train"].table() for m in ("core", "ov11", "ov12"))
    assert set(core["name"]) == {"answer", "question"} and not core[core["name"] == "question"]["weighted"].any()
    assert ov11["name"].tolist() == ["augment"] + [f"{k}{i}" for i in range(4) for k in ("followup", "answer")]
    assert "diversity_reward_model" in ov12 and "relevance_filter" in ov12
    for model in ("core", "ov11", "ov12"):
        verdicts = outputs[f"{model}_tournament"].table("verdicts")
        assert set(verdicts["subject"]) == {"answer_stuffer", "echo"}
    report = (tmp_path / "out" / "report.md").read_text()
    # core's gating is replaced by a stand-in, so its one bug (accumulating gradients) is off; both
    # openvalidators versions keep the off-flag and NaN-variance bugs of their reward stacks
    assert report.count("the originals' bugs on:") == 2 and report.count("stand-in corpus") == 3
