"""The Ory adapter and the import engine, through the real ory-client over HTTP."""

from __future__ import annotations

import collections
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import ory_client
import pytest

from auth0_ory_migrate import (
    ImportProgress,
    Ledger,
    OryAdmin,
    PreparedBatch,
    RetryPolicy,
    UnreadableRecord,
    check_identities,
    import_identities,
    undo_import,
    verify_identities,
)
from auth0_ory_migrate._core._importing import classify_items
from auth0_ory_migrate._core._ory import next_page_token
from auth0_ory_migrate._core._retry import rate_limit_wait
from auth0_ory_migrate._ory._admin import body_problem
from auth0_ory_migrate.exceptions import ConfigurationError, OryError
from auth0_ory_migrate.testing import OryAdminServer, OryFaults
from auth0_ory_migrate.typing import BatchAnswer


KEY = "ory_pat_test_key_0123456789"
BCRYPT = "$2b$10$0nfDrwOT.zJxjGWJfOhkxuaXk.OResX5NSyIrYnT5bstE7rgvTngq"
FAST = RetryPolicy(
    attempts=30,
    wait_initial=0.001,
    wait_max=0.005,
    wait_jitter=0.001,
    rate_limit_jitter=0.001,
    max_rate_limit_wait=0.005,
    request_timeout=10.0,
)


@pytest.fixture
def server() -> Iterator[OryAdminServer]:
    with OryAdminServer(api_key=KEY) as s:
        yield s


@pytest.fixture
def ory(server: OryAdminServer) -> Iterator[OryAdmin]:
    with OryAdmin.from_url(server.url, KEY, request_timeout=10.0) as admin:
        yield admin


def body(n: int, **extra: Any) -> dict[str, Any]:
    email = extra.pop("email", f"user{n}@example.com")
    b: dict[str, Any] = {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n:06d}",
        "traits": {"email": email},
        "verifiable_addresses": [
            {"value": email, "verified": True, "via": "email", "status": "completed"}
        ],
        "recovery_addresses": [{"value": email, "via": "email"}],
        "metadata_admin": {"auth0": {"user_id": f"auth0|{n:06d}"}},
        "credentials": {"password": {"config": {"hashed_password": BCRYPT}}},
    }
    b.update(extra)
    return b


