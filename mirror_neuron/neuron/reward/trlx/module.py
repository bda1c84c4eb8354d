"""The trlX-style pairwise reward model of the 2023 validator (Dahoas/gptj-rm-static), as a torch module.

:class:`TrlxRewardModule` has exactly the original module's shape (``transformer`` = the causal LM's
base model, ``v_head`` = ``Linear(hidden, 1, bias=False)``), so the ``hf_ckpt.pt`` state dict (keys
``transformer.*`` and ``v_head.weight``) loads into a GPT-J built from ``EleutherAI/gpt-j-6b``.

``TrlxRewardModule.reference_score`` is the original scoring, literally (one text at a time, padded to
550 tokens, duplicated into a pair); ``score`` gives the same scores batched, many times faster
(``bench/reward_query.py`` measures both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from mirror_neuron.models.causal_lm import load_causal_lm
from mirror_neuron.neuron.reward.trlx.batching import end_cut, plan_batches
from mirror_neuron.neuron.reward.trlx.checkpoint import fitting_state_dict, read_state_dict
from mirror_neuron.neuron.reward.trlx.gptj import gptj_end_hidden, gptj_prefix_cache, gptj_supported

START, END = "<|startoftext|>", "<|endoftext|>"
REFERENCE_MAX_LENGTH = 550
# Padded tokens per forward in score(): enough rows for efficient CPU matrix products, activations near cache size.
SCORE_MAX_TOKENS = 4096


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
        self.load_state_dict(fitting_state_dict(state, self.state_dict(), file, self.path))
        return self

    # -- scoring ----------------------------------------------------------------------------------

    @torch.no_grad()
    def reference_score(self, texts: list[str], max_length: int | None = None) -> list[float]:
        """End scores computed literally as the 2023 validator did: one text at a time, wrapped in
        ``<|startoftext|>``/``<|endoftext|>``, padded to 550 tokens (never truncated), duplicated into a
        batch of two (chosen = rejected) and read from ``chosen_end_scores[0]``. Slow; for checks.
        ``max_length``: the original's ``truncation: true`` with that ``max_length`` (tokens kept)."""
        scores = []
        for text in texts:
            encoded = self.tokenizer([START + text + END], truncation=max_length is not None,
                                     max_length=max_length or REFERENCE_MAX_LENGTH, padding="max_length",
                                     return_tensors="pt")
            input_ids = encoded["input_ids"].repeat(2, 1).to(self.device)
            attention_mask = encoded["attention_mask"].repeat(2, 1).to(self.device)
            scores.append(float(self(input_ids=input_ids, attention_mask=attention_mask)["chosen_end_scores"][0]))
        return scores

    @torch.inference_mode()
    def score(self, texts: list[str], batch_size: int = 16, max_tokens: int = SCORE_MAX_TOKENS,
              max_length: int | None = None) -> list[float]:
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
        ``max_length`` cuts each wrapped text to that many tokens (the end score is then read at the
        last one kept), as :meth:`reference_score` does.
        """
        if batch_size < 1 or max_tokens < 1:
            raise ValueError(f"batch_size and max_tokens must be at least 1, got {batch_size} and {max_tokens}")
        if not texts:
            return []
        encoded = self.tokenizer([START + text + END for text in texts], truncation=max_length is not None,
                                 max_length=max_length)["input_ids"]
        ids = [end_cut(row, self.pad_id) for row in encoded]
        scores = [0.0] * len(texts)
        odd = [i for i, row in enumerate(ids) if not row]  # the text starts with a pad: the rule reads the padding
        for i, value in zip(odd, self.reference_score([texts[i] for i in odd], max_length)):
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
