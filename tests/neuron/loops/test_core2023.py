"""The core-2023 loop: forwards answer, questions only choose the next prompt, by the difference reward."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.loops import core2023
from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.neuron.neuron import Neuron
from mirror_neuron.neuron.reward.base import RewardModelBase

CONTEXTS = ["The Rhine rises in the Alps.", "The Normans came from Normandy."]


class Asker(Behaviour):
    """Answers with its uid in the text; asked for a question, returns ``question``."""

    question: str = "What else is there to know?"

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str:
        return self.question if query.question else f"As an AI language model, answer number {uid} here."


class KeepWord(RewardModelBase):
    """A trlX-shaped scorer: ``r(text) = 1`` for a "Question: ..." text holding "keep", else 0, and
    ``r = uid / 10`` for answers (read from "answer number <uid>"), so the best answer is the highest uid."""

    shift = 3.0

    def end_scores(self, texts: list[str]) -> np.ndarray:
        return np.array([1.0 if t.startswith("Question: ") and "keep" in t else 0.0 for t in texts])

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([float(c.split("number ")[1].split(" ")[0]) / 10 for c in completions])


def make(questions: list[str]) -> Neuron:
    pool = DummyDendritePool([Asker(question=q, latency_median=0.5) for q in questions], seed=0)
    config = {"validator": "core-2023", "gating": {"type": "RandomGatingModel"}, "reward": None, "screen": None,
              "metagraph": {"n": len(questions)}, "training_topk": len(questions)}
    return Neuron(config, dendrite_pool=pool, reward_model=KeepWord(), contexts=CONTEXTS, seed=0)


def test_the_question_reward_is_the_difference_form_with_labels_and_shift() -> None:
    # r("Question: ctx" + "Answer: keep this?") = 1, r("keep this?") = 0 (no label): relu(1 + 3) - relu(0 + 3) = 1;
    # a question without "keep": relu(0 + 3) - relu(0 + 3) = 0, not above 0
    diffs = core2023.question_rewards(KeepWord(), "ctx", ["  keep this?  ", "drop this?"])
    np.testing.assert_allclose(diffs, [1.0, 0.0])


def test_the_first_question_above_zero_from_the_best_answering_uid_is_the_next_prompt() -> None:
    # uids 0..3; uid 3 answers best (reward 0.3 > 0.2 > ...): questions go to uids [3, 2, 1, 0] in that order,
    # and the first with a positive difference reward is uid 2's (uid 3's lacks "keep")
    validator = make(["plain question one?", "keep question one?", "keep question two?", "plain question two?"])
    validator.train(1)
    answer, asked = validator.history
    assert answer.name == "answer" and answer.weighted and asked.name == "question" and not asked.weighted
    assert asked.uids == [3, 2, 1, 0]
    assert validator.bootstrap == "keep question two?" == asked.best
    # step 0 resets: the question was asked about a fresh context, which also became the system prompt
    assert asked.messages == [f"{validator.system_prompt}\n\n{validator.config.loop.follow_up_prompt}"]
    assert validator.system_prompt in CONTEXTS
    # only the answer pass moved the moving scores: 0.01 * softmax([0.0, 0.1, 0.2, 0.3]) by uid
    rewards = np.array([0.0, 0.1, 0.2, 0.3])
    expected = 0.01 * np.exp(rewards) / np.exp(rewards).sum()
    np.testing.assert_allclose(validator.moving_averaged_scores.scores, expected)
    assert validator.steps_done == 1


def test_after_the_reset_step_the_best_answer_is_followed_up_without_the_ai_phrase() -> None:
    validator = make(["keep asking?"] * 4)
    validator.train(2)
    second_question = validator.history[-1]
    best_answer = validator.history[-2].best
    assert best_answer.startswith("As an AI language model, ")
    assert second_question.messages[0].startswith(best_answer.replace("As an AI language model, ", "") + "\n\n")
    assert validator.history[-2].messages[1] == "keep asking?"  # the kept question was the second forward's prompt


def test_no_question_above_zero_retries_after_a_reset_with_random_uids_then_gives_up() -> None:
    validator = make(["plain?" * 3] * 4)
    validator.train(1)
    rounds = [e for e in validator.history if e.name == "question"]
    assert len(rounds) == core2023.QUESTION_ROUNDS
    assert validator.bootstrap in CONTEXTS  # the last fresh context


class ContextHelps(RewardModelBase):
    """A stand-in scorer: a row scores 1 when its prompt shares a word with the question, else 0."""

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([float(bool(set(p.lower().split()) & set(c.lower().rstrip("?").split())))
                         for p, c in zip(prompts, completions)])


def test_a_stand_in_scorer_rates_questions_by_what_the_context_adds() -> None:
    # score("Question: the rhine rises in the alps.Answer: ", q) - score("", q): 1 - 0 for a question
    # sharing a word with the context ("rhine"), 0 - 0 for one that does not
    diffs = core2023.question_rewards(ContextHelps(), "the rhine rises in the alps.", ["Where does the rhine end?",
                                                                                       "Who won?"])
    np.testing.assert_allclose(diffs, [1.0, 0.0])
