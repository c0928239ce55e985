"""``sync``: a :class:`~auth0_ory_migrate.SyncPlan` carried out against Ory, exactly once.

:func:`~auth0_ory_migrate.plan_sync` decides (pure) what changed in Auth0 since the import;
:func:`sync_identities` sends it, one operation at a time for each changed user, with every
operation in the ledger before it is sent and again once Ory answered (fsynced):

- **removals** first (a user deleted in Auth0 may have signed up again with the same email:
  the old identity must free it before the new one is created): ``deactivate`` is one
  ``PATCH`` of ``/state`` (nothing else of the identity is touched), ``delete`` one
  ``DELETE``; ``keep`` sends nothing and is only counted;
- **updates** (and ``conflict`` operations, updated for the sections Auth0 wins): the plan's
  ``PUT`` body, then its JSON Patch (verification state) when it has one, then a ``DELETE``
  of each link the user unlinked in Auth0 (``DELETE …/credentials/{type}?identifier=``);
- **creates** last, through :func:`~auth0_ory_migrate.import_identities` (batches, 409
  handling, the same ledger), exactly as ``import`` does.

Exactly once: an operation whose ``sending`` line has no answer after it (a run killed with
SIGKILL, an answer lost) is in doubt; the next run reads the identity back from Ory (a read,
not a write) and, when Ory already holds what the operation was writing, records it done
without sending it again. A completed operation makes the op's digests the user's record, so
the next :func:`~auth0_ory_migrate.plan_sync` finds the user unchanged: a second sync of the
same export sends nothing. Creates are made exactly once by the import's own mechanism
(``attempt`` lines and Ory's unique ``external_id``).

Rate limits: each request goes through the library's one retry policy
(:class:`~auth0_ory_migrate.RetryPolicy`): a 429 waits what ``Retry-After`` /
``x-ratelimit-reset`` ask (Ory Network's single-identity "admin low" bucket), a 5xx or a lost
answer is sent again (``PUT``, ``PATCH`` of ``/state`` and of verification flags, and
``DELETE`` are idempotent). A 404 (the identity was deleted in Ory) is a failed operation
with Ory's reason. A 409 (an identifier of the new traits belongs to another identity) is sent
once more after every other update, since the holder may be giving it up in the same sync (two
users trading addresses); a second 409 is a failed operation with Ory's reason.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal

from attrs import evolve, frozen

from .._core._importing import ImportOutcome
from .._core._mapping import PlannedIdentity
from .._core._retry import RetryPolicy
from .._core._sync import SyncOp, SyncPlan, SyncSection, update_request
from ..exceptions import ConfigurationError, OryError
from ..typing import IdentityUpdater
from ._engine import _call_with_retries, import_identities
from ._ledger import Ledger


__all__ = ["SyncResult", "sync_identities"]

_CHUNK = 32  # operations written to the ledger (fsynced) together, per thread
_DEACTIVATE: tuple[Mapping[str, Any], ...] = (
    {"op": "replace", "path": "/state", "value": "inactive"},
)


@frozen
class SyncResult:
    """What :func:`sync_identities` did.

    Attributes:
        created: New users created in Ory (the import's ``created``).
        already_in_ory: New users found already in Ory (the import's ``exists``,
            ``adopted`` and ``uncertain``): recorded, not created.
        updated: Users updated (``update`` and ``conflict`` operations that went through).
        password_changed: Of those, users whose password credential changed (a new hash,
            or the password-migration hook).
        conflicts: Of those, users Ory had changed too (the plan's ``conflict``
            operations: Ory kept what it wins, Auth0's changes went in for the rest).
        removed: Users deleted in Auth0 that were deactivated or deleted in Ory.
        kept: Users deleted in Auth0 left as they are in Ory (removal action ``keep``).
        unchanged: Users the plan found unchanged (no request).
        resumed: Operations an earlier, interrupted run had sent and Ory had done: recorded
            as done without sending them again (also counted in :attr:`updated`; creates
            an earlier run made are counted by the import as ``created``).
        failed: Operations that failed, each with the reason (never a secret): a 409
            (``conflict: …``: an identifier belongs to another identity), a 404 (the
            identity is no longer in Ory), or what Ory answered after the retries. The next
            sync tries them again.
        requests: Requests sent to Ory that write (the import's batches, ``PUT``,
            ``PATCH``, ``DELETE``), retries included; reads are not counted.

    .. versionadded:: 0.1.0
    """

    created: int = 0
    already_in_ory: int = 0
    updated: int = 0
    password_changed: int = 0
    conflicts: int = 0
    removed: int = 0
    kept: int = 0
    unchanged: int = 0
    resumed: int = 0
    failed: tuple[ImportOutcome, ...] = ()
    requests: int = 0

    @property
    def ok(self) -> bool:
        """Whether every operation of the plan went through.

        .. versionadded:: 0.1.0
        """
        return not self.failed


_Left = Literal["send", "patch", "done"]


@frozen
class _Done:
    """What became of one operation."""

    op: SyncOp
    status: Literal["done", "failed", "resumed"]
    reason: str | None = None
    requests: int = 0
    conflict: bool = False  # Ory answered 409: an identifier of the new traits is another's


def _reason(op: SyncOp, error: OryError) -> str:
    if error.status == 404:
        return f"identity {op.identity_id} is no longer in Ory (deleted there?): not written"
    if error.status == 409:
        return f"conflict: {error.reason}"
    return str(error)


@frozen
class _Runner:
    ory: IdentityUpdater
    ledger: Ledger
    policy: RetryPolicy
    action: str

    def targets(self, op: SyncOp) -> Mapping[SyncSection, str]:
        """The digests the user's record gets once *op* is done (none for a removal)."""
        if op.kind == "remove":
            return {}
        if op.digests is not None:
            return op.digests
        return self.ledger.digests_of(op.body)

    def left_to_send(self, op: SyncOp, target: Mapping[SyncSection, str]) -> tuple[_Left, SyncOp]:
        """What of *op* Ory does not hold yet, when an interrupted run was sending it (a read).

        ``send`` for an operation not in doubt (nothing is read); ``done`` when Ory's
        identity already has the op's sections; ``patch`` when only the verification
        state is missing (the ``PUT`` went through, the ``PATCH`` did not). An op sent
        again after the read gets a ``PUT`` made against what Ory holds now: a link the
        first ``PUT`` added is not sent twice (Ory appends links: it would keep both).
        """
        if op.kind == "remove" or op.identity_id is None or (not op.fields and op.put is None):
            return "send", op  # (an unlink only: deleting a link twice is harmless)
        if self.ledger.sync_pending(op.external_id) is None:
            return "send", op
        identity_id = op.identity_id
        try:
            remote = _call_with_retries(lambda: self.ory.get_identity(identity_id), self.policy)
        except OryError:
            return "send", op  # PUT and PATCH are idempotent; a link is sent as planned
        if remote is None:
            return "send", op  # the write meets the 404 and says so
        now = self.ledger.digests_of(remote)
        missing = {f for f in op.fields if now.get(f) != target.get(f)}
        moved = op.put is not None and remote.get("external_id") != op.put.get("external_id")
        if not missing and not op.unlink and not moved:
            return "done", op
        if op.patch and missing <= {"addresses"} and not moved:
            return "patch", op
        if op.put is not None:
            put, _ = update_request(op.body, remote, op.fields)
            op = evolve(op, put=put)
        return "send", op

    def send(self, op: SyncOp, left: _Left = "send") -> _Done:
        if left == "done":
            return _Done(op, "resumed")
        identity_id = op.identity_id
        if identity_id is None:
            return _Done(op, "failed", "no Ory identity id is recorded for this user")
        count = 0

        def call(request: Callable[[], object]) -> None:
            """Send *request* with the retry policy, counting each attempt."""

            def attempt() -> object:
                nonlocal count
                count += 1
                return request()

            _call_with_retries(attempt, self.policy)

        try:
            if op.kind == "remove":
                if self.action == "delete":
                    call(lambda: self.ory.delete_identity(identity_id))
                elif self.action == "deactivate":
                    deactivate = op.patch or _DEACTIVATE
                    call(lambda: self.ory.patch_identity(identity_id, deactivate))
            else:
                put = op.put
                if put is not None and left == "send":
                    call(lambda: self.ory.update_identity(identity_id, put))
                if op.patch:
                    patch = op.patch
                    call(lambda: self.ory.patch_identity(identity_id, patch))
                for kind, identifier in op.unlink:
                    call(partial(self.ory.delete_credential, identity_id, kind, identifier))
        except OryError as e:
            return _Done(op, "failed", _reason(op, e), count, conflict=e.status == 409)
        return _Done(op, "done", None, count)


def _settle_pending(runner: _Runner, planned: set[str], pool: ThreadPoolExecutor) -> int:
    """Settle the operations an interrupted run left in doubt that the plan does not repeat.

    A plan made with Ory's identities (*remote*) leaves out an update Ory already holds; its
    ``sending`` line is settled here: ``done`` when Ory's identity has the op's sections (the
    record catches up, and the next plan needs no read of Ory for it), otherwise ``failed``
    (the new plan wants nothing of it). Reads only. Returns how many were done.
    """
    ledger = runner.ledger
    stale = [
        entry
        for entry in ledger.pending_sync()
        if entry.get("sync") not in planned and entry.get("op") in ("update", "conflict")
    ]
    if not stale:
        return 0

    def settle(entry: Mapping[str, Any]) -> dict[str, Any]:
        line = {k: entry.get(k) for k in ("sync", "op", "identity_id", "fields")}
        digests = entry.get("digests")
        target: Mapping[Any, str] = digests if isinstance(digests, Mapping) else {}
        identity_id = entry.get("identity_id")
        remote = None
        if isinstance(identity_id, str):
            try:
                remote = _call_with_retries(
                    lambda: runner.ory.get_identity(identity_id), runner.policy
                )
            except OryError:
                remote = None
        if remote is not None:
            now: Mapping[SyncSection, str] = ledger.digests_of(remote)
            fields = entry.get("fields") or ()
            if all(now.get(f) == target.get(f) for f in fields):
                return {**line, "status": "done", "digests": target}
        return {**line, "status": "failed", "reason": "left in doubt; the new plan has no write"}

    lines = list(pool.map(settle, stale))
    ledger.record_sync(lines)
    return sum(1 for line in lines if line["status"] == "done")


def _line(op: SyncOp, status: str, action: str, **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "sync": op.external_id,
        "op": op.kind,
        "status": status,
        "identity_id": op.identity_id,
    }
    if op.kind == "remove":
        line["action"] = action
    else:
        line["fields"] = list(op.fields)
    line.update(extra)
    return line


def _chunks(ops: Sequence[SyncOp], size: int) -> Iterator[Sequence[SyncOp]]:
    for start in range(0, len(ops), size):
        yield ops[start : start + size]


def sync_identities(
    plan: SyncPlan,
    ory: IdentityUpdater,
    *,
    ledger: Ledger,
    retry: RetryPolicy | None = None,
    concurrency: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SyncResult:
    """Carry *plan* out against Ory, exactly once, recording every operation in *ledger*.

    Removals first (``deactivate``: ``PATCH /state``; ``delete``: ``DELETE``; ``keep``:
    nothing), then updates (the plan's ``PUT`` body, then its JSON Patch when it has one;
    one of each per changed user, and a ``DELETE`` per link unlinked in Auth0; nothing for
    an unchanged user), then creates through
    :func:`~auth0_ory_migrate.import_identities` (batched). Every operation is written to the
    ledger (fsynced) before it is sent and after Ory answered; after a crash the same plan
    (or a new :func:`~auth0_ory_migrate.plan_sync` of the same export) finishes the work
    with no duplicate create and no lost update, and an operation Ory had already done is
    recorded without being sent again (see the module documentation).

    Args:
        plan: What to do (:func:`~auth0_ory_migrate.plan_sync`).
        ory: Ory's identity admin API with single-identity writes
            (:class:`~auth0_ory_migrate.OryAdmin`, or any
            :class:`~auth0_ory_migrate.typing.IdentityUpdater`, e.g.
            :class:`~auth0_ory_migrate.testing.InMemoryOryAdmin`).
        ledger: The state directory of the import (:meth:`Ledger.open_existing
            <auth0_ory_migrate.Ledger.open_existing>`).
        retry: The retry policy of every request (429 and ``Retry-After`` included).
        concurrency: Single-identity requests in flight at once (and the import's).
            Ory Network's single-identity bucket is small: 1 unless the project is a
            self-hosted Kratos.
        progress: Called with the number of operations dealt with so far.

    Raises:
        ConfigurationError: *concurrency* below 1.
        LedgerError: The ledger cannot be written: nothing more is sent, and the same
            sync again carries on exactly once.
        OryError: As :func:`~auth0_ory_migrate.import_identities` raises for the creates
            (the key or the URL refused).

    .. versionadded:: 0.1.0
    """
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, not {concurrency}")
    policy = retry or RetryPolicy()
    action = plan.removal_action
    runner = _Runner(ory, ledger, policy, action)
    removes = [op for op in plan.ops if op.kind == "remove"]
    updates = [op for op in plan.ops if op.kind in ("update", "conflict")]
    creates = [op for op in plan.ops if op.kind == "create"]
    counts = {"updated": 0, "password": 0, "conflicts": 0, "removed": 0, "resumed": 0}
    failed: list[ImportOutcome] = []
    requests = 0
    dealt = 0
    kept = 0 if action != "keep" else len(removes)
    to_send = removes if action != "keep" else []

    with ThreadPoolExecutor(concurrency, thread_name_prefix="ory-sync") as pool:
        counts["resumed"] += _settle_pending(runner, {op.external_id for op in plan.ops}, pool)
        # An update that meets a 409 (an address another user held) is sent once more after
        # the others: the holder may be changing it in this very sync.
        later: list[SyncOp] = []
        retrying = False
        chunks = deque(_chunks([*to_send, *updates], _CHUNK * concurrency))
        while chunks:
            chunk = chunks.popleft()
            deferred = 0
            targets = {op.external_id: runner.targets(op) for op in chunk}
            decided = list(
                pool.map(runner.left_to_send, chunk, [targets[o.external_id] for o in chunk])
            )
            left = [what for what, _ in decided]
            ledger.record_sync(
                _line(op, "sending", action, digests=dict(targets[op.external_id]) or None)
                for op, what in zip(chunk, left, strict=True)
                if what != "done"
            )
            results = list(pool.map(runner.send, [op for _, op in decided], left))
            lines = []
            for result in results:
                op = result.op
                requests += result.requests
                if result.status == "failed":
                    reason = result.reason or "failed"
                    lines.append(_line(op, "failed", action, reason=reason))
                    if result.conflict and not retrying and op.kind != "remove":
                        later.append(op)
                        deferred += 1
                        continue
                    failed.append(ImportOutcome(op.external_id, "failed", op.identity_id, reason))
                    continue
                done = _line(op, "done", action, digests=dict(targets[op.external_id]) or None)
                if op.fingerprint is not None and op.digests is not None:
                    done["fingerprint"] = op.fingerprint  # (the next plan's fast path)
                    if op.source is not None:
                        done.update(ledger._source_fields(op.source))
                lines.append(done)
                if result.status == "resumed":
                    counts["resumed"] += 1
                if op.kind == "remove":
                    counts["removed"] += 1
                    continue
                counts["updated"] += 1
                if op.password is not None:
                    counts["password"] += 1
                if op.kind == "conflict":
                    counts["conflicts"] += 1
            ledger.record_sync(lines)
            dealt += len(chunk) - deferred
            if progress is not None:
                progress(dealt)
            if not chunks and later and not retrying:
                chunks, retrying = deque(_chunks(later, _CHUNK * concurrency)), True

    created = already = 0
    if creates:
        done_before = dealt

        def on_import(p: Any) -> None:
            if progress is not None:
                progress(done_before + p.created + p.exists + p.failed + p.skipped)

        imported = import_identities(
            # (as planned identities when their source is known: the ledger records it)
            (
                PlannedIdentity(op.external_id, op.line, op.body, source=op.source)
                if op.source is not None
                else op.body
                for op in creates
            ),
            ory,
            ledger=ledger,
            concurrency=concurrency,
            retry=policy,
            progress=on_import if progress is not None else None,
        )
        created = imported.created
        already = imported.exists + imported.adopted + imported.uncertain
        counts["resumed"] += imported.skipped
        requests += imported.requests
        failed.extend(imported.failed)
        failed.extend(
            ImportOutcome(external_id, "failed", reason="twice in the plan")
            for external_id in imported.duplicates
        )
    return SyncResult(
        created=created,
        already_in_ory=already,
        updated=counts["updated"],
        password_changed=counts["password"],
        conflicts=counts["conflicts"],
        removed=counts["removed"],
        kept=kept,
        unchanged=plan.unchanged,
        resumed=counts["resumed"],
        failed=tuple(failed),
        requests=requests,
    )
