"""Landing roles and organizations in Ory: relation tuples and Ory organizations, ledgered.

Everything this module sends is written to ``authz.ndjson`` in the state directory (next to
the import's ``ledger.ndjson``; mode 0600, never opened through a symbolic link, fsynced
before a request is sent and again once Ory answered), one JSON object a line:

- ``{"authz": "scan", "existing": [[namespace, object, relation, subject], ...]}``: written
  once, before the first tuple is sent: those of the tuples to land that Ory already held
  (this tool did not make them: they are never sent, and ``undo`` leaves them).
- ``{"authz": "insert" | "delete", "chunk": n, "status": "sending", "tuples": [...]}`` before
  a ``PATCH /admin/relation-tuples`` request, and ``{"authz": …, "chunk": n, "status":
  "done"}`` once Ory answered 204. A ``sending`` chunk without its ``done`` is in doubt: the
  next run sends it again (Keto's insert and delete are idempotent, and a patch is one
  transaction), ``undo`` deletes it.
- ``{"authz": "organization", "auth0_id", "status": "sending", "label", "domains"}`` before an
  Ory organization is created, ``… "status": "done", "ory_id"`` after, ``… "status":
  "deleted"`` once ``undo`` deleted it.
- ``{"authz": "member", "identity_id", "ory_id", "status": "sending" | "done" | "removed"}``:
  an identity's ``organization_id`` set (``PATCH /admin/identities/{id}``), or cleared again.

No secret is in it: tuples hold role names, organization ids and Ory identity ids.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal

from attrs import field, frozen

from .._core import _json
from .._core._authz import OrganizationPlan, RelationTuple
from .._core._retry import RetryPolicy
from ..exceptions import LedgerError, OryError
from ..typing import IdentityUpdater, OrganizationAdmin, RelationshipAdmin
from ._engine import _call_with_retries
from ._ledger import (
    Ledger,
    _check_directory,
    _open_state_file,
    _oserror,
)


__all__ = [
    "AUTHZ_LEDGER_FILE",
    "AuthzResult",
    "OrganizationsResult",
    "RelationTupleCheck",
    "assign_organization_members",
    "create_organizations",
    "land_relation_tuples",
    "undo_organizations",
    "undo_relation_tuples",
    "verify_relation_tuples",
]

#: The ledger of what was sent to land roles and organizations, in the state directory.
AUTHZ_LEDGER_FILE = "authz.ndjson"

#: Tuples per ``PATCH /admin/relation-tuples`` by default (a public report finds about 40
#: stable on Ory Network).
DEFAULT_CHUNK_SIZE = 40

_Key = tuple[str, str, str, str]


def _key(t: RelationTuple) -> _Key:
    return (t.namespace, t.object, t.relation, t.subject_id)


def _tuple(k: Sequence[str]) -> RelationTuple:
    return RelationTuple(k[0], k[1], k[2], k[3])


# -- the ledger ---------------------------------------------------------------------------------


class _AuthzLedger:
    """``authz.ndjson`` of a state directory, replayed at opening."""

    def __init__(self, state: str | os.PathLike[str] | Ledger) -> None:
        self._lock: IO[bytes] | None = None
        if isinstance(state, Ledger):  # its run holds the directory's lock already
            path = state.state_dir
        else:
            path = Path(state)
            try:
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as e:
                raise LedgerError(f"cannot create the state directory {str(path)!r}: {e}") from e
            _check_directory(path)
            self._lock = Ledger._take_lock(path)
        self.path = path / AUTHZ_LEDGER_FILE
        try:
            fd = _open_state_file(self.path, os.O_RDWR | os.O_APPEND, create=True)
        except OSError as e:
            self.close()
            raise _oserror(self.path, e) from e
        self._file = os.fdopen(fd, "r+b", buffering=0)
        self.scanned = False
        self.existing: set[_Key] = set()
        self.landed: dict[_Key, None] = {}  # inserted (done), in order
        self.in_doubt: dict[_Key, None] = {}  # inserted (sending, no answer)
        self.deleting: dict[_Key, None] = {}  # deleted (sending, no answer)
        self.next_chunk = 0
        self.organizations: dict[str, dict[str, Any]] = {}  # auth0 id → last line
        self.members: dict[str, dict[str, Any]] = {}  # identity id → last line
        self._pending: dict[tuple[str, int], list[_Key]] = {}
        self._end = 0
        try:
            self._replay()
        except BaseException:
            self.close()
            raise

    def _replay(self) -> None:
        good_end = 0
        with os.fdopen(os.dup(self._file.fileno()), "rb") as reader:
            for n, line in enumerate(reader, 1):
                if not line.endswith(b"\n"):
                    break  # cut short by a crash
                try:
                    entry = _json.loads(line)
                except ValueError as e:
                    raise LedgerError(f"{str(self.path)!r} line {n} is damaged") from e
                if isinstance(entry, dict):
                    self._apply(entry)
                good_end += len(line)
        if os.fstat(self._file.fileno()).st_size != good_end:
            try:
                os.ftruncate(self._file.fileno(), good_end)
                os.fsync(self._file.fileno())
            except OSError as e:
                raise _oserror(self.path, e) from e
        self._end = good_end

    def _apply(self, entry: dict[str, Any]) -> None:
        kind = entry.get("authz")
        if kind == "scan":
            self.scanned = True
            self.existing.update(tuple(k) for k in entry.get("existing") or ())
        elif kind in ("insert", "delete"):
            chunk = int(entry.get("chunk", -1))
            self.next_chunk = max(self.next_chunk, chunk + 1)
            if entry.get("status") == "sending":
                keys: list[_Key] = [tuple(k) for k in entry.get("tuples") or ()]
                self._pending[kind, chunk] = keys
                target = self.in_doubt if kind == "insert" else self.deleting
                target.update(dict.fromkeys(keys))
            elif entry.get("status") == "done":
                for k in self._pending.pop((kind, chunk), ()):
                    if kind == "insert":
                        self.in_doubt.pop(k, None)
                        self.landed[k] = None
                    else:
                        self.deleting.pop(k, None)
                        self.landed.pop(k, None)
                        self.in_doubt.pop(k, None)
        elif kind == "organization":
            self.organizations[str(entry.get("auth0_id"))] = entry
        elif kind == "member":
            self.members[str(entry.get("identity_id"))] = entry

    def append(self, *entries: dict[str, Any]) -> None:
        """Write *entries* (fsynced), then apply them."""
        now = time.time()
        data = b""
        for entry in entries:
            entry["at"] = now
            data += _json.dumps(entry) + b"\n"
        fd = self._file.fileno()
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._end)
            raise _oserror(self.path, e) from e
        self._end += len(data)
        for entry in entries:
            self._apply(entry)

    def close(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            self._file.close()
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None

    def __enter__(self) -> _AuthzLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- relation tuples ----------------------------------------------------------------------------


@frozen
class AuthzResult:
    """What :func:`land_relation_tuples` or :func:`undo_relation_tuples` did.

    Attributes:
        sent: Tuples sent in this run, in requests Ory answered (inserted, or deleted by undo).
        resent: Of them, tuples of a request an earlier run sent without an answer (in doubt).
        already: Tuples an earlier run landed (or deleted): not sent again.
        existing: Tuples Ory held before this tool sent any (not sent; ``undo`` leaves them).
        requests: ``PATCH /admin/relation-tuples`` requests made (retries included).
        organizations_left: (:func:`undo_relation_tuples`) Ory organizations
            :func:`create_organizations` made (or may have made: no answer) that
            :func:`undo_organizations` has not deleted: they need the workspace key.

    .. versionadded:: 0.1.0
    """

    sent: int = 0
    resent: int = 0
    already: int = 0
    existing: int = 0
    requests: int = 0
    organizations_left: int = 0

    def to_dict(self) -> dict[str, int]:
        """A JSON-ready dict for reports."""
        return {
            "sent": self.sent,
            "resent": self.resent,
            "already": self.already,
            "existing": self.existing,
            "requests": self.requests,
            "organizations_left": self.organizations_left,
        }


class _Counter:
    """Requests made: called once before each."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> None:
        self.n += 1


