"""Forked processes for big exports: the users' first reading, and the mapping of the users.

Not part of the pure core: it forks. :func:`plan_from_files` (public) has
:func:`scan_in_background` read the users once in a child while the parent
indexes the side files.

:func:`write_identities`: the parent reads the users file and hands it out in
blocks of whole lines (two blocks in flight per worker, each worker's in turn).
A worker decodes, validates and maps every user that has no one to wait for,
and sends back the block's identities-file lines, the report of what it mapped,
and the raw lines of the few users that share an email or user id with another,
each with its place among the rest: the parent feeds those to the plan's run
(:class:`~auth0_ory_migrate._core._plan.PlanRun`), merging the workers' reports
around them. The parent takes it all in file order, so the identities file and
the report are byte for byte those of a plan iterated in one process.

:func:`sync_plan_items`: the same pipeline for ``sync``. A worker maps its block and
compares each identity's line with the record of what was imported (its keyed
fingerprint, :meth:`~auth0_ory_migrate.ImportedRecords.is_unchanged`, in the records the
workers share with the parent); it sends back only the users to plan (the few that
changed, the new ones) and the ids of the others (:class:`~auth0_ory_migrate.SeenUsers`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import multiprocessing
import os
import pickle
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from multiprocessing.connection import Connection
from typing import IO, Any, Literal, TypeAlias, cast

from .._core._identities import dump_identity
from .._core._json import dumps
from .._core._mapping import MappingOptions, PlannedIdentity, Skipped
from .._core._mfa import index_mfa_secrets, read_mfa_secrets
from .._core._outcomes import OutcomeLines
from .._core._password_hashes import HashUses, index_password_hashes, read_password_hashes
from .._core._plan import (
    MappingContext,
    MigrationPlan,
    PlanItem,
    PlanRun,
    UserScan,
    needs_order,
    plan_migration,
    scan_users,
    start_run,
)
from .._core._read import decode_ndjson_line, ndjson_blocks, ndjson_lines
from .._core._records import UnreadableRecord
from .._core._report import MigrationReport, ReportBuilder, ReportMark
from .._core._side_files import (
    check_mfa_secrets_read,
    check_password_hashes_read,
    refuse_another_export,
)
from .._core._sync import ImportedRecord, SeenUsers, line_fingerprint
from .._core._users import Auth0User, UsersFile, parse_user
from ..exceptions import Auth0OryMigrateError, InvalidRecordError
from ._files import open_input, private_file, widen_pipe
from ._ledger import ImportedRecords
from ._pgp import PgpDecryption


__all__ = [
    "can_fork",
    "default_jobs",
    "plan_from_files",
    "scan_in_background",
    "sync_plan_items",
    "write_identities",
]

#: More workers than this gain nothing: the parent, which reads, writes and plans
#: the users that share an email, keeps about this many busy.
MAX_DEFAULT_JOBS = 8

#: The mode of the outcomes file: it names no secret (user ids, outcomes, notes).
OUTCOMES_MODE = 0o644

#: A record the parent must plan itself: its line number, its raw line, and where
#: it comes among the worker's output: offset in the lines, the mark of the
#: report's lists (:meth:`ReportBuilder.mark`), offset in the outcome rows.
_InOrder: TypeAlias = tuple[int, bytes, int, ReportMark, int]
#: What a worker sends back for a block: the identities-file lines, the report
#: of what it mapped, the records for the parent, the hash entries used
#: (:meth:`~auth0_ory_migrate.PasswordHashIndex.find`), the outcomes-file lines
#: (when asked for).
_Result: TypeAlias = tuple[bytes, ReportBuilder, list[_InOrder], HashUses, bytes]


def _scan_child(users: UsersFile, conn: Connection) -> None:
    try:
        result = scan_users(users)
    except BaseException:  # the parent scans again, and reports the error itself
        result = None
    conn.send(result)
    conn.close()


@contextlib.contextmanager
def scan_in_background(users: UsersFile) -> Iterator[Callable[[], UserScan | None]]:
    """Scan *users* (:func:`~auth0_ory_migrate.scan_users`) in a forked child during the ``with``.

    The planner's first pass and the indexing of the side files are each about a
    tenth of a conversion; on two cores they take the time of one. Yields a
    function that waits for the scan; it returns ``None`` (the plan then scans
    itself) when this process may not fork (:func:`can_fork`) or the child failed.
    """
    if not can_fork():
        yield lambda: None
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_scan_child, args=(users, sender), daemon=True)
    child.start()
    sender.close()

    def result() -> UserScan | None:
        try:
            scan = receiver.recv()
        except (EOFError, OSError):
            return None
        return scan if isinstance(scan, UserScan) else None

    try:
        yield result
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()


def default_jobs() -> int:
    """Worker processes for :func:`write_identities`: the CPUs this process may use, at most 8."""
    affinity = getattr(os, "sched_getaffinity", None)  # (Linux)
    cpus = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    return min(cpus, MAX_DEFAULT_JOBS)


def plan_from_files(
    users: str | os.PathLike[str],
    *,
    password_hashes: str | os.PathLike[str] | None = None,
    mfa_secrets: str | os.PathLike[str] | None = None,
    options: MappingOptions | None = None,
    strict: bool = False,
    allow_empty_password_hashes: bool = False,
    password_hashes_decryption: PgpDecryption | None = None,
    meanwhile: Callable[[], object] | None = None,
    sources: bool = False,
) -> MigrationPlan:
    """Plan the migration of the users in Auth0's export files, as ``convert`` does.

    :func:`~auth0_ory_migrate.plan_migration` over a
    :class:`~auth0_ory_migrate.UsersFile` of *users* and the indexes of the
    side files, each file gzipped or not (:func:`open_input`). The side files
    are read now; meanwhile, on Linux, a forked child makes the users' first
    pass (:func:`~auth0_ory_migrate.scan_users`). The users are read again when
    the plan is iterated or written (:func:`write_identities`).

    Args:
        users: Auth0's user export (NDJSON, a JSON array or the export job's CSV).
        password_hashes: Auth0's password-hash export (decrypted).
        mfa_secrets: Auth0's MFA-secrets export.
        options: Mapping rules.
        strict: Raise on the first unreadable record instead of reporting it.
        allow_empty_password_hashes: Accept a hash file from which no hash can
            be read although the users include database users
            (``--allow-empty-hashes``); refused otherwise.
        password_hashes_decryption: *password_hashes* is OpenPGP-encrypted, as
            Auth0 support sends it: decrypt it as it is read, with this key
            (``--pgp-key``); no plaintext copy is written.
        meanwhile: Other work of the caller, done before the side files are read: with
            a side file, on Linux, while the first pass runs in its child (``sync`` reads
            its ledger then). What it raises goes up, the child stopped.
        sources: Give the planned identities their
            :attr:`~auth0_ory_migrate.PlannedIdentity.source` (for ``sync``; ``migrate``
            and ``sync`` do).

    Raises:
        InputFileError: A side file cannot be read at all; or no hash can be
            read from *password_hashes* while the users include database users
            (an empty file, one JSON object ``{"users": [...]}``); or a side file
            is another of Auth0's exports (the users export as the hash file,
            the hash file as the MFA file): the message says what it looks like.
        InvalidRecordError: With *strict*, a side file's record is malformed.

    Example:
        >>> plan = plan_from_files(  # doctest: +SKIP
        ...     "auth0-users.ndjson.gz", password_hashes="auth0-password-hashes.json"
        ... )
        >>> write_identities(plan, "identities.ndjson", jobs=None)  # doctest: +SKIP

    .. versionadded:: 0.1.0
    """
    users_file = UsersFile(lambda: open_input(users), strict=strict)  # opened once per pass
    # The users' first reading is worth a child of its own only beside other work.
    background = (
        scan_in_background(users_file)
        if password_hashes is not None or mfa_secrets is not None
        else contextlib.nullcontext(lambda: None)
    )
    with background as scanned:
        if meanwhile is not None:
            meanwhile()
        hashes = None
        decryption = password_hashes_decryption
        open_hashes = open_input if decryption is None else decryption.open
        if password_hashes is not None:
            with (
                _another_export("password_hashes", password_hashes, open_hashes),
                open_hashes(password_hashes) as f,
            ):
                hashes = index_password_hashes(read_password_hashes(f, strict=strict))
        mfa = None
        if mfa_secrets is not None:
            with open_input(mfa_secrets) as f, _another_export("mfa_secrets", mfa_secrets):
                mfa = index_mfa_secrets(read_mfa_secrets(f, strict=strict))
        scan = scanned()
    # Side files wrong as a whole (issue 11): looked at only when nothing usable was read.
    if hashes is not None and not hashes.entries:
        check_password_hashes_read(
            hashes,
            _head(password_hashes, open_hashes),  # type: ignore[arg-type]
            has_database_users=lambda: any(
                type(u) is Auth0User and u.database_ids for u in users_file
            ),
            allow_empty=allow_empty_password_hashes,
        )
    if mfa is not None and not (mfa.otp or mfa.recovery_codes):
        check_mfa_secrets_read(mfa, _head(mfa_secrets))  # type: ignore[arg-type]
    return plan_migration(
        users_file,
        password_hashes=hashes,
        mfa_secrets=mfa,
        options=options,
        scan=scan,
        sources=sources,
    )


def _head(
    path: str | os.PathLike[str],
    opener: Callable[[str | os.PathLike[str]], AbstractContextManager[IO[bytes]]] = open_input,
) -> bytes:
    """A side file's first 64 KiB (gzip undone, decrypted): what a refusal describes."""
    with opener(path) as f:
        return f.read(1 << 16)


