"""The openvalidators forward: its step sequence, uid exclusion, growing context and scoring rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirror_neuron.neuron.loops import openvalidators
from mirror_neuron.neuron.neuron import Neuron
from mirror_neuron.neuron.reward.base import ConstantRewardModel
from mirror_neuron.neuron.reward.filters import Filter
from mirror_neuron.neuron.reward.stack import RewardStack

CONTEXTS = [f"Paragraph {i} says one thing. It says another thing. It ends here." for i in range(12)]


def neuron(n: int = 500, **config) -> Neuron:
    base = {"validator": "openvalidators-1.1", "gating": {"type": "RandomGatingModel"},
            "reward": {"type": "ConstantRewardModel"}, "metagraph": {"n": n}, **config}
    return Neuron(base, prompts=["What is said?"], contexts=CONTEXTS, seed=3)


def test_one_forward_is_augment_then_four_followup_answer_pairs_of_fifty_new_uids() -> None:
    validator = neuron()
    events = validator.train(1)
    assert [e.name for e in events] == ["augment", "followup0", "answer0", "followup1", "answer1", "followup2",
                                        "answer2", "followup3", "answer3"]
    assert all(len(e.uids) == 50 for e in events) and validator.steps_done == 9
    queried = [uid for e in events for uid in e.uids]
    assert len(set(queried)) == 450  # 500 uids available: no uid is asked twice in one forward
    assert [e.question for e in events] == [False] + [True, False] * 4
    assert all(e.roles == ["user"] for e in events)


def test_exclusion_falls_back_to_queried_uids_when_too_few_remain() -> None:
    events = neuron(n=120).train(1)
    assert all(len(e.uids) == 50 == len(set(e.uids)) for e in events)  # 120 < 450: refills from excluded uids
    unqueried = set(range(120)) - set(events[0].uids) - set(events[1].uids)
    assert len(unqueried) == 20 and unqueried <= set(events[2].uids)  # the 20 new uids first, then 30 reused


def test_the_context_grows_with_each_chosen_question_and_answer() -> None:
    events = neuron().train(1)
    augment, followup0, answer0, followup1, answer1 = events[:5]
    summary = augment.best
    assert followup0.messages[0] == openvalidators.followup_prompt(summary, 0)
    assert answer0.messages[0] == openvalidators.answer_prompt(summary, followup0.best)
    grown = f"{summary}\nPrevious Question \nQuestion:{followup0.best}\nAnswer:{answer0.best}"
    assert followup1.messages[0] == openvalidators.followup_prompt(grown, 1)
    assert followup1.messages[0].endswith("and previous questions. Do not try to return an answer or a summary:\n")
    assert events[6].messages[0].startswith(f"{grown}\nQuestion:{followup1.best}\nAnswer:{answer1.best}")


def test_the_augment_prompt_holds_a_context_of_15_to_30_sentences() -> None:
    prompt = neuron().train(1)[0].messages[0]
    context, request = prompt.split("\n\nSummarize the preceding context in ")
    assert 15 <= context.count(".") + 1 <= 30 and not context.endswith(".")  # cut at the sentence's full stop
    assert int(request.split(" ")[0]) in range(4, 9)


def test_every_queried_uid_moves_by_the_scatter_rule_and_failures_get_zero() -> None:
    # constant reward 1 for a success, 0 for a failed call: scores[uid] = 0.95 * 0 + 0.05 * reward
    validator = neuron(miners={"slow": 250})
    event = openvalidators.run_step(validator, "Say something long enough.", "answer", 50, 10.0)
    scores = validator.moving_averaged_scores.scores
    ok = set(event.successful_uids)
    assert 0 < len(ok) < 50
    for uid in event.uids:
        assert scores[uid] == pytest.approx(0.05 if uid in ok else 0.0, abs=1e-15)
    assert np.count_nonzero(scores) == len(ok)


def test_from_1_1_8_on_filters_compare_with_the_base_prompt() -> None:
    seen = []

    class Recorder(Filter):
        def mask(self, query, completions):
            seen.append((query.name, query.filter_prompt))
            return np.ones(len(completions))

    validator = neuron(validator="openvalidators-1.2")
    validator.reward_model = RewardStack([("c", ConstantRewardModel(), 1.0)], [("recorder", Recorder(), True)])
    events = validator.train(1)
    prompts = dict(seen)
    assert prompts["augment"] == events[0].messages[0]
    assert prompts["followup0"] == events[0].best  # the summary
    assert prompts["answer0"] == events[1].best  # its question


def test_new_hotkeys_get_fresh_gating_rows_under_openvalidators_only() -> None:
    # openvalidators' resync_linear_layer zeroes the bias of a re-registered uid's row; core and custom kept it
    for version, fresh in (("openvalidators-1.1", True), ("core-2023", False)):
        validator = neuron(n=60, validator=version, gating={"type": "GatingModel", "path": "tiny:gptneo"},
                           churn={"every": 1, "count": 1}, screen=None)
        with torch.no_grad():
            validator.gating_model.head.bias.fill_(0.5)
        validator.steps_done = 1  # the next pass churns one uid
        validator.forward(["user"], ["What is said here, in full?"], topk=5)
        changed = validator.metagraph.changed_hotkeys([f"hotkey-{uid}" for uid in range(60)])
        bias = validator.gating_model.head.bias.detach()
        assert len(changed) == 1 and (float(bias[changed[0]]) == 0.0) == fresh
        assert float(bias[(changed[0] + 1) % 60]) == 0.5
