"""A reward-model query's rows sharded over Ray workers, each holding a replica of the model (``shards: N``).

Each stored chunk's rows are cut into ``N`` contiguous parts on batch boundaries (multiples of the
query's ``chunk_size``), so every forward batch holds the rows it holds in one process, and the parts come
back in order: the table is the one-process table. A running Ray runtime is used (a sweep's, a cluster's);
otherwise a local one is started for the query and shut down after it. Each replica asks for
:data:`REPLICA_CPUS`, a fraction, so that the replicas of a sweep's points find room on 2 CPUs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mirror_neuron.steps.query.reward_model import InProcessScorer

if TYPE_CHECKING:
    import pandas as pd

    from mirror_neuron.steps.model.spec import RewardModelSpec
    from mirror_neuron.steps.query.reward_model import RewardModelQueryStep

REPLICA_CPUS = 0.5


class Replica(InProcessScorer):
    """A Ray actor: one copy of the reward model, scoring the parts of chunks it is given."""

    def __init__(self, step: RewardModelQueryStep, spec: RewardModelSpec) -> None:
        from mirror_neuron.steps.model.spec import load_reward_model

        super().__init__(step, load_reward_model(spec, step.context.config_dir, step.context.seed))


class Shards:
    """``shards`` replicas of the query's model; :meth:`score` scores a chunk's rows over them, in order."""

    def __init__(self, replicas: list[Any], batch_rows: int) -> None:
        self.replicas, self.batch_rows = replicas, batch_rows

    def score(self, rows: pd.DataFrame, pairs: bool) -> pd.DataFrame:
        import pandas as pd
        import ray

        parts = [part for part in split_rows(len(rows), len(self.replicas), self.batch_rows) if len(part)]
        scored = [replica.score.remote(rows.iloc[part.start:part.stop], pairs)
                  for replica, part in zip(self.replicas, parts)]
        return pd.concat(ray.get(scored), ignore_index=True)

    def batch_difference(self, rows: pd.DataFrame, pairs: bool) -> float:
        import ray

        return ray.get(self.replicas[0].batch_difference.remote(rows, pairs))


def split_rows(rows: int, shards: int, batch_rows: int) -> list[range]:
    """``shards`` contiguous ranges covering ``rows``, each a whole number of batches (the last may be short
    or empty)."""
    batches = -(-rows // batch_rows)
    per_shard = -(-batches // shards)
    return [range(min(rows, s * per_shard * batch_rows), min(rows, (s + 1) * per_shard * batch_rows))
            for s in range(shards)]


@contextlib.contextmanager
def sharded(step: RewardModelQueryStep, spec: RewardModelSpec, shards: int) -> Iterator[Shards]:
    """``shards`` replicas on the running Ray runtime (or a local one started for the block)."""
    import ray

    from mirror_neuron import ray_runtime

    started = not ray.is_initialized()
    if started:
        ray_runtime.init()
    replicas = []
    try:
        actor = ray.remote(num_cpus=REPLICA_CPUS, max_restarts=0)(Replica)
        replicas = [actor.remote(step, spec) for _ in range(shards)]
        yield Shards(replicas, step.config.chunk_size)
    finally:
        for replica in replicas:
            ray.kill(replica)
        if started:
            ray.shutdown()
