"""`sync_identities`, the ledger's digests and key, and the adapter's single-identity calls."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from stamina.instrumentation import RetryDetails

from auth0_ory_migrate import (
    SYNC_SECTIONS,
    ImportOutcome,
    Ledger,
    OryAdmin,
    OryError,
    PlannedIdentity,
    RetryPolicy,
    SyncResult,
    identity_sections,
    import_identities,
    plan_sync,
    section_digests,
    sync_identities,
)
from auth0_ory_migrate._runtime._ledger import DIGESTS_FORMAT
from auth0_ory_migrate.exceptions import LedgerError
from auth0_ory_migrate.testing import InMemoryOryAdmin, OryAdminServer, StoredIdentity
from auth0_ory_migrate.typing import IdentityAdmin, IdentityUpdater


KEY = "ory_pat_sync_secret_0123456789"
# Valid-looking secrets that no other test uses: they must never leave the request.
HASH = "$2b$10$CANARYsaltCANARYsalt0.CANARYhashCANARYhashCANARYhash01"
NEW_HASH = "$2b$10$NEWCANARYsaltNEWCANA.NEWCANARYhashNEWCANARYhashNEWCA0"
TOTP = "otpauth://totp/Example:ada?secret=CANARYTOTPSECRETBASE32AB&issuer=Example"
SECRETS = (HASH, NEW_HASH, "CANARYTOTPSECRETBASE32AB", KEY)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast() -> Iterator[None]:
    """No backoff waits in-process."""
    with stamina.set_testing(True, attempts=10):
        yield


@pytest.fixture
def ory(server: OryAdminServer) -> Iterator[OryAdmin]:
    with OryAdmin.from_url(server.url, KEY) as admin:
        yield admin


def body(n: int, *, email: str | None = None, hashed: str = HASH, **extra: Any) -> dict[str, Any]:
    email = email or f"user{n}@example.com"
    made: dict[str, Any] = {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n:06d}",
        "traits": {"email": email},
        "verifiable_addresses": [
            {"value": email, "verified": True, "via": "email", "status": "completed"}
        ],
        "recovery_addresses": [{"value": email, "via": "email"}],
        "credentials": {"password": {"config": {"hashed_password": hashed}}},
        "metadata_public": {"n": n},
    }
    made.update(extra)
    return made


def items(bodies: list[dict[str, Any]]) -> list[PlannedIdentity]:
    return [PlannedIdentity(str(b["external_id"]), i, b) for i, b in enumerate(bodies, start=1)]


def plan_for(ledger: Ledger, ory: IdentityUpdater, bodies: list[dict[str, Any]]) -> Any:
    """The plan of *bodies* against what the ledger says was imported, Ory asked as needed."""
    records = ledger.imported_records()
    key = ledger.sync_key()
    first = plan_sync(records, items(bodies), key=key)
    wanted = {op.external_id for op in first.ops if op.kind in ("update", "conflict")}
    wanted |= {eid for eid, r in records.items() if r.digests is None}
    remote = {}
    for external_id in wanted:
        identity_id = records[external_id].identity_id if external_id in records else None
        if identity_id:
            found = ory.get_identity(identity_id)
            if found is not None:
                remote[external_id] = found
    return plan_sync(records, items(bodies), key=key, remote=remote)


def stored(server: OryAdminServer | InMemoryOryAdmin, n: int) -> StoredIdentity:
    found = server.identity_by_external_id(f"auth0|{n:06d}")
    assert found is not None
    return found


def writes(server: OryAdminServer) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.items) for r in server.requests if r.method != "GET"]


def imported(tmp_path: Path, ory: IdentityAdmin, bodies: list[dict[str, Any]]) -> Path:
    state = tmp_path / "state"
    with Ledger.open(state, input_digest="first-export") as ledger:
        result = import_identities(bodies, ory, ledger=ledger)
    assert result.created == len(bodies), result.failed
    return state


def no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# -- the ledger: key and digests ---------------------------------------------------------------


def test_sync_key_is_private_made_once_and_never_through_a_link(tmp_path: Path) -> None:
    """sync.key: 32 bytes, 0600, the same on every open; a symbolic link there is refused."""
    with Ledger.open(tmp_path / "s", input_digest="d") as ledger:
        key = ledger.sync_key()
        assert len(key) == 32
    path = tmp_path / "s" / "sync.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with Ledger.open_existing(tmp_path / "s") as ledger:
        assert ledger.sync_key() == key
    with Ledger.open(tmp_path / "u", input_digest="d") as ledger:
        (tmp_path / "u" / "sync.key").write_bytes(b"short")
        (tmp_path / "u" / "sync.key").chmod(0o600)
        with pytest.raises(LedgerError, match="damaged"):
            ledger.sync_key()
    (tmp_path / "elsewhere").write_bytes(b"k" * 32)
    with Ledger.open(tmp_path / "t", input_digest="d") as ledger:
        (tmp_path / "t" / "sync.key").symlink_to(tmp_path / "elsewhere")
        with pytest.raises(LedgerError, match="symbolic link"):
            ledger.sync_key()
    os.chmod(path, 0o644)
    with Ledger.open_existing(tmp_path / "s") as ledger, pytest.raises(LedgerError, match="others"):
        ledger.sync_key()


def test_import_records_the_digests_of_the_body_sent_and_no_secret(tmp_path: Path) -> None:
    """A created user's ledger line has its body's keyed digests; no hash or TOTP secret."""
    ory = InMemoryOryAdmin()
    sent = [
        body(1),
        body(
            2,
            credentials={
                "password": {"config": {"hashed_password": HASH}},
                "totp": {"config": {"totp_url": TOTP}},
            },
        ),
    ]
    state = imported(tmp_path, ory, sent)
    text = (state / "ledger.ndjson").read_text()
    no_secret(text)
    with Ledger.open_existing(state) as ledger:
        key = ledger.sync_key()
        records = ledger.imported_records()
    for b in sent:
        expected = dict(section_digests(identity_sections(b), key))
        record = records[b["external_id"]]
        assert dict(record.digests or {}) == expected
        assert record.identity_id == stored(ory, int(b["external_id"][-6:])).id
        assert record.written_at is not None
    null = section_digests({}, key)["traits"]  # an empty section's: left out of the line
    packed = [
        DIGESTS_FORMAT
        + "|".join(
            "" if d == null and s not in ("oidc", "saml") else d
            for s, d in ((s, section_digests(identity_sections(b), key)[s]) for s in SYNC_SECTIONS)
        )
        for b in sent
    ]
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["digests"] for line in lines if line.get("status") == "created"] == packed


def test_users_not_made_from_our_body_have_no_digests(tmp_path: Path) -> None:
    """exists: digests None (sync compares with Ory); failed and deleted users are left out."""
    ory = InMemoryOryAdmin()
    ory.add_identity(body(1))
    bodies = [body(1), body(2), body(3, email="user2@example.com")]
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        import_identities(bodies, ory, ledger=ledger)
        ledger.record_deletions([("auth0|000002", None)])
        records = ledger.imported_records()
    assert set(records) == {"auth0|000001"}
    assert records["auth0|000001"].digests is None


# -- the adapter ---------------------------------------------------------------------------------


def test_adapter_reads_writes_and_patches_one_identity(
    server: OryAdminServer, ory: OryAdmin
) -> None:
    """get_identity with credentials (hidden from repr), PUT and PATCH as sent, 404 → None."""
    stored = server.add_identity(body(1))
    got = ory.get_identity(stored.id)
    assert got is not None
    assert got["credentials"]["password"]["config"]["hashed_password"] == HASH
    no_secret(repr(got), str(got))
    assert isinstance(ory, IdentityUpdater)
    assert ory.get_identity("00000000-0000-4000-8000-000000000000") is None
    put = {
        "schema_id": "preset://email",
        "traits": {"email": "new1@example.com"},
        "state": "active",
        "external_id": "auth0|000001",
        "metadata_public": {"n": 1},
        "metadata_admin": None,
    }
    answer = ory.update_identity(stored.id, put)
    assert answer["traits"] == {"email": "new1@example.com"}
    assert answer["external_id"] == "auth0|000001"
    patched = ory.patch_identity(
        stored.id, [{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": True}]
    )
    assert patched["verifiable_addresses"][0]["verified"] is True
    after = ory.get_identity(stored.id)
    assert after is not None
    assert after["credentials"]["password"]["config"]["hashed_password"] == HASH  # kept


def test_adapter_errors_name_the_status_and_no_secret(
    server: OryAdminServer, ory: OryAdmin
) -> None:
    """409 (clash) keeps Ory's reason, 404 says so; neither repeats a hash or the key."""
    one = server.add_identity(body(1))
    server.add_identity(body(2))
    server.faults.echo_request = True
    put = {
        "schema_id": "preset://email",
        "traits": {"email": "user2@example.com"},
        "state": "active",
        "external_id": "auth0|000001",
        "credentials": {"password": {"config": {"hashed_password": NEW_HASH}}},
    }
    with pytest.raises(OryError) as clash:
        ory.update_identity(one.id, put)
    assert clash.value.status == 409
    assert clash.value.reason
    with pytest.raises(OryError) as gone:
        ory.update_identity("00000000-0000-4000-8000-000000000000", put)
    assert gone.value.status == 404
    for error in (clash.value, gone.value):
        no_secret(str(error), repr(error), error.reason, json.dumps(dict(error.headers)))


