"""Where a model runs and in which precision: one rule for every model a config names.

``device``: ``auto`` (``cuda`` when a GPU is available, else ``cpu``), ``cpu``, ``cuda`` or ``cuda:N``;
asking for a GPU that is not there is a :class:`UserError`. ``dtype``: ``auto`` (``bfloat16`` on a GPU,
``float32`` on the CPU), ``float32``, ``bfloat16`` or ``float16``; half precision on the CPU is refused
(slow, and its scores differ from float32's by more than the rounding the tests allow).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mirror_neuron.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(choice: str) -> str:
    """The device ``choice`` names: ``cpu`` or ``cuda[:N]`` (``auto`` picks); a UserError otherwise."""
    import torch

    if not DEVICE_PATTERN.match(choice):
        raise UserError(f"device must be auto, cpu or cuda[:N], not '{choice}'")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {choice} was asked for but no GPU is available; use cpu or auto")
    return choice


def resolve_dtype(choice: str, device: str) -> torch.dtype:
    """The torch dtype ``choice`` names on the resolved ``device``; half precision needs a GPU."""
    import torch

    if choice not in DTYPES:
        raise UserError(f"dtype must be one of {', '.join(DTYPES)}, not '{choice}'")
    on_gpu = device.startswith("cuda")
    if choice == "auto":
        return torch.bfloat16 if on_gpu else torch.float32
    if choice != "float32" and not on_gpu:
        raise UserError(f"dtype {choice} needs a GPU (device cuda or auto on a machine with one); "
                        f"on {device} use float32")
    dtype: torch.dtype = getattr(torch, choice)
    return dtype


def describe_network(network: torch.nn.Module) -> dict[str, str | int]:
    """A loaded network in a few facts: its parameter count, device and dtype (of its first parameter)."""
    first = next(network.parameters())
    return {"parameters": int(sum(p.numel() for p in network.parameters())), "device": str(first.device),
            "dtype": str(first.dtype).removeprefix("torch.")}
