"""``sync``'s reads of Ory: the changed users' identities read 100 a request, the same plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from auth0_ory_migrate import ImportedRecord, Ledger, OryAdmin, PlannedIdentity, SeenUsers
from auth0_ory_migrate._cli import sync as cli_sync
from auth0_ory_migrate.testing import OryAdminServer, auth0_users

from .test_cli_sync import (
    KEY,  # noqa: F401 - the server fixture takes the module's KEY
    _files,
    _run,
    migrated_then_later,
)


pytestmark = pytest.mark.usefixtures("no_backoff")


def test_the_changed_users_are_read_a_hundred_a_request(
    server: OryAdminServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run reads the changed users 100 a request (GET ?ids=): the plan of one read each."""
    users = auth0_users(1200, seed=23, real_hashes=False)
    later = migrated_then_later(server, tmp_path, users, seed=4, email_changed=150, blocked=60)
    state, later_dir = tmp_path / "state", tmp_path / "later"

    def dry_run(name: str) -> tuple[str, list[str]]:
        server.requests.clear()
        plan = tmp_path / f"{name}.ndjson"
        ran = _run("sync", *_files(later_dir), "--ory-url", server.url, "--state-dir",
                   str(state), "--dry-run", "--plan-out", str(plan), "--report",
                   str(tmp_path / f"{name}-report.json"), "--quiet")  # fmt: skip
        assert ran.exit_code == 0, ran.output
        reads = [r.path for r in server.requests if r.method == "GET"]
        return plan.read_text(), reads

    batched, reads = dry_run("batched")
    singles = [p for p in reads if p.startswith("/admin/identities/")]
    lists = [p for p in reads if p == "/admin/identities"]
    assert singles == []
    with Ledger.open_existing(state) as ledger:
        records = ledger.imported_records()
        changed = sum(1 for u in (*later.email_changed, *later.blocked) if u in records)
    assert changed > 100
    assert len(lists) == -(-changed // 100) + 1  # (+1: the first request, that Ory answers)

    def one_each(self: OryAdmin, identity_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        found = {i: self.get_identity(i) for i in identity_ids}
        return {i: identity for i, identity in found.items() if identity is not None}

    monkeypatch.setattr(OryAdmin, "get_identities", one_each)
    one_by_one, reads = dry_run("one-by-one")
    assert len([p for p in reads if p.startswith("/admin/identities/")]) >= changed
    assert batched == one_by_one


def test_the_changed_users_identities_are_kept_a_chunk_at_a_time() -> None:
    """Read ahead a chunk at a time, each chunk before its users: one chunk's identities kept."""
    n = cli_sync._READ_CHUNK * 2 + 500
    records = {f"auth0|{k}": ImportedRecord(f"auth0|{k}", f"id-{k}") for k in range(n)}
    asked: list[list[str]] = []

    def read(identity_ids: Sequence[str]) -> Mapping[str, Any]:
        asked.append(list(identity_ids))
        return {i: {"id": i} for i in identity_ids}

    remote = cli_sync._RemoteIdentities(read, records)
    items: list[Any] = []
    for k in range(n):
        items.append(PlannedIdentity(f"auth0|{k}", k, {}))
        items.append(SeenUsers((f"seen|{k}",)))
    held = []
    for item in cli_sync._planned_last(items, remote.read_next):
        if isinstance(item, PlannedIdentity):
            assert remote[item.external_id] == {"id": f"id-{item.line}"}
            assert len(remote._seen) <= cli_sync._READ_CHUNK
            held.append(item.line)
        else:
            assert not held  # the others first
    assert held == list(range(n))
    assert [len(a) for a in asked] == [cli_sync._READ_CHUNK] * 2 + [500]
    assert remote["auth0|0"] == {"id": "id-0"}  # an earlier chunk's user: read again
    assert asked[-1] == ["id-0"]
