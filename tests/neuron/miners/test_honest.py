"""Honest miners answer in full sentences, in each uid's own words, with the data's content."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.honest import Honest, follow_up_question, split_sentences
from mirror_neuron.steps.data.schema import to_canonical_hh
from mirror_neuron.steps.query.prompts import DataPrompts

GOLD = Query(("system", "user"), ("Be helpful.", "what is the chemical symbol of gold"), reference="Au",
             others=("Au", "1972", "Paris", "Linda Davis"))
PASSAGE = ("The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in "
           "France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway. Through "
           "generations of assimilation their descendants would gradually merge with the Carolingian cultures.")
NORMANDY = Query(("user",), ("In what country is Normandy located?",), reference="France", context=PASSAGE)
RNG = np.random.default_rng(0)


def answers(miner: Honest, query: Query, uids: range = range(64)) -> list[str]:
    return [miner.respond(query, uid, RNG) for uid in uids]


def test_bare_is_the_reference_alone_as_before() -> None:
    bare = Honest(style="bare")
    assert answers(bare, GOLD, range(3)) == ["Au"] * 3
    assert bare.respond(Query(("user",), ("Why?",), question=True), 0, RNG) == follow_up_question(
        Query(("user",), ("Why?",)))
    assert Honest(style="bare", paraphrase=True).respond(NORMANDY, 0, RNG) == "In short, france"


def test_a_short_reference_becomes_a_sentence_that_holds_it_in_each_uids_words() -> None:
    given = answers(Honest(weak=0.0), GOLD)
    assert all(len(a) > 10 and "Au" in a for a in given)
    assert len(set(given)) >= 56  # uids word it differently
    assert given == answers(Honest(weak=0.0), GOLD)  # a uid keeps its wording


def test_a_passage_gives_the_words_of_the_sentence_that_holds_the_reference() -> None:
    given = answers(Honest(weak=0.0), NORMANDY)
    holding = split_sentences(PASSAGE)[0]
    assert all("France" in a for a in given)
    assert 0 < sum(holding in a for a in given) < 16  # a few quote it whole, the others a window around "France"
    assert sum("region in France" in a for a in given) >= 24
    assert any(split_sentences(PASSAGE)[1] in a for a in given)  # verbose uids add the next sentence


def test_weak_uids_are_wrong_some_of_the_time_the_same_way_each_time() -> None:
    always_wrong = Honest(weak=1.0, error_rate=1.0)
    given = answers(always_wrong, GOLD)
    assert not any("Au" in a for a in given) and all(len(a) > 10 for a in given)
    assert any("Linda Davis" in a for a in given)  # another prompt's answer, mixed up
    assert given == answers(always_wrong, GOLD)  # greedy: the same mistake again
    wrong_passage = answers(always_wrong, NORMANDY, range(16))
    assert all(split_sentences(PASSAGE)[0] not in a for a in wrong_passage)
    default = answers(Honest(), GOLD)
    assert 0 < sum("Au" not in a for a in default) < 16  # a fifth of the uids, wrong 30% of the time


def test_without_greedy_mistakes_are_drawn_anew() -> None:
    sampled = Honest(weak=1.0, error_rate=0.5, greedy=False)
    rng = np.random.default_rng(1)
    assert len({sampled.respond(GOLD, 3, rng) for _ in range(12)}) > 1


def test_follow_up_questions_vary_by_uid_and_end_with_a_question_mark() -> None:
    asked = Query(("user",), ("Canberra is the capital.\n\nAsk a follow up question.",), question=True)
    given = answers(Honest(), asked, range(16))
    assert all(q.endswith("?") for q in given) and len(set(given)) > 5


def hh_table(rows: int = 6) -> pd.DataFrame:
    """The first rows of the real HH-RLHF helpful-base test split, as the data step's ``dialogue: hh`` maps them."""
    path = Path(__file__).parents[3] / "../shared/data/hh_rlhf/helpful-base.test.jsonl.gz"
    records = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()[:rows]]
    return pd.DataFrame([to_canonical_hh(r) for r in records])


def test_hh_prompts_get_the_chosen_responses_and_a_weak_population_the_rejected_ones() -> None:
    table = hh_table()
    data = DataPrompts.of(table)
    pool = DummyDendritePool([Honest()] * 8 + [Honest(answers="rejected")] * 8, seed=0)
    pool.learn(data.questions, data.references)
    for prompt, chosen, rejected in zip(table["prompt"], table["chosen"], table["rejected"]):
        calls = pool(["system", "user"], ["Be helpful.", prompt], np.arange(16), timeout=1e9)
        texts = [c.completion for c in calls]
        assert all(len(t) > 10 for t in texts)
        kept = [t for t in texts[:8] if chosen.strip() in t or split_sentences(chosen)[0] in t]
        assert len(kept) >= 6  # weak uids may send the other one now and then
        assert sum(rejected.strip() in t or split_sentences(rejected)[0] in t for t in texts[8:]) >= 6


def test_the_diversity_filter_keeps_most_honest_answers_to_real_questions() -> None:
    """64 default honest uids on real NQ-open and SQuAD v2 questions: their wordings differ enough for
    MiniLM that the diversity filter (cosine 0.95, in the batch and over its history) keeps most."""
    from mirror_neuron.models.embeddings import SentenceEmbedder
    from mirror_neuron.neuron.reward.filters import BlacklistFilter, DiversityFilter

    shared = Path(__file__).parents[3] / "../shared/data"
    nq = [json.loads(line) for line in (shared / "nq_open/NQ-open.dev.jsonl").read_text().splitlines()[:4]]
    squad = [json.loads(line) for line in
             (shared / "squad_v2_dev_subset/squad_v2_dev_normans_rhine.jsonl").read_text().splitlines()[:4]]
    sets = {"nq": pd.DataFrame({"question": [r["question"] for r in nq], "answer": [r["answer"][0] for r in nq]}),
            "squad": pd.DataFrame({"question": [r["question"] for r in squad], "context": [r["context"] for r in squad],
                                   "answer": [(r["answers"]["text"] or [None])[0] for r in squad]})}
    embedder = SentenceEmbedder("minilm")
    for name, table in sets.items():
        data = DataPrompts.of(table)
        pool = DummyDendritePool([Honest()] * 64, seed=0)
        pool.learn(data.questions, data.references)
        diversity, blacklist, kept, listed = DiversityFilter(embedder), BlacklistFilter(), [], []
        for question in data.questions:
            texts = [c.completion for c in pool(["user"], [question], np.arange(64), timeout=12.0)]
            assert all(len(t) > 10 for t in texts)
            kept.extend(diversity(Query(("user",), (question,)), texts))
            listed.extend(blacklist(Query(("user",), (question,)), texts))
        assert np.mean(kept) > 0.7, name
        assert np.mean(listed) == 1.0, name
