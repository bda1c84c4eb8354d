"""Reward-model queries on real data: preference pairs and rows, every model kind, checkpoints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from mirror_neuron.config import parse_experiment
from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.neuron.reward.trlx.module import END, START, TrlxRewardModule
from mirror_neuron.runner import RunOptions, plan, run_experiment
from mirror_neuron.yaml_source import load_yaml_text

ORIGINAL_SHAPES = """
experiment: {{name: rq, seed: 0}}
tracking: {{backend: none}}
model:
  id: my_model
  path: tiny:gptj
  {model_options}{model_extra}
data:
  - id: hh
    path: {data}/hh_rlhf
    schema: {{test: {{chosen: chosen, rejected: rejected}}}}
    dialogue: hh
    sample: {{method: random, n: 24}}
  - id: nq
    path: {data}/nq_open/NQ-open.dev.jsonl
    schema:
      dev:
        - row:
          question: question
          answer: answer
    sample: {{method: first, n: 20}}
query:
  - id: pairs
    requires: [my_model, hh]
    entrypoint: RewardModel
    chunk_size: 4
    chunk_rows: 10
    message: {{roles: default, unravel: default}}
    tokenizer: {{truncation: False, max_length: 550, padding: max_length}}
    forward:
      inference: False
      args: {{input_ids: None, return_dict: True, output_hidden_states: False}}
    store: [loss, chosen_end_scores, rejected_end_scores]
  - id: rows
    requires: [my_model, nq]
    entrypoint: RewardModel
    reward: {{form: {form}, shift: 3}}
