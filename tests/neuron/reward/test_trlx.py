"""The trlX pairwise reward model (Dahoas GPT-J style) on a tiny GPT-J, checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mirror_neuron.errors import UserError
from mirror_neuron.hashing import sha256_file
from mirror_neuron.models.device import resolve_device
from mirror_neuron.models.tiny import tiny_causal_lm, tiny_config, tiny_tokenizer
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.trlx.batching import end_cut, plan_batches
from mirror_neuron.neuron.reward.trlx.gptj import _rotary, _rotate, gptj_end_hidden, gptj_prefix_cache
from mirror_neuron.neuron.reward.trlx.module import TrlxRewardModule
from mirror_neuron.neuron.reward.trlx.reward import RewardModel
from mirror_neuron.neuron.reward.trlx.texts import difference_texts, plain_text


@pytest.fixture(scope="module")
def module() -> TrlxRewardModule:
    return TrlxRewardModule("tiny:gptj", seed=0)


@pytest.fixture(scope="module")
def other_state() -> dict[str, torch.Tensor]:
    """A state dict from another instance (other weights), as a checkpoint would hold."""
    return {k: v.clone() for k, v in TrlxRewardModule("tiny:gptj", seed=1).state_dict().items()}


def token_rewards(module: TrlxRewardModule, input_ids: torch.Tensor) -> torch.Tensor:
    """Per-token rewards computed directly: v_head(last hidden state)."""
    with torch.no_grad():
        return module.v_head(module.transformer(input_ids, use_cache=False)[0]).squeeze(-1)


def test_module_has_the_original_state_dict_shape(module: TrlxRewardModule) -> None:
    keys = list(module.state_dict())
    assert all(k.startswith("transformer.") for k in keys if k != "v_head.weight")
    assert "v_head.weight" in keys and "transformer.wte.weight" in keys
    assert type(module.transformer).__name__ == "GPTJModel"
    assert module.v_head.bias is None and tuple(module.v_head.weight.shape) == (1, module.config.n_embd)
    assert module.pad_id == module.tokenizer.eos_token_id


def test_checkpoint_loads_from_pt_and_safetensors(tmp_path: Path, other_state: dict) -> None:
    pt, safetensors = tmp_path / "hf_ckpt.pt", tmp_path / "hf_ckpt.safetensors"
    # older transformers saved GPT-J's causal-mask buffers too: they are dropped, not refused
    torch.save({**other_state, "transformer.h.0.attn.masked_bias": torch.tensor(-1e9)}, pt)
    save_file(other_state, str(safetensors))
    for file in (pt, safetensors):
        module = TrlxRewardModule("tiny:gptj", seed=0)
        assert not torch.equal(module.v_head.weight, other_state["v_head.weight"])
        module.load_checkpoint(file, sha256=sha256_file(file).upper())
        loaded = module.state_dict()
        assert loaded.keys() == other_state.keys()
        assert all(torch.equal(loaded[k], other_state[k]) for k in other_state)


def test_bad_checkpoints_are_refused_with_user_errors(tmp_path: Path, other_state: dict) -> None:
    module = TrlxRewardModule("tiny:gptj", seed=0)
    pt = tmp_path / "hf_ckpt.pt"
    torch.save(other_state, pt)
    with pytest.raises(UserError, match="has sha256 .* expected 00"):
        module.load_checkpoint(pt, sha256="00" * 32)

    whole = tmp_path / "whole.pt"  # a pickled module: loading it could run arbitrary code
    torch.save(TrlxRewardModule("tiny:gptj", seed=1), whole)
    with pytest.raises(UserError, match="needs unsafe unpickling"):
        module.load_checkpoint(whole)
    module.load_checkpoint(whole, allow_unsafe_pickle=True)  # trusted: its state dict is used
    assert torch.equal(module.v_head.weight, other_state["v_head.weight"])

    partial = tmp_path / "partial.pt"
    torch.save({k: v for k, v in other_state.items() if k != "v_head.weight"} | {"score.weight": torch.zeros(1)},
               partial)
    with pytest.raises(UserError, match=r"1 missing key\(s\) \('v_head.weight'\); 1 unexpected key\(s\)"):
        module.load_checkpoint(partial)
    resized = tmp_path / "resized.pt"
    torch.save(other_state | {"v_head.weight": torch.zeros(1, 8)}, resized)
    with pytest.raises(UserError, match=r"'v_head.weight' has shape \(1, 8\)"):
        module.load_checkpoint(resized)

    for name in ("corrupt.pt", "corrupt.safetensors", "model.ckpt"):
        (tmp_path / name).write_bytes(b"not a checkpoint")
    for name, message in (("corrupt.pt", "cannot read"), ("corrupt.safetensors", "cannot read .* as safetensors"),
                          ("model.ckpt", "unsupported format"), ("absent.pt", "does not exist")):
        with pytest.raises(UserError, match=message):
            module.load_checkpoint(tmp_path / name)


def test_inference_end_score_is_the_reward_before_the_first_pad(module: TrlxRewardModule) -> None:
    pad = module.pad_id
    rows = torch.tensor([[28, 92, 292, 276, pad, pad],  # first pad at 4: score at 3
                         [28, 92, 292, 276, 414, 631],  # no pad: the last position
                         [28, pad, 292, pad, 414, pad]])  # the first pad counts, not the last
    rewards = token_rewards(module, rows)
    with torch.no_grad():
        out = module(torch.cat([rows, rows]))
    assert set(out) == {"chosen_end_scores"}
    expected = torch.stack([rewards[0, 3], rewards[1, 5], rewards[2, 0]])
    torch.testing.assert_close(out["chosen_end_scores"], expected, rtol=0, atol=1e-6)


def test_pairwise_loss_matches_the_hand_formula(module: TrlxRewardModule) -> None:
    pad = module.pad_id
    chosen = torch.tensor([[28, 92, 292, 276, pad, pad], [30, 72, 73, 84, 92, 631]])
    rejected = torch.tensor([[28, 92, 414, pad, pad, pad], [30, 72, 73, 414, pad, pad]])
    r_chosen, r_rejected = token_rewards(module, chosen), token_rewards(module, rejected)
    with torch.no_grad():
        out = module(torch.cat([chosen, rejected]))
    # pair 0: diverges at 2; first pads at 4 and 3 -> slice [2, 4); pair 1: diverges at 3, pads at 6 and 4 -> [3, 6)
    slices = [(0, 2, 4), (1, 3, 6)]
    loss = sum(-torch.log(torch.sigmoid(r_chosen[i, a:b] - r_rejected[i, a:b])).mean() for i, a, b in slices) / 2
    torch.testing.assert_close(out["loss"], loss, rtol=0, atol=1e-6)
    torch.testing.assert_close(out["chosen_end_scores"], torch.stack([r_chosen[0, 3], r_chosen[1, 5]]),
                               rtol=0, atol=1e-6)
    torch.testing.assert_close(out["rejected_end_scores"], torch.stack([r_rejected[0, 3], r_rejected[1, 5]]),
                               rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="share a prefix"):
        module(torch.cat([chosen[:1], torch.tensor([[30, 92, 292, 276, pad, pad]])]))


def test_forward_returns_hidden_states_when_asked(module: TrlxRewardModule) -> None:
    ids = torch.tensor([[28, 92, 292, module.pad_id]] * 2)
    with torch.no_grad():
        out = module(ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
    assert len(out["hidden_states"]) == module.config.n_layer + 1
    assert out["hidden_states"][-1].shape == (2, 4, module.config.n_embd)


def test_batched_score_equals_the_literal_reference(module: TrlxRewardModule, shared_data: Path) -> None:
    lines = (shared_data / "nq_open" / "NQ-open.dev.jsonl").read_text(encoding="utf-8").splitlines()[:20]
    rows = [json.loads(line) for line in lines]
    texts = [f"Question: {row['question']}\nAnswer: {row['answer'][0]}" for row in rows]
    texts[3] = rows[3]["question"]  # lengths vary a lot within a batch
    reference = module.reference_score(texts)
    batched = module.score(texts, batch_size=8)
    np.testing.assert_allclose(batched, reference, rtol=0, atol=1e-4)
    assert len(set(np.round(reference, 4))) == len(texts)  # real, distinct scores


def test_texts_follow_the_validator_spacing() -> None:
    query = Query(("system", "user", "assistant", "user"),
                  ("Be helpful.", " What is 2+2? ", "4.", "And 3+3?\n"))
    full, only = difference_texts(query, "  Six. ")
    assert full == "Question: What is 2+2?\n4.\nAnd 3+3?\nAnswer: Six."
    assert only == "Six."
    assert plain_text(query, " Six.") == "What is 2+2?\n\n4.\n\nAnd 3+3?\n\nSix."


def test_difference_reward_is_the_shifted_relu_difference(module: TrlxRewardModule) -> None:
    query = Query(("system", "user"), ("Be helpful.", "What is the capital of Australia?"))
    completions = ["Canberra is the capital of Australia.", "Sydney.", "I like turtles very much.",
                   "What is the capital of Australia?"]
    fulls = [difference_texts(query, c)[0] for c in completions]
    r_full = np.array(module.score(fulls))  # equal to reference_score (see the test above)
    r_only = np.array(module.score([c.strip() for c in completions]))
    model = RewardModel(path="tiny:gptj", seed=0)  # the same weights as `module`
    out = model.rewards(query, completions)
    np.testing.assert_allclose(out.raw["full"], r_full, atol=1e-4)
    np.testing.assert_allclose(out.raw["completion"], r_only, atol=1e-4)
    np.testing.assert_allclose(out.final, np.maximum(r_full + 3, 0) - np.maximum(r_only + 3, 0), atol=1e-4)

    # a shift that puts some scores below zero, so that the relu clips them
    shift = -float(np.median(np.concatenate([r_full, r_only])))
    model.shift = shift
    clipped = model.rewards(query, completions).final
    expected = np.maximum(r_full + shift, 0) - np.maximum(r_only + shift, 0)
    assert (r_full + shift < 0).any() or (r_only + shift < 0).any()
    np.testing.assert_allclose(clipped, expected, atol=1e-4)

    model.form = "plain"
    plain = model.rewards(query, completions)
    np.testing.assert_allclose(plain.final, module.score([plain_text(query, c) for c in completions]), atol=1e-4)
    assert set(plain.raw) == {"plain"}


def nq_texts(shared_data: Path, n: int) -> list[str]:
    lines = (shared_data / "nq_open" / "NQ-open.dev.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [f"Question: {row['question']}\nAnswer: {row['answer'][0]}" for row in map(json.loads, lines)]


def partial_rotary_gptj(seed: int = 0) -> TrlxRewardModule:
    """A 3-layer GPT-J whose rotary embedding covers 8 of each head's 32 features, as GPT-J-6B (64 of 256)."""
    from transformers import AutoModelForCausalLM

    config = tiny_config("tiny:gptj", layers=3, width=64, heads=2)
    config.rotary_dim = 8
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config).eval()
    return TrlxRewardModule("tiny:gptj", seed, causal_lm=(model, tiny_tokenizer()))


