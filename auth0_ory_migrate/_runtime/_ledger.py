"""The import's state directory: what happened to every user, safe against any crash.

Layout of the state directory (default ``.auth0-ory-migrate/``, mode 0700):

``state.json``
    Which input the state belongs to (its SHA-256). A different input under the same
    directory is refused: the ledger would be meaningless for it.
``ledger.ndjson``
    Append-only, one JSON object a line, fsynced after every batch:

    - ``{"external_id", "status", "identity_id", "reason", "at"}``: an outcome, status
      ``created`` | ``exists`` | ``failed`` (or ``deleted``, written by ``undo``). The
      last line of a user wins.
    - ``{"attempt": [external ids], "at"}``: written before a user is first sent, so that
      after a crash an identity found on Ory can be told apart from one that was there
      before (see :func:`auth0_ory_migrate._core._importing.resolve_conflict`).

    A line cut short by a crash is dropped when the ledger is opened again.
``identity-ids.csv``
    ``auth0_user_id,ory_identity_id`` for every user in Ory, rewritten from the ledger at
    the end of each run, for the caller's own databases.
``lock``
    Held (``flock``) while a run uses the directory: two runs never share one.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from attrs import define, field

from .._core import _json
from .._core._importing import ImportOutcome
from ..exceptions import LedgerError
from ._files import private_file


__all__ = ["DEFAULT_STATE_DIR", "Ledger", "file_digest"]

#: The state directory used when none is given.
DEFAULT_STATE_DIR = ".auth0-ory-migrate"

STATE_FILE = "state.json"
LEDGER_FILE = "ledger.ndjson"
MAPPING_FILE = "identity-ids.csv"
LOCK_FILE = "lock"
_FORMAT = 1
_CHUNK = 1 << 20


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's content, hex, read in bounded memory.

    .. versionadded:: 0.1.0
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@define
class Ledger:
    """An open state directory: the users already dealt with, and a place to record more.

    Open it with :meth:`open` (for an import) or :meth:`open_existing` (for ``undo``), and
    close it (or use it as a context manager) to release the directory's lock.

    Attributes:
        state_dir: The directory.
        input_digest: SHA-256 of the input the state belongs to.
        input_name: What the input was called when the state was created.

    .. versionadded:: 0.1.0
    """

    state_dir: Path
    input_digest: str | None
    input_name: str
    _file: IO[bytes] = field(repr=False)
    _lock: IO[bytes] = field(repr=False)
    _done: set[str] = field(factory=set, repr=False)
    _failed: dict[str, str] = field(factory=dict, repr=False)
    _attempts: dict[str, float] = field(factory=dict, repr=False)

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        input_digest: str,
        input_name: str = "",
    ) -> Ledger:
        """Open (or create) the state for an import of the input with *input_digest*.

        Args:
            state_dir: The state directory (created with mode 0700 when missing).
            input_digest: SHA-256 of the input (:func:`file_digest`, or any stable
                digest of what is being imported).
            input_name: A name for the input, shown when another input is refused.

        Raises:
            LedgerError: The directory belongs to another input, is in use by another
                run, or its ledger is damaged.

        .. versionadded:: 0.1.0
        """
        path = Path(state_dir)
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise LedgerError(f"cannot create the state directory {str(path)!r}: {e}") from e
        lock = cls._take_lock(path)
        try:
            state = cls._read_state(path)
            if state is None:
                state = {
                    "format": _FORMAT,
                    "input": {"sha256": input_digest, "name": input_name},
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                with private_file(path / STATE_FILE) as f:
                    f.write(_json.dumps(state) + b"\n")
            recorded = state.get("input", {})
            if recorded.get("sha256") != input_digest:
                theirs = str(recorded.get("sha256"))[:12]
                raise LedgerError(
                    f"the state directory {str(path)!r} belongs to another input "
                    f"({recorded.get('name') or 'unnamed'}, sha256 {theirs}…); "
                    f"this input ({input_name or 'unnamed'}) has sha256 {input_digest[:12]}…. "
                    "Use another --state-dir for it, or remove the directory to start over "
                    "(its ledger is what `undo` needs)"
                )
            return cls._load(path, recorded.get("sha256"), recorded.get("name") or "", lock)
        except BaseException:
            lock.close()
            raise

    @classmethod
    def open_existing(cls, state_dir: str | os.PathLike[str]) -> Ledger:
        """Open the state an earlier import left, whatever its input (for ``undo``).

        Raises:
            LedgerError: There is no import state in the directory, or it is in use.

        .. versionadded:: 0.1.0
        """
        path = Path(state_dir)
        if not (path / STATE_FILE).is_file():
            raise LedgerError(f"no import state in {str(path)!r} (was anything imported with it?)")
        lock = cls._take_lock(path)
        try:
            state = cls._read_state(path) or {}
            recorded = state.get("input", {})
            return cls._load(path, recorded.get("sha256"), recorded.get("name") or "", lock)
        except BaseException:
            lock.close()
            raise

    @staticmethod
    def _take_lock(path: Path) -> IO[bytes]:
        lock = open(path / LOCK_FILE, "ab")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            lock.close()
            raise LedgerError(
                f"the state directory {str(path)!r} is in use by another run; "
                "wait for it to finish, or use another --state-dir"
            ) from e
        return lock

    @staticmethod
    def _read_state(path: Path) -> dict[str, Any] | None:
        try:
            raw = (path / STATE_FILE).read_bytes()
        except FileNotFoundError:
            return None
        try:
            state = _json.loads(raw)
        except ValueError as e:
            raise LedgerError(f"{str(path / STATE_FILE)!r} is damaged (not JSON)") from e
        if not isinstance(state, dict):
            raise LedgerError(f"{str(path / STATE_FILE)!r} is damaged (not a JSON object)")
        return state

    @classmethod
    def _load(cls, path: Path, digest: str | None, name: str, lock: IO[bytes]) -> Ledger:
        ledger_path = path / LEDGER_FILE
        fd = os.open(ledger_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        f = os.fdopen(fd, "r+b")
        try:
            self = cls(path, digest, name, f, lock)
            self._replay(f)
        except BaseException:
            f.close()
            raise
        return self

    def _replay(self, f: IO[bytes]) -> None:
        f.seek(0)
        good_end = 0
        line_no = 0
        while True:
            line = f.readline()
            if not line:
                break
            line_no += 1
            if not line.endswith(b"\n"):
                break  # cut short by a crash: dropped below
            try:
                entry = _json.loads(line)
            except ValueError as e:
                raise LedgerError(
                    f"{str(self.state_dir / LEDGER_FILE)!r} line {line_no} is damaged"
                ) from e
            good_end += len(line)
            if isinstance(entry, dict):
                self._apply(entry)
        size = f.seek(0, io.SEEK_END)
        if size != good_end:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())

    def _apply(self, entry: dict[str, Any]) -> None:
        # Attempts are only read back from the file: those of the current run are the
        # engine's to track.
        attempt = entry.get("attempt")
        if isinstance(attempt, list):
            at = float(entry.get("at") or 0.0)
            for external_id in attempt:
                self._attempts.setdefault(str(external_id), at)
            return
        external_id = entry.get("external_id")
        status = entry.get("status")
        if not isinstance(external_id, str):
            return
        if status in ("created", "exists"):
            self._done.add(external_id)
            self._failed.pop(external_id, None)
            self._attempts.pop(external_id, None)
        elif status == "failed":
            self._done.discard(external_id)
            self._failed[external_id] = str(entry.get("reason") or "")
        elif status == "deleted":
            self._done.discard(external_id)
            self._failed.pop(external_id, None)
            self._attempts.pop(external_id, None)

    # -- queries ----------------------------------------------------------------------------

    @property
    def ledger_path(self) -> Path:
        """The NDJSON ledger file.

        .. versionadded:: 0.1.0
        """
        return self.state_dir / LEDGER_FILE

    @property
    def mapping_path(self) -> Path:
        """The ``auth0_user_id,ory_identity_id`` CSV file.

        .. versionadded:: 0.1.0
        """
        return self.state_dir / MAPPING_FILE

    def is_done(self, external_id: str) -> bool:
        """Whether the user is recorded as created or already present.

        .. versionadded:: 0.1.0
        """
        return external_id in self._done

    @property
    def done_count(self) -> int:
        """Users recorded as created or already present.

        .. versionadded:: 0.1.0
        """
        return len(self._done)

    @property
    def failed(self) -> dict[str, str]:
        """Users whose last outcome is ``failed``, with the reason (a copy).

        .. versionadded:: 0.1.0
        """
        return dict(self._failed)

    def unanswered_attempt(self, external_id: str) -> float | None:
        """When an earlier run first sent this user without learning that it arrived.

        Read from the ledger when it was opened: a run killed mid-request, or a request
        whose answer never came. ``None`` when no earlier run left the user in doubt.
        An identity with the user's external id created after that time was created by
        that attempt, and counts as created by this import.

        .. versionadded:: 0.1.0
        """
        return self._attempts.get(external_id)

    def final_outcomes(self) -> Iterator[ImportOutcome]:
        """The last outcome of every user, read back from the file.

        Users whose last line is ``deleted`` (by ``undo``) are left out.

        .. versionadded:: 0.1.0
        """
        latest: dict[str, ImportOutcome | None] = {}
        with open(self.ledger_path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                entry = _json.loads(line)
                external_id = entry.get("external_id") if isinstance(entry, dict) else None
                if not isinstance(external_id, str):
                    continue
                status = entry.get("status")
                if status in ("created", "exists", "failed"):
                    latest[external_id] = ImportOutcome(
                        external_id, status, entry.get("identity_id"), entry.get("reason")
                    )
                elif status == "deleted":
                    latest[external_id] = None
        for outcome in latest.values():
            if outcome is not None:
                yield outcome

    def created_identities(self) -> list[tuple[str, str]]:
        """``(external_id, identity_id)`` of every identity this state's imports created.

        That is what ``undo`` deletes: users found already present (``exists``) were not
        created by these imports and are left alone.

        .. versionadded:: 0.1.0
        """
        return [
            (o.external_id, o.identity_id)
            for o in self.final_outcomes()
            if o.status == "created" and o.identity_id
        ]

    # -- recording --------------------------------------------------------------------------

    def note_attempt(self, external_ids: Iterable[str], *, at: float | None = None) -> None:
        """Record that these users are about to be sent (before the request goes out).

        A later run learns from it which users an interrupted run may have created
        (:meth:`unanswered_attempt`). Flushed, not fsynced: a process crash loses nothing
        the OS has been handed; the next :meth:`record` fsyncs it.

        .. versionadded:: 0.1.0
        """
        ids = list(external_ids)
        if not ids:
            return
        when = time.time() if at is None else at
        self._file.write(_json.dumps({"attempt": ids, "at": when}) + b"\n")
        self._file.flush()

    def record(self, outcomes: Iterable[ImportOutcome]) -> None:
        """Append outcomes and fsync, so that they survive any crash from now on.

        .. versionadded:: 0.1.0
        """
        self._append(outcome.to_dict() for outcome in outcomes)

    def record_deletions(self, deleted: Iterable[tuple[str, str | None]]) -> None:
        """Record identities ``undo`` deleted (``(external_id, identity_id)`` pairs), fsynced.

        A later import with this state creates those users again.

        .. versionadded:: 0.1.0
        """
        self._append(
            {
                "external_id": external_id,
                "status": "deleted",
                "identity_id": identity_id,
                "reason": None,
            }
            for external_id, identity_id in deleted
        )

    def _append(self, entries: Iterable[dict[str, Any]]) -> None:
        """Apply *entries* to the in-memory state and append them to the ledger, fsynced."""
        now = time.time()
        lines = []
        for entry in entries:
            entry["at"] = now
            lines.append(_json.dumps(entry) + b"\n")
            self._apply(entry)
        if not lines:
            return
        self._file.write(b"".join(lines))
        self._file.flush()
        os.fsync(self._file.fileno())

    def write_mapping(self) -> Path:
        """Rewrite ``identity-ids.csv`` from the ledger (atomically) and return its path.

        .. versionadded:: 0.1.0
        """
        with private_file(self.mapping_path) as f:
            text = io.TextIOWrapper(f, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(["auth0_user_id", "ory_identity_id"])
            for outcome in self.final_outcomes():
                if outcome.identity_id and outcome.status in ("created", "exists"):
                    writer.writerow([outcome.external_id, outcome.identity_id])
            text.flush()
            text.detach()
        return self.mapping_path

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the ledger and release the directory.

        .. versionadded:: 0.1.0
        """
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._lock.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
