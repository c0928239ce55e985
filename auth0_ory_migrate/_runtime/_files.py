"""The little file I/O the adapters and the CLI share (never used by the pure core).

:func:`open_input` and :func:`private_file` are public.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from .._core._read import GZIP_MAGIC
from ..exceptions import ConfigurationError, OutputFileError


if sys.platform == "linux":
    import fcntl

__all__ = ["check_outputs", "open_input", "private_file", "widen_pipe"]

PRIVATE_MODE = 0o600
#: What writing a file can run into, and reading one cannot: an ``OSError`` with one of these,
#: raised in :func:`private_file`'s block, is that file's.
_FILE_SYSTEM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
_BUFFER = 1 << 20  # big files of small lines: fewer write calls


def check_outputs(
    outputs: Mapping[str, str | os.PathLike[str] | None],
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> None:
    """Refuse, before anything is written, output files that cannot or must not be written.

    Checks every output path, by name and by inode: its folder exists and this
    process may make files in it; it is not a directory or a symbolic link
    (:func:`private_file` refuses those too, but only when it comes to that file,
    after the others are written); it is neither one of the *inputs* (the same
    file, under any name or hard link: the password-hash export, which only
    Auth0 support can send again, must never be overwritten) nor another output.
    ``None`` values are skipped.

    Args:
        outputs: Each output file under the name the user knows it by (e.g. the
            command-line option, ``"--report"``).
        inputs: The input files, named the same way.

    Raises:
        ConfigurationError: An output cannot be written, or would overwrite an
            input or another output; the message names both.

    Example:
        >>> check_outputs(  # doctest: +SKIP
        ...     {"--out": "identities.ndjson", "--report": "report.json"},
        ...     {"--users": "auth0-users.ndjson"},
        ... )

    .. versionadded:: 0.1.0
    """
    seen: dict[tuple[int, int] | Path, str] = {}
    for name, value in (inputs or {}).items():
        if value is not None:
            with contextlib.suppress(OSError):
                st = os.stat(value)
                seen[st.st_dev, st.st_ino] = f"{name} {value}"
    for name, value in outputs.items():
        if value is None:
            continue
        target = Path(value)
        said = f"{name} {target}"
        folder = target.parent
        if not folder.is_dir():
            msg = f"{said}: the folder {folder} does not exist (create it, or write elsewhere)"
            raise ConfigurationError(msg)
        if not os.access(folder, os.W_OK | os.X_OK):
            msg = f"{said}: cannot make files in {folder} (permission denied)"
            raise ConfigurationError(msg)
        if target.is_symlink():
            msg = f"{said} is a symbolic link: not written (remove it, or write to another path)"
            raise ConfigurationError(msg)
        if target.is_dir():
            msg = f"{said} is a directory: give a file name"
            raise ConfigurationError(msg)
        keys: list[tuple[int, int] | Path] = [folder.resolve() / target.name]
        with contextlib.suppress(OSError):
            st = os.stat(target)
            keys.append((st.st_dev, st.st_ino))
        for key in keys:
            if key in seen:
                msg = (
                    f"{said} is the same file as {seen[key]}: nothing written (choose another path)"
                )
                raise ConfigurationError(msg)
        for key in keys:
            seen[key] = said


@contextlib.contextmanager
def private_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write a file that holds secrets: made new with mode 0600, whole or not at all.

    The data goes to a temporary file in the same directory, created with mode
    0600 (readable by its owner only), which is flushed, fsynced and renamed
    over *path* only when the ``with`` block ends without an exception.
    Otherwise the temporary file is removed and *path* is left as it was. A
    file already at *path* is replaced, never written into; a symbolic link
    there is refused.

    Args:
        path: The file to write.

    Yields:
        The file, open for writing in binary mode.

    A full disk, a quota, or a file system turned read-only while the file is
    written (``ENOSPC``, ``EDQUOT``, ``EROFS``, ``EFBIG``: errors only writing
    meets) become an :class:`~auth0_ory_migrate.exceptions.OutputFileError`
    naming *path*; other exceptions of the block pass through unchanged.

    Raises:
        ConfigurationError: *path* is a symbolic link.
        OutputFileError: The file could not be written whole; nothing is left
            under its name.

    Example:
        >>> with private_file("report.json") as f:  # doctest: +SKIP
        ...     f.writelines(report.iter_json())

    .. versionadded:: 0.1.0
    """
    target = Path(path)
    if target.is_symlink():
        msg = f"{target} is a symbolic link: not written (remove it, or write to another path)"
        raise ConfigurationError(msg)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as e:
        if e.errno not in _FILE_SYSTEM_ERRNOS:
            raise
        raise OutputFileError(str(target), e.strerror or str(e)) from e
    try:
        os.fchmod(fd, PRIVATE_MODE)
        f = os.fdopen(fd, "wb", buffering=_BUFFER)
        try:
            try:
                yield f
            except OSError as e:
                if e.errno not in _FILE_SYSTEM_ERRNOS:
                    raise  # not this file's (e.g. reading an input)
                raise OutputFileError(str(target), e.strerror or str(e)) from e
            try:
                f.flush()
                os.fsync(f.fileno())
            except OSError as e:
                raise OutputFileError(str(target), e.strerror or str(e)) from e
        finally:
            with contextlib.suppress(OSError):  # what the buffer held is lost with the file
                f.close()
        try:
            os.replace(tmp, target)
        except OSError as e:
            raise OutputFileError(str(target), e.strerror or str(e)) from e
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_F_SETPIPE_SZ = 1031  # Linux: a 1 MiB pipe lets the helper run ahead of the reader
_F_GETPIPE_SZ = 1032