"""


DEFAULT_OPTIONS = "tokenizer: default\n  embedding: default\n  norm: default"


def run(tmp_path: Path, data: Path, form: str = "plain", model_extra: str = "",
        model_options: str = DEFAULT_OPTIONS) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "c.yml"
    config.write_text(ORIGINAL_SHAPES.format(data=data, form=form, model_extra=model_extra,
                                             model_options=model_options))
    records = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store")).records
    return {r.id: r for r in records}


def test_pairs_and_rows_in_the_original_shapes(tmp_path: Path, shared_data: Path) -> None:
    records = run(tmp_path, shared_data)
    pairs = records["pairs"].output.table()
    assert len(pairs) == 24 and pairs["prompt"].str.endswith("Assistant:").all()
    assert np.isfinite(pairs[["loss", "chosen_end_scores", "rejected_end_scores"]].to_numpy()).all()
    summary = records["pairs"].summary
    assert summary["accuracy"] == pytest.approx(pairs["correct"].mean())
    assert summary["accuracy_low"] <= summary["accuracy"] <= summary["accuracy_high"]
    module = TrlxRewardModule("tiny:gptj", seed=0)
    for row in pairs.head(4).itertuples():  # the original: one pair per forward, padded to 550 tokens or more
        texts = [START + row.prompt + row.chosen + END, START + row.prompt + row.rejected + END]
        longest = max(len(ids) for ids in module.tokenizer(texts)["input_ids"])
        encoded = module.tokenizer(texts, padding="max_length", max_length=max(550, longest), return_tensors="pt")
        with torch.no_grad():
            original = module(encoded["input_ids"], attention_mask=encoded["attention_mask"])
        assert row.loss == pytest.approx(float(original["loss"]), abs=1e-4)
        assert row.chosen_end_scores == pytest.approx(float(original["chosen_end_scores"][0]), abs=1e-4)
        assert row.rejected_end_scores == pytest.approx(float(original["rejected_end_scores"][0]), abs=1e-4)
    rows = records["rows"].output.table()
    assert len(rows) == 20
    plain = [q.strip() + "\n\n" + a.strip() for q, a in zip(rows["prompt"], rows["completion"])][:5]
    np.testing.assert_allclose(rows["score"][:5], module.reference_score(plain), atol=1e-4)


def test_difference_form_applies_the_shifted_relu(tmp_path: Path, shared_data: Path) -> None:
    rows = run(tmp_path, shared_data, form="difference")["rows"].output.table()
    expected = np.maximum(rows["score_full"] + 3, 0) - np.maximum(rows["score_completion"] + 3, 0)
    np.testing.assert_allclose(rows["score"], expected)


@pytest.mark.parametrize("kind, path", [("sequence_classification", "tiny:gpt2"), ("log_prob", "tiny:gpt2")])
def test_other_kinds(tmp_path: Path, shared_data: Path, kind: str, path: str) -> None:
    records = run(tmp_path, shared_data, model_extra=f"\n  kind: {kind}".replace("tiny:gptj", path))
    pairs = records["pairs"].output.table()
    assert np.isfinite(pairs["chosen_end_scores"]).all() and len(pairs) == 24
    expected_loss = np.logaddexp(0, -(pairs["chosen_end_scores"] - pairs["rejected_end_scores"]))
    np.testing.assert_allclose(pairs["loss"], expected_loss)


def test_a_checkpoint_is_loaded_and_verified(tmp_path: Path, shared_data: Path) -> None:
    trained = TrlxRewardModule("tiny:gptj", seed=7)
    torch.save(trained.state_dict(), tmp_path / "hf_ckpt.pt")
    records = run(tmp_path, shared_data, model_extra="\n  ckpt: hf_ckpt.pt")
    rows = records["rows"].output.table()
    plain = [q.strip() + "\n\n" + a.strip() for q, a in zip(rows["prompt"], rows["completion"])][:3]
    np.testing.assert_allclose(rows["score"][:3], trained.reference_score(plain), atol=1e-4)
    with pytest.raises(UserError, match="sha256"):
        run(tmp_path / "bad", shared_data, model_extra=f"\n  ckpt: {tmp_path}/hf_ckpt.pt\n  sha256: {'0' * 64}")


def test_unreachable_checkpoint_urls_and_missing_files_are_clear_errors(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(UserError, match=r"cannot download checkpoint http://127.0.0.1:9/hf_ckpt.pt .*local file"):
        run(tmp_path, shared_data, model_extra="\n  ckpt: http://127.0.0.1:9/hf_ckpt.pt")
    text = ORIGINAL_SHAPES.format(data=shared_data, form="plain", model_extra="\n  ckpt: nowhere.pt",
                                  model_options=DEFAULT_OPTIONS)
    with pytest.raises(ConfigError, match=r"model.ckpt \(line 10\): checkpoint not found"):
        plan(parse_experiment(load_yaml_text(text, str(tmp_path / "c.yml"))), None)


def test_tokenizer_embedding_and_norm_overrides(tmp_path: Path, shared_data: Path) -> None:
    from mirror_neuron.models.tiny import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    tokenizer.add_tokens(["<extra_token_1>", "<extra_token_2>"])
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    default = run(tmp_path / "default", shared_data)["rows"].output.table()["score"]
    overrides = f"tokenizer: {tmp_path / 'tokenizer'}\n  embedding: resize\n  norm: default"
    resized = run(tmp_path / "resized", shared_data, model_options=overrides)
    assert resized["my_model"].output.table()["parameters"][0] == \
        run(tmp_path / "default", shared_data)["my_model"].output.table()["parameters"][0] + 2 * 64
    np.testing.assert_allclose(resized["rows"].output.table()["score"], default, atol=1e-5)
    no_norm = run(tmp_path / "identity", shared_data,
                  model_options="norm: identity")["rows"].output.table()["score"]
    assert not np.allclose(no_norm, default)


def test_hidden_states_tokens_and_embeddings_are_stored_in_shards(tmp_path: Path, shared_data: Path) -> None:
    from safetensors.numpy import load_file

    config = tmp_path / "c.yml"
    config.write_text(f"""
tracking: {{backend: none}}
model: {{id: m, path: tiny:gptj}}
data: {{id: nq, path: {shared_data}/nq_open/NQ-open.dev.jsonl, sample: {{method: first, n: 12}}}}
query:
  id: q
  requires: [m, nq]
  entrypoint: RewardModel
  chunk_rows: 5
  chunk_size: 4
  store: [hidden_states, tokens, embeddings]
  hidden_states: {{layers: all, pool: end}}
