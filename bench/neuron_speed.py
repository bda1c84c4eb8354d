"""Training steps per second of the mirror neuron with 256, 1,024 and 4,096 dummy miners.

Random gating, constant reward (non-neural), topk 50, a mixed population. Prints steps/s for each
size, the ratio t(4096)/t(256) (per-step cost should not grow with the number of uids), and the time
of 10,000 training steps with 1,024 miners (target: under 30 s).

Usage: .venv/bin/python bench/neuron_speed.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import time

from mirror_neuron.neuron.neuron import Neuron

POPULATION = {"echo": 0.1, "stock_phrase": 0.05, "length_padder": 0.05, "flaky": 0.1, "slow": 0.05, "copycat": 0.05}


def build(n: int) -> Neuron:
    config = {"metagraph": {"n": n, "not_serving": 0.02, "validators": 8}, "miners": POPULATION,
              "gating": {"type": "RandomGatingModel"}, "reward": {"type": "ConstantRewardModel"}, "training_topk": 50}
    return Neuron(config, prompts=["What is the capital of Australia?", "Why is the sky blue?"])


def seconds_per_step(n: int, steps: int) -> float:
    neuron = build(n)
    neuron.train(20)  # warm-up
    start = time.perf_counter()
    neuron.train(steps)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    per_step = {}
    for n in (256, 1024, 4096):
        per_step[n] = seconds_per_step(n, args.steps)
        print(f"{n:5d} miners: {1 / per_step[n]:8.1f} training steps/s")
    print(f"t(4096)/t(256): {per_step[4096] / per_step[256]:.2f}  (target: near 1)")
    neuron = build(1024)
    start = time.perf_counter()
    neuron.train(10_000)
    print(f"10,000 training steps with 1,024 miners: {time.perf_counter() - start:.1f} s  (target: < 30 s)")


if __name__ == "__main__":
    main()
