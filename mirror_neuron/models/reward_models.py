"""Reward models behind one interface for the reward-model query: score rows, score preference pairs.

``load_reward_model(config, ...)`` builds a :class:`ScoringModel` for the ``kind`` a ``type:
reward_model`` entry names; the trlX kind is the same :class:`TrlxRewardModule` the neuron uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mirror_neuron.errors import UserError


class ScoringModel:
    """Scores ``(prompt, completion)`` rows, and preference pairs ``(prompt, chosen, rejected)``,
    ``batch_size`` rows per forward pass."""

    kind: str
    batch_size: int

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def score(self, prompts: list[str], completions: list[str]) -> np.ndarray:
        raise NotImplementedError

    def score_pairs(self, prompts: list[str], chosen: list[str], rejected: list[str]) -> dict[str, np.ndarray]:
        """``{loss, chosen_end_scores, rejected_end_scores}`` per pair (loss: ``-log sigmoid(c - r)``)."""
        chosen_scores = self.score(prompts, chosen)
        rejected_scores = self.score(prompts, rejected)
        return {"loss": np.logaddexp(0.0, -(chosen_scores - rejected_scores)),
                "chosen_end_scores": chosen_scores, "rejected_end_scores": rejected_scores}


class TrlxScoring(ScoringModel):
    """The trlX reward model: end scores of ``<|startoftext|>prompt+completion<|endoftext|>``."""

    kind = "trlx"

    def __init__(self, module: Any, batch_size: int) -> None:
        self.module, self.batch_size = module, batch_size

    def describe(self) -> dict[str, Any]:
        return _describe(self.kind, self.module.path, self.module)

    def score(self, prompts: list[str], completions: list[str]) -> np.ndarray:
        return np.asarray(self.module.score([p + c for p, c in zip(prompts, completions)], self.batch_size))

    def score_pairs(self, prompts: list[str], chosen: list[str], rejected: list[str]) -> dict[str, np.ndarray]:
        """The original's pairwise rule, per pair: the loss over the tokens after the texts diverge.

        Each batch of pairs runs as one forward pass (right padding to the longest text; with causal
        attention the padding after a text's end cannot change its rewards), then each pair is read
        with the original's rule on its own two rows, so the loss is per pair, not a batch mean.
        """
        import torch

        from mirror_neuron.neuron.reward.trlx import END, START, pairwise_scores

        module = self.module
        out: dict[str, list[float]] = {"loss": [], "chosen_end_scores": [], "rejected_end_scores": []}
        for start in range(0, len(prompts), self.batch_size):
            rows = range(start, min(start + self.batch_size, len(prompts)))
            texts = [START + prompts[i] + chosen[i] + END for i in rows] + \
                    [START + prompts[i] + rejected[i] + END for i in rows]
            encoded = module.tokenizer(texts, padding="longest", return_tensors="pt").to(module.device)
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
        return {key: np.asarray(values) for key, values in out.items()}


    def features(self, prompts: list[str], completions: list[str], layers: str, pool: str) -> dict[str, Any]:
        """Tensors of each ``START + prompt + completion + END`` text, for storage: ``tokens`` (ids up
        to the end token), ``embeddings`` (the last layer at the end token: what ``v_head`` reads) and
        ``hidden_states`` (``layers``: ``last`` or ``all``, each pooled at the end token or by ``mean``
        over the text), as float16."""
        import torch

        from mirror_neuron.neuron.reward.trlx import END, START, first_pad

        module = self.module
        tokens: list[np.ndarray] = []
        embeddings, hidden = [], []
        for start in range(0, len(prompts), self.batch_size):
            texts = [START + p + c + END for p, c in zip(prompts[start:start + self.batch_size],
                                                         completions[start:start + self.batch_size], strict=True)]
            encoded = module.tokenizer(texts, padding="longest", return_tensors="pt").to(module.device)
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


class SequenceClassificationScoring(ScoringModel):
    """A sequence-classification reward model: the logit of ``tokenizer(prompt, completion)``."""

    kind = "sequence_classification"

    def __init__(self, model: Any, tokenizer: Any, path: str, batch_size: int) -> None:
        self.model, self.tokenizer, self.path, self.batch_size = model, tokenizer, path, batch_size

    def describe(self) -> dict[str, Any]:
        return _describe(self.kind, self.path, self.model)

    def score(self, prompts: list[str], completions: list[str]) -> np.ndarray:
        import torch

        values: list[float] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(prompts), self.batch_size):
            batch = self.tokenizer(prompts[start:start + self.batch_size], completions[start:start + self.batch_size],
                                   padding=True, truncation=True, return_tensors="pt").to(device)
            with torch.inference_mode():
                values.extend(self.model(**batch).logits[:, 0].float().tolist())
        return np.asarray(values)


class LogProbScoring(ScoringModel):
    """Mean completion log-probability under a causal LM (the DPO-style scorer)."""

    kind = "log_prob"

    def __init__(self, reward: Any, path: str) -> None:
        self.reward, self.path = reward, path

    @property
    def batch_size(self) -> int:
        return self.reward.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.reward.batch_size = value

    def describe(self) -> dict[str, Any]:
        return _describe(self.kind, self.path, self.reward.model)

    def score(self, prompts: list[str], completions: list[str]) -> np.ndarray:
        return np.asarray([self.reward.logprobs(p, [c])[0] for p, c in zip(prompts, completions)])


def load_reward_model(config: Any, base_dir: Path, seed: int, batch_size: int = 16) -> ScoringModel:
    """The scoring model a ``type: reward_model`` entry describes (a RewardModelConfig)."""
    device = _device(config.device)
    if config.kind == "trlx":
        from mirror_neuron.models.checkpoints import fetch_checkpoint
        from mirror_neuron.neuron.reward.trlx import TrlxRewardModule

        module = TrlxRewardModule(config.path, seed, base_dir)
        _apply_overrides(module.transformer, module, config, base_dir)
        if config.ckpt:
            module.load_checkpoint(fetch_checkpoint(config.ckpt, base_dir), config.sha256, config.allow_unsafe_pickle)
        module.to(device=device, dtype=_dtype(config.dtype, device)).requires_grad_(False)
        return TrlxScoring(module, batch_size)
    if config.kind == "log_prob":
        from mirror_neuron.neuron.reward.logprob import LogProbRewardModel

        return LogProbScoring(LogProbRewardModel(seed=seed, path=config.path, device=device, base_dir=base_dir),
                              config.path)
    model, tokenizer = _sequence_classifier(config.path, seed, base_dir)
    return SequenceClassificationScoring(model.to(device).eval(), tokenizer, config.path, batch_size)


def _sequence_classifier(path: str, seed: int, base_dir: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mirror_neuron.models.tiny import is_tiny, tiny_config, tiny_tokenizer

    if is_tiny(path):
        config = tiny_config(path)
        config.num_labels = 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return AutoModelForSequenceClassification.from_config(config), tiny_tokenizer()
    local = base_dir / path if (base_dir / path).exists() else Path(path)
    source = str(local) if local.exists() else path
    try:
        return AutoModelForSequenceClassification.from_pretrained(source), AutoTokenizer.from_pretrained(source)
    except OSError as error:
        raise UserError(f"cannot load sequence-classification model '{path}' ({' '.join(str(error).split())[:200]}); "
                        "without the hub, point path at a local model directory") from None


def _apply_overrides(base_model: Any, module: Any, config: Any, base_dir: Path) -> None:
    """The original's ``tokenizer``, ``embedding`` and ``norm`` overrides."""
    import torch

    if config.tokenizer != "default":
        from transformers import AutoTokenizer

        local = base_dir / config.tokenizer
        tokenizer = AutoTokenizer.from_pretrained(str(local) if local.exists() else config.tokenizer)
        tokenizer.pad_token = tokenizer.eos_token
        module.tokenizer, module.pad_id = tokenizer, tokenizer.pad_token_id
    if config.embedding == "resize":
        base_model.resize_token_embeddings(len(module.tokenizer))
    if config.norm != "default":
        name = next((n for n in ("ln_f", "norm", "final_layer_norm") if hasattr(base_model, n)), None)
        if name is None:
            raise UserError(f"norm: {config.norm}: the model '{config.path}' has no final norm to replace")
        old = getattr(base_model, name)
        setattr(base_model, name, torch.nn.Identity() if config.norm == "identity"
                else torch.nn.LayerNorm(old.normalized_shape, eps=old.eps))


def _device(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda was asked for but no GPU is available")
    return choice


def _dtype(choice: str, device: str) -> Any:
    import torch

    if choice == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, choice)


def _describe(kind: str, path: str, model: Any) -> dict[str, Any]:
    parameters = sum(p.numel() for p in model.parameters())
    first = next(model.parameters())
    return {"kind": kind, "path": path, "parameters": int(parameters), "device": str(first.device),
            "dtype": str(first.dtype).removeprefix("torch.")}

