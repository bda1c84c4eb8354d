"""Honest miners: answers as a 2023 miner model gave them, from what the data set knows of the prompt.

The default ``style: sentence`` writes full sentences in each uid's own voice (:class:`Voice`: its
opener, how it frames a short answer or quotes a passage, its closing line, and its skill), seeded by
``(seed, uid)``. The content is the data's: the passage sentence that holds the reference (SQuAD), the
chosen response (HH-RLHF), or a sentence built around a short reference (NQ-open's "Au"). ``style: bare``
is the reference alone, as the first versions of this mirror sent it.
"""

from __future__ import annotations

import functools
import re
import zlib
from typing import Literal, NamedTuple

import numpy as np
from pydantic import Field, NonNegativeFloat

from mirror_neuron.hacks.vocabulary import (
    ANSWER_FRAMES,
    CLOSERS,
    ELABORATIONS,
    FOLLOW_UP_QUESTIONS,
    OPENERS,
    PASSAGE_FORMS,
    STATEMENT_FORMS,
    SUPPORTS,
    UNSURE,
    WORDS,
    keywords,
)
from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.registry import component
from mirror_neuron.seeds import Seed

LONG_WORDS = 6  # a reference of this many words is already a sentence
MIN_CHARS = 11  # the validator counts a completion of 10 characters or fewer as a failed call
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def fallback_answer(query: Query) -> str:
    """A plain answer when the data set gives no reference: restate the subject of the question."""
    return _fallback(query.prompt)


@functools.lru_cache(maxsize=256)
def _fallback(prompt: str) -> str:
    subject = prompt.rstrip("?. ").strip() or "that"
    return f"Here is what I know about {subject[:200]}: it is a well-documented topic."


def honest_answer(query: Query) -> str:
    """The bare answer an honest miner knows: the data set's reference, else :func:`fallback_answer`."""
    return query.reference or fallback_answer(query)


def follow_up_question(query: Query) -> str:
    """A plausible follow-up question about the prompt's subject."""
    return f"What else should I know about {topic(query.prompt)}?"


def topic(prompt: str) -> str:
    """The first few keywords of the prompt's last human turn (an HH-RLHF dialogue's, or the whole
    prompt): what a sentence about it names."""
    asked = prompt.rsplit("Human:", 1)[-1].split("Assistant:", 1)[0]
    return " ".join(keywords(asked)[:4]) or "this topic"


class Voice(NamedTuple):
    """One uid's habits: how it words an answer, and how good it is (drawn once per ``(seed, uid)``)."""

    opener: str
    closer: str
    frame: str  # how it puts a short answer in a sentence (a template of ANSWER_FRAMES)
    form: str  # how it quotes a passage's sentence that holds the answer (a template of PASSAGE_FORMS)
    statement: str  # how it gives a sentence as it is (a template of STATEMENT_FORMS)
    question: str  # how it asks a follow-up (a template of FOLLOW_UP_QUESTIONS)
    elaboration: str  # the line a verbose uid adds to a short answer (a template of ELABORATIONS)
    support: str  # the line it gives in support of a short answer, or "" (a template of SUPPORTS)
    span: int  # how many words of a passage it quotes around the answer, at least
    lead: float  # the share of them before the answer
    verbose: bool  # adds one more relevant sentence
    terse: bool  # the shortest form: the framed answer alone
    error_rate: float  # how often it answers wrongly


class Skill(NamedTuple):
    """The spread of skill over a population: shares of uids that are weak, verbose or terse."""

    weak: float = 0.0
    error_rate: float = 0.0
    verbose: float = 0.0
    terse: float = 0.0


DEFAULT_SKILL = Skill(verbose=0.2, terse=0.2)  # the default population's spread, mistakes left out


@functools.lru_cache(maxsize=4096)
def voice(seed: int, uid: int, skill: Skill = Skill()) -> Voice:
    """The voice of ``uid`` in a population seeded ``seed`` (the same uid keeps it from call to call)."""
    rng = np.random.default_rng([seed & (2**63 - 1), uid & (2**63 - 1), 0x766F696365])
    habits = [choices[int(rng.integers(len(choices)))] for choices in (OPENERS, CLOSERS, ANSWER_FRAMES, PASSAGE_FORMS,
              STATEMENT_FORMS, FOLLOW_UP_QUESTIONS, ELABORATIONS, SUPPORTS)]
    span, lead = int(rng.integers(5, 24)), float(rng.random())
    weak, verbose, terse = rng.random(3)
    return Voice(*habits, span, lead, bool(verbose < skill.verbose),
                 bool(terse < skill.terse and verbose >= skill.verbose),
                 skill.error_rate if weak < skill.weak else 0.0)


