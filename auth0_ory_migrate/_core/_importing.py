"""Every decision of the import into Ory, as pure functions (no SDK, no I/O).

- :func:`iter_batches`: how identity bodies are grouped into ``PATCH /admin/identities``
  requests (Ory's limits: 1,000 per request, 200 when one carries a plaintext password).
- (whether and how long to wait before sending a failed request again is
  :func:`~auth0_ory_migrate._core._retry.retry_wait`'s, for Auth0 and Ory alike).
- :func:`batch_verdict`: what to do with a request that finally failed (split it, look its
  users up, give up on them, or stop the run).
- :func:`classify_items` and :func:`resolve_conflict`: what each per-item result means for
  its user.
- :func:`decide_answer`: what an import request's answer (or failure) means for its users:
  record them, look them up, send the halves again, or stop.
- :func:`split_batch`: the bisection that isolates the bodies that make Ory reject a whole
  batch with 400.

The adapter (:mod:`auth0_ory_migrate._ory._admin`) and the engine
(:mod:`auth0_ory_migrate._runtime._engine`) only carry these decisions out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

from attrs import field, frozen

from ..exceptions import ConfigurationError, OryError
from ._ory import error_reason, normalize_identifier
from ._records import UnreadableRecord


__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_PLAINTEXT_BATCH_SIZE",
    "AnswerDecision",
    "BatchVerdict",
    "FoundIdentity",
    "ImportOutcome",
    "ImportProgress",
    "ImportResult",
    "ItemResult",
    "Lookup",
    "Resend",
    "UndoTarget",
    "batch_limit",
    "batch_verdict",
    "clash_candidates",
    "classify_items",
    "decide_answer",
    "has_plaintext_password",
    "iter_batches",
    "may_have_committed",
    "resolve_conflict",
    "split_batch",
    "undo_refusal",
    "unreachable",
]

T = TypeVar("T")

#: Ory's limit of identities per ``PATCH /admin/identities`` request.
MAX_BATCH_SIZE = 1000
#: Ory's limit when any identity of the request carries a plaintext password.
MAX_PLAINTEXT_BATCH_SIZE = 200

#: What became of one user.
Status = Literal["created", "exists", "adopted", "uncertain", "failed"]
#: The statuses of a user that is in Ory.
IN_ORY: frozenset[str] = frozenset({"created", "exists", "adopted", "uncertain"})


# -- batching ------------------------------------------------------------------------------


def has_plaintext_password(body: Mapping[str, Any]) -> bool:
    """Whether *body* imports a plaintext password (which lowers Ory's batch limit to 200).

    .. versionadded:: 0.1.0
    """
    credentials = body.get("credentials")
    if not isinstance(credentials, Mapping):
        return False
    password = credentials.get("password")
    if not isinstance(password, Mapping):
        return False
    config = password.get("config")
    return isinstance(config, Mapping) and config.get("password") is not None


def batch_limit(batch_size: int | None = None, *, plaintext: bool = False) -> int:
    """The most identities one request may carry.

    Args:
        batch_size: The caller's wish (``--batch-size``); it can only lower Ory's limit.
        plaintext: Whether any body of the request carries a plaintext password.

    Raises:
        ConfigurationError: *batch_size* is below 1.

    .. versionadded:: 0.1.0
    """
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError(f"batch size must be at least 1, not {batch_size}")
    limit = MAX_PLAINTEXT_BATCH_SIZE if plaintext else MAX_BATCH_SIZE
    return limit if batch_size is None else min(limit, batch_size)


def iter_batches(
    items: Iterable[T],
    *,
    batch_size: int | None = None,
    body: Callable[[T], Mapping[str, Any]] | None = None,
) -> Iterator[list[T]]:
    """Group *items* into requests that respect Ory's limits, streaming.

    A batch is closed when it reaches :func:`batch_limit`: 1,000 (or *batch_size*), 200
    as soon as one body carries a plaintext password. A body with a plaintext password
    never joins a batch that already holds 200 or more: that batch is sent first.

    Args:
        items: The bodies, or anything *body* turns into one.
        batch_size: Lower limit wished by the caller.
        body: Gets the ``CreateIdentityBody`` out of an item (default: the item itself).

    .. versionadded:: 0.1.0
    """
    plain_limit = batch_limit(batch_size, plaintext=True)
    hashed_limit = batch_limit(batch_size, plaintext=False)
    batch: list[T] = []
    plaintext = False
    for item in items:
        mine = has_plaintext_password(body(item) if body else item)  # type: ignore[arg-type]
        if batch and len(batch) >= (plain_limit if plaintext or mine else hashed_limit):
            yield batch
            batch, plaintext = [], False
        batch.append(item)
        plaintext = plaintext or mine
        if len(batch) >= (plain_limit if plaintext else hashed_limit):
            yield batch
            batch, plaintext = [], False
    if batch:
        yield batch


def split_batch(batch: Sequence[T]) -> tuple[list[T], list[T]] | None:
    """Halve a batch Ory rejected as a whole; ``None`` when it holds one body only.

    Sending both halves again, and halving again whichever is rejected, isolates every
    bad body in ``log2(n)`` rounds while everyone else is imported.

    .. versionadded:: 0.1.0
    """
    if len(batch) <= 1:
        return None
    middle = len(batch) // 2
    return list(batch[:middle]), list(batch[middle:])


#: What to do with a request that failed for good (after its retries).
BatchVerdict = Literal["split", "lookup", "fail", "fatal"]


def batch_verdict(error: OryError, *, size: int) -> BatchVerdict:
    """What to do with a request that failed for good.

    - ``"split"``: 400 (one bad body sinks the request), 413 and 504 with more than one
      identity: send the halves (:func:`split_batch`).
    - ``"lookup"``: 409 for the whole request (every item clashed): look each user up by
      external id, as for per-item 409s.
    - ``"fatal"``: 401, 403, 404: wrong key or URL, nothing can succeed; stop the run.
    - ``"fail"``: anything else (retries exhausted, a single bad body): the request's
      users fail with the error's reason and are retried by the next run.

    .. versionadded:: 0.1.0
    """
    status = error.status
    if status in (400, 413, 504) and size > 1:
        return "split"
    if status == 409:
        return "lookup"
    if status in (401, 403, 404):
        return "fatal"
    return "fail"


# -- results ---------------------------------------------------------------------------------


@frozen
class ItemResult:
    """What Ory answered for one identity of a batch.

    Attributes:
        index: Position of the identity in the request.
        action: ``"created"``; ``"conflict"`` (409: look the user up); ``"failed"``
            (another error); ``"missing"`` (the answer says nothing about it: look it up).
        identity_id: The new identity's id, for ``"created"``.
        reason: Ory's reason, for ``"failed"``.

    .. versionadded:: 0.1.0
    """

    index: int
    action: Literal["created", "conflict", "failed", "missing"]
    identity_id: str | None = None
    reason: str | None = None


def classify_items(
    patch_ids: Sequence[str], items: Iterable[Mapping[str, Any]]
) -> list[ItemResult]:
    """Match the per-item results of a batch answer to the request's identities.

    Items are matched on ``patch_id`` (in request order when an item lacks one). A 409
    is matched on its ``code``, never on message text.

    Args:
        patch_ids: The ``patch_id`` sent with each identity, in request order.
        items: The answer's ``identities`` list: dicts with ``action``, ``identity``,
            ``patch_id``, ``error``.

    Returns:
        One result per identity sent, in request order.

    .. versionadded:: 0.1.0
    """
    index_of = {pid: i for i, pid in enumerate(patch_ids)}
    results: list[ItemResult | None] = [None] * len(patch_ids)
    for position, item in enumerate(items):
        pid = item.get("patch_id")
        index = index_of.get(str(pid)) if pid is not None else None
        if index is None:
            if pid is not None or position >= len(patch_ids):
                continue  # an answer about something we did not send
            index = position
        if results[index] is not None:
            continue
        action = item.get("action")
        identity = item.get("identity")
        if action == "create" and identity:
            results[index] = ItemResult(index, "created", identity_id=str(identity))
            continue
        code, reason = error_reason(item.get("error"), "Ory reported an error without details")
        if code == 409:
            results[index] = ItemResult(index, "conflict", reason=reason)
        else:
            label = f"{code}: {reason}" if code is not None else reason
            results[index] = ItemResult(index, "failed", reason=label)
    return [r if r is not None else ItemResult(i, "missing") for i, r in enumerate(results)]


@frozen
class FoundIdentity:
    """An identity found on Ory by external id.

    Attributes:
        identity_id: Its Ory id.
        created_at: When Ory created it (Unix time), when known.

    .. versionadded:: 0.1.0
    """

    identity_id: str
    created_at: float | None = None


@frozen
class ImportOutcome:
    """What became of one user: one line of the ledger.

    Attributes:
        external_id: The Auth0 user id (the identity's ``external_id``).
        status: ``created`` (by this tool, proven: Ory's answer said so, or it was
            created after this tool first sent the user); ``exists`` (was there before:
            Ory answered 409 to a request that got its answer); ``adopted`` (found after
            a lost answer, and created before this tool first sent the user: not ours);
            ``uncertain`` (found after a lost answer, and whether this tool created it
            cannot be told); ``failed``. ``undo`` deletes ``created`` users only (and
            ``uncertain`` ones when asked).
        identity_id: The Ory identity id (when the user is in Ory).
        reason: Why it failed (never a secret).

    .. versionadded:: 0.1.0
    """

    external_id: str
    status: Status
    identity_id: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        .. versionadded:: 0.1.0
        """
        return {
            "external_id": self.external_id,
            "status": self.status,
            "identity_id": self.identity_id,
            "reason": self.reason,
        }


def resolve_conflict(
    external_id: str,
    found: FoundIdentity | None,
    *,
    first_attempt: float | None,
    clash: str | None = None,
    clock_skew: float = 300.0,
) -> ImportOutcome:
    """Turn a 409 (or an unreported item) into an outcome after the external-id lookup.

    An identity carrying the user's external id is that user. Without an earlier request
    whose answer was lost (*first_attempt* ``None``), Ory's 409 says that it was there
    before: ``exists``. After a lost answer, its ``created_at`` tells who made it:

    - at or after this state's first attempt to send the user: ``created`` (our lost
      answer; ``undo`` removes it);
    - more than *clock_skew* before it: ``adopted`` (it was there before; ``undo``
      leaves it alone);
    - otherwise (within the tolerated clock difference before it, or no ``created_at``):
      ``uncertain`` (``undo`` leaves it alone unless asked).

    When no identity has the external id, another identity holds the same email or social
    login: ``failed`` with reason ``conflict``.

    Args:
        external_id: The user's external id.
        found: What the lookup by external id found.
        first_attempt: When a request of ours that may have created the user without
            saying so was first sent (Unix time); ``None``: no such request.
        clash: What clashed, when a lookup by credentials identifier found it.
        clock_skew: Tolerated clock difference with Ory, in seconds.

    .. versionadded:: 0.1.0
    """
    if found is not None:
        status: Status
        if first_attempt is None:
            status = "exists"
        elif found.created_at is None:
            status = "uncertain"
        elif found.created_at >= first_attempt:
            status = "created"
        elif found.created_at < first_attempt - clock_skew:
            status = "adopted"
        else:
            status = "uncertain"
        return ImportOutcome(external_id, status, found.identity_id)
    detail = clash or "another identity already has the same email, address or social login"
    return ImportOutcome(external_id, "failed", reason=f"conflict: {detail}")


@frozen
class UndoTarget:
    """An identity the ledger says an import put in Ory, for ``undo`` to consider.

    Attributes:
        external_id: The Auth0 user id.
        identity_id: The Ory identity id the ledger recorded.
        status: What the ledger recorded: ``created``, ``adopted`` or ``uncertain``.
        first_attempt: When this tool first sent the user (Unix time), from the ledger;
            ``None`` when the ledger does not say.

    .. versionadded:: 0.1.0
    """

    external_id: str
    identity_id: str
    status: Literal["created", "adopted", "uncertain"] = "created"
    first_attempt: float | None = None


def not_this_imports(target: UndoTarget, found_identity_id: str) -> str | None:
    """Why the identity under *target*'s external id is not this import's to change, if so.

    Only the identity the ledger names may be changed (a forged or stale ledger line names
    an unrelated one otherwise), and never one in Ory before this tool first sent the user
    (``adopted``). ``undo`` and ``undo --credential`` both ask.
    """
    if found_identity_id != target.identity_id:
        return (
            f"it no longer carries external_id {target.external_id} (identity "
            f"{found_identity_id} does): left alone"
        )
    if target.status == "adopted":
        return "it was in Ory before this tool first sent the user (adopted): left alone"
    return None


def undo_refusal(
    target: UndoTarget,
    found: FoundIdentity | None,
    *,
    include_uncertain: bool = False,
    clock_skew: float = 300.0,
) -> str | None:
    """Why ``undo`` must not delete *target*, or ``None`` when it may.

    *found* is what Ory has under the target's external id now. The identity is deleted
    only when it still carries the user's external id (a forged or stale ledger line names
    an unrelated identity otherwise), was not created before this tool first sent the user
    (beyond *clock_skew*), and was recorded as ``created`` (``uncertain`` too with
    *include_uncertain*; ``adopted``, never).

    .. versionadded:: 0.1.0
    """
    if found is None:
        return (
            f"no identity has external_id {target.external_id} any more: deleted already, "
            f"or its external_id was changed (identity {target.identity_id} is left alone)"
        )
    refusal = not_this_imports(target, found.identity_id)
    if refusal is not None:
        return refusal
    if (
        target.first_attempt is not None
        and found.created_at is not None
        and found.created_at < target.first_attempt - clock_skew
    ):
        return (
            f"it was created at {_utc(found.created_at)}, before this tool first sent the "
            f"user ({_utc(target.first_attempt)}): left alone"
        )
    if not include_uncertain:
        if target.status == "uncertain":
            return "whether this tool created it cannot be told (uncertain): left alone"
        if target.first_attempt is None or found.created_at is None:
            return (
                "the ledger or Ory does not say when it was created or first sent, so "
                "whether this tool created it cannot be told: left alone"
            )
    return None


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clash_candidates(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The credential identifiers of *body* another identity could already own.

    Returns:
        ``(what, identifier)`` pairs, e.g. ``("email", "a@example.com")`` and
        ``("google login", "google:1043...")``, for lookups by ``credentials_identifier``.

    .. versionadded:: 0.1.0
    """
    found: list[tuple[str, str]] = []
    traits = body.get("traits")
    if isinstance(traits, Mapping):
        for key in ("email", "username", "phone"):
            value = traits.get(key)
            if isinstance(value, str) and value.strip():
                found.append((key, normalize_identifier(value)))
    credentials = body.get("credentials")
    oidc = credentials.get("oidc") if isinstance(credentials, Mapping) else None
    config = oidc.get("config") if isinstance(oidc, Mapping) else None
    providers = config.get("providers") if isinstance(config, Mapping) else None
    if isinstance(providers, list):
        for p in providers:
            if isinstance(p, Mapping) and p.get("provider") and p.get("subject"):
                found.append((f"{p['provider']} login", f"{p['provider']}:{p['subject']}"))
    return found


# -- answers ---------------------------------------------------------------------------------

#: What the request's users were told to say about themselves (never shown: hashes).
_Bodies = tuple[Mapping[str, Any], ...]
_UNREPORTED = "Ory's answer did not say what became of it"


def may_have_committed(error: OryError) -> bool:
    """Whether a request that failed with *error* may have created identities all the same.

    True when no answer came after the request went out (a read timeout, a connection
    dropped after sending) and for a 5xx: a 504 in particular may come after the commit.

    .. versionadded:: 0.1.0
    """
    return error.outcome_unknown or (error.status is not None and error.status >= 500)


@frozen
class Lookup:
    """Users only a lookup by external id can tell the fate of (see :func:`resolve_conflict`).

    Attributes:
        bodies: Their identity bodies (never shown: they hold password hashes).
        since: When a request that may have created them without saying so was first
            sent (Unix time); ``None``: no such request.
        missing_reason: Why a user that is not found failed; ``None``: not found means
            that another identity holds the same email or login (``conflict``).

    .. versionadded:: 0.1.0
    """

    bodies: _Bodies = field(repr=False)
    since: float | None = None
    missing_reason: str | None = None


@frozen
class Resend:
    """One half of a request Ory refused as a whole, to be sent again on its own.

    Attributes:
        bodies: Its identity bodies (never shown: they hold password hashes).
        uncertain: An earlier request with these bodies got no answer or a 5xx: Ory may
            have created some of them.

    .. versionadded:: 0.1.0
    """

    bodies: _Bodies = field(repr=False)
    uncertain: bool = False


@frozen
class AnswerDecision:
    """What to do about the answer (or the failure) of one import request.

    Attributes:
        outcomes: Users the answer settles: record them.
        lookups: Users to look up by external id (in this order), then record.
        resend: Halves to send again instead; nothing is recorded yet.
        fatal: Nothing can succeed: stop the run with this error.

    .. versionadded:: 0.1.0
    """

    outcomes: tuple[ImportOutcome, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    resend: tuple[Resend, ...] = ()
    fatal: OryError | None = None


def decide_answer(
    bodies: Sequence[Mapping[str, Any]],
    patch_ids: Sequence[str],
    answer: Iterable[Mapping[str, Any]] | OryError,
    *,
    sent_at: float,
    uncertain: bool = False,
    answered_before: bool = True,
) -> AnswerDecision:
    """What an import request's answer, or its final failure, means for its users.

    - Per-item results (:func:`classify_items`): created and failed users are settled; a
      409 is looked up (after an unanswered earlier request, when *uncertain*, a copy
      is ``created``, ``adopted`` or ``uncertain`` as :func:`resolve_conflict` says); a
      user the answer does not mention is looked up and fails if Ory does not have it.
    - A failure, as :func:`batch_verdict` says: the halves are sent again (keeping
      *uncertain*), everyone is looked up (409), the run stops (401, 403, 404), or
      everyone fails with the error; after a failure that :func:`may_have_committed`,
      everyone is looked up, and fails with the error if Ory does not have them.

    Args:
        bodies: The request's identity bodies, in request order, each with its
            ``external_id``.
        patch_ids: The ``patch_id`` sent with each.
        answer: The per-item results of a 2xx answer, or the error the request failed
            with after its retries.
        sent_at: When these bodies were first sent (Unix time).
        uncertain: An earlier request with these bodies got no answer or a 5xx, so Ory
            may have created some of them at *sent_at* or later.
        answered_before: Whether Ory has answered any request of the run yet. When it
            has not, and this request got no answer either after its retries (connection
            refused, a name that does not resolve, a TLS failure, a timeout), nothing is
            going to succeed: the run stops (``fatal``) with one error instead of failing
            every user in turn.

    .. versionadded:: 0.1.0
    """
    if isinstance(answer, OryError) and answer.status is None and not answered_before:
        return AnswerDecision(fatal=unreachable(answer))
    since = sent_at if uncertain else None
    if not isinstance(answer, OryError):
        outcomes: list[ImportOutcome] = []
        conflicts: list[Mapping[str, Any]] = []
        unreported: list[Mapping[str, Any]] = []
        for r in classify_items(patch_ids, answer):
            body = bodies[r.index]
            if r.action == "created":
                outcomes.append(ImportOutcome(str(body["external_id"]), "created", r.identity_id))
            elif r.action == "failed":
                outcomes.append(ImportOutcome(str(body["external_id"]), "failed", reason=r.reason))
            elif r.action == "conflict":
                conflicts.append(body)
            else:
                unreported.append(body)
        lookups = []
        if conflicts:
            lookups.append(Lookup(tuple(conflicts), since))
        if unreported:
            lookups.append(Lookup(tuple(unreported), sent_at, _UNREPORTED))
        return AnswerDecision(tuple(outcomes), tuple(lookups))
    verdict = batch_verdict(answer, size=len(bodies))
    if verdict == "split":
        halves = split_batch(bodies)
        assert halves is not None  # batch_verdict splits more than one body only
        return AnswerDecision(resend=tuple(Resend(tuple(h), uncertain) for h in halves))
    if verdict == "lookup":
        return AnswerDecision(lookups=(Lookup(tuple(bodies), since),))
    if verdict == "fatal":
        return AnswerDecision(fatal=answer)
    if may_have_committed(answer):
        # Ory may have created some of them before the answer was lost: ask.
        return AnswerDecision(lookups=(Lookup(tuple(bodies), sent_at, str(answer)),))
    return AnswerDecision(
        tuple(ImportOutcome(str(b["external_id"]), "failed", reason=str(answer)) for b in bodies)
    )


def unreachable(error: OryError) -> OryError:
    """The one error that stops a run whose first request got no answer after its retries.

    .. versionadded:: 0.1.0
    """
    return OryError(
        None,
        f"{error.reason}, on the run's first request, after every retry: stopped. Check the "
        "Ory URL (--ory-url), that its name resolves, the network and TLS; the same command "
        "again carries on where this one stopped",
    )


# -- progress and results ------------------------------------------------------------------


@frozen
class ImportProgress:
    """Counts so far, handed to the progress callback after every batch.

    Attributes:
        created: Users created by this run.
        exists: Users that were already in Ory.
        failed: Users that failed (the run goes on).
        skipped: Users an earlier run already imported (found in the ledger).
        requests: Import requests sent (retries included).
        adopted: Users found after a lost answer that were in Ory before (not ours).
        uncertain: Users found after a lost answer whose creator cannot be told.

    .. versionadded:: 0.1.0
    """

    created: int = 0
    exists: int = 0
    failed: int = 0
    skipped: int = 0
    requests: int = 0
    adopted: int = 0
    uncertain: int = 0

    @property
    def done(self) -> int:
        """Users dealt with so far.

        .. versionadded:: 0.1.0
        """
        return (
            self.created + self.exists + self.adopted + self.uncertain + self.failed + self.skipped
        )


@frozen
class ImportResult:
    """The outcome of an import run.

    Attributes:
        created: Users created by this run.
        exists: Users already present in Ory (a re-run, or an earlier attempt).
        skipped: Users an earlier run recorded as imported (not sent again).
        failed: Every user that failed, with the reason.
        unreadable: Input records that could not be used.
        duplicates: External ids that appeared more than once in the input (only the
            first was imported).
        requests: Import requests sent (retries and splits included).
        adopted: Users found after a lost answer that were in Ory before this tool first
            sent them (``undo`` leaves them alone).
        uncertain: Users found after a lost answer of whom it cannot be told whether this
            tool created them (``undo`` leaves them alone unless asked).

    .. versionadded:: 0.1.0
    """

    created: int = 0
    exists: int = 0
    skipped: int = 0
    failed: tuple[ImportOutcome, ...] = ()
    unreadable: tuple[UnreadableRecord, ...] = ()
    duplicates: tuple[str, ...] = ()
    requests: int = 0
    adopted: int = 0
    uncertain: int = 0

    @property
    def ok(self) -> bool:
        """Whether every user is in Ory (created, present, or imported earlier).

        .. versionadded:: 0.1.0
        """
        return not self.failed and not self.unreadable
