"""The pure decisions of the import: batching, retry timing, classification, bisection."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth0_ory_migrate import (
    FoundIdentity,
    ImportOutcome,
    ImportProgress,
    ImportResult,
    RetryPolicy,
)
from auth0_ory_migrate._core._importing import (
    MAX_BATCH_SIZE,
    MAX_PLAINTEXT_BATCH_SIZE,
    AnswerDecision,
    batch_limit,
    batch_verdict,
    clash_candidates,
    classify_items,
    decide_answer,
    has_plaintext_password,
    iter_batches,
    may_have_committed,
    resolve_conflict,
    split_batch,
)
from auth0_ory_migrate._core._ory import normalize_identifier
from auth0_ory_migrate._core._redact import redact
from auth0_ory_migrate._core._retry import rate_limit_wait, retry_wait
from auth0_ory_migrate.exceptions import ConfigurationError, OryError


BCRYPT = "$2b$10$0nfDrwOT.zJxjGWJfOhkxuaXk.OResX5NSyIrYnT5bstE7rgvTngq"
NOW = 1_700_000_000.0


def body(n: int, *, plaintext: bool = False) -> dict[str, Any]:
    config = {"password": "correct horse"} if plaintext else {"hashed_password": BCRYPT}
    return {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n}",
        "traits": {"email": f"u{n}@example.com"},
        "credentials": {"password": {"config": config}},
    }


# -- batching ------------------------------------------------------------------------------


def test_plaintext_password_is_detected() -> None:
    """Only a `password` in the password config counts as plaintext."""
    assert has_plaintext_password(body(1, plaintext=True))
    assert not has_plaintext_password(body(1))
    assert not has_plaintext_password({"credentials": {"password": {"config": {}}}})
    assert not has_plaintext_password({"credentials": None})
    assert not has_plaintext_password({})


def test_batch_limit_follows_ory_and_the_callers_wish() -> None:
    """1,000 by default, 200 with plaintext passwords, lower when asked, never higher."""
    assert batch_limit() == MAX_BATCH_SIZE == 1000
    assert batch_limit(plaintext=True) == MAX_PLAINTEXT_BATCH_SIZE == 200
    assert batch_limit(50) == 50
    assert batch_limit(500, plaintext=True) == 200
    assert batch_limit(5000) == 1000


def test_batch_size_below_one_is_a_configuration_error() -> None:
    """A batch size of 0 is refused with a clear error."""
    with pytest.raises(ConfigurationError, match="at least 1"):
        batch_limit(0)


def test_hashed_bodies_go_in_batches_of_1000() -> None:
    """2,500 hashed bodies make three requests: 1,000, 1,000 and 500."""
    sizes = [len(b) for b in iter_batches(body(i) for i in range(2500))]
    assert sizes == [1000, 1000, 500]


def test_a_plaintext_password_closes_a_large_batch_first() -> None:
    """A plaintext body never joins a batch of 200 or more; its batch stops at 200."""
    items = [body(i) for i in range(250)] + [body(250, plaintext=True)]
    items += [body(i) for i in range(251, 700)]
    batches = list(iter_batches(items))
    assert [len(b) for b in batches] == [250, 200, 250]
    assert has_plaintext_password(batches[1][0])


def test_batch_size_option_lowers_every_batch() -> None:
    """--batch-size 10 makes batches of 10."""
    assert [len(b) for b in iter_batches(range(25), batch_size=10, body=lambda i: {})] == [
        10,
        10,
        5,
    ]


@given(
    kinds=st.lists(st.booleans(), max_size=2500),
    batch_size=st.one_of(st.none(), st.integers(1, 1200)),
)
def test_batches_respect_the_limits_and_keep_every_body_in_order(
    kinds: list[bool], batch_size: int | None
) -> None:
    """Any mix of bodies: order kept, nothing lost, every batch within its limit."""
    items = [body(i, plaintext=p) for i, p in enumerate(kinds)]
    batches = list(iter_batches(items, batch_size=batch_size))
    assert [b for batch in batches for b in batch] == items
    for batch in batches:
        assert batch
        plaintext = any(has_plaintext_password(b) for b in batch)
        assert len(batch) <= batch_limit(batch_size, plaintext=plaintext)


def test_split_halves_a_batch_and_stops_at_one() -> None:
    """A rejected batch is halved; a single body cannot be split."""
    assert split_batch([1, 2, 3, 4, 5]) == ([1, 2], [3, 4, 5])
    assert split_batch([1]) is None
    assert split_batch([]) is None


@given(n=st.integers(1, 300), bad=st.sets(st.integers(0, 299), max_size=5))
def test_bisection_isolates_exactly_the_bad_bodies(n: int, bad: set[int]) -> None:
    """Splitting rejected batches imports everyone else and isolates each bad body."""
    bad = {b for b in bad if b < n}
    queue = [list(range(n))]
    imported: list[int] = []
    rejected: list[int] = []
    requests = 0
    while queue:
        batch = queue.pop()
        requests += 1
        if not bad.intersection(batch):
            imported.extend(batch)
            continue
        halves = split_batch(batch)
        if halves is None:
            rejected.extend(batch)
        else:
            queue.extend(halves)
    assert sorted(imported) == sorted(set(range(n)) - bad)
    assert sorted(rejected) == sorted(bad)
    assert requests <= 1 + 2 * len(bad) * max(1, n.bit_length())


# -- retry timing --------------------------------------------------------------------------


def test_retry_after_seconds_win() -> None:
    """Retry-After in seconds is taken as is, before x-ratelimit-reset."""
    headers = {"retry-after": "7", "x-ratelimit-reset": str(int(NOW) + 60)}
    assert rate_limit_wait(headers, now=NOW) == 7.0


def test_retry_after_http_date() -> None:
    """Retry-After as an HTTP date is a wait until then."""
    date = email.utils.formatdate(NOW + 12, usegmt=True)
    assert rate_limit_wait({"retry-after": date}, now=NOW) == pytest.approx(12.0)


def test_ratelimit_reset_as_unix_time() -> None:
    """x-ratelimit-reset above 10^9 is a Unix time: wait until then (never negative)."""
    assert rate_limit_wait({"x-ratelimit-reset": str(int(NOW) + 3)}, now=NOW) == 3.0
    assert rate_limit_wait({"x-ratelimit-reset": str(int(NOW) - 3)}, now=NOW) == 0.0


def test_ratelimit_reset_as_seconds() -> None:
    """A small x-ratelimit-reset is read as seconds from now (Ory does not document it)."""
    assert rate_limit_wait({"x-ratelimit-reset": "4"}, now=NOW) == 4.0


def test_no_or_unreadable_rate_limit_headers() -> None:
    """Without a usable hint there is no wait to tell."""
    assert rate_limit_wait({}, now=NOW) is None
    assert rate_limit_wait({"x-ratelimit-reset": "soon"}, now=NOW) is None
    assert rate_limit_wait({"retry-after": "later"}, now=NOW) is None


POLICY = RetryPolicy(rate_limit_jitter=2.0, max_rate_limit_wait=30.0)


def test_429_waits_as_told_plus_jitter() -> None:
    """A 429 with a reset waits that long plus jitter times rate_limit_jitter."""
    error = OryError(429, "slow down", headers={"X-RateLimit-Reset": str(int(NOW) + 5)})
    assert retry_wait(error, POLICY, size=10, now=NOW, jitter=0.5) == pytest.approx(6.0)


def test_429_wait_is_capped() -> None:
    """A server asking for an hour gets max_rate_limit_wait (plus jitter)."""
    error = OryError(429, "slow down", headers={"Retry-After": "3600"})
    assert retry_wait(error, POLICY, size=1, now=NOW, jitter=0.0) == 30.0


def test_429_without_hint_backs_off_exponentially() -> None:
    """A 429 without headers uses the capped exponential backoff (True)."""
    assert retry_wait(OryError(429, "slow down"), POLICY, size=1, now=NOW, jitter=0.3) is True


@pytest.mark.parametrize("status", [None, 408, 500, 502, 503])
def test_server_errors_and_lost_answers_are_retried(status: int | None) -> None:
    """5xx, 408, timeouts and connection errors back off exponentially."""
    error = OryError(status, "oops", outcome_unknown=status is None)
    assert retry_wait(error, POLICY, size=100, now=NOW, jitter=0.0) is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 501])
def test_client_errors_are_not_retried(status: int) -> None:
    """Errors that would happen again are not retried as they are."""
    assert retry_wait(OryError(status, "no"), POLICY, size=100, now=NOW, jitter=0.0) is False


def test_504_asks_for_smaller_batches() -> None:
    """A 504 is not resent as is when the batch can be split; a single body is retried."""
    error = OryError(504, "timeout")
    assert retry_wait(error, POLICY, size=2, now=NOW, jitter=0.0) is False
    assert batch_verdict(error, size=2) == "split"
    assert retry_wait(error, POLICY, size=1, now=NOW, jitter=0.0) is True


def test_retry_policy_needs_one_attempt() -> None:
    """A policy without attempts is refused."""
    with pytest.raises(ConfigurationError):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("status", "size", "verdict"),
    [
        (400, 10, "split"),
        (413, 10, "split"),
        (400, 1, "fail"),
        (409, 10, "lookup"),
        (401, 10, "fatal"),
        (403, 10, "fatal"),
        (404, 10, "fatal"),
        (500, 10, "fail"),
        (429, 10, "fail"),
        (None, 10, "fail"),
    ],
)
def test_batch_verdicts(status: int | None, size: int, verdict: str) -> None:
    """What happens to a request that failed for good."""
    assert batch_verdict(OryError(status, "x"), size=size) == verdict


# -- per-item results ----------------------------------------------------------------------


PIDS = ["p0", "p1", "p2"]
Item = dict[str, Any]


def test_items_are_matched_on_patch_id() -> None:
    """Results in any order land on the right identity; 409 is a conflict, by its code."""
    items: list[Item] = [
        {"action": "error", "patch_id": "p2", "error": {"code": 409, "message": "exists"}},
        {"action": "create", "identity": "id-0", "patch_id": "p0"},
        {
            "action": "error",
            "patch_id": "p1",
            "error": {"code": 400, "reason": "traits invalid", "message": "bad"},
        },
    ]
    results = classify_items(PIDS, items)
    assert [(r.index, r.action) for r in results] == [
        (0, "created"),
        (1, "failed"),
        (2, "conflict"),
    ]
    assert results[0].identity_id == "id-0"
    assert results[1].reason == "400: traits invalid"


def test_items_without_patch_id_match_by_position() -> None:
    """An answer without patch ids is read in request order."""
    items = [{"action": "create", "identity": f"id-{i}"} for i in range(3)]
    assert [r.identity_id for r in classify_items(PIDS, items)] == ["id-0", "id-1", "id-2"]


def test_unreported_items_are_missing() -> None:
    """An identity the answer says nothing about is `missing` (it will be looked up)."""
    items = [
        {"action": "create", "identity": "id-0", "patch_id": "p0"},
        {"action": "create", "identity": "id-x", "patch_id": "not-ours"},
    ]
    assert [r.action for r in classify_items(PIDS, items)] == ["created", "missing", "missing"]


def test_item_error_reasons_are_redacted() -> None:
    """A server echoing a hash in its reason does not leak it."""
    items = [{"action": "error", "patch_id": "p0", "error": {"code": 400, "reason": BCRYPT}}]
    result = classify_items(["p0"], items)[0]
    assert result.reason is not None
    assert BCRYPT not in result.reason


def test_nested_error_envelope_is_read() -> None:
    """An item error wrapped in {"error": {...}} is unwrapped."""
    items = [{"action": "error", "patch_id": "p0", "error": {"error": {"code": 409}}}]
    assert classify_items(["p0"], items)[0].action == "conflict"


def test_conflict_with_the_same_external_id_is_exists() -> None:
    """A 409 with no lost answer before: the identity carrying the external id was there."""
    found = FoundIdentity("id-1", created_at=NOW - 86_400)
    outcome = resolve_conflict("auth0|1", found, first_attempt=None)
    assert outcome == ImportOutcome("auth0|1", "exists", "id-1")


def test_found_after_a_lost_answer_and_older_than_the_attempt_is_adopted() -> None:
    """Lost answer, found, created well before our first attempt: adopted, not created."""
    found = FoundIdentity("id-1", created_at=NOW - 86_400)
    outcome = resolve_conflict("auth0|1", found, first_attempt=NOW)
    assert outcome == ImportOutcome("auth0|1", "adopted", "id-1")


def test_found_after_a_lost_answer_just_before_the_attempt_is_uncertain() -> None:
    """Created 20 s before our first attempt (within the clock skew): uncertain, not created."""
    found = FoundIdentity("id-1", created_at=NOW - 20)
    assert resolve_conflict("auth0|1", found, first_attempt=NOW).status == "uncertain"
    tight = resolve_conflict("auth0|1", found, first_attempt=NOW, clock_skew=5)
    assert tight.status == "adopted"


def test_identity_created_by_our_unanswered_request_is_created() -> None:
    """Found, and created after our first attempt: our lost answer, so created."""
    found = FoundIdentity("id-1", created_at=NOW + 0.2)
    assert resolve_conflict("auth0|1", found, first_attempt=NOW).status == "created"


def test_without_creation_time_or_attempt_it_is_not_created() -> None:
    """No created_at after a lost answer: uncertain; no lost answer: exists (undo leaves both)."""
    assert resolve_conflict("a", FoundIdentity("i"), first_attempt=NOW).status == "uncertain"
    assert resolve_conflict("a", FoundIdentity("i", NOW), first_attempt=None).status == "exists"


def test_clash_with_another_identity_fails_as_conflict() -> None:
    """No identity with the external id: a clash with someone else, named when known."""
    outcome = resolve_conflict(
        "auth0|1", None, first_attempt=NOW, clash="email a@x.com is used by identity 42"
    )
    assert outcome.status == "failed"
    assert outcome.reason == "conflict: email a@x.com is used by identity 42"
    generic = resolve_conflict("auth0|1", None, first_attempt=NOW)
    assert generic.reason is not None
    assert generic.reason.startswith("conflict: ")


def test_clash_candidates() -> None:
    """The email (normalised) and every social login are candidates."""
    b = {
        "traits": {"email": "  Ada@Example.COM "},
        "credentials": {
            "oidc": {
                "config": {
                    "providers": [
                        {"provider": "google", "subject": "1043"},
                        {"provider": "github", "subject": "7"},
                    ]
                }
            }
        },
    }
    assert clash_candidates(b) == [
        ("email", "ada@example.com"),
        ("google login", "google:1043"),
        ("github login", "github:7"),
    ]
    assert clash_candidates({}) == []


def test_identifiers_are_normalised_like_ory() -> None:
    """Trimmed, NFKC, lower-cased."""
    assert normalize_identifier(" \uff21da@X.com ") == "ada@x.com"


# -- what an answer means (decide_answer) ---------------------------------------------------


FOUR = [body(n) for n in range(4)]
FOUR_PIDS = ["p0", "p1", "p2", "p3"]
UNREPORTED = "Ory's answer did not say what became of it"


def _ids(bodies: Any) -> list[str]:
    return [b["external_id"] for b in bodies]


def _summary(decision: AnswerDecision) -> dict[str, Any]:
    """The decision with external ids instead of bodies, only what it holds."""
    found: dict[str, Any] = {}
    if decision.outcomes:
        found["record"] = [
            (o.external_id, o.status, o.identity_id, o.reason) for o in decision.outcomes
        ]
    if decision.lookups:
        found["look_up"] = [(_ids(x.bodies), x.since, x.missing_reason) for x in decision.lookups]
    if decision.resend:
        found["resend"] = [(_ids(r.bodies), r.uncertain) for r in decision.resend]
    if decision.fatal is not None:
        found["fatal"] = decision.fatal.status
    return found


ALL_FOUR = ["auth0|0", "auth0|1", "auth0|2", "auth0|3"]
UNKNOWN = OryError(None, "timed out", outcome_unknown=True)
REFUSED = OryError(None, "cannot connect")


@pytest.mark.parametrize(
    ("error", "size", "uncertain", "expected"),
    [
        (
            OryError(400, "bad"),
            4,
            False,
            {"resend": [(ALL_FOUR[:2], False), (ALL_FOUR[2:], False)]},
        ),
        (OryError(413, "big"), 4, True, {"resend": [(ALL_FOUR[:2], True), (ALL_FOUR[2:], True)]}),
        (
            OryError(504, "slow"),
            3,
            False,
            {"resend": [(ALL_FOUR[:1], False), (ALL_FOUR[1:3], False)]},
        ),
        (
            OryError(400, "bad"),
            1,
            False,
            {"record": [("auth0|0", "failed", None, "Ory answered 400: bad")]},
        ),
        (OryError(409, "all taken"), 2, False, {"look_up": [(ALL_FOUR[:2], None, None)]}),
        (OryError(409, "all taken"), 2, True, {"look_up": [(ALL_FOUR[:2], NOW, None)]}),
        (OryError(401, "key"), 4, False, {"fatal": 401}),
        (OryError(403, "key"), 4, True, {"fatal": 403}),
        (OryError(404, "url"), 4, False, {"fatal": 404}),
        (
            OryError(500, "oops"),
            2,
            False,
            {"look_up": [(ALL_FOUR[:2], NOW, "Ory answered 500: oops")]},
        ),
        (
            OryError(504, "slow"),
            1,
            False,
            {"look_up": [(ALL_FOUR[:1], NOW, "Ory answered 504: slow")]},
        ),
        (UNKNOWN, 2, False, {"look_up": [(ALL_FOUR[:2], NOW, "no answer from Ory: timed out")]}),
        (
            REFUSED,
            2,
            False,
            {
                "record": [
                    (i, "failed", None, "no answer from Ory: cannot connect") for i in ALL_FOUR[:2]
                ]
            },
        ),
        (
            OryError(429, "slow down"),
            2,
            True,
            {"record": [(i, "failed", None, "Ory answered 429: slow down") for i in ALL_FOUR[:2]]},
        ),
    ],
)
def test_failed_requests(error: OryError, size: int, uncertain: bool, expected: Any) -> None:
    """A request that failed for good: split, look up, stop, or fail its users."""
    decision = decide_answer(FOUR[:size], FOUR_PIDS[:size], error, sent_at=NOW, uncertain=uncertain)
    assert _summary(decision) == expected


ANSWER: list[Item] = [
    {"action": "create", "identity": "id-0", "patch_id": "p0"},
    {"action": "error", "patch_id": "p1", "error": {"code": 400, "reason": "traits invalid"}},
    {"action": "error", "patch_id": "p2", "error": {"code": 409, "reason": "exists"}},
]


@pytest.mark.parametrize(
    ("items", "uncertain", "expected"),
    [
        (
            ANSWER,
            False,
            {
                "record": [
                    ("auth0|0", "created", "id-0", None),
                    ("auth0|1", "failed", None, "400: traits invalid"),
                ],
                "look_up": [(["auth0|2"], None, None), (["auth0|3"], NOW, UNREPORTED)],
            },
        ),
        (
            ANSWER,
            True,
            {
                "record": [
                    ("auth0|0", "created", "id-0", None),
                    ("auth0|1", "failed", None, "400: traits invalid"),
                ],
                "look_up": [(["auth0|2"], NOW, None), (["auth0|3"], NOW, UNREPORTED)],
            },
        ),
        ([], False, {"look_up": [(ALL_FOUR, NOW, UNREPORTED)]}),
        (
            [{"action": "create", "identity": f"id-{i}", "patch_id": f"p{i}"} for i in range(4)],
            False,
            {"record": [(f"auth0|{i}", "created", f"id-{i}", None) for i in range(4)]},
        ),
    ],
)
def test_answered_requests(items: list[Item], uncertain: bool, expected: Any) -> None:
    """Per-item answers: created and failed are recorded; 409s and unreported items looked up."""
    decision = decide_answer(FOUR, FOUR_PIDS, items, sent_at=NOW, uncertain=uncertain)
    assert _summary(decision) == expected


def test_decisions_never_show_the_bodies() -> None:
    """Lookups and halves hold the bodies (and their hashes) out of their repr."""
    decision = decide_answer(FOUR, FOUR_PIDS, OryError(400, "bad"), sent_at=NOW)
    lookups = decide_answer(FOUR, FOUR_PIDS, [], sent_at=NOW)
    assert BCRYPT not in repr(decision)
    assert BCRYPT not in repr(lookups)


@pytest.mark.parametrize(
    ("error", "committed"),
    [
        (OryError(500, "x"), True),
        (OryError(504, "x"), True),
        (UNKNOWN, True),
        (REFUSED, False),
        (OryError(429, "x"), False),
        (OryError(400, "x"), False),
    ],
)
def test_may_have_committed(error: OryError, committed: bool) -> None:
    """A 5xx or a lost answer may hide a commit; a refusal or no connection does not."""
    assert may_have_committed(error) is committed


# -- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        BCRYPT,
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$pbkdf2-sha256$i=1000,l=32$c2FsdA$aGFzaA",
        "{SSHA}aGFzaHNhbHQ=",
        "ory_pat_AbCdEf123",
        "Bearer abc.def",
    ],
)
def test_redact_masks_hashes_and_keys(secret: str) -> None:
    """Hashes and keys in server texts are masked."""
    text = redact(f"cannot use {secret} here")
    assert secret not in text
    assert "[redacted]" in text


def test_ory_error_message_is_safe() -> None:
    """An OryError says what happened, lower-cases headers and never holds a hash."""
    error = OryError(400, f"bad hash {BCRYPT}", headers={"X-RateLimit-Reset": "5"})
    assert str(error).startswith("Ory answered 400: bad hash ")
    assert BCRYPT not in str(error)
    assert error.headers == {"x-ratelimit-reset": "5"}
    assert str(OryError(None, "timed out", outcome_unknown=True)) == "no answer from Ory: timed out"


def test_result_and_progress_summaries() -> None:
    """`ok` means nothing failed and nothing was unreadable; done adds everything up."""
    assert ImportResult(created=3, exists=1).ok
    assert not ImportResult(failed=(ImportOutcome("a", "failed", reason="x"),)).ok
    assert ImportProgress(created=1, exists=2, failed=3, skipped=4).done == 10
    assert ImportOutcome("a", "created", "i").to_dict() == {
        "external_id": "a",
        "status": "created",
        "identity_id": "i",
        "reason": None,
    }
