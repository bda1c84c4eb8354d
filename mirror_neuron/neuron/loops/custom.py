"""The mirror's own loop: each step asks random uids for a question, then for its answer; both are rewarded.

It is a hybrid of the two versions mirrored (core-2023 never rewarded questions; openvalidators
rewarded follow-ups but in its own step sequence): a step always costs two forward passes. Every
``loop.reset_every`` steps the bootstrap restarts from a fresh data prompt, otherwise it asks for a
follow-up to the best answer; a question that starts with "As an AI language model, " loses that
phrase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mirror_neuron.neuron.loops.texts import AI_PHRASE, fresh_prompt

if TYPE_CHECKING:
    from mirror_neuron.neuron.neuron import Neuron


def train_step(neuron: Neuron) -> None:
    """A question pass, then an answer pass (``training_topk`` random uids each, gating trained)."""
    loop = neuron.config.loop
    if neuron.train_steps_done % loop.reset_every == 0 or not neuron.bootstrap:
        neuron.bootstrap = fresh_prompt(neuron)
    asked = neuron.forward(["system", "user"], [loop.base_prompt, neuron.bootstrap], topk=neuron.training_topk,
                           random_sample_uids=True, train_gating_model=True, question=True, name="question")
    question = asked.best.removeprefix(AI_PHRASE) if asked else neuron.bootstrap
    answered = neuron.forward(["system", "user"], [loop.base_prompt, question], topk=neuron.training_topk,
                              random_sample_uids=True, train_gating_model=True, name="answer")
    neuron.bootstrap = f"{answered.best}{loop.follow_up_prompt}" if answered else fresh_prompt(neuron)