@contextlib.contextmanager
def _another_export(
    source: Literal["password_hashes", "mfa_secrets"],
    path: str | os.PathLike[str],
    opener: Callable[[str | os.PathLike[str]], AbstractContextManager[IO[bytes]]] = open_input,
) -> Iterator[None]:
    """With *strict*, a side file that is another export is named as such, not by its record."""
    try:
        yield
    except InvalidRecordError:
        refuse_another_export(source, _head(path, opener))  # raises the clearer error, if it is one
        raise


def write_identities(
    plan: MigrationPlan,
    out: str | os.PathLike[str] | IO[bytes],
    *,
    jobs: int | None = 1,
    outcomes: str | os.PathLike[str] | IO[bytes] | None = None,
) -> MigrationReport:
    """Iterate *plan*, writing each planned identity to *out* (one line each); return the report.

    This is what ``convert`` does. Given a path, the file is made new with mode
    0600 (it holds password hashes and TOTP secrets), as :func:`private_file`
    makes it: whole or not at all, never through a symbolic link.

    With ``jobs > 1`` the users are mapped by that many forked worker processes
    when the plan reads a :class:`~auth0_ory_migrate.UsersFile` of NDJSON on
    Linux and no other thread runs (forking threads is unsafe); otherwise, and
    always with ``jobs == 1``, in this process. Either way the file and the
    report are the same, byte for byte. Custom trait mappings work in workers
    too (they are forked, not pickled).

    With *outcomes*, every Auth0 user is accounted for in one more file: a CSV
    of :data:`~auth0_ory_migrate.OUTCOME_COLUMNS` (a header, then one row per
    record of the users file, :func:`~auth0_ory_migrate.user_outcome`), in the
    order of the identities file: file order, except that users who share an
    email come together where the last of them is read. It names no secret, so
    a path is made new with mode 0644 (not 0600), otherwise as
    :func:`private_file` makes a file: whole or not at all, never through a
    symbolic link. Without it, nothing more is done.

    Args:
        plan: What :func:`~auth0_ory_migrate.plan_migration` returned.
        out: The identities file: a path, or a file opened for writing in binary
            mode (written to, not closed).
        jobs: Worker processes; ``None``: the CPUs this process may use, at most 8.
        outcomes: Where to write the outcome of every user, if anywhere: a
            path, or a file opened for writing in binary mode.

    Raises:
        ConfigurationError: *out* or *outcomes* is a symbolic link.
        Auth0OryMigrateError: A worker process died (e.g. killed for memory).

    Example:
        >>> report = write_identities(plan, "identities.ndjson", jobs=None)  # doctest: +SKIP

    .. versionadded:: 0.1.0
    """
    if isinstance(outcomes, (str, os.PathLike)):
        with private_file(outcomes) as o:
            os.fchmod(o.fileno(), OUTCOMES_MODE)
            return write_identities(plan, out, jobs=jobs, outcomes=o)
    if isinstance(out, (str, os.PathLike)):
        with private_file(out) as f:
            return write_identities(plan, f, jobs=jobs, outcomes=outcomes)
    if jobs is None:
        jobs = default_jobs()
    if outcomes is not None:
        outcomes.write(OutcomeLines.HEADER)
    run = start_run(plan)
    users = run.users
    if jobs > 1 and isinstance(users, UsersFile) and can_fork():
        run.start()
        if _write_in_parallel(run, users, out, jobs, outcomes):
            return run.report
    if outcomes is None:
        for item in run:
            if type(item) is PlannedIdentity:
                out.write(dump_identity(item.body))
        return run.report
    line = OutcomeLines().line
    for item in run:
        if type(item) is PlannedIdentity:
            out.write(dump_identity(item.body))
        outcomes.write(line(item))
    return run.report