def test_score_does_not_depend_on_the_batching(module: TrlxRewardModule, shared_data: Path) -> None:
    texts = nq_texts(shared_data, 24) + ["Question: who", "Answer: none", "x", "Question: who wrote it?\nAnswer: "]
    one = module.score(texts, batch_size=1)
    for batch_size, max_tokens in ((5, 2048), (64, 2048), (64, 60)):
        np.testing.assert_allclose(module.score(texts, batch_size, max_tokens), one, rtol=0, atol=1e-5)
    np.testing.assert_allclose(one, module.reference_score(texts), rtol=0, atol=1e-4)
    assert module.score([]) == []
    with pytest.raises(ValueError, match="at least 1"):
        module.score(texts, max_tokens=0)


def test_end_only_forward_equals_the_full_forward_picked_at_the_ends(module: TrlxRewardModule) -> None:
    for reward in (module, partial_rotary_gptj()):
        pad = reward.pad_id
        prefix = torch.tensor([28, 92, 292])
        suffix = torch.tensor([[276, 414, 631, 30, pad], [72, 73, pad, pad, pad], [84, 92, 414, 276, 631]])
        ends = torch.tensor([3, 1, 4])
        for shared in (prefix, prefix[:0]):  # with and without a prefix run once
            full = torch.cat([shared.expand(3, -1), suffix], dim=1)
            expected = token_rewards(reward, full)[torch.arange(3), len(shared) + ends]
            with torch.inference_mode():
                cache = gptj_prefix_cache(reward.transformer, shared) if len(shared) else None
                got = reward.v_head(gptj_end_hidden(reward.transformer, suffix, ends, cache)).squeeze(-1)
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_partial_rotary_gptj_and_other_architectures_score_as_the_reference(shared_data: Path) -> None:
    texts = nq_texts(shared_data, 6) + ["Question: x<|endoftext|>after the first pad"]
    for reward in (partial_rotary_gptj(3), TrlxRewardModule("tiny:gpt2", 3), TrlxRewardModule("tiny:gptneo", 3)):
        np.testing.assert_allclose(reward.score(texts, batch_size=4), reward.reference_score(texts), rtol=0, atol=1e-4)


