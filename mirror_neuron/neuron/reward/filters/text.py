"""Text filters: the blacklist (stock phrases, refusals, prompt echoes, banned substrings, reused answers)
and the task validator (answers given for questions and questions for answers)."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.filters.base import Filter, per_distinct
from mirror_neuron.registry import component

# The validator's knowledge, not the attacker's (those phrases live in mirror_neuron.hacks.vocabulary):
# the one phrase the real validators' blacklist held, and the opening of the refusals of 2023.
BLACKLIST_PHRASES = ("That is an excellent question.",)
REFUSAL_PREFIXES = ("As an AI language model", "As an AI assistant")
STOPWORDS = frozenset("a an the of to in on for is are was were be been am what which who whom whose how why when "
                      "where do does did and or but not no it its this that these those there here by with as at "
                      "from about into i you he she we they me my your our their his her them us can could would "
                      "should will shall may might must has have had so if then than".split())


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``: case, punctuation and spacing do not count."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'"))


def normalized(text: str) -> str:
    """``text`` as its words joined by single spaces (the form phrases and prompts are compared in)."""
    return " ".join(words(text))


_CONTRACTION = re.compile(r"(?<=\w)(n't|'re|'m|'ve|'ll|'d|'s)\b")
_SPELLED = {"n't": " not", "'re": " are", "'m": " am", "'ve": " have", "'ll": " will", "'d": " would", "'s": " is"}


def expanded(text: str) -> str:
    """``text`` in :func:`normalized` form with contractions spelled out ("that's" -> "that is")."""
    return _CONTRACTION.sub(lambda m: _SPELLED[m.group(1)], normalized(text))


def content_words(text: str) -> set[str]:
    """The distinct words of ``text`` that are not stop words."""
    return {w for w in words(text) if w not in STOPWORDS}


@component("filter", "blacklist", summary="zero for stock phrases, refusals, prompt echoes, banned substrings "
                                           "and (with reuse_memory) answers reused across prompts")
class BlacklistFilter(Filter):
    """0 for stock phrases, refusals, echoes of the prompt, banned substrings and reused answers; 1 otherwise.

    Texts are compared in :func:`normalized` form (lower case, words only), so case, punctuation and
    spacing do not count:

    - stock phrase: the whole completion equals one of ``phrases``, contractions spelled out ("That's an
      excellent question!" is "That is an excellent question."); a completion that merely contains one,
      followed by a real answer, passes. The default list is the real validators' one phrase, so other
      wordings pass this rule: the reuse rule catches them from their second prompt on;
    - refusal: the completion starts with one of ``refusal_prefixes`` (whole words);
    - echo: the completion equals the prompt, or its distinct content words (stop words left out)
      nearly coincide with the prompt's: at least ``echo_overlap`` of the completion's content words
      come from the prompt *and* it covers at least ``echo_overlap`` of the prompt's. An answer adds
      words the prompt lacks ("Canberra" for "What is the capital of Australia?"), so it passes; the
      prompt's keywords repeated in any order (keyword stuffing) count as an echo;
    - banned: the completion contains one of ``banned`` (case-insensitive substring), e.g.
      ``"deserves a score of"`` against scorer injection. Empty by default;
    - reused (off by default): with ``reuse_memory`` > 0, a completion already sent in answer to a
      different prompt fits any prompt, so it answers none: once the filter has seen it with a second
      prompt it is 0 for every prompt, as long as it is among the last ``reuse_memory`` distinct
      completions remembered. This catches stock phrases it has no list for, from their second prompt on.
    """

    def __init__(self, phrases: tuple[str, ...] = BLACKLIST_PHRASES,
                 refusal_prefixes: tuple[str, ...] = REFUSAL_PREFIXES, echo_overlap: float = 0.9,
                 banned: tuple[str, ...] = (), reuse_memory: int = 0) -> None:
        if not 0 < echo_overlap <= 1:
            raise ValueError(f"echo_overlap must be in (0, 1], got {echo_overlap}")
        if reuse_memory < 0:
            raise ValueError(f"reuse_memory must be non-negative, got {reuse_memory}")
        self.phrases = tuple(phrases)
        self.refusal_prefixes = tuple(refusal_prefixes)
        self.echo_overlap = echo_overlap
        self.banned = tuple(banned)
        self.reuse_memory = reuse_memory
        self._phrases = {expanded(p) for p in self.phrases}
        self._prefixes = [words(p) for p in self.refusal_prefixes if words(p)]
        self._banned = [b.lower() for b in self.banned if b]
        self.answered: OrderedDict[str, str] = OrderedDict()  # completion key -> its first prompt, or "" once reused

    def params(self) -> dict:
        return {"phrases": list(self.phrases), "refusal_prefixes": list(self.refusal_prefixes),
                "echo_overlap": self.echo_overlap, "banned": list(self.banned), "reuse_memory": self.reuse_memory}

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        prompt, prompt_words = normalized(query.prompt), content_words(query.prompt)
        values = per_distinct(completions, lambda c: self.matches(c, prompt, prompt_words))
        if self.reuse_memory:
            values *= self._remember(_key(prompt), completions)
        return values

    def matches(self, completion: str, prompt: str, prompt_words: set[str]) -> bool:
        """Whether ``completion`` is blacklisted by a rule that needs no memory (``prompt`` normalized,
        ``prompt_words`` its content words)."""
        tokens = words(completion)
        text = " ".join(tokens)
        if (expanded(completion) if "'" in text else text) in self._phrases:
            return True
        if any(tokens[:len(prefix)] == prefix for prefix in self._prefixes):
            return True
        if text and text == prompt:
            return True
        if self._echoes(set(tokens) - STOPWORDS, prompt_words):
            return True
        lowered = completion.lower()
        return any(b in lowered for b in self._banned)

    def _echoes(self, completion_words: set[str], prompt_words: set[str]) -> bool:
        if not completion_words or not prompt_words:
            return False
        shared = len(completion_words & prompt_words)
        return shared / len(completion_words) >= self.echo_overlap and shared / len(prompt_words) >= self.echo_overlap

    def _remember(self, prompt: str, completions: list[str]) -> np.ndarray:
        """The batch joins the memory; then 0 for each completion reused across prompts (this one included)."""
        keys = [_key(normalized(c)) for c in completions]
        for key in dict.fromkeys(keys):
            first = self.answered.get(key)
            if first is None:
                self.answered[key] = prompt
                if len(self.answered) > self.reuse_memory:
                    self.answered.popitem(last=False)
            elif first and first != prompt:
                self.answered[key] = ""
        return np.array([self.answered.get(k, prompt) != "" for k in keys], dtype=np.float64)

    def get_state(self) -> dict:
        return {"answered": list(map(list, self.answered.items()))} if self.reuse_memory else {}

    def set_state(self, state: dict) -> None:
        self.answered = OrderedDict((k, v) for k, v in state.get("answered", []))


def _key(text: str) -> str:
    """A short stable digest of ``text`` (what the reuse memory keeps instead of whole completions)."""
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_CLOSERS = "\"')]}\u201d\u2019 \t\n"


def sentences(text: str) -> list[str]:
    """``text`` split after ``.``, ``!`` or ``?`` followed by a space and a capital letter or digit.

    The capital keeps abbreviations inside a sentence together ("the U.S. army" stays one sentence).
    """
    return [s for s in _SENTENCE_BREAK.split(text.strip()) if s]


def is_question(sentence: str) -> bool:
    """Whether ``sentence`` ends with a question mark (closing quotes and brackets ignored)."""
    return sentence.rstrip(_CLOSERS).endswith("?")


@component("filter", "task_validator",
           summary="zero for answers given when a question was asked, and questions given for answers")
class TaskValidatorFilter(Filter):
    """0 for a completion that does not do the task the query asks for: a question, or an answer.

    Question step (``query.question``), where answer-stuffing lives; a completion fails when it
    - contains one of ``answer_labels`` (``"Answer:"``, case-insensitive): an answer in disguise;
    - does not end with a question mark (closing quotes and brackets ignored);
    - has more than ``max_statements`` sentences before its final one that are not questions
      (default 0): an answer followed by a token question ("Canberra is the capital. Is there
      anything else about this?") is answer-stuffing, not a question.
    Answer step; a completion fails when it
    - contains one of ``question_labels`` (``"Question:"``): a made-up dialogue turn;
    - only asks questions back: every sentence of it ends with a question mark.
    Sentences are split by :func:`sentences`.
    """

    def __init__(self, answer_labels: tuple[str, ...] = ("Answer:",), question_labels: tuple[str, ...] = ("Question:",),
                 max_statements: int = 0) -> None:
        self.answer_labels = tuple(answer_labels)
        self.question_labels = tuple(question_labels)
        self.max_statements = max_statements

    def params(self) -> dict:
        return {"answer_labels": list(self.answer_labels), "question_labels": list(self.question_labels),
                "max_statements": self.max_statements}

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        return per_distinct(completions, self.fails_question if query.question else self.fails_answer)

    def fails_question(self, completion: str) -> bool:
        """Whether ``completion`` is not an acceptable question (see the class docstring)."""
        if _contains_any(completion, self.answer_labels):
            return True
        parts = sentences(completion)
        if not parts or not is_question(parts[-1]):
            return True
        return sum(not is_question(s) for s in parts[:-1]) > self.max_statements

    def fails_answer(self, completion: str) -> bool:
        """Whether ``completion`` is not an acceptable answer (see the class docstring)."""
        if _contains_any(completion, self.question_labels):
            return True
        parts = sentences(completion)
        return bool(parts) and all(is_question(s) for s in parts)


def _contains_any(text: str, labels: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(label.lower() in lowered for label in labels if label)
