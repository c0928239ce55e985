"""The ``sync`` command end to end: a tenant imported, the same tenant a week later, synced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import ExportScope, Ledger, export_scope_path
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import (
    FakeAuth0User,
    LaterTenant,
    OryAdminServer,
    auth0_users,
    tenant_a_week_later,
    write_export,
)


KEY = "ory_pat_sync_secret_0123456789"


pytestmark = pytest.mark.usefixtures("no_backoff")


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORY_API_KEY": KEY})


def _files(directory: Path) -> list[str]:
    return ["--users", str(directory / "auth0-users.ndjson.gz"), "--password-hashes",
            str(directory / "auth0-password-hashes.json")]  # fmt: skip


def _complete(directory: Path, users: int) -> None:
    """The scope file `export --all-connections` writes next to the users file."""
    scope = ExportScope(connection_id=None, limit=None, job_id="job_1", users=users)
    export_scope_path(directory / "auth0-users.ndjson.gz").write_text(scope.to_json())


def migrated_then_later(
    server: OryAdminServer, tmp_path: Path, users: list[FakeAuth0User], **changes: Any
) -> LaterTenant:
    """*users* exported (``first``) and migrated with the state directory ``state``.

    Returns the tenant a week later (``tenant_a_week_later`` with *changes*), exported in
    ``later``.
    """
    first, later_dir = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later_dir.mkdir()
    write_export(first, users, mfa_secrets=False)
    state = tmp_path / "state"
    result = _run("migrate", *_files(first), "--ory-url", server.url, "--state-dir", str(state),
                  "--report", str(tmp_path / "first-report.json"), "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    later = tenant_a_week_later(users, real_hashes=False, **changes)
    write_export(later_dir, later.users, mfa_secrets=False)
    return later


@pytest.fixture
def imported(server: OryAdminServer, tmp_path: Path) -> tuple[Path, LaterTenant]:
    """150 users migrated into Ory with a state directory; the tenant a week later, exported."""
    later = migrated_then_later(
        server, tmp_path, auth0_users(150, seed=21, real_hashes=False), seed=5
    )
    _complete(tmp_path / "later", len(later.users))
    return tmp_path, later


def _sync(tmp_path: Path, server: OryAdminServer, *extra: str) -> Result:
    return _run("sync", *_files(tmp_path / "later"), "--ory-url", server.url,
                "--state-dir", str(tmp_path / "state"), "--plan-out", str(tmp_path / "plan.ndjson"),
                "--report", str(tmp_path / "report.json"), "--quiet", *extra)  # fmt: skip


def _writes(server: OryAdminServer) -> list[Any]:
    return [r for r in server.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def _by_external_id(server: OryAdminServer) -> dict[str, Any]:
    return {i.external_id: i for i in server.identities() if i.external_id is not None}


def test_dry_run_prints_the_plan_and_writes_nothing(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """A dry run prints the counts on stdout, the per-user plan in a file, no write to Ory."""
    tmp_path, later = imported
    before = len(_writes(server))
    result = _sync(tmp_path, server, "--dry-run")
    assert result.exit_code == 0, result.output
    assert len(_writes(server)) == before
    assert f"create:              {len(later.new):>9,}" in result.stdout
    assert "dry run: nothing was changed in Ory" in result.stdout
    plan = [json.loads(line) for line in (tmp_path / "plan.ndjson").read_text().splitlines()]
    assert {p["external_id"] for p in plan if p["kind"] == "create"} == set(later.new)
    assert "hashed_password" not in (tmp_path / "plan.ndjson").read_text()


def test_sync_carries_every_change_once_and_a_second_sync_changes_nothing(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """New users created, blocked inactive, changed emails updated; a second sync sends nothing."""
    tmp_path, later = imported
    result = _sync(tmp_path, server)
    assert result.exit_code == 0, result.output
    ory = _by_external_id(server)
    assert set(later.new) <= set(ory)
    assert all(ory[u].state == "inactive" for u in later.blocked)
    assert all(ory[u].state == "active" for u in later.unblocked)
    emails = {u.user_id: u.record.get("email") for u in later.users}
    assert all(ory[u].traits["email"] == emails[u] for u in later.email_changed)
    assert all(u in ory for u in later.deleted)  # --removed keep (the default)
    writes = len(_writes(server))
    again = _sync(tmp_path, server)
    assert again.exit_code == 0, again.output
    assert "created 0, updated 0" in again.stdout
    assert len(_writes(server)) == writes


def test_removals_need_a_complete_export(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """--removed deactivate with an export that has no scope file removes nobody, and says why."""
    tmp_path, later = imported
    export_scope_path(tmp_path / "later" / "auth0-users.ndjson.gz").unlink()
    result = _sync(tmp_path, server, "--removed", "deactivate")
    assert result.exit_code == 0, result.output
    assert "no removal planned" in result.stderr
    assert "no scope file" in result.stderr
    ory = _by_external_id(server)
    assert all(ory[u].state == "active" for u in later.deleted if u not in later.blocked)


def test_removals_with_a_complete_export_deactivate(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """A complete export and --removed deactivate: the users deleted in Auth0 become inactive."""
    tmp_path, later = imported
    result = _sync(tmp_path, server, "--removed", "deactivate")
    assert result.exit_code == 0, result.output
    ory = _by_external_id(server)
    assert later.deleted
    assert all(ory[u].state == "inactive" for u in later.deleted)


def test_a_state_directory_without_an_import_is_exit_2(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """Sync with a state directory no import used: one error, exit 2, nothing sent or written."""
    tmp_path, _ = imported
    before = len(server.requests)
    result = _run("sync", *_files(tmp_path / "later"), "--ory-url", server.url,
                  "--state-dir", str(tmp_path / "nowhere"),
                  "--plan-out", str(tmp_path / "p.ndjson"))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "no import state" in result.output
    assert "Traceback" not in result.output
    assert len(server.requests) == before
    assert not (tmp_path / "p.ndjson").exists()


def test_a_plan_file_over_an_input_is_exit_2(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """--plan-out naming the users file: refused before anything is read or sent."""
    tmp_path, _ = imported
    users = tmp_path / "later" / "auth0-users.ndjson.gz"
    size = users.stat().st_size
    result = _run("sync", *_files(tmp_path / "later"), "--ory-url", server.url,
                  "--state-dir", str(tmp_path / "state"), "--plan-out", str(users))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert users.stat().st_size == size


def test_an_unreachable_ory_is_exit_2(imported: tuple[Path, LaterTenant]) -> None:
    """Ory down: one error naming it, exit 2, no plan file."""
    tmp_path, _ = imported
    result = _run("sync", *_files(tmp_path / "later"), "--ory-url", "http://127.0.0.1:9",
                  "--state-dir", str(tmp_path / "state"),
                  "--plan-out", str(tmp_path / "p.ndjson"), "--dry-run")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "p.ndjson").exists()


def test_a_refused_key_is_exit_2_before_anything_is_written(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """A wrong API key: one error, exit 2, no plan or report written, even when nothing changed."""
    tmp_path, _ = imported
    args = ["sync", *_files(tmp_path / "first"), "--ory-url", server.url, "--api-key", "wrong",
            "--state-dir", str(tmp_path / "state"), "--plan-out", str(tmp_path / "p.ndjson"),
            "--report", str(tmp_path / "r.json")]  # fmt: skip
    result = CliRunner().invoke(main, args)  # the export imported: nothing to read but the check
    assert result.exit_code == 2, result.output
    assert "wrong" not in result.output
    assert not (tmp_path / "p.ndjson").exists()
    assert not (tmp_path / "r.json").exists()


#: ``python -m auth0_ory_migrate``, that says at exit whether ory-client was loaded.
_SAYS_IF_ORY_CLIENT_LOADED = (
    "import atexit, runpy, sys; "
    "atexit.register(lambda: print('ory_client loaded:', 'ory_client' in sys.modules, "
    "file=sys.stderr)); sys.argv[0] = 'auth0-ory-migrate'; "
    "runpy.run_module('auth0_ory_migrate', run_name='__main__')"
)


def _sync_args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-c", _SAYS_IF_ORY_CLIENT_LOADED, "sync", *_files(tmp_path / "later"),
            "--ory-url", url, "--state-dir", str(tmp_path / "state"), "--quiet",
            "--plan-out", str(tmp_path / "p.ndjson"), "--report", str(tmp_path / "r.json"),
            *extra]  # fmt: skip


def _sync_process(
    tmp_path: Path, url: str, key: str, *extra: str, dry_run: bool = True
) -> subprocess.CompletedProcess[str]:
    """``sync [--dry-run]`` as an operator runs it: its own process (which may fork)."""
    args = _sync_args(tmp_path, url, *(["--dry-run"] if dry_run else []), *extra)
    env = {**os.environ, "ORY_API_KEY": key}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_a_dry_run_in_its_own_process_asks_ory_once_and_plans(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """In its own process: exit 0, the plan, Ory asked once, ory-client never loaded there."""
    tmp_path, later = imported
    before = len(server.requests)
    done = _sync_process(tmp_path, server.url, KEY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dry run: nothing was changed in Ory" in done.stdout
    assert "ory_client loaded: False" in done.stderr  # (a forked child asked and read Ory)
    plan = [json.loads(line) for line in (tmp_path / "p.ndjson").read_text().splitlines()]
    assert {p["external_id"] for p in plan if p["kind"] == "create"} == set(later.changes["new"])
    asked = server.requests[before:]
    assert [(r.method, r.query) for r in asked if r.query == "page_size=1"] == [
        ("GET", "page_size=1")
    ]
    assert not [r for r in asked if r.method != "GET"]
    reads = [r for r in asked if "ids=" in r.query]
    assert reads  # the changed users, 100 a request, by the child
    assert not [r for r in asked if r.path.startswith("/admin/identities/")]


def test_in_its_own_process_an_unreachable_ory_is_exit_2(
    imported: tuple[Path, LaterTenant],
) -> None:
    """In its own process: Ory down is one error naming it, exit 2, no traceback, no plan."""
    tmp_path, _ = imported
    done = _sync_process(tmp_path, "http://127.0.0.1:9", KEY)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no answer from Ory" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "p.ndjson").exists()
    assert not (tmp_path / "r.json").exists()


def test_in_its_own_process_a_refused_key_is_exit_2(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """In its own process: a wrong key is Ory's 401, exit 2, the key not shown, nothing written."""
    tmp_path, _ = imported
    done = _sync_process(tmp_path, server.url, "ory_pat_wrong_key_0123456789")
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "401" in out
    assert "ory_pat_wrong_key_0123456789" not in out
    assert "Traceback" not in out
    assert not (tmp_path / "p.ndjson").exists()


