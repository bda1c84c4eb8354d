"""The 2023 validator's reward: a trlX-style pairwise reward model (Dahoas/gptj-rm-static).

:class:`TrlxRewardModule` has exactly the original module's shape (``transformer`` = the causal LM's
base model, ``v_head`` = ``Linear(hidden, 1, bias=False)``), so the ``hf_ckpt.pt`` state dict (keys
``transformer.*`` and ``v_head.weight``) loads into a GPT-J built from ``EleutherAI/gpt-j-6b``.
:class:`RewardModel` is the validator's reward built on it (difference form with a shift).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mirror_neuron.errors import UserError
from mirror_neuron.models.causal_lm import load_causal_lm
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase, Rewards

START, END = "<|startoftext|>", "<|endoftext|>"
REFERENCE_MAX_LENGTH = 550
CHECKPOINT_SUFFIXES = (".pt", ".bin", ".safetensors")
# Causal-mask buffers that transformers < 4.27 saved in GPT-J/GPT-2 state dicts; current versions build them.
OBSOLETE_BUFFERS = (".attn.bias", ".attn.masked_bias")


class TrlxRewardModule(nn.Module):
    """A causal LM's base model with a scalar head: one reward per token, scored at the text's end.

    ``forward`` takes ``2 * bs`` rows, the first ``bs`` "chosen" and the last ``bs`` "rejected". A pair
    whose rows are identical is scored for inference; other pairs give the pairwise training loss.
    """

    def __init__(self, path: str = "tiny:gptj", seed: int = 0, base_dir: Path | None = None) -> None:
        super().__init__()
        model, tokenizer = load_causal_lm(path, seed, base_dir)
        self.path = path
        self.config = model.config
        self.transformer = model.base_model  # GPTJModel for GPT-J: state dict keys "transformer.*"
        hidden = getattr(self.config, "n_embd", None) or self.config.hidden_size
        with torch.random.fork_rng(devices=[]):  # a deterministic head before any checkpoint is loaded
            torch.manual_seed(seed)
            self.v_head = nn.Linear(hidden, 1, bias=False)
        tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.pad_id: int = tokenizer.pad_token_id
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.v_head.weight.device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                past_key_values: Any = None, head_mask: Any = None, inputs_embeds: Any = None,
                mc_token_ids: Any = None, labels: Any = None, return_dict: bool = True,
                output_attentions: bool = False, output_hidden_states: bool = False) -> dict[str, Any]:
        """``{loss, chosen_end_scores, rejected_end_scores}``, or only ``chosen_end_scores`` when any pair
        is identical (inference), plus ``hidden_states`` / ``attentions`` when asked.

        The signature is the original's; ``mc_token_ids``, ``labels`` and ``return_dict`` are accepted
        and ignored, as there (the result is always a dict). The end-score rule needs ``input_ids``, so
        ``inputs_embeds`` is refused, as are ``past_key_values`` and ``head_mask``.
        """
        if inputs_embeds is not None or past_key_values is not None or head_mask is not None:
            raise ValueError("TrlxRewardModule.forward takes input_ids only (no inputs_embeds, past_key_values "
                             "or head_mask)")
        if input_ids.dim() != 2 or input_ids.shape[0] % 2:
            raise ValueError("input_ids must be (2 * bs, seq_len), chosen rows then rejected; "
                             f"got {tuple(input_ids.shape)}")
        outputs = self.transformer(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                   position_ids=position_ids, use_cache=False, output_attentions=output_attentions,
                                   output_hidden_states=output_hidden_states)
        rewards = self.v_head(outputs[0]).squeeze(-1)
        result = pairwise_scores(input_ids, rewards, self.pad_id)
        if output_hidden_states:
            result["hidden_states"] = outputs.hidden_states
        if output_attentions:
            result["attentions"] = outputs.attentions
        return result

    # -- checkpoints ------------------------------------------------------------------------------

    def load_checkpoint(self, file: str | Path, sha256: str | None = None,
                        allow_unsafe_pickle: bool = False) -> TrlxRewardModule:
        """Load a whole-module state dict (``.pt``/``.bin`` or ``.safetensors``); returns ``self``.

        Keys must be exactly this module's (``transformer.*``, ``v_head.weight``), except the causal-mask
        buffers older transformers saved (``*.attn.bias``, ``*.attn.masked_bias``), which are dropped.
        """
        state = read_state_dict(file, sha256, allow_unsafe_pickle)
        own = self.state_dict()
        state = {k: v for k, v in state.items() if k in own or not k.endswith(OBSOLETE_BUFFERS)}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise UserError(f"checkpoint '{file}' does not fit the reward model built from '{self.path}': "
                            f"{_listing('missing', missing)}{'; ' if missing and unexpected else ''}"
                            f"{_listing('unexpected', unexpected)}")
        for key, value in state.items():
            if tuple(value.shape) != tuple(own[key].shape):
                raise UserError(f"checkpoint '{file}' does not fit the reward model built from '{self.path}': "
                                f"'{key}' has shape {tuple(value.shape)}, the model {tuple(own[key].shape)}")
        self.load_state_dict(state)
        return self

    # -- scoring ----------------------------------------------------------------------------------

    @torch.no_grad()
    def reference_score(self, texts: list[str]) -> list[float]:
        """End scores computed literally as the 2023 validator did: one text at a time, wrapped in
        ``<|startoftext|>``/``<|endoftext|>``, padded to 550 tokens (never truncated), duplicated into a
        batch of two (chosen = rejected) and read from ``chosen_end_scores[0]``. Slow; for checks."""
        scores = []
        for text in texts:
            encoded = self.tokenizer([START + text + END], truncation=False, max_length=REFERENCE_MAX_LENGTH,
                                     padding="max_length", return_tensors="pt")
            input_ids = encoded["input_ids"].repeat(2, 1).to(self.device)
            attention_mask = encoded["attention_mask"].repeat(2, 1).to(self.device)
            scores.append(float(self(input_ids=input_ids, attention_mask=attention_mask)["chosen_end_scores"][0]))
        return scores

    @torch.inference_mode()
    def score(self, texts: list[str], batch_size: int = 16) -> list[float]:
        """The same end scores as :meth:`reference_score`, batched: texts sorted by length, each batch
        right-padded (pad = eos) to its longest text, no duplication.

        The end token is found by the same rule on each text's own ids (first pad, i.e. first eos, minus
        one). Every wrapped text ends with eos, so that index lies inside the text, and with causal
        attention the reward there does not depend on how much padding follows it.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        encoded = self.tokenizer([START + text + END for text in texts], truncation=False)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        scores = [0.0] * len(texts)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = max(len(encoded[i]) for i in rows)
            input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
            for row, i in enumerate(rows):
                input_ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
                attention_mask[row, :len(encoded[i])] = 1
            hidden = self.transformer(input_ids.to(self.device), attention_mask=attention_mask.to(self.device),
                                      use_cache=False)[0]
            ends = [first_pad(torch.tensor(encoded[i]), self.pad_id) - 1 for i in rows]
            last = hidden[torch.arange(len(rows), device=hidden.device), torch.tensor(ends, device=hidden.device)]
            for i, value in zip(rows, self.v_head(last).squeeze(-1).tolist()):
                scores[i] = value
        return scores