def can_fork() -> bool:
    """Whether this process may fork: on Linux, with no other thread (forking one is unsafe)."""
    return sys.platform == "linux" and threading.active_count() == 1


def _write_in_parallel(
    run: PlanRun, users: UsersFile, out: IO[bytes], jobs: int, outcomes: IO[bytes] | None
) -> bool:
    """Write the identities, mapped by *jobs* workers; False for a file not of NDJSON."""
    with users.opener() as f:
        blocks = ndjson_blocks(f, "users", allow_csv=True)
        if blocks is None:
            return False  # a JSON array or CSV: planned in this process
        # The workers share the parent's memory (the indexes) until either side writes a
        # page: no garbage collector may walk those objects (writing each header) meanwhile.
        gc.freeze()
        try:
            _feed_workers(run, blocks, out, jobs, outcomes, strict=users.strict)
        finally:
            gc.unfreeze()
    return True


class _Link:
    """One end of a two-way channel: a pipe to read from and one to write to.

    *room*: how many bytes the pipe written to holds (0: not known).
    """

    def __init__(self, inbox: Connection, outbox: Connection, room: int = 0) -> None:
        self._in, self._out, self.room = inbox, outbox, room

    def send(self, obj: object) -> None:
        try:
            self._out.send(obj)
        except OSError as e:  # (a broken pipe: the worker is gone)
            raise Auth0OryMigrateError(_WORKER_DIED) from e

    def recv(self) -> Any:
        return self._in.recv()

    def close(self) -> None:
        self._in.close()
        self._out.close()


