"""When a rate-limited (429) answer asks to be retried (pure; shared by both adapters)."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping


__all__ = ["rate_limit_wait"]

_HTTP_DATE_MIN_LEN = 16
_EPOCH_THRESHOLD = 1_000_000_000  # larger values of x-ratelimit-reset are Unix times


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
