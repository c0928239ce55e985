"""Every decision of the import into Ory, as pure functions (no SDK, no I/O).

- :func:`iter_batches`: how identity bodies are grouped into ``PATCH /admin/identities``
  requests (Ory's limits: 1,000 per request, 200 when one carries a plaintext password).
- :func:`retry_wait`: whether and how long to wait before sending a failed request again
  (429: as the server says, plus jitter; 5xx, timeouts, connection errors: capped
  exponential backoff with jitter).
- :func:`batch_verdict`: what to do with a request that finally failed (split it, look its
  users up, give up on them, or stop the run).
- :func:`classify_items` and :func:`resolve_conflict`: what each per-item result means for
  its user.
- :func:`split_batch`: the bisection that isolates the bodies that make Ory reject a whole
  batch with 400.

The adapter (:mod:`auth0_ory_migrate._ory._admin`) and the engine
(:mod:`auth0_ory_migrate._runtime._engine`) only carry these decisions out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

from attrs import frozen

from ..exceptions import ConfigurationError, OryError
from ._records import UnreadableRecord
from ._redact import redact
from ._retry import rate_limit_wait


__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_PLAINTEXT_BATCH_SIZE",
    "BatchVerdict",
    "FoundIdentity",
    "ImportOutcome",
    "ImportProgress",
    "ImportResult",
    "ItemResult",
    "RetryPolicy",
    "batch_limit",
    "batch_verdict",
    "clash_candidates",
    "classify_items",
    "has_plaintext_password",
    "iter_batches",
    "normalise_identifier",
    "rate_limit_wait",
    "resolve_conflict",
    "retry_wait",
    "split_batch",
]

T = TypeVar("T")

#: Ory's limit of identities per ``PATCH /admin/identities`` request.
MAX_BATCH_SIZE = 1000
#: Ory's limit when any identity of the request carries a plaintext password.
MAX_PLAINTEXT_BATCH_SIZE = 200

#: What became of one user.
Status = Literal["created", "exists", "failed"]


@frozen
class RetryPolicy:
    """How requests that failed for a passing reason are sent again.

    Attributes:
        attempts: Attempts per request in all (the first one included) before its users
            are marked failed (they are retried by the next run).
        wait_initial: First backoff in seconds (5xx, timeouts, connection errors, and 429
            without a hint).
        wait_max: Cap of the exponential backoff, in seconds.
        wait_jitter: Up to this many random seconds are added to each backoff.
        rate_limit_jitter: Up to this many random seconds are added to the wait a 429
            asks for.
        max_rate_limit_wait: Cap of the wait a 429 asks for, in seconds.
        request_timeout: Seconds to wait for Ory's answer to one request.
        clock_skew: Seconds of clock difference between this machine and Ory tolerated
            when deciding whether an identity found after an unanswered request was
            created by that request (see :func:`resolve_conflict`).

    .. versionadded:: 0.1.0
    """

    attempts: int = 8
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 1.0
    rate_limit_jitter: float = 1.0
    max_rate_limit_wait: float = 300.0
    request_timeout: float = 120.0
    clock_skew: float = 300.0

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("RetryPolicy.attempts must be at least 1")


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


# -- retries ---------------------------------------------------------------------------------


def _retryable_status(status: int | None) -> bool:
    return status is None or status in (408, 429) or (status >= 500 and status not in (501, 505))


def retry_wait(
    error: OryError,
    policy: RetryPolicy,
    *,
    size: int,
    now: float,
    jitter: float,
) -> bool | float:
    """Decide whether a failed request is sent again, and when.

    Meant as ``stamina``'s ``on=`` hook: ``False`` gives up, ``True`` retries after the
    policy's capped exponential backoff with jitter, a number retries after exactly that
    many seconds.

    - 429: the wait from ``Retry-After`` or ``x-ratelimit-reset`` (capped at
      ``max_rate_limit_wait``) plus ``jitter * rate_limit_jitter``; the exponential
      backoff when neither header is there.
    - 408, 5xx (but 501/505), timeouts, connection errors: the exponential backoff.
    - 504 on a request of more than one identity: no retry of the same request; Ory
      asks for smaller batches (:func:`batch_verdict` splits it).
    - Anything else (400, 401, 409, ...): no retry.

    Args:
        error: The failure.
        policy: The retry policy.
        size: Identities in the failed request.
        now: The current Unix time.
        jitter: A random number in [0, 1).

    .. versionadded:: 0.1.0
    """
    status = error.status
    if status == 504 and size > 1:
        return False
    if not _retryable_status(status):
        return False
    if status == 429:
        wait = rate_limit_wait(error.headers, now=now)
        if wait is not None:
            return min(wait, policy.max_rate_limit_wait) + jitter * policy.rate_limit_jitter
    return True


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


def _error_reason(error: Any) -> tuple[int | None, str]:
    if isinstance(error, Mapping) and isinstance(error.get("error"), Mapping):
        error = error["error"]
    if not isinstance(error, Mapping):
        return None, "Ory reported an error without details"
    code = error.get("code")
    code = code if isinstance(code, int) else None
    parts = [str(error[k]) for k in ("reason", "message") if error.get(k)]
    text = parts[0] if parts else str(error.get("status") or "error")
    return code, redact(text)


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
        code, reason = _error_reason(item.get("error"))
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
        status: ``created`` (by this run), ``exists`` (was there before), ``failed``.
        identity_id: The Ory identity id (created or exists).
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

    An identity carrying the user's external id is that user: ``exists``. When it was
    created after this state's first attempt to send the user (within *clock_skew*), an
    earlier request of ours created it and its answer was lost: ``created`` (so that
    ``undo`` removes it too). When no identity has the external id, another identity holds
    the same email or social login: ``failed`` with reason ``conflict``.

    Args:
        external_id: The user's external id.
        found: What the lookup by external id found.
        first_attempt: When the user was first sent (Unix time), if known.
        clash: What clashed, when a lookup by credentials identifier found it.
        clock_skew: Tolerated clock difference with Ory, in seconds.

    .. versionadded:: 0.1.0
    """
    if found is not None:
        ours = (
            first_attempt is not None
            and found.created_at is not None
            and found.created_at >= first_attempt - clock_skew
        )
        return ImportOutcome(external_id, "created" if ours else "exists", found.identity_id)
    detail = clash or "another identity already has the same email, address or social login"
    return ImportOutcome(external_id, "failed", reason=f"conflict: {detail}")