def _links(context: Any) -> tuple[_Link, _Link]:
    """The parent's and the worker's ends of a channel of two pipes.

    The pipes hold 1 MiB where Linux allows: a block or a result goes in one write.
    """
    worker_in, parent_out = context.Pipe(duplex=False)
    parent_in, worker_out = context.Pipe(duplex=False)
    room = widen_pipe(worker_in.fileno())
    widen_pipe(parent_in.fileno())
    return _Link(parent_in, parent_out, room), _Link(worker_in, worker_out)


#: Blocks in flight per worker where its pipe holds that many (see :func:`_results`).
_DEPTH = 2
#: More than a block's bytes that sending it writes (pickling, the message's length).
_ENVELOPE = 4096


def _feed_workers(
    run: PlanRun,
    blocks: Iterator[tuple[int, bytes]],
    out: IO[bytes],
    jobs: int,
    outcomes: IO[bytes] | None,
    *,
    strict: bool,
) -> None:
    workers = (
        _start_workers(run.context, run.scan, jobs)
        if outcomes is None
        else _start_workers(run.context, run.scan, jobs, outcomes=True)
    )
    lines = OutcomeLines() if outcomes is not None else None
    shared: dict[str, str] = {}
    try:
        for result in _results(workers, blocks, jobs):
            _write_result(result, run, out, outcomes, lines, strict=strict, shared=shared)
        for item in run.finish():
            if type(item) is PlannedIdentity:
                out.write(dump_identity(item.body))
            if outcomes is not None and lines is not None:
                outcomes.write(lines.line(item))
    finally:
        _stop_workers(workers)


_Workers: TypeAlias = list[tuple[multiprocessing.process.BaseProcess, _Link]]


def _results(workers: _Workers, blocks: Iterator[tuple[int, bytes]], jobs: int) -> Iterator[Any]:
    """Send *blocks* to *workers* in turn: each block's result, in the blocks' order.

    Two blocks in flight per worker where its pipe holds both: the next one waits in the
    pipe while the worker maps the first, so that it never waits for this process. A
    block too big for that (one with a long line) goes when none is in flight: this
    process never waits to send to a worker that waits to send it a result.
    """
    depth = _DEPTH if all(link.room >= 1 << 20 for _, link in workers) else 1
    in_flight: deque[_Link] = deque()
    for n, block in enumerate(blocks):
        conn = workers[n % jobs][1]
        if depth > 1 and len(block[1]) + _ENVELOPE > conn.room // depth:
            while in_flight:
                yield _receive(in_flight.popleft())
        if len(in_flight) == jobs * depth:  # this worker's oldest block: take it, feed it
            result = _receive(in_flight.popleft())
            conn.send(block)
            yield result
        else:
            conn.send(block)
        in_flight.append(conn)
    while in_flight:
        yield _receive(in_flight.popleft())