def _counted(call: Callable[[], Any], count: Callable[[], None]) -> Any:
    count()
    return call()


def _retrying(call: Callable[[], Any], policy: RetryPolicy, count: Callable[[], None]) -> Any:
    return _call_with_retries(partial(_counted, call, count), policy)


def _listed(
    ory: RelationshipAdmin, namespace: str, policy: RetryPolicy, count: Callable[[], None]
) -> Iterator[RelationTuple]:
    token: str | None = None
    while True:
        found, token = _retrying(partial(ory.list, namespace, token), policy, count)
        yield from found
        if token is None:
            return


def _unique(tuples: Iterable[RelationTuple]) -> list[_Key]:
    return list(dict.fromkeys(_key(t) for t in tuples))


def _send_chunks(  # noqa: PLR0917 (one loop for land and undo)
    ledger: _AuthzLedger,
    ory: RelationshipAdmin,
    action: Literal["insert", "delete"],
    keys: Sequence[_Key],
    chunk_size: int,
    policy: RetryPolicy,
    count: Callable[[], None],
    done: Callable[[int], None] | None = None,
) -> None:
    """Send *keys* in chunks, each recorded ``sending`` before and ``done`` after Ory answered."""
    for start in range(0, len(keys), chunk_size):
        chunk = keys[start : start + chunk_size]
        n = ledger.next_chunk
        ledger.append(
            {"authz": action, "chunk": n, "status": "sending", "tuples": [list(k) for k in chunk]}
        )
        _retrying(partial(ory.patch, [_tuple(k) for k in chunk], action), policy, count)
        ledger.append({"authz": action, "chunk": n, "status": "done"})
        if done is not None:
            done(start + len(chunk))


