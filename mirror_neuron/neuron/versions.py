"""Validator versions: each a preset of the neuron's loop, parts and defaults, as the original had them.

A neuron config names the validator it mirrors with ``validator:``. The version's preset is laid under
the config: every key the config sets explicitly wins, and :func:`deviations` lists each such key whose
value differs from the version's, so a run says how far it is from the validator it names. ``custom``
is the mirror's own validator (no preset).

- ``core-2023``: bittensor's core text-prompting validator, v5.2.x (2023-06/07; tags v5.2.0-v5.2.1 of
  opentensor/bittensor, ``neurons/text/prompting/validators/core``).
- ``openvalidators-1.1``: opentensor/validators v1.1.3 (2023-08-02), the version that logged the real
  events in ``sn1_openvalidators`` (its filter decisions replay exactly; see ``bench/replay.py``).
- ``openvalidators-1.2``: opentensor/validators v1.2.0 (2023-08-28), with the v1.1.4-v1.1.8 changes.

Chain hyperparameters (``weights.min_allowed_weights``, ``max_weight_limit``, ``exclude_quantile``) are
the subnet's, not a validator's, so no version sets them. Models the originals loaded from the hub
are named by their hub ids; offline, a config replaces them with a local stand-in, and each such
replacement is listed by :func:`stand_ins`.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

Version = Literal["custom", "core-2023", "openvalidators-1.1", "openvalidators-1.2"]
VERSIONS: tuple[str, ...] = ("custom", "core-2023", "openvalidators-1.1", "openvalidators-1.2")

# Keys of a neuron config that no version sets: the simulated population and chain, and seeds.
NOT_VERSIONED = frozenset({"validator", "metagraph", "churn", "miners", "seed", "miners_seed", "weights.min_allowed_weights",
                           "weights.max_weight_limit", "weights.exclude_quantile"})

# Keys of a slot rather than of the part in it: a scorer replaced by another type keeps the version's weight.
SLOT_KEYS = frozenset({"weight"})

# Keys whose values name a model to load: a config that changes one uses a stand-in.
MODEL_KEYS = frozenset({"path", "bert", "mpnet", "model", "checkpoint"})

CORE_BASE_PROMPT = ("\nYou are designed to assist with a wide range of tasks, from answering simple questions to "
                    "providing in-depth explanations and discussions on a wide range of topics.\n")
CORE_FOLLOW_UP = "\nAsk a follow up question.\n"
GATING_ENCODER = "EleutherAI/gpt-neo-125m"
DAHOAS_CHECKPOINT = "https://huggingface.co/Dahoas/gptj-rm-static/resolve/main/hf_ckpt.pt"
NSFW_CLASSIFIER = "facebook/roberta-hate-speech-dynabench-r4-target"

_CORE_2023: dict[str, Any] = {
    "loop": {"kind": "core-2023", "base_prompt": CORE_BASE_PROMPT, "follow_up_prompt": CORE_FOLLOW_UP,
             "reset_every": 3, "question_timeout": 12.0, "inference_topk": 10, "inference_over_all_uids": True},
    "timeout": 10.0,  # the training forward ran with the inference timeout
    "training_topk": 50,
    "vpermit_tao_limit": 1024.0,
    "gating": {"type": "GatingModel", "path": GATING_ENCODER, "learning_rate": 0.01, "momentum": 0.9,
               "zero_grad": False, "max_length": 2048},
    "reward": {"type": "RewardModel", "path": "EleutherAI/gpt-j-6b", "checkpoint": DAHOAS_CHECKPOINT,
               "form": "difference", "shift": 3.0},
    "screen": {"type": "nsfw", "rule": "core-2023", "path": NSFW_CLASSIFIER},
    "weights": {"alpha": 0.99, "rule": "softmax_scatter", "quantile_clamp": True},
}

_OPENVALIDATORS: dict[str, Any] = {
    "loop": {"kind": "openvalidators", "followup_steps": 4, "context_sentences": [15, 30],
             "summary_sentences": [4, 8], "question_timeout": 10.0, "inference_topk": 10},
    "timeout": 10.0,
    "training_topk": 50,  # followup_sample_size and answer_sample_size
    "vpermit_tao_limit": 4096.0,
    "gating": {"type": "GatingModel", "path": GATING_ENCODER, "learning_rate": 0.01, "momentum": 0.9,
               "zero_grad": False, "max_length": 2048},
    "weights": {"alpha": 0.95, "rule": "scatter", "quantile_clamp": True},
}

_OV_FILTERS_1_1: dict[str, Any] = {
    "ov_blacklist": {},
    "ov_task_validator": {"version": "1.1"},
    "ov_relevance": {"version": "1.1", "bert": "bert-base-uncased", "mpnet": "sentence-transformers/all-mpnet-base-v2"},
    "ov_diversity": {"version": "1.1", "model": "sentence-transformers/all-mpnet-base-v2"},
    "nsfw": {"rule": "openvalidators", "path": NSFW_CLASSIFIER},
}

PRESETS: dict[str, dict[str, Any]] = {
    "custom": {},
    "core-2023": _CORE_2023,
    "openvalidators-1.1": {**_OPENVALIDATORS, "reward": {
        "type": "RewardStack", "count_limit": 3000, "unbiased_variance": True, "off_zeroes_rewards": True,
        "scorers": {
            "rlhf": {"type": "SequenceClassificationRewardModel", "weight": 0.6,
                     "path": "OpenAssistant/reward-model-deberta-v3-large-v2", "truncation": False},
            "reciprocate": {"type": "ReciprocateRewardModel", "weight": 0.4, "path": "reciprocate/gpt-j_rm_format-oa"},
        },
        "filters": _OV_FILTERS_1_1,
    }},
    "openvalidators-1.2": {**_OPENVALIDATORS, "loop": {**_OPENVALIDATORS["loop"], "filter_base_prompt": True},
                           "reward": {
        "type": "RewardStack", "count_limit": 3000, "unbiased_variance": True, "off_zeroes_rewards": True,
        "scorers": {
            "dpo": {"type": "LogProbRewardModel", "weight": 0.3, "path": "cerebras/btlm-3b-8k-base",
                    "penalty": 1.2, "per_occurrence": True, "penalty_lag": 1, "joint_tokenization": True,
                    "separator": ""},
            "rlhf": {"type": "SequenceClassificationRewardModel", "weight": 0.4,
                     "path": "OpenAssistant/reward-model-deberta-v3-large-v2", "truncation": False},
            "reciprocate": {"type": "ReciprocateRewardModel", "weight": 0.3, "path": "reciprocate/gpt-j_rm_format-oa"},
        },
        "filters": {**_OV_FILTERS_1_1, "ov_task_validator": {"version": "1.2"},
                    "ov_relevance": {**_OV_FILTERS_1_1["ov_relevance"], "version": "1.2"},
                    "ov_diversity": {**_OV_FILTERS_1_1["ov_diversity"], "version": "1.2"}},
    }},
}

# What each loop's originals drew their contexts from, and what the mirror draws them from instead.
CORPORA = {
    "core-2023": "the data's `context` passages (else its prompts) for the squad_v2 train contexts the original streamed",
    "openvalidators": "the data's `context` passages (else its prompts), joined to 15-30 sentences, for the "
                      "openwebtext / RedPajama documents the original streamed",
}

# The originals' known bugs, each a setting of the part that has it: (config key path, value when on, what it does).
BUGS: dict[str, tuple[str, Any, str]] = {
    "accumulating_gating_gradients": ("gating.zero_grad", False,
                                      "the gating model never zeroes its gradients, so they accumulate across steps"),
    "off_flag_zeroes_rewards": ("reward.off_zeroes_rewards", True,
                                "a filter switched off is a mock returning zeros, which zeroes every reward"),
    "normalizer_nan_variance": ("reward.unbiased_variance", True,
                                "unbiased batch variance: a first batch of one makes the variance NaN for good"),
    "prompt_scorer_step_names": ("reward.scorers.prompt.exact_step_names", True,
                                 "the prompt scorer matches 'followup'/'answer' exactly, so only augment is scored"),
    "dahoas_never_loaded": ("reward.scorers.dahoas.load_checkpoint", False,
                            "openvalidators' Dahoas scorer never loads hf_ckpt.pt: its weights are random"),
}


def preset(version: str) -> dict[str, Any]:
    """The neuron config keys ``version`` sets (a deep copy: callers may change it)."""
    if version not in PRESETS:
        raise ValueError(f"unknown validator '{version}' (one of: {', '.join(VERSIONS)})")
    return copy.deepcopy(PRESETS[version])


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` laid over the preset of the version it names; ``deviations`` records what differs.

    A config that already holds ``deviations`` (a list) was resolved before and is returned as it is, so
    a stored spec reads back unchanged; ``deviations`` is computed, never set by hand.

    Dictionaries merge key by key; a part (``gating``, ``reward``, ``screen``, a scorer) whose ``type``
    the config changes replaces the preset's part wholly (a scorer keeps its slot's ``weight``); ``off`` (YAML's ``false``), ``"off"`` or
    ``null`` for a preset's filter, scorer or part removes it.
    """
    if isinstance(config.get("deviations"), list):  # resolved before (a stored or copied config): as it is
        return config
    version = config.get("validator", "custom")
    if not isinstance(version, str) or version not in PRESETS:
        raise ValueError(f"validator: unknown version '{version}' (one of: {', '.join(VERSIONS)})")
    base = preset(version)
    resolved = _merge(base, config)
    resolved["deviations"] = deviations(base, config)
    return resolved