def normalise_identifier(value: str) -> str:
    """Normalise an identifier as Ory does (trim, Unicode NFKC, lower-case).

    .. versionadded:: 0.1.0
    """
    return unicodedata.normalize("NFKC", value.strip()).lower()


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
                found.append((key, normalise_identifier(value)))
    credentials = body.get("credentials")
    oidc = credentials.get("oidc") if isinstance(credentials, Mapping) else None
    config = oidc.get("config") if isinstance(oidc, Mapping) else None
    providers = config.get("providers") if isinstance(config, Mapping) else None
    if isinstance(providers, list):
        for p in providers:
            if isinstance(p, Mapping) and p.get("provider") and p.get("subject"):
                found.append((f"{p['provider']} login", f"{p['provider']}:{p['subject']}"))
    return found


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

    .. versionadded:: 0.1.0
    """

    created: int = 0
    exists: int = 0
    failed: int = 0
    skipped: int = 0
    requests: int = 0

    @property
    def done(self) -> int:
        """Users dealt with so far.

        .. versionadded:: 0.1.0
        """
        return self.created + self.exists + self.failed + self.skipped


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

    .. versionadded:: 0.1.0
    """

    created: int = 0
    exists: int = 0
    skipped: int = 0
    failed: tuple[ImportOutcome, ...] = ()
    unreadable: tuple[UnreadableRecord, ...] = ()
    duplicates: tuple[str, ...] = ()
    requests: int = 0

    @property
    def ok(self) -> bool:
        """Whether every user is in Ory (created, present, or imported earlier).

        .. versionadded:: 0.1.0
        """
        return not self.failed and not self.unreadable