def _start_workers(
    context: MappingContext,
    scan: UserScan,
    jobs: int,
    *,
    outcomes: bool = False,
    mapper: Callable[[tuple[int, bytes], MappingContext, UserScan], Any] | None = None,
) -> _Workers:
    """Fork *jobs* workers; with *outcomes*, they make the rows of the outcomes file too.

    With *mapper*, each block is what it returns instead (:func:`sync_plan_items`).
    """
    forking = multiprocessing.get_context("fork")
    workers: _Workers = []
    try:
        for _ in range(jobs):
            parent_end, child_end = _links(forking)
            # The worker must not keep the parent's ends (its own and the earlier workers'):
            # a pipe whose every writer is gone is how a worker learns the parent died.
            not_its_own = [parent_end, *(link for _, link in workers)]
            process = forking.Process(
                target=_work,
                args=(child_end, context, scan, not_its_own, outcomes),
                kwargs={"mapper": mapper},
                daemon=True,
            )
            process.start()
            child_end.close()
            workers.append((process, parent_end))
    except BaseException:
        _stop_workers(workers)
        raise
    return workers


def _stop_workers(workers: _Workers) -> None:
    for process, conn in workers:
        with contextlib.suppress(Auth0OryMigrateError):  # (a worker gone already)
            conn.send(None)
        conn.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()


_WORKER_DIED = "a worker process died (out of memory?); run again with --jobs 1"


def _receive(conn: _Link) -> _Result:
    try:
        message = conn.recv()
    except (EOFError, OSError) as e:
        raise Auth0OryMigrateError(_WORKER_DIED) from e
    if isinstance(message, BaseException):
        raise message
    return message  # type: ignore[no-any-return]


def _write_result(
    result: _Result,
    run: PlanRun,
    out: IO[bytes],
    outcomes: IO[bytes] | None,
    outcome_lines: OutcomeLines | None,
    *,
    strict: bool,
    shared: dict[str, str],
) -> None:
    lines, counted, in_order, matched, rows = result
    if strict and counted.unreadable_records:
        raise counted.unreadable_records[0].to_error()
    _share_strings(counted, shared)
    run.merge_counts(counted, matched)
    view, rows_view = memoryview(lines), memoryview(rows)
    at, mark, row_at = 0, (0, 0, 0), 0
    for number, line, until, until_mark, row_until in in_order:
        # What the worker mapped before this record, then the record, planned here.
        out.write(view[at:until])
        run.merge_entries(counted, mark, until_mark)
        at, mark = until, until_mark
        if outcomes is not None:
            outcomes.write(rows_view[row_at:row_until])
            row_at = row_until
        raw = decode_ndjson_line(number, line, "users")
        user = raw if isinstance(raw, UnreadableRecord) else parse_user(raw[1], raw[0])
        for item in run.feed(user):
            if type(item) is PlannedIdentity:
                out.write(dump_identity(item.body))
            if outcomes is not None and outcome_lines is not None:
                outcomes.write(outcome_lines.line(item))
    out.write(view[at:])
    run.merge_entries(counted, mark, None)
    if outcomes is not None:
        outcomes.write(rows_view[row_at:])


def _work(
    conn: _Link,
    context: MappingContext,
    scan: UserScan,
    not_its_own: list[_Link],
    outcomes: bool = False,
    *,
    mapper: Callable[[tuple[int, bytes], MappingContext, UserScan], Any] | None = None,
) -> None:
    """A worker's life: map blocks until told to stop (``None``) or the parent is gone."""
    for link in not_its_own:
        link.close()
    map_block: Callable[[tuple[int, bytes], MappingContext, UserScan], Any] = (
        mapper
        if mapper is not None
        else functools.partial(_map_block_with_outcomes, outcomes=OutcomeLines())
        if outcomes
        else _map_block
    )
    try:
        while (block := conn.recv()) is not None:
            try:
                conn.send(map_block(block, context, scan))
            except Exception as e:
                conn.send(_picklable(e))
    except (EOFError, OSError, KeyboardInterrupt, Auth0OryMigrateError):
        pass  # (the parent is gone or stopped listening; it says what happened)
    finally:
        conn.close()


