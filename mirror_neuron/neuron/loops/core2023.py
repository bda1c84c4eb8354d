"""bittensor's core validator (v5.2.x): the answer pass is the forward; questions only choose the next prompt.

One training step (``neuron.train_steps_done`` counts them from 0):

1. forward: ``[system prompt, prompt]`` to ``training_topk`` random available uids with the training
   timeout (``timeout``, the original's inference timeout of 10 s); moving scores and gating learn.
2. questions: every ``loop.reset_every``-th step (step 0 included) the bootstrap is a fresh data
   context, which also becomes the system prompt; otherwise it is the best answer with every
   "As an AI language model, " removed. ``f"{bootstrap}\\n\\n{follow_up_prompt}"`` goes as one user
   message to the forward's successful uids, best reward first, with ``loop.question_timeout`` (12 s).
   Questions longer than 10 characters (and passing the ``screen``) are rewarded with the difference
   reward of ``"Question: " + bootstrap + "Answer: " + question`` against the question; the first above
   0 is the next prompt. If none is, the round is retried after a reset with random serving uids.
   Question calls are recorded as events named ``question`` that move no weight.

Deviation, for the simulation's sake: the original retried forever; the mirror gives up after
:data:`QUESTION_ROUNDS` rounds and keeps the last fresh context as the next prompt. A failed forward
(no successful call) asks the same prompt again, as in the original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mirror_neuron.neuron.loops.texts import AI_PHRASE, fresh_context
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.trlx.texts import difference_reward, plain_text

if TYPE_CHECKING:
    from mirror_neuron.neuron.neuron import Neuron
    from mirror_neuron.neuron.reward.base import RewardModelBase

QUESTION_ROUNDS = 8
MIN_QUESTION_CHARS = 10


def train_step(neuron: Neuron) -> None:
    """One forward over the current prompt, then the question calls that choose the next one."""
    loop = neuron.config.loop
    if not neuron.bootstrap:  # the original's first prompt: a data context under the default system prompt
        neuron.bootstrap, neuron.system_prompt = fresh_context(neuron), loop.base_prompt
    event = neuron.forward(["system", "user"], [neuron.system_prompt or loop.base_prompt, neuron.bootstrap],
                           topk=neuron.training_topk, random_sample_uids=True, train_gating_model=True,
                           timeout=neuron.timeout, name="answer")
    if event is None:
        return
    order = np.argsort(-np.asarray(event.rewards), kind="stable")
    uids = np.asarray(event.successful_uids, dtype=np.int64)[order]
    neuron.bootstrap = ask_question(neuron, uids, event.best, reset=neuron.train_steps_done % loop.reset_every == 0)


def ask_question(neuron: Neuron, uids: np.ndarray, bootstrap: str, reset: bool) -> str:
    """The next prompt: the first question above 0 by the difference reward (see the module docstring)."""
    loop = neuron.config.loop
    for _ in range(QUESTION_ROUNDS):
        if reset:
            bootstrap = fresh_context(neuron)
            neuron.system_prompt = bootstrap
        else:
            bootstrap = bootstrap.replace(AI_PHRASE, "")
        prompt = f"{bootstrap}\n\n{loop.follow_up_prompt}"
        query = Query(("user",), (prompt,), question=True, name="question")
        calls = neuron.dendrite_pool(["user"], [prompt], uids, loop.question_timeout, question=True, name="question")
        event = neuron.record(query, uids, calls, np.full(len(uids), np.nan), weighted=False)  # no gating asked
        kept = [(c.uid, c.completion) for c in calls if len(c.completion) > MIN_QUESTION_CHARS]
        if neuron.screen is not None and kept:
            masks = neuron.screen(query, [text for _, text in kept])
            kept = [pair for pair, mask in zip(kept, masks) if mask > 0]
        questions = [text for _, text in kept]
        diffs = question_rewards(neuron.reward_model, bootstrap, questions)
        event.successful_uids, event.rewards = [uid for uid, _ in kept], diffs.tolist()
        for question, diff in zip(questions, diffs):
            if diff > 0:
                event.best = question
                return question
        reset = True
        serving = np.flatnonzero(neuron.metagraph.is_serving)
        uids = neuron.rng.choice(serving, size=min(neuron.training_topk, len(serving)), replace=False)
    return bootstrap


def question_rewards(model: RewardModelBase | None, bootstrap: str, questions: list[str]) -> np.ndarray:
    """The candidate questions' difference rewards: how much ``"Question: " + bootstrap + "Answer: "``
    adds to each (stripped) question's score.

    A trlX reward model (``end_scores`` and ``shift``) gives the original's form, ``relu(r(full) + shift) -
    relu(r(q) + shift)`` on the texts ``full = "Question: " + bootstrap + "Answer: " + q`` and ``q``. Any
    other model (a stand-in) gives ``score(prefix, q) - score("", q)`` with its own row scores, without the
    shift, which is the trlX model's; without a reward model every question scores 0 (the original's
    ``no_reward_model``, which then never found a question).
    """
    if not questions:
        return np.zeros(0)
    if model is None:
        return np.zeros(len(questions))
    stripped = [q.strip() for q in questions]
    prefix = f"Question: {bootstrap}Answer: "
    if hasattr(model, "end_scores") and hasattr(model, "shift"):
        values = model.end_scores([prefix + q for q in stripped] + stripped)
        full, only = values[:len(stripped)], values[len(stripped):]
        return np.nan_to_num(difference_reward(full, only, model.shift), nan=0.0)
    full = np.asarray(model.score([prefix] * len(stripped), stripped), dtype=np.float64)
    only = np.asarray(model.score([""] * len(stripped), stripped), dtype=np.float64)
    return np.nan_to_num(full - only, nan=0.0)


def plain_rewards(model: RewardModelBase, query: Query, completions: list[str]) -> np.ndarray:
    """Inference ranking: the plain reward ``r(non-system messages + completion)`` when the model has
    ``end_scores`` (trlX), else the model's own rewards."""
    if hasattr(model, "end_scores"):
        return np.asarray(model.end_scores([plain_text(query, c) for c in completions]), dtype=np.float64)
    return np.asarray(model.rewards(query, completions).final, dtype=np.float64)