""")
    output = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store")).records[-1].output
    table = output.table()
    assert table["shard"].tolist() == [0] * 5 + [1] * 5 + [2] * 2
    shards = {k: load_file(str(output.path / "chunks" / f"{k:06d}" / "tensors.safetensors")) for k in range(3)}
    assert shards[0]["hidden_states"].shape == (5, 3, 64) and shards[0]["hidden_states"].dtype == np.float16
    assert shards[2]["embeddings"].shape == (2, 64)
    np.testing.assert_array_equal(shards[1]["embeddings"], shards[1]["hidden_states"][:, -1])
    module = TrlxRewardModule("tiny:gptj", seed=0)
    row = table.iloc[7]
    ids = shards[1]["tokens"][row["tokens_offset"]:row["tokens_offset"] + row["tokens_length"]]
    text = START + row["prompt"].strip() + "\n\n" + row["completion"].strip() + END
    expected = module.tokenizer(text)["input_ids"]
    assert ids.tolist() == expected[:expected.index(module.pad_id)]
    with torch.no_grad():
        head = module.v_head(torch.tensor(shards[1]["embeddings"][row["shard_row"]], dtype=torch.float32))
    assert float(head) == pytest.approx(row["score"], abs=2e-2)  # float16 storage
    np.testing.assert_array_equal(output.tensor("embeddings")[7], shards[1]["embeddings"][2])


def test_pairs_store_each_side_s_tensors_beside_the_scores(tmp_path: Path, shared_data: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(f"""
tracking: {{backend: none}}
model: {{id: m, path: tiny:gptj}}
data:
  id: hh
  path: {shared_data}/hh_rlhf
  schema: {{test: {{chosen: chosen, rejected: rejected}}}}
  dialogue: hh
  sample: {{method: first, n: 6}}
query:
  id: q
  requires: [m, hh]
  entrypoint: RewardModel
  store: [loss, chosen_end_scores, rejected_end_scores, hidden_states, tokens, embeddings]
""")
    output = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store")).records[-1].output
    assert {"loss", "correct", "chosen_tokens_offset", "rejected_tokens_length"} <= set(output.table().columns)
    for side in ("chosen", "rejected"):
        assert output.tensor(f"{side}_embeddings").shape == (6, 64)
        assert output.tensor(f"{side}_hidden_states").shape[0] == 6


OPTIONS = """
experiment: {{name: rq_options, seed: 0}}
tracking: {{backend: none}}
model: {{id: m, path: tiny:gptj}}
data: {{id: nq, path: {data}/nq_open/NQ-open.dev.jsonl, sample: {{method: first, n: 8}}}}
query:
  id: q
  requires: [m, nq]
  entrypoint: RewardModel
  {options}
