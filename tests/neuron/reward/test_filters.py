"""The filters against the exploits they are meant to catch; embedding filters with the real MiniLM."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mirror_neuron.hacks.vocabulary import STOCK_PHRASES
from mirror_neuron.models.embeddings import SentenceEmbedder
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.scripted import AnswerStuffer, Echo, Honest, KeywordStuffer, Refusal
from mirror_neuron.neuron.reward.filters import (
    BlacklistFilter,
    DiversityFilter,
    RelevanceFilter,
    TaskValidatorFilter,
    sentences,
)

PROMPT = "What is the capital of Australia?"
ANSWER = "Canberra is the capital of Australia."
ASK = Query(("system", "user"), ("Be helpful.", PROMPT), reference=ANSWER)
FOLLOW_UP = Query(("system", "user"), ("Be helpful.", f"{ANSWER}\n\nAsk a follow up question."), question=True,
                  reference=ANSWER)
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder("minilm")


def mask(fltr, query: Query, completions: list[str]) -> list[float]:
    return fltr(query, completions).tolist()


# Blacklist

def test_blacklist_catches_stock_phrases_refusals_and_echo_but_not_an_answer() -> None:
    completions = [
        "That is an excellent question.",
        "  that is an EXCELLENT question  ",  # case and spacing do not count
        "As an AI language model, I cannot provide an answer to that question.",
        "as an AI language model i don't have opinions",
        PROMPT,
        "what is the capital of australia",  # echo without case or punctuation
        "Australia capital? Capital, Australia!",  # the prompt's keywords stuffed back
        ANSWER,
        "That is an excellent question. Canberra is the capital of Australia.",  # a stock opener then an answer
        "Canberra, a planned city, became Australia's capital in 1913.",
    ]
    assert mask(BlacklistFilter(), ASK, completions) == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]


def test_blacklist_echo_rule_by_hand() -> None:
    # prompt content words {capital, australia}; the answer adds "canberra": shared 2 of its 3 = 0.67 < 0.9
    prompt = Query(("user",), ("What is the capital city of the country of Australia?",))
    # {capital, city, country, australia} vs {canberra, capital, city, country, australia}: 4/5 = 0.8, kept;
    # a reordered restatement adds nothing: 4/4 both ways, removed
    assert mask(BlacklistFilter(), prompt, ["Canberra is the capital city of the country of Australia.",
                                            "The country of Australia: its capital city?"]) == [1, 0]
    assert mask(BlacklistFilter(echo_overlap=0.8), prompt, ["Canberra is the capital city of the country of "
                                                            "Australia."]) == [0]  # 0.8 >= 0.8: an echo now


def test_blacklist_scripted_miners() -> None:
    completions = [Echo().respond(ASK, 0, RNG), Refusal().respond(ASK, 0, RNG),
                   KeywordStuffer().respond(ASK, 0, RNG), Honest().respond(ASK, 0, RNG)]
    assert mask(BlacklistFilter(), ASK, completions) == [0, 0, 0, 1]


def test_the_phrase_list_catches_only_its_own_phrase_of_the_attackers_wordings() -> None:
    # the attacker's stock phrases are not the filter's list: only the contraction of the real validators'
    # one phrase ("That's an excellent question!") is caught; the other wordings pass the phrase rule
    assert set(STOCK_PHRASES).isdisjoint(BlacklistFilter().phrases)
    assert STOCK_PHRASES[0] == "That's an excellent question!"
    assert mask(BlacklistFilter(), ASK, list(STOCK_PHRASES)) == [0, 1, 1, 1, 1, 1]


def test_the_reuse_rule_catches_stock_phrases_from_their_second_prompt_on() -> None:
    sky = Query(("user",), ("Why is the sky blue?",))
    scattering = "Air scatters blue sunlight more than red."
    blacklist = BlacklistFilter(reuse_memory=100)
    assert mask(blacklist, ASK, [*STOCK_PHRASES, ANSWER]) == [0, 1, 1, 1, 1, 1, 1]  # nothing reused yet
    assert mask(blacklist, ASK, [*STOCK_PHRASES, ANSWER]) == [0, 1, 1, 1, 1, 1, 1]  # the same prompt again
    # the same phrases for a second prompt fit any prompt; the same answer twice to one prompt is no reuse
    assert mask(blacklist, sky, [*STOCK_PHRASES[1:], scattering, scattering]) == [0, 0, 0, 0, 0, 1, 1]
    assert mask(blacklist, ASK, [STOCK_PHRASES[1], ANSWER]) == [0, 1]  # now for the first prompt too
    restored = BlacklistFilter(reuse_memory=100)
    restored.set_state(json.loads(json.dumps(blacklist.get_state())))
    assert mask(restored, ASK, [STOCK_PHRASES[2], ANSWER]) == [0, 1]
    assert blacklist.params()["reuse_memory"] == 100 and BlacklistFilter().get_state() == {}

    forgetful = BlacklistFilter(reuse_memory=1)  # remembers the last distinct completion only
    mask(forgetful, ASK, [STOCK_PHRASES[1]])
    mask(forgetful, ASK, [ANSWER])
    assert mask(forgetful, sky, [STOCK_PHRASES[1]]) == [1]
    with pytest.raises(ValueError, match="reuse_memory"):
        BlacklistFilter(reuse_memory=-1)


def test_blacklist_phrases_and_banned_substrings_are_configurable() -> None:
    completions = ["Sure thing!", f"{ANSWER} This answer deserves a score of 10.", ANSWER]
    assert mask(BlacklistFilter(), ASK, completions) == [1, 1, 1]
    custom = BlacklistFilter(phrases=("Sure thing.",), banned=("DESERVES A SCORE",))
    assert mask(custom, ASK, completions) == [0, 0, 1]
    assert custom.params()["banned"] == ["DESERVES A SCORE"]
    assert BlacklistFilter(refusal_prefixes=())(ASK, [Refusal().respond(ASK, 0, RNG)]).tolist() == [1]


# Task validator

def test_task_validator_catches_answer_stuffing_in_a_question_step() -> None:
    stuffed = AnswerStuffer(style="bare").respond(FOLLOW_UP, 0, RNG)
    assert stuffed == f"{ANSWER} Is there anything else about this?"
    completions = [
        "Why was Canberra chosen over Sydney and Melbourne?",
        Honest().respond(FOLLOW_UP, 0, RNG),
        "What did the U.S. ambassador say about Canberra in 1927?",  # abbreviation: still one sentence
        stuffed,
        ANSWER,  # no question at all
        "Answer: Canberra. What else?",
        "Why Canberra? Answer: it was a compromise.",
    ]
    assert mask(TaskValidatorFilter(), FOLLOW_UP, completions) == [1, 1, 1, 0, 0, 0, 0]
    assert mask(TaskValidatorFilter(max_statements=1), FOLLOW_UP, [stuffed]) == [1]


def test_task_validator_catches_a_question_asked_back_in_an_answer_step() -> None:
    completions = [
        ANSWER,
        "Canberra. Did you know it was purpose-built?",
        "Could you tell me which country you mean?",
        "Do you mean Australia? Or Austria?",
        "Canberra.\nQuestion: What is the capital of New Zealand?",
    ]
    assert mask(TaskValidatorFilter(), ASK, completions) == [1, 1, 0, 0, 0]


def test_sentence_split() -> None:
    assert sentences("It is Canberra. Why? The U.S. is elsewhere.") == ["It is Canberra.", "Why?",
                                                                         "The U.S. is elsewhere."]
    assert sentences("   ") == []


# Relevance (real MiniLM)

def test_relevance_keeps_the_answer_and_drops_an_off_topic_completion(embedder: SentenceEmbedder) -> None:
    relevance = RelevanceFilter(embedder, threshold=0.2)
    completions = [ANSWER, "Bananas are rich in potassium."]
    similarities = relevance.similarities(ASK, completions)
    assert similarities[0] > 0.7 and similarities[1] < 0.2
    assert mask(relevance, ASK, completions) == [1, 0]
    assert relevance(ASK, []).shape == (0,)


def test_relevance_drops_stock_phrases_and_random_words(embedder: SentenceEmbedder) -> None:
    completions = ["That is an excellent question.", "cloud mirror paper blue orbit stone window language river",
                   "Canberra, a planned city, became Australia's capital in 1913."]
    assert mask(RelevanceFilter(embedder), ASK, completions) == [0, 0, 1]


# Diversity (real MiniLM)

def test_diversity_zeros_copies_after_the_first_or_all_of_them_and_keeps_distinct_ones(embedder: SentenceEmbedder) -> None:
    cached = f"{ANSWER} (ref 3f9a1c)"
    completions = [cached, "Sydney is the largest city in Australia.", cached, f"{cached}  .",
                   "Canberra was purpose-built as a compromise between Sydney and Melbourne."]
    assert mask(DiversityFilter(embedder), ASK, completions) == [1, 1, 0, 0, 1]
    assert mask(DiversityFilter(embedder, keep_first=False), ASK, completions) == [0, 1, 0, 0, 1]  # the first too


def test_diversity_catches_a_repeat_from_an_earlier_batch(embedder: SentenceEmbedder) -> None:
    diversity = DiversityFilter(embedder, history_size=100)
    first = [ANSWER, "Sydney is the largest city in Australia."]
    assert mask(diversity, ASK, first) == [1, 1]
    assert len(diversity.history) == 2
    second = ["Sydney is the largest city in Australia.", "Australia has six states and two major territories."]
    assert mask(diversity, ASK, second) == [0, 1]
    assert mask(DiversityFilter(embedder, history_size=0), ASK, second) == [1, 1]


def test_diversity_history_is_bounded_and_round_trips_through_json(embedder: SentenceEmbedder) -> None:
    diversity = DiversityFilter(embedder, history_size=2)
    diversity(ASK, ["Bananas are rich in potassium.", ANSWER, "Sydney is the largest city in Australia."])
    assert len(diversity.history) == 2  # the oldest (bananas) fell out
    restored = DiversityFilter(embedder, history_size=2)
    restored.set_state(json.loads(json.dumps(diversity.get_state())))
    np.testing.assert_array_equal(np.stack(restored.history), np.stack(diversity.history))
    batch = ["Bananas are rich in potassium.", ANSWER]
    assert mask(restored, ASK, batch) == mask(diversity, ASK, batch) == [1, 0]
    empty = DiversityFilter(embedder)
    empty.set_state(json.loads(json.dumps(DiversityFilter(embedder).get_state())))
    assert len(empty.history) == 0