def _map_block(block: tuple[int, bytes], context: MappingContext, scan: UserScan) -> _Result:
    start, data = block
    in_order: list[_InOrder] = []
    matched = HashUses()  # sparse: the entries this block's users found
    lines: list[bytes] = []
    size = 0
    counted = ReportBuilder()
    add, map_one = counted.add, context.map_one
    for number, line in ndjson_lines(data.split(b"\n"), start):
        raw = decode_ndjson_line(number, line, "users")
        if type(raw) is UnreadableRecord:
            add(raw)
            continue
        user = parse_user(raw[1], number)  # type: ignore[index]
        if type(user) is not Auth0User:
            add(user)  # type: ignore[arg-type]
        elif needs_order(scan, user):
            in_order.append((number, line, size, counted.mark(), 0))
        else:
            item = map_one(user, matched)
            if type(item) is PlannedIdentity:
                dumped = dump_identity(item.body)
                lines.append(dumped)
                size += len(dumped)
            add(item)
    return b"".join(lines), counted, in_order, matched, b""


def _map_block_with_outcomes(
    block: tuple[int, bytes], context: MappingContext, scan: UserScan, outcomes: OutcomeLines
) -> _Result:
    """:func:`_map_block`, making each user's row of the outcomes file too.

    A loop of its own: the mapping without outcomes does not pay for them.
    """
    start, data = block
    in_order: list[_InOrder] = []
    matched = HashUses()  # sparse: the entries this block's users found
    lines: list[bytes] = []
    size = 0
    rows: list[bytes] = []
    rows_size = 0
    counted = ReportBuilder()
    add, map_one, row_of = counted.add, context.map_one, outcomes.line
    for number, line in ndjson_lines(data.split(b"\n"), start):
        raw = decode_ndjson_line(number, line, "users")
        item: PlanItem
        if type(raw) is UnreadableRecord:
            item = raw
        else:
            user = parse_user(raw[1], number)  # type: ignore[index]
            if type(user) is not Auth0User:
                item = user  # type: ignore[assignment]
            elif needs_order(scan, user):
                in_order.append((number, line, size, counted.mark(), rows_size))
                continue
            else:
                item = map_one(user, matched)
                if type(item) is PlannedIdentity:
                    dumped = dump_identity(item.body)
                    lines.append(dumped)
                    size += len(dumped)
        add(item)
        row = row_of(item)
        rows.append(row)
        rows_size += len(row)
    return b"".join(lines), counted, in_order, matched, b"".join(rows)


def _share_strings(counted: ReportBuilder, shared: dict[str, str]) -> None:
    """Make the report's repeated strings one object each, not one per block.

    A worker's report comes unpickled with strings of its own: the detail of every
    ``no_email`` user, of every note of a code, again in each block (a sixth of the
    parent's memory, for a million users). The detail equal to the last one of its reason
    (or code) and a note's connection become that string; the entries are this process's
    own (just unpickled): only the identity of equal strings changes, never a value.
    """
    setattr_ = object.__setattr__  # (frozen records: their strings swapped for equal ones)
    get = shared.get
    for user in counted.users:
        key = f"skipped:{user.reason}"
        detail, known = user.detail, get(key)
        if known is None or known != detail:
            shared[key] = detail
        elif known is not detail:
            setattr_(user, "detail", known)
    for note in counted.notes:
        key = f"note:{note.code}"
        detail, known = note.detail, get(key)
        if known is None or known != detail:
            shared[key] = detail
        elif known is not detail:
            setattr_(note, "detail", known)
        connection = note.connection
        if connection is not None:
            key = f"connection:{connection}"
            known = get(key)
            if known is None:
                shared[key] = connection
            elif known is not connection:
                setattr_(note, "connection", known)


def _picklable(e: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(e))  # noqa: S301 - our own bytes
    except Exception:
        return Auth0OryMigrateError("".join(traceback.format_exception_only(e)).strip())
    return e


# -- sync: the new export's items, the unchanged users left in the workers ----------------------

