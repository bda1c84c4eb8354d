"""The training loops of the validators mirrored: how a neuron turns a training step into calls.

``config.loop.kind`` picks one: :mod:`.custom` (the mirror's own), :mod:`.core2023` (bittensor's core
validator, v5.2.x) or :mod:`.openvalidators` (opentensor/validators 1.1-1.2). Each module defines
``train_step(neuron)``; :func:`prompt_pass` runs one pass over one data prompt the way the version
would ask it, and :func:`inference` answers a user as the version's ``inference`` did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mirror_neuron.neuron.loops import core2023, custom, openvalidators
from mirror_neuron.neuron.loops.texts import fresh_context, fresh_prompt
from mirror_neuron.neuron.miners.base import Query

if TYPE_CHECKING:
    from mirror_neuron.neuron.neuron import Event, Neuron

__all__ = ["fresh_context", "fresh_prompt", "inference", "prompt_pass", "train_step"]

_LOOPS = {"custom": custom, "core-2023": core2023, "openvalidators": openvalidators}
FLAGGED = "Received possible explicit content."  # core v5.2's answer to a flagged inference request
NO_COMPLETION = "no valid completions"


def train_step(neuron: Neuron) -> None:
    """One step of the neuron's training loop; its events land in ``neuron.history``."""
    _LOOPS[neuron.config.loop.kind].train_step(neuron)


def prompt_pass(neuron: Neuron, prompt: str, topk: int | None = None, random_sample_uids: bool = False,
                train_gating_model: bool = False, timeout: float | None = None) -> Event | None:
    """One pass over a data prompt: openvalidators asks it as an ``answer`` step (its own user message,
    every success scored, ``topk`` random uids (None or -1: every available uid), gating always trained,
    as its steps were); the others as the user message under the loop's system prompt."""
    if neuron.config.loop.kind == "openvalidators":
        k = len(neuron.available_uids()) if topk is None or topk == -1 else topk
        return openvalidators.run_step(neuron, prompt, "answer", k, timeout or neuron.timeout)
    return neuron.forward(["system", "user"], [neuron.config.loop.base_prompt, prompt], topk=topk,
                          random_sample_uids=random_sample_uids, train_gating_model=train_gating_model,
                          timeout=timeout)


def inference(neuron: Neuron, messages: list[str], timeout: float | None, dont_use_reward_model: bool,
              roles: list[str] | None) -> str:
    """The version's ``inference``: query the top uids by gating score, return one completion.

    Mirror and openvalidators: the top ``loop.inference_topk`` available uids, best first; the first
    non-empty successful completion, or the best-rewarded one. core-2023: the top uids over *all* uids
    (``inference_over_all_uids``), best first; the screen (its nsfw check) drops flagged completions and
    answers a flagged request with a fixed text; the reward is the plain form.
    """
    roles = roles or ["user"] * len(messages)
    query = Query(tuple(roles), tuple(messages))
    loop = neuron.config.loop
    user = [m for r, m in zip(roles, messages) if r == "user"]
    if neuron.screen is not None and user and _flagged(neuron, user[-1]):
        return FLAGGED
    scores = neuron.gating_model.scores(query.text)
    if loop.inference_over_all_uids:
        uids = np.argsort(scores, kind="stable")[-loop.inference_topk:][::-1]
    else:
        available = neuron.available_uids()
        if len(available) == 0:
            return ""
        uids = neuron._pick_uids(available, scores, min(loop.inference_topk, len(available)), False)
    calls = neuron.dendrite_pool(roles, messages, uids, timeout or neuron.timeout)
    serving = neuron.metagraph.is_serving  # a uid whose axon does not serve answers nothing
    completions = [c.completion for c, uid in zip(calls, uids) if c.is_success and c.completion and serving[uid]]
    if neuron.screen is not None:
        completions = [c for c in completions if not _flagged(neuron, c)]
    if not completions:
        return NO_COMPLETION if loop.inference_over_all_uids else ""
    if dont_use_reward_model or neuron.reward_model is None:
        return completions[0]
    rewards = core2023.plain_rewards(neuron.reward_model, query, completions)
    return completions[int(np.argmax(np.nan_to_num(rewards, nan=-np.inf)))]


def _flagged(neuron: Neuron, text: str) -> bool:
    """Whether the neuron's screen flags ``text`` (its mask is 0)."""
    return bool(neuron.screen(Query(("user",), (text,)), [text])[0] == 0)