def deviations(base: dict[str, Any], config: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Each key ``config`` sets to another value than ``base`` (the version's), or adds to what the version
    sets: key, the version's value (None where it sets none) and the value set. The simulation's own keys
    (:data:`NOT_VERSIONED`: the population, the chain's limits, seeds) are no deviation; under ``custom``
    nothing is."""
    found: list[dict[str, Any]] = []
    if not base and not prefix:
        return found
    for key, value in config.items():
        path = f"{prefix}{key}"
        if path in NOT_VERSIONED:
            continue
        if key not in base:
            if not _removes(value):
                found.append({"key": path, "version": None, "set": _plain(value)})
            continue
        old = base[key]
        if isinstance(old, dict) and _removes(value):
            found.append({"key": path, "version": old, "set": "off"})
        elif isinstance(old, dict) and isinstance(value, dict) and not _replaces(old, value):
            found.extend(deviations(old, value, f"{path}."))
        elif _plain(value) != _plain(old):
            found.append({"key": path, "version": _plain(old), "set": _plain(value)})
    return found


def stand_ins(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deviations that load another model than the version's (a stand-in, or a part replaced whole)."""
    return [d for d in found if d["key"].rsplit(".", 1)[-1] in MODEL_KEYS or
            (isinstance(d["version"], dict) and d["set"] != "off")]


def bugs_on(config: dict[str, Any]) -> list[str]:
    """The names of the originals' bugs a resolved neuron config switches on."""
    on = []
    for name, (path, value, _) in BUGS.items():
        node: Any = config
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node == value:
            on.append(name)
    return on


def _merge(base: dict[str, Any], config: dict[str, Any], top: bool = True) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in config.items():
        if key in base and _removes(value) and isinstance(base[key], dict):
            if top:  # a neuron's part: null (``reward: null``: the gating scores stand in, as the original's
                merged[key] = None  # no_reward_model; ``screen: off``: no screen)
            else:  # a stack's filter or scorer: left out
                merged.pop(key)
        elif isinstance(value, dict) and isinstance(base.get(key), dict) and not _replaces(base[key], value):
            merged[key] = _merge(base[key], value, top=False)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):  # another part in the same slot
            merged[key] = {**{k: v for k, v in base[key].items() if k in SLOT_KEYS}, **copy.deepcopy(value)}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _removes(value: Any) -> bool:
    """Whether ``value`` switches a preset's part off: ``false`` (YAML ``off``), ``"off"`` or ``null``."""
    return value is False or value is None or value == "off"


def _replaces(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` is another part than ``old`` (another ``type``), not changes to it."""
    return "type" in new and "type" in old and new["type"] != old["type"]


def _plain(value: Any) -> Any:
    """``value`` as JSON would hold it (tuples as lists), to compare and to record."""
    if isinstance(value, tuple):
        return list(value)
    return value


def describe(config: dict[str, Any]) -> list[str]:
    """Plain lines saying what a resolved neuron config mirrors: its version, each setting that deviates
    from it (stand-in models and parts switched off named as such), and the originals' bugs switched on."""
    version = config.get("validator", "custom")
    lines = [f"validator: {version}" + ("" if version != "custom" else " (the mirror's own; no preset)")]
    found = config.get("deviations") or []
    models = stand_ins(found)
    off = [d for d in found if d["set"] == "off"]
    other = [d for d in found if d not in models and d not in off]
    corpus = CORPORA.get((config.get("loop") or {}).get("kind", "custom"))
    if corpus:
        lines.append(f"stand-in corpus: {corpus}")
    if models:
        lines.append("stand-ins: " + "; ".join(f"{d['key']}: {_short(d['set'])} for {_short(d['version'])}"
                                               for d in models))
    if off:
        lines.append("left out (not mirrored; unlike the original's *_off flags, leaving a filter out zeroes no "
                     "reward): " + ", ".join(d["key"] for d in off))
    if other:
        lines.append("other deviations: " + "; ".join(
            f"{d['key']}: {_short(d['set'])} " + ("(not in the version)" if d["version"] is None
                                                  else f"(version: {_short(d['version'])})") for d in other))
    if version != "custom" and not found:
        lines.append(f"no deviation from {version}")
    bugs = bugs_on(config)
    if bugs:
        lines.append("the originals' bugs on: " + "; ".join(f"{name} ({BUGS[name][2]})" for name in bugs))
    return lines


def _short(value: Any) -> str:
    """A deviation's value in a line: a part by its type, anything else as written."""
    if isinstance(value, dict):
        return str(value.get("type", "a part"))
    return str(value)
