"""Replay real openvalidators events through the mirror's filters of the same version and print the agreement.

Usage: .venv/bin/python bench/replay.py [--events FILE.parquet] [--stand-in minilm] [--nsfw PATH]
                                        [--scorer PATH] [--threads N]

Prints one ``<column>: agree K/N`` line per filter over the non-empty completions (soft values: within
0.05 of the logged one), the empty completions apart, the Spearman correlation of the soft values (and of
``--scorer``, a sequence classifier path, with the logged RLHF and reciprocate columns), the stand-in
models, and the reward formula check. Offline: the embedding models are ``--stand-in`` (default MiniLM);
NSFW is off unless ``--nsfw`` names a classifier. Events are v1.1.3's, so the filters are openvalidators-1.1.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mirror_neuron.lab.replay import replay, report_lines, version_filters
from mirror_neuron.steps.data.events import read_events

DEFAULT_EVENTS = (Path(__file__).resolve().parents[2] / "shared" / "data" / "sn1_openvalidators"
                  / "events.2023-08-06.part1.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=Path, default=DEFAULT_EVENTS, help="an event log (Parquet, JSON or JSONL)")
    parser.add_argument("--stand-in", default="minilm", help="embedding model for BERT and MPNet (path or minilm)")
    parser.add_argument("--nsfw", default=None, help="NSFW classifier path (hub id, local folder or tiny:gpt2)")
    parser.add_argument("--scorer", default=None, help="sequence classifier path to correlate with the scorers")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(args.threads)
    transformers_logging.disable_progress_bar()
    start = time.perf_counter()
    events = read_events(args.events)
    scorer = None
    if args.scorer:
        from mirror_neuron.neuron.reward.sequence_classification import SequenceClassificationRewardModel

        scorer = SequenceClassificationRewardModel(path=args.scorer)
    result = replay(events, version_filters("1.1", stand_in=args.stand_in, nsfw=args.nsfw), "1.1",
                    scorer=scorer, scorer_name=args.scorer or "")
    print(f"replay of {len(events)} events from {args.events.name} (openvalidators-1.1)")
    for line in report_lines(result):
        print(line)
    print(f"wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
