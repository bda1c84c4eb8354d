"""Log-probability ("DPO") scoring speed: the prompt every completion shares run once, or once per row.

``LogProbRewardModel`` runs the tokens every completion of one prompt starts with (the prompt but its
last token) once, and the completions continue from their cached keys and values. The baseline runs
every row whole (prompt and completion), batched and right-padded the same way, through the same
scoring (``_mean_logprobs(share_prompt=False)``). Both score the same completions: honest miners'
answers in 64 uids' own words (``honest_text``, seeds 0-63 of the default population) to SQuAD v2
questions, under two prompts: the question alone (short: the shared part is small) and the question
after its passage (long: the openvalidators loops prompted with 15-30 sentences of context). Prints
rows/s of both, their ratio and the largest difference between the two paths' rewards, per prompt
shape. Each question is timed once per path, the two back to back, after one untimed warm-up forward.

Usage: .venv/bin/python bench/logprob_reward.py [--path smollm2] [--questions 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.honest import honest_text
from mirror_neuron.neuron.reward.logprob import LogProbRewardModel

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad_v2_dev_subset" / \
    "squad_v2_dev_normans_rhine.jsonl"
UIDS = 64


def questions(count: int) -> list[Query]:
    """The first ``count`` answerable SQuAD v2 questions, with their passages."""
    found = []
    for line in SQUAD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["answers"]["text"]:
            found.append(Query(("user",), (row["question"],), reference=row["answers"]["text"][0],
                               context=row["context"]))
        if len(found) == count:
            return found
    return found


def scored(scorer: LogProbRewardModel, prompt: str, completions: list[str], share_prompt: bool) -> list[float]:
    """The scorer's rewards of ``completions``, its shared prompt run once or every row run whole."""
    rows = scorer._separate_rows(prompt, completions, list(range(len(completions))))
    values = []
    for start in range(0, len(rows), scorer.batch_size):
        batch = [rows[i] for i in range(start, min(start + scorer.batch_size, len(rows)))]
        values += scorer._mean_logprobs(batch, share_prompt=share_prompt)
    return values


def timed(score) -> tuple[float, list[float]]:
    """Seconds of one call of ``score()``, and its values."""
    start = time.perf_counter()
    values = score()
    return time.perf_counter() - start, values


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default="smollm2")
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scorer = LogProbRewardModel(path=args.path)
    scorer.logprobs("Warm up.", ["A first forward pass, not timed."])
    for shape in ("question", "passage + question"):
        cached_s = whole_s = 0.0
        rows, largest, prompt_tokens = 0, 0.0, []
        for query in questions(args.questions):
            prompt = query.prompt if shape == "question" else f"{query.context}\n\n{query.prompt}"
            completions = [honest_text(query, uid, seed=uid) for uid in range(UIDS)]
            prompt_tokens.append(len(scorer.tokenizer(prompt + scorer.separator)["input_ids"]))
            seconds, cached = timed(lambda: scored(scorer, prompt, completions, share_prompt=True))
            cached_s += seconds
            seconds, whole = timed(lambda: scored(scorer, prompt, completions, share_prompt=False))
            whole_s += seconds
            rows += len(completions)
            largest = max(largest, max(abs(a - b) for a, b in zip(cached, whole)))
        print(f"{shape:>18} (prompt {min(prompt_tokens)}-{max(prompt_tokens)} tokens, {rows} rows): "
              f"shared prompt once {rows / cached_s:6.1f} rows/s, whole rows {rows / whole_s:6.1f} rows/s, "
              f"ratio {whole_s / cached_s:.2f}x, largest reward difference {largest:.1e}")


if __name__ == "__main__":
    main()
