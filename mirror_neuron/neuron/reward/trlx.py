"""The 2023 validator's reward: a trlX-style pairwise reward model (Dahoas/gptj-rm-static).

:class:`TrlxRewardModule` has exactly the original module's shape (``transformer`` = the causal LM's
base model, ``v_head`` = ``Linear(hidden, 1, bias=False)``), so the ``hf_ckpt.pt`` state dict (keys
``transformer.*`` and ``v_head.weight``) loads into a GPT-J built from ``EleutherAI/gpt-j-6b``.
:class:`RewardModel` is the validator's reward built on it (difference form with a shift).

``TrlxRewardModule.reference_score`` is the original scoring, literally (one text at a time, padded to
550 tokens, duplicated into a pair); ``score`` gives the same scores batched, many times faster
(``bench/reward_query.py`` measures both).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mirror_neuron.errors import UserError
from mirror_neuron.models.causal_lm import load_causal_lm
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase, Rewards

START, END = "<|startoftext|>", "<|endoftext|>"
REFERENCE_MAX_LENGTH = 550
# Padded tokens per forward in score(): enough rows for efficient CPU matrix products, activations near cache size.
SCORE_MAX_TOKENS = 4096
CHECKPOINT_SUFFIXES = (".pt", ".bin", ".safetensors")
# Causal-mask buffers that transformers < 4.27 saved in GPT-J/GPT-2 state dicts; current versions build them.
OBSOLETE_BUFFERS = (".attn.bias", ".attn.masked_bias")


class TrlxRewardModule(nn.Module):
    """A causal LM's base model with a scalar head: one reward per token, scored at the text's end.

    ``forward`` takes ``2 * bs`` rows, the first ``bs`` "chosen" and the last ``bs`` "rejected". A pair
    whose rows are identical is scored for inference; other pairs give the pairwise training loss.
    """

    def __init__(self, path: str = "tiny:gptj", seed: int = 0, base_dir: Path | None = None, *,
                 causal_lm: tuple[Any, Any] | None = None) -> None:
        """The backbone is loaded from ``path``, or wrapped from ``causal_lm`` = ``(model, tokenizer)`` when
        given (a model built elsewhere, e.g. ``tiny_causal_lm("tiny:gptj", layers=6, width=512)``)."""
        super().__init__()
        model, tokenizer = causal_lm if causal_lm is not None else load_causal_lm(path, seed, base_dir)
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
    def score(self, texts: list[str], batch_size: int = 16, max_tokens: int = SCORE_MAX_TOKENS) -> list[float]:
        """The same end scores as :meth:`reference_score` (within float rounding), batched.

        All texts are tokenized in one call and cut after their end token (the rule's "first pad minus
        one"; with causal attention nothing after it can change the reward there). Rows are sorted by
        length and grouped into batches of at most ``batch_size`` rows and ``max_tokens`` padded tokens
        (a single longer row runs alone), right-padded to the batch's longest row, not duplicated; no
        attention mask is needed, as the padding follows each end. The tokens every row of a batch
        starts with (at least ``<|startoftext|>``) run once, and ``v_head`` reads each row's end only.
        GPT-J backbones run :func:`gptj_end_hidden` (padding only inside attention, the last layer at
        the ends only, fused GELU and rotary; a prefix shared with the previous batch is not run again);
        others the model's own forward. Results differ from
        :meth:`reference_score`, and between batchings, by float rounding only (about 1e-6 in float32).
        """
        if batch_size < 1 or max_tokens < 1:
            raise ValueError(f"batch_size and max_tokens must be at least 1, got {batch_size} and {max_tokens}")
        if not texts:
            return []
        encoded = self.tokenizer([START + text + END for text in texts], truncation=False)["input_ids"]
        ids = [end_cut(row, self.pad_id) for row in encoded]
        scores = [0.0] * len(texts)
        odd = [i for i, row in enumerate(ids) if not row]  # the text starts with a pad: the rule reads the padding
        for i, value in zip(odd, self.reference_score([texts[i] for i in odd])):
            scores[i] = value
        fast = self.transformer.config.model_type == "gptj" and gptj_supported(self.transformer)
        cached: tuple[list[int], Any] = ([], None)  # the last prefix and its keys and values, for the next batch
        for batch in plan_batches([row if row else None for row in ids], batch_size, max_tokens):
            prefix = torch.tensor(batch.prefix, dtype=torch.long, device=self.device)
            suffix = torch.full((len(batch.rows), batch.width), self.pad_id, dtype=torch.long)
            for row, tail in enumerate(batch.suffixes):
                suffix[row, :len(tail)] = torch.tensor(tail, dtype=torch.long)
            ends = torch.tensor([len(tail) - 1 for tail in batch.suffixes], device=self.device)
            suffix = suffix.to(self.device)
            if fast:
                if batch.prefix and batch.prefix != cached[0]:
                    cached = (batch.prefix, gptj_prefix_cache(self.transformer, prefix))
                hidden = gptj_end_hidden(self.transformer, suffix, ends, cached[1] if batch.prefix else None)
            else:  # the model's own forward over prefix + suffix; no mask needed: the padding follows each end
                full = torch.cat([prefix.expand(len(batch.rows), -1), suffix], dim=1)
                states = self.transformer(full, use_cache=False)[0]
                hidden = states[torch.arange(len(batch.rows), device=self.device), len(batch.prefix) + ends]
            for i, value in zip(batch.rows, self.v_head(hidden).squeeze(-1).float().tolist()):
                scores[i] = value
        return scores


@dataclass(frozen=True)
class ScoreBatch:
    """One forward of :meth:`TrlxRewardModule.score`: ``rows`` (indices into the texts, shortest first)
    share the token ids ``prefix``; ``suffixes`` are their remaining ids, each ending at its end token."""

    rows: list[int]
    prefix: list[int]
    suffixes: list[list[int]]

    @property
    def width(self) -> int:
        """The padded length of the suffixes."""
        return max(len(tail) for tail in self.suffixes)


def end_cut(ids: list[int], pad_id: int) -> list[int]:
    """A row's ids up to and including its end token (the one before the first pad); empty when the
    row starts with a pad (the original rule then reads the last position of the padded row)."""
    return ids[:ids.index(pad_id)] if pad_id in ids else list(ids)


def plan_batches(rows: list[list[int] | None], batch_size: int, max_tokens: int) -> list[ScoreBatch]:
    """Batches of the non-None ``rows`` sorted by length (stably): at most ``batch_size`` rows and
    ``max_tokens`` padded tokens (rows x longest) each; every batch keeps its rows' common leading
    ids as ``prefix``, less one token so that each suffix holds at least its end token."""
    order = sorted((i for i, row in enumerate(rows) if row), key=lambda i: len(rows[i]))
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < batch_size and (len(groups[-1]) + 1) * len(rows[i]) <= max_tokens:
            groups[-1].append(i)
        else:
            groups.append([i])
    batches = []
    for group in groups:
        first = rows[group[0]]
        shared = len(first) - 1  # the shortest row comes first
        for i in group[1:]:
            row = rows[i]
            shared = next((k for k in range(shared) if row[k] != first[k]), shared)
        batches.append(ScoreBatch(group, first[:shared], [rows[i][shared:] for i in group]))
    return batches


# -- a fused GPT-J forward for scoring ----------------------------------------------------------------


def gptj_supported(transformer: nn.Module) -> bool:
    """Whether :func:`gptj_end_hidden` can run this GPT-J (the module layout it reads is there)."""
    blocks = getattr(transformer, "h", None)
    return (hasattr(transformer, "rotary_emb") and hasattr(transformer.rotary_emb, "embed_positions")
            and blocks is not None and len(blocks) > 0
            and all(hasattr(block, "attn") and hasattr(block, "mlp") for block in blocks))


def gptj_prefix_cache(transformer: nn.Module, prefix: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The keys and values of every layer of a GPT-J at the ``prefix`` ids (P,), as a batch of one."""
    slots = torch.arange(prefix.shape[0], device=prefix.device)
    return _gptj_layers(transformer, prefix, slots, 1, prefix.shape[0], 0, None, None)


def gptj_end_hidden(transformer: nn.Module, suffix: torch.Tensor, ends: torch.Tensor,
                    cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> torch.Tensor:
    """The final hidden state (after ``ln_f``) at position ``P + ends[b]`` of each row ``prefix +
    suffix[b]`` of a GPT-J, where ``cache`` = :func:`gptj_prefix_cache` of the P prefix ids shared by
    every row (None: no prefix), computed as the model's forward would, with less work.

    ``suffix`` (B, S) is right-padded; its tokens up to each end are packed, so the linear layers and
    the MLP never see padding, which exists only inside attention (causal: nothing after an end can
    reach it, so no padding mask is built). The prefix ran once, for every row. The last layer runs
    its keys and values for every token but its query, attention output and MLP at the ends only.
    GELU (tanh form) and rotary embeddings use one kernel each instead of the model code's chains of
    elementwise operations.
    """
    start = 0 if cache is None else cache[0][0].shape[2]
    batch, width = suffix.shape
    real = (torch.arange(width, device=suffix.device)[None, :] <= ends[:, None]).flatten().nonzero().squeeze(1)
    return _gptj_layers(transformer, suffix.flatten()[real], real, batch, width, start, cache, ends)


def _gptj_layers(transformer: nn.Module, ids: torch.Tensor, slots: torch.Tensor, batch: int, width: int,
                 start: int, cache: list | None, ends: torch.Tensor | None) -> Any:
    """Run the blocks on the packed tokens ``ids`` (T,) that sit at ``slots`` (T,) of a right-padded
    (``batch``, ``width``) layout, at positions ``start + slot % width``, after the ``start`` positions
    whose per-layer keys and values ``cache`` holds (batch 1).

    With ``ends`` (B,): the final hidden states at those indices of each row. Without: the keys and
    values of every layer (for a prefix; its last layer then needs no attention output or MLP).
    """
    config = transformer.config
    heads = config.n_head
    x = transformer.wte(ids)  # (T, hidden)
    tokens, hidden_size = x.shape
    head_dim = hidden_size // heads
    table = transformer.rotary_emb.embed_positions
    cos, sin = _rotary(table, start + slots % width)
    cos, sin = cos[:, None, :], sin[:, None, :]  # (T, 1, rotary / 2): broadcast over heads
    mask = None if cache is None else torch.ones(width, start + width, dtype=torch.bool, device=x.device).tril(start)

    def padded(t: torch.Tensor) -> torch.Tensor:  # (T, heads, head_dim) -> (B, heads, S, head_dim)
        if tokens < batch * width:  # zeros, not garbage, in the padding: attention multiplies it by 0
            t = t.new_zeros(batch * width, heads, head_dim).index_copy_(0, slots, t)
        return t.view(batch, width, heads, head_dim).transpose(1, 2)

    kept = []
    last = len(transformer.h) - 1
    for layer, block in enumerate(transformer.h):
        attn, mlp = block.attn, block.mlp
        normed = block.ln_1(x)
        key = F.linear(normed, attn.k_proj.weight).view(tokens, heads, head_dim)
        _rotate(key, cos, sin)
        key, value = padded(key), padded(F.linear(normed, attn.v_proj.weight).view(tokens, heads, head_dim))
        if cache is not None:
            past_key, past_value = cache[layer]
            key = torch.cat([past_key.expand(batch, -1, -1, -1), key], dim=2)
            value = torch.cat([past_value.expand(batch, -1, -1, -1), value], dim=2)
        if ends is None:
            kept.append((key, value))
            if layer == last:
                return kept
        elif layer == last:  # only the end positions go on
            at_ends = torch.searchsorted(slots, torch.arange(batch, device=x.device) * width + ends)
            normed, x = normed[at_ends], x[at_ends]  # (B, hidden)
            end_cos, end_sin = _rotary(table, start + ends)
            query = F.linear(normed, attn.q_proj.weight).view(batch, 1, heads, head_dim)
            _rotate(query, end_cos[:, None, None, :], end_sin[:, None, None, :])
            visible = torch.arange(start + width, device=x.device)[None, :] <= start + ends[:, None]
            context = F.scaled_dot_product_attention(query.transpose(1, 2), key, value, scale=attn.scaling,
                                                     attn_mask=visible[:, None, None, :]).reshape(batch, hidden_size)
            out = F.linear(_gelu(mlp, F.linear(normed, mlp.fc_in.weight, mlp.fc_in.bias)), mlp.fc_out.weight,
                           mlp.fc_out.bias)
            return transformer.ln_f(out.addmm_(context, attn.out_proj.weight.t()).add_(x))
        query = F.linear(normed, attn.q_proj.weight).view(tokens, heads, head_dim)
        _rotate(query, cos, sin)
        context = F.scaled_dot_product_attention(padded(query), key, value, attn_mask=mask, is_causal=mask is None,
                                                 scale=attn.scaling)
        context = context.transpose(1, 2).reshape(batch * width, hidden_size)
        if tokens < batch * width:
            context = context[slots]
        out = F.linear(_gelu(mlp, F.linear(normed, mlp.fc_in.weight, mlp.fc_in.bias)), mlp.fc_out.weight,
                       mlp.fc_out.bias)
        x = out.addmm_(context, attn.out_proj.weight.t()).add_(x)
    raise AssertionError("unreachable: the last layer returns")


def _rotary(table: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """GPT-J's rotary ``(cos, sin)`` at ``positions`` from its ``[sin | cos]`` table."""
    sincos = table[positions]
    half = sincos.shape[-1] // 2
    return sincos[..., half:], sincos[..., :half]


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> None:
    """GPT-J's rotary embedding, in place, on the first ``2 * cos.shape[-1]`` features of each head of
    ``x`` (..., heads, head_dim): each pair ``(x[2i], x[2i+1])`` turns by the angle of ``(cos[i], sin[i])``."""
    half = cos.shape[-1]
    pairs = x[..., :2 * half].unflatten(-1, (half, 2))
    if x.dtype in (torch.float32, torch.float64):  # one complex multiply: (a + ib)(cos + i sin)
        torch.view_as_complex(pairs).mul_(torch.complex(cos.to(x.dtype), sin.to(x.dtype)))
        return
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)  # as the reference code: the table in the model's dtype
    even, odd = pairs[..., 0], pairs[..., 1]
    turned = even * cos - odd * sin
    odd.mul_(cos).add_(even * sin)
    even.copy_(turned)


def _gelu(mlp: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """GPT-J's activation: ``gelu_new`` (the tanh form) as one kernel; any other as the model has it."""
    if type(mlp.act).__name__ in ("NewGELUActivation", "GELUTanh"):
        return F.gelu(x, approximate="tanh")
    return mlp.act(x)


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


def resolve_device(choice: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is available, else ``cpu``; ``cuda`` without a GPU is a UserError."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"reward device {choice} was asked for but no GPU is available; use cpu or auto")
    if choice != "cpu" and not choice.startswith("cuda"):
        raise UserError(f"reward device must be auto, cpu or cuda[:N], not '{choice}'")
    return choice


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
    ``device`` is ``auto`` (cuda when available, else cpu), ``cpu``, ``cuda`` or ``cuda:N``; ``dtype``
    ``float16``/``bfloat16`` is for GPUs only (its scores then differ from float32 by the rounding).
    """

    def __init__(self, seed: int = 0, path: str = "tiny:gptj", checkpoint: str | None = None,
                 sha256: str | None = None, allow_unsafe_pickle: bool = False, form: str = "difference",
                 shift: float = 3.0, batch_size: int = 16, device: str = "auto", dtype: str = "float32",
                 exact: bool = False, base_dir: Path | None = None) -> None:
        super().__init__(seed)
        if form not in ("difference", "plain"):
            raise UserError(f"reward form must be 'difference' or 'plain', not '{form}'")
        device = resolve_device(device)
        if dtype not in ("float32", "float16", "bfloat16"):
            raise UserError(f"reward dtype must be float32, float16 or bfloat16, not '{dtype}'")
        if dtype != "float32" and not device.startswith("cuda"):
            raise UserError(f"reward dtype {dtype} needs a GPU (device cuda or auto on a machine with one); "
                            f"on {device} use float32")
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
