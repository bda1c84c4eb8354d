"""The texts the 2023 validator scored with its reward model, and its difference reward (no torch here)."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.miners.base import Query


def difference_texts(query: Query, completion: str) -> tuple[str, str]:
    """``(full, completion_only)`` as the 2023 validator's forward built them.

    ``full = "Question: " + "".join(m.strip() + "\\n" for every non-system message) + "Answer: " +
    completion.strip()``: each message is followed by a newline, so a newline also precedes "Answer: "
    (no space after it), and assistant messages count as well as user ones. ``completion_only`` is the
    stripped completion.
    """
    return difference_prompt(query) + completion.strip(), completion.strip()


def difference_prompt(query: Query) -> str:
    """What precedes the completion in the full text: ``"Question: "``, every non-system message
    stripped and followed by a newline, then ``"Answer: "``."""
    context = "".join(message.strip() + "\n" for role, message in zip(query.roles, query.messages)
                      if role != "system")
    return "Question: " + context + "Answer: "


def plain_text(query: Query, completion: str) -> str:
    """The inference-ranking text: every non-system message stripped and followed by a blank line
    (``"\\n\\n"``), then the stripped completion (no "Question:"/"Answer:" labels)."""
    context = "".join(message.strip() + "\n\n" for role, message in zip(query.roles, query.messages)
                      if role != "system")
    return context + completion.strip()


def difference_reward(full: np.ndarray, completion: np.ndarray, shift: float) -> np.ndarray:
    """``relu(r(full) + shift) - relu(r(completion) + shift)``: how much the question adds to the
    completion's reward, each side shifted and clipped at 0 first."""
    return np.maximum(full + shift, 0.0) - np.maximum(completion + shift, 0.0)
