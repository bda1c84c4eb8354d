"""The 2023 validator's reward on a :class:`TrlxRewardModule`: :class:`RewardModel` (texts: :mod:`.texts`).

``RewardModel`` is also the ``trlx`` kind of a ``type: reward_model`` step: rows score as
``r(prompt + completion)``, preference pairs with the trlX pairwise rule. It is openvalidators'
``dahoas`` scorer too (``form: openvalidators``, ``load_checkpoint: false``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mirror_neuron.errors import UserError
from mirror_neuron.models.causal_lm import load_causal_lm
from mirror_neuron.models.device import describe_network, resolve_device, resolve_dtype
from mirror_neuron.models.tiny import is_tiny
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import PairScores, RewardModelBase, Rewards
from mirror_neuron.neuron.reward.trlx.module import END, START, TrlxRewardModule, first_pad, pairwise_scores
from mirror_neuron.neuron.reward.trlx.texts import difference_reward, difference_texts, plain_text
from mirror_neuron.registry import component

FORMS = ("difference", "plain", "openvalidators")
BACKBONE = "EleutherAI/gpt-j-6b"  # the original backbone, and where the checkpoint below fits
CHECKPOINT = "Dahoas/gptj-rm-static"  # its hf_ckpt.pt: every weight of the original reward model
NO_CHECKPOINT = "random weights (no checkpoint)"


@functools.lru_cache(maxsize=2)
def shared_module(path: str, seed: int, base_dir: Path | None, tokenizer: str, embedding: str, norm: str,
                  checkpoint: Path | None, sha256: str | None, allow_unsafe_pickle: bool, device: str,
                  dtype: torch.dtype, from_config: bool = False) -> TrlxRewardModule:
    """The frozen :class:`TrlxRewardModule` these settings build, loaded once per process: a tournament
    builds a neuron per repetition, and a 6B checkpoint should be read once (the weights never change).
    ``from_config``: the backbone is built from ``path``'s config with random weights (see :func:`config_built`)."""
    module = TrlxRewardModule(path, seed, base_dir, causal_lm=config_built(path, seed, base_dir) if from_config
                              else None)
    apply_overrides(module, tokenizer, embedding, norm, base_dir)
    if checkpoint is not None:
        module.load_checkpoint(checkpoint, sha256, allow_unsafe_pickle)
    return module.to(device=device, dtype=dtype).requires_grad_(False)


def config_built(path: str, seed: int, base_dir: Path | None) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a causal LM built from ``path``'s config with weights drawn from ``seed`` (no
    pretrained weight read), as openvalidators' Dahoas scorer built ``from_config`` its GPT-J-6B."""
    if is_tiny(path):  # tiny models are built from a config already
        return load_causal_lm(path, seed, base_dir)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    local = base_dir / path if base_dir is not None and (base_dir / path).exists() else Path(path).expanduser()
    source = str(local) if local.is_dir() else path
    try:
        config, tokenizer = AutoConfig.from_pretrained(source), AutoTokenizer.from_pretrained(source)
    except OSError as error:
        raise UserError(f"cannot read the config of '{path}' ({' '.join(str(error).split())[:200]}); without the "
                        "hub, point path at a local model directory or 'tiny:gptj'") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    return model.eval(), tokenizer


@component("reward",
           summary="2023 validator: trlX GPT-J reward model (v_head), difference reward with shift",
           aliases=("trlx",))
