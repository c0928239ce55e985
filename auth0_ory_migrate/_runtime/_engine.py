"""Import, check, verify and undo: the decisions of :mod:`._importing` carried out against Ory.

It knows Ory only as an :class:`~auth0_ory_migrate.typing.IdentityAdmin` and its state only
as an :class:`~auth0_ory_migrate.typing.ImportState` (or ``UndoState``): it runs the queues
and the threads, and :func:`~auth0_ory_migrate._core._importing.decide_answer` says what
every answer means.

The import keeps exactly one request in flight by default (Ory Network answers a second
concurrent import with 429) and prepares the next batch while one is in flight: a sender
thread per allowed request takes serialised batches from a small queue as soon as the
previous answer is in, while the calling thread reads answers, looks conflicts up and
writes the ledger.

Why no one is created twice: every identity carries its Auth0 user id as ``external_id``,
which Ory keeps unique. A request whose answer is lost is simply sent again (or its
users looked up); the copies Ory already has answer 409 and are found by external id.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from attrs import define, field, frozen

from .._core._importing import (
    FoundIdentity,
    ImportOutcome,
    ImportProgress,
    ImportResult,
    UndoTarget,
    clash_candidates,
    decide_answer,
    iter_batches,
    may_have_committed,
    resolve_conflict,
    undo_refusal,
)
from .._core._mapping import PlannedIdentity
from .._core._ory import PreparedBatch, RemoteIdentity, iter_pages, normalize_identifier
from .._core._records import UnreadableRecord
from .._core._retry import RetryPolicy, retry_wait
from .._core._schema import (
    TraitsValidator,
    UnknownSchema,
    UnknownSchemaTally,
    schema_traits_problem,
)
from .._core._source import SourceMark
from ..exceptions import ConfigurationError, LedgerError, OryError, SchemaError
from ..typing import BatchAnswer, Body, IdentityAdmin, ImportState, UndoState
from ._ledger import Ledger
from ._retrying import call_with_retries


__all__ = [
    "CheckResult",
    "EmailMismatch",
    "UndoResult",
    "VerifyResult",
    "check_identities",
    "import_identities",
    "undo_import",
    "verify_identities",
]

R = TypeVar("R")
#: What the import reads: identity bodies (or planned identities, whose body is sent and
#: whose source is recorded), or records an input reader could not use.
InputItem = Body | PlannedIdentity | UnreadableRecord

_SKIP_PROGRESS_EVERY = 1000
_UNDO_CHUNK = 100
_STOP_WAIT = 5.0  # seconds a stopping run waits for its senders


class _Stopped(Exception):
    """Raised in a sender thread instead of a request, once the run has stopped."""


def _keyed(
    identities: Iterable[InputItem],
    unreadable: list[UnreadableRecord],
    duplicates: list[str] | None = None,
    *,
    reason: str = "no external_id",
    sources: dict[str, SourceMark] | None = None,
) -> Iterator[tuple[str, Body]]:
    """The bodies of *identities* with their external ids, in input order.

    Unreadable records, and bodies without an external id (as *reason*), go to
    *unreadable*. With *duplicates*, an external id seen before goes there instead of
    being yielded again. With *sources*, a planned identity's source goes there (by
    external id) when its body is yielded.
    """
    seen: set[str] = set()
    for position, item in enumerate(identities, start=1):
        if isinstance(item, UnreadableRecord):
            unreadable.append(item)
            continue
        source = None
        if isinstance(item, PlannedIdentity):
            source = item.source
            item = item.body
        external_id = item.get("external_id")
        if not isinstance(external_id, str) or not external_id:
            unreadable.append(UnreadableRecord("identities", position, None, reason))
            continue
        if duplicates is not None:
            if external_id in seen:
                duplicates.append(external_id)
                continue
            seen.add(external_id)
        if source is not None and sources is not None:
            sources[external_id] = source
        yield external_id, item


class _MemoryState:
    """Stands in for a ledger when the caller keeps no state."""

    def is_done(self, external_id: str) -> bool:
        return False

    def unanswered_attempt(self, external_id: str) -> float | None:
        return None

    def note_attempt(self, external_ids: Iterable[str], *, at: float | None = None) -> None:
        pass

    def record(self, outcomes: Iterable[ImportOutcome]) -> None:
        pass


def _call_with_retries(fn: Callable[[], R], policy: RetryPolicy, *, size: int = 1) -> R:
    """Call *fn*, retrying as :func:`retry_wait` decides."""

    def on(exc: Exception) -> bool | float:
        if not isinstance(exc, OryError):
            return False
        return retry_wait(exc, policy, size=size, now=time.time(), jitter=random.random())  # noqa: S311

    return call_with_retries(fn, policy, on)


@frozen
class _Unit:
    """One request: its bodies, their serialised form, and what is known of earlier tries.

    ``uncertain``: an earlier request with these bodies got no answer or a 5xx, so Ory may
    have created some of them at ``sent_at`` or later.
    """

    bodies: Sequence[Body] = field(repr=False)
    prepared: PreparedBatch
    sent_at: float
    uncertain: bool = False


@frozen
class _Sent:
    """What the sender thread hands back for a unit."""

    unit: _Unit
    answer: BatchAnswer | None = None
    error: OryError | None = None
    requests: int = 0
    uncertain: bool = False
    crash: BaseException | None = None


@define
class _ImportRun:
    ory: IdentityAdmin
    state: ImportState
    batch_size: int | None
    concurrency: int
    policy: RetryPolicy
    progress: Callable[[ImportProgress], None] | None
    lookup_threads: int
    _ready: queue.Queue[_Unit | None] = field(init=False)
    _done: queue.Queue[_Sent] = field(init=False, factory=queue.Queue)
    _threads: list[threading.Thread] = field(init=False, factory=list)
    _followups: deque[_Unit] = field(init=False, factory=deque)
    _outstanding: int = field(init=False, default=0)
    _pool: ThreadPoolExecutor | None = field(init=False, default=None)
    #: Whether Ory has answered any request of this run (set by the sender threads).
    _answered: bool = field(init=False, default=False)
    #: Set when the run ends (or stops on an error): the senders send nothing more.
    _stopping: bool = field(init=False, default=False)
    created: int = field(init=False, default=0)
    exists: int = field(init=False, default=0)
    adopted: int = field(init=False, default=0)
    uncertain: int = field(init=False, default=0)
    skipped: int = field(init=False, default=0)
    requests: int = field(init=False, default=0)
    failed: list[ImportOutcome] = field(init=False, factory=list)
    unreadable: list[UnreadableRecord] = field(init=False, factory=list)
    duplicates: list[str] = field(init=False, factory=list)
    #: the sources of the planned identities read and not recorded yet, by external id
    _sources: dict[str, SourceMark] = field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._ready = queue.Queue(maxsize=self.concurrency)

    # -- the calling thread -----------------------------------------------------------------

    def run(self, identities: Iterable[InputItem]) -> ImportResult:
        for _ in range(self.concurrency):
            thread = threading.Thread(target=self._sender, name="ory-import-sender", daemon=True)
            thread.start()
            self._threads.append(thread)
        try:
            for batch in iter_batches(self._accepted(identities), batch_size=self.batch_size):
                self._flush_followups()
                self._enqueue(self._unit(batch))
            while self._outstanding or self._followups:
                self._flush_followups()
                if self._outstanding:
                    self._drain(block=True)
        except LedgerError as e:
            # The state cannot be written (full or read-only file system): stop before
            # anything more is sent, and say how far the run got.
            raise LedgerError(
                f"{e}; so far: created {self.created:,}, already in Ory "
                f"{self.exists + self.adopted + self.uncertain:,}, imported by an earlier run "
                f"{self.skipped:,}, failed {len(self.failed):,}. Nothing is lost: the same "
                "run again carries on where this one stopped"
            ) from e
        finally:
            self._stop()
        self._report()
        return ImportResult(
            created=self.created,
            exists=self.exists,
            skipped=self.skipped,
            failed=tuple(self.failed),
            unreadable=tuple(self.unreadable),
            duplicates=tuple(self.duplicates),
            requests=self.requests,
            adopted=self.adopted,
            uncertain=self.uncertain,
        )

    def _accepted(self, identities: Iterable[InputItem]) -> Iterator[Body]:
        for external_id, item in _keyed(
            identities,
            self.unreadable,
            self.duplicates,
            reason="no external_id (the import's key)",
            sources=self._sources if isinstance(self.state, Ledger) else None,
        ):
            if self.state.is_done(external_id):
                self._sources.pop(external_id, None)
                self.skipped += 1
                if self.skipped % _SKIP_PROGRESS_EVERY == 0:
                    self._report()
                continue
            yield item

    def _unit(self, bodies: Sequence[Body]) -> _Unit:
        now = time.time()
        self.state.note_attempt([str(b["external_id"]) for b in bodies], at=now)
        return _Unit(bodies, self.ory.prepare_batch(bodies), now)

    def _enqueue(self, unit: _Unit) -> None:
        while True:
            try:
                self._ready.put(unit, timeout=0.05)
            except queue.Full:
                self._drain(block=False)
            else:
                self._outstanding += 1
                return

    def _flush_followups(self) -> None:
        while self._followups:
            self._enqueue(self._followups.popleft())

    def _drain(self, *, block: bool) -> None:
        try:
            sent = self._done.get(timeout=0.5) if block else self._done.get_nowait()
        except queue.Empty:
            return
        self._outstanding -= 1
        self._handle(sent)

    def _handle(self, sent: _Sent) -> None:
        self.requests += sent.requests
        if sent.crash is not None:
            raise sent.crash
        unit = sent.unit
        if sent.error is not None:
            answer: Iterable[Mapping[str, Any]] | OryError = sent.error
        else:
            assert sent.answer is not None
            answer = sent.answer.read()  # here, so that the sender is free for the next one
        decision = decide_answer(
            unit.bodies,
            unit.prepared.patch_ids,
            answer,
            sent_at=unit.sent_at,
            uncertain=sent.uncertain or unit.uncertain,
            answered_before=self._answered,
        )
        if decision.fatal is not None:
            raise decision.fatal
        if decision.resend:
            self._followups.extend(
                _Unit(r.bodies, self.ory.prepare_batch(r.bodies), unit.sent_at, r.uncertain)
                for r in decision.resend
            )
            return
        outcomes = list(decision.outcomes)
        for lookup in decision.lookups:
            outcomes.extend(
                self._look_up(
                    lookup.bodies, since=lookup.since, missing_reason=lookup.missing_reason
                )
            )
        self._record(outcomes, unit.bodies)

    def _look_up(
        self, bodies: Sequence[Body], *, since: float | None, missing_reason: str | None = None
    ) -> list[ImportOutcome]:
        """Resolve users by external id.

        *since*: when a request of this run that may have created them without telling was
        first sent (``None``: none did).
        """
        if not bodies:
            return []

        def one(body: Body) -> ImportOutcome:
            external_id = str(body["external_id"])
            try:
                found: FoundIdentity | None = _call_with_retries(
                    lambda: self.ory.get_by_external_id(external_id), self.policy
                )
            except OryError as e:
                return ImportOutcome(
                    external_id, "failed", reason=f"cannot tell whether it is in Ory: {e}"
                )
            if found is None and missing_reason is not None:
                return ImportOutcome(external_id, "failed", reason=missing_reason)
            clash = self._find_clash(body) if found is None else None
            attempts = [t for t in (self.state.unanswered_attempt(external_id), since) if t]
            return resolve_conflict(
                external_id,
                found,
                first_attempt=min(attempts) if attempts else None,
                clash=clash,
                clock_skew=self.policy.clock_skew,
            )

        if len(bodies) == 1 or self.lookup_threads <= 1:
            return [one(b) for b in bodies]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.lookup_threads, thread_name_prefix="ory-lookup")
        return list(self._pool.map(one, bodies))

    def _find_clash(self, body: Body) -> str | None:
        for what, identifier in clash_candidates(body):
            try:
                owner = _call_with_retries(
                    lambda i=identifier: self.ory.find_by_identifier(i),  # type: ignore[misc]
                    self.policy,
                )
            except OryError:
                continue
            if owner:
                return f"{what} {identifier} is already used by identity {owner}"
        return None

    def _record(self, outcomes: list[ImportOutcome], bodies: Sequence[Body]) -> None:
        if isinstance(self.state, Ledger):
            # What was sent, digested with the outcome: ``sync`` knows what Ory was given.
            created = {o.external_id for o in outcomes if o.status == "created"}
            sent = {
                external_id: body
                for body in bodies
                if (external_id := str(body.get("external_id"))) in created
            }
            pop = self._sources.pop
            sources = {o.external_id: s for o in outcomes if (s := pop(o.external_id, None))}
            self.state.record(outcomes, bodies=sent, sources=sources)
        else:
            self.state.record(outcomes)
        for outcome in outcomes:
            if outcome.status == "created":
                self.created += 1
            elif outcome.status == "exists":
                self.exists += 1
            elif outcome.status == "adopted":
                self.adopted += 1
            elif outcome.status == "uncertain":
                self.uncertain += 1
            else:
                self.failed.append(outcome)
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(
                ImportProgress(
                    created=self.created,
                    exists=self.exists,
                    failed=len(self.failed),
                    skipped=self.skipped,
                    requests=self.requests,
                    adopted=self.adopted,
                    uncertain=self.uncertain,
                )
            )

    def _stop(self) -> None:
        self._stopping = True  # a sender sends nothing more, not even a retry
        with contextlib.suppress(queue.Empty):
            while True:
                self._ready.get_nowait()
        for _ in self._threads:
            self._ready.put(None)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + _STOP_WAIT
        for thread in self._threads:  # a request in flight ends by itself: not waited for long
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- sender threads ---------------------------------------------------------------------

    def _sender(self) -> None:
        while True:
            unit = self._ready.get()
            if unit is None:
                return
            count = 0
            uncertain = False

            def send(unit: _Unit = unit) -> BatchAnswer:
                nonlocal count, uncertain
                if self._stopping:
                    raise _Stopped
                count += 1
                try:
                    answer = self.ory.send_batch(unit.prepared)
                except OryError as e:
                    uncertain = uncertain or may_have_committed(e)
                    if e.status is not None:
                        self._answered = True
                    raise
                self._answered = True
                return answer

            try:
                answer = _call_with_retries(send, self.policy, size=len(unit.bodies))
            except OryError as e:
                self._done.put(_Sent(unit, error=e, requests=count, uncertain=uncertain))
            except BaseException as e:  # a bug: hand it to the calling thread
                self._done.put(_Sent(unit, crash=e, requests=count))
            else:
                self._done.put(_Sent(unit, answer=answer, requests=count, uncertain=uncertain))


def import_identities(
    identities: Iterable[InputItem],
    ory: IdentityAdmin,
    *,
    ledger: ImportState | None = None,
    batch_size: int | None = None,
    concurrency: int = 1,
    retry: RetryPolicy | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    lookup_threads: int = 4,
) -> ImportResult:
    """Create every identity in Ory, exactly once, in batches.

    Users the *ledger* records as imported are skipped; every outcome is appended to it
    (and fsynced) after each batch, so the same call after a crash carries on where it
    stopped. Per user: ``created``; ``exists`` (the external id was already taken by this
    user: an earlier run, or an attempt whose answer was lost); ``failed`` with Ory's reason
    (a clash with another identity is ``conflict: …`` naming what clashed). A batch Ory
    rejects as a whole is split until the bad bodies are isolated. Nobody is dropped
    silently: every input record ends up counted in the result.

    Args:
        identities: ``CreateIdentityBody`` dicts, each with ``external_id`` (e.g. from
            :func:`~auth0_ory_migrate.read_identities`), or planned identities (their body is
            sent; with a :class:`~auth0_ory_migrate.Ledger`, their
            :attr:`~auth0_ory_migrate.PlannedIdentity.source` is recorded with it, for
            ``sync``); :class:`UnreadableRecord` items are counted as such. Read lazily, in
            bounded memory.
        ory: Ory's identity admin API: :class:`~auth0_ory_migrate.OryAdmin`, or any
            :class:`~auth0_ory_migrate.typing.IdentityAdmin` (e.g.
            :class:`~auth0_ory_migrate.testing.InMemoryOryAdmin` in tests).
        ledger: Where outcomes are recorded (:class:`~auth0_ory_migrate.Ledger`, or any
            :class:`~auth0_ory_migrate.typing.ImportState`); without one, nothing is
            remembered between calls.
        batch_size: Fewer identities per request than Ory's limits (1,000; 200 with
            plaintext passwords).
        concurrency: Import requests in flight at once. Ory Network allows one per
            project; more only helps a self-hosted Kratos.
        retry: The retry policy (waits, attempts, timeouts).
        progress: Called with the counts so far after every batch.
        lookup_threads: Parallel lookups when resolving conflicts.

    Raises:
        OryError: Ory refused the key or the URL (401, 403, 404), or the run's first
            request got no answer after its retries (connection refused, a name that does
            not resolve, TLS): nothing can succeed.
        ConfigurationError: *batch_size* or *concurrency* below 1.
        LedgerError: The ledger could not be written (full or read-only file system):
            the message names the file and says how far the run got; nothing more is
            sent, and the same call again carries on exactly once.

    .. versionadded:: 0.1.0
    """
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, not {concurrency}")
    run = _ImportRun(
        ory=ory,
        state=ledger if ledger is not None else _MemoryState(),
        batch_size=batch_size,
        concurrency=concurrency,
        policy=retry or RetryPolicy(),
        progress=progress,
        lookup_threads=max(1, lookup_threads),
    )
    with _long_lived_objects_frozen():
        return run.run(identities)


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before the import.

    A full collection walks every long-lived object (the SDKs' models, the caller's data)
    and stalls the thread that sends the next batch by ~100 ms every few batches; frozen,
    they are skipped. Left alone when the caller froze objects itself.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# -- dry run -------------------------------------------------------------------------------


@frozen
class CheckResult:
    """What a dry run found.

    Attributes:
        valid: Bodies that pass every client-side check.
        invalid: Bodies Ory would reject, each with the reason.
        unreadable: Input records that could not be used.
        duplicates: External ids that appear more than once.
        requests: Import requests the valid bodies would take.
        existing: Valid users already in Ory (by external id); ``None`` when Ory was not
            asked or could not be reached.
        server_error: Why Ory could not be asked, when it could not.
        unknown_schemas: The schema ids the bodies use that the project does not have,
            with their users (those bodies are neither valid nor in *invalid*).
        schema_errors: The project's schemas that could not be fetched or used to check
            traits (their bodies were checked client-side only), each with the reason.

    .. versionadded:: 0.1.0
    """

    valid: int = 0
    invalid: tuple[ImportOutcome, ...] = ()
    unreadable: tuple[UnreadableRecord, ...] = ()
    duplicates: tuple[str, ...] = ()
    requests: int = 0
    existing: int | None = None
    server_error: str | None = None
    unknown_schemas: tuple[UnknownSchema, ...] = ()
    schema_errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every record would be sent.

        .. versionadded:: 0.1.0
        """
        return not self.invalid and not self.unreadable and not self.unknown_schemas


