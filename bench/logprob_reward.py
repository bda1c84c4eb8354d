"""Log-probability ("DPO") scoring speed: the prompt every completion shares run once, or once per row.

``LogProbRewardModel`` runs the tokens every completion of one prompt starts with (the prompt but its
last token) once, and the completions continue from their cached keys and values. The baseline runs
every row whole (prompt and completion), batched and right-padded the same way, and takes the same
mean log-probability. Both score the same completions: honest miners' answers in 64 uids' own words
(``honest_text``, seeds 0-63 of the default population) to SQuAD v2 questions, under two prompts: the
question alone (short: the shared part is small) and the question after its passage (long: the
openvalidators loops prompted with 15-30 sentences of context). Prints rows/s of both, their ratio and
the largest difference between the two paths' rewards, per prompt shape. Values are medians of
``--repeats`` timed passes, alternated between the paths, after a warm-up pass of each.

Usage: .venv/bin/python bench/logprob_reward.py [--path smollm2] [--questions 2] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def whole_rows(scorer: LogProbRewardModel, prompt: str, completions: list[str]) -> list[float]:
    """The baseline: every row (prompt tokens, then completion tokens) run whole, no penalty or floor
    rules beyond the scorer's own (the same rows as the scorer's)."""
    rows = scorer._separate_rows(prompt, completions, list(range(len(completions))))
    values = []
    for start in range(0, len(rows), scorer.batch_size):
        batch = [rows[i] for i in range(start, min(start + scorer.batch_size, len(rows)))]
        logits = scorer._logits([ids for ids, _ in batch], 0)
        for row, (ids, first) in enumerate(batch):
            target = torch.tensor(ids[first:])
            logp = torch.log_softmax(logits[row, first - 1:len(ids) - 1].float(), dim=-1)
            values.append(float(logp.gather(1, target[:, None]).mean()))
    return values


def timed(score, repeats: int) -> tuple[float, list[float]]:
    """Median seconds of ``repeats`` calls of ``score()`` after a warm-up call, and its values."""
    values = score()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        score()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), values


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default="smollm2")
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scorer = LogProbRewardModel(path=args.path, penalty=1.0)  # no penalty: the baseline needs none
    for shape in ("question", "passage + question"):
        cached_s = whole_s = 0.0
        rows, largest, prompt_tokens = 0, 0.0, []
        for query in questions(args.questions):
            prompt = query.prompt if shape == "question" else f"{query.context}\n\n{query.prompt}"
            completions = [honest_text(query, uid, seed=uid) for uid in range(UIDS)]
            prompt_tokens.append(len(scorer.tokenizer(prompt + scorer.separator)["input_ids"]))
            seconds, cached = timed(lambda: scorer.logprobs(prompt, completions), args.repeats)
            cached_s += seconds
            seconds, whole = timed(lambda: whole_rows(scorer, prompt, completions), args.repeats)
            whole_s += seconds
            rows += len(completions)
            largest = max(largest, max(abs(a - b) for a, b in zip(cached, whole)))
        print(f"{shape:>18} (prompt {min(prompt_tokens)}-{max(prompt_tokens)} tokens, {rows} rows): "
              f"shared prompt once {rows / cached_s:6.1f} rows/s, whole rows {rows / whole_s:6.1f} rows/s, "
              f"ratio {whole_s / cached_s:.2f}x, largest reward difference {largest:.1e}")


if __name__ == "__main__":
    main()
