"""When a failed call to Auth0 or Ory is made again, and after how long (pure).

One policy (:class:`RetryPolicy`), one decision (:func:`retry_wait`, in the shape of
``stamina``'s ``on=`` backoff hook) and one backoff computation (:func:`retry_delay`) for
every remote call of the library: the import into Ory and the export from Auth0.
:mod:`auth0_ory_migrate._runtime._retrying` carries them out over ``stamina``.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from typing import Protocol

from attrs import frozen

from ..exceptions import ConfigurationError


__all__ = ["Failure", "RetryPolicy", "rate_limit_wait", "retry_delay", "retry_wait"]

_HTTP_DATE_MIN_LEN = 16
_EPOCH_THRESHOLD = 1_000_000_000  # larger values of x-ratelimit-reset are Unix times


@frozen
class RetryPolicy:
    """How calls that failed for a passing reason are made again.

    The same policy drives the import into Ory (every request of the engine) and the export
    from Auth0 (lookups, the job's creation after a 429, status checks, downloads).

    Attributes:
        attempts: Attempts per call in all (the first one included). For the import, the
            users of a request that still fails are marked failed (the next run retries
            them).
        wait_initial: First backoff in seconds (5xx, 408, timeouts, connection errors, and a
            429 that does not say how long to wait).
        wait_max: Cap of the exponential backoff, in seconds.
        wait_exp_base: Growth of the backoff from one retry to the next.
        wait_jitter: Up to this many random seconds are added to each backoff (spreads the
            retries of the import's parallel requests; the export, one call at a time, uses
            none).
        rate_limit_jitter: Up to this many random seconds are added to the wait a 429 asks
            for.
        max_rate_limit_wait: Cap of the wait a 429 asks for (``Retry-After``,
            ``x-ratelimit-reset``), in seconds.
        request_timeout: Seconds to wait for Ory's answer to one request (the import; the
            export has :attr:`Auth0Exporter.request_timeout
            <auth0_ory_migrate.Auth0Exporter.request_timeout>`).
        clock_skew: Seconds of clock difference between this machine and Ory tolerated
            when deciding whether an identity found after an unanswered request was
            created by that request (the import only).

    .. versionadded:: 0.1.0
    """

    attempts: int = 8
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_exp_base: float = 2.0
    wait_jitter: float = 1.0
    rate_limit_jitter: float = 1.0
    max_rate_limit_wait: float = 300.0
    request_timeout: float = 120.0
    clock_skew: float = 300.0

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("RetryPolicy.attempts must be at least 1")


class Failure(Protocol):
    """What :func:`retry_wait` reads of a failed call.

    :class:`~auth0_ory_migrate.OryError` is one; the Auth0 adapter hands in the facts it
    read from the SDK's exception.

    .. versionadded:: 0.1.0
    """

    @property
    def status(self) -> int | None:
        """The HTTP status; None when no answer came (timeout, connection error)."""
        ...

    @property
    def headers(self) -> Mapping[str, str] | None:
        """The answer's headers, when any."""
        ...


def rate_limit_wait(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds a 429 answer asks the client to wait, or ``None`` when it does not say.

    ``Retry-After`` (seconds or an HTTP date) wins; otherwise ``x-ratelimit-reset``. Ory
    does not document the unit of the latter: a value above 10^9 is read as a Unix time
    (as Auth0 sends it), anything smaller as seconds from now.

    Args:
        headers: Response headers (any case).
        now: The current Unix time.

    .. versionadded:: 0.1.0
    """
    headers = {k.lower(): v for k, v in headers.items()}
    retry_after = headers.get("retry-after")
    if retry_after:
        value = retry_after.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            if len(value) >= _HTTP_DATE_MIN_LEN:
                try:
                    when = email.utils.parsedate_to_datetime(value)
                except (TypeError, ValueError):
                    when = None
                if when is not None and when.tzinfo is not None:
                    return max(0.0, when.timestamp() - now)
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            value_f = float(reset.strip())
        except ValueError:
            return None
        return max(0.0, value_f - now if value_f > _EPOCH_THRESHOLD else value_f)
    return None


def _transient(status: int | None) -> bool:
    """Whether the same request may well succeed later (501 and 505 never will)."""
    return status is None or status == 408 or (status >= 500 and status not in (501, 505))


def retry_wait(
    error: Failure,
    policy: RetryPolicy,
    *,
    now: float,
    jitter: float,
    size: int = 1,
    idempotent: bool = True,
) -> bool | float:
    """Decide whether a failed call is made again, and when.

    Meant as ``stamina``'s ``on=`` hook: ``False`` gives up, ``True`` retries after the
    policy's capped exponential backoff (:func:`retry_delay`), a number retries after
    exactly that many seconds.

    - 429: the server refused before doing anything, so even a call that is not
      idempotent is retried: after the wait ``Retry-After`` or ``x-ratelimit-reset`` asks
      for (capped at ``max_rate_limit_wait``) plus ``jitter * rate_limit_jitter``; after
      the exponential backoff when neither header is there.
    - A call that is not idempotent (creating an Auth0 export job) is retried after a 429
      only: a second try after anything else could do the work twice.
    - 504 on a request of more than one identity: no retry of the same request; Ory asks
      for smaller batches (:func:`~auth0_ory_migrate._core._importing.batch_verdict`
      splits it).
    - 408, 5xx (but 501/505), timeouts, connection errors: the exponential backoff.
    - Anything else (400, 401, 409, ...): no retry.

    Args:
        error: The failure.
        policy: The retry policy.
        now: The current Unix time.
        jitter: A random number in [0, 1).
        size: Identities in the failed request (Ory's batch import).
        idempotent: Whether making the call twice does no harm.

    .. versionadded:: 0.1.0
    """
    status = error.status
    if status == 429:
        wait = rate_limit_wait(error.headers or {}, now=now)
        if wait is None:
            return True
        return min(wait, policy.max_rate_limit_wait) + jitter * policy.rate_limit_jitter
    if not idempotent or (status == 504 and size > 1):
        return False
    return _transient(status)


def retry_delay(
    decision: bool | float, policy: RetryPolicy, retry: int, *, jitter: float
) -> float | None:
    """Seconds to wait before retry number *retry* (0-based), as *decision* says.

    The one backoff computation of the library.

    Args:
        decision: What :func:`retry_wait` (or another ``on=`` hook) said: ``False`` gives
            None (no retry); a number is the wait; ``True`` is the policy's capped
            exponential backoff, ``min(wait_max, wait_initial * wait_exp_base ** retry +
            jitter * wait_jitter)`` (the formula of ``stamina``'s own backoff).
        policy: The retry policy.
        retry: 0 before the first retry, 1 before the second...
        jitter: A random number in [0, 1).

    .. versionadded:: 0.1.0
    """
    if decision is False:
        return None
    if decision is not True:
        return max(0.0, float(decision))
    try:
        wait = policy.wait_initial * policy.wait_exp_base ** max(0, retry)
    except OverflowError:
        return policy.wait_max
    return max(0.0, min(policy.wait_max, wait + jitter * policy.wait_jitter))
