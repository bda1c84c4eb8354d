"""Batched generation with a causal LM where each row samples with its own seed.

A row's tokens depend only on its prompt and its seed, not on the rows generated beside it: each row
draws from its own ``torch.Generator``, so one batch of sixteen gives what sixteen single generations
give (up to float rounding of the padded batch, which almost never moves a draw across a boundary).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList


class SeededRowSampler(LogitsProcessor):
    """Draws each row's next token with that row's generator (temperature, then nucleus ``top_p``) and
    leaves only that token possible, so that greedy decoding takes it."""

    def __init__(self, seeds: list[int], temperature: float, top_p: float = 1.0) -> None:
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs, order = torch.softmax(scores.float() / self.temperature, dim=-1).sort(dim=-1, descending=True)
        if self.top_p < 1.0:  # keep the most likely tokens until their mass reaches top_p
            probs = probs * (probs.cumsum(dim=-1) - probs < self.top_p)
        cumulative = probs.cumsum(dim=-1)
        uniforms = torch.cat([torch.rand(1, generator=generator) for generator in self.generators])
        picked = torch.searchsorted(cumulative, uniforms[:, None] * cumulative[:, -1:]).clamp_(max=scores.shape[-1] - 1)
        tokens = order.gather(-1, picked)
        return torch.full_like(scores, -torch.inf).scatter_(-1, tokens, 0.0)


def generate_batch(model: Any, tokenizer: Any, prompts: list[list[int]], seeds: list[int] | None,
                   max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0) -> list[str]:
    """The decoded completion of each prompt (token ids), generated in one left-padded batch.

    ``temperature`` 0 is greedy decoding (``seeds`` unused); above 0, row ``i`` samples with ``seeds[i]``.
    """
    width = max(len(prompt) for prompt in prompts)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(prompt)) + prompt for prompt in prompts])
    mask = torch.tensor([[0] * (width - len(prompt)) + [1] * len(prompt) for prompt in prompts])
    processors = None
    if temperature > 0:
        if seeds is None or len(seeds) != len(prompts):
            raise ValueError("sampling needs one seed per prompt")
        processors = LogitsProcessorList([SeededRowSampler(seeds, temperature, top_p)])
    with torch.inference_mode():
        output = model.generate(ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                                temperature=None, top_p=None, top_k=None, logits_processor=processors,
                                pad_token_id=pad)
    return [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in output]
