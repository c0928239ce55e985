"""Reading Auth0's OpenPGP-encrypted password-hash export without a plaintext copy on disk.

The adapter over `pysequoia <https://pypi.org/project/pysequoia/>`_ (Sequoia-PGP), an optional
dependency: ``pip install "auth0-ory-migrate[pgp]"``. Sequoia decrypts as a stream, but
pysequoia offers streaming only from a file to a file, holding the GIL all along; so a helper
process (our own interpreter and code) decrypts into a pipe, and this one reads the pipe: the
plaintext is never on disk, nor whole in memory. The private key and its passphrase reach the
helper through its standard input, never its arguments or environment.

:class:`PgpDecryption` is public.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

from attrs import field, frozen

from ..exceptions import ConfigurationError, InputFileError
from ._files import widen_pipe


__all__ = ["PgpDecryption"]

_EXTRA = 'the OpenPGP library is not installed: pip install "auth0-ory-migrate[pgp]"'
_NOT_A_KEY = (
    "is not an OpenPGP private key (a public key? Export the secret key, e.g. "
    "`gpg --export-secret-keys KEY-ID > key.pgp`)"
)
_PROTECTED = (
    "is protected by a passphrase (or has no decryption key): give its passphrase in an "
    "environment variable (convert: --pgp-passphrase-env VARIABLE)"
)
_WRONG_PASSPHRASE = "cannot be unlocked with the passphrase given"
_UNDECRYPTABLE = (
    "cannot be decrypted with the private key given: it is not encrypted to this key (is it the "
    "key whose public half Auth0 support was given?), or not an OpenPGP message, or damaged or "
    "truncated (then ask Auth0 support to send it again)"
)
#: The helper: the key (length-prefixed) and the passphrase on stdin, the plaintext on stdout.
#: A failure is said by its exit status alone: its stderr is discarded, so that nothing the
#: library says, about the key or the data, reaches any output.
_DECRYPT = """\
import os, sys
try:
    import pysequoia
    data = sys.stdin.buffer.read()
    size = int.from_bytes(data[:8], "big")
    key, passphrase = data[8 : 8 + size], data[8 + size :]
    decryptor = pysequoia.Tsk.from_bytes(key).decryptor(
        passphrase.decode("utf-8") if passphrase else None
    )
    del data, key, passphrase
    pysequoia.decrypt_file(sys.argv[1], "/dev/stdout", decryptor=decryptor)
except BaseException:
    os._exit(3)
os._exit(0)
"""


def _pysequoia() -> Any:
    try:
        import pysequoia  # noqa: PLC0415 - an optional extra, loaded when used
    except ImportError as e:
        raise ConfigurationError(_EXTRA) from e
    return pysequoia


def _has_secret_keys(pgp: Any, key: bytes) -> bool:
    """Whether *key* holds secret keys (a public key parses as a ``Tsk`` too)."""
    with warnings.catch_warnings():
        # pysequoia would rather read a private key as a Tsk, which cannot say it is public.
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(pgp.Cert.from_bytes(key).has_secret_keys)


@frozen
class PgpDecryption:
    """How to decrypt an OpenPGP-encrypted export: a private key, and its passphrase if any.

    Make one with :meth:`from_key_file`, which checks the key (and passphrase)
    at once; pass it to :func:`~auth0_ory_migrate.plan_from_files` as
    ``password_hashes_decryption``. Neither the key nor the passphrase is
    shown by its ``repr``. Needs the ``pgp`` extra (pysequoia).

    Attributes:
        key_file: Where the private key was read from (named in errors).

    .. versionadded:: 0.1.0
    """

    key_file: Path
    _key: bytes = field(repr=False, alias="key")
    _passphrase: str | None = field(repr=False, default=None, alias="passphrase")

    @classmethod
    def from_key_file(
        cls, key_file: str | os.PathLike[str], *, passphrase: str | None = None
    ) -> PgpDecryption:
        """Read and check a private key, ASCII-armored or binary (as gpg exports it).

        Args:
            key_file: The private key (``gpg --export-secret-keys``), whose
                public key the export was encrypted to.
            passphrase: The key's passphrase, if it has one (read it from the
                environment, never from a command line).

        Returns:
            The decryption, ready for :meth:`open`.

        Raises:
            ConfigurationError: The OpenPGP library is not installed; the file
                cannot be read or holds no private key; the key is protected
                and *passphrase* is missing or wrong. The message names the key
                file, never the key or the passphrase.

        Example:
            >>> decryption = PgpDecryption.from_key_file(  # doctest: +SKIP
            ...     "hashes-key.asc", passphrase=os.environ["HASH_KEY_PASSPHRASE"]
            ... )

        .. versionadded:: 0.1.0
        """
        pgp = _pysequoia()
        path = Path(key_file)
        try:
            key = path.read_bytes()
        except OSError as e:
            msg = f"private key {path}: cannot be read ({e.strerror})"
            raise ConfigurationError(msg) from None
        try:
            tsk = pgp.Tsk.from_bytes(key) if _has_secret_keys(pgp, key) else None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # its errors (and panics) may quote the file: never shown
            tsk = None
        if tsk is None:
            msg = f"private key {path} {_NOT_A_KEY}"
            raise ConfigurationError(msg) from None
        try:
            tsk.decryptor(passphrase)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            problem = _PROTECTED if passphrase is None else _WRONG_PASSPHRASE
            msg = f"private key {path} {problem}"
            raise ConfigurationError(msg) from None
        return cls(path, key=key, passphrase=passphrase)

    @contextlib.contextmanager
    def open(self, path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
        """Decrypt *path* as a stream: its plaintext, read as it is decrypted.

        The message is checked as a whole when its end is read (OpenPGP's
        integrity check): a file that is not encrypted to this key, or is
        damaged or truncated, raises on the first read or at the end, before
        the last bytes are returned, so readers that go to the end never act
        on a damaged file's plaintext alone.

        Args:
            path: The encrypted file (binary or ASCII-armored).

        Yields:
            The plaintext, for the ``with`` block.

        Raises:
            InputFileError: ``"password_hashes"``: the file cannot be decrypted
                with this key (raised by a read).
            OSError: The file cannot be opened.

        Example:
            >>> with decryption.open("auth0-password-hashes.json.pgp") as f:  # doctest: +SKIP
            ...     head = f.read(100)

        .. versionadded:: 0.1.0
        """
        with open(path, "rb"):
            pass  # a missing or unreadable file is said as such, as for any input
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-I", "-c", _DECRYPT, os.fspath(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        try:
            assert proc.stdin is not None
            assert proc.stdout is not None
            widen_pipe(proc.stdout.fileno())
            secret = self._key + (self._passphrase or "").encode("utf-8")
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(len(self._key).to_bytes(8, "big") + secret)
            proc.stdin.close()
            yield io.BufferedReader(_Plaintext(proc, Path(path)), buffer_size=1 << 20)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


class _Plaintext(io.RawIOBase):
    """The helper's stdout; its end is the end only if the helper decrypted the whole message."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path) -> None:
        self._proc = proc
        self._path = path
        self._pipe = cast("io.RawIOBase", proc.stdout)  # unbuffered: a FileIO

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._pipe.readinto(buffer) or 0
        if n == 0 and self._proc.wait() != 0:
            raise InputFileError("password_hashes", f"{self._path} {_UNDECRYPTABLE}")
        return n
