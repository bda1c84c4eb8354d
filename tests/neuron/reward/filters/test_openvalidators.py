"""The openvalidators' filters rule by rule, each case worked out by hand from the original's code
(openvalidators v1.1.3 and v1.2.0, bittensor v5.2.0 for the core NSFW rule); embeddings from MiniLM,
classifiers tiny."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from mirror_neuron.models.embeddings import SentenceEmbedder
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.filters import (
    BlacklistFilter,
    NSFWFilter,
    OpenValidatorsBlacklist,
    OpenValidatorsDiversity,
    OpenValidatorsRelevance,
    OpenValidatorsTaskValidator,
    RelevanceFilter,
)
from mirror_neuron.neuron.reward.filters.openvalidators_models import BERT, HATE_SPEECH, MPNET, flagged
from mirror_neuron.neuron.reward.normalize import RunningNormalizer

PROMPT = "What is the capital of Australia?"
ANSWER = "Canberra is the capital of Australia."


def query(name: str = "", question: bool = False, prompt: str = PROMPT, base: str | None = None) -> Query:
    return Query(("user",), (prompt,), question=question, name=name, base_prompt=base)


def test_each_filter_names_its_event_column() -> None:
    assert OpenValidatorsBlacklist.column == "blacklist_filter"
    assert OpenValidatorsTaskValidator.column == "task_validator_filter"
    assert OpenValidatorsRelevance.column == "relevance_filter"
    assert OpenValidatorsDiversity.column == "diversity_reward_model"
    assert NSFWFilter.column == "nsfw_filter"
    assert BlacklistFilter.column == "blacklist_filter" and RelevanceFilter.column == "relevance_filter"  # f"{name}_filter"
    assert OpenValidatorsBlacklist().stand_ins() == {}


# Blacklist: `completion in ["That is an excellent question."]`, `completion == prompt`, or in the chosen lists.

def test_blacklist_is_exact_equality_with_the_phrase_and_the_prompt() -> None:
    completions = ["That is an excellent question.", "That is an excellent question!",  # the phrase; not it
                   "that is an excellent question.", PROMPT, PROMPT.lower(), ANSWER,  # case counts
                   "That is an excellent question. Canberra."]
    assert OpenValidatorsBlacklist()(query(), completions).tolist() == [0, 1, 1, 0, 1, 1, 1]
    # from v1.1.8 the prompt compared is the base prompt (Query.filter_prompt)
    assert OpenValidatorsBlacklist()(query(base=ANSWER), [PROMPT, ANSWER]).tolist() == [1, 0]


def test_blacklist_remembers_the_forwards_chosen_question_and_answer_until_the_next_forward() -> None:
    fltr = OpenValidatorsBlacklist()
    fltr.chosen("Why Canberra?", ANSWER)
    assert fltr(query(), ["Why Canberra?", ANSWER, "Sydney."]).tolist() == [0, 0, 1]
    state = json.loads(json.dumps(fltr.get_state()))
    restored = OpenValidatorsBlacklist()
    restored.set_state(state)
    assert restored(query(), [ANSWER]).tolist() == [0]
    fltr.new_forward()
    assert fltr(query(), ["Why Canberra?", ANSWER]).tolist() == [1, 1]


# Task validator: augment/followup forbid answer keywords, augment/answer forbid question keywords,
# all but augment forbid summary keywords; lower-cased substrings.

@pytest.mark.parametrize(("completion", "name", "v11", "v12"), [
    ("Answer: Canberra.", "followup0", 0, 0),  # answer keyword in a question step
    ("ANSWER: Canberra.", "augment", 0, 0),  # case-insensitive, augment forbids answers too
    ("Answer: Canberra.", "answer2", 1, 1),  # an answer step may say "Answer:"
    ("Question: why?", "answer0", 0, 0),
    ("Question: why?", "followup3", 1, 1),
    ("Question: why?", "augment", 0, 0),
    ("Summary: a city.", "augment", 1, 1),
    ("Summary: a city.", "followup1", 0, 0),
    ("Summary: a city.", "answer1", 0, 0),
    ("Q: why Canberra?", "answer0", 1, 0),  # "q:" is a question keyword from v1.1.8 on
    ("Response: Canberra.", "followup0", 1, 0),  # "response:" an answer keyword from v1.1.8 on
    ("Paraphrase: a city.", "answer0", 1, 0),  # "paraphrase:" a summary keyword from v1.1.8 on
    ("The idea: Canberra.", "followup0", 1, 0),  # "idea:" holds "a:", an answer keyword from v1.1.8 on
    ("Canberra is the capital.", "followup0", 1, 1),  # no keyword: kept, question or not
])
def test_task_validator_by_step_name_and_version(completion: str, name: str, v11: int, v12: int) -> None:
    assert OpenValidatorsTaskValidator("1.1")(query(name), [completion]).tolist() == [v11]
    assert OpenValidatorsTaskValidator("1.2")(query(name), [completion]).tolist() == [v12]


def test_task_validator_without_a_step_name_reads_the_question_flag() -> None:
    fltr = OpenValidatorsTaskValidator()
    # a question query is a follow-up (answer keywords forbidden), else an answer (question keywords forbidden)
    assert fltr(query(question=True), ["Answer: x", "Question: x"]).tolist() == [0, 1]
    assert fltr(query(question=False), ["Answer: x", "Question: x"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="version"):
        OpenValidatorsTaskValidator("1.3")  # type: ignore[arg-type]


# Relevance: BERT -RMSE >= -0.0246 and MPNet cosine >= 0.3 (1.1 signed, 1.2 absolute).

@pytest.fixture(scope="module")
def relevance() -> OpenValidatorsRelevance:
    return OpenValidatorsRelevance("1.1", bert="minilm", mpnet="minilm")


def test_relevance_scores_are_the_two_rules_of_the_original(relevance: OpenValidatorsRelevance) -> None:
    completions = [ANSWER, "Bananas are rich in potassium.", PROMPT]
    bert, mpnet = relevance.scores(query(), completions)
    # sentence-transformers' own MiniLM (mean pooling, unit length) gives the same vectors for short texts
    vectors = SentenceEmbedder("minilm").encode([PROMPT, *completions]).astype(np.float64)
    cosine = vectors[1:] @ vectors[0]
    np.testing.assert_allclose(mpnet, cosine, atol=1e-5)
    # one chunk each: for unit u, v in 384 dimensions, mean((u - v)^2) = (2 - 2 cos) / 384
    np.testing.assert_allclose(bert, -np.sqrt(np.maximum(2 - 2 * cosine, 0) / 384), atol=5e-5)  # an identical text embeds to exactly 0 distance
    assert bert[2] == pytest.approx(0.0, abs=1e-6) and mpnet[2] == pytest.approx(1.0, abs=1e-5)


def test_relevance_needs_both_rules_to_pass(relevance: OpenValidatorsRelevance) -> None:
    completions = [ANSWER, "Bananas are rich in potassium.", PROMPT]
    bert, mpnet = relevance.scores(query(), completions)
    # With one model for both, the BERT bound -0.0246 is cos >= 1 - 384 * 0.0246^2 / 2 = 0.8838: the answer
    # (cos about 0.79) passes MPNet's 0.3 but not BERT's, bananas (about 0.11) pass neither, the prompt both.
    assert mpnet[0] >= 0.3 and bert[0] < -0.0246
    assert mpnet[1] < 0.3 and bert[1] < -0.0246
    assert relevance(query(), completions).tolist() == [0, 0, 1]
    assert relevance(query(), []).shape == (0,)
    assert relevance.stand_ins() == {BERT: "sentence-transformers/all-MiniLM-L6-v2",
                                     MPNET: "sentence-transformers/all-MiniLM-L6-v2"}


def test_relevance_chunks_long_texts_for_bert_and_compares_with_the_base_prompt() -> None:
    fltr = OpenValidatorsRelevance("1.2", bert="minilm", mpnet="minilm")
    long_text = " ".join(["Canberra is the capital of Australia."] * 120 + ["Bananas are yellow."] * 120)
    tokens = len(fltr.bert.tokenizer(long_text)["input_ids"])
    assert 2 * 510 + 2 < tokens <= 3 * 510 + 2  # three chunks of 510 tokens plus [CLS] and [SEP] each
    chunks = fltr.bert.tokenizer(long_text, truncation=True, max_length=512, return_overflowing_tokens=True)
    assert len(chunks["input_ids"]) == 3
    expected = np.mean([fltr.bert._pooled(fltr.bert.tokenizer.pad(  # each chunk alone, then the mean
        {"input_ids": [ids]}, return_tensors="pt"))[0] for ids in chunks["input_ids"]], axis=0)
    np.testing.assert_allclose(fltr.bert.embed_chunked([long_text])[0], expected, atol=1e-5)
    bert, mpnet = fltr.scores(query(base=ANSWER), [ANSWER])  # compared with the base prompt: identical
    assert bert[0] == pytest.approx(0.0, abs=1e-6) and mpnet[0] == pytest.approx(1.0, abs=1e-5)


# Diversity on hand-made unit vectors (the rules act on embeddings), then end to end on texts.

@pytest.fixture(scope="module")
def diversity_11() -> OpenValidatorsDiversity:
    return OpenValidatorsDiversity("1.1", model="minilm")


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_diversity_12_batch_sigmoid_is_one_half_at_cosine_0_9() -> None:
    fltr = OpenValidatorsDiversity("1.2", model="minilm")
    a, b = unit(1, 0), unit(0.9, math.sqrt(0.19))
    # each row of 1 - |cos|: [0, 0.1]; second smallest 0.1; 1 / (1 + exp(-40 * 0.1 + 4)) = 0.5
    np.testing.assert_allclose(fltr.batch_values(np.stack([a, b])), [0.5, 0.5], atol=1e-5)
    # cos -0.9 counts as 0.9 (absolute)
    np.testing.assert_allclose(fltr.batch_values(np.stack([a, -b])), [0.5, 0.5], atol=1e-5)
    # cos 0 -> second smallest 1: 1 / (1 + exp(-36)) = 1 - 2.3e-16
    np.testing.assert_allclose(fltr.batch_values(np.stack([unit(1, 0), unit(0, 1)])), [1.0, 1.0])
    assert fltr.batch_values(np.stack([a])).tolist() == [1.0]  # a lone completion: no neighbour


def test_diversity_11_batch_is_the_tenth_percentile_of_the_row_with_itself(diversity_11) -> None:
    a, b, c = unit(1, 0), unit(0.6, 0.8), unit(0, 1)
    # cos(a,b) = 0.6, cos(a,c) = 0, cos(b,c) = 0.8. Row a of 1 - cos: [0, 0.4, 1]; the 0.1-quantile of 3
    # sorted values sits at position 0.1 * 2 = 0.2: 0 + 0.2 * (0.4 - 0) = 0.08. Row b: [0, 0.2, 0.4] -> 0.04;
    # row c: [0, 0.2, 1] -> 0.04.
    np.testing.assert_allclose(diversity_11.batch_values(np.stack([a, b, c])), [0.08, 0.04, 0.04], atol=1e-6)


def test_diversity_history_needs_502_drops_the_oldest_500_and_keeps_15500() -> None:
    fltr = OpenValidatorsDiversity("1.2", model="minilm")
    e1, e2 = unit(1, 0), unit(0, 1)
    fltr.history = np.stack([e1] * 501)
    assert fltr.history_values(np.stack([e1])) is None  # 501 < 500 + 2
    # 500 oldest copies of e1 are skipped; the two newest rows are e2: 1 - |cos| = 1 for both, second
    # smallest 1, sigmoid(1000 * 1 - 50) = 1. Had the oldest counted, the value would be sigmoid(-50).
    fltr.history = np.stack([e1] * 500 + [e2, e2])
    np.testing.assert_allclose(fltr.history_values(np.stack([e1])), [1.0])
    fltr.history = np.stack([e2] * 500 + [e1, e1])  # two recent copies: second smallest 0 -> sigmoid(-50)
    np.testing.assert_allclose(fltr.history_values(np.stack([e1])), [1 / (1 + math.exp(50))], rtol=1e-6)
    fltr.history = np.zeros((0, 2), dtype=np.float32)
    fltr.remember(np.stack([e1, e1, e2, e1]))  # consecutive exact duplicates once: e1, e2, e1
    np.testing.assert_array_equal(fltr.history, np.stack([e1, e2, e1]))
    many = np.tile(np.stack([e1, e2]), (8000, 1))  # 16,000 alternating rows: none dropped as duplicates
    fltr.remember(many)
    assert fltr.history.shape == (15_500, 2)
    np.testing.assert_array_equal(fltr.history[-1], many[-1])


def test_diversity_end_to_end_with_normalization_and_state() -> None:
    texts = [ANSWER, "Canberra is Australia's capital city.", "Bananas are rich in potassium.", ""]
    fltr = OpenValidatorsDiversity("1.1", model="minilm")
    embeddings = fltr.encoder.embed(texts)
    expected = RunningNormalizer(count_limit=3000, ddof=1)(fltr.batch_values(embeddings))  # no history: batch only
    np.testing.assert_allclose(fltr(query(), texts), expected, atol=1e-6)
    assert len(fltr.history) == 4
    assert fltr(query(), []).shape == (0,) and len(fltr.history) == 4
    restored = OpenValidatorsDiversity("1.1", model="minilm")
    restored.set_state(json.loads(json.dumps(fltr.get_state())))
    np.testing.assert_array_equal(restored.history, fltr.history)
    np.testing.assert_array_equal(restored(query(), texts), fltr(query(), texts))
    plain = OpenValidatorsDiversity("1.2", model="minilm")  # 1.2: no normalization
    np.testing.assert_allclose(plain(query(), texts), plain.batch_values(embeddings), atol=1e-6)
    assert plain.stand_ins() == {MPNET: "sentence-transformers/all-MiniLM-L6-v2"}


# NSFW: openvalidators filters when max over chunks of max(-nothate, hate) > -0.5; core v5.2.0 when a
# chunk has nothate < 0.5 or hate > 0.5.

def test_nsfw_rules_by_hand() -> None:
    assert flagged([(1.0, -1.0)], "openvalidators") is False  # max(-1, -1) = -1 <= -0.5
    assert flagged([(0.2, -1.0)], "openvalidators") is True  # max(-0.2, -1) = -0.2 > -0.5
    assert flagged([(0.6, 0.4)], "openvalidators") is True  # max(-0.6, 0.4) = 0.4
    assert flagged([(1.0, -1.0), (0.6, 0.4)], "openvalidators") is True  # the worst chunk decides
    assert flagged([], "openvalidators") is False  # no chunk: the original's -1000
    assert flagged([(1.0, -1.0)], "core-2023") is False
    assert flagged([(0.6, 0.4)], "core-2023") is False  # 0.6 >= 0.5 and 0.4 <= 0.5: kept by the core
    assert flagged([(0.4, -1.0)], "core-2023") is True  # not-hate logit under 0.5
    assert flagged([(1.0, -1.0), (1.0, 0.6)], "core-2023") is True  # any chunk


def constant_logits(fltr: NSFWFilter, nothate: float, hate: float) -> NSFWFilter:
    """The tiny GPT-2 classifier made to give these logits for any text: its last layer norm outputs the
    first unit vector at every token, and the head reads only that coordinate."""
    fltr.model = copy.deepcopy(fltr.model)  # the loaded classifier is shared within the process
    with torch.no_grad():
        fltr.model.transformer.ln_f.weight.zero_()
        fltr.model.transformer.ln_f.bias.zero_()
        fltr.model.transformer.ln_f.bias[0] = 1.0
        fltr.model.score.weight.zero_()
        fltr.model.score.weight[:, 0] = torch.tensor([nothate, hate])
    return fltr


def test_nsfw_filter_chunks_512_tokens_and_applies_its_rule() -> None:
    fltr = NSFWFilter(path="tiny:gpt2")
    text = "Canberra is the capital of Australia. " * 150
    ids = fltr.tokenizer(text)["input_ids"]
    logits = fltr.chunk_logits(text)
    assert len(logits) == math.ceil(len(ids) / 512) >= 2
    with torch.no_grad():  # the last chunk alone, as the original classifies it
        last = fltr.model(torch.tensor([ids[512 * (len(logits) - 1):]])).logits[0].tolist()
    np.testing.assert_allclose(logits[-1], last, atol=1e-5)
    assert fltr.stand_ins() == {HATE_SPEECH: "tiny:gpt2"}
    ov = constant_logits(NSFWFilter(path="tiny:gpt2"), 0.6, 0.4)
    core = constant_logits(NSFWFilter("core-2023", path="tiny:gpt2"), 0.6, 0.4)
    assert ov(query(), [ANSWER, text]).tolist() == [0, 0] and core(query(), [ANSWER, text]).tolist() == [1, 1]
    safe = constant_logits(NSFWFilter(path="tiny:gpt2"), 1.0, -1.0)
    assert safe(query(), [ANSWER]).tolist() == [1]


def test_task_validator_reads_the_mirrors_own_step_names_by_the_question_flag() -> None:
    # the mirror's loops name their steps "question" / "answer" / "forward": only augment, followup* and
    # answer* are openvalidators' kinds, so a "question" step is judged as a follow-up ("Answer:" forbidden)
    fltr = OpenValidatorsTaskValidator("1.1")
    asked = Query(("user",), ("Ask a follow up question.",), question=True, name="question")
    answered = Query(("user",), ("What is it?",), name="forward")
    assert fltr(asked, ["Answer: yes", "Why is it so?"]).tolist() == [0.0, 1.0]
    assert fltr(answered, ["Question: why?", "Answer: it is so."]).tolist() == [0.0, 1.0]