def bodies(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [body(i) for i in range(start, start + n)]


def assert_each_once(server: OryAdminServer, expected: list[dict[str, Any]]) -> None:
    counts = collections.Counter(i.external_id for i in server.identities())
    assert set(counts) == {b["external_id"] for b in expected}
    assert max(counts.values()) == 1


# -- the adapter ---------------------------------------------------------------------------


def test_key_never_shows(server: OryAdminServer, ory: OryAdmin) -> None:
    """The API key is in no repr, not even of a prepared request."""
    prepared = ory.prepare_batch([body(1)])
    assert KEY not in repr(ory)
    assert KEY not in repr(prepared)
    assert repr(ory) == f"OryAdmin(url={server.url!r})"


def test_bad_url_is_a_configuration_error() -> None:
    """Only http(s) URLs are accepted."""
    with pytest.raises(ConfigurationError, match=r"projects\.oryapis\.com"):
        OryAdmin.from_url("example.com")


def test_batch_sends_exactly_our_bodies(server: OryAdminServer, ory: OryAdmin) -> None:
    """No key added or dropped: the strict server accepts and stores what we built."""
    b = body(
        1, credentials={"oidc": {"config": {"providers": [{"provider": "google", "subject": "1"}]}}}
    )
    b["metadata_public"] = {"locale": "en"}
    prepared = ory.prepare_batch([b])
    results = classify_items(prepared.patch_ids, ory.send_batch(prepared).read())
    assert [r.action for r in results] == ["created"]
    stored = server.identity_by_external_id(b["external_id"])
    assert stored is not None
    assert stored.id == results[0].identity_id
    assert stored.credentials == b["credentials"]
    assert stored.metadata_public == {"locale": "en"}
    assert stored.metadata_admin == b["metadata_admin"]


def test_callers_own_api_client(server: OryAdminServer) -> None:
    """A caller-built ApiClient (its own configuration and auth) is used as is."""
    config = ory_client.Configuration(host=server.url, access_token=KEY)
    admin = OryAdmin(ory_client.ApiClient(config))
    prepared = admin.prepare_batch([body(1)])
    admin.send_batch(prepared).read()
    assert admin.get_by_external_id("auth0|000001") is not None


def test_wrong_key_is_401_without_the_key(server: OryAdminServer) -> None:
    """A refused key becomes an OryError 401 whose message does not hold the key."""
    wrong = "ory_pat_wrong_0000"
    admin = OryAdmin.from_url(server.url, wrong)
    with pytest.raises(OryError) as info:
        admin.send_batch(admin.prepare_batch([body(1)]))
    assert info.value.status == 401
    assert wrong not in str(info.value)
    with pytest.raises(OryError, match="401"):
        admin.get_by_external_id("x")


def test_unknown_hash_rejects_the_whole_batch(server: OryAdminServer, ory: OryAdmin) -> None:
    """One unrecognised hash: 400 for the request, nothing imported."""
    bad = body(2, credentials={"password": {"config": {"hashed_password": "$foo$bar"}}})
    with pytest.raises(OryError) as info:
        ory.send_batch(ory.prepare_batch([body(1), bad]))
    assert info.value.status == 400
    assert "hash" in info.value.reason
    assert server.identities() == []


def test_per_item_conflicts(server: OryAdminServer, ory: OryAdmin) -> None:
    """A clash inside one batch is a per-item 409; the rest commit."""
    prepared = ory.prepare_batch([body(1), body(2, email="USER1@example.com")])
    items = ory.send_batch(prepared).read()
    assert [r.action for r in classify_items(prepared.patch_ids, items)] == [
        "created",
        "conflict",
    ]


def test_dropped_connection_is_an_unknown_outcome(server: OryAdminServer, ory: OryAdmin) -> None:
    """Commit then drop: no answer, outcome unknown, but the identity is there."""
    server.faults.drop_after_commit_next = 1
    with pytest.raises(OryError) as info:
        ory.send_batch(ory.prepare_batch([body(1)]))
    assert info.value.status is None
    assert info.value.outcome_unknown
    assert server.identity_by_external_id("auth0|000001") is not None


def test_429_carries_the_rate_limit_headers(server: OryAdminServer, ory: OryAdmin) -> None:
    """A 429 keeps x-ratelimit-* so the wait can be computed."""
    server.faults.rate_limit_every = 1
    server.faults.rate_limit_reset_after = 3
    with pytest.raises(OryError) as info:
        ory.get_by_external_id("x")
    assert info.value.status == 429
    wait = rate_limit_wait(info.value.headers, now=float(info.value.headers["x-ratelimit-reset"]))
    assert wait == 0.0
    assert "x-ratelimit-limit" in info.value.headers


def test_server_errors(server: OryAdminServer, ory: OryAdmin) -> None:
    """Injected 5xx answers become OryErrors with their status."""
    server.faults.fail_next = 3
    statuses = set()
    for _ in range(3):
        with pytest.raises(OryError) as info:
            ory.send_batch(ory.prepare_batch([body(1)]))
        statuses.add(info.value.status)
    assert statuses == {500, 502, 503}


def test_cannot_connect() -> None:
    """Nobody listening: an OryError without status (nothing was sent)."""
    with OryAdminServer() as gone:
        url = gone.url
    admin = OryAdmin.from_url(url)
    with pytest.raises(OryError) as info:
        admin.send_batch(admin.prepare_batch([body(1)]))
    assert info.value.status is None
    assert not info.value.outcome_unknown


def test_lookups(server: OryAdminServer, ory: OryAdmin) -> None:
    """By external id (with | and / in it) and by credential identifier."""
    stored = server.add_identity(body(1, external_id="samlp|corp/x|42"))
    found = ory.get_by_external_id("samlp|corp/x|42")
    assert found is not None
    assert found.identity_id == stored.id
    assert found.created_at == pytest.approx(stored.created_at.timestamp())
    assert ory.get_by_external_id("auth0|nobody") is None
    assert ory.find_by_identifier("USER1@example.com") == stored.id
    assert ory.find_by_identifier("nobody@example.com") is None


@pytest.mark.parametrize("absolute", [False, True])
def test_listing_follows_the_link_header(absolute: bool) -> None:
    """Pages follow Link rel=next, relative (as Ory writes it) or absolute."""
    with OryAdminServer(absolute_links=absolute) as s:
        for b in bodies(7):
            s.add_identity(b)
        admin = OryAdmin.from_url(s.url)
        page, token = admin.list_page(page_size=3)
        assert len(page) == 3
        assert token is not None
        listed = list(admin.iter_identities(page_size=3))
    assert sorted(r.external_id or "" for r in listed) == [b["external_id"] for b in bodies(7)]
    assert {r.email for r in listed} == {b["traits"]["email"] for b in bodies(7)}
    queries = [r.query for r in s.requests if r.method == "GET"]
    assert all("page_size=3" in q for q in queries)


def test_next_page_token_parsing() -> None:
    """Only rel=next counts; relative and absolute links both work."""
    header = (
        '</admin/identities?page_size=2>; rel="first",'
        '</admin/identities?page_size=2&page_token=abc>; rel="next"'
    )
    assert next_page_token(header) == "abc"
    assert next_page_token('<https://x.test/admin/identities?page_token=z9>; rel="next"') == "z9"
    assert next_page_token('</admin/identities?page_size=2>; rel="first"') is None
    assert next_page_token(None) is None


def test_delete(server: OryAdminServer, ory: OryAdmin) -> None:
    """Deleting answers whether the identity was there."""
    stored = server.add_identity(body(1))
    assert ory.delete_identity(stored.id) is True
    assert ory.delete_identity(stored.id) is False
    assert server.identities() == []


def test_body_problems_are_found_client_side() -> None:
    """Unknown keys (nested too), wrong types, bad hashes; no value repeated."""
    assert body_problem(body(1)) is None
    nested = body(1, credentials={"password": {"config": {"hashed_password": BCRYPT, "salt": "x"}}})
    assert body_problem(nested) == (
        "unknown key(s) Ory would reject: credentials.password.config.salt"
    )
    assert body_problem({**body(1), "nickname": "x"}) == "unknown key(s) Ory would reject: nickname"
    problem = body_problem({**body(1), "state": "blocked"})
    assert problem is not None
    assert problem.startswith("state:")
    bad_hash = body(1, credentials={"password": {"config": {"hashed_password": "$2b$99$short"}}})
    problem = body_problem(bad_hash)
    assert problem is not None
    assert "hashed_password" in problem
    assert "$2b$99$short" not in problem


# -- the import engine ---------------------------------------------------------------------


def test_import_creates_everyone_once(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path
) -> None:
    """Every body becomes one identity; the ledger records each; progress is reported."""
    seen: list[ImportProgress] = []
    wanted = bodies(120)
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        result = import_identities(
            wanted, ory, ledger=ledger, batch_size=50, retry=FAST, progress=seen.append
        )
    assert (result.created, result.exists, result.failed, result.requests) == (120, 0, (), 3)
    assert_each_once(server, wanted)
    assert seen[-1].created == 120
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert [r.items for r in server.requests if r.method == "PATCH"] == [50, 50, 20]


def test_rerun_sends_nothing(server: OryAdminServer, ory: OryAdmin, tmp_path: Path) -> None:
    """With the same ledger a second run skips everyone and sends no request."""
    wanted = bodies(30)
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        import_identities(wanted, ory, ledger=ledger, retry=FAST)
    server.requests.clear()
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        result = import_identities(wanted, ory, ledger=ledger, retry=FAST)
    assert (result.created, result.skipped, result.requests) == (0, 30, 0)
    assert server.requests == []


def test_rerun_without_state_finds_everyone_present(server: OryAdminServer, ory: OryAdmin) -> None:
    """Without a ledger, users already in Ory resolve to `exists`; nothing new is created."""
    wanted = bodies(30)
    import_identities(wanted, ory, retry=FAST)
    result = import_identities(wanted, ory, retry=FAST)
    assert (result.created, result.exists, result.failed) == (0, 30, ())
    assert_each_once(server, wanted)


def test_bad_body_is_isolated_by_bisection(server: OryAdminServer, ory: OryAdmin) -> None:
    """One unknown hash sinks its batch; splitting imports the other 63."""
    wanted = bodies(64)
    wanted[37]["credentials"] = {"password": {"config": {"hashed_password": "$foo$bar"}}}
    result = import_identities(wanted, ory, retry=FAST)
    assert result.created == 63
    assert [f.external_id for f in result.failed] == ["auth0|000037"]
    assert "hash" in (result.failed[0].reason or "")
    assert result.requests <= 1 + 2 * 6
    assert server.identity_by_external_id("auth0|000037") is None


def test_conflicts_name_the_clash(server: OryAdminServer, ory: OryAdmin) -> None:
    """Same email as another identity: failed with `conflict`, naming the holder."""
    holder = server.add_identity(body(999, email="Taken@Example.com"))
    wanted = [*bodies(3), body(3, email="taken@example.com")]
    result = import_identities(wanted, ory, retry=FAST)
    assert result.created == 3
    (failure,) = result.failed
    assert failure.external_id == "auth0|000003"
    assert (
        failure.reason
        == f"conflict: email taken@example.com is already used by identity {holder.id}"
    )


def test_preexisting_user_is_exists_not_created(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path
) -> None:
    """A user already in Ory (same external id) is `exists`, and undo leaves it."""
    before = server.add_identity(body(1))
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        result = import_identities(bodies(3), ory, ledger=ledger, retry=FAST)
        assert (result.created, result.exists) == (2, 1)
        assert ("auth0|000001", before.id) not in ledger.created_identities()


def test_lost_answer_counts_as_created(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path
) -> None:
    """Commit-then-drop: the resend's 409s resolve to our own `created` identities."""
    server.faults.drop_after_commit_next = 1
    wanted = bodies(20)
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        result = import_identities(wanted, ory, ledger=ledger, retry=FAST)
        assert (result.created, result.exists, result.failed) == (20, 0, ())
        assert len(ledger.created_identities()) == 20
    assert_each_once(server, wanted)


def test_every_fault_at_once(tmp_path: Path) -> None:
    """Latency, 429s, 5xx, 504s, drops and a concurrency limit: everyone exactly once."""
    faults = OryFaults(
        latency=0.002,
        rate_limit_every=5,
        retry_after=True,
        fail_next=6,
        drop_after_commit_next=3,
        gateway_timeout_next=2,
        gateway_timeout_above=40,
    )
    wanted = bodies(300)
    wanted[123]["credentials"] = {"password": {"config": {"hashed_password": "$foo$bar"}}}
    with (
        OryAdminServer(api_key=KEY, faults=faults, max_inflight_imports=1) as server,
        OryAdmin.from_url(server.url, KEY) as ory,
        Ledger.open(tmp_path, input_digest="x") as ledger,
    ):
        result = import_identities(
            wanted, ory, ledger=ledger, batch_size=60, concurrency=3, retry=FAST
        )
        statuses = collections.Counter(r.status for r in server.requests)
        assert {429, 504} <= set(statuses)
        assert statuses[500] + statuses[502] + statuses[503] >= 1
        assert any(r.dropped for r in server.requests)
        assert [f.external_id for f in result.failed] == ["auth0|000123"]
        assert result.created == 299
        assert result.exists == 0
        good = [b for b in wanted if b["external_id"] != "auth0|000123"]
        assert_each_once(server, good)
        created = dict(ledger.created_identities())
        assert created == {i.external_id: i.id for i in server.identities()}


def test_one_request_in_flight_by_default() -> None:
    """With default concurrency the server never sees two imports at once."""
    with (
        OryAdminServer(faults=OryFaults(latency=0.01), max_inflight_imports=1) as server,
        OryAdmin.from_url(server.url) as ory,
    ):
        result = import_identities(bodies(100), ory, batch_size=10, retry=FAST)
        assert result.created == 100
        assert server.max_concurrent_seen == 1
        assert all(r.status != 429 for r in server.requests)


def test_plaintext_passwords_go_200_at_a_time(server: OryAdminServer, ory: OryAdmin) -> None:
    """Bodies with plaintext passwords travel in batches of at most 200."""
    wanted = [
        body(i, credentials={"password": {"config": {"password": "pw-123456"}}}) for i in range(450)
    ]
    result = import_identities(wanted, ory, retry=FAST)
    assert result.created == 450
    assert [r.items for r in server.requests if r.method == "PATCH"] == [200, 200, 50]


def test_retries_exhausted_fail_the_users_then_a_rerun_imports_them(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path
) -> None:
    """Ory down for good: every user failed with the reason, none dropped; later, imported."""
    server.faults.fail_next = 10_000
    policy = RetryPolicy(attempts=2, wait_initial=0.001, wait_max=0.001, wait_jitter=0.0)
    wanted = bodies(10)
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        result = import_identities(wanted, ory, ledger=ledger, retry=policy)
    assert len(result.failed) == 10
    assert all("Ory answered 5" in (f.reason or "") for f in result.failed)
    server.faults.fail_next = 0
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        result = import_identities(wanted, ory, ledger=ledger, retry=FAST)
    assert (result.created, result.failed) == (10, ())


def test_wrong_key_stops_the_run(server: OryAdminServer) -> None:
    """401 cannot get better: the import raises instead of failing everyone."""
    with OryAdmin.from_url(server.url, "ory_pat_wrong") as admin, pytest.raises(OryError) as info:
        import_identities(bodies(5), admin, retry=FAST)
    assert info.value.status == 401


def test_unreadable_and_duplicate_records_are_counted(ory: OryAdmin) -> None:
    """Nothing is dropped silently: bad records and repeated ids appear in the result."""
    bad = UnreadableRecord("identities", 2, None, "not valid JSON")
    items: list[Any] = [body(1), bad, {"schema_id": "preset://email"}, body(1), body(2)]
    result = import_identities(items, ory, retry=FAST)
    assert result.created == 2
    assert result.unreadable[0] == bad
    assert result.unreadable[1].line == 3
    assert result.duplicates == ("auth0|000001",)
    assert not result.ok


# -- dry run, verify, undo -----------------------------------------------------------------


def test_check_counts_valid_invalid_and_existing(server: OryAdminServer, ory: OryAdmin) -> None:
    """A dry run validates, counts requests and existing users, and changes nothing."""
    server.add_identity(body(1))
    wanted = bodies(5)
    wanted[3]["nickname"] = "x"
    result = check_identities(wanted, ory, batch_size=2, retry=FAST)
    assert (result.valid, result.requests, result.existing) == (4, 2, 1)
    assert [i.external_id for i in result.invalid] == ["auth0|000003"]
    assert len(server.identities()) == 1
    assert all(r.method == "GET" for r in server.requests)


def test_check_without_a_reachable_server() -> None:
    """When Ory cannot be reached the dry run still validates, and says why it could not ask."""
    with OryAdminServer() as gone:
        url = gone.url
    policy = RetryPolicy(attempts=1)
    result = check_identities(bodies(3), OryAdmin.from_url(url), retry=policy)
    assert result.valid == 3
    assert result.existing is None
    assert "cannot connect" in (result.server_error or "")


def test_verify_reports_missing_unexpected_and_email_differences(
    server: OryAdminServer, ory: OryAdmin
) -> None:
    """Reconciliation over every page: who is missing, extra, or has another email."""
    wanted = bodies(7)
    for b in wanted[:5]:
        server.add_identity(b)
    stranger = server.add_identity(body(50))
    server.add_identity({**body(6, email="other@example.com")})
    wanted.append(body(60, email="Case@Example.com"))
    server.add_identity(body(60, email="case@example.com"))
    result = verify_identities(wanted, ory, retry=FAST)
    assert result.expected == 8
    assert result.found == 7
    assert result.missing == ("auth0|000005",)
    assert [u.identity_id for u in result.unexpected] == [stranger.id]
    assert [(m.external_id, m.actual) for m in result.email_differs] == [
        ("auth0|000006", "other@example.com")
    ]
    assert not result.ok


def test_undo_deletes_what_the_import_created(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path
) -> None:
    """Undo deletes created identities only, records it, and a re-import recreates them."""
    server.add_identity(body(0))
    wanted = bodies(6)
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        import_identities(wanted, ory, ledger=ledger, retry=FAST)
        targets = ledger.created_identities()
        gone = targets[0][1]
        ory.delete_identity(gone)
        result = undo_import(targets, ory, ledger, concurrency=2, retry=FAST)
        assert (result.deleted, result.already_gone, result.failed) == (4, 1, ())
        assert ledger.created_identities() == []
    assert [i.external_id for i in server.identities()] == ["auth0|000000"]
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        again = import_identities(wanted, ory, ledger=ledger, retry=FAST)
    assert (again.created, again.skipped) == (5, 1)


class _ForgetfulAnswer:
    """A batch answer that loses every other item (or all of them)."""

    def __init__(self, answer: BatchAnswer, *, keep_none: bool) -> None:
        self.answer = answer
        self.keep_none = keep_none

    def read(self) -> Sequence[Mapping[str, Any]]:
        items = self.answer.read()
        return [] if self.keep_none else items[::2]


class _ForgetfulOry(OryAdmin):
    """An adapter whose batch answers lose every other item (or all of them)."""

    keep_none: bool = False

    def send_batch(self, batch: PreparedBatch) -> BatchAnswer:
        return _ForgetfulAnswer(super().send_batch(batch), keep_none=self.keep_none)


@pytest.mark.parametrize("keep_none", [False, True])
def test_unreported_items_are_looked_up(server: OryAdminServer, keep_none: bool) -> None:
    """Identities an answer does not mention are found by external id: created, once."""
    admin = _ForgetfulOry(OryAdmin.from_url(server.url, KEY).api_client)
    admin.keep_none = keep_none
    wanted = bodies(10)
    result = import_identities(wanted, admin, retry=FAST)
    assert (result.created, result.exists, result.failed) == (10, 0, ())
    assert_each_once(server, wanted)
