"""Saving part states: JSON for small values, numpy arrays stored beside it (no giant JSON lists)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

ARRAY_KEY = "__array__"


def pack(state: Any) -> tuple[str, dict[str, np.ndarray]]:
    """``state`` as JSON text, with every numpy array replaced by a reference into the returned dict."""
    arrays: dict[str, np.ndarray] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            key = f"array_{len(arrays)}"
            arrays[key] = value
            return {ARRAY_KEY: key}
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        return value

    return json.dumps(encode(state)), arrays


def unpack(text: str, arrays: dict[str, np.ndarray] | Any) -> Any:
    """The state :func:`pack` took apart."""

    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {ARRAY_KEY}:
                return np.array(arrays[value[ARRAY_KEY]])
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(json.loads(text))