def test_in_its_own_process_a_sync_writes_the_changes_once(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """In its own process (Ory read by the forked child): the changes written; again, nothing."""
    tmp_path, later = imported
    done = _sync_process(tmp_path, server.url, KEY, dry_run=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed 0" in done.stdout
    ory = _by_external_id(server)
    assert all(u in ory for u in later.changes["new"])
    assert all(ory[u].state == "inactive" for u in later.changes["blocked"] if u in ory)
    writes = len(_writes(server))
    again = _sync_process(tmp_path, server.url, KEY, dry_run=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "created 0, updated 0" in again.stdout
    assert len(_writes(server)) == writes


def test_in_its_own_process_ctrl_c_leaves_no_process_and_no_lock(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """Ctrl-C (SIGINT to the process group) while Ory is slow: 130, one line, nothing left."""
    tmp_path, _ = imported
    server.faults.latency = 3.0  # the child waits on Ory when the SIGINT comes
    env = {**os.environ, "ORY_API_KEY": KEY}
    with subprocess.Popen(
        _sync_args(tmp_path, server.url, "--dry-run"), env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    ) as proc:  # fmt: skip
        time.sleep(1.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    server.faults.latency = 0.0
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    assert "Traceback" not in err
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no process of its group is left
    assert not (tmp_path / "p.ndjson").exists()
    with Ledger.open_existing(tmp_path / "state"):  # the lock is free
        pass


def test_migrate_and_sync_record_each_body_s_source(
    imported: tuple[Path, LaterTenant], server: OryAdminServer
) -> None:
    """Migrate records where each body came from (keyed, no secret); so do sync's updates."""
    tmp_path, _ = imported
    ledger = tmp_path / "state" / "ledger.ndjson"
    created = [json.loads(line) for line in ledger.read_text().splitlines()]
    created = [line for line in created if line.get("status") == "created"]
    with_source = [line for line in created if "source" in line]
    assert len(with_source) > len(created) // 2  # (not the merged identities, nor noted ones)
    assert all(len(line["source"]) == 32 and len(line["counts"]) == 5 for line in with_source)
    result = _sync(tmp_path, server)
    assert result.exit_code == 0, result.output
    done = [json.loads(line) for line in ledger.read_text().splitlines()]
    done = [line for line in done if line.get("status") == "done" and line.get("op") == "update"]
    assert done
    assert any("source" in line for line in done)
    assert "hashed_password" not in ledger.read_text()
