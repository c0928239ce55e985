"""The one retry runner: a call made again as a pure decision says, over ``stamina``.

The decision is ``stamina``'s backoff hook (``on=``): ``False`` lets the exception through,
a number is the wait before the next attempt, and ``True`` the policy's backoff;
:func:`~auth0_ory_migrate._core._retry.retry_delay` (the one backoff computation of the
library) turns it into seconds. ``stamina`` counts the attempts, sleeps, reports each
scheduled retry to its instrumentation, and honours ``stamina.set_testing`` and
``stamina.set_active``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

import stamina

from .._core._retry import RetryPolicy, retry_delay


__all__ = ["OutOfTime", "call_with_retries"]

T = TypeVar("T")


class OutOfTime(Exception):
    """The next retry would have ended after the caller's time was up.

    Raised from the last failure (its ``__cause__``), which is also :attr:`error`.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__("the time for the retries is up")
        self.error = error


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    on: Callable[[Exception], bool | float],
    *,
    sleep: Callable[[float], None] | None = None,
    time_left: Callable[[], float] | None = None,
) -> T:
    """Call *call*, making it again after a failure for as long as *on* says.

    Args:
        call: What to call.
        policy: ``attempts`` (the first one included) and the backoff for ``True``.
        on: Reads the exception of a failed attempt: ``False`` lets it through, a number
            retries after that many seconds, ``True`` after the policy's backoff.
        sleep: Waits between attempts instead of ``stamina`` (inject a fake clock's sleep in
            tests; ``stamina.set_testing`` then changes the attempts only).
        time_left: Seconds left for the whole call; a retry whose wait would not end within
            them is not made.

    Raises:
        OutOfTime: A retry was due but its wait would have outlasted *time_left*.

    Any other exception is the last attempt's.
    """
    retries = 0
    pending: float | None = None
    out_of_time = False

    def hook(error: Exception) -> bool | float:
        nonlocal retries, pending, out_of_time
        wait = retry_delay(on(error), policy, retries, jitter=random.random())  # noqa: S311
        if wait is None:
            return False
        if time_left is not None and wait > time_left():
            out_of_time = True
            return False
        retries += 1
        if sleep is None:
            return wait
        pending = wait
        return 0.0

    try:
        for attempt in stamina.retry_context(on=hook, attempts=policy.attempts, timeout=None):
            with attempt:
                if sleep is not None and pending is not None:
                    sleep(pending)
                    pending = None
                return call()
    except Exception as e:
        if out_of_time:
            raise OutOfTime(e) from e
        raise
    raise AssertionError("unreachable")  # pragma: no cover
