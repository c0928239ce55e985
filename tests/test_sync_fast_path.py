"""``sync``'s fast path: fingerprints in the ledger, records read on demand, workers compare."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from auth0_ory_migrate import (
    ImportedRecord,
    ImportOutcome,
    Ledger,
    MappingOptions,
    PlannedIdentity,
    SeenUsers,
    SyncPlan,
    body_fingerprint,
    dump_identity,
    import_identities,
    plan_from_files,
    plan_sync,
    sync_identities,
    sync_plan_items,
)
from auth0_ory_migrate._runtime import _parallel
from auth0_ory_migrate.testing import (
    InMemoryOryAdmin,
    auth0_users,
    tenant_a_week_later,
    write_export,
)


HASH = "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"


@pytest.fixture(autouse=True)
def _small_blocks(forked_workers: Callable[[int], None]) -> None:
    """Blocks of a few lines (many blocks per worker); forking allowed as in test_parallel."""
    forked_workers(2000)


def _body(n: int, *, email: str | None = None) -> dict[str, Any]:
    return {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n}",
        "traits": {"email": email or f"user{n}@example.com"},
        "credentials": {"password": {"config": {"hashed_password": HASH}}},
        "metadata_admin": {"auth0_user_id": f"auth0|{n}"},
    }


def _ledger_lines(state: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (state / "ledger.ndjson").read_text().splitlines()]


def test_import_records_the_fingerprint_and_reads_it_back(tmp_path: Path) -> None:
    """A created user's line has the body's fingerprint (no secret); the record gives it back."""
    state = tmp_path / "state"
    bodies = {f"auth0|{n}": _body(n) for n in range(3)}
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [
                ImportOutcome("auth0|0", "created", "id-0"),
                ImportOutcome("auth0|1", "exists", "id-1"),
                ImportOutcome("auth0|2", "created", "id-2"),
            ],
            bodies=bodies,
        )
        key = ledger.sync_key()
        records = ledger.imported_records()
    lines = _ledger_lines(state)
    assert lines[0]["fingerprint"] == body_fingerprint(bodies["auth0|0"], key)
    assert "fingerprint" not in lines[1]  # exists: not made from our body
    assert HASH not in (state / "ledger.ndjson").read_text()
    assert records["auth0|0"].fingerprint == body_fingerprint(bodies["auth0|0"], key)
    assert records["auth0|1"].fingerprint is None
    assert records.is_unchanged("auth0|0", dump_identity(bodies["auth0|0"]))
    assert not records.is_unchanged("auth0|0", dump_identity(_body(0, email="new@example.com")))
    assert not records.is_unchanged("auth0|1", dump_identity(bodies["auth0|1"]))
    assert not records.is_unchanged("auth0|9", dump_identity(_body(9)))


def test_records_are_read_on_demand_as_the_ledger_says(tmp_path: Path) -> None:
    """The last line of each user wins: failed and deleted users are out, sync lines update."""
    state = tmp_path / "state"
    bodies = {f"auth0|{n}": _body(n) for n in range(5)}
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome(f"auth0|{n}", "created", f"id-{n}") for n in range(5)], bodies=bodies
        )
        ledger.record([ImportOutcome("auth0|1", "failed", None, "no")])
        ledger.record_deletions([("auth0|2", "id-2")])
        changed = _body(3, email="three@example.com")
        digests = ledger.digests_of(changed)
        fingerprint = body_fingerprint(changed, ledger.sync_key())
        ledger.record_sync(
            [
                {"sync": "auth0|3", "op": "update", "status": "done", "identity_id": "id-3",
                 "digests": digests, "fingerprint": fingerprint},
                {"sync": "auth0|4", "op": "update", "status": "done", "digests": digests},
                {"sync": "auth0|0", "op": "remove", "status": "done", "identity_id": "id-0",
                 "action": "deactivate"},
            ]
        )  # fmt: skip
        records = ledger.imported_records()
    assert sorted(records) == ["auth0|3", "auth0|4"]
    assert "auth0|1" not in records
    assert len(records) == 2
    three = records["auth0|3"]
    assert isinstance(three, ImportedRecord)
    assert (three.identity_id, three.fingerprint) == ("id-3", fingerprint)
    assert dict(three.digests or {}) == digests
    assert records.is_unchanged("auth0|3", dump_identity(changed))
    four = records["auth0|4"]  # a sync line naming no identity: the import's identity
    assert (four.identity_id, four.fingerprint) == ("id-4", None)
    assert dict(four.digests or {}) == digests


def test_a_sync_update_records_the_fingerprint_of_its_body(tmp_path: Path) -> None:
    """After an update, the record's fingerprint is the new body's: the next plan is a fast one."""
    ory = InMemoryOryAdmin()
    with Ledger.open(tmp_path / "state", input_digest="d", input_name="users") as ledger:
        assert import_identities([_body(1)], ory, ledger=ledger).created == 1
        key = ledger.sync_key()
        assert ledger.imported_records()["auth0|1"].fingerprint == body_fingerprint(_body(1), key)
        changed = _body(1, email="moved@example.com")
        item = PlannedIdentity("auth0|1", 1, changed)
        plan = plan_sync(ledger.imported_records(), [item], key=key)
        assert [op.kind for op in plan.ops] == ["update"]
        assert sync_identities(plan, ory, ledger=ledger).updated == 1
        records = ledger.imported_records()
    assert records["auth0|1"].fingerprint == body_fingerprint(changed, key)
    assert records.is_unchanged("auth0|1", dump_identity(changed))
    assert _ledger_lines(tmp_path / "state")[-1]["fingerprint"] == body_fingerprint(changed, key)


def _state(first: Path, state: Path) -> None:
    """The state an import of *first* leaves: every planned user created, with its body."""
    plan = plan_from_files(
        first / "auth0-users.ndjson.gz",
        password_hashes=first / "auth0-password-hashes.json",
        options=MappingOptions(),
    )
    planned = [item for item in plan if isinstance(item, PlannedIdentity)]
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome(p.external_id, "created", str(uuid.uuid4())) for p in planned],
            bodies={p.external_id: p.body for p in planned},
        )


def _plan_of(later: Path) -> Any:
    return plan_from_files(
        later / "auth0-users.ndjson.gz",
        password_hashes=later / "auth0-password-hashes.json",
        options=MappingOptions(),
    )


def _everything(plan: SyncPlan) -> list[Any]:
    return [
        (op.to_json(), op.body, op.put, op.patch, op.unlink,
         dict(op.digests) if op.digests is not None else None, op.fingerprint)
        for op in plan.ops
    ]  # fmt: skip


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_the_fast_path_plans_a_week_later_as_the_slow_one(tmp_path: Path, jobs: int) -> None:
    """sync_plan_items (workers, fingerprints) gives plan_sync the same plan and report."""
    users = auth0_users(400, seed=31, real_hashes=False)
    later = tenant_a_week_later(users, seed=7, real_hashes=False, deleted=4)
    for name, export in (("first", users), ("later", later.users)):
        (tmp_path / name).mkdir()
        write_export(tmp_path / name, export, mfa_secrets=False)
    _state(tmp_path / "first", tmp_path / "state")
    with Ledger.open_existing(tmp_path / "state") as ledger:
        key = ledger.sync_key()
        records = ledger.imported_records()
        slow_records = {k: attrs.evolve(v, fingerprint=None) for k, v in records.items()}
        slow_plan = _plan_of(tmp_path / "later")
        slow = plan_sync(slow_records, slow_plan, key=key)
        fast_plan = _plan_of(tmp_path / "later")
        items = list(sync_plan_items(fast_plan, records, key=key, jobs=jobs))
        fast = plan_sync(records, items, key=key)
        as_dict = dict(records)  # any mapping of records: compared by their fingerprints
        generic_items = sync_plan_items(_plan_of(tmp_path / "later"), as_dict, key=key, jobs=jobs)
        generic = plan_sync(records, generic_items, key=key)
    seen = [i for i in items if isinstance(i, SeenUsers)]
    assert sum(s.unchanged for s in seen) > 250  # the unchanged users never reached plan_sync
    assert slow.ops  # the week's changes: creates, updates, removals
    assert {op.kind for op in slow.ops} >= {"create", "update", "remove"}
    for plan in (fast, generic):
        assert _everything(plan) == _everything(slow)
        assert plan.counts() == slow.counts()
    assert fast_plan.report == slow_plan.report


def test_workers_are_used_for_a_big_enough_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With jobs > 1 the users are mapped and compared in forked workers."""
    started: list[int] = []
    start = _parallel._start_workers

    def counting(*args: Any, **kwargs: Any) -> Any:
        started.append(args[2])
        return start(*args, **kwargs)

    monkeypatch.setattr(_parallel, "_start_workers", counting)
    users = auth0_users(60, seed=3, real_hashes=False)
    (tmp_path / "first").mkdir()
    write_export(tmp_path / "first", users, mfa_secrets=False)
    _state(tmp_path / "first", tmp_path / "state")
    with Ledger.open_existing(tmp_path / "state") as ledger:
        records = ledger.imported_records()
        items = list(
            sync_plan_items(_plan_of(tmp_path / "first"), records, key=ledger.sync_key(), jobs=2)
        )
    assert started == [2]
    planned = [i for i in items if isinstance(i, PlannedIdentity)]  # (the shared emails)
    assert sum(i.unchanged for i in items if isinstance(i, SeenUsers)) + len(planned) == len(
        records
    )


