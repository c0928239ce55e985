"""The little file I/O the adapters and the CLI share (never used by the pure core)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


__all__ = ["private_file"]

PRIVATE_MODE = 0o600
_BUFFER = 1 << 20  # big files of small lines: fewer write calls


@contextlib.contextmanager
def private_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write *path* atomically with mode 0600.

    The data goes to a temporary file in the same directory, created with mode
    0600 (it may hold password hashes), which is flushed, fsynced and renamed
    over *path* only when the ``with`` block ends without an exception.
    Otherwise the temporary file is removed and *path* is left as it was.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        with os.fdopen(fd, "wb", buffering=_BUFFER) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
