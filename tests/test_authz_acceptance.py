"""Issue 15's acceptance: 10,000 users, 50 roles, 200 organizations, 429s and a SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import OryAdminServer, auth0_users, authz_graph, write_export

from .test_authz_ory import patched_items, sigkill_when
from .test_cli_authz import expected_memberships


KEY = "ory_pat_acceptance_secret_0123456789"
ROOT = Path(__file__).resolve().parent.parent

# The command line in a child process, without backoff waits (the 429s' handling is what is
# tested, not how long it waits).
_CHILD = textwrap.dedent(
    """
    import sys
    import stamina
    from auth0_ory_migrate._cli import main

    stamina.set_testing(True, attempts=10)
    main(sys.argv[1:], prog_name="auth0-ory-migrate")
    """
)


@pytest.mark.usefixtures("no_backoff")
def test_ten_thousand_users_land_every_assignment_once_through_429s_and_sigkill(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """Migrate, then `authz land` killed mid-run and run again: every assignment, once."""
    users = auth0_users(10_000, seed=150, real_hashes=False)
    write_export(tmp_path, users, mfa_secrets=False)
    authz_graph(users, roles=50, organizations=200, seed=150).write(tmp_path)
    state, report = tmp_path / "state", tmp_path / "report.json"
    migrated = CliRunner().invoke(
        main,
        ["migrate", "--users", str(tmp_path / "auth0-users.ndjson.gz"), "--ory-url",
         server.url, "--state-dir", str(state), "--report", str(report), "--quiet"],
        env={"ORY_API_KEY": KEY},
    )  # fmt: skip
    assert migrated.exit_code == 0, migrated.output
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    command = [sys.executable, str(script), "authz", "land", "--authz-files", str(tmp_path),
               "--ory-url", server.url, "--state-dir", str(state), "--report", str(report),
               "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORY_API_KEY": KEY}
    server.faults.latency = 0.01
    server.faults.rate_limit_every = 9
    err = sigkill_when(command, env, lambda: patched_items(server) >= 4000, within=120)
    server.faults.latency = 0.0
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                           check=False)  # fmt: skip
    # Users skipped at import (no email...) have assignments that cannot land: exit 1, counted.
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert "not landed:" in rerun.stdout
    assert KEY not in rerun.stdout + rerun.stderr + err.decode()

    expected = expected_memberships(tmp_path, report, server)
    stored = [
        (t["namespace"], t["object"], t["relation"], t.get("subject_id", ""))
        for t in server.relations.all()
    ]
    assert len(stored) == len(set(stored))
    members = {t for t in stored if t[2] == "member"}
    assert members == expected
    assert len(expected) > 10_000
    assert patched_items(server) <= len(stored) + 40  # at most the chunk in flight went twice
    rate_limited = [r for r in server.requests if r.path == "/admin/relation-tuples"
                    and r.status == 429]  # fmt: skip
    assert rate_limited
