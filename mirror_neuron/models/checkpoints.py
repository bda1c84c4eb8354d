"""Where a checkpoint comes from: a local file, or a URL downloaded once into the cache."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from mirror_neuron.cache import CACHE_DIR
from mirror_neuron.errors import UserError

DOWNLOAD_TIMEOUT_S = 30


def fetch_checkpoint(location: str, base_dir: Path | None = None) -> Path:
    """A local path for ``location`` (a file path, relative to ``base_dir``, or an http(s) URL)."""
    if location.startswith(("http://", "https://")):
        return _download(location)
    path = Path(location).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    return path


def _download(url: str) -> Path:
    name = url.rstrip("/").rsplit("/", 1)[-1] or "checkpoint"
    target = CACHE_DIR / "checkpoints" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".part-{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
            while block := response.read(1 << 20):
                out.write(block)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise UserError(f"cannot download checkpoint {url} ({reason}); download it yourself and set ckpt to the "
                        "local file") from None
    partial.rename(target)
    return target
