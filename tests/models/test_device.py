"""One device and dtype rule for every model."""

from __future__ import annotations

import pytest
import torch

from mirror_neuron.errors import UserError
from mirror_neuron.models.device import resolve_device, resolve_dtype


def test_devices() -> None:
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    for wrong in ("tpu", "cuda:x", "gpu", ""):
        with pytest.raises(UserError, match="device must be auto, cpu or cuda"):
            resolve_device(wrong)
    if not torch.cuda.is_available():
        for gpu in ("cuda", "cuda:1"):
            with pytest.raises(UserError, match="no GPU is available"):
                resolve_device(gpu)


def test_dtypes() -> None:
    assert resolve_dtype("auto", "cpu") == torch.float32 and resolve_dtype("auto", "cuda:0") == torch.bfloat16
    assert resolve_dtype("float32", "cpu") == torch.float32 and resolve_dtype("float16", "cuda") == torch.float16
    for half in ("float16", "bfloat16"):
        with pytest.raises(UserError, match="needs a GPU"):
            resolve_dtype(half, "cpu")
    with pytest.raises(UserError, match="dtype must be one of"):
        resolve_dtype("int8", "cpu")
