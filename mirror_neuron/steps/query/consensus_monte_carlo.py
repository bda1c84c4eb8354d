"""``entrypoint: ConsensusMonteCarlo``: subtensor's consensus-guarantees Monte Carlo (see
:mod:`mirror_neuron.chain.monte_carlo`) as a step: the honest utility needed to keep each honest stake,
one series of it as one setting varies, and the retention-line plot. Needs no other step."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, PositiveInt

from mirror_neuron.chain.monte_carlo import HONEST_STAKES, PUBLISHED, Game, grid, plot_contours
from mirror_neuron.registry import component
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.store import ChunkWriter, StepOutput

PLOT = "plots/retention_contours.png"


class ConsensusMonteCarloConfig(StepConfig):
    """The game's setting and what to vary::

        query:
          id: monte_carlo
          entrypoint: ConsensusMonteCarlo
          weight_stddev: 0.4      # noise of every validator's weights (sigma of N(1, sigma^2))
          bonds_penalty: 1.0
          kappa: 32767            # u16
          validator_share: 0.5    # xi: share of emission to validators in the retention condition
          vary: weight_stddev     # weight_stddev | bonds_penalty | validator_share | none
          values: [0.0, 0.2, 0.4] # the varied setting's values (read out at honest_stake)
          honest_stake: 0.6
          grid: true              # also every honest stake of the docs' grid, with the contour plot
          grid_points: 51         # utilities per axis (51: steps of 0.02)
          workers: 2              # threads

    Tables: ``series`` (varied, value, utility_needed, published: the docs' figure where it gives one) and
    ``utility_needed`` (per honest stake of the grid). Plot: ``plots/retention_contours.png``.
    """

    weight_stddev: float = Field(0.4, ge=0.0, le=2.0)
    bonds_penalty: float = Field(1.0, ge=0.0, le=1.0)
    kappa: int = Field(32767, ge=0, le=65535)
    validator_share: float = Field(0.5, ge=0.0, le=1.0)
    vary: Literal["weight_stddev", "bonds_penalty", "validator_share", "none"] = "none"
    values: list[float] = []
    honest_stake: float = Field(0.6, gt=0.5, le=1.0)
    grid: bool = True
    grid_points: PositiveInt = Field(51, ge=3, le=201)
    workers: PositiveInt = Field(2, le=16)


@component("query", "ConsensusMonteCarlo",
           summary="subtensor's consensus Monte Carlo: honest utility needed to keep honest stake, series and contours")
class ConsensusMonteCarloStep(Step):
    section = "query"
    config_class = ConsensusMonteCarloConfig
    config: ConsensusMonteCarloConfig

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        config = self.config
        game = Game(weight_stddev=config.weight_stddev, bonds_penalty=config.bonds_penalty, kappa=config.kappa,
                    utilities=np.linspace(0.0, 1.0, config.grid_points))
        summary: dict[str, float] = {}
        if writer.completed == 0:
            rows = []
            for value in config.values if config.vary != "none" else []:
                share = value if config.vary == "validator_share" else config.validator_share
                varied = game if config.vary == "validator_share" else replace(game, **{config.vary: value})
                plane = grid(varied, (config.honest_stake,), workers=config.workers)[config.honest_stake]
                needed = plane.utility_needed(share)
                rows.append({"varied": config.vary, "value": value, "honest_stake": config.honest_stake,
                             "utility_needed": needed,
                             "published": PUBLISHED.get(config.vary, {}).get(value, math.nan)})
            with writer.chunk() as chunk:
                chunk.table("series", pd.DataFrame(rows, columns=["varied", "value", "honest_stake", "utility_needed",
                                                                  "published"]))
        if config.grid and writer.completed == 1:
            planes = grid(game, HONEST_STAKES, workers=config.workers)
            with writer.chunk() as chunk:
                chunk.table("utility_needed", pd.DataFrame(
                    {"honest_stake": list(planes),
                     "utility_needed": [p.utility_needed(config.validator_share) for p in planes.values()]}))
                plot_contours(planes, chunk.file(PLOT), config.validator_share, config.honest_stake)
        series = writer.read_tables("series")
        for row in series.itertuples():
            summary[f"utility_needed/{row.varied}={row.value:g}"] = float(row.utility_needed)
        return summary

    def sample_table(self) -> str:
        return "series"