"""


def options_config(data: Path, options: str) -> str:
    return OPTIONS.format(data=data, options=options)


def query_fingerprint(tmp_path: Path, data: Path, options: str) -> str:
    steps = plan(parse_experiment(load_yaml_text(options_config(data, options), str(tmp_path / "c.yml"))), None)
    return steps[-1].fingerprint


def run_options(tmp_path: Path, data: Path, options: str) -> pd.DataFrame:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "c.yml"
    config.write_text(options_config(data, options))
    return run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store")).records[-1]


def test_truncation_cuts_the_scored_texts_and_changes_the_fingerprint(tmp_path: Path, shared_data: Path) -> None:
    base = query_fingerprint(tmp_path, shared_data, "tokenizer: {truncation: false, max_length: 550}")
    cut = "tokenizer: {truncation: true, max_length: 8}"
    assert query_fingerprint(tmp_path, shared_data, cut) != base
    assert query_fingerprint(tmp_path, shared_data, "tokenizer: {truncation: true, max_length: 9}") != \
        query_fingerprint(tmp_path, shared_data, cut)
    full = run_options(tmp_path / "full", shared_data, "tokenizer: {truncation: false}").output.table()
    truncated = run_options(tmp_path / "cut", shared_data, cut).output.table()
    assert not np.allclose(full["score"], truncated["score"])
    module = TrlxRewardModule("tiny:gptj", seed=0)
    texts = [q.strip() + "\n\n" + a.strip() for q, a in zip(truncated["prompt"], truncated["completion"])]
    np.testing.assert_allclose(truncated["score"], module.reference_score(texts, max_length=8), atol=1e-4)
    np.testing.assert_allclose(full["score"], module.reference_score(texts), atol=1e-4)


def test_values_that_change_nothing_leave_the_fingerprint_alone(tmp_path: Path, shared_data: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = query_fingerprint(tmp_path, shared_data, "chunk_size: 16")
    assert "changes nothing" not in capsys.readouterr().err
    for no_op, key in (("tokenizer: {padding: longest}", "query.tokenizer.padding"),
                       ("tokenizer: {truncation: false, max_length: 12}", "query.tokenizer.max_length"),
                       ("message: {roles: [human, bot]}", "query.message.roles"),
                       ("message: {unravel: false}", None),
                       ("forward: {args: {input_ids: None, return_dict: True, output_attentions: False}}",
                        "query.forward.args"),
                       ("forward: {inference: false}", None),
                       ("reward: {form: plain, shift: 5.0}", "query.reward.shift"),
                       ("hidden_states: {layers: all}", "query.hidden_states")):
        assert query_fingerprint(tmp_path, shared_data, no_op) == base, no_op
        said = capsys.readouterr().err
        if key is None:
            assert "changes nothing" not in said, no_op
        else:  # said at validation, at the key, in one line
            assert re.search(rf"note: .*c.yml: {re.escape(key)} \(line \d+\): changes nothing here", said), said
    for live in ("message: {unravel: true}", "forward: {args: {output_hidden_states: true}}",
                 "forward: {inference: true}"):
        assert query_fingerprint(tmp_path, shared_data, live) != base, live
    assert query_fingerprint(tmp_path, shared_data, "message: {unravel: true, roles: [human, bot]}") != \
        query_fingerprint(tmp_path, shared_data, "message: {unravel: true}")


def test_unravel_scores_the_role_lines(tmp_path: Path, shared_data: Path) -> None:
    table = run_options(tmp_path, shared_data, "message: {unravel: true, roles: [human, bot]}").output.table()
    module = TrlxRewardModule("tiny:gptj", seed=0)
    texts = [f"human: {q.strip()}\nbot: {a.strip()}" for q, a in zip(table["prompt"], table["completion"])]
    np.testing.assert_allclose(table["score"], module.reference_score(texts), atol=1e-4)


def test_the_forward_block_asks_for_hidden_states_and_inference(tmp_path: Path, shared_data: Path) -> None:
    record = run_options(tmp_path, shared_data, "forward: {args: {output_hidden_states: true}}")
    assert record.output.tensor("hidden_states").shape == (8, 1, 64)
    hh = f"{shared_data}/hh_rlhf"
    pairs = OPTIONS.replace("data: {{id: nq, path: {data}/nq_open/NQ-open.dev.jsonl,",
                            "data: {{id: nq, path: " + hh + ", schema: {{test: {{prompt: chosen, chosen: chosen, "
                            "rejected: rejected}}}},")
    config = tmp_path / "pairs.yml"
    config.write_text(pairs.format(data=shared_data, options="forward: {inference: true}"))
    scored = run_experiment(RunOptions(config=config, out=tmp_path / "o2", store=tmp_path / "s2")).records[-1]
    assert "score" in scored.output.table() and "loss" not in scored.output.table()  # rows, not pairs
    config.write_text(options_config(shared_data, "mode: pairs\n  forward: {inference: true}"))
    with pytest.raises(ConfigError, match="contradicts mode: pairs"):
        plan(parse_experiment(load_yaml_text(config.read_text(), str(config))), None)
