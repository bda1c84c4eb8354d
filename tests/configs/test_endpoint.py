"""configs/endpoint.yml, the miner engineer's recipe: valid as shipped at the exploit configs' size, and
(``pytest -m slow``) run end to end against SmolLM2 served by ``mirror-neuron serve``."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest
import yaml

from mirror_neuron.runner import RunOptions, load_experiment, run_experiment
from tests.fixtures.chat_servers import running

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "endpoint.yml"
ATTACKERS = {"echo", "stock_phrase", "length_padder"}


def test_the_recipe_pits_an_endpoint_miner_against_honest_miners_and_the_known_attackers() -> None:
    load_experiment(CONFIG, [])  # valid as shipped, data files included
    config = yaml.safe_load(CONFIG.read_text())
    miners = config["model"]["miners"]
    assert miners["my_miner"]["behaviour"] == "endpoint" and not {"api_key", "key", "token"} & set(miners["my_miner"])
    assert ATTACKERS <= set(miners) and miners["honest_twin"]["behaviour"] == "honest"
    assert config["model"]["metagraph"]["n"] >= 64 and config["data"]["sample"]["n"] >= 20
    tournament = next(query for query in config["query"] if query["entrypoint"] == "Tournament")
    assert tournament["repetitions"] >= 5 and tournament["controls"] == ["honest_twin"]


@pytest.mark.slow
def test_the_recipe_judges_served_smollm2_beside_the_attackers(tmp_path: Path) -> None:
    # 2 shared CPUs generate 8 answers of 48 tokens with SmolLM2 in 5 to 100 s, past the config's 12 s; greedy,
    # the uids share one call per prompt
    small = ["tracking.backend=none", "data.sample.n=3", "query.tournament.steps=6", "query.tournament.repetitions=2",
             "model.timeout=300", "model.miners.my_miner.temperature=0", "model.miners.my_miner.max_tokens=24"]
    with running(sys.executable, "-m", "mirror_neuron", "serve", "--model", "smollm2", "--port", "0") as url:
        with contextlib.redirect_stderr(io.StringIO()):
            result = run_experiment(RunOptions(config=CONFIG, out=tmp_path / "out", store=tmp_path / "store",
                                               overrides=[*small, f"model.miners.my_miner.url={url}"]))
    calls, tournament = (record.output for record in result.records[-2:])
    events = calls.table("data")
    mine = [code for row in events.itertuples() for behaviour, code in zip(row.behaviours, row.return_codes)
            if behaviour == "my_miner"]
    assert len(mine) == 8 * 3 and mine.count(1) == len(mine)  # every call answered within the timeout
    verdicts = tournament.table("verdicts").set_index("subject")["verdict"]
    assert set(verdicts.index) == {"my_miner", "honest_twin", *ATTACKERS}
    assert verdicts["my_miner"] in {"exploit", "weight_leak", "neutral", "penalized"}  # judged, not failed
