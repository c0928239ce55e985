"""``sync``'s memory: a bit per record for the users seen, the report's repeated strings shared."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auth0_ory_migrate import (
    ImportOutcome,
    Ledger,
    MappingOptions,
    PlannedIdentity,
    Skipped,
    plan_from_files,
    plan_sync,
    sync_plan_items,
    write_identities,
)
from auth0_ory_migrate.testing import auth0_users, tenant_a_week_later, write_export


HASH = "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"


@pytest.fixture(autouse=True)
def _small_blocks(forked_workers: Callable[[int], None]) -> None:
    """Blocks of a few lines (many blocks per worker); forking allowed as in test_parallel."""
    forked_workers(2000)


def _body(n: int) -> dict[str, Any]:
    return {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n}",
        "traits": {"email": f"user{n}@example.com"},
        "credentials": {"password": {"config": {"hashed_password": HASH}}},
    }


def test_seen_marks_are_a_bit_per_record_of_the_ledger(tmp_path: Path) -> None:
    """seen_marks(): exact per record (sync lines too), users without a record are not kept."""
    state = tmp_path / "state"
    bodies = {f"auth0|{n}": _body(n) for n in range(6)}
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome(f"auth0|{n}", "created", f"id-{n}") for n in range(5)], bodies=bodies
        )
        ledger.record_sync(
            [{"sync": "auth0|4", "op": "update", "status": "done",
              "digests": ledger.digests_of(_body(4))}]
        )  # fmt: skip
    with Ledger.open_existing(state, index_records=True) as ledger:
        records = ledger.imported_records()
        seen = records.seen_marks()
        seen.add("auth0|1")
        seen.update(["auth0|4", "auth0|nobody", None])
        ledger.record([ImportOutcome("auth0|5", "created", "id-5")], bodies=bodies)
        again = ledger.imported_records()  # (read on: a record whose line came after the marks)
        marks = again.seen_marks()
        marks.update(["auth0|5"])
    assert [f"auth0|{n}" in seen for n in range(5)] == [False, True, False, False, True]
    assert "auth0|nobody" not in seen
    assert None not in seen
    assert [f"auth0|{n}" in marks for n in range(6)] == [False] * 5 + [True]


def _state(first: Path, state: Path) -> None:
    plan = plan_from_files(first / "auth0-users.ndjson.gz", options=MappingOptions())
    planned = [item for item in plan if isinstance(item, PlannedIdentity)]
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome(p.external_id, "created", str(uuid.uuid4())) for p in planned],
            bodies={p.external_id: p.body for p in planned},
        )


def test_the_plan_with_seen_marks_is_the_plan_with_hashes(tmp_path: Path) -> None:
    """plan_sync over the ledger's records (marks) removes the users a plain mapping removes."""
    users = auth0_users(300, seed=5, real_hashes=False)
    later = tenant_a_week_later(users, seed=9, real_hashes=False, deleted=6)
    for name, export in (("first", users), ("later", later.users)):
        (tmp_path / name).mkdir()
        write_export(tmp_path / name, export, mfa_secrets=False, hashes=False)
    _state(tmp_path / "first", tmp_path / "state")
    users_file = tmp_path / "later" / "auth0-users.ndjson.gz"
    with Ledger.open_existing(tmp_path / "state", index_records=True) as ledger:
        key = ledger.sync_key()
        records = ledger.imported_records()
        marked = plan_sync(records, plan_from_files(users_file), key=key)
        hashed = plan_sync(dict(records), plan_from_files(users_file), key=key)
    removes = [op.external_id for op in marked.ops if op.kind == "remove"]
    assert removes
    assert removes == [op.external_id for op in hashed.ops if op.kind == "remove"]
    assert marked.counts() == hashed.counts()


@pytest.mark.parametrize("how", ["sync", "convert"])
def test_workers_reports_share_their_repeated_strings(tmp_path: Path, how: str) -> None:
    """The same report as in one process, each detail string once (not once per block)."""
    users = auth0_users(300, seed=5, real_hashes=False)
    write_export(tmp_path, users, mfa_secrets=False, hashes=False)

    def report(jobs: int) -> Any:
        plan = plan_from_files(tmp_path / "auth0-users.ndjson.gz")
        if how == "convert":
            return write_identities(plan, tmp_path / f"identities-{jobs}.ndjson", jobs=jobs)
        for _ in sync_plan_items(plan, {}, key=b"k" * 32, jobs=jobs):
            pass
        return plan.report

    one, two = report(1), report(2)
    assert one == two
    skipped = [u for u in two.users if isinstance(u, Skipped) and u.reason == "no_email"]
    assert len(skipped) > 10
    assert len({id(u.detail) for u in skipped}) == 1
    codes = {n.code for n in two.notes}
    assert codes
    for code in codes:  # (the users planned in this process make their own)
        details = [n.detail for n in two.notes if n.code == code]
        assert len({id(d) for d in details}) <= len(set(details)) + 1
