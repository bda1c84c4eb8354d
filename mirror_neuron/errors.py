"""User-facing errors: one line, a location, exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A problem the user can fix (bad config, missing file, unreachable hub).

    The CLI prints ``str(error)`` on one line and exits with code 2, never a traceback.
    """

    exit_code = 2

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(UserError):
    """The experiment config is invalid; ``where`` names file, key path and line."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid names, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[k] for k in difflib.get_close_matches(str(name).lower(), list(lowered), n=3, cutoff=0.6)]
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
