"""One retry policy for Auth0 and Ory: the pure decision, the backoff, and the stamina runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina
from hypothesis import given
from hypothesis import strategies as st
from stamina.instrumentation import RetryDetails

from auth0_ory_migrate import RetryPolicy
from auth0_ory_migrate._core._export import EXPORT_RETRY, ApiFailure
from auth0_ory_migrate._core._retry import retry_delay, retry_wait
from auth0_ory_migrate._runtime._retrying import OutOfTime, call_with_retries
from auth0_ory_migrate.exceptions import OryError


NOW = 1_700_000_000.0
EXACT = RetryPolicy(attempts=4, wait_initial=0.5, wait_max=3.0, wait_jitter=0.0)


class Flaky:
    """Fails with the given errors in turn, then answers "ok"; counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Retried(Exception):
    """An error the tests' hooks retry."""


def always(error: Exception) -> bool | float:
    return isinstance(error, Retried)


# -- the decision --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, 408, 500, 502, 503, 504])
def test_idempotent_calls_retry_transient_failures(status: int | None) -> None:
    """Lost answers, 408 and 5xx are retried with the backoff when the call is idempotent."""
    failure = ApiFailure(status, None, "oops")
    assert retry_wait(failure, EXPORT_RETRY, now=NOW, jitter=0.0) is True


@pytest.mark.parametrize("status", [None, 408, 500, 502, 503, 504, 400, 401, 403, 404, 409])
def test_calls_that_are_not_idempotent_retry_only_a_429(status: int | None) -> None:
    """Creating an export job again after anything but a 429 could start a second job."""
    failure = ApiFailure(status, None, "oops")
    assert retry_wait(failure, EXPORT_RETRY, now=NOW, jitter=0.0, idempotent=False) is False
    limited = ApiFailure(429, None, "slow down", {"x-ratelimit-reset": str(int(NOW) + 5)})
    assert retry_wait(limited, EXPORT_RETRY, now=NOW, jitter=0.0, idempotent=False) == 5.0
    bare = ApiFailure(429, None, "slow down")
    assert retry_wait(bare, EXPORT_RETRY, now=NOW, jitter=0.0, idempotent=False) is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501, 505])
def test_permanent_failures_are_not_retried(status: int) -> None:
    """An answer that would come again (4xx, 501, 505) is not retried, for Auth0 as for Ory."""
    assert retry_wait(ApiFailure(status, None, "no"), EXPORT_RETRY, now=NOW, jitter=0.0) is False
    assert retry_wait(OryError(status, "no"), RetryPolicy(), now=NOW, jitter=0.0) is False


def test_rate_limit_waits_are_capped_and_jittered_by_the_policy() -> None:
    """A 429's hint is capped at max_rate_limit_wait; rate_limit_jitter adds up to its value."""
    failure = ApiFailure(429, None, "slow down", {"Retry-After": "3600"})
    assert retry_wait(failure, EXPORT_RETRY, now=NOW, jitter=0.9) == 60.0
    policy = RetryPolicy(max_rate_limit_wait=30.0, rate_limit_jitter=2.0)
    assert retry_wait(failure, policy, now=NOW, jitter=0.5) == 31.0


def test_the_export_default_has_no_jitter() -> None:
    """The exporter's calls go one at a time: its default policy waits exactly."""
    assert (EXPORT_RETRY.wait_jitter, EXPORT_RETRY.rate_limit_jitter) == (0.0, 0.0)
    assert (EXPORT_RETRY.wait_max, EXPORT_RETRY.max_rate_limit_wait) == (60.0, 60.0)
    assert EXPORT_RETRY.attempts == RetryPolicy().attempts


# -- the backoff -----------------------------------------------------------------------------------


def test_retry_delay_follows_the_decision() -> None:
    """False is no retry, a number is that wait, True the capped exponential backoff."""
    assert retry_delay(False, EXACT, 0, jitter=0.5) is None
    assert retry_delay(7.5, EXACT, 3, jitter=0.5) == 7.5
    assert [retry_delay(True, EXACT, n, jitter=0.0) for n in range(5)] == [
        0.5,
        1.0,
        2.0,
        3.0,
        3.0,
    ]
    assert retry_delay(True, EXACT, 10_000, jitter=0.0) == 3.0


