"""Credentials in URLs never leave the process: one helper for every boundary (messages, logs, run.json,
manifests, the report, tracking).

``https://user:token@host/path`` becomes ``https://***@host/path``, and the values of query parameters that
carry secrets (``?token=...``, ``access_token``, ``api_key``, ``key``, ``password``, ``secret``,
``signature``, ``sig``) become ``***``. The URL a step downloads from keeps its credentials in memory only.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s@'\"<>]+)@")
_SECRET_PARAMS = re.compile(
    r"(?P<name>[?&](?:access_token|api_key|apikey|token|key|password|passwd|secret|signature|sig|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token)=)(?P<value>[^&#\s'\"<>]+)", re.IGNORECASE)

T = TypeVar("T")


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it masked."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_PARAMS.sub(lambda m: f"{m['name']}{MASK}", text)


def redact_data(value: T) -> T:
    """A copy of ``value`` (mappings, lists, tuples of plain values) with every string :func:`redact`-ed."""
    if isinstance(value, str):
        return redact(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(redact_data(v) for v in value)  # type: ignore[return-value]
    return value


def split_credentials(url: str) -> tuple[str, str | None]:
    """``(url without its user:password@, "user:password" or None)``."""
    match = _USERINFO.search(url)
    if match is None or match.start() != 0:
        return url, None
    return match["scheme"] + url[match.end():], match["userinfo"]


def is_redacted(value: Any) -> bool:
    """Whether a string was masked by :func:`redact` (a stored URL that cannot be used to download)."""
    return isinstance(value, str) and (f"://{MASK}@" in value or f"={MASK}" in value)