def land_relation_tuples(
    tuples: Iterable[RelationTuple],
    ory: RelationshipAdmin,
    *,
    state_dir: str | os.PathLike[str] | Ledger,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    retry: RetryPolicy | None = None,
    check_existing: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> AuthzResult:
    """Insert *tuples* into Ory Permissions exactly once, resumably, in ledgered chunks.

    Each chunk of *chunk_size* tuples is one ``PATCH /admin/relation-tuples`` request,
    recorded in the state directory's ``authz.ndjson`` before it is sent and again once Ory
    answered; a 429 waits as ``Retry-After`` (or ``x-ratelimit-reset``) asks, 5xx and lost
    connections back off, as *retry* says. Run again after any interruption (SIGKILL
    included), it sends only what no answered request carried: the chunk in flight when it
    stopped goes again (Keto's insert is idempotent), nothing else.

    Before the first chunk of a state directory, the namespaces of *tuples* are read back
    (``GET /relation-tuples``, with *check_existing*): tuples Ory already holds are not sent
    and are never undone.

    Args:
        tuples: The tuples (:func:`~auth0_ory_migrate.relation_tuples`), in a stable order;
            repeats are sent once.
        ory: An :class:`~auth0_ory_migrate.OryPermissions`.
        state_dir: The state directory (its lock is taken), or the open
            :class:`~auth0_ory_migrate.Ledger` of the run (whose lock is held).
        chunk_size: Tuples per request.
        retry: The retry policy (default :class:`~auth0_ory_migrate.RetryPolicy`).
        check_existing: Read the namespaces first to leave pre-existing tuples alone.
        progress: Called with ``(tuples done, tuples in all)`` after each chunk.

    Raises:
        OryError: A request still failed after its retries (what was answered is recorded:
            run again to carry on).
        LedgerError: The state directory cannot be used.
        ValueError: *chunk_size* is below 1.

    .. versionadded:: 0.1.0
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    policy = retry or RetryPolicy()
    wanted = _unique(tuples)
    count = _Counter()
    with _AuthzLedger(state_dir) as ledger:
        if not ledger.scanned:
            existing: list[_Key] = []
            if check_existing and wanted:
                ours = set(wanted)
                for namespace in dict.fromkeys(k[0] for k in wanted):
                    existing.extend(
                        k
                        for t in _listed(ory, namespace, policy, lambda: None)
                        if (k := _key(t)) in ours and k not in ledger.landed
                    )
            ledger.append({"authz": "scan", "existing": [list(k) for k in existing]})
        already = sum(k in ledger.landed for k in wanted)
        existing_n = sum(k in ledger.existing and k not in ledger.landed for k in wanted)
        todo = [k for k in wanted if k not in ledger.landed and k not in ledger.existing]
        resent = sum(k in ledger.in_doubt for k in todo)
        sent = 0

        def landed(done: int) -> None:
            nonlocal sent
            sent = done
            if progress is not None:
                progress(already + existing_n + done, len(wanted))

        _send_chunks(ledger, ory, "insert", todo, chunk_size, policy, count, landed)
    return AuthzResult(
        sent=sent, resent=resent, already=already, existing=existing_n, requests=count.n
    )


@frozen
class RelationTupleCheck:
    """What :func:`verify_relation_tuples` found.

    Attributes:
        expected: Tuples expected.
        present: Of them, those Ory holds.
        missing: Expected tuples Ory does not hold.
        extra: Tuples Ory holds in the expected tuples' namespaces, about their subjects (the
            migrated identities), that are not expected (all tuples of those namespaces not
            expected, with ``every_subject=True``).

    .. versionadded:: 0.1.0
    """

    expected: int = 0
    present: int = 0
    missing: tuple[RelationTuple, ...] = field(default=(), repr=lambda m: f"<{len(m)}>")
    extra: tuple[RelationTuple, ...] = field(default=(), repr=lambda m: f"<{len(m)}>")

    @property
    def ok(self) -> bool:
        """Nothing missing, nothing extra."""
        return not self.missing and not self.extra

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for reports."""
        return {
            "expected": self.expected,
            "present": self.present,
            "missing": [str(t) for t in self.missing],
            "extra": [str(t) for t in self.extra],
        }


