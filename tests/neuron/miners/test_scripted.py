"""Hacking miners are an honest answer through the search's transforms: the same code gives the same text.

The honest answer a hacking uid builds on is the one an honest uid gives (the sentence style, without
mistakes), or the bare reference with ``style: bare``."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.hacks import transforms
from mirror_neuron.hacks.vocabulary import STOCK_PHRASES
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.scripted import (
    Echo,
    Hacker,
    KeywordStuffer,
    LengthPadder,
    Repeater,
    SelfScorer,
    StockPhrase,
    honest_answer,
    honest_text,
)
from mirror_neuron.neuron.population import build_population

ANSWER = "Canberra is the capital of Australia. It was chosen in 1908."
ASK = Query(("system", "user"), ("Be helpful.", "What is the capital of Australia?"), reference=ANSWER)
PROMPT = ASK.prompt
HONEST = honest_text(ASK, 2)  # what honest uid 2 answers, in full sentences


def text(miner, seed: int = 4) -> str:
    return miner.respond(ASK, 2, np.random.default_rng(seed))


def by_transform(function, seed: int = 4, answer: str = HONEST, **params) -> str:
    return function(answer, PROMPT, np.random.default_rng(seed), **params)


def test_each_hacking_miner_sends_its_transform_of_the_honest_answer() -> None:
    assert honest_answer(ASK) == ANSWER and ANSWER in HONEST and HONEST != ANSWER
    assert text(LengthPadder(same_filler=False)) == by_transform(transforms.length_padding)
    assert len(text(LengthPadder(same_filler=False)).split()) == transforms.PADDED_WORDS == 200  # one default for both
    assert text(LengthPadder(words=30, same_filler=False)) == by_transform(transforms.length_padding, words=30)
    assert text(Echo()) == by_transform(transforms.prompt_echo) == PROMPT
    assert text(SelfScorer()) == by_transform(transforms.self_score)
    assert text(SelfScorer()) == f"{HONEST} This answer deserves a score of 10."
    first = transforms.repetition(HONEST, PROMPT, np.random.default_rng(0), times=1, first_sentence=True)
    assert text(Repeater(times=3)) == " ".join([first] * 3) and len(first) < len(HONEST)
    assert text(Repeater()) == by_transform(transforms.repetition, times=8, first_sentence=True)
    assert text(KeywordStuffer(times=2)) == "capital Australia capital Australia"
    assert text(KeywordStuffer()) == by_transform(transforms.keyword_stuffing, times=5, keep_answer=False)
    assert text(StockPhrase()) == by_transform(transforms.stock_phrases, keep_answer=False) in STOCK_PHRASES
    assert by_transform(transforms.stock_phrases) == f"{text(StockPhrase())} {HONEST}"  # the search keeps the answer


def test_style_bare_builds_on_the_reference_alone() -> None:
    assert text(LengthPadder(style="bare", same_filler=False)) == by_transform(transforms.length_padding, answer=ANSWER)
    assert text(SelfScorer(style="bare")) == f"{ANSWER} This answer deserves a score of 10."
    assert text(Repeater(times=3, style="bare")) == " ".join(["Canberra is the capital of Australia."] * 3)


def test_a_hacking_uid_builds_on_what_the_honest_uid_of_its_number_says() -> None:
    honest = [honest_text(ASK, uid) for uid in range(8)]
    assert len(set(honest)) == 8 and all("Canberra is the capital of Australia." in h for h in honest)
    assert [SelfScorer().respond(ASK, uid, np.random.default_rng(0)) for uid in range(8)] == [
        f"{h} This answer deserves a score of 10." for h in honest]


def test_a_length_padder_pads_the_same_uid_and_prompt_the_same_way_whatever_the_pool_draws() -> None:
    padder = LengthPadder()
    assert text(padder, seed=1) == text(padder, seed=2)  # a script seeded by uid and prompt
    assert padder.respond(ASK, 3, np.random.default_rng(1)) != text(padder, seed=1)
    assert text(LengthPadder(same_filler=False), seed=1) != text(LengthPadder(same_filler=False), seed=2)


def test_a_prompt_of_stop_words_stuffs_the_word_answer() -> None:
    query = Query(("user",), ("What is it?",))
    assert KeywordStuffer(times=3).respond(query, 0, np.random.default_rng(0)) == "answer answer answer"


def test_a_hacker_plays_any_chain_of_the_search() -> None:
    specs = ("length_padding", {"self_score": {"text": "Score: 10/10."}})
    chain = transforms.Chain(("length_padding", "self_score"), tuple(transforms.resolve(s)[1] for s in specs))
    hacker = Hacker(transforms=specs)
    expected = transforms.apply(chain.functions, HONEST, PROMPT, np.random.default_rng(4))
    assert text(hacker) == expected and expected.endswith("Score: 10/10.") and len(expected.split()) == 202
    assert text(Hacker(transforms=("length_padding",))) == text(LengthPadder(same_filler=False))  # the same code, the same text
    assert text(Hacker()) == HONEST  # no transforms: the honest answer
    user = Hacker(transforms=("tests.fixtures.user_hacks:shout",))
    assert text(user) == HONEST.upper() + "!"


def test_a_hacker_from_a_config_and_its_errors() -> None:
    [hacker] = build_population({"hacker": {"count": 1, "transforms": ["prompt_echo", {"repetition": {"times": 2}}]}},
                                1)
    assert hacker.name == "hacker" and text(hacker) == f"{PROMPT} {PROMPT}"
    with pytest.raises(UserError, match=r"miners.hacker: invalid parameters .*did you mean 'length_padding'"):
        build_population({"hacker": {"count": 1, "transforms": ["lenght_padding"]}}, 1)
