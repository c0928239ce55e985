"""Ory's identities read by a forked child process, which alone loads the Ory adapter.

``sync`` plans in a process that forks workers and holds a big index: ory-client takes about
a second and 50 MB to load, and a read of Ory meanwhile would slow the process that feeds the
workers. :class:`ForkedIdentityReader` opens the adapter in a child (asking Ory there, while
this process reads its inputs) and reads what it is asked for there.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from ..exceptions import Auth0OryMigrateError, OryError
from ..typing import IdentityUpdater
from ._parallel import can_fork


__all__ = ["ForkedIdentityReader"]

#: Identity ids sent to the child in one message (its answer holds their credentials).
_READ_CHUNK = 1000


def _read(ory: IdentityUpdater, identity_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The identities Ory has of *identity_ids*: 100 a request where the adapter can.

    Raises:
        OryError: A request failed.
        Auth0OryMigrateError: Anything else went wrong (its type named, never its text).
    """
    try:
        many = getattr(ory, "get_identities", None)
        if many is not None:
            return dict(many(identity_ids))
        found = {i: ory.get_identity(i) for i in identity_ids}
        return {i: identity for i, identity in found.items() if identity is not None}
    except Auth0OryMigrateError:
        raise
    except Exception as e:  # never a traceback, never the text (it may quote a secret)
        msg = f"reading the identities from Ory failed ({type(e).__name__})"
        raise Auth0OryMigrateError(msg) from None


def _die_with(parent: int) -> None:
    """In the child: be killed when *parent* dies, however it dies (Linux ``PR_SET_PDEATHSIG``).

    A child waiting on Ory (up to the adapter's timeout) would otherwise outlive a parent
    killed meanwhile, holding the parent's files (the state directory's lock, its output).
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # (the parent died before the call)
        os._exit(0)


_PR_SET_PDEATHSIG = 1


def _error(e: OryError) -> tuple[Any, ...]:
    """An :class:`OryError` as it crosses the pipe (its fields, redacted already)."""
    return ("error", e.status, e.reason, dict(e.headers), e.outcome_unknown)


def _from_error(answer: tuple[Any, ...]) -> OryError:
    """The :class:`OryError` that :func:`_error` sent."""
    _, status, reason, headers, unknown = answer
    return OryError(status, reason, headers=headers, outcome_unknown=unknown)


def _serve(
    conn: Connection,
    parents_end: Connection,
    open_reader: Callable[[], IdentityUpdater],
    parent: int,
) -> None:
    """The child: open the adapter (Ory's answer or refusal goes back), then read on request."""
    _die_with(parent)
    parents_end.close()  # (else the parent's death would never read as the end of the pipe)
    try:
        try:
            ory = open_reader()
        except OryError as e:
            conn.send(_error(e))
            return
        except BaseException:
            conn.send(("failed",))
            return
        conn.send(("ok",))
        while (ids := conn.recv()) is not None:
            try:
                conn.send(("found", _read(ory, ids)))
            except OryError as e:
                conn.send(_error(e))
            except Auth0OryMigrateError as e:  # (_read's own text: the error's type only)
                conn.send(("failed", str(e)))
    except (EOFError, OSError, KeyboardInterrupt):
        return  # the parent is gone, or stopping
    finally:
        conn.close()


class ForkedIdentityReader:
    """Ory's identities read by a forked child process, which alone loads the Ory adapter.

    The child calls *open_reader* at once (say, an adapter that asks Ory whether it answers
    and takes the key), while this process goes on; :meth:`answered` waits for it and raises
    the :class:`~auth0_ory_migrate.OryError` the child met (the request is not sent again).
    :meth:`get_identities` reads in the child (``GET /admin/identities?ids=``, 100 a request
    where the adapter has ``get_identities``). Where this process may not fork (another
    thread runs, or not Linux), or the child is gone, all of it happens in this process, with
    the same results. The child dies with this process. Use it as a context manager, or
    :meth:`close` it; it reads nothing once closed.

    Args:
        open_reader: Makes the Ory adapter (in the child); called once.

    Raises:
        OryError: Where it cannot fork, what *open_reader* raises, at once.

    .. versionadded:: 0.1.0
    """

    def __init__(self, open_reader: Callable[[], IdentityUpdater]) -> None:
        self._open = open_reader
        self._local: IdentityUpdater | None = None
        self._conn: Connection | None = None
        self._process: BaseProcess | None = None
        self._answer: tuple[Any, ...] | None = None
        self._closed = False
        if not can_fork():
            self._local = open_reader()
            return
        context = multiprocessing.get_context("fork")
        mine, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(theirs, mine, open_reader, os.getpid()), daemon=True
        )
        try:
            process.start()
        except Exception:  # (no memory or process left for a fork: all of it here)
            mine.close()
            theirs.close()
            if process.pid is not None:
                process.kill()
                process.join()
            self._local = open_reader()
            return
        theirs.close()
        self._conn, self._process = mine, process

    def _here(self) -> IdentityUpdater:
        """The adapter of this process (opened when first needed; the child stopped)."""
        if self._closed:
            msg = "the ForkedIdentityReader is closed"
            raise RuntimeError(msg)
        if self._local is None:
            self._stop_child()
            self._local = self._open()
        return self._local

    def answered(self) -> None:
        """Wait until the adapter is open (Ory answered).

        Raises:
            OryError: As *open_reader* raised it in the child (or here).
            Auth0OryMigrateError: What else *open_reader* raises (it is called again here
                to raise it: the child sends no text of it).
            RuntimeError: The reader is closed.
        """
        if self._conn is None:
            self._here()
            return
        if self._answer is None:
            try:
                self._answer = self._conn.recv()
            except (EOFError, OSError):  # (the child died without a word)
                self._answer = ("failed",)
        if self._answer[0] == "error":
            raise _from_error(self._answer)
        if self._answer[0] != "ok":
            self._here()  # raises what open_reader raises, or opens it here after all

    def get_identities(self, identity_ids: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        """The identities Ory has of *identity_ids*, by id, with their credentials.

        Raises:
            OryError: A request failed (after the adapter's own handling).
            Auth0OryMigrateError: Anything else went wrong reading (its type named).
            RuntimeError: The reader is closed.
        """
        self.answered()
        if self._conn is None:
            return _read(self._here(), identity_ids)
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(identity_ids), _READ_CHUNK):
            chunk = list(identity_ids[start : start + _READ_CHUNK])
            try:
                self._conn.send(chunk)
                answer = self._conn.recv()
            except (EOFError, OSError):  # the child is gone: the rest is read here
                found.update(_read(self._here(), identity_ids[start:]))
                break
            if answer[0] == "error":
                raise _from_error(answer)
            if answer[0] == "failed":
                raise Auth0OryMigrateError(answer[1])
            found.update(answer[1])
        return found

    def close(self) -> None:
        """Stop the child (it holds nothing to finish). Safe to call more than once."""
        self._closed = True
        self._stop_child()

    def _stop_child(self) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        if process is not None:
            process.join(timeout=1)  # (waiting on Ory, it would not read the stop: killed)
            if process.is_alive():
                process.kill()
                process.join()

    def __enter__(self) -> ForkedIdentityReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
