"""Where a checkpoint comes from: a local file, or a URL downloaded once into the cache."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote

from mirror_neuron.cache import CACHE_DIR
from mirror_neuron.errors import UserError
from mirror_neuron.offline import is_offline
from mirror_neuron.redact import is_redacted, redact, split_credentials

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
    """The cached download of ``url``. Its credentials (``user:token@``) are sent as basic authentication and
    kept out of the cache key, so the stored (redacted) URL that later steps read finds the same file."""
    shown = redact(url)
    name = shown.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "checkpoint"
    target = CACHE_DIR / "checkpoints" / f"{hashlib.sha256(shown.encode()).hexdigest()[:16]}-{name}"
    if target.is_file():
        return target
    if is_redacted(url):
        raise UserError(f"checkpoint {shown} is not in the cache and its credentials are not stored; rerun the "
                        "model step that names it (or set ckpt to a local file)")
    if is_offline():
        raise UserError(f"cannot download checkpoint {shown} (the run is offline and it is not in the cache); "
                        "download it yourself and set ckpt to the local file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".part-{os.getpid()}")
    plain, credentials = split_credentials(url)
    request = urllib.request.Request(plain)
    if credentials:
        request.add_header("Authorization", "Basic " + base64.b64encode(unquote(credentials).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
            while block := response.read(1 << 20):
                out.write(block)
    except (urllib.error.URLError, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = redact(str(getattr(error, "reason", error)))
        raise UserError(f"cannot download checkpoint {shown} ({reason}); download it yourself and set ckpt to the "
                        "local file") from None
    partial.rename(target)
    return target


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def refused_pickle(source: str, error: BaseException) -> UserError:
    """A model folder whose weights file the weights-only unpickler refused (``UnpicklingError``), as one
    line naming the file and what it tried to load."""
    folder = Path(source)
    files = sorted(str(p) for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
    return UserError(f"model '{source}': the safe (weights-only) loader refused {' and '.join(files) or 'its weights'} "
                     f"({unpickler_reason(error)}); such a file can run code when loaded: save the model as "
                     ".safetensors instead")


def unpickler_reason(error: BaseException) -> str:
    """The useful line of torch's long weights-only error ("Unsupported operand 110", "unsupported GLOBAL
    posix.system", ...)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    marker = "WeightsUnpickler error:"
    for index, line in enumerate(lines):
        if "GLOBAL" in line:
            return line[:200]
        if marker in line:
            rest = line.split(marker, 1)[1].strip() or (lines[index + 1] if index + 1 < len(lines) else "")
            if rest:
                return rest[:200]
    return (lines[0] if lines else type(error).__name__)[:200]