def split_sentences(text: str) -> list[str]:
    """``text`` split after ``.``, ``!`` or ``?`` followed by a space and a capital letter or digit."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def sentence_answer(query: Query, speaker: Voice, rng: np.random.Generator | None = None,
                    answers: Literal["chosen", "rejected"] = "chosen") -> str:
    """What ``speaker`` answers to ``query``, in its own words; ``rng`` draws its mistakes (None: none).

    An HH-RLHF prompt gets its ``answers`` response; a reference that is already a sentence is said as
    it is; with a passage (SQuAD), the passage's sentence that holds the reference (the one closest to
    the question when there is no reference); a short reference, a sentence around it; nothing known, a
    sentence on the subject.
    """
    wrong = rng is not None and speaker.error_rate > 0 and rng.random() < speaker.error_rate
    response = query.rejected if answers == "rejected" else query.chosen
    reference = (query.reference or "").strip()
    if response is not None and response.strip():
        other = query.chosen if answers == "rejected" else query.rejected
        body = _response(other if wrong and other and other.strip() else response, query, speaker)
    elif len(reference.split()) >= LONG_WORDS and reference.lower() not in (query.context or "").lower():
        said = (_wrong_answer(query, rng) or reference) if wrong and rng is not None else reference
        body = _stated(said, query, speaker) if len(said.split()) >= LONG_WORDS else _framed(said, query, speaker)
    elif query.context:
        body = _passage(query, speaker, rng if wrong else None)
    elif wrong and rng is not None:
        mistaken = _wrong_answer(query, rng)
        body = _framed(mistaken, query, speaker) if mistaken else UNSURE[int(rng.integers(len(UNSURE)))].format(
            topic=topic(query.prompt))
    else:
        body = _framed(reference, query, speaker)
    return _spoken(body, speaker)


def honest_text(query: Query, uid: int, style: Literal["sentence", "bare"] = "sentence", seed: int = 0) -> str:
    """The answer an honest ``uid`` of the default population seeded ``seed`` gives, without its mistakes:
    what hacking miners build on (an answer even in a follow-up step). ``bare``: :func:`honest_answer`."""
    if style == "bare":
        return honest_answer(query)
    return sentence_answer(query, voice(seed, uid, DEFAULT_SKILL))


def _response(text: str, query: Query, speaker: Voice) -> str:
    """A chat response as written, in the speaker's form; terse uids keep its first two sentences."""
    parts = split_sentences(text)
    said = " ".join(parts[:2]) if speaker.terse and len(parts) > 2 else text.strip()
    return speaker.statement.format(s=said, topic=topic(query.prompt))


def _stated(text: str, query: Query, speaker: Voice) -> str:
    """A sentence (or more) in the speaker's form; terse uids keep the first sentence."""
    parts = split_sentences(text)
    text = parts[0] if speaker.terse and parts else text.strip()
    return speaker.statement.format(s=text, topic=topic(query.prompt))


def _framed(reference: str, query: Query, speaker: Voice) -> str:
    """A short reference in the speaker's sentence frame; no reference: :func:`fallback_answer`."""
    reference = reference.strip().rstrip(".")
    if not reference:
        return fallback_answer(query)
    question = query.prompt.strip().rstrip("?. ")
    text = speaker.frame.format(a=reference, A=reference[:1].upper() + reference[1:],
                                q=question[:1].lower() + question[1:], topic=topic(query.prompt))
    if speaker.support and not speaker.terse:
        text += " " + speaker.support.format(a=reference, topic=topic(query.prompt))
    if speaker.verbose:
        text += " " + speaker.elaboration.format(topic=topic(query.prompt))
    return text


def _passage(query: Query, speaker: Voice, rng: np.random.Generator | None) -> str:
    """The passage's sentence that holds the reference (``rng``: another one, a plausible mistake)."""
    parts = split_sentences(query.context or "") or [query.context or ""]
    reference = (query.reference or "").strip().rstrip(".")
    index = _holding(parts, reference, query.prompt)
    if rng is not None and len(parts) > 1:
        index = (index + 1 + int(rng.integers(len(parts) - 1))) % len(parts)
        reference = ""
    sentence = parts[index]
    if reference and reference.lower() not in sentence.lower():
        reference = ""  # the passage does not hold it: say the closest sentence as it is
    if speaker.terse and reference:
        return _framed(reference, query, speaker)
    if reference:
        text = speaker.form.format(s=sentence, c=_clause(sentence, reference, speaker), a=reference,
                                   f=_framed(reference, query, speaker), A=reference[:1].upper() + reference[1:])
    else:  # no answer in the passage: the part of the closest sentence around the question's words
        anchor = next((w for w in keywords(query.prompt) if w.lower() in sentence.lower()), "")
        quoted = _clause(sentence, anchor, speaker) if anchor else sentence
        text = speaker.statement.format(s=quoted, topic=topic(query.prompt))
    if speaker.verbose and len(parts) > 1:
        text += " " + parts[index + 1 if index + 1 < len(parts) else index - 1]
    return text