@given(
    retry=st.integers(0, 2000),
    jitter=st.floats(0, 1, exclude_max=True),
    initial=st.floats(0, 10),
    base=st.floats(1, 10),
    cap=st.floats(0, 100),
    spread=st.floats(0, 5),
)
def test_backoff_stays_within_its_bounds(
    *, retry: int, jitter: float, initial: float, base: float, cap: float, spread: float
) -> None:
    """Whatever the policy, the backoff is between 0 and wait_max."""
    policy = RetryPolicy(wait_initial=initial, wait_exp_base=base, wait_max=cap, wait_jitter=spread)
    wait = retry_delay(True, policy, retry, jitter=jitter)
    assert wait is not None
    assert 0.0 <= wait <= cap


# -- the runner ------------------------------------------------------------------------------------


@pytest.fixture
def slept() -> list[float]:
    return []


def test_injected_sleep_gets_the_exact_waits(slept: list[float]) -> None:
    """With a sleep injected, every wait goes through it, before the next attempt only."""
    flaky = Flaky(Retried(), Retried(), Retried())
    assert call_with_retries(flaky, EXACT, always, sleep=slept.append) == "ok"
    assert (flaky.calls, slept) == (4, [0.5, 1.0, 2.0])


def test_attempts_are_the_policy_s(slept: list[float]) -> None:
    """After policy.attempts failures the last error goes through, with no wait after it."""
    flaky = Flaky(*(Retried(f"try {n}") for n in range(10)))
    with pytest.raises(Retried, match="try 3"):
        call_with_retries(flaky, EXACT, always, sleep=slept.append)
    assert (flaky.calls, slept) == (4, [0.5, 1.0, 2.0])


def test_a_number_from_the_hook_is_the_wait(slept: list[float]) -> None:
    """A hook's number (a 429's hint) is waited as is, zero included."""
    waits = iter([7.0, 0.0])
    flaky = Flaky(Retried(), Retried())
    call_with_retries(flaky, EXACT, lambda _e: next(waits), sleep=slept.append)
    assert slept == [7.0, 0.0]


def test_what_the_hook_refuses_goes_through_at_once(slept: list[float]) -> None:
    """An exception the hook does not retry is raised on the first attempt."""
    flaky = Flaky(ValueError("permanent"))
    with pytest.raises(ValueError, match="permanent"):
        call_with_retries(flaky, EXACT, always, sleep=slept.append)
    assert (flaky.calls, slept) == (1, [])


def test_a_wait_past_the_time_left_is_out_of_time(slept: list[float]) -> None:
    """A retry whose wait would outlast time_left is not made: OutOfTime, from the failure."""
    flaky = Flaky(Retried("first"), Retried("second"))
    with pytest.raises(OutOfTime) as caught:
        call_with_retries(flaky, EXACT, always, sleep=slept.append, time_left=lambda: 0.75)
    assert (flaky.calls, slept) == (2, [0.5])
    assert isinstance(caught.value.error, Retried)
    assert caught.value.__cause__ is caught.value.error
    assert str(caught.value.error) == "second"


@pytest.fixture
def retry_log() -> Iterator[list[RetryDetails]]:
    """The retries stamina's instrumentation is told about."""
    seen: list[RetryDetails] = []

    def record(details: RetryDetails) -> None:
        seen.append(details)

    stamina.instrumentation.set_on_retry_hooks([record])
    yield seen
    stamina.instrumentation.set_on_retry_hooks(None)


def test_without_injected_sleep_stamina_sleeps_and_reports(
    retry_log: list[RetryDetails],
) -> None:
    """Stamina itself waits the computed backoff and tells its instrumentation how long."""
    policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)
    flaky = Flaky(Retried(), Retried())
    assert call_with_retries(flaky, policy, always) == "ok"
    assert [d.wait_for for d in retry_log] == pytest.approx([0.001, 0.002])
    assert [type(d.caused_by) for d in retry_log] == [Retried, Retried]


def test_stamina_test_mode_is_honoured() -> None:
    """stamina.set_testing caps the attempts and zeroes the waits of the runner, too."""
    slow = RetryPolicy(attempts=5, wait_initial=60.0, wait_max=60.0, wait_jitter=0.0)
    with stamina.set_testing(True, attempts=2):
        flaky = Flaky(Retried(), Retried())
        with pytest.raises(Retried):
            call_with_retries(flaky, slow, always)
    assert flaky.calls == 2
