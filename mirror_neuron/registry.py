"""Named components, mapped lazily to ``"module:attr"`` so listing them imports nothing heavy.

Every component a config can name lives in :data:`CATALOGUE`; ``mirror-neuron ls`` prints it. A
config may also name its own code as ``"package.module:attr"``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from mirror_neuron.analysis import features as _features
from mirror_neuron.errors import UserError, did_you_mean
from mirror_neuron.lab import transforms as _transforms


@dataclass(frozen=True)
class Component:
    """One named, lazily importable component of a family (a step kind, a miner behaviour, ...)."""

    family: str
    name: str
    target: str
    summary: str
    aliases: tuple[str, ...] = ()  # other names a config may use (a reward model's ``kind``)

    def load(self) -> Any:
        return load_target(self.target)


FAMILIES: dict[str, str] = {
    "model": "model step types (`model[].type`)",
    "data": "data step entrypoints (`data[].entrypoint`)",
    "query": "query step entrypoints (`query[].entrypoint`)",
    "analysis": "analysis step entrypoints (`analysis[].entrypoint`)",
    "dataset": "built-in data sets (`data[].path: builtin:NAME`)",
    "behaviour": "miner behaviours of the dummy dendrite pool",
    "gating": "gating models of the neuron",
    "reward": "reward models of the neuron",
    "filter": "reward filters of a RewardStack (`reward.filters`)",
    "feature": "text features of an analysis (`analysis[].compute`, `x`, `plot`)",
    "transform": "text transforms of honest answers for the reward-hack search (`query[].transforms`)",
}

CATALOGUE: list[Component] = [
    Component("data", "Dataset", "mirror_neuron.steps.data.step:DatasetStep",
              "load, map and sample prompts or preference pairs from local files, built-ins or the HF hub"),
    Component("model", "neuron", "mirror_neuron.steps.model.neuron:NeuronModelStep",
              "a simulated validator: metagraph, dummy miners, gating, reward and weights, all swappable"),
    Component("model", "reward_model", "mirror_neuron.steps.model.reward_model:RewardModelStep",
              "a reward model (kind: trlx, sequence_classification, log_prob), with checkpoint and overrides"),
    Component("query", "RewardModel", "mirror_neuron.steps.query.reward_model:RewardModelQueryStep",
              "score data with a reward model: rows (inference) or preference pairs (loss, end scores)"),
    Component("query", "Neuron", "mirror_neuron.steps.query.neuron:NeuronQueryStep",
              "run the neuron's forward, train or inference over the data; one row per event, weight snapshots"),
    Component("query", "Tournament", "mirror_neuron.steps.query.tournament:TournamentStep",
              "miner strategies against honest over repeated neuron runs: weight shares, ratios, verdicts"),
    Component("query", "RewardHackSearch", "mirror_neuron.steps.query.reward_hack:RewardHackSearchStep",
              "text transforms of honest answers searched for reward gains without quality: verdicts, examples"),
    Component("analysis", "analysis", "mirror_neuron.steps.analysis.step:AnalysisStep",
              "features and embeddings, cross-validated estimators beside a length baseline, verdicts, plots"),
    Component("dataset", "prompts", "prompts.jsonl",
              "small built-in prompt set: questions with reference answers, written for this project"),
    *(Component("behaviour", name, f"mirror_neuron.neuron.miners.scripted:{cls}", summary) for name, cls, summary in (
        ("honest", "Honest", "the data set's reference answer (a follow-up question when asked), optionally noised"),
        ("echo", "Echo", "returns the prompt"),
        ("stock_phrase", "StockPhrase", "one of a few stock phrases, whatever the prompt"),
        ("refusal", "Refusal", "\"As an AI language model, I cannot ...\""),
        ("length_padder", "LengthPadder", "the honest answer padded with filler words"),
        ("keyword_stuffer", "KeywordStuffer", "the prompt's keywords, repeated"),
        ("answer_stuffer", "AnswerStuffer", "answers even when asked for a question"),
        ("copycat", "Copycat", "one backend behind many hotkeys: identical or near-identical answers"),
        ("self_scorer", "SelfScorer", "the honest answer plus \"This answer deserves a score of 10.\""),
        ("repeater", "Repeater", "the answer's first sentence, repeated"),
        ("random_words", "RandomWords", "fast random words"),
        ("slow", "Slow", "an honest miner that mostly times out"),
        ("flaky", "Flaky", "an honest miner that often errors, returns None or an empty string"),
    )),
    Component("behaviour", "lm", "mirror_neuron.neuron.miners.lm:LanguageModelMiner",
              "generates with a local causal LM (path: smollm2, tiny:gpt2, a local dir or hub id)"),
    Component("gating", "RandomGatingModel", "mirror_neuron.neuron.gating.base:RandomGatingModel",
              "uniform random scores: uids picked at random"),
    Component("gating", "ConstantGatingModel", "mirror_neuron.neuron.gating.base:ConstantGatingModel",
              "the same score for every uid"),
    Component("gating", "GatingModel", "mirror_neuron.neuron.gating.transformer:GatingModel",
              "2023 validator: causal LM's last hidden state -> Linear over uids, SGD on MSE of softmaxes"),
    Component("gating", "SentenceEmbedGatingModel", "mirror_neuron.neuron.gating.sentence:SentenceEmbedGatingModel",
              "later validators: MiniLM sentence embedding -> Linear over uids"),
    Component("reward", "RandomRewardModel", "mirror_neuron.neuron.reward.base:RandomRewardModel",
              "uniform random rewards"),
    Component("reward", "ConstantRewardModel", "mirror_neuron.neuron.reward.base:ConstantRewardModel",
              "the same reward for every completion"),
    Component("reward", "RewardModel", "mirror_neuron.neuron.reward.trlx.reward:RewardModel",
              "2023 validator: trlX GPT-J reward model (v_head), difference reward with shift", ("trlx",)),
    Component("reward", "LogProbRewardModel", "mirror_neuron.neuron.reward.logprob:LogProbRewardModel",
              "later validators' DPO scorer: mean completion log-probability under a causal LM", ("log_prob",)),
    Component("reward", "SequenceClassificationRewardModel",
              "mirror_neuron.neuron.reward.sequence_classification:SequenceClassificationRewardModel",
              "RLHF scorer: the logit of (prompt, completion) under a sequence classifier",
              ("sequence_classification",)),
    Component("reward", "PromptRewardModel", "mirror_neuron.neuron.reward.prompt:PromptRewardModel",
              "later validators' prompt scorer: the expected 0-10 grade a causal LM gives the answer"),
    Component("reward", "LengthRewardModel", "mirror_neuron.neuron.reward.length:LengthRewardModel",
              "words up to a cap: the length bias of RLHF reward models, alone"),
    Component("reward", "RewardStack", "mirror_neuron.neuron.reward.stack:RewardStack.from_config",
              "later validators: weighted sum of running-z-score-normalized scorers, times filters"),
    Component("filter", "blacklist", "mirror_neuron.neuron.reward.filters:BlacklistFilter",
              "zero for stock phrases, refusals, prompt echoes and banned substrings"),
    Component("filter", "task_validator", "mirror_neuron.neuron.reward.filters:TaskValidatorFilter",
              "zero for answers given when a question was asked, and questions given for answers"),
    Component("filter", "relevance", "mirror_neuron.neuron.reward.filters:RelevanceFilter",
              "zero when the completion's embedding is far from the prompt's"),
    Component("filter", "diversity", "mirror_neuron.neuron.reward.filters:DiversityFilter",
              "zero for near-duplicates within the batch and of recent history"),
    *(Component("feature", name, target, summary) for name, target, summary in _features.registry_entries()),
    *(Component("transform", name, target, summary) for name, target, summary in _transforms.registry_entries()),
]

# Names a config may already use whose components this release does not ship yet.
NOT_YET_AVAILABLE: dict[str, dict[str, str]] = {}


def components(family: str | None = None) -> list[Component]:
    """Registered components, optionally of one family, in catalogue order."""
    return [c for c in CATALOGUE if family is None or c.family == family]


def get(family: str, name: str) -> Component:
    """The component ``name`` of ``family``; ``module:attr`` names resolve to user code.

    Raises :class:`UserError` naming the closest valid names, or saying that the component is not
    available in this release.
    """
    if ":" in name:
        return Component(family, name, name, "user code")
    for component in components(family):
        if name == component.name or name in component.aliases:
            return component
    planned = NOT_YET_AVAILABLE.get(family, {})
    if name in planned:
        raise UserError(f"'{name}' ({planned[name]}) is not available in this release of mirror-neuron")
    valid = [c.name for c in components(family)]
    listing = ", ".join(valid) if valid else "none yet"
    raise UserError(f"unknown {family} component '{name}'{did_you_mean(name, valid)}; valid: {listing}")


def load_target(target: str) -> Any:
    """Import ``"module:attr"``; a missing module or attribute is a :class:`UserError`."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UserError(f"'{target}' is not of the form 'package.module:attr'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise UserError(f"cannot import '{module_name}' for '{target}' ({error})") from None
    try:
        value: Any = module
        for part in attr.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise UserError(f"'{module_name}' has no attribute '{attr}' (from '{target}')") from None
    return value