def verify_relation_tuples(
    tuples: Iterable[RelationTuple],
    ory: RelationshipAdmin,
    *,
    retry: RetryPolicy | None = None,
    every_subject: bool = False,
) -> RelationTupleCheck:
    """Reconcile *tuples* with what Ory holds: every one present, nothing extra.

    Reads every relationship of the tuples' namespaces back (``GET /relation-tuples``, page
    after page, retried as *retry* says). Sends nothing.

    Args:
        tuples: The tuples that should be in Ory (:func:`~auth0_ory_migrate.relation_tuples`).
        ory: An :class:`~auth0_ory_migrate.OryPermissions`.
        retry: The retry policy.
        every_subject: Count as extra every tuple of those namespaces not expected, not only
            those about the expected tuples' subjects.

    .. versionadded:: 0.1.0
    """
    policy = retry or RetryPolicy()
    wanted = _unique(tuples)
    expected = set(wanted)
    subjects = {k[3] for k in wanted}
    seen: set[_Key] = set()
    extra: list[RelationTuple] = []
    for namespace in dict.fromkeys(k[0] for k in wanted):
        for t in _listed(ory, namespace, policy, lambda: None):
            k = _key(t)
            if k in expected:
                seen.add(k)
            elif every_subject or k[3] in subjects:
                extra.append(t)
    missing = tuple(_tuple(k) for k in wanted if k not in seen)
    return RelationTupleCheck(len(wanted), len(seen), missing, tuple(extra))


def undo_relation_tuples(
    ory: RelationshipAdmin,
    *,
    state_dir: str | os.PathLike[str] | Ledger,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    retry: RetryPolicy | None = None,
) -> AuthzResult:
    """Delete exactly the tuples :func:`land_relation_tuples` inserted (ledgered, resumable).

    The tuples of every request it sent (answered or in doubt) are deleted, in chunks
    recorded as the inserts were; tuples Ory held before are left, and so is every tuple
    this tool did not send. Run again after an interruption, it carries on.

    Raises:
        OryError: A request still failed after its retries.
        LedgerError: The state directory cannot be used.

    .. versionadded:: 0.1.0
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    policy = retry or RetryPolicy()
    count = _Counter()
    with _AuthzLedger(state_dir) as ledger:
        targets = [
            k
            for k in dict.fromkeys([*ledger.landed, *ledger.in_doubt, *ledger.deleting])
            if k not in ledger.existing
        ]
        resent = sum(k in ledger.deleting for k in targets)
        _send_chunks(ledger, ory, "delete", targets, chunk_size, policy, count)
        left = sum(1 for e in ledger.organizations.values() if e.get("status") != "deleted")
    return AuthzResult(
        sent=len(targets),
        resent=resent,
        existing=len(ledger.existing),
        requests=count.n,
        organizations_left=left,
    )


# -- organizations ------------------------------------------------------------------------------


@frozen
class OrganizationsResult:
    """What an organization function did.

    :func:`create_organizations`, :func:`assign_organization_members` or
    :func:`undo_organizations`.

    Attributes:
        organizations: Auth0 organization id → Ory organization id, for every organization
            this tool created (in this run or an earlier one).
        created: Organizations created (or deleted, by undo) in this run.
        members: Identities whose ``organization_id`` was set (or cleared) in this run.
        already: Organizations or members an earlier run dealt with.
        not_in_ory: Members skipped: no Ory identity.
        requests: Requests made.

    .. versionadded:: 0.1.0
    """

    organizations: Mapping[str, str] = field(factory=dict)
    created: int = 0
    members: int = 0
    already: int = 0
    not_in_ory: int = 0
    requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for reports."""
        return {
            "organizations": dict(self.organizations),
            "created": self.created,
            "members": self.members,
            "already": self.already,
            "not_in_ory": self.not_in_ory,
            "requests": self.requests,
        }