def test_batches_share_their_common_prefix_and_respect_the_limits() -> None:
    rows = [[1, 2, 3, 4, 5], [1, 2, 3], [1, 2, 9, 9], None, [1, 2, 3, 4], [7]]
    batches = plan_batches(rows, batch_size=3, max_tokens=8)  # shortest first; rows x longest <= 8
    assert [b.rows for b in batches] == [[5, 1], [2, 4], [0]]
    assert [b.prefix for b in batches] == [[], [1, 2], [1, 2, 3, 4]]
    assert batches[1].suffixes == [[9, 9], [3, 4]] and batches[0].width == 3
    assert batches[2].suffixes == [[5]]  # at least the end token stays in the suffix
    assert [b.rows for b in plan_batches(rows, batch_size=3, max_tokens=100)] == [[5, 1, 2], [4, 0]]
    assert end_cut([5, 6, 0, 7, 0], pad_id=0) == [5, 6] and end_cut([5, 6], 0) == [5, 6] and end_cut([0, 5], 0) == []


def test_half_precision_rotation_matches_the_float_one() -> None:
    torch.manual_seed(0)
    table = partial_rotary_gptj().transformer.rotary_emb.embed_positions
    cos, sin = _rotary(table, torch.arange(5))
    x = torch.randn(2, 5, 3, 16)
    exact, half = x.clone(), x.to(torch.bfloat16)
    _rotate(exact, cos[:, None], sin[:, None])
    _rotate(half, cos[:, None], sin[:, None])
    assert torch.equal(exact[..., 8:], x[..., 8:])  # only the rotary features turn
    torch.testing.assert_close(half.float(), exact, rtol=0.02, atol=0.05)