def check_identities(
    identities: Iterable[InputItem],
    ory: IdentityAdmin,
    *,
    count_existing: bool = True,
    batch_size: int | None = None,
    retry: RetryPolicy | None = None,
) -> CheckResult:
    """Validate every body client-side, and count who is already in Ory; change nothing.

    Each body is checked by *ory*'s :meth:`~auth0_ory_migrate.typing.IdentityAdmin.body_problem`
    (:class:`~auth0_ory_migrate.OryAdmin`: against ``ory_client``'s ``CreateIdentityBody``,
    i.e. types, enums, keys Ory would reject, and its password hash against the formats Ory
    accepts); the valid ones are batched as the import would batch them. With
    *count_existing*, the project's identities are listed to count the users already there,
    and each body's ``schema_id`` is looked up in the project (once per id, through
    :meth:`~auth0_ory_migrate.typing.IdentityAdmin.identity_schema`): a body whose schema
    the project lacks is counted in :attr:`CheckResult.unknown_schemas`, and one whose
    traits do not fit the schema the project serves is invalid, with the first problem
    (when the listing fails, Ory is not asked for schemas either).

    Args:
        identities: The bodies to check (as for :func:`import_identities`).
        ory: Ory's identity admin API.
        count_existing: List Ory's identities to count the users already there, and check
            the bodies against the project's schemas; without it, nothing is asked of Ory.
        batch_size: As for :func:`import_identities`.
        retry: The retry policy for each page of the listing and each schema.

    .. versionadded:: 0.1.0
    """
    policy = retry or RetryPolicy()
    remote: set[str] | None = None
    server_error = None
    if count_existing:
        try:
            remote = {r.external_id for r in _iter_remote(ory, policy) if r.external_id is not None}
        except OryError as e:
            server_error = str(e)
    invalid: list[ImportOutcome] = []
    unreadable: list[UnreadableRecord] = []
    duplicates: list[str] = []
    existing = 0
    schemas = _ProjectSchemas(ory, policy) if count_existing and server_error is None else None

    def valid_bodies() -> Iterator[Body]:
        nonlocal existing
        for external_id, item in _keyed(identities, unreadable, duplicates):
            problem = schemas.problem(external_id, item) if schemas is not None else None
            if problem is _UNKNOWN_SCHEMA:
                continue
            if problem is None:
                problem = ory.body_problem(item)
            if problem is not None:
                invalid.append(ImportOutcome(external_id, "failed", reason=problem))
                continue
            if remote is not None and external_id in remote:
                existing += 1
            yield item

    requests = 0
    valid = 0
    for batch in iter_batches(valid_bodies(), batch_size=batch_size):
        requests += 1
        valid += len(batch)
    return CheckResult(
        valid=valid,
        invalid=tuple(invalid),
        unreadable=tuple(unreadable),
        duplicates=tuple(duplicates),
        requests=requests,
        existing=existing if remote is not None else None,
        server_error=server_error,
        unknown_schemas=schemas.unknown.result() if schemas is not None else (),
        schema_errors=tuple(schemas.errors) if schemas is not None else (),
    )