def create_organizations(
    plan: OrganizationPlan,
    console: OrganizationAdmin,
    project_id: str,
    *,
    state_dir: str | os.PathLike[str] | Ledger,
) -> OrganizationsResult:
    """Create an Ory organization for each organization *plan* maps (ledgered, exactly once).

    Its label is the Auth0 organization's display name (else its name), its domains the
    Auth0 organization's. Each is recorded before it is created and again after; run again,
    an organization created before is not created again, and one whose creation got no
    answer is looked for on Ory (same label and domains, not another's) before it is.

    Args:
        plan: :func:`~auth0_ory_migrate.plan_organizations`'s plan.
        console: An :class:`~auth0_ory_migrate.OryConsole` (workspace API key).
        project_id: The Ory Network project.
        state_dir: The state directory, or the run's open :class:`~auth0_ory_migrate.Ledger`.

    Raises:
        OryConsoleError: Ory refused or failed (409: a domain is another organization's).
        LedgerError: The state directory cannot be used.

    .. versionadded:: 0.1.0
    """
    created = already = 0
    count = _Counter()
    with _AuthzLedger(state_dir) as ledger:
        listed: list[tuple[str, str, tuple[str, ...]]] | None = None
        for mapping in plan.mapped:
            org = mapping.organization
            entry = ledger.organizations.get(org.id)
            if entry is not None and entry.get("status") == "done":
                already += 1
                continue
            label = org.display_name or org.name
            domains = list(org.domains)
            ory_id: str | None = None
            if entry is not None and entry.get("status") == "sending":
                if listed is None:
                    listed = _counted(lambda: console.list_organizations(project_id), count)
                claimed = {
                    e.get("ory_id") for e in ledger.organizations.values() if e.get("ory_id")
                }
                found = [
                    oid
                    for oid, lab, doms in listed or ()
                    if lab == label and sorted(doms) == sorted(domains) and oid not in claimed
                ]
                if len(found) == 1:
                    ory_id = found[0]
            if ory_id is None:
                ledger.append(
                    {
                        "authz": "organization",
                        "auth0_id": org.id,
                        "status": "sending",
                        "label": label,
                        "domains": domains,
                    }
                )
                ory_id = _counted(
                    partial(console.create_organization, project_id, label, domains),
                    count,
                )
                created += 1
            ledger.append(
                {"authz": "organization", "auth0_id": org.id, "status": "done", "ory_id": ory_id}
            )
        organizations = {
            a: str(e["ory_id"])
            for a, e in ledger.organizations.items()
            if e.get("status") == "done"
        }
    return OrganizationsResult(
        organizations=organizations, created=created, already=already, requests=count.n
    )


