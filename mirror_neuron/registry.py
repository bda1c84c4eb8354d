"""Named components: declared where they are defined, listed without importing anything heavy.

A class or function becomes a component a config can name by declaring it in place::

    @component("reward", summary="uniform random rewards")
    class RandomRewardModel(RewardModelBase): ...

The catalogue is read from the package's source (:mod:`mirror_neuron.catalogue`), so ``mirror-neuron
ls`` and config validation import no component; ``Component.load()`` imports one when it is used.
Families whose components are generated (text features, built-in data sets) name a light provider
function instead. A config may also name its own code as ``"package.module:attr"``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mirror_neuron.catalogue import Declaration, Param, declarations
from mirror_neuron.errors import UserError, did_you_mean

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")


@dataclass(frozen=True)
class Family:
    """A kind of component: where configs name it, and the arguments the caller supplies itself
    (left out of each component's parameters)."""

    description: str
    supplied: tuple[str, ...] = ()
    provider: str | None = None  # "module:function" returning generated components, for generated families


FAMILIES: dict[str, Family] = {
    "model": Family("model step types (`model[].type`)"),
    "data": Family("data step entrypoints (`data[].entrypoint`)"),
    "query": Family("query step entrypoints (`query[].entrypoint`)"),
    "analysis": Family("analysis step entrypoints (`analysis[].entrypoint`)"),
    "dataset": Family("built-in data sets (`data[].path: builtin:NAME`)",
                      provider="mirror_neuron.resources:datasets"),
    "dendrite": Family("the neuron's dendrite pool, which queries the miners (`model[].miners` sets its behaviours)",
                       supplied=("behaviours", "seed", "max_completion_chars")),
    "behaviour": Family("miner behaviours of the dummy dendrite pool (`model[].miners`)"),
    "gating": Family("gating models of the neuron (`model[].gating.type`)", supplied=("n_uids", "seed")),
    "reward": Family("reward models of the neuron (`model[].reward.type`, a RewardStack's scorers, "
                     "`model[].kind` of a reward_model step)", supplied=("seed", "base_dir")),
    "filter": Family("reward filters of a RewardStack (`reward.filters`)", supplied=("embedder",)),
    "feature": Family("text features of an analysis (`analysis[].compute`, `x`, `plot`)",
                      provider="mirror_neuron.analysis.features:declarations"),
    "transform": Family("text transforms of honest answers: reward-hack candidates and hacking miners "
                        "(`query[].transforms`)", supplied=("answer", "question", "rng")),
}


@dataclass(frozen=True)
class Component:
    """One named, lazily importable component of a family."""

    family: str
    name: str
    target: str  # "module:attr", or a packaged file for data sets
    summary: str
    aliases: tuple[str, ...] = ()  # other names a config may use (a reward model's ``kind``)
    params: tuple[Param, ...] = ()

    def load(self) -> Any:
        return load_target(self.target)

    def as_json(self) -> dict[str, Any]:
        params = []
        for param in self.params:
            entry: dict[str, Any] = {"name": param.name, "type": param.type, "required": param.required}
            if not param.required:
                is_literal, value = param.literal_default()
                entry["default"] = value if is_literal else None
                entry["default_text"] = param.default
            params.append(entry)
        return {"name": self.name, "target": self.target, "summary": self.summary, "aliases": list(self.aliases),
                "params": params}


def component(family: str, name: str | None = None, *, summary: str | None = None,
              aliases: tuple[str, ...] = (), factory: str | None = None) -> Callable[[T], T]:
    """Declare the decorated class or function as the component ``name`` (default: its own name) of
    ``family``. ``summary`` defaults to the first line of its docstring; ``factory`` names a classmethod
    that builds it from a config (``RewardStack.from_config``). Arguments must be literals: they are
    read from the source."""
    if family not in FAMILIES:
        raise ValueError(f"unknown component family '{family}'")

    def declare(obj: T) -> T:
        obj.__component__ = (family, name or obj.__name__)  # type: ignore[attr-defined]
        return obj

    return declare


@functools.cache
def catalogue() -> tuple[Component, ...]:
    """Every registered component, family by family (in :data:`FAMILIES` order), then in source order."""
    supplied = tuple((family, spec.supplied) for family, spec in FAMILIES.items())
    found: dict[str, list[Component]] = {family: [] for family in FAMILIES}
    for declaration in declarations(supplied):
        found[declaration.family].append(_from_declaration(declaration))
    declared = {(c.family, c.name) for family in found.values() for c in family}
    for legacy in CATALOGUE:
        if (legacy.family, legacy.name) not in declared:
            found[legacy.family].append(legacy)
    if not found["transform"]:
        from mirror_neuron.hacks import transforms

        found["transform"] = [Component("transform", n, t, s) for n, t, s in transforms.registry_entries()]
    for family, spec in FAMILIES.items():
        if spec.provider:
            found[family].extend(_from_declaration(d) for d in load_target(spec.provider)())
    return tuple(c for family in FAMILIES for c in found[family])


def _from_declaration(declaration: Declaration) -> Component:
    return Component(declaration.family, declaration.name, declaration.target, declaration.summary,
                     declaration.aliases, declaration.params)


def components(family: str | None = None) -> list[Component]:
    """Registered components, optionally of one family, in catalogue order."""
    return [c for c in catalogue() if family is None or c.family == family]


def get(family: str, name: str) -> Component:
    """The component ``name`` (or alias) of ``family``; ``module:attr`` names resolve to user code.

    Raises :class:`UserError` naming the closest valid names.
    """
    if ":" in name:
        return Component(family, name, name, "user code")
    for found in components(family):
        if name == found.name or name in found.aliases:
            return found
    valid = [c.name for c in components(family)]
    listing = ", ".join(valid) if valid else "none yet"
    raise UserError(f"unknown {family} component '{name}'{did_you_mean(name, valid)}; valid: {listing}")


class ParamError(UserError):
    """A component's parameter is unknown or missing; ``key`` names it (for the config location)."""

    def __init__(self, message: str, key: str | None) -> None:
        super().__init__(message)
        self.key = key


def check_params(found: Component, params: dict[str, Any]) -> None:
    """Check the names of the parameters a config gives a component against its declared ones, before
    anything is imported: an unknown name (with the closest valid ones) or a missing required one is a
    :class:`ParamError`. User code (``module:attr``) is checked when it is built."""
    if ":" in found.name and found.target == found.name:
        return
    declared = {param.name: param for param in found.params}
    for key in params:
        if key not in declared:
            listing = ", ".join(declared) if declared else "none"
            raise ParamError(f"{found.family} '{found.name}' has no parameter '{key}'{did_you_mean(key, declared)}; "
                             f"its parameters: {listing}", key)
    missing = [name for name, param in declared.items() if param.required and name not in params]
    if missing:
        raise ParamError(f"{found.family} '{found.name}' needs {', '.join(missing)}", None)


def params_model(found: Component) -> type[BaseModel]:
    """The pydantic model of a component's parameters, from the imported object (this imports it):
    a step's config class, a pydantic component itself, or one built from the signature of a class's
    ``__init__`` (or factory) or of a function, less the arguments its family supplies."""
    from pydantic import BaseModel, ConfigDict, create_model

    obj = found.load()
    omitted = {"id", "requires", *FAMILIES[found.family].supplied} if found.family in FAMILIES else set()
    config = getattr(obj, "config_class", None)
    model = config if isinstance(config, type) and issubclass(config, BaseModel) else (
        obj if isinstance(obj, type) and issubclass(obj, BaseModel) else None)
    if model is not None:
        fields = {name: (f.annotation, f) for name, f in model.model_fields.items()
                  if name not in omitted and (f.alias or name) not in omitted}
        return create_model(f"{found.name}Params", __config__=ConfigDict(extra="forbid", populate_by_name=True),
                            **fields)
    function = obj.__init__ if isinstance(obj, type) else obj
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - names only imported for type checking: fall back to Any
        hints = {}
    fields = {name: (hints.get(name, Any), ... if p.default is inspect.Parameter.empty else p.default)
              for name, p in signature.parameters.items()
              if name not in ("self", "cls", *omitted) and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return create_model(f"{found.name}Params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                        **fields)


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


# Components not yet declared in place (being moved to `@component` declarations).
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
]