# -- the engine ----------------------------------------------------------------------------------


def later_export() -> list[dict[str, Any]]:
    """Users 0-9 a week later: 3 new, 1 new email, 1 new hash, 1 new metadata; 10-12 new."""
    bodies = [body(n) for n in range(10)]
    bodies[1] = body(1, email="changed1@example.com")
    bodies[2] = body(2, hashed=NEW_HASH)
    bodies[3] = body(3, metadata_public={"n": 3, "plan": "pro"})
    return bodies + [body(n) for n in range(10, 13)]


def test_sync_sends_creates_batched_and_one_write_per_changed_user(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path
) -> None:
    """Creates: one batch; each changed user: one PUT (+ one PATCH); unchanged: nothing; then 0."""
    state = imported(tmp_path, ory, [body(n) for n in range(10)])
    server.requests.clear()
    later = later_export()
    with Ledger.open_existing(state) as ledger:
        plan = plan_for(ledger, ory, later)
        result = sync_identities(plan, ory, ledger=ledger)
    assert result.ok, result.failed
    assert (result.created, result.updated, result.unchanged) == (3, 3, 7)
    assert result.password_changed == 1
    sent = writes(server)
    assert sent.count(("PATCH", "/admin/identities", 3)) == 1
    by_path: dict[str, list[str]] = {}
    for method, path, _ in sent:
        if path != "/admin/identities":
            by_path.setdefault(path, []).append(method)
    ids = {stored(server, n).id for n in (1, 2, 3)}
    assert set(by_path) == {f"/admin/identities/{i}" for i in ids}
    assert all(methods[0] == "PUT" and len(methods) <= 2 for methods in by_path.values())
    assert result.requests == len(sent)
    assert stored(server, 1).traits == {"email": "changed1@example.com"}
    assert stored(server, 2).hashed_password == NEW_HASH
    assert stored(server, 3).metadata_public == {"n": 3, "plan": "pro"}
    server.requests.clear()
    with Ledger.open_existing(state) as ledger:
        again = plan_for(ledger, ory, later)
        second = sync_identities(again, ory, ledger=ledger)
    assert not again.ops
    assert second == SyncResult(unchanged=13)
    assert writes(server) == []
    no_secret((state / "ledger.ndjson").read_text(), repr(result), repr(plan))