# The helper process: isal's zlib (the ``fast`` extra) when installed, else the stdlib's.
_INFLATE = """\
import os, sys, zlib
try:
    from isal import isal_zlib
except ImportError:
    isal_zlib = zlib
out, new = sys.stdout.buffer, lambda: isal_zlib.decompressobj(zlib.MAX_WBITS | 16)
d, fed = new(), False
try:
    with open(sys.argv[1], "rb") as src:
        while data := src.read(1 << 20):
            while data:
                if not fed:
                    data = data.lstrip(b"\\0")  # padding between or after gzip members
                    if not data:
                        break
                fed = True
                out.write(d.decompress(data, 1 << 17))
                data = d.unconsumed_tail
                if d.eof:  # the end of one gzip member; another may follow
                    data, d, fed = d.unused_data, new(), False  # (all the input left)
    if fed:
        sys.exit("compressed file ended before the end-of-stream marker was reached")
    out.flush()
except (zlib.error, isal_zlib.error) as e:
    sys.exit(str(e))
except BrokenPipeError:  # the reader stopped early
    os._exit(0)
"""


def widen_pipe(fd: int) -> int:
    """Let pipe *fd* hold 1 MiB, where Linux allows: the writer runs ahead of the reader.

    Returns:
        How many bytes the pipe holds now; 0 where that is not known (not Linux).
    """
    if sys.platform != "linux":
        return 0
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
    try:
        return fcntl.fcntl(fd, _F_GETPIPE_SZ)
    except OSError:
        return 0


class _Inflated(io.RawIOBase):
    """The output of the inflating helper; a damaged stream raises ``zlib.error`` at its end."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        assert proc.stdout is not None
        self._pipe: Any = proc.stdout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n: int = self._pipe.readinto(buffer)
        if n == 0 and self._proc.wait() != 0:
            assert self._proc.stderr is not None
            problem = self._proc.stderr.read().decode(errors="replace").strip()
            raise zlib.error(problem.rpartition("\n")[2] or f"exit status {self._proc.returncode}")
        return n


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open an export file for reading, in binary mode, gzipped or not.

    A gzipped file is inflated by a helper process, on another core, while this
    one parses what it reads: inflating is about a third of the work of reading
    a gzipped export. Readers get the plain bytes (a damaged or truncated gzip
    stream raises :class:`zlib.error` when reached, as :mod:`gzip` would; the
    readers of this package turn it into an
    :class:`~auth0_ory_migrate.InputFileError`). Other files, or a machine
    where the helper cannot start, are read directly.

    Args:
        path: The file, e.g. Auth0's ``.ndjson.gz`` user export.

    Yields:
        The file's bytes, for the ``with`` block: the helper is stopped after it.

    Raises:
        OSError: The file cannot be opened.

    Example:
        >>> users = UsersFile(lambda: open_input("auth0-users.ndjson.gz"))  # doctest: +SKIP

    .. versionadded:: 0.1.0
    """
    f = open(path, "rb")  # noqa: SIM115 - closed below, or handed to the caller's with
    if f.read(2) != GZIP_MAGIC:
        f.seek(0)
        with f:
            yield f
        return
    f.close()
    try:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-I", "-c", _INFLATE, os.fspath(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
    except OSError:
        with open(path, "rb") as f:
            yield f
        return
    if proc.stdout is not None:
        widen_pipe(proc.stdout.fileno())
    try:
        yield io.BufferedReader(_Inflated(proc), buffer_size=1 << 20)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
