"""Reading the files a user names (configs, data): regular files only, never past a size limit.

A device (``/dev/zero``), a FIFO or a socket is refused before anything is read, without blocking (files
are opened non-blocking and checked on the open descriptor). A file whose content, decompressed when it
is gzipped, would pass its limit (:mod:`mirror_neuron.limits`) is refused once the limit is reached:
gzip is decompressed streaming, so a small archive that inflates to gigabytes never fills memory.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO

from mirror_neuron import limits
from mirror_neuron.errors import UserError

READ_BLOCK = 1 << 20  # bytes decompressed per read


def open_regular(path: Path, what: str) -> BinaryIO:
    """``path`` opened for reading, refused (a :class:`UserError`) unless it is a regular file."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once instead of waiting
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise UserError(f"not a regular file ({file_kind(mode)}); a {what} must be a plain file")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_bounded(path: Path, limit: str, what: str) -> bytes:
    """The bytes of the regular file ``path`` (decompressed when its name ends in ``.gz``), at most
    limit ``limit`` (e.g. ``config_bytes``); past it, a :class:`UserError` naming the limit."""
    most = limits.limit(limit)
    with open_regular(path, what) as handle:
        if path.name.endswith(".gz"):
            return _gunzip(handle, most, limit, what)
        if os.fstat(handle.fileno()).st_size > most:
            raise UserError(f"the {what} is too large: {limits.over(limit, os.fstat(handle.fileno()).st_size)}")
        raw = handle.read(most + 1)
    if len(raw) > most:  # it grew while being read
        raise UserError(f"the {what} is too large: {limits.over(limit)}")
    return raw


def _gunzip(handle: BinaryIO, most: int, limit: str, what: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        with gzip.GzipFile(fileobj=handle) as unzipped:
            while block := unzipped.read(min(READ_BLOCK, most + 1 - size)):
                parts.append(block)
                size += len(block)
                if size > most:
                    raise UserError(f"the {what} decompresses to more than the limit: {limits.over(limit)}")
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"not a valid gzip file ({error})") from None
    return b"".join(parts)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"
