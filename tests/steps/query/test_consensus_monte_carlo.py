"""The consensus Monte Carlo as a query step: its series beside the published figures, its grid and plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.runs import run_config

CONFIG = """\
experiment: {name: mc, seed: 0}
tracking: {backend: none}
query:
  id: mc
  entrypoint: ConsensusMonteCarlo
  vary: weight_stddev
  values: [0.0, 0.4]
  grid_points: 11
"""


def test_the_monte_carlo_step_stores_its_series_grid_and_contour_plot(tmp_path: Path) -> None:
    done = run_config(tmp_path, CONFIG)
    output = done.output
    series = output.table("series")
    assert series["value"].tolist() == [0.0, 0.4] and series["published"].tolist() == [0.60, 0.73]
    no_noise, noisy = series["utility_needed"]
    assert no_noise == pytest.approx(0.6, abs=0.03) and noisy > no_noise  # noise costs the honest side utility
    needed = output.table("utility_needed")
    assert len(needed) == 11 and needed["utility_needed"].between(0.5, 1.0).all()
    assert [p.name for p in output.plots()] == ["retention_contours.png"]
    assert done.result.records[-1].summary["utility_needed/weight_stddev=0.4"] == pytest.approx(noisy)