#: :meth:`_ProjectSchemas.problem`'s answer for a body whose schema the project lacks.
_UNKNOWN_SCHEMA = "unknown schema"
#: A schema that could not be fetched or used: its bodies are checked client-side only.
_UNCHECKED = "unchecked"


@define
class _ProjectSchemas:
    """The project's schemas, each fetched once, and the bodies' findings against them."""

    _ory: IdentityAdmin
    _policy: RetryPolicy
    _validators: dict[str, TraitsValidator | str] = field(factory=dict)
    unknown: UnknownSchemaTally = field(factory=UnknownSchemaTally)
    errors: list[str] = field(factory=list)

    def problem(self, external_id: str, body: Body) -> str | None:
        """Why Ory would refuse *body* under the project's schema, or :data:`_UNKNOWN_SCHEMA`."""
        schema_id = body.get("schema_id")
        if not isinstance(schema_id, str):
            return None  # body_problem's to tell
        validator = self._validators.get(schema_id)
        if validator is None:
            validator = self._validators[schema_id] = self._fetch(schema_id)
        if validator is _UNKNOWN_SCHEMA:
            self.unknown.add(schema_id, external_id)
            return _UNKNOWN_SCHEMA
        if isinstance(validator, str):
            return None
        return schema_traits_problem(schema_id, validator, body)

    def _fetch(self, schema_id: str) -> TraitsValidator | str:
        try:
            schema = _call_with_retries(lambda: self._ory.identity_schema(schema_id), self._policy)
        except OryError as e:
            self.errors.append(f"schema {schema_id!r}: could not fetch it from Ory: {e}")
            return _UNCHECKED
        if schema is None:
            return _UNKNOWN_SCHEMA
        try:
            return TraitsValidator.from_schema(schema)
        except SchemaError as e:
            self.errors.append(f"schema {schema_id!r}: cannot check traits against it: {e}")
            return _UNCHECKED


