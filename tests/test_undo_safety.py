"""`undo` deletes only what this tool created: the identity is checked before each delete."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from auth0_ory_migrate import ImportOutcome, Ledger, OryAdmin, import_identities, undo_import
from auth0_ory_migrate.testing import OryAdminServer

from .test_state_full_disk import KEY, body, cli


# conftest's fixtures: no backoff waits, and the Ory test server with KEY.
pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_forged_ledger_line_does_not_delete_an_unrelated_identity(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """A ledger line naming someone else's identity: left alone, listed with why; exit 0."""
    mine = server.add_identity(body(1))
    theirs = server.add_identity(body(2))
    state = tmp_path / "state"
    with Ledger.open(state, input_digest="d", input_name="ids.ndjson") as ledger:
        ledger.note_attempt(["auth0|000001", "auth0|000009"], at=time.time() - 60)
        ledger.record(
            [
                ImportOutcome("auth0|000001", "created", mine.id),
                ImportOutcome("auth0|000009", "created", theirs.id),  # forged
            ]
        )
    result = cli("undo", "--ory-url", server.url, "--state-dir", str(state), "--yes")
    assert result.exit_code == 0, result.output
    assert server.identity(theirs.id) is not None
    assert server.identity(mine.id) is None
    assert "deleted 1, already gone 1, failed 0, left alone 0" in result.output
    assert f"already gone: auth0|000009 ({theirs.id}): no identity has external_id" in (
        result.output
    )
    assert f"(identity {theirs.id} is left alone)" in result.output


def test_an_identity_now_carrying_another_external_id_is_left_alone(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """The ledger's identity id is not the one Ory has under the user's external id: kept."""
    other = server.add_identity(body(2))
    real = server.add_identity(body(1))
    with Ledger.open(tmp_path / "s", input_digest="d") as ledger:
        ledger.note_attempt(["auth0|000001"], at=time.time() - 60)
        ledger.record([ImportOutcome("auth0|000001", "created", other.id)])
        with OryAdmin.from_url(server.url, api_key=KEY) as ory:
            result = undo_import(ledger.undo_targets(), ory, ledger)
    assert server.identity(other.id) is not None
    assert server.identity(real.id) is not None
    assert result.deleted == 0
    [kept] = result.left_alone
    assert kept.reason is not None
    assert f"identity {real.id} does" in kept.reason


def test_an_identity_created_before_the_first_attempt_is_left_alone(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """created_at earlier than this tool first sent the user (beyond the skew): not deleted."""
    old = server.add_identity(body(1))
    with Ledger.open(tmp_path / "s", input_digest="d") as ledger:
        ledger.note_attempt(["auth0|000001"], at=time.time() + 3600)
        ledger.record([ImportOutcome("auth0|000001", "created", old.id)])
        with OryAdmin.from_url(server.url, api_key=KEY) as ory:
            result = undo_import(ledger.undo_targets(), ory, ledger)
    assert server.identity(old.id) is not None
    [kept] = result.left_alone
    assert kept.reason is not None
    assert "before this tool first sent the user" in kept.reason
    with Ledger.open_existing(tmp_path / "s") as ledger:
        assert [t.identity_id for t in ledger.undo_targets()] == [old.id]  # still recorded


def test_found_after_a_lost_answer_is_not_created_and_undo_leaves_it(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """An identity there before the import, found after a dropped request: uncertain, kept."""
    before = server.add_identity(body(1))
    time.sleep(0.01)  # created strictly before the import's first attempt
    server.faults.drop_before_commit_next = 1
    state = tmp_path / "s"
    with (
        Ledger.open(state, input_digest="d") as ledger,
        OryAdmin.from_url(server.url, api_key=KEY) as ory,
    ):
        result = import_identities([body(1), body(2)], ory, ledger=ledger)
    assert result.created == 1
    assert result.uncertain == 1
    lines = [json.loads(x) for x in (state / "ledger.ndjson").read_text().splitlines()]
    statuses = {e["external_id"]: e["status"] for e in lines if "status" in e}
    assert statuses == {"auth0|000001": "uncertain", "auth0|000002": "created"}
    undone = cli("undo", "--ory-url", server.url, "--state-dir", str(state), "--yes")
    assert undone.exit_code == 0, undone.output
    assert server.identity(before.id) is not None
    assert server.identity_by_external_id("auth0|000002") is None
    assert "left alone: auth0|000001" in undone.output
    assert "--include-uncertain" in undone.output
    again = cli(
        "undo", "--ory-url", server.url, "--state-dir", str(state), "--yes", "--include-uncertain"
    )
    assert again.exit_code == 0, again.output
    assert server.identity(before.id) is None


def test_a_created_line_without_a_recorded_attempt_needs_include_uncertain(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """No attempt line (an old or hand-written ledger): whether it is ours cannot be told."""
    ident = server.add_identity(body(1))
    with Ledger.open(tmp_path / "s", input_digest="d") as ledger:
        ledger.record([ImportOutcome("auth0|000001", "created", ident.id)])
        with OryAdmin.from_url(server.url, api_key=KEY) as ory:
            kept = undo_import(ledger.undo_targets(), ory, ledger)
            assert server.identity(ident.id) is not None
            assert len(kept.left_alone) == 1
            gone = undo_import(ledger.undo_targets(), ory, ledger, include_uncertain=True)
    assert gone.deleted == 1
    assert server.identity(ident.id) is None


def test_undo_of_a_normal_import_deletes_everything_it_created(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """The ordinary case: everything this tool created is deleted, nothing else."""
    stranger = server.add_identity(body(99))
    with (
        Ledger.open(tmp_path / "s", input_digest="d") as ledger,
        OryAdmin.from_url(server.url, api_key=KEY) as ory,
    ):
        assert import_identities([body(n) for n in range(5)], ory, ledger=ledger).created == 5
        result = undo_import(ledger.undo_targets(), ory, ledger)
    assert (result.deleted, result.left_alone, result.failed) == (5, (), ())
    assert [i.id for i in server.identities()] == [stranger.id]


def test_bare_pairs_are_still_checked_by_external_id(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """created_identities() pairs: deleted when they carry the user id, not otherwise."""
    mine = server.add_identity(body(1))
    theirs = server.add_identity(body(2))
    with Ledger.open(tmp_path / "s", input_digest="d") as ledger:
        ledger.record(
            [
                ImportOutcome("auth0|000001", "created", mine.id),
                ImportOutcome("auth0|000003", "created", theirs.id),
            ]
        )
        with OryAdmin.from_url(server.url, api_key=KEY) as ory:
            result = undo_import(ledger.created_identities(), ory, ledger)
    assert result.deleted == 1
    assert server.identity(mine.id) is None
    assert server.identity(theirs.id) is not None
    assert [o.external_id for o in result.not_found] == ["auth0|000003"]
