"""Mirror Neuron from Python: run a config given as a dict, read a run back, and call a tournament or a
reward-hack search without writing YAML.

Everything goes through the runner, as ``mirror-neuron run`` does: the same validation (errors name the
keys of the config, ``<dict>: query.steps: ...``), the same store (finished work is reused), the same
run folder, report and verdicts. The package's top level offers these names lazily
(``mirror_neuron.run``), so ``import mirror_neuron`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mirror_neuron.report import RunView, StepView, load_run

__all__ = ["RewardHackSearch", "Tournament", "load_run", "run"]


def run(config: Mapping[str, Any], *, steps: str | None = None, overrides: Sequence[str] = (),
        out: str | Path | None = None, store: str | Path | None = None, force: bool = False,
        offline: bool = False) -> RunView:
    """Run the experiment ``config`` (the mapping a YAML config file would hold) and return the run, read
    back from its folder (:func:`load_run`). The options are those of ``mirror-neuron run``: ``steps``
    (``"query,analysis"``), ``overrides`` (``["data.sample.n=10"]``), ``out``, ``store``, ``force`` and
    ``offline``. Relative paths in the config are read from the working directory."""
    from mirror_neuron.errors import ConfigError
    from mirror_neuron.runner import RunOptions, run_experiment
    from mirror_neuron.yaml_source import DICT_SOURCE

    if not isinstance(config, Mapping):  # a path belongs to `mirror-neuron run --config`
        raise ConfigError(f"the config must be a mapping of sections, got {type(config).__name__}", DICT_SOURCE)
    result = run_experiment(RunOptions(config=config, offline=offline, steps=steps, overrides=list(overrides),
                                       out=Path(out) if out is not None else None,
                                       store=Path(store) if store is not None else None, force=force))
    return load_run(result.out)


class _OneQuery:
    """An experiment of one query step over an optional model entry and data entry, built as a config dict."""

    entrypoint: ClassVar[str]
    step_id: ClassVar[str]
    model_id: ClassVar[str] = "model"

    def __init__(self, model: Mapping[str, Any] | None, data: Mapping[str, Any] | None, name: str | None,
                 seed: int, tracking: Mapping[str, Any] | None, params: dict[str, Any]) -> None:
        self.model, self.data, self.params = model, data, params
        self.name, self.seed = name or self.step_id, seed
        self.tracking = dict(tracking) if tracking is not None else {"backend": "none"}

    def config(self) -> dict[str, Any]:
        """The experiment this call runs, as the config dict (YAML file) that would say the same."""
        config: dict[str, Any] = {"experiment": {"name": self.name, "seed": self.seed}, "tracking": self.tracking}
        requires = []
        if self.model is not None:
            config["model"] = {"id": self.model_id, **self.model}
            requires.append(self.model_id)
        if self.data is not None:
            config["data"] = {"id": "data", **self.data}
            requires.append("data")
        config["query"] = {"id": self.step_id, "requires": requires, "entrypoint": self.entrypoint, **self.params}
        return config

    def run(self, **options: Any) -> StepView:
        """Run it (the options of :func:`run`) and return the step: ``dataframe("verdicts")``, ``dataframes()``,
        ``summary``, ``manifest``, ``plots``."""
        return run(self.config(), **options)[self.step_id]


class Tournament(_OneQuery):
    """A tournament without YAML: ``Tournament(neuron={"miners": {"echo": 4}}, steps=200).run()``.

    ``neuron`` is what a ``type: neuron`` model entry holds (metagraph, miners, reward, ...), ``data``
    a data entry (needed for ``method="forward"``), and the other keywords are the Tournament step's
    parameters (steps, repetitions, method, controls, ...; ``mirror-neuron ls`` lists them).
    """

    entrypoint = "Tournament"
    step_id = "tournament"
    model_id = "neuron"

    def __init__(self, neuron: Mapping[str, Any], data: Mapping[str, Any] | None = None, *,
                 name: str | None = None, seed: int = 0, tracking: Mapping[str, Any] | None = None,
                 **params: Any) -> None:
        super().__init__({"type": "neuron", **neuron}, data, name, seed, tracking, params)


class RewardHackSearch(_OneQuery):
    """A reward-hack search without YAML:
    ``RewardHackSearch(data={"path": "builtin:prompts"}, reward={"type": "LengthRewardModel"}).run()``.

    ``data`` is a data entry with questions and reference answers; the reward is ``reward`` (a reward
    model, as the step's ``reward`` key takes it) or a ``model`` entry (``type: neuron`` or
    ``reward_model``). The other keywords are the RewardHackSearch step's parameters (transforms,
    max_depth, budget, ...).
    """

    entrypoint = "RewardHackSearch"
    step_id = "hacks"

    def __init__(self, data: Mapping[str, Any], reward: Mapping[str, Any] | None = None, *,
                 model: Mapping[str, Any] | None = None, name: str | None = None, seed: int = 0,
                 tracking: Mapping[str, Any] | None = None, **params: Any) -> None:
        if reward is not None:
            params["reward"] = dict(reward)
        super().__init__(model, data, name, seed, tracking, params)
