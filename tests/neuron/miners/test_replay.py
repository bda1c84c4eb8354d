"""The replay miner sends what real subnet-1 miners answered, at their logged times; a data step reads the log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.neuron.dendrite import EMPTY_RESPONSE, SUCCESS, DummyDendritePool
from mirror_neuron.neuron.miners.honest import Honest
from mirror_neuron.neuron.miners.replay import DEFAULT_EVENTS, Replay
from mirror_neuron.neuron.population import build_population
from mirror_neuron.steps.data.events import read_events
from tests.fixtures.runs import run_config

EVENTS = read_events(DEFAULT_EVENTS)


def test_each_uid_replays_its_logged_completion_at_its_logged_time() -> None:
    assert DEFAULT_EVENTS.is_file() and len(EVENTS) == 54
    event = EVENTS[1]
    pool = DummyDendritePool([Replay()] * 64, seed=0)
    calls = pool(["user"], [event.prompt], np.arange(64), timeout=12.0)
    again = [c for c in EVENTS if c.prompt == event.prompt]
    for call in calls:
        logged = again[(call.uid // 50) % len(again)]
        slot = call.uid % 50
        assert call.elapsed == pytest.approx(logged.completion_times[slot])
        assert call.completion == logged.completions[slot]
        assert call.return_code == (SUCCESS if logged.completions[slot] else EMPTY_RESPONSE)
    assert 0 < sum(c.return_code == SUCCESS for c in calls) < 64  # some real calls returned nothing


def test_a_prompt_the_log_does_not_hold_gets_no_answer_and_a_drawn_latency() -> None:
    pool = DummyDendritePool([Replay(), Honest()], seed=0)
    replayed, honest = pool(["user"], ["What is the capital of Australia?"], np.arange(2), timeout=12.0)
    assert replayed.return_code == EMPTY_RESPONSE and replayed.completion == ""
    assert 0 < replayed.elapsed < 12 and honest.return_code == SUCCESS


def test_a_missing_log_is_one_error_at_its_key(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"miners.replay: invalid parameters \(events: .*no such event log"):
        build_population({"replay": {"count": 2, "events": str(tmp_path / "none.parquet")}}, 4)


def test_a_neuron_query_over_the_log_s_prompts_replays_the_real_population(tmp_path: Path) -> None:
    config = f"""\
experiment: {{name: replay, seed: 0}}
tracking: {{backend: none}}
data:
  id: logged
  path: {DEFAULT_EVENTS}
  schema: {{all: {{prompt: prompt, answer: best}}}}
  sample: {{method: first, n: 6}}
model:
  id: neuron
  type: neuron
  metagraph: {{n: 50}}
  miners: {{replay: 50}}
  reward: {{type: LengthRewardModel, cap: 50}}
query:
  id: forward
  requires: [neuron, logged]
  entrypoint: Neuron
  method: forward
"""
    rows = run_config(tmp_path, config).output.table("data")
    logged = read_events(DEFAULT_EVENTS)
    assert len(rows) == 5  # 6 rows, one of them a weight-setting event with no prompt
    for row in rows.itertuples():
        event = next(e for e in logged if e.prompt == row.prompt)
        assert [row.completions[i] for i in np.argsort(row.uids)] == list(event.completions)
        assert np.allclose([row.elapsed[i] for i in np.argsort(row.uids)], event.completion_times)
