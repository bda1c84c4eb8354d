"""A fused GPT-J forward for scoring: the final hidden state at each row's end token, with less work.

The same numbers as the model's own forward (within float rounding): padding only inside attention,
a shared prefix run once, the last layer's query, output and MLP at the end positions only, and GELU
and rotary embeddings as one kernel each.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

KeysValues = list[tuple[torch.Tensor, torch.Tensor]]  # per layer, of a prefix run as a batch of one


def gptj_supported(transformer: nn.Module) -> bool:
    """Whether :func:`gptj_end_hidden` can run this GPT-J (the module layout it reads is there)."""
    blocks = getattr(transformer, "h", None)
    return (hasattr(transformer, "rotary_emb") and hasattr(transformer.rotary_emb, "embed_positions")
            and blocks is not None and len(blocks) > 0
            and all(hasattr(block, "attn") and hasattr(block, "mlp") for block in blocks))


def gptj_prefix_cache(transformer: nn.Module, prefix: torch.Tensor) -> KeysValues:
    """The keys and values of every layer of a GPT-J at the ``prefix`` ids (P,), as a batch of one."""
    slots = torch.arange(prefix.shape[0], device=prefix.device)
    return _gptj_layers(transformer, prefix, slots, 1, prefix.shape[0], 0, None, None)


def gptj_end_hidden(transformer: nn.Module, suffix: torch.Tensor, ends: torch.Tensor,
                    cache: KeysValues | None = None) -> torch.Tensor:
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
                 start: int, cache: KeysValues | None, ends: torch.Tensor | None) -> torch.Tensor | KeysValues:
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
