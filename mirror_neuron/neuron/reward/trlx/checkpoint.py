"""Reading a reward model's checkpoint safely: a state dict of tensors, its sha256 checked first,
pickles that could run code refused unless allowed, and its keys and shapes checked against the model."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mirror_neuron.errors import UserError
from mirror_neuron.hashing import sha256_file
from mirror_neuron.models.checkpoints import unpickler_reason

CHECKPOINT_SUFFIXES = (".pt", ".bin", ".safetensors")
# Causal-mask buffers that transformers < 4.27 saved in GPT-J/GPT-2 state dicts; current versions build them.
OBSOLETE_BUFFERS = (".attn.bias", ".attn.masked_bias")


def fitting_state_dict(state: dict[str, torch.Tensor], own: Mapping[str, torch.Tensor], file: str | Path,
                       built_from: str) -> dict[str, torch.Tensor]:
    """``state`` without the obsolete buffers, once its keys and shapes are exactly those of ``own`` (the
    module's state dict); a UserError naming what does not fit otherwise."""
    state = {k: v for k, v in state.items() if k in own or not k.endswith(OBSOLETE_BUFFERS)}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise UserError(f"checkpoint '{file}' does not fit the reward model built from '{built_from}': "
                        f"{_listing('missing', missing)}{'; ' if missing and unexpected else ''}"
                        f"{_listing('unexpected', unexpected)}")
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise UserError(f"checkpoint '{file}' does not fit the reward model built from '{built_from}': "
                            f"'{key}' has shape {tuple(value.shape)}, the model {tuple(own[key].shape)}")
    return state


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
        actual = sha256_file(path)
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
            raise UserError(f"cannot read reward checkpoint '{file}' ({unpickler_reason(error)})") from None
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


def _unsafe_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - unpickling can raise anything (missing classes, ...)
        raise UserError(f"cannot read reward checkpoint '{path}' ({_first_line(error)})") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def _listing(kind: str, keys: list[str]) -> str:
    if not keys:
        return ""
    shown = ", ".join(f"'{k}'" for k in keys[:5])
    return f"{len(keys)} {kind} key(s) ({shown}{', ...' if len(keys) > 5 else ''})"
