"""opentensor/validators 1.1-1.2: one forward is an augment step, then follow-up/answer pairs.

One training step is one forward of the original (``forward.py``), nine rewarded steps by default:

1. ``augment``: a context of 15-30 sentences (``loop.context_sentences``; the original drew web-text
   documents, the mirror joins the data's SQuAD-style ``context`` paragraphs, see
   :func:`~mirror_neuron.neuron.loops.texts.fresh_context`) and a request for a summary in 4-8 sentences.
2. ``loop.followup_steps`` times: ``followup{i}`` asks for a question about the summary (and the
   previous questions), ``answer{i}`` asks that question; each step queries ``training_topk`` (50)
   random available uids, excluding uids already queried in this forward while enough others remain.
   After each pair the base text grows by ``"\\nQuestion:" + question + "\\nAnswer:" + answer`` (the first
   pair with a ``"\\nPrevious Question "`` header), and the blacklist remembers both.

Each step (:func:`run_step`): every successful call's completion is stripped and scored by the reward
model (filters included), failed calls get 0; the best completion is the arg-max over all calls; the
gating model trains on every queried uid (0 for failures) with the raw prompt; moving scores follow
the scatter rule on every queried uid. From 1.1.8 on (``loop.filter_base_prompt``) the filters compare
follow-ups with the summary and answers with their question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mirror_neuron.neuron.loops.texts import fresh_context
from mirror_neuron.neuron.miners.base import Query

if TYPE_CHECKING:
    from mirror_neuron.neuron.neuron import Event, Neuron

FOLLOWUP_REQUEST = "Ask a single relevant and insightful question about the preceding context"
AUGMENT_REQUEST = "Summarize the preceding context"


def augment_prompt(context: str, sentences: int) -> str:
    return (f"{context}\n\n{AUGMENT_REQUEST} in {sentences} sentences. "
            "Do not try to create questions or answers for your summarization.\n\n")


def followup_prompt(base_text: str, step: int) -> str:
    if step == 0:
        return f"{base_text}\n\n{FOLLOWUP_REQUEST}\n. Do not try to return an answer or a summary:"
    return f"{base_text}\n\n{FOLLOWUP_REQUEST} and previous questions. Do not try to return an answer or a summary:\n"


def answer_prompt(base_text: str, question: str) -> str:
    return (f"{base_text}\n\nQuestion:{question}\nAnswer the question step by step and explain your thoughts. "
            "Do not include questions or summaries in your answer.")


def train_step(neuron: Neuron) -> None:
    """One forward of the original: augment, then the follow-up/answer pairs."""
    loop, k = neuron.config.loop, neuron.training_topk
    low, high = loop.context_sentences
    context = fresh_context(neuron, int(neuron.rng.integers(low, high + 1)))
    low, high = loop.summary_sentences
    prompt = augment_prompt(context, int(neuron.rng.integers(low, high + 1)))
    if neuron.reward_model is not None:
        neuron.reward_model.new_forward()
    augment = run_step(neuron, prompt, "augment", k, loop.question_timeout)
    base_text = summary = augment.best
    exclude = list(augment.uids)
    for step in range(loop.followup_steps):
        followup = run_step(neuron, followup_prompt(base_text, step), f"followup{step}", k, loop.question_timeout,
                            exclude, summary if loop.filter_base_prompt else None)
        exclude += followup.uids
        answer = run_step(neuron, answer_prompt(base_text, followup.best), f"answer{step}", k, neuron.timeout,
                          exclude, followup.best if loop.filter_base_prompt else None)
        exclude += answer.uids
        if neuron.reward_model is not None:
            neuron.reward_model.chosen(followup.best, answer.best)
        header = "\nPrevious Question " if step == 0 else ""
        base_text += f"{header}\nQuestion:{followup.best}\nAnswer:{answer.best}"


def random_uids(neuron: Neuron, k: int, exclude: list[int]) -> np.ndarray:
    """``k`` random available uids, avoiding ``exclude`` while enough others are available (the original's
    ``get_random_uids``; it failed when fewer than ``k`` uids were available at all, the mirror takes them all)."""
    available = neuron.available_uids()
    excluded = np.isin(available, exclude)
    candidates = available[~excluded]
    if len(candidates) < k:
        extra = neuron.rng.permutation(available[excluded])[:k - len(candidates)]
        candidates = np.concatenate([candidates, extra])
    return neuron.rng.permutation(candidates)[:k]


def run_step(neuron: Neuron, prompt: str, name: str, k: int, timeout: float, exclude: list[int] | None = None,
             base_prompt: str | None = None) -> Event:
    """One rewarded step (see the module docstring); returns its event (``best`` may be empty)."""
    neuron._maybe_churn()
    neuron.sync_metagraph()
    uids = random_uids(neuron, k, exclude or [])
    question = name.startswith("followup")
    query = Query(("user",), (prompt,), question, name=name, base_prompt=base_prompt)
    calls = neuron.dendrite_pool(["user"], [prompt], uids, timeout, question=question, name=name)
    ok = np.array([c.is_success for c in calls], dtype=bool)
    completions = [c.completion.strip() for c in calls]
    gating = neuron.gating_model.scores(prompt)
    event = neuron.record(query, uids, calls, gating[uids])
    neuron.steps_done += 1
    rewards = np.zeros(len(calls))
    if ok.any():
        kept = [c for c, good in zip(completions, ok) if good]
        rewards[ok] = neuron._reward(query, kept, gating[uids[ok]], event)
    event.gating_loss = float(neuron.gating_model.backward(uids, gating[uids], rewards))
    event.successful_uids, event.rewards = uids[ok].tolist(), rewards[ok].tolist()
    event.best = completions[int(np.argmax(rewards))] if len(calls) else ""
    neuron.moving_averaged_scores.update(uids, rewards, np.zeros(0, dtype=int))
    neuron.metagraph.block += 1
    return event
