"""Reward-model scoring speed: the 2023 validator's algorithm against ``TrlxRewardModule.score``.

Both score the same NQ-open dev rows (the first 256) with the same seeded weights of a GPT-J-shaped
reward model: 6 layers, width 512, 8 heads of 64 features, rotary_dim 64 (as GPT-J), gelu_new MLP
of width 2048, embedding rows 50,400 (GPT-J's vocab_size) and the trlX ``v_head``. Prints both
throughputs (rows/s), their ratio, the largest score difference, and the fast path's achieved
GFLOP/s next to a plain 1024x1024 fp32 ``torch.mm``'s GFLOP/s measured in the same run.

Usage: .venv/bin/python bench/reward_query.py [--rows 256] [--tokenizer bpe|tiny] [--format plain|original]
                                              [--batch-size 256] [--max-tokens 4096] [--repeats 5] [--threads N]

Choices, and why:
- Tokenizer ``bpe`` (default): a byte-level BPE like GPT-J's (target 50,257 tokens, ``<|endoftext|>``
  = pad = eos), trained in a few seconds on the shared hh-rlhf, gsm8k and SQuAD text (not on NQ, so
  the scored rows are not in its training text); it splits English about as finely as GPT-J's
  tokenizer (a corpus this small stops short of 50,257 merges; the count is printed). ``tiny``: the
  project's 1,024-token tokenizer, which splits about twice as finely (``<|startoftext|>`` alone is
  10 tokens), so every row has about twice the tokens; the original always runs 2 x 550. The
  vocabulary size changes no FLOP count: a reward model has no LM head, and embeddings are lookups.
- Text ``plain`` (default): question + " " + first answer. ``original``: the validator's own shape,
  "Question: {question}\\nAnswer: {answer}". Either is wrapped in <|startoftext|> ... <|endoftext|>.
- Timing (medians, as the machine may be shared): the original runs once over all rows after a
  warm-up row, and its throughput is 1 / the median row's seconds (every row costs the same, 2 x 550
  tokens; the total is printed too). The fast path runs ``--repeats`` passes after a warm-up one,
  each right after a 1024x1024 matmul measurement, so both see the same load; the medians (and
  best) of both are reported. The batch plan: ``--batch-size`` rows (256: the token budget decides)
  and ``--max-tokens`` padded tokens (the library's default) per forward.
- FLOPs count the work each path actually does, matrix products only (2 per multiply-add): the linear
  layers on every token they run on (the original: 2 x 550 padded tokens a row; ``score``: shared
  prefixes once, each row's tokens up to its end packed without padding, the last layer's query, output
  and MLP at the ends only), plus the attention terms QK^T and AV over the whole score rectangle each
  query is given, padding included (4 x queries x keys x width per layer: causal halves that a
  kernel may skip count as done). Layer norms, GELU, rotary, softmax and embedding lookups are not
  counted. See ``fast_flops`` and ``original_flops``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from mirror_neuron.neuron.reward.trlx.batching import ScoreBatch, end_cut, plan_batches
from mirror_neuron.neuron.reward.trlx.module import END, REFERENCE_MAX_LENGTH, SCORE_MAX_TOKENS, START, TrlxRewardModule

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LAYERS, WIDTH, HEADS, ROTARY_DIM, GPTJ_VOCAB, GPTJ_TOKENIZER_VOCAB = 6, 512, 8, 64, 50400, 50257
FORMATS = {"plain": "{question} {answer}", "original": "Question: {question}\nAnswer: {answer}"}


# -- the 2023 validator's algorithm, as it was ----------------------------------------------------


@torch.no_grad()
def original_scores(module: TrlxRewardModule, texts: list[str]) -> tuple[list[float], list[float]]:
    """One text at a time: wrapped, padded to 550 tokens (never truncated), duplicated into a batch of
    two (chosen = rejected) and read from the module's ``chosen_end_scores[0]``. Returns the scores
    and the seconds each text took."""
    scores, seconds = [], []
    for text in texts:
        start = time.perf_counter()
        encoded = module.tokenizer([START + text + END], truncation=False, max_length=REFERENCE_MAX_LENGTH,
                                   padding="max_length", return_tensors="pt")
        input_ids = encoded["input_ids"].repeat(2, 1)
        attention_mask = encoded["attention_mask"].repeat(2, 1)
        scores.append(float(module(input_ids=input_ids, attention_mask=attention_mask)["chosen_end_scores"][0]))
        seconds.append(time.perf_counter() - start)
    return scores, seconds


# -- the model and the rows -------------------------------------------------------------------------


def bpe_tokenizer() -> Any:
    """A GPT-J-like byte-level BPE trained on the shared hh-rlhf, gsm8k and SQuAD text."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    corpus: list[str] = []
    for name in ("helpful-base", "harmless-base"):
        with gzip.open(DATA / "hh_rlhf" / f"{name}.test.jsonl.gz", "rt", encoding="utf-8") as lines:
            corpus += [text for row in map(json.loads, lines) for text in (row["chosen"], row["rejected"])]
    for row in map(json.loads, (DATA / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()):
        corpus += [row["question"], row["answer"]]
    squad = [json.loads(line) for line in
             (DATA / "squad_v2_dev_subset" / "squad_v2_dev_normans_rhine.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus += list(dict.fromkeys(row["context"] for row in squad)) + [row["question"] for row in squad]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=GPTJ_TOKENIZER_VOCAB, min_frequency=2, special_tokens=[END],
                            show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token=END, bos_token=END, pad_token=END,
                                   unk_token=END, model_max_length=2048)


def build_module(tokenizer_kind: str, seed: int = 0) -> TrlxRewardModule:
    """The GPT-J-shaped reward model, weights drawn from ``seed``."""
    from transformers import AutoModelForCausalLM, GPTJConfig

    from mirror_neuron.models.tiny import tiny_tokenizer

    tokenizer = bpe_tokenizer() if tokenizer_kind == "bpe" else tiny_tokenizer()
    vocab = GPTJ_VOCAB if tokenizer_kind == "bpe" else len(tokenizer)
    eos = tokenizer.eos_token_id
    config = GPTJConfig(vocab_size=vocab, n_positions=2048, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS,
                        rotary_dim=ROTARY_DIM, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config).eval()
    return TrlxRewardModule(f"bench:gptj-{LAYERS}x{WIDTH}", seed, causal_lm=(model, tokenizer)).requires_grad_(False)


def nq_rows(n: int, text_format: str) -> list[str]:
    lines = (DATA / "nq_open" / "NQ-open.dev.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [FORMATS[text_format].format(question=row["question"], answer=row["answer"][0])
            for row in map(json.loads, lines)]


# -- FLOPs of the work each path does ---------------------------------------------------------------


def layer_weights(config: Any) -> tuple[int, int]:
    """Multiply-adds per token of a layer's attention projections (q, k, v, out) and of its MLP."""
    width = config.n_embd
    inner = config.n_inner or 4 * width
    return 4 * width * width, 2 * width * inner


def fast_flops(config: Any, batches: list[ScoreBatch]) -> float:
    """What ``score`` computes: per batch, the shared prefix (its last layer only keys and values), unless
    the previous batch had the same; then each row's own tokens up to its end, packed without padding,
    through every linear layer but the last layer's query, output projection and MLP, which run at the
    end positions only; ``v_head`` at the ends. Attention: every query against all prefix keys and the
    whole padded suffix width."""
    width, layers = config.n_embd, config.n_layer
    attention, mlp = layer_weights(config)
    full_layer, key_value = attention + mlp, 2 * width * width
    flops, previous = 0, None
    for batch in batches:
        rows, prefix, suffix = len(batch.rows), len(batch.prefix), batch.width
        tokens = sum(len(tail) for tail in batch.suffixes)
        if prefix and batch.prefix != previous:
            previous = batch.prefix
            flops += 2 * prefix * ((layers - 1) * full_layer + key_value)
            flops += 4 * (layers - 1) * prefix * prefix * width
        flops += 2 * tokens * ((layers - 1) * full_layer + key_value)
        flops += 2 * rows * (full_layer - key_value)
        flops += 4 * rows * ((layers - 1) * suffix + 1) * (prefix + suffix) * width
        flops += 2 * rows * width
    return float(flops)


def original_flops(config: Any, token_counts: list[int]) -> float:
    """The original's forward: 2 rows of max(550, tokens) through every layer, ``v_head`` everywhere."""
    width, layers = config.n_embd, config.n_layer
    per_token = 2 * layers * sum(layer_weights(config)) + 2 * width
    flops = 0
    for count in token_counts:
        length = max(REFERENCE_MAX_LENGTH, count)
        flops += 2 * (length * per_token + layers * 4 * length * length * width)
    return float(flops)


# -- timing -------------------------------------------------------------------------------------------


def matmul_gflops(size: int = 1024, seconds: float = 0.5) -> float:
    """GFLOP/s of a plain ``size x size`` fp32 ``torch.mm``, over about ``seconds``."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * size ** 3 * count / elapsed / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--tokenizer", choices=("bpe", "tiny"), default="bpe")
    parser.add_argument("--format", choices=tuple(FORMATS), default="plain")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=SCORE_MAX_TOKENS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    module = build_module(args.tokenizer)
    texts = nq_rows(args.rows, args.format)
    config, tokenizer = module.config, module.tokenizer
    encoded = tokenizer([START + text + END for text in texts])["input_ids"]
    token_counts = [len(ids) for ids in encoded]
    batches = plan_batches([end_cut(ids, module.pad_id) or None for ids in encoded], args.batch_size, args.max_tokens)
    print(f"model: GPT-J shape, {config.n_layer} layers, width {config.n_embd}, {config.n_head} heads, "
          f"rotary_dim {config.rotary_dim}, vocab {config.vocab_size}; tokenizer {args.tokenizer} "
          f"({len(tokenizer)} tokens); torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"rows: {len(texts)} NQ-open dev rows, text {FORMATS[args.format]!r}, "
          f"{sum(token_counts) / len(texts):.1f} tokens per wrapped row (mean), "
          f"{len(batches)} batches (batch_size {args.batch_size}, max_tokens {args.max_tokens}), "
          f"{sum(len(b.prefix) for b in batches) / len(batches):.1f} shared prefix tokens per batch (mean)")

    original_scores(module, texts[:1])  # warm-up
    reference, row_seconds = original_scores(module, texts)
    module.score(texts, args.batch_size, args.max_tokens)  # warm-up
    pass_seconds, matmul_rates = [], []
    for _ in range(args.repeats):
        matmul_rates.append(matmul_gflops())
        start = time.perf_counter()
        scores = module.score(texts, args.batch_size, args.max_tokens)
        pass_seconds.append(time.perf_counter() - start)

    original_rate = 1 / statistics.median(row_seconds)
    fast_rate = len(texts) / statistics.median(pass_seconds)
    work = fast_flops(config, batches)
    achieved, best = work * fast_rate / len(texts) / 1e9, work / min(pass_seconds) / 1e9
    matmul_rate, matmul_best = statistics.median(matmul_rates), max(matmul_rates)
    difference = max(abs(a - b) for a, b in zip(reference, scores))
    print(f"original (2023) algorithm:  {original_rate:8.2f} rows/s  (median row {statistics.median(row_seconds):.3f} s; "
          f"all {len(texts)} in {sum(row_seconds):.1f} s; "
          f"{original_flops(config, token_counts) / sum(row_seconds) / 1e9:.1f} GFLOP/s on 2 x 550 tokens a row)")
    print(f"TrlxRewardModule.score:     {fast_rate:8.2f} rows/s  (median of {args.repeats} passes: "
          f"{statistics.median(pass_seconds):.2f} s, best {min(pass_seconds):.2f} s; {work / 1e9:.1f} GFLOP of work)")
    print(f"speed-up:                   {fast_rate / original_rate:8.1f} x       (target >= 40 x)")
    print(f"largest |score difference|: {difference:8.1e}         (tolerance 1e-4)")
    print(f"fast path:                  {achieved:8.1f} GFLOP/s  = {100 * achieved / matmul_rate:.0f}% of a 1024x1024 "
          f"fp32 matmul's {matmul_rate:.1f} GFLOP/s in this run (target >= 75%; best pass {best:.1f} = "
          f"{100 * best / matmul_best:.0f}% of the best matmul {matmul_best:.1f})")


if __name__ == "__main__":
    main()
