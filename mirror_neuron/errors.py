"""User-facing errors: one line, a location, exit code 2."""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path


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


class DiskFull(UserError):
    """No space was left on the device (or the quota was spent) while writing ``where``."""


DISK_FULL = "the disk is full (no space left on device); free some space and rerun the same command to resume"


@contextlib.contextmanager
def disk_full_is_user_error(where: Path) -> Iterator[None]:
    """Turn a write failing for want of space inside the block into :class:`DiskFull`, naming ``where`` (the
    folder being written), or the file that failed when it lies elsewhere; what was stored whole stays, so
    the same command resumes once there is room."""
    import sqlite3

    try:
        yield
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        failed = Path(os.fsdecode(error.filename)) if isinstance(error.filename, (str, bytes, os.PathLike)) else None
        named = failed if failed is not None and not failed.is_relative_to(where) else where
        raise DiskFull(DISK_FULL, where=str(named)) from None
    except sqlite3.OperationalError as error:  # a cache in the store (scores, generations, verified files)
        if "full" not in str(error):  # SQLITE_FULL: "database or disk is full"
            raise
        raise DiskFull(DISK_FULL, where=str(where)) from None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid names, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[k] for k in difflib.get_close_matches(str(name).lower(), list(lowered), n=3, cutoff=0.6)]
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
