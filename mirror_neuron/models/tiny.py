"""Tiny causal LMs built from a config, for tests and the dummy experiment: ``tiny:gptj`` and friends.

Weights are random but deterministic from a seed; the tokenizer is a byte-level BPE trained, in well
under a second, on the built-in prompt set, so everything works offline.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from mirror_neuron.errors import UserError

PREFIX = "tiny:"
VOCAB_SIZE = 1024
SPECIAL_TOKENS = ["<|endoftext|>"]
ARCHITECTURES = ("gptj", "gpt2", "gptneo")


def is_tiny(path: str) -> bool:
    return path.startswith(PREFIX)


def tiny_tokenizer() -> Any:
    """A byte-level BPE tokenizer (GPT-2 style, pad = eos = ``<|endoftext|>``) trained on the built-in
    prompts; a new object each call (callers may add tokens), trained once per process."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_trained_bpe()), eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>",
                                   model_max_length=2048)


@functools.cache
def _trained_bpe() -> str:
    from tokenizers import ByteLevelBPETokenizer

    text = (resources.files("mirror_neuron.resources") / "prompts.jsonl").read_text(encoding="utf-8")
    corpus = [value for line in text.splitlines() for value in json.loads(line).values()]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=VOCAB_SIZE, min_frequency=1, special_tokens=SPECIAL_TOKENS,
                            show_progress=False)
    return bpe._tokenizer.to_str()


def tiny_config(path: str, layers: int = 2, width: int = 64, heads: int = 4) -> Any:
    """The transformers config of ``tiny:<architecture>``."""
    from transformers import GPT2Config, GPTJConfig, GPTNeoConfig

    architecture = path[len(PREFIX):]
    vocab = len(tiny_tokenizer())
    if architecture == "gptj":
        return GPTJConfig(vocab_size=vocab, n_positions=2048, n_embd=width, n_layer=layers, n_head=heads,
                          rotary_dim=width // heads // 2 * 2, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if architecture == "gpt2":
        return GPT2Config(vocab_size=vocab, n_positions=2048, n_embd=width, n_layer=layers, n_head=heads,
                          bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if architecture == "gptneo":
        return GPTNeoConfig(vocab_size=vocab, max_position_embeddings=2048, hidden_size=width, num_layers=layers,
                            num_heads=heads, attention_types=[[["global"], layers]], window_size=256,
                            bos_token_id=0, eos_token_id=0, pad_token_id=0)
    raise UserError(f"unknown tiny model '{path}'; use one of " + ", ".join(PREFIX + a for a in ARCHITECTURES))


def tiny_causal_lm(path: str, seed: int = 0, **sizes: int) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for ``tiny:<architecture>``, weights drawn from ``seed``."""
    import torch
    from transformers import AutoModelForCausalLM

    config = tiny_config(path, **sizes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    return model.eval(), tiny_tokenizer()
