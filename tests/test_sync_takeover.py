"""``sync`` when a user skipped at import now joins an imported user's identity (a merge)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import ExportScope, export_scope_path
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import OryAdminServer


KEY = "ory_pat_takeover_0123456789"

pytestmark = pytest.mark.usefixtures("no_backoff")

DATABASE = "auth0|0a1b2c3d4e5f60718293a4b5"
GOOGLE = "google-oauth2|104857600123456789012"


def _user(user_id: str, *, verified: bool, updated: str) -> dict[str, Any]:
    connection, _, raw = user_id.partition("|")
    social = connection != "auth0"
    return {
        "user_id": user_id,
        "email": "ada@example.com",
        "email_verified": verified,
        "name": "Ada Lovelace",
        "created_at": "2024-01-02T03:04:05.000Z",
        "updated_at": updated,
        "identities": [
            {
                "connection": "google-oauth2" if social else "Username-Password-Authentication",
                "provider": "google-oauth2" if social else "auth0",
                "user_id": raw,
                "isSocial": social,
            }
        ],
    }


def _export(directory: Path, users: list[dict[str, Any]]) -> Path:
    directory.mkdir()
    path = directory / "auth0-users.ndjson.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(u) + "\n" for u in users)
    scope = ExportScope(connection_id=None, limit=None, job_id="job_1", users=len(users))
    export_scope_path(path).write_text(scope.to_json())
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORY_API_KEY": KEY})


def _migrated(
    server: OryAdminServer, tmp_path: Path, users: list[dict[str, Any]]
) -> tuple[str, Result]:
    """*users* exported and migrated: the state directory and what ``migrate`` did."""
    first = _export(tmp_path / "first", users)
    state = str(tmp_path / "state")
    result = _run("migrate", "--users", str(first), "--ory-url", server.url, "--state-dir",
                  state, "--quiet")  # fmt: skip
    return state, result


def _takeover(server: OryAdminServer, tmp_path: Path) -> tuple[str, Result, Path]:
    """Ada migrated as her Google user only; later, her database user verified the email too.

    Returns the state directory, what ``migrate`` did, and the later export.
    """
    google = _user(GOOGLE, verified=True, updated="2024-02-01T00:00:00.000Z")
    state, result = _migrated(
        server,
        tmp_path,
        [_user(DATABASE, verified=False, updated="2024-02-01T00:00:00.000Z"), google],
    )
    later = _export(
        tmp_path / "later",
        [_user(DATABASE, verified=True, updated="2025-06-03T00:00:00.000Z"), google],
    )
    return state, result, later


def test_a_skipped_user_who_now_merges_takes_over_the_imported_identity(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """The identity already holding the email is updated (new holder's external id), not created."""
    state, result, later = _takeover(server, tmp_path)
    assert result.exit_code == 0, result.output
    (identity,) = server.identities()
    assert identity.external_id == GOOGLE
    sync = ("sync", "--users", str(later), "--ory-url", server.url, "--state-dir", state,
            "--report", str(tmp_path / "report.json"), "--plan-out", str(tmp_path / "plan.ndjson"),
            "--quiet")  # fmt: skip
    result = _run(*sync)
    assert result.exit_code == 0, result.output
    (after,) = server.identities()
    assert after.id == identity.id
    assert after.external_id == DATABASE
    oidc = after.credentials["oidc"]["config"]["providers"]
    assert [(p["provider"], p["subject"]) for p in oidc] == [("google", "104857600123456789012")]
    assert not any(r.method == "POST" for r in server.requests if r.path.endswith("/identities"))
    before = len(server.requests)
    again = _run(*sync)
    assert again.exit_code == 0, again.output
    assert "created 0, updated 0" in again.output
    assert [r.method for r in server.requests[before:]] == ["GET"] * (len(server.requests) - before)


def test_undo_after_a_takeover_deletes_the_identity_the_import_created(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """The identity (now under the new holder's external id) is the import's: undo deletes it."""
    state, migrated, later = _takeover(server, tmp_path)
    assert migrated.exit_code == 0
    result = _run("sync", "--users", str(later), "--ory-url", server.url, "--state-dir", state,
                  "--plan-out", str(tmp_path / "plan.ndjson"), "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    result = _run("undo", "--ory-url", server.url, "--state-dir", state, "--yes", "--quiet")
    assert result.exit_code == 0, result.output
    assert server.identities() == []


def test_an_address_freed_in_the_same_sync_is_taken_on_a_second_try(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """A user takes the email another user gave up in the same sync: 409 first, then done."""
    ada = {**_user(DATABASE, verified=True, updated="2024-02-01T00:00:00.000Z"),
           "email": "ada@example.com"}  # fmt: skip
    bob_id = "auth0|0a1b2c3d4e5f60718293a4b6"
    bob = {**_user(bob_id, verified=True, updated="2024-02-01T00:00:00.000Z"),
           "email": "bob@example.com"}  # fmt: skip
    state, migrated = _migrated(server, tmp_path, [ada, bob])
    assert migrated.exit_code == 0
    # Ada (first in the file) takes Bob's address; Bob moves to a new one.
    later = _export(
        tmp_path / "later",
        [{**ada, "email": "bob@example.com", "updated_at": "2025-06-03T00:00:00.000Z"},
         {**bob, "email": "robert@example.com", "updated_at": "2025-06-03T00:00:00.000Z"}],
    )  # fmt: skip
    result = _run("sync", "--users", str(later), "--ory-url", server.url, "--state-dir", state,
                  "--report", str(tmp_path / "report.json"), "--plan-out",
                  str(tmp_path / "plan.ndjson"), "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "failed 0" in result.output
    emails = {i.external_id: i.traits["email"] for i in server.identities()}
    assert emails == {DATABASE: "bob@example.com", bob_id: "robert@example.com"}
    conflicts = [r for r in server.requests if r.method == "PUT" and r.status == 409]
    assert len(conflicts) == 1