class RewardModel(RewardModelBase):
    """The 2023 validator's reward from a :class:`TrlxRewardModule`.

    ``form="difference"`` (training): ``relu(r(full) + shift) - relu(r(completion) + shift)`` with the
    texts of :func:`difference_texts`; raw components ``full`` and ``completion``. ``form="plain"``
    (inference ranking): ``r(prompt + completion)`` with the text of :func:`plain_text`; raw ``plain``.
    ``form="openvalidators"`` (its Dahoas scorer): ``r(prompt + completion) - r(completion)``, the query's
    prompt and the completion joined as they are (no labels, no shift, no relu); raw ``full`` and
    ``completion``.

    ``load_checkpoint=False``: openvalidators' Dahoas bug. It downloaded ``hf_ckpt.pt`` and never loaded
    it, building GPT-J-6B from its config: backbone and ``v_head`` both random. So the backbone is
    built from ``path``'s config with weights drawn from ``seed`` and ``checkpoint`` is never read.

    ``path`` builds the backbone (``tiny:gptj`` by default; ``EleutherAI/gpt-j-6b`` or a local copy for
    the real model), ``checkpoint`` loads ``hf_ckpt.pt`` or a ``.safetensors`` conversion of it.
    ``exact=True`` scores with the slow literal reference instead of the batched path. Relative
    ``path`` and ``checkpoint`` are read from ``base_dir`` (the config's folder) when given.
    ``device`` and ``dtype``: see :mod:`mirror_neuron.models.device` (half precision on GPUs only; its
    scores then differ from float32 by the rounding). The original's overrides: ``tokenizer`` (another
    tokenizer's path), ``embedding: resize`` (token embeddings to that tokenizer), ``norm`` (the final
    norm replaced by ``identity`` or a fresh ``reset`` LayerNorm).
    """

    stateless = True

    def __init__(self, seed: int = 0, path: str = "tiny:gptj", checkpoint: str | None = None,
                 sha256: str | None = None, allow_unsafe_pickle: bool = False, form: str = "difference",
                 shift: float = 3.0, batch_size: int = 16, device: str = "auto", dtype: str = "float32",
                 exact: bool = False, tokenizer: str = "default", embedding: str = "default", norm: str = "default",
                 load_checkpoint: bool = True, base_dir: Path | None = None) -> None:
        super().__init__(seed)
        if form not in FORMS:
            raise UserError(f"reward form must be one of {', '.join(FORMS)}, not '{form}'")
        device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, device)
        self.form, self.shift, self.batch_size, self.exact, self.path = form, float(shift), batch_size, exact, path
        self.load_checkpoint, self.has_checkpoint = load_checkpoint, checkpoint is not None
        file = None
        if checkpoint is not None and load_checkpoint:
            file = Path(checkpoint).expanduser()
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
        weights_seed = seed if file is None else 0  # a checkpoint sets every weight: the seed changes none
        self.module = shared_module(path, weights_seed, base_dir, tokenizer, embedding, norm, file, sha256,
                                    allow_unsafe_pickle, device, torch_dtype, not load_checkpoint)

    def describe(self) -> dict[str, str | int]:
        return describe_network(self.module)

    def stand_ins(self) -> dict[str, str]:
        """The GPT-J-6B backbone when ``path`` is another, and the Dahoas checkpoint when none is loaded
        (except under ``load_checkpoint=False``: the original loaded none either). A configured checkpoint
        is taken for the original's."""
        found = {} if self.path == BACKBONE else {BACKBONE: self.path}
        if not self.has_checkpoint and self.load_checkpoint:
            found[CHECKPOINT] = NO_CHECKPOINT
        return found

    def end_scores(self, texts: list[str]) -> np.ndarray:
        """End scores ``r(text)``."""
        if not texts:
            return np.zeros(0)
        module = self.module
        values = module.reference_score(texts, self.max_length) if self.exact else \
            module.score(texts, self.batch_size, max_length=self.max_length)
        return np.asarray(values, dtype=np.float64)

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """``r(prompt + completion)`` of every row."""
        return self.end_scores([p + c for p, c in zip(prompts, completions, strict=True)])

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        if self.form == "plain":
            plain = self.end_scores([plain_text(query, c) for c in completions])
            return Rewards(plain, {"plain": plain})
        if self.form == "openvalidators":
            pairs = [(query.prompt + c, c) for c in completions]
        else:
            pairs = [difference_texts(query, c) for c in completions]
        values = self.end_scores([full for full, _ in pairs] + [only for _, only in pairs])
        full, only = values[:len(pairs)], values[len(pairs):]
        final = full - only if self.form == "openvalidators" else difference_reward(full, only, self.shift)
        return Rewards(final, {"full": full, "completion": only})

    def score_pairs(self, prompts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str]) -> PairScores:
        """The original's pairwise rule, per pair: the loss over the tokens after the texts diverge.

        Each batch of pairs runs as one forward pass (right padding to the longest text; with causal
        attention the padding after a text's end cannot change its rewards), then each pair is read
        with the original's rule on its own two rows, so the loss is per pair, not a batch mean. A pair
        whose two texts are identical (after truncation) has loss ``log 2`` and equal end scores.
        """
        module = self.module
        out: dict[str, list[float]] = {"loss": [], "chosen_end_scores": [], "rejected_end_scores": []}
        for start in range(0, len(prompts), self.batch_size):
            rows = range(start, min(start + self.batch_size, len(prompts)))
            texts = [START + prompts[i] + chosen[i] + END for i in rows] + \
                    [START + prompts[i] + rejected[i] + END for i in rows]
            encoded = self._encode(texts)
            with torch.inference_mode():
                hidden = module.transformer(**encoded, use_cache=False)[0]
                rewards = module.v_head(hidden).squeeze(-1)
            n = len(rows)
            for k in range(n):
                pair = pairwise_scores(encoded["input_ids"][[k, n + k]], rewards[[k, n + k]], module.pad_id)
                chosen_score = float(pair["chosen_end_scores"][0])
                out["chosen_end_scores"].append(chosen_score)
                out["rejected_end_scores"].append(float(pair.get("rejected_end_scores", [chosen_score])[0]))
                out["loss"].append(float(pair["loss"]) if "loss" in pair else float(np.log(2.0)))
        return PairScores(*(np.asarray(out[name], dtype=np.float64) for name in out))

    def features(self, prompts: Sequence[str], completions: Sequence[str], layers: str,
                 pool: str) -> dict[str, list[np.ndarray] | np.ndarray]:
        """Tensors of each ``START + prompt + completion + END`` text, for storage: ``tokens`` (ids up
        to the end token), ``embeddings`` (the last layer at the end token: what ``v_head`` reads) and
        ``hidden_states`` (``layers``: ``last`` or ``all``, each pooled at the end token or by ``mean``
        over the text), as float16."""
        module = self.module
        tokens: list[np.ndarray] = []
        embeddings, hidden = [], []
        for start in range(0, len(prompts), self.batch_size):
            texts = [START + p + c + END for p, c in zip(prompts[start:start + self.batch_size],
                                                         completions[start:start + self.batch_size], strict=True)]
            encoded = self._encode(texts)
            with torch.inference_mode():
                states = module.transformer(**encoded, use_cache=False, output_hidden_states=True).hidden_states
            for row, ids in enumerate(encoded["input_ids"]):
                end = first_pad(ids, module.pad_id) - 1
                tokens.append(ids[:end + 1].cpu().numpy().astype(np.int32))
                chosen_layers = states if layers == "all" else states[-1:]
                pooled = [layer[row, end] if pool == "end" else layer[row, :end + 1].mean(0) for layer in chosen_layers]
                hidden.append(torch.stack(pooled).float().cpu().numpy().astype(np.float16))
                embeddings.append(states[-1][row, end].float().cpu().numpy().astype(np.float16))
        return {"tokens": tokens, "embeddings": np.stack(embeddings), "hidden_states": np.stack(hidden)}

    def _encode(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Right-padded ids and mask of ``texts`` on the module's device, cut to ``max_length`` when set."""
        encoded = self.module.tokenizer(texts, padding="longest", truncation=self.max_length is not None,
                                        max_length=self.max_length, return_tensors="pt")
        return {name: tensor.to(self.module.device) for name, tensor in encoded.items()}


def apply_overrides(module: TrlxRewardModule, tokenizer: str, embedding: str, norm: str,
                    base_dir: Path | None) -> None:
    """The original's ``tokenizer``, ``embedding`` and ``norm`` overrides, on the module in place."""
    base_model = module.transformer
    if tokenizer != "default":
        from transformers import AutoTokenizer

        local = (base_dir or Path(".")) / tokenizer
        replacement = AutoTokenizer.from_pretrained(str(local) if local.exists() else tokenizer)
        replacement.pad_token = replacement.eos_token
        module.tokenizer, module.pad_id = replacement, replacement.pad_token_id
    if embedding not in ("default", "resize"):
        raise UserError(f"embedding must be default or resize, not '{embedding}'")
    if embedding == "resize":
        base_model.resize_token_embeddings(len(module.tokenizer))
    if norm not in ("default", "identity", "reset"):
        raise UserError(f"norm must be default, identity or reset, not '{norm}'")
    if norm != "default":
        name = next((n for n in ("ln_f", "norm", "final_layer_norm") if hasattr(base_model, n)), None)
        if name is None:
            raise UserError(f"norm: {norm}: the model '{module.path}' has no final norm to replace")
        old = getattr(base_model, name)
        setattr(base_model, name, torch.nn.Identity() if norm == "identity"
                else torch.nn.LayerNorm(old.normalized_shape, eps=old.eps))