#: Whether a planned identity is the very body last written for the user (its source, or its
#: body's fingerprint, is the record's: :meth:`ImportedRecords.unchanged_source
#: <auth0_ory_migrate.ImportedRecords.unchanged_source>`, :meth:`ImportedRecords.is_unchanged
#: <auth0_ory_migrate.ImportedRecords.is_unchanged>`).
_Unchanged: TypeAlias = Callable[[PlannedIdentity], bool]
#: What a worker sends back for a block, for a sync: the report of what it mapped, the
#: records for the parent, the hash entries used, the items to plan (each with how many of
#: the records for the parent come before it), and the users that need no op.
_SyncResult: TypeAlias = tuple[
    ReportBuilder, list[_InOrder], HashUses, list[tuple[int, PlanItem]], SeenUsers
]


def _unchanged_test(previous: Mapping[str, ImportedRecord], key: bytes) -> _Unchanged:
    """The test of :func:`sync_plan_items`: the records' own, or one made of their fingerprints."""
    if isinstance(previous, ImportedRecords):
        records = previous

        def unchanged_record(item: PlannedIdentity) -> bool:
            source = item.source  # (no reading of the ledger when it matches)
            if source is not None and records.unchanged_source(item.external_id, source.digest):
                return True
            return records.is_unchanged(item.external_id, dumps(item.body))

        return unchanged_record

    def unchanged(item: PlannedIdentity) -> bool:
        external_id = item.external_id
        record = previous.get(external_id)
        if (
            record is None
            or record.fingerprint is None
            or record.digests is None
            or record.identity_id is None
        ):
            return False
        return record.fingerprint == line_fingerprint(dumps(item.body), key).hex()

    return unchanged


def sync_plan_items(
    plan: MigrationPlan,
    previous: Mapping[str, ImportedRecord],
    *,
    key: bytes,
    jobs: int | None = None,
) -> Iterator[PlanItem | SeenUsers]:
    """Iterate *plan* for :func:`~auth0_ory_migrate.plan_sync`, the unchanged users left out.

    What iterating *plan* gives, in file order, except that each planned user whose body
    is the very body last written (its :func:`~auth0_ory_migrate.body_fingerprint` is the
    record's in *previous*) and each skipped user come as :class:`~auth0_ory_migrate.SeenUsers`
    batches: ``plan_sync`` of these items is ``plan_sync`` of *plan*. With ``jobs > 1``, the
    users are mapped and compared by forked workers as :func:`write_identities` maps them
    (the same conditions); the plan's report is the same either way. When *previous* is
    the ledger's :class:`~auth0_ory_migrate.ImportedRecords` and *plan* was made with
    ``sources=True``, a user whose inputs are its record's source
    (:meth:`~auth0_ory_migrate.ImportedRecords.unchanged_source`) is not even mapped: a
    worker counts it with the record's counts.

    Args:
        plan: The new export's plan (:func:`plan_from_files`).
        previous: What was imported (:meth:`Ledger.imported_records
            <auth0_ory_migrate.Ledger.imported_records>`), by external id.
        key: The digest key of the records (:meth:`Ledger.sync_key
            <auth0_ory_migrate.Ledger.sync_key>`).
        jobs: Worker processes; ``None``: the CPUs this process may use, at most 8.

    Raises:
        Auth0OryMigrateError: A worker process died (e.g. killed for memory).

    .. versionadded:: 0.1.0
    """
    if jobs is None:
        jobs = default_jobs()
    unchanged = _unchanged_test(previous, key)
    sourced = previous if isinstance(previous, ImportedRecords) else None
    run = start_run(plan)
    users = run.users
    if jobs > 1 and isinstance(users, UsersFile) and can_fork():
        run.start()
        with users.opener() as f:
            blocks = ndjson_blocks(f, "users", allow_csv=True)
            if blocks is not None:
                gc.freeze()  # (as _write_in_parallel: the workers share these pages)
                try:
                    yield from _feed_sync_workers(
                        run,
                        blocks,
                        jobs,
                        unchanged,
                        sourced,
                        strict=users.strict,
                    )
                finally:
                    gc.unfreeze()
                return
    yield from _seen(run, unchanged)


