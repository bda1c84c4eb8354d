"""A network of 32 honest validators over 1,024 miners for 100 epochs of 20 forward passes each.

Each validator runs its own mirror neuron (random gating, a length reward: non-neural, topk 50) over
the shared miners and sets its weights under subnet 1's 2023 rules; every epoch runs Yuma (yuma1-2023).
Prints the time of the whole run and of its parts (forward passes, set_weights and epochs); the
target is under 2 minutes on 2 CPUs.

Usage: .venv/bin/python bench/network.py [--validators 32] [--miners 1024] [--epochs 100]
"""

from __future__ import annotations

import argparse
import time

from mirror_neuron.network.config import NetworkConfig
from mirror_neuron.network.simulation import Network

PROMPTS = [f"What is the main point of passage number {i}?" for i in range(100)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--validators", type=int, default=32)
    parser.add_argument("--miners", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    config = NetworkConfig.model_validate({
        "metagraph": {"n": args.miners},
        "validators": {"honest": {"count": args.validators, "neuron": {"reward": {"type": "LengthRewardModel"}}}},
        "chain": {"forward_passes_per_block": 0.2},  # tempo 99: 20 forward passes an epoch
    })
    started = time.perf_counter()
    network = Network.build(config, PROMPTS, seed=0)
    built = time.perf_counter()
    forward = 0.0
    for _ in range(args.epochs):
        before = time.perf_counter()
        for player in network.players:  # the forward passes alone, then the epoch without them
            player.forward(config.chain.passes_per_epoch)
        forward += time.perf_counter() - before
        network.step(forward_passes=0)
    total = time.perf_counter() - started
    print(f"build: {built - started:.1f} s")
    print(f"forward passes ({args.validators * args.epochs * config.chain.passes_per_epoch:,}): {forward:.1f} s")
    print(f"set_weights and epochs: {total - (built - started) - forward:.1f} s")
    print(f"network: {args.validators} validators x {args.miners} miners x {args.epochs} epochs of "
          f"{config.chain.passes_per_epoch} forward passes in {total:.1f} s (target: < 120 s)")


if __name__ == "__main__":
    main()
