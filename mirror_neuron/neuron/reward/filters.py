"""Filters of the later validators: (query, completions) -> one multiplier in [0, 1] per completion.

A filter does not score quality; it removes completions that game the scorers. The reward stack
multiplies the weighted sum of normalized scores by each enabled filter's output, so 0 removes a
completion and 1 keeps it. Each filter has a ``name``, its ``params()`` (what to record with a run)
and, where it remembers past batches, ``get_state()``/``set_state()`` for :meth:`Neuron.save`.

Exploits (``/work/shared/reference/validator-2023.md``) and the filter meant to catch each:
prompt echo and keyword stuffing -> :class:`BlacklistFilter` (echo); stock phrases and refusals ->
:class:`BlacklistFilter`; answer-stuffing in a question step -> :class:`TaskValidatorFilter`;
off-topic or random text -> :class:`RelevanceFilter`; one cached answer from many hotkeys ->
:class:`DiversityFilter`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import ClassVar, Protocol

import numpy as np

from mirror_neuron.neuron.miners.base import Query
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


def per_distinct(completions: list[str], fails: Callable[[str], bool]) -> np.ndarray:
    """0 where ``fails(completion)``, else 1; ``fails`` runs once per distinct completion (a batch of
    simulated miners repeats the same few answers, and text checks dominate a non-neural step)."""
    masks: dict[str, float] = {}
    for completion in completions:
        if completion not in masks:
            masks[completion] = 0.0 if fails(completion) else 1.0
    return np.array([masks[c] for c in completions], dtype=np.float64)


class Embedder(Protocol):
    """What the embedding filters need: ``encode(texts)`` -> (len(texts), dim) array."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class Filter:
    """(query, completions) -> one multiplier in [0, 1] per completion."""

    name: ClassVar[str]

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, query: Query, completions: list[str]) -> np.ndarray:
        return self.mask(query, completions)

    def params(self) -> dict:
        """The filter's parameters, for the run record."""
        return {}

    def get_state(self) -> dict:
        """What :meth:`Neuron.save` keeps of this filter (JSON-serializable); stateless filters keep nothing."""
        return {}

    def set_state(self, state: dict) -> None:
        pass


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

    name: ClassVar[str] = "blacklist"

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

    name: ClassVar[str] = "task_validator"

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


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so dot products are cosine similarities."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


@component("filter", "relevance", summary="zero when the completion's embedding is far from the prompt's")
class RelevanceFilter(Filter):
    """0 for a completion whose embedding's cosine similarity to the prompt's is below ``threshold``.

    The prompt is the query's last user message. With MiniLM, "Canberra is the capital of
    Australia." scores about 0.79 against "What is the capital of Australia?", while "Bananas are
    rich in potassium." (0.11), "That is an excellent question." (0.10) and a refusal (0.07) fall
    under the default 0.2.
    """

    name: ClassVar[str] = "relevance"

    def __init__(self, embedder: Embedder, threshold: float = 0.2) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def params(self) -> dict:
        return {"threshold": self.threshold}

    def similarities(self, query: Query, completions: list[str]) -> np.ndarray:
        """Cosine similarity of each completion to the prompt."""
        if not completions:
            return np.zeros(0)
        vectors = unit_rows(self.embedder.encode([query.prompt, *completions]))
        return (vectors[1:] @ vectors[0]).astype(np.float64)

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        return (self.similarities(query, completions) >= self.threshold).astype(np.float64)


@component("filter", "diversity", summary="zero for near-duplicates within the batch and of recent history")
class DiversityFilter(Filter):
    """0 for a completion too similar (cosine above ``threshold``) to an earlier one, in the batch or before.

    - In the batch: every completion after the first of a group of near-copies gets 0; the first is
      kept. Each completion is compared with *all* earlier ones in the batch, zeroed or not.
    - History: a completion above ``threshold`` to any of the last ``history_size`` completion
      embeddings from earlier batches gets 0 (the first copy included). After scoring, every
      completion of the batch joins the history (a bounded deque, saved in the state);
      ``history_size=0`` turns the history off.

    History knows nothing of prompts: an honest miner giving the same answer to the same prompt in a
    later batch is zeroed as a repeat, as the reference's history term did.
    With MiniLM, a cached answer with a per-uid trailing variation (" .." appended) scores about
    0.997 against the original, a word-order paraphrase ("The capital of Australia is Canberra."
    against "Canberra is the capital of Australia.") about 0.99, and a different fact about the same
    subject ("Sydney is the largest city in Australia.") about 0.64: under the default threshold
    0.95, paraphrases that only reorder words count as copies.
    """

    name: ClassVar[str] = "diversity"

    def __init__(self, embedder: Embedder, threshold: float = 0.95, history_size: int = 500) -> None:
        if history_size < 0:
            raise ValueError(f"history_size must be non-negative, got {history_size}")
        self.embedder = embedder
        self.threshold = threshold
        self.history_size = history_size
        self.history: deque[np.ndarray] = deque(maxlen=history_size)

    def params(self) -> dict:
        return {"threshold": self.threshold, "history_size": self.history_size}

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        if not completions:
            return np.zeros(0)
        vectors = unit_rows(self.embedder.encode(list(completions)))
        batch = vectors @ vectors.T
        copy = np.tril(batch > self.threshold, k=-1).any(axis=1)  # above an earlier completion of the batch
        if self.history:
            copy |= (vectors @ np.stack(self.history).T > self.threshold).any(axis=1)
        self.history.extend(vectors)
        return (~copy).astype(np.float64)

    def get_state(self) -> dict:
        """The history as base64 float32 (compact and exact), with its shape."""
        rows = np.stack(self.history).astype(np.float32) if self.history else np.zeros((0, 0), dtype=np.float32)
        return {"history": base64.b64encode(rows.tobytes()).decode("ascii"), "shape": list(rows.shape)}

    def set_state(self, state: dict) -> None:
        rows = np.frombuffer(base64.b64decode(state["history"]), dtype=np.float32).reshape(state["shape"])
        self.history = deque(rows.copy(), maxlen=self.history_size)
