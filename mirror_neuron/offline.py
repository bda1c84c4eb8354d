"""``--offline``: every library offline at once (the Hugging Face hub, transformers, datasets and W&B), so a
hub id fails at once instead of retrying for a minute."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "WANDB_MODE": "offline"}
# Libraries read their switch once, at import: those already imported are switched too.
_MODULE_FLAGS = (("huggingface_hub.constants", "HF_HUB_OFFLINE"), ("datasets.config", "HF_HUB_OFFLINE"),
                 ("datasets.config", "HF_DATASETS_OFFLINE"))


_requested = False  # within offline(): the run was asked to be offline (--offline)


def is_offline() -> bool:
    """Whether the hub is off limits (``--offline``, or ``HF_HUB_OFFLINE`` set by the user)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def requested() -> bool:
    """Whether this run was started with ``--offline`` (then a hub id is refused at validation)."""
    return _requested


@contextlib.contextmanager
def offline(enabled: bool = True) -> Iterator[None]:
    """Within the block, every library is offline; the environment and flags are restored after it."""
    if not enabled:
        yield
        return
    global _requested
    saved_env = {name: os.environ.get(name) for name in OFFLINE_ENV}
    _requested = True
    saved_flags = {}
    os.environ.update(OFFLINE_ENV)
    for module_name, flag in _MODULE_FLAGS:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, flag):
            saved_flags[(module_name, flag)] = getattr(module, flag)
            setattr(module, flag, True)
    try:
        yield
    finally:
        _requested = False
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for (module_name, flag), value in saved_flags.items():
            setattr(sys.modules[module_name], flag, value)