# -- verify --------------------------------------------------------------------------------


def _iter_remote(ory: IdentityAdmin, policy: RetryPolicy) -> Iterator[RemoteIdentity]:
    return iter_pages(
        lambda token: _call_with_retries(lambda: ory.list_page(token, page_size=500), policy)
    )


@frozen
class EmailMismatch:
    """An identity whose email trait is not the one in the identities file.

    Attributes:
        external_id: The Auth0 user id.
        identity_id: The Ory identity id.
        expected: The email in the file.
        actual: The email in Ory (``None``: none).

    .. versionadded:: 0.1.0
    """

    external_id: str
    identity_id: str
    expected: str
    actual: str | None


@frozen
class VerifyResult:
    """How Ory's identities compare with the identities file.

    Attributes:
        expected: Users in the file.
        found: Of those, users found in Ory (by external id).
        missing: External ids of users not in Ory.
        unexpected: Identities in Ory whose external id is not in the file (or that have
            none).
        email_differs: Identities whose email trait differs from the file's (compared as
            Ory compares identifiers: trimmed, NFKC, lower-case).
        unreadable: File records that could not be read.

    .. versionadded:: 0.1.0
    """

    expected: int
    found: int
    missing: tuple[str, ...]
    unexpected: tuple[RemoteIdentity, ...]
    email_differs: tuple[EmailMismatch, ...]
    unreadable: tuple[UnreadableRecord, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether everyone in the file is in Ory.

        .. versionadded:: 0.1.0
        """
        return not self.missing


def verify_identities(
    identities: Iterable[InputItem],
    ory: IdentityAdmin,
    *,
    retry: RetryPolicy | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Reconcile Ory's identities with the identities file.

    Pages through ``GET /admin/identities`` (500 a page, following the ``Link`` header's
    ``rel="next"``) and reports who is missing, who is there unexpectedly, and whose email
    trait differs. Memory grows with the number of users in the file.

    Args:
        identities: The bodies that were imported.
        ory: Ory's identity admin API (:class:`~auth0_ory_migrate.OryAdmin`, or any
            :class:`~auth0_ory_migrate.typing.IdentityAdmin`).
        retry: The retry policy for each page.
        progress: Called with the number of identities read from Ory after each page.

    Raises:
        OryError: A page could not be read, even after retries.

    .. versionadded:: 0.1.0
    """
    policy = retry or RetryPolicy()
    expected: dict[str, str | None] = {}
    unreadable: list[UnreadableRecord] = []
    for external_id, item in _keyed(identities, unreadable):
        traits = item.get("traits")
        email = traits.get("email") if isinstance(traits, Mapping) else None
        expected[external_id] = email if isinstance(email, str) else None
    total = len(expected)
    found = 0
    read = 0
    unexpected: list[RemoteIdentity] = []
    differs: list[EmailMismatch] = []
    for remote in _iter_remote(ory, policy):
        read += 1
        if progress is not None and read % 500 == 0:
            progress(read)
        if remote.external_id is None or remote.external_id not in expected:
            unexpected.append(remote)
            continue
        want = expected.pop(remote.external_id)
        found += 1
        if want is not None and (
            remote.email is None or normalize_identifier(remote.email) != normalize_identifier(want)
        ):
            differs.append(
                EmailMismatch(remote.external_id, remote.identity_id, want, remote.email)
            )
    if progress is not None:
        progress(read)
    return VerifyResult(
        expected=total,
        found=found,
        missing=tuple(expected),
        unexpected=tuple(unexpected),
        email_differs=tuple(differs),
        unreadable=tuple(unreadable),
    )


# -- undo ----------------------------------------------------------------------------------


@frozen
class UndoResult:
    """What ``undo`` did.

    Attributes:
        deleted: Identities deleted.
        already_gone: Identities that no longer existed, or whose user's external id no
            identity carries any more (recorded as deleted as well: a later import creates
            the user again).
        failed: Identities that could not be deleted, with the reason (still recorded as
            created: run ``undo`` again).
        left_alone: Identities not deleted, each with why (its status is the ledger's):
            one that no longer carries the user's external id (another identity does),
            one created before this tool first sent the user, ``adopted`` ones, and
            ``uncertain`` ones unless asked for. They stay in the ledger as they were.
        not_found: Of :attr:`already_gone`, those no identity carries the external id of:
            deleted by someone else, or given another external id (an identity the ledger
            names wrongly, e.g. a forged line, looks the same: it is left alone).

    .. versionadded:: 0.1.0
    """

    deleted: int = 0
    already_gone: int = 0
    failed: tuple[ImportOutcome, ...] = ()
    left_alone: tuple[ImportOutcome, ...] = ()
    not_found: tuple[ImportOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether everything that was to be deleted was (or was gone already).

        .. versionadded:: 0.1.0
        """
        return not self.failed


def _as_target(target: tuple[str, str] | UndoTarget) -> tuple[UndoTarget, bool]:
    """The target, and whether its creation time goes unchecked (a bare pair has none)."""
    if isinstance(target, UndoTarget):
        return target, False
    external_id, identity_id = target
    return UndoTarget(external_id, identity_id), True


def undo_import(
    targets: Iterable[UndoTarget | tuple[str, str]],
    ory: IdentityAdmin,
    ledger: UndoState,
    *,
    concurrency: int = 1,
    retry: RetryPolicy | None = None,
    progress: Callable[[int], None] | None = None,
    include_uncertain: bool = False,
) -> UndoResult:
    """Delete the identities an import created, and record each deletion in its ledger.

    Before each deletion the identity is looked up by the user's external id: it is
    deleted only when it is the one the ledger names (so it still carries the user's
    external id), was not created before this tool first sent the user (beyond the retry
    policy's ``clock_skew``), and is recorded as ``created`` (or ``uncertain``, with
    *include_uncertain*); see :func:`~auth0_ory_migrate._core._importing.undo_refusal`.
    Everything else is left alone and listed in :attr:`UndoResult.left_alone` (or, when
    no identity carries the user's external id any more, :attr:`UndoResult.not_found`). (Ory's
    API cannot delete on a condition: an identity changed between the lookup and the
    deletion is not noticed.)

    Args:
        targets: What the ledger says was imported, normally
            :meth:`Ledger.undo_targets() <auth0_ory_migrate.Ledger.undo_targets>`. Bare
            ``(external_id, identity_id)`` pairs (as
            :meth:`~auth0_ory_migrate.Ledger.created_identities` gives) count as
            ``created``, and only their external id is checked: they do not say when the
            user was first sent.
        ory: Ory's identity admin API (:class:`~auth0_ory_migrate.OryAdmin`, or any
            :class:`~auth0_ory_migrate.typing.IdentityAdmin`).
        ledger: Where deletions are recorded (fsynced every 100), so that a later import
            creates those users again (:class:`~auth0_ory_migrate.Ledger`, or any
            :class:`~auth0_ory_migrate.typing.UndoState`).
        concurrency: Deletions in flight at once.
        retry: The retry policy for each lookup and deletion.
        progress: Called with the number of identities dealt with so far.
        include_uncertain: Delete ``uncertain`` identities too (and ``created`` ones whose
            creation time cannot be checked), when they still carry the user's external id.

    .. versionadded:: 0.1.0
    """
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, not {concurrency}")
    policy = retry or RetryPolicy()
    deleted = gone = 0
    failed: list[ImportOutcome] = []
    left_alone: list[ImportOutcome] = []
    not_found: list[ImportOutcome] = []

    def one(item: tuple[UndoTarget, bool]) -> tuple[UndoTarget, bool | str | OryError, bool]:
        """(target, deleted? | why left alone | error, whether to record it as deleted)."""
        target, bare = item
        try:
            found = _call_with_retries(lambda: ory.get_by_external_id(target.external_id), policy)
            refusal = undo_refusal(
                target,
                found,
                include_uncertain=include_uncertain or bare,
                clock_skew=policy.clock_skew,
            )
            if refusal is not None:
                return target, refusal, found is None
            return (
                target,
                _call_with_retries(lambda: ory.delete_identity(target.identity_id), policy),
                True,
            )
        except OryError as e:
            return target, e, False

    def chunks() -> Iterator[list[tuple[UndoTarget, bool]]]:
        chunk: list[tuple[UndoTarget, bool]] = []
        for target in targets:
            chunk.append(_as_target(target))
            if len(chunk) >= _UNDO_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    done = 0
    with ThreadPoolExecutor(concurrency, thread_name_prefix="ory-undo") as pool:
        for chunk in chunks():
            recorded: list[tuple[str, str | None]] = []
            for target, result, record in pool.map(one, chunk):
                if isinstance(result, OryError):
                    failed.append(
                        ImportOutcome(target.external_id, "failed", target.identity_id, str(result))
                    )
                    continue
                if isinstance(result, str):
                    outcome = ImportOutcome(
                        target.external_id, target.status, target.identity_id, result
                    )
                    if record:  # no identity carries the external id
                        gone += 1
                        not_found.append(outcome)
                    else:
                        left_alone.append(outcome)
                elif result:
                    deleted += 1
                else:
                    gone += 1
                if record:
                    recorded.append((target.external_id, target.identity_id))
            ledger.record_deletions(recorded)
            done += len(chunk)
            if progress is not None:
                progress(done)
    return UndoResult(
        deleted=deleted,
        already_gone=gone,
        failed=tuple(failed),
        left_alone=tuple(left_alone),
        not_found=tuple(not_found),
    )