def assign_organization_members(
    plan: OrganizationPlan,
    organizations: Mapping[str, str],
    ory: IdentityUpdater,
    identity_of: Callable[[str], str | None],
    *,
    state_dir: str | os.PathLike[str] | Ledger,
    retry: RetryPolicy | None = None,
) -> OrganizationsResult:
    """Set ``organization_id`` on the Ory identities of each mapped organization's members.

    ``PATCH /admin/identities/{id}`` with ``[{"op": "add", "path": "/organization_id",
    "value": …}]``: Kratos's patch handler applies it to the identity and stores the column
    (a ``PUT``'s ``UpdateIdentityBody`` has no ``organization_id``: it cannot set it).
    Each identity is recorded before and after; run again, those done are not sent again.

    Args:
        plan: :func:`~auth0_ory_migrate.plan_organizations`'s plan.
        organizations: Auth0 organization id → Ory organization id
            (:attr:`OrganizationsResult.organizations` of :func:`create_organizations`).
        ory: An :class:`~auth0_ory_migrate.OryAdmin` (project API key).
        identity_of: The Ory identity id of an Auth0 user id, ``None`` when not in Ory.
        state_dir: The state directory, or the run's open :class:`~auth0_ory_migrate.Ledger`.
        retry: The retry policy.

    Raises:
        OryError: A request still failed after its retries.
        LedgerError: The state directory cannot be used.

    .. versionadded:: 0.1.0
    """
    policy = retry or RetryPolicy()
    members = already = not_in_ory = 0
    count = _Counter()
    with _AuthzLedger(state_dir) as ledger:
        for mapping in plan.mapped:
            ory_org = organizations.get(mapping.organization.id)
            if ory_org is None:
                continue
            for user_id in mapping.members:
                identity_id = identity_of(user_id)
                if identity_id is None:
                    not_in_ory += 1
                    continue
                entry = ledger.members.get(identity_id)
                if (
                    entry is not None
                    and entry.get("status") == "done"
                    and (entry.get("ory_id") == ory_org)
                ):
                    already += 1
                    continue
                line = {"authz": "member", "identity_id": identity_id, "ory_id": ory_org}
                ledger.append({**line, "status": "sending"})
                ops = [{"op": "add", "path": "/organization_id", "value": ory_org}]
                _retrying(partial(ory.patch_identity, identity_id, ops), policy, count)
                ledger.append({**line, "status": "done"})
                members += 1
    return OrganizationsResult(
        organizations=dict(organizations),
        members=members,
        already=already,
        not_in_ory=not_in_ory,
        requests=count.n,
    )


def undo_organizations(
    console: OrganizationAdmin,
    project_id: str,
    ory: IdentityUpdater,
    *,
    state_dir: str | os.PathLike[str] | Ledger,
    retry: RetryPolicy | None = None,
) -> OrganizationsResult:
    """Undo :func:`assign_organization_members` and :func:`create_organizations` (ledgered).

    Clears ``organization_id`` of every identity this tool set it on (in doubt included; an
    identity deleted since is skipped), then deletes every Ory organization this tool
    created (one already gone counts as deleted). Nothing else is touched.

    Raises:
        OryError: A request to the identity API still failed after its retries.
        OryConsoleError: The console API refused or failed.
        LedgerError: The state directory cannot be used.

    .. versionadded:: 0.1.0
    """
    policy = retry or RetryPolicy()
    members = deleted = 0
    count = _Counter()
    with _AuthzLedger(state_dir) as ledger:
        for identity_id, entry in list(ledger.members.items()):
            if entry.get("status") not in ("sending", "done"):
                continue
            ops = [{"op": "replace", "path": "/organization_id", "value": None}]
            try:
                _retrying(partial(ory.patch_identity, identity_id, ops), policy, count)
            except OryError as e:
                if e.status != 404:
                    raise
            ledger.append(
                {
                    "authz": "member",
                    "identity_id": identity_id,
                    "ory_id": entry.get("ory_id"),
                    "status": "removed",
                }
            )
            members += 1
        gone: dict[str, str] = {}
        for auth0_id, entry in list(ledger.organizations.items()):
            if entry.get("status") != "done":
                continue
            ory_id = str(entry["ory_id"])
            _counted(partial(console.delete_organization, project_id, ory_id), count)
            ledger.append(
                {
                    "authz": "organization",
                    "auth0_id": auth0_id,
                    "status": "deleted",
                    "ory_id": ory_id,
                }
            )
            gone[auth0_id] = ory_id
            deleted += 1
    return OrganizationsResult(
        organizations=gone, created=deleted, members=members, requests=count.n
    )
