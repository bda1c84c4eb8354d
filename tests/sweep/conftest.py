"""The serial run of the tournament sweep that the executors' tables are checked against (run once)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.sweep.run import SweepOptions, run_sweep
from tests.conftest import write_config
from tests.fixtures.sweeps import FILTERS_BY_STEPS, tournament_sweep


@pytest.fixture(scope="session")
def serial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The tournament sweep run serially in this process (its folder and points table)."""
    folder = tmp_path_factory.mktemp("serial")
    config = write_config(folder / "c.yml", tournament_sweep("filters", FILTERS_BY_STEPS))
    result = run_sweep(SweepOptions(config=config, out=folder / "out", store=folder / "store"))
    return folder, result.table
