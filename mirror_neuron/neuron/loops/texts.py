"""What the loops draw their prompts from: data prompts, and contexts for the versions that used corpora."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mirror_neuron.neuron.neuron import Neuron

NO_PROMPT = "Ask a question about a topic you know well."
AI_PHRASE = "As an AI language model, "  # what the loops remove from an answer before following it up


def fresh_prompt(neuron: Neuron) -> str:
    """A data prompt drawn with the neuron's generator (a fixed question when it has none)."""
    if not neuron.prompts:
        return NO_PROMPT
    return neuron.prompts[int(neuron.rng.integers(len(neuron.prompts)))]


def fresh_context(neuron: Neuron, sentences: int | None = None) -> str:
    """A context drawn with the neuron's generator: a data ``context`` (core-2023 used squad_v2 contexts),
    or a data prompt when the data has none.

    With ``sentences`` (openvalidators drew 15-30 sentences of a web-text document): paragraphs from a
    random one on, whole and distinct, joined by spaces until the text holds ``sentences`` full stops,
    then cut as the original cut its document: ``".".join(text.split(".", maxsplit=sentences)[:-1])``.
    """
    pool = neuron.contexts or neuron.prompts
    if not pool:
        return NO_PROMPT
    start = int(neuron.rng.integers(len(pool)))
    if sentences is None:
        return pool[start]
    parts: list[str] = []
    for offset in range(len(pool)):
        paragraph = pool[(start + offset) % len(pool)]
        if paragraph not in parts:
            parts.append(paragraph)
        if " ".join(parts).count(".") > sentences:
            break
    text = " ".join(parts)
    return ".".join(text.split(".", maxsplit=sentences)[:-1]) or text
