"""testing.InMemoryOryAdmin: the engine through Ory's rules, with no server and no socket."""

from __future__ import annotations

import collections
import socket
from pathlib import Path
from typing import Any

import pytest

from auth0_ory_migrate import (
    Ledger,
    OryAdmin,
    OryError,
    RetryPolicy,
    check_identities,
    import_identities,
    undo_import,
    verify_identities,
)
from auth0_ory_migrate.testing import InMemoryOryAdmin, OryAdminServer
from auth0_ory_migrate.typing import IdentityAdmin, ImportState, UndoState


BCRYPT = "$2b$10$0nfDrwOT.zJxjGWJfOhkxuaXk.OResX5NSyIrYnT5bstE7rgvTngq"
FAST = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.001, wait_jitter=0.0)


def body(n: int, **extra: Any) -> dict[str, Any]:
    email = extra.pop("email", f"user{n}@example.com")
    b: dict[str, Any] = {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n:06d}",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"hashed_password": BCRYPT}}},
    }
    b.update(extra)
    return b


def bodies(n: int) -> list[dict[str, Any]]:
    return [body(i) for i in range(n)]


def bad_hash(n: int) -> dict[str, Any]:
    return body(n, credentials={"password": {"config": {"hashed_password": "$foo$bar"}}})


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to create a socket fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "__init__", refuse)


def test_protocols_are_satisfied() -> None:
    """The adapter, the in-memory admin and the ledger are what the engine asks for (mypy too)."""
    memory: IdentityAdmin = InMemoryOryAdmin()
    adapter: IdentityAdmin = OryAdmin.from_url("http://127.0.0.1:9")
    assert isinstance(memory, IdentityAdmin)
    assert isinstance(adapter, IdentityAdmin)


def test_ledger_is_an_import_and_undo_state(tmp_path: Path) -> None:
    """A Ledger is an ImportState and an UndoState, structurally (checked by mypy)."""
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        state: ImportState = ledger
        undo_state: UndoState = ledger
        assert isinstance(state, ImportState)
        assert isinstance(undo_state, UndoState)


def test_pipeline_without_a_socket(no_sockets: None, tmp_path: Path) -> None:
    """Import, re-import, check, verify and undo run against the in-memory admin, no socket."""
    with pytest.raises(AssertionError, match="socket"):
        socket.create_connection(("127.0.0.1", 9))  # the guard is on
    ory = InMemoryOryAdmin()
    wanted = bodies(30)
    with Ledger.open(tmp_path, input_digest="x") as ledger:
        result = import_identities(wanted, ory, ledger=ledger, batch_size=8, retry=FAST)
        assert (result.created, result.exists, result.failed, result.requests) == (30, 0, (), 4)
        again = import_identities(wanted, ory, retry=FAST)
        assert (again.created, again.exists) == (0, 30)
        checked = check_identities(wanted, ory, retry=FAST)
        assert (checked.valid, checked.existing) == (30, 30)
        verified = verify_identities(wanted, ory, retry=FAST)
        assert (verified.found, verified.missing) == (30, ())
        undone = undo_import(ledger.created_identities(), ory, ledger, retry=FAST)
        assert undone.deleted == 30
    assert ory.identities() == []
    assert [r.items for r in ory.requests if r.method == "PATCH"][:4] == [8, 8, 8, 6]


def test_created_exists_and_failed() -> None:
    """Each user ends up created, already there, or failed with Ory's reason."""
    ory = InMemoryOryAdmin()
    before = ory.add_identity(body(0))
    wanted = [*bodies(3), body(3, traits={"email": "not an email"})]
    result = import_identities(wanted, ory, retry=FAST)
    assert (result.created, result.exists) == (2, 1)
    (failure,) = result.failed
    assert failure.external_id == "auth0|000003"
    assert "traits" in (failure.reason or "")
    assert ory.identity_by_external_id("auth0|000000") == before


def test_same_email_for_two_users_is_a_named_conflict() -> None:
    """A second user with the same normalised email is a per-item 409: failed, naming the holder."""
    ory = InMemoryOryAdmin()
    result = import_identities(
        [body(1, email="Ada@Example.com"), body(2, email="ada@example.COM")], ory, retry=FAST
    )
    assert result.created == 1
    holder = ory.identity_by_external_id("auth0|000001")
    assert holder is not None
    (failure,) = result.failed
    assert failure.external_id == "auth0|000002"
    assert (
        failure.reason == f"conflict: email ada@example.com is already used by identity {holder.id}"
    )