def test_device_and_dtype_choices() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected and resolve_device("cpu") == "cpu"
    with pytest.raises(UserError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no GPU"):
            resolve_device("cuda")
        with pytest.raises(UserError, match="needs a GPU"):
            RewardModel(dtype="bfloat16")
    model = RewardModel(dtype="bfloat16") if torch.cuda.is_available() else RewardModel()
    assert str(model.module.device).startswith(expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_scores_in_half_precision_are_close(shared_data: Path) -> None:
    texts = nq_texts(shared_data, 16)
    reward = TrlxRewardModule(causal_lm=tiny_causal_lm("tiny:gptj", 0, layers=4, width=256, heads=4))
    reference = np.array(reward.score(texts, batch_size=1))
    reward.to("cuda")
    np.testing.assert_allclose(reward.score(texts, 8), reference, rtol=0, atol=1e-4)
    for dtype in (torch.bfloat16, torch.float16):
        reward.to(dtype)
        np.testing.assert_allclose(reward.score(texts, 8), reference, rtol=0, atol=0.1 * np.abs(reference).max())
        reward.float()


def test_neurons_that_build_the_same_reward_share_one_module(tmp_path: Path) -> None:
    """A tournament builds a neuron per repetition: a checkpoint is read once, whatever the seed."""
    file = tmp_path / "rm.safetensors"
    save_file(TrlxRewardModule("tiny:gptj", seed=5).state_dict(), str(file))
    first = RewardModel(seed=1, checkpoint=str(file), device="cpu")
    second = RewardModel(seed=2, checkpoint=str(file), device="cpu")
    assert first.module is second.module
    query = Query(("system", "user"), ("base", "Why is the sky blue?"))
    np.testing.assert_allclose(first.rewards(query, ["Rayleigh scattering."]).final,
                               second.rewards(query, ["Rayleigh scattering."]).final)
    assert RewardModel(seed=1, device="cpu").module is not RewardModel(seed=2, device="cpu").module  # tiny weights


def test_openvalidators_dahoas_form_is_the_plain_difference(module: TrlxRewardModule) -> None:
    query = Query(("user",), ("What is the capital of Australia?",), name="augment")
    completions = ["Canberra is the capital of Australia.", "Sydney.", " I like turtles. "]
    # dahoas.py: reward_fn(prompt + completion) - reward_fn(completion), each the end score of
    # "<|startoftext|>" + text + "<|endoftext|>" padded to 550: no "Question:" labels, no shift, no relu, no strip
    r_full = np.array(module.reference_score([query.prompt + c for c in completions]))
    r_only = np.array(module.reference_score(completions))
    model = RewardModel(path="tiny:gptj", seed=0, form="openvalidators", shift=100.0)  # the shift is not used
    out = model.rewards(query, completions)
    np.testing.assert_allclose(out.raw["full"], r_full, atol=1e-4)
    np.testing.assert_allclose(out.raw["completion"], r_only, atol=1e-4)
    np.testing.assert_allclose(out.final, r_full - r_only, atol=1e-4)
    core = RewardModel(path="tiny:gptj", seed=0).rewards(query, completions)  # "Question: ... Answer: ", shift 3
    assert not np.allclose(out.final, core.final, atol=1e-3)
    with pytest.raises(UserError, match="difference, plain, openvalidators"):
        RewardModel(form="dahoas")


def test_without_load_checkpoint_the_model_is_built_randomly_from_the_config(tmp_path: Path, other_state: dict) -> None:
    file = tmp_path / "hf_ckpt.safetensors"
    save_file(other_state, str(file))
    loaded = RewardModel(path="tiny:gptj", seed=3, checkpoint=str(file), device="cpu")
    ignored = RewardModel(path="tiny:gptj", seed=3, checkpoint=str(file), load_checkpoint=False, device="cpu")
    fresh = TrlxRewardModule("tiny:gptj", seed=3)  # what building from the config with seed 3 gives
    assert torch.equal(loaded.module.v_head.weight, other_state["v_head.weight"])
    assert torch.equal(ignored.module.v_head.weight, fresh.v_head.weight)
    assert not torch.equal(ignored.module.v_head.weight, other_state["v_head.weight"])
    # a pretrained directory: only its config and tokenizer are read, the weights are drawn, the checkpoint never read
    model, tokenizer = tiny_causal_lm("tiny:gptj", seed=9)
    model.save_pretrained(tmp_path / "gptj")
    tokenizer.save_pretrained(tmp_path / "gptj")
    built = RewardModel(path="gptj", seed=3, checkpoint="absent.pt", load_checkpoint=False, device="cpu",
                        base_dir=tmp_path)
    saved = model.state_dict()["transformer.wte.weight"]
    assert built.module.transformer.wte.weight.shape == saved.shape
    assert not torch.equal(built.module.transformer.wte.weight, saved)
    assert built.stand_ins() == {"EleutherAI/gpt-j-6b": "gptj"}  # the original loaded no checkpoint either
    assert RewardModel(path="tiny:gptj", device="cpu").stand_ins() == {
        "EleutherAI/gpt-j-6b": "tiny:gptj", "Dahoas/gptj-rm-static": "random weights (no checkpoint)"}
    assert loaded.stand_ins() == {"EleutherAI/gpt-j-6b": "tiny:gptj"}
