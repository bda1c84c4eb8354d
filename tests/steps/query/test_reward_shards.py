"""A reward-model query sharded over Ray workers (model replicas) gives the one-process table, in order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.errors import ConfigError
from mirror_neuron.runner import RunOptions, load_experiment, plan, run_experiment
from mirror_neuron.steps.query.reward_shards import split_rows
from tests.conftest import write_config

SHARDED = """
experiment: {{name: shards, seed: 0}}
tracking: {{backend: none}}
model: {{id: m, path: tiny:gptj}}
data:
  - {{id: nq, path: {data}/nq_open/NQ-open.dev.jsonl, sample: {{method: first, n: 22}}}}
  - {{id: hh, path: {data}/hh_rlhf, schema: {{test: {{chosen: chosen, rejected: rejected}}}}, dialogue: hh,
     sample: {{method: first, n: 9}}}}
query:
  - {{id: rows, requires: [m, nq], entrypoint: RewardModel, chunk_size: 4, chunk_rows: 10, shards: {shards}}}
  - {{id: pairs, requires: [m, hh], entrypoint: RewardModel, chunk_size: 2, chunk_rows: 5, shards: {shards}}}
"""


def test_parts_are_whole_batches_in_order() -> None:
    assert split_rows(10, 2, 4) == [range(0, 8), range(8, 10)]
    assert split_rows(22, 3, 4) == [range(0, 8), range(8, 16), range(16, 22)]
    assert split_rows(3, 4, 4) == [range(0, 3), range(3, 3), range(3, 3), range(3, 3)]


def test_two_replicas_give_the_one_process_table_and_fingerprint(tmp_path: Path, shared_data: Path) -> None:
    tables, fingerprints = {}, {}
    for shards in (1, 2):
        folder = tmp_path / str(shards)
        folder.mkdir()
        config = write_config(folder / "c.yml", SHARDED.format(data=shared_data, shards=shards))
        fingerprints[shards] = [p.fingerprint for p in plan(load_experiment(config, []), None)]
        result = run_experiment(RunOptions(config=config, out=folder / "out", store=folder / "store"))
        tables[shards] = {r.id: r.output.table() for r in result.records if r.section == "query"}
    assert fingerprints[1] == fingerprints[2]  # where rows are scored changes no score
    for query in ("rows", "pairs"):
        pd.testing.assert_frame_equal(tables[2][query], tables[1][query], rtol=0, atol=1e-6)
    assert tables[2]["rows"]["row_id"].tolist() == tables[1]["rows"]["row_id"].tolist()
    assert len(tables[2]["rows"]) == 22 and len(tables[2]["pairs"]) == 9


def test_shards_store_no_tensors(tmp_path: Path, shared_data: Path) -> None:
    text = SHARDED.format(data=shared_data, shards=2).replace("chunk_rows: 10, shards: 2}",
                                                           "chunk_rows: 10, shards: 2, store: [tokens]}")
    config = write_config(tmp_path / "c.yml", text)
    with pytest.raises(ConfigError, match="shards store scores only; storing tokens needs shards: 1"):
        load_experiment(config, [])