def test_malformed_hash_refuses_the_batch_and_the_split_isolates_it() -> None:
    """One unrecognised hash: 400 for the whole request; halving imports everyone else."""
    ory = InMemoryOryAdmin()
    wanted = bodies(64)
    wanted[37] = bad_hash(37)
    result = import_identities(wanted, ory, retry=FAST)
    assert result.created == 63
    assert [f.external_id for f in result.failed] == ["auth0|000037"]
    assert "hash" in (result.failed[0].reason or "")
    statuses = collections.Counter(r.status for r in ory.requests if r.method == "PATCH")
    assert statuses[400] == 7  # the batch, then one half in each of 6 rounds
    assert ory.identity_by_external_id("auth0|000037") is None


def test_more_than_1000_in_one_request_is_refused() -> None:
    """Ory's limit: 1,001 identities in one request are refused as a whole; nothing is stored."""
    ory = InMemoryOryAdmin()
    with pytest.raises(OryError) as info:
        ory.send_batch(ory.prepare_batch(bodies(1001)))
    assert info.value.status == 400
    assert "too many identities" in info.value.reason
    assert ory.identities() == []
    assert [(r.method, r.status, r.items) for r in ory.requests] == [("PATCH", 400, 1001)]


def test_the_engine_stays_within_the_limits() -> None:
    """1,001 users go in two requests of 1,000 and 1; plaintext passwords 200 at a time."""
    ory = InMemoryOryAdmin()
    assert import_identities(bodies(1001), ory, retry=FAST).created == 1001
    plain = [
        body(2000 + i, credentials={"password": {"config": {"password": "pw-123456"}}})
        for i in range(201)
    ]
    assert import_identities(plain, ory, retry=FAST).created == 201
    assert [r.items for r in ory.requests if r.method == "PATCH"] == [1000, 1, 200, 1]
    with pytest.raises(OryError, match="plaintext"):
        ory.send_batch(ory.prepare_batch(plain))


def test_check_uses_the_same_rules() -> None:
    """A dry run against the in-memory admin finds what it would refuse; it may ask nothing."""
    ory = InMemoryOryAdmin()
    wanted = [*bodies(3), bad_hash(3), {**body(4), "nickname": "x"}]
    result = check_identities(wanted, ory, count_existing=False)
    assert result.valid == 3
    assert [i.external_id for i in result.invalid] == ["auth0|000003", "auth0|000004"]
    assert "nickname" in (result.invalid[1].reason or "")
    assert result.existing is None
    assert ory.requests == []


def test_in_memory_answers_as_the_http_server_does() -> None:
    """One implementation of the rules: the same bodies get the same outcomes in both."""
    wanted = [*bodies(5), body(5, email="USER1@example.com"), body(6, traits={}), bad_hash(7)]
    memory = import_identities(wanted, InMemoryOryAdmin(), retry=FAST)
    with OryAdminServer() as server, OryAdmin.from_url(server.url) as ory:
        served = import_identities(wanted, ory, retry=FAST)

    def outcomes(result: Any) -> list[tuple[str, str | None]]:
        return [(f.external_id, (f.reason or "").split(" identity ")[0]) for f in result.failed]

    assert (memory.created, memory.exists) == (served.created, served.exists) == (5, 0)
    assert outcomes(memory) == outcomes(served)
    assert len(memory.failed) == 3


def test_list_page_follows_tokens_and_refuses_bad_ones() -> None:
    """Pages in creation order, capped at 500; an invalid token is a 400."""
    ory = InMemoryOryAdmin()
    for b in bodies(7):
        ory.add_identity(b)
    page, token = ory.list_page(page_size=3)
    assert [r.external_id for r in page] == ["auth0|000000", "auth0|000001", "auth0|000002"]
    assert token is not None
    rest, last = ory.list_page(token, page_size=10)
    assert [r.email for r in rest][-1] == "user6@example.com"
    assert last is None
    with pytest.raises(OryError) as info:
        ory.list_page("garbage!")
    assert info.value.status == 400
    assert repr(ory) == "InMemoryOryAdmin(identities=7)"


def test_organizations_and_saml_follow_the_server_rules() -> None:
    """An unknown organization is a per-item 400; SAML and organization_id are stored."""
    org = "8f1c6c2e-1b1f-4a53-9d6e-3f4b1f0e2a11"
    saml = {"saml": {"config": {"providers": [{"provider": "acme", "subject": "s1"}]}}}
    ory = InMemoryOryAdmin(organizations=[org])
    answer = ory.send_batch(
        ory.prepare_batch(
            [
                body(1, organization_id=org, credentials=saml),
                body(2, organization_id="0b9d2f4e-7c51-4e0a-8a43-5d1e6f7a8b9c"),
            ]
        )
    ).read()
    assert [item["action"] for item in answer] == ["create", "error"]
    assert answer[1]["error"]["code"] == 400
    stored = ory.identity_by_external_id("auth0|000001")
    assert stored is not None
    assert stored.organization_id == org
    assert stored.saml_identifiers == ("acme:s1",)
