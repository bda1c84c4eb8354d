"""A weak honest miner with a noise seed gives the same flawed answer to the same prompt, per uid."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.scripted import Honest

ANSWER = "Plants use light energy to power photosynthesis, which turns carbon dioxide and water into glucose."


def query(prompt: str) -> Query:
    return Query(("user",), (prompt,), reference=ANSWER)


def test_seeded_noise_repeats_per_uid_and_prompt_and_differs_between_them() -> None:
    weak = Honest(style="bare", noise=0.3, noise_seed=0)
    rng = np.random.default_rng()
    first = weak.respond(query("Why do plants need light?"), 3, rng)
    assert first != ANSWER and len(first.split()) == len(ANSWER.split())
    assert weak.respond(query("Why do plants need light?"), 3, rng) == first
    assert weak.respond(query("Why do plants need light?"), 4, rng) != first
    assert weak.respond(query("How do plants make sugar?"), 3, rng) != first
    unseeded = Honest(style="bare", noise=0.3)
    assert len({unseeded.respond(query("Why do plants need light?"), 3, rng) for _ in range(5)}) > 1