def first_pad(ids: torch.Tensor, pad_id: int) -> int:
    """The index of the first pad token in a row of ids, or the row's length when there is none.

    The original reads the end score at ``first_pad - 1``: the last token before the padding (or the
    last position, index -1, when there is no pad, and also, as there, when the first token is a pad).
    """
    pads = (ids == pad_id).nonzero()
    return int(pads[0].item()) if len(pads) > 0 else ids.shape[0]


def pairwise_scores(input_ids: torch.Tensor, rewards: torch.Tensor, pad_id: int) -> dict[str, Any]:
    """The trlX pairwise head on per-token ``rewards`` (2 * bs, seq_len); see :class:`TrlxRewardModule`."""
    bs = input_ids.shape[0] // 2
    chosen, rejected = input_ids[:bs], input_ids[bs:]
    chosen_rewards, rejected_rewards = rewards[:bs], rewards[bs:]
    chosen_end_scores, rejected_end_scores = [], []
    loss = torch.zeros((), dtype=rewards.dtype, device=rewards.device)
    inference = False
    for i in range(bs):
        if torch.equal(chosen[i], rejected[i]):
            chosen_end_scores.append(chosen_rewards[i, first_pad(chosen[i], pad_id) - 1])
            inference = True
            continue
        end = max(first_pad(chosen[i], pad_id), first_pad(rejected[i], pad_id))
        divergence = int((chosen[i] != rejected[i]).nonzero()[0].item())
        if divergence == 0:
            raise ValueError(f"pair {i}: chosen and rejected must share a prefix (they differ at token 0)")
        if end <= divergence:
            raise ValueError(f"pair {i}: the sequences diverge at {divergence}, after both first pads ({end})")
        chosen_slice = chosen_rewards[i, divergence:end]
        rejected_slice = rejected_rewards[i, divergence:end]
        chosen_end_scores.append(chosen_slice[-1])
        rejected_end_scores.append(rejected_slice[-1])
        loss = loss - torch.log(torch.sigmoid(chosen_slice - rejected_slice)).mean()
    if inference:
        return {"chosen_end_scores": torch.stack(chosen_end_scores)}
    return {"loss": loss / bs, "chosen_end_scores": torch.stack(chosen_end_scores),
            "rejected_end_scores": torch.stack(rejected_end_scores)}


