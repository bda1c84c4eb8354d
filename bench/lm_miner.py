"""Generations per second of the `lm` miner, one uid at a time vs a call's uids batched, and its cache.

SmolLM2 (``smollm2``) samples at temperature > 0 for ``--uids`` uids (default 50, the uids a 2023
validator queried per step) on each of ``--prompts`` built-in prompts: one uid at a time, then every uid of the prompt in one batch (the way the dendrite pool asks
it), alternated prompt by prompt and with the cache off. Prints generations/s of both, their ratio
(target: batched >= 5x on 2 CPUs), how many completions are identical under the same seeds, and the hit
rate of a rerun through a new dendrite pool and miner, from the SQLite file a first pass filled (target:
100%).

Usage: .venv/bin/python bench/lm_miner.py [--path smollm2] [--uids 50] [--prompts 2] [--max-new-tokens 48]
                                          [--temperature 0.8] [--top-p 0.95] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.generation_cache import FILE_VARIABLE
from mirror_neuron.neuron.miners.lm import LanguageModelMiner
from mirror_neuron.steps.data.sources import builtin_path

RNG = np.random.default_rng(0)  # the miner samples with per-uid seeds; the pool's rng is not used
SYSTEM = "You are a helpful assistant. Answer accurately and concisely."


def timed(generate) -> tuple[list[str], np.ndarray]:
    """The texts, and the wall and CPU seconds (this process's, all threads) that generating them took."""
    start, cpu = time.perf_counter(), time.process_time()
    texts = generate()
    return texts, np.array([time.perf_counter() - start, time.process_time() - cpu])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="smollm2")
    parser.add_argument("--uids", type=int, default=50)
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(args.threads)
    transformers_logging.disable_progress_bar()
    rows = pd.read_json(builtin_path("prompts"), lines=True)
    queries = [Query(("system", "user"), (SYSTEM, question)) for question in rows["question"][:args.prompts]]
    uids = list(range(args.uids))
    params = {"path": args.path, "max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
              "top_p": args.top_p, "batch_size": args.uids}
    miner = LanguageModelMiner(**params, cache=False)
    miner.respond(queries[0], 999, RNG)  # load the model and warm up

    single, batched, single_s, batched_s = [], [], np.zeros(2), np.zeros(2)
    load = os.getloadavg()[0]
    for query in queries:  # alternated per prompt, so that the load of a shared machine weighs on both alike
        texts, seconds = timed(lambda: [miner.respond(query, uid, RNG) for uid in uids])
        single, single_s = single + texts, single_s + seconds
        texts, seconds = timed(lambda: miner.respond_many(query, uids, RNG))
        batched, batched_s = batched + texts, batched_s + seconds
    total = len(single)
    print(f"{args.path}, {args.uids} uids x {len(queries)} prompts, max_new_tokens {args.max_new_tokens}, "
          f"temperature {args.temperature}, top_p {args.top_p}, {args.threads} threads, "
          f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<16}{'generations':>12}{'wall s':>9}{'cpu s':>9}{'generations/s':>15}")
    for mode, (wall, cpu) in (("one at a time", single_s), ("batched", batched_s)):
        print(f"{mode:<16}{total:>12}{wall:>9.1f}{cpu:>9.1f}{total / wall:>15.2f}")
    print(f"batched / one at a time: {single_s[0] / batched_s[0]:.1f}x wall, {single_s[1] / batched_s[1]:.1f}x cpu "
          "(target: >= 5x)")
    same = sum(a == b for a, b in zip(single, batched))
    print(f"identical under the same seeds: {same}/{total}; distinct completions: {len(set(batched))}/{total}")

    with tempfile.TemporaryDirectory() as folder:
        os.environ[FILE_VARIABLE] = str(Path(folder) / "generations.sqlite")
        first = [c.completion for c in run_pool(LanguageModelMiner(**params), queries, uids, seed=0)]
        cache = LanguageModelMiner(**params).generation_cache()
        before = cache.hits, cache.misses
        again = [c.completion for c in run_pool(LanguageModelMiner(**params), queries, uids, seed=1)]
        hits, misses = cache.hits - before[0], cache.misses - before[1]
        print(f"cache rerun: {hits}/{hits + misses} hits ({hits / (hits + misses):.0%}), "
              f"completions {'identical' if again == first else 'DIFFERENT'}, "
              f"{'identical' if first == batched else 'not identical'} to the batched pass  (target: 100%)")


def run_pool(miner: LanguageModelMiner, queries: list[Query], uids: list[int], seed: int) -> list:
    pool = DummyDendritePool([miner] * len(uids), seed=seed)
    return [call for q in queries for call in pool(list(q.roles), list(q.messages), np.array(uids), timeout=1e9)]


if __name__ == "__main__":
    main()
