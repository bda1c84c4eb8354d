"""The generation cache keeps completions by key, with the real seconds a served completion took, and
opens files written before it kept them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mirror_neuron.neuron.miners.generation_cache import GenerationCache


def test_completions_keep_their_seconds_and_count_hits_and_misses(tmp_path: Path) -> None:
    cache = GenerationCache(tmp_path / "g.sqlite")
    cache.put({"served": "an answer"}, {"served": 1.25})
    cache.put({"generated": "another"})
    assert cache.get_timed(["served", "generated", "unknown"]) == {"served": ("an answer", 1.25),
                                                                  "generated": ("another", None)}
    assert cache.get(["served"]) == {"served": "an answer"} and (cache.hits, cache.misses) == (3, 1)


def test_a_file_from_before_served_completions_opens_with_its_completions(tmp_path: Path) -> None:
    file = tmp_path / "old.sqlite"
    with sqlite3.connect(file) as old:
        old.execute("CREATE TABLE generations (key TEXT PRIMARY KEY, completion TEXT NOT NULL)")
        old.execute("INSERT INTO generations VALUES ('kept', 'from before')")
    cache = GenerationCache(file)
    cache.put({"new": "text"}, {"new": 0.5})
    assert cache.get_timed(["kept", "new"]) == {"kept": ("from before", None), "new": ("text", 0.5)}
    assert GenerationCache(file).get(["kept"]) == {"kept": "from before"}  # opened again: nothing to add