def read_state_dict(file: str | Path, sha256: str | None = None,
                    allow_unsafe_pickle: bool = False) -> dict[str, torch.Tensor]:
    """A state dict from ``.pt``/``.bin`` (``torch.load(weights_only=True)``) or ``.safetensors``.

    ``sha256`` (hex) is checked before anything is parsed. A pickle that needs arbitrary code (a whole
    pickled module, custom classes) is refused unless ``allow_unsafe_pickle``; only do that for files
    you trust. Every problem is a :class:`UserError`.
    """
    path = Path(file).expanduser()
    if not path.is_file():
        raise UserError(f"reward checkpoint '{file}' does not exist")
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise UserError(f"reward checkpoint '{file}' has an unsupported format; use one of "
                        + ", ".join(CHECKPOINT_SUFFIXES))
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256.strip().lower():
            raise UserError(f"reward checkpoint '{file}' has sha256 {actual}, expected {sha256}; "
                            "the file is corrupt, incomplete or not the one configured")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as error:
            raise UserError(f"cannot read reward checkpoint '{file}' as safetensors ({error})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        weights_only_refused = "weights only load failed" in str(error).lower()
        if weights_only_refused and allow_unsafe_pickle:
            state = _unsafe_load(path)
        elif weights_only_refused and "unsupported global" in str(error).lower():
            raise UserError(f"reward checkpoint '{file}' needs unsafe unpickling (it holds more than tensors, "
                            "which could run arbitrary code); convert it to a plain state dict or .safetensors, "
                            "or set allow_unsafe_pickle if you trust the file") from None
        else:  # not a pickle at all, or one the weights-only unpickler cannot parse
            raise UserError(f"cannot read reward checkpoint '{file}' ({_unpickler_reason(error)})") from None
    except Exception as error:  # noqa: BLE001 - torch reports corrupt archives as RuntimeError, EOFError, ...
        raise UserError(f"cannot read reward checkpoint '{file}' ({_first_line(error)})") from None
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise UserError(f"reward checkpoint '{file}' holds a {type(state).__name__}, not a state dict")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise UserError(f"reward checkpoint '{file}': entry '{key}' is a {type(value).__name__}, not a tensor")
    return dict(state)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _unsafe_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - unpickling can raise anything (missing classes, ...)
        raise UserError(f"cannot read reward checkpoint '{path}' ({_first_line(error)})") from None


def _unpickler_reason(error: BaseException) -> str:
    """The useful line of torch's long weights-only error ("Unsupported operand 110", ...)."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        lines = [line.strip() for line in text.split(marker, 1)[1].splitlines() if line.strip()]
        if lines:
            return lines[0][:200]
    return _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def _listing(kind: str, keys: list[str]) -> str:
    if not keys:
        return ""
    shown = ", ".join(f"'{k}'" for k in keys[:5])
    return f"{len(keys)} {kind} key(s) ({shown}{', ...' if len(keys) > 5 else ''})"


# -- the validator's reward -----------------------------------------------------------------------


def difference_texts(query: Query, completion: str) -> tuple[str, str]:
    """``(full, completion_only)`` as the 2023 validator's forward built them.

    ``full = "Question: " + "".join(m.strip() + "\\n" for every non-system message) + "Answer: " +
    completion.strip()``: each message is followed by a newline, so a newline also precedes "Answer: "
    (no space after it), and assistant messages count as well as user ones. ``completion_only`` is the
    stripped completion.
    """
    context = "".join(message.strip() + "\n" for role, message in zip(query.roles, query.messages)
                      if role != "system")
    return "Question: " + context + "Answer: " + completion.strip(), completion.strip()


def plain_text(query: Query, completion: str) -> str:
    """The inference-ranking text: every non-system message stripped and followed by a blank line
    (``"\\n\\n"``), then the stripped completion (no "Question:"/"Answer:" labels)."""
    context = "".join(message.strip() + "\n\n" for role, message in zip(query.roles, query.messages)
                      if role != "system")
    return context + completion.strip()


class RewardModel(RewardModelBase):
    """The 2023 validator's reward from a :class:`TrlxRewardModule`.

    ``form="difference"`` (training): ``relu(r(full) + shift) - relu(r(completion) + shift)`` with the
    texts of :func:`difference_texts`; raw components ``full`` and ``completion``. ``form="plain"``
    (inference ranking): ``r(prompt + completion)`` with the text of :func:`plain_text`; raw ``plain``.

    ``path`` builds the backbone (``tiny:gptj`` by default; ``EleutherAI/gpt-j-6b`` or a local copy for
    the real model), ``checkpoint`` loads ``hf_ckpt.pt`` or a ``.safetensors`` conversion of it.
    ``exact=True`` scores with the slow literal reference instead of the batched path. Relative
    ``path`` and ``checkpoint`` are read from ``base_dir`` (the config's folder) when given.
    """

    def __init__(self, seed: int = 0, path: str = "tiny:gptj", checkpoint: str | None = None,
                 sha256: str | None = None, allow_unsafe_pickle: bool = False, form: str = "difference",
                 shift: float = 3.0, batch_size: int = 16, device: str = "cpu", dtype: str = "float32",
                 exact: bool = False, base_dir: Path | None = None) -> None:
        super().__init__(seed)
        if form not in ("difference", "plain"):
            raise UserError(f"reward form must be 'difference' or 'plain', not '{form}'")
        if dtype not in ("float32", "float16", "bfloat16"):
            raise UserError(f"reward dtype must be float32, float16 or bfloat16, not '{dtype}'")
        self.form, self.shift, self.batch_size, self.exact = form, float(shift), batch_size, exact
        self.module = TrlxRewardModule(path, seed, base_dir)
        if checkpoint is not None:
            file = Path(checkpoint).expanduser()
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            self.module.load_checkpoint(file, sha256, allow_unsafe_pickle)
        self.module.to(device=device, dtype=getattr(torch, dtype)).requires_grad_(False)

    def score(self, texts: list[str]) -> np.ndarray:
        """End scores ``r(text)``."""
        if not texts:
            return np.zeros(0)
        values = self.module.reference_score(texts) if self.exact else self.module.score(texts, self.batch_size)
        return np.asarray(values, dtype=np.float64)

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        if self.form == "plain":
            plain = self.score([plain_text(query, c) for c in completions])
            return Rewards(plain, {"plain": plain})
        pairs = [difference_texts(query, c) for c in completions]
        values = self.score([full for full, _ in pairs] + [only for _, only in pairs])
        full, only = values[:len(pairs)], values[len(pairs):]
        final = np.maximum(full + self.shift, 0.0) - np.maximum(only + self.shift, 0.0)
        return Rewards(final, {"full": full, "completion": only})