def _seen(items: Iterable[PlanItem], unchanged: _Unchanged) -> Iterator[PlanItem | SeenUsers]:
    """*items*, the unchanged and skipped users as :class:`SeenUsers` (planned in this process)."""
    for item in items:
        if type(item) is PlannedIdentity:
            if unchanged(item):
                yield SeenUsers((item.external_id, *item.merged_user_ids), 1)
                continue
        elif type(item) is Skipped:
            yield SeenUsers((item.user_id,))
            continue
        yield item


def _feed_sync_workers(
    run: PlanRun,
    blocks: Iterator[tuple[int, bytes]],
    jobs: int,
    unchanged: _Unchanged,
    sourced: ImportedRecords | None,
    *,
    strict: bool,
) -> Iterator[PlanItem | SeenUsers]:
    """:func:`_feed_workers` for a sync: the items to plan instead of the identities file."""
    mapper = functools.partial(_sync_block, unchanged=unchanged, sourced=sourced)
    workers = _start_workers(run.context, run.scan, jobs, mapper=mapper)
    shared: dict[str, str] = {}
    try:
        for result in _results(workers, blocks, jobs):
            yield from _sync_result(result, run, unchanged, strict=strict, shared=shared)
        yield from _seen(run.finish(), unchanged)
    finally:
        _stop_workers(workers)


def _sync_result(
    result: Any,
    run: PlanRun,
    unchanged: _Unchanged,
    *,
    strict: bool,
    shared: dict[str, str],
) -> Iterator[PlanItem | SeenUsers]:
    """A worker's block for a sync: its items and the parent's records, in file order."""
    counted, in_order, matched, items, seen = cast("_SyncResult", result)
    if strict and counted.unreadable_records:
        raise counted.unreadable_records[0].to_error()
    _share_strings(counted, shared)
    run.merge_counts(counted, matched)
    yield seen
    mark: ReportMark = (0, 0, 0)
    at = 0
    for k, (number, line, _, until_mark, _) in enumerate(in_order):
        while at < len(items) and items[at][0] <= k:
            yield items[at][1]
            at += 1
        run.merge_entries(counted, mark, until_mark)
        mark = until_mark
        raw = decode_ndjson_line(number, line, "users")
        user = raw if isinstance(raw, UnreadableRecord) else parse_user(raw[1], raw[0])
        yield from _seen(run.feed(user), unchanged)
    for _, item in items[at:]:
        yield item
    run.merge_entries(counted, mark, None)


def _sync_block(
    block: tuple[int, bytes],
    context: MappingContext,
    scan: UserScan,
    unchanged: _Unchanged,
    sourced: ImportedRecords | None,
) -> _SyncResult:
    """:func:`_map_block` for a sync: what to plan, the unchanged and skipped users apart.

    A user whose inputs are the record's source (in *sourced*, the records) is unchanged
    without being mapped: counted with the record's counts.
    """
    start, data = block
    in_order: list[_InOrder] = []
    matched = HashUses()
    items: list[tuple[int, PlanItem]] = []
    seen: list[str | None] = []
    same = 0
    counted = ReportBuilder()
    add, map_one = counted.add, context.map_one
    if context.options_digest is None:
        sourced = None
    for number, line in ndjson_lines(data.split(b"\n"), start):
        raw = decode_ndjson_line(number, line, "users")
        if type(raw) is UnreadableRecord:
            add(raw)
            items.append((len(in_order), raw))
            continue
        user = parse_user(raw[1], number)  # type: ignore[index]
        item: PlanItem
        if type(user) is not Auth0User:
            add(user)  # type: ignore[arg-type]
            item = user  # type: ignore[assignment]
        elif needs_order(scan, user):
            in_order.append((number, line, 0, counted.mark(), 0))
            continue
        else:
            if sourced is not None and sourced.has_source(user.user_id):
                digest = context.unchanged_source(user, matched)
                counts = sourced.unchanged_source(user.user_id, digest) if digest else None
                if counts is not None:
                    counted.add_unchanged(counts)
                    seen.append(user.user_id)
                    same += 1
                    continue
            item = map_one(user, matched)
            add(item)
        if type(item) is PlannedIdentity:
            if unchanged(item):
                seen.append(item.external_id)
                seen.extend(item.merged_user_ids)
                same += 1
                continue
        elif type(item) is Skipped:
            seen.append(item.user_id)
            continue
        items.append((len(in_order), item))
    return counted, in_order, matched, items, SeenUsers(tuple(seen), same)