def _clause(sentence: str, reference: str, speaker: Voice) -> str:
    """The words of ``sentence`` around ``reference``: at least ``speaker.span`` of them, ``speaker.lead``
    of the rest before it (uids quote different windows); capitalized, ending with a full stop."""
    words = sentence.split()
    found = [i for i in range(len(words)) if reference.lower() in " ".join(words[i:i + len(reference.split())]).lower()]
    if not found:
        return sentence
    at, size = found[0], len(reference.split())
    before = int(round(max(0, speaker.span - size) * speaker.lead))
    start = max(0, at - before)
    quoted = " ".join(words[start:max(at + size, start + speaker.span)]).strip(" ,;:").rstrip(".!?")
    return quoted[:1].upper() + quoted[1:] + "."


def _holding(parts: list[str], reference: str, prompt: str) -> int:
    """The first sentence that holds ``reference``; else the one sharing most keywords with ``prompt``."""
    lowered = reference.lower()
    for index, part in enumerate(parts):
        if lowered and lowered in part.lower():
            return index
    asked = {w.lower() for w in keywords(prompt)}
    overlaps = [len(asked & {w.lower() for w in keywords(part)}) for part in parts]
    return int(np.argmax(overlaps))


def _wrong_answer(query: Query, rng: np.random.Generator) -> str:
    """Another prompt's reference (a mix-up), or a nearby number; "" when there is neither."""
    others = [a for a in query.others if a != query.reference]
    if others:
        return others[int(rng.integers(len(others)))]
    reference = (query.reference or "").strip()
    if reference.isdigit():
        return str(int(reference) + int(rng.choice([-2, -1, 1, 2, 10])))
    return ""


def _spoken(body: str, speaker: Voice) -> str:
    text = " ".join(part for part in (speaker.opener, body.strip(), speaker.closer) if part)
    return text if len(text) >= MIN_CHARS else f"{text} That is my answer."


@component("behaviour", "honest",
           summary="full-sentence answers from the data (a uid's own wording and skill); style: bare, the reference")
class Honest(Behaviour):
    """An honest miner: the data's answer in full sentences, worded in the uid's own voice.

    ``style: sentence`` (default): each uid has its own wording habits and skill, drawn from
    ``(seed, uid)``; ``weak`` of the uids answer wrongly ``error_rate`` of the time (another prompt's
    reference, another sentence of the passage, or the other HH response), ``verbose`` add a relevant
    sentence, ``terse`` give the shortest form. ``greedy`` (default): the same uid gives the same answer
    to the same prompt each time, as a miner's greedy model did; false: its mistakes are drawn anew.
    HH-RLHF prompts get the data's chosen response; ``answers: rejected`` plays a weaker population
    answering with the rejected ones. Every answer is longer than 10 characters.

    ``style: bare``: the reference alone (a follow-up question when asked), as this mirror first sent;
    ``noise`` and ``paraphrase`` apply in both styles.
    """

    style: Literal["sentence", "bare"] = "sentence"
    answers: Literal["chosen", "rejected"] = "chosen"  # HH-RLHF prompts: which response honest uids send
    seed: Seed | None = None  # the wording seed: uid u speaks with voice(seed, u); unset: the neuron's miners_seed
    weak: NonNegativeFloat = Field(0.2, le=1.0)  # share of uids that are sometimes wrong
    error_rate: NonNegativeFloat = Field(0.3, le=1.0)  # how often a weak uid is wrong
    verbose: NonNegativeFloat = Field(0.2, le=1.0)  # share of uids adding a relevant sentence
    terse: NonNegativeFloat = Field(0.2, le=1.0)  # share of uids giving the shortest form
    greedy: bool = True
    noise: NonNegativeFloat = Field(0.0, le=1.0)  # share of words replaced by random words
    paraphrase: bool = False  # wrap the answer in a fixed paraphrase template
    # with a noise seed, the noise is drawn from (noise_seed, uid, prompt): a weak miner's own model
    # gives the same flawed answer to the same prompt each time (greedy decoding), as real ones did
    noise_seed: Seed | None = None

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str | None:
        if self.style == "bare":
            answer = follow_up_question(query) if query.question else honest_answer(query)
        else:
            seed = self.seed or 0
            speaker = voice(seed, uid, Skill(self.weak, self.error_rate, self.verbose, self.terse))
            if query.question:
                return speaker.question.format(topic=topic(query.prompt))
            mistakes = None  # a uid that is never wrong draws nothing (a generator per call is costly)
            if speaker.error_rate > 0:
                mistakes = np.random.default_rng([seed & (2**63 - 1), uid, _crc(query.prompt)]) if self.greedy else rng
            answer = sentence_answer(query, speaker, mistakes, self.answers)
        if query.question:
            return answer
        if self.paraphrase:
            answer = f"In short, {answer[:1].lower()}{answer[1:]}"
        if self.noise > 0:
            if self.noise_seed is not None:
                rng = np.random.default_rng([self.noise_seed, uid, _crc(query.prompt)])
            words = answer.split()
            swap = rng.random(len(words)) < self.noise
            answer = " ".join(WORDS[rng.integers(len(WORDS))] if s else w for w, s in zip(words, swap))
        return answer


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())