def test_a_clash_and_a_deleted_identity_fail_with_the_reason(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """409 on PUT: sent once more at the end, then failed with Ory's reason; 404: one request."""
    caplog.set_level(logging.DEBUG)
    server.faults.echo_request = True  # error texts quote the request: nothing of it may leak
    state = imported(tmp_path, ory, [body(n) for n in range(3)])
    later = [body(0, email="user2@example.com"), body(1, email="new1@example.com"), body(2)]
    with Ledger.open_existing(state) as ledger:
        plan = plan_for(ledger, ory, later)
        assert ory.delete_identity(stored(server, 1).id)
        server.requests.clear()
        result = sync_identities(plan, ory, ledger=ledger)
    failed = {o.external_id: o.reason or "" for o in result.failed}
    assert set(failed) == {"auth0|000000", "auth0|000001"}
    assert failed["auth0|000000"].startswith("conflict")
    assert "no longer in Ory" in failed["auth0|000001"]
    assert [r.method for r in server.requests].count("PUT") == 3  # the 409's PUT twice
    no_secret(*failed.values(), repr(result), caplog.text)
    with Ledger.open_existing(state) as ledger:
        again = plan_for(ledger, ory, later)
    assert {op.external_id for op in again.ops} >= {"auth0|000000"}  # tried again next time


@pytest.fixture
def retry_log() -> Iterator[list[RetryDetails]]:
    seen: list[RetryDetails] = []

    def record(details: RetryDetails) -> None:
        seen.append(details)

    stamina.instrumentation.set_on_retry_hooks([record])
    yield seen
    stamina.instrumentation.set_on_retry_hooks(None)


def test_a_429_on_the_single_identity_bucket_waits_what_retry_after_says(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path, retry_log: list[RetryDetails]
) -> None:
    """kratos-admin-low answers 429 + Retry-After: the PUT is made again after that wait."""
    state = imported(tmp_path, ory, [body(n) for n in range(2)])
    later = [body(n, metadata_public={"n": n, "plan": "pro"}) for n in range(2)]
    with Ledger.open_existing(state) as ledger:
        plan = plan_for(ledger, ory, later)
        server.requests.clear()
        server.faults.rate_limits = {"kratos-admin-low": 1}
        server.faults.rate_limit_window = 1.0
        server.faults.retry_after = True
        policy = RetryPolicy(rate_limit_jitter=0.0, max_rate_limit_wait=5.0)
        with stamina.set_testing(False):
            result = sync_identities(plan, ory, ledger=ledger, retry=policy)
    assert result.ok, result.failed
    assert result.updated == 2
    assert 429 in {r.status for r in server.requests}
    waits = [d.wait_for for d in retry_log if isinstance(d.caused_by, OryError)]
    assert waits
    assert all(0.0 < w <= 5.0 for w in waits)
    asked = [
        int(dict(d.caused_by.headers)["retry-after"])
        for d in retry_log
        if isinstance(d.caused_by, OryError)
    ]
    assert waits == pytest.approx([float(a) for a in asked])


def test_removals_deactivate_or_delete_and_keep_sends_nothing(tmp_path: Path) -> None:
    """A user gone from a complete export: keep (counted), deactivate (state), delete."""
    for action in ("keep", "deactivate", "delete"):
        ory = InMemoryOryAdmin()
        state = imported(tmp_path / action, ory, [body(n) for n in range(3)])
        gone = stored(ory, 2).id
        with Ledger.open_existing(state) as ledger:
            records = ledger.imported_records()
            plan = plan_sync(
                records, items([body(0), body(1)]), key=ledger.sync_key(), removed=action
            )
            result = sync_identities(plan, ory, ledger=ledger)
            after = ledger.imported_records()
        assert result.ok
        if action == "keep":
            assert (result.kept, result.removed) == (1, 0)
            assert stored(ory, 2).state == "active"
        elif action == "deactivate":
            assert result.removed == 1
            assert stored(ory, 2).state == "inactive"
            assert stored(ory, 2).traits == {"email": "user2@example.com"}
            assert "auth0|000002" not in after
        else:
            assert result.removed == 1
            assert ory.identity(gone) is None
            assert "auth0|000002" not in after


# -- exactly once, through SIGKILL -----------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import json, sys
    from auth0_ory_migrate import Ledger, OryAdmin, PlannedIdentity, plan_sync, sync_identities

    url, key, state, export, ask_ory = sys.argv[1:6]
    bodies = [json.loads(line) for line in open(export)]
    current = [PlannedIdentity(b["external_id"], i, b) for i, b in enumerate(bodies, 1)]
    with OryAdmin.from_url(url, key) as ory, Ledger.open_existing(state) as ledger:
        records = ledger.imported_records()
        k = ledger.sync_key()
        first = plan_sync(records, current, key=k)
        remote = {}
        for op in first.ops if ask_ory == "ask-ory" else ():
            if op.kind in ("update", "conflict") and op.identity_id:
                found = ory.get_identity(op.identity_id)
                if found is not None:
                    remote[op.external_id] = found
        plan = plan_sync(records, current, key=k, remote=remote or None)
        result = sync_identities(plan, ory, ledger=ledger)
    print(json.dumps({"created": result.created, "updated": result.updated,
                      "resumed": result.resumed, "failed": len(result.failed)}))
    """
)


@pytest.mark.parametrize("ask_ory", ["ask-ory", "records-only"])
@pytest.mark.parametrize("kill_at", ["updates", "creates"])
def test_sigkill_mid_sync_then_rerun_does_every_operation_once(
    server: OryAdminServer, ory: OryAdmin, tmp_path: Path, ask_ory: str, kill_at: str
) -> None:
    """Killed mid-sync, run again: no duplicate create, no lost update, no PUT twice; then nothing.

    Planned with Ory's identities (a write Ory already holds is left out of the new plan and
    settled from the ledger) or from the records only (the engine reads Ory for the
    operations left in doubt and does not send them again).
    """
    old = [body(n) for n in range(40)]
    state = imported(tmp_path, ory, old)
    later = [body(n, email=f"moved{n}@example.com") if n % 2 else body(n) for n in range(40)]
    later += [body(n) for n in range(40, 60)]
    export = tmp_path / "later.ndjson"
    export.write_text("".join(json.dumps(b) + "\n" for b in later))
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    server.requests.clear()
    server.faults.latency = 0.03
    command = [sys.executable, str(script), server.url, KEY, str(state), str(export), ask_ory]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60

    def far_enough() -> bool:
        if kill_at == "updates":
            return sum(r.method == "PUT" for r in server.requests) >= 8
        return len(server.identities()) > 40  # the batch of creates is in

    while proc.poll() is None and not far_enough():
        assert time.monotonic() < deadline, "the sync did not progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    first_puts = sum(r.method == "PUT" and r.status == 200 for r in server.requests)
    assert 0 < first_puts <= 20
    server.faults.latency = 0.0
    rerun = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["failed"] == 0
    puts: dict[str, int] = {}
    for r in server.requests:
        if r.method == "PUT" and r.status == 200:
            puts[r.path] = puts.get(r.path, 0) + 1
    assert len(puts) == 20  # every changed user updated...
    twice = {path for path, count in puts.items() if count > 1}
    assert not twice, (summary, [(r.method, r.path[-6:], r.status) for r in server.requests])
    externals = [str(i.external_id) for i in server.identities()]
    assert sorted(externals) == sorted(b["external_id"] for b in later)  # no duplicate, no loss
    for n, b in enumerate(later):
        assert stored(server, n).traits == b["traits"]
    with Ledger.open_existing(state) as ledger:  # the records caught up: no read needed
        assert not plan_sync(ledger.imported_records(), items(later), key=ledger.sync_key()).ops
    server.requests.clear()
    with Ledger.open_existing(state) as ledger:  # and a third sync changes nothing
        third = sync_identities(plan_for(ledger, ory, later), ory, ledger=ledger)
    assert third == SyncResult(unchanged=60)
    assert all(r.method == "GET" for r in server.requests)
    no_secret(
        out.decode(),
        err.decode(),
        rerun.stdout,
        rerun.stderr,
        (state / "ledger.ndjson").read_text(),
    )


def test_several_writes_in_flight_update_everyone_once(tmp_path: Path) -> None:
    """Concurrency 4 (a self-hosted Kratos): every changed user written, recorded, then nothing."""
    ory = InMemoryOryAdmin()
    state = imported(tmp_path, ory, [body(n) for n in range(40)])
    later = [body(n, email=f"moved{n}@example.com") for n in range(40)] + [body(40)]
    with Ledger.open_existing(state) as ledger:
        result = sync_identities(plan_for(ledger, ory, later), ory, ledger=ledger, concurrency=4)
        assert (result.updated, result.created, result.failed) == (40, 1, ())
        assert not plan_sync(ledger.imported_records(), items(later), key=ledger.sync_key()).ops
    for n in range(40):
        identity = stored(ory, n)
        assert identity.traits == {"email": f"moved{n}@example.com"}
    got = ory.get_identity(stored(ory, 7).id)
    assert got is not None
    assert [a["verified"] for a in got["verifiable_addresses"]] == [True]


# The digests of a fixed body under a fixed key. When this test fails, identity_sections or
# section_digests changed what they compute: bump DIGESTS_FORMAT in _runtime/_ledger.py (the
# digests of earlier imports must then read back as none, not as "everyone changed").
PINNED_BODY = {
    "schema_id": "preset://email",
    "external_id": "auth0|pinned",
    "traits": {"email": "pinned@example.com"},
    "state": "active",
    "verifiable_addresses": [
        {"value": "pinned@example.com", "verified": True, "via": "email", "status": "completed"}
    ],
    "metadata_admin": {"auth0": {"user_id": "auth0|pinned"}},
    "credentials": {
        "password": {"config": {"use_password_migration_hook": True}},
        "oidc": {"config": {"providers": [{"provider": "google", "subject": "1"}]}},
    },
}
PINNED_DIGESTS = {
    "traits": "15f7d6f13f8ea2557c37ac0ed5c69be0",
    "state": "803248bbfd67e640303ce7637de7fdf1",
    "addresses": "f500cbdee57e3518045bd621d4a470cc",
    "metadata_public": "de1f2749f5ecb619c3735ad254ecf50c",
    "metadata_admin": "7f4b9fdd699a4b6b574feeb77f12bd84",
    "oidc": "54347db603ec2a0c5fbcecb02905ea2e",
    "saml": "",
    "password": "b545a5832327b5788f281d12ea7468e9",
    "totp": "de1f2749f5ecb619c3735ad254ecf50c",
    "organization": "de1f2749f5ecb619c3735ad254ecf50c",
}


def test_the_digest_format_is_pinned() -> None:
    """The digests of a fixed body are fixed: a change to them must bump DIGESTS_FORMAT."""
    digests = section_digests(identity_sections(PINNED_BODY), b"k" * 32)
    assert DIGESTS_FORMAT == "d1:"
    assert digests == PINNED_DIGESTS


def test_digests_of_another_format_read_back_as_none(tmp_path: Path) -> None:
    """A ledger line with digests of another format: the user is compared with Ory instead."""
    with Ledger.open(tmp_path / "s", input_digest="x", input_name="u") as ledger:
        ledger.record(
            [ImportOutcome("auth0|1", "created", "id-1")], bodies={"auth0|1": PINNED_BODY}
        )
        path = ledger.ledger_path
    text = path.read_text().replace('"digests":"d1:', '"digests":"d0:')
    path.write_text(text)
    with Ledger.open_existing(tmp_path / "s") as ledger:
        (record,) = ledger.imported_records().values()
    assert record.digests is None
    assert record.identity_id == "id-1"
