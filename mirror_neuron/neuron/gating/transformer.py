"""The 2023 validator's gating model: a frozen causal LM's last hidden state -> a trained linear head.

:class:`LinearHeadGatingModel` holds what every neural gating model shares (the head, its SGD
training rule, its saved state); subclasses only say how a text becomes a feature vector.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from mirror_neuron.models.causal_lm import load_causal_lm
from mirror_neuron.neuron.gating.base import GatingModelBase
from mirror_neuron.registry import component

ORIGINAL_PATH = "EleutherAI/gpt-neo-125m"  # the original's encoder; needs the hub or a local copy
FEATURE_CACHE_SIZE = 256  # texts whose features are kept: the same prompt is scored many times


class LinearHeadGatingModel(GatingModelBase):
    """``scores(text) = Linear(dim, n_uids)(feature(text))``, trained online on the rewards.

    ``backward`` minimizes ``MSE(softmax(scores[uids]), softmax(rewards))`` with SGD (``learning_rate``,
    ``momentum``) on the head only; the feature extractor stays frozen. The original never called
    ``zero_grad``, so its gradients accumulated across steps: ``zero_grad=False`` reproduces that
    bug, the default ``True`` fixes it.

    Deviations from the original: the head's initial weights are drawn from this model's numpy
    generator (the same uniform(-1/sqrt(dim), 1/sqrt(dim)) as ``torch.nn.Linear``), so they follow
    ``seed``; non-finite rewards count as 0; ``backward`` with no uids does nothing; features of the
    last :data:`FEATURE_CACHE_SIZE` texts are cached (the encoder is frozen, so this changes nothing).
    """

    def __init__(self, n_uids: int, dim: int, seed: int = 0, learning_rate: float = 0.01, momentum: float = 0.9,
                 zero_grad: bool = True) -> None:
        super().__init__(n_uids, seed)
        self.dim = dim
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.zero_grad = zero_grad
        self._pending: torch.Tensor | None = None  # the last scores, with grad, for the next backward
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        weight, bias = self._init_rows(n_uids)
        self._load_arrays({"weight": weight, "bias": bias, "momentum": [None, None], "grad": [None, None]})

    # -- what a subclass defines ---------------------------------------------------------------------

    def _compute_feature(self, text: str) -> torch.Tensor:
        """The (dim,) float32 feature of ``text``, without gradient."""
        raise NotImplementedError

    # -- the gating contract -------------------------------------------------------------------------

    def feature(self, text: str) -> torch.Tensor:
        """The feature of ``text``, from the cache when it was seen lately."""
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        value = self._compute_feature(text).detach().to(torch.float32).reshape(self.dim)
        self._cache[text] = value
        if len(self._cache) > FEATURE_CACHE_SIZE:
            self._cache.popitem(last=False)
        return value

    def scores(self, text: str) -> np.ndarray:
        """One float64 score per uid; the head's output is kept (with grad) for the next :meth:`backward`."""
        self._pending = self.head(self.feature(text))
        return self._pending.detach().to(torch.float64).numpy().copy()

    def backward(self, uids: np.ndarray, scores: np.ndarray, rewards: np.ndarray) -> float:
        """One SGD step on the head towards ``softmax(rewards)``; returns the loss.

        The loss is taken on the scores kept by the last :meth:`scores` call (``scores`` itself, a
        numpy copy, carries no gradient and is not used). No uids: 0.0 and no step.
        """
        uids = np.asarray(uids, dtype=np.int64).reshape(-1)
        rewards = np.nan_to_num(np.asarray(rewards, dtype=np.float64).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
        if len(uids) == 0:
            return 0.0
        if len(rewards) != len(uids):
            raise ValueError(f"{len(uids)} uids but {len(rewards)} rewards")
        if self._pending is None:
            raise RuntimeError("backward() needs the scores of a scores() call since the last step")
        predicted = torch.softmax(self._pending[torch.from_numpy(uids)], dim=0)
        target = torch.softmax(torch.from_numpy(rewards).to(torch.float32), dim=0)
        loss = torch.nn.functional.mse_loss(predicted, target)
        if self.zero_grad:
            self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self._pending = None  # its graph is spent and the head has moved
        return float(loss.item())

    def resize(self, n_uids: int) -> None:
        """Grow (new rows drawn as at init) or shrink the head, keeping the rows of existing uids;
        momentum buffers and accumulated gradients are kept for those rows too."""
        if n_uids == self.n_uids:
            return
        keep = min(n_uids, self.n_uids)
        weight, bias = self._init_rows(n_uids - keep)
        arrays = self._arrays()
        super().resize(n_uids)
        self._load_arrays({"weight": np.concatenate([arrays["weight"][:keep], weight]),
                           "bias": np.concatenate([arrays["bias"][:keep], bias]),
                           "momentum": [_zero_padded(v, keep, n_uids) for v in arrays["momentum"]],
                           "grad": [_zero_padded(v, keep, n_uids) for v in arrays["grad"]]})

    def resync(self, uids: np.ndarray) -> None:
        """openvalidators' ``resync_linear_layer``: each row of ``uids`` gets bias 0 and Xavier-uniform
        weights (bound ``sqrt(6 / (dim + 1))`` for a 1 x dim row), drawn from this model's generator."""
        uids = np.asarray(uids, dtype=np.int64).reshape(-1)
        if len(uids) == 0:
            return
        bound = np.sqrt(6.0 / (self.dim + 1))
        rows = self.rng.uniform(-bound, bound, size=(len(uids), self.dim)).astype(np.float32)
        with torch.no_grad():
            self.head.weight[torch.from_numpy(uids)] = torch.from_numpy(rows)
            self.head.bias[torch.from_numpy(uids)] = 0.0

    def get_state(self) -> dict[str, Any]:
        """The rng, head weights, SGD momentum buffers and accumulated gradients (numpy arrays)."""
        arrays = self._arrays()
        return {**super().get_state(), "n_uids": self.n_uids, "dim": self.dim, **arrays}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (the number of uids included); drops pending scores."""
        if state["dim"] != self.dim:
            raise ValueError(f"saved gating head has feature size {state['dim']}, this model {self.dim}")
        super().set_state(state)
        self.n_uids = int(state["n_uids"])
        self._load_arrays({"weight": np.asarray(state["weight"], dtype=np.float32).reshape(self.n_uids, self.dim),
                           "bias": np.asarray(state["bias"], dtype=np.float32).reshape(self.n_uids),
                           "momentum": [_float32(v) for v in state["momentum"]],
                           "grad": [_float32(v) for v in state["grad"]]})

    # -- internals -----------------------------------------------------------------------------------

    def _init_rows(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        bound = 1.0 / np.sqrt(self.dim)
        weight = self.rng.uniform(-bound, bound, size=(rows, self.dim)).astype(np.float32)
        return weight, self.rng.uniform(-bound, bound, size=rows).astype(np.float32)

    def _new_optimizer(self) -> torch.optim.SGD:
        return torch.optim.SGD(self.head.parameters(), lr=self.learning_rate, momentum=self.momentum)

    def _arrays(self) -> dict[str, Any]:
        """Head weights, and per parameter (weight, bias) the momentum buffer and gradient, or None."""
        params = [self.head.weight, self.head.bias]
        buffers = [self.optimizer.state.get(p, {}).get("momentum_buffer") for p in params]
        return {"weight": _numpy(params[0]), "bias": _numpy(params[1]),
                "momentum": [_numpy(b) for b in buffers], "grad": [_numpy(p.grad) for p in params]}

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        """A fresh head and optimizer from numpy arrays (see :meth:`_arrays`)."""
        self.head = torch.nn.Linear(self.dim, self.n_uids)
        params = [self.head.weight, self.head.bias]
        with torch.no_grad():
            params[0].copy_(torch.from_numpy(arrays["weight"]))
            params[1].copy_(torch.from_numpy(arrays["bias"]))
        for param, grad in zip(params, arrays["grad"], strict=True):
            param.grad = None if grad is None else torch.from_numpy(grad.copy())
        self.optimizer = self._new_optimizer()
        for param, buffer in zip(params, arrays["momentum"], strict=True):
            if buffer is not None:
                self.optimizer.state[param]["momentum_buffer"] = torch.from_numpy(buffer.copy())
        self._pending = None


def _numpy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().numpy().copy()


def _float32(values: list | None) -> np.ndarray | None:
    return None if values is None else np.asarray(values, dtype=np.float32)


def _zero_padded(rows: np.ndarray | None, keep: int, n: int) -> np.ndarray | None:
    """The first ``keep`` rows, then zeros up to ``n`` rows."""
    if rows is None:
        return None
    return np.concatenate([rows[:keep], np.zeros((n - keep, *rows.shape[1:]), dtype=rows.dtype)])


@component("gating",
           summary="2023 validator: causal LM's last hidden state -> Linear over uids, SGD on MSE of softmaxes")
class GatingModel(LinearHeadGatingModel):
    """The 2023 validator's gating model: the last token's last hidden state of a causal LM -> Linear.

    ``path`` is anything :func:`~mirror_neuron.models.causal_lm.load_causal_lm` loads; the original
    used :data:`ORIGINAL_PATH` (``EleutherAI/gpt-neo-125m``), the default here is ``tiny:gptneo`` so
    that it runs offline (random weights built from a config, like the early original that built its
    encoder from config by mistake; ``seed`` draws them as well as the head).
    The input is the unravelled text, cut to its first ``max_length`` tokens (the original cut at the
    tokenizer's limit, 2048 for gpt-neo, and likewise used the first window's last token).
    """

    def __init__(self, n_uids: int, seed: int = 0, path: str = "tiny:gptneo", learning_rate: float = 0.01,
                 momentum: float = 0.9, zero_grad: bool = True, max_length: int = 256) -> None:
        self.path = path
        self.max_length = max_length
        self.model, self.tokenizer = load_causal_lm(path, seed)
        super().__init__(n_uids, int(self.model.config.hidden_size), seed, learning_rate, momentum, zero_grad)

    def _compute_feature(self, text: str) -> torch.Tensor:
        # cut by hand: the tiny tokenizers reject truncation=True (their backend lacks `direction`)
        input_ids = self.tokenizer(text, return_tensors="pt")["input_ids"][:, :self.max_length]
        if input_ids.shape[1] == 0:  # an empty text: read the end-of-text token instead
            input_ids = torch.tensor([[self.tokenizer.eos_token_id]])
        with torch.no_grad():  # the encoder is frozen (not inference_mode: the head saves this for backward)
            hidden = self.model.base_model(input_ids=input_ids).last_hidden_state
        return hidden[0, -1, :]