def test_records_indexed_at_opening_catch_up_with_what_was_written_since(tmp_path: Path) -> None:
    """open_existing(index_records=True): the same records, the lines written since included."""
    state = tmp_path / "state"
    bodies = {f"auth0|{n}": _body(n) for n in range(4)}
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome(f"auth0|{n}", "created", f"id-{n}") for n in range(3)], bodies=bodies
        )
        ledger.record_sync(
            [{"sync": "auth0|2", "op": "update", "status": "done",
              "digests": ledger.digests_of(_body(2, email="two@example.com"))}]
        )  # fmt: skip
    with Ledger.open_existing(state, index_records=True) as ledger:
        ledger.record([ImportOutcome("auth0|3", "created", "id-3")], bodies=bodies)
        ledger.record([ImportOutcome("auth0|0", "failed", None, "no")])
        indexed = ledger.imported_records()
        again = ledger.imported_records()
    with Ledger.open_existing(state) as ledger:
        fresh = ledger.imported_records()
    assert sorted(indexed) == sorted(fresh) == sorted(again) == ["auth0|1", "auth0|2", "auth0|3"]
    for external_id in fresh:
        assert indexed[external_id] == fresh[external_id] == again[external_id]
    assert indexed["auth0|2"].identity_id == "id-2"
    assert indexed.is_unchanged("auth0|3", dump_identity(bodies["auth0|3"]))
