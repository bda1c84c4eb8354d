"""Model steps hand off typed specs; a reward model is loaded once per process and reused downstream."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mirror_neuron.config import parse_experiment
from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.hashing import sha256_file
from mirror_neuron.neuron.config import NeuronConfig
from mirror_neuron.neuron.reward.trlx.module import TrlxRewardModule
from mirror_neuron.neuron.reward.trlx.reward import RewardModel
from mirror_neuron.runner import RunOptions, plan, run_experiment
from mirror_neuron.steps.model import spec as specs
from mirror_neuron.steps.model.spec import RewardModelSpec, load_reward_model, model_spec
from mirror_neuron.yaml_source import load_yaml_text

CONFIG = """
experiment: {{name: spec, seed: 4}}
tracking: {{backend: none}}
model:
  - {{id: rm, path: tiny:gptj{extra}}}
  - {{id: neuron, type: neuron, metagraph: {{n: 8}}}}
data: {{id: nq, path: {data}/nq_open/NQ-open.dev.jsonl, sample: {{method: first, n: 6}}}}
query:
  - {{id: scores, requires: [rm, nq], entrypoint: RewardModel}}
"""


def run(tmp_path: Path, data: Path, extra: str = "") -> dict:
    config = tmp_path / "c.yml"
    config.write_text(CONFIG.format(data=data, extra=extra))
    records = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store")).records
    return {r.id: r for r in records}


def planned(text: str, tmp_path: Path) -> list:
    return plan(parse_experiment(load_yaml_text(text, str(tmp_path / "c.yml"))), None)


def test_specs_are_typed_and_the_checkpoint_hash_is_a_field(tmp_path: Path, shared_data: Path) -> None:
    torch.save(TrlxRewardModule("tiny:gptj", seed=9).state_dict(), tmp_path / "hf_ckpt.pt")
    records = run(tmp_path, shared_data, extra=", ckpt: hf_ckpt.pt")
    reward = model_spec(records["rm"].output)
    assert isinstance(reward, RewardModelSpec) and reward.kind == "trlx" and reward.ckpt == "hf_ckpt.pt"
    assert reward.ckpt_sha256 == sha256_file(tmp_path / "hf_ckpt.pt")
    neuron = model_spec(records["neuron"].output, NeuronConfig)
    assert isinstance(neuron, NeuronConfig) and neuron.seed == 4 and neuron.metagraph.n == 8
    with pytest.raises(UserError, match=r"'neuron' \(neuron\) does not hand off a RewardModelSpec"):
        model_spec(records["neuron"].output, RewardModelSpec)
    with pytest.raises(UserError, match="does not hand off"):
        model_spec(records["scores"].output)


def test_the_query_reuses_the_model_its_step_loaded(tmp_path: Path, shared_data: Path) -> None:
    specs._load.cache_clear()
    records = run(tmp_path, shared_data)
    info = specs._load.cache_info()
    assert info.misses == 1 and info.hits >= 1  # described by the model step, then scored by the query
    spec = model_spec(records["rm"].output, RewardModelSpec)
    model = load_reward_model(spec, tmp_path, 4)
    assert isinstance(model, RewardModel) and model is load_reward_model(spec, tmp_path, 4)
    assert records["rm"].output.table()["parameters"][0] == sum(p.numel() for p in model.module.parameters())


@pytest.mark.parametrize("extra, message", [
    (", kind: trlxx", r"c.yml: model\[0\].kind \(line 5\): unknown reward component 'trlxx'"),
    (", kind: ConstantRewardModel", r"model\[0\].kind .*'ConstantRewardModel' does not load from a path"),
    (", kind: log_prob, ckpt: x.pt", r"model\[0\].ckpt .*kind 'log_prob' takes no ckpt"),
    (", device: tpu", r"device must be auto, cpu or cuda\[:N\]"),
])
def test_bad_kinds_and_options_are_one_line_config_errors(tmp_path: Path, shared_data: Path, extra: str,
                                                          message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        planned(CONFIG.format(data=shared_data, extra=extra), tmp_path)
    assert "\n" not in str(caught.value)


def test_kinds_resolve_through_the_registry_by_name_or_alias(tmp_path: Path, shared_data: Path) -> None:
    text = CONFIG.format(data=shared_data, extra=", kind: KIND").replace("tiny:gptj", "tiny:gpt2")
    by_alias = planned(text.replace("KIND", "sequence_classification"), tmp_path)
    by_name = planned(text.replace("KIND", "SequenceClassificationRewardModel"), tmp_path)
    assert by_alias[0].resolved["kind"] == "sequence_classification"
    assert by_name[0].resolved["kind"] == "SequenceClassificationRewardModel"
