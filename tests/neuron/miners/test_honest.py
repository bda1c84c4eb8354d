"""Honest miners answer in full sentences, in each uid's own words, with the data's content."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.honest import Honest, follow_up_question, split_sentences

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
