"""The `import`, `verify`, `undo` and `migrate` commands, end to end against the test Ory server."""

from __future__ import annotations

import collections
import csv
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

from auth0_ory_migrate import OryAdmin
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import OryAdminServer, OryFaults


KEY = "ory_pat_cli_secret_0123456789"
BCRYPT = "$2b$10$0nfDrwOT.zJxjGWJfOhkxuaXk.OResX5NSyIrYnT5bstE7rgvTngq"
ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("no_backoff")


def body(n: int, email: str | None = None) -> dict[str, Any]:
    email = email or f"user{n}@example.com"
    return {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n:06d}",
        "traits": {"email": email},
        "verifiable_addresses": [
            {"value": email, "verified": True, "via": "email", "status": "completed"}
        ],
        "recovery_addresses": [{"value": email, "via": "email"}],
        "credentials": {"password": {"config": {"hashed_password": BCRYPT}}},
    }


def write_identities(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(b) + "\n" for b in items))
    return path


def cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(
        main, list(args), env={"ORY_API_KEY": KEY, **(env or {})}, input=input
    )


def each_once(server: OryAdminServer) -> dict[str, str]:
    counts = collections.Counter(i.external_id for i in server.identities())
    assert not counts or max(counts.values()) == 1
    return {str(i.external_id): i.id for i in server.identities()}


def no_key(result: Result) -> None:
    assert KEY not in result.output
    assert KEY not in result.stderr


# -- import --------------------------------------------------------------------------------


def test_import_then_rerun_creates_nothing_new(server: OryAdminServer, in_tmp_path: Path) -> None:
    """First run imports everyone (exit 0); the same command again sends nothing."""
    ids = write_identities(in_tmp_path / "ids.ndjson", [body(i) for i in range(40)])
    first = cli("import", "--identities", str(ids), "--ory-url", server.url, "--batch-size", "15")
    assert first.exit_code == 0, first.output
    assert "created 40, already in Ory 0" in first.output
    before = each_once(server)
    assert len(before) == 40
    server.requests.clear()
    again = cli("import", "--identities", str(ids), "--ory-url", server.url)
    assert again.exit_code == 0, again.output
    assert "created 0, already in Ory 0, imported by an earlier run 40" in again.output
    assert each_once(server) == before
    assert not [r for r in server.requests if r.method == "PATCH"]
    with (in_tmp_path / ".auth0-ory-migrate" / "identity-ids.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert dict(rows[1:]) == before
    no_key(first)


def test_fresh_state_rerun_finds_everyone_present(
    server: OryAdminServer, in_tmp_path: Path
) -> None:
    """With another state dir, everyone resolves to `already in Ory`; nobody is duplicated."""
    ids = write_identities(in_tmp_path / "ids.ndjson", [body(i) for i in range(20)])
    assert cli("import", "--identities", str(ids), "--ory-url", server.url).exit_code == 0
    second = cli(
        "import", "--identities", str(ids), "--ory-url", server.url, "--state-dir", "other"
    )
    assert second.exit_code == 0, second.output
    assert "created 0, already in Ory 20" in second.output
    assert len(each_once(server)) == 20


def test_failures_are_listed_and_exit_1(server: OryAdminServer, in_tmp_path: Path) -> None:
    """A clash and a bad hash fail their users only; each is listed; exit status 1."""
    holder = server.add_identity(body(900, "taken@example.com"))
    items = [body(i) for i in range(10)]
    items[3] = body(3, "Taken@example.com")
    items[7]["credentials"] = {"password": {"config": {"hashed_password": "$foo$bar"}}}
    ids = write_identities(in_tmp_path / "ids.ndjson", items)
    result = cli("import", "--identities", str(ids), "--ory-url", server.url, "-q")
    assert result.exit_code == 1, result.output
    assert "created 8" in result.output
    assert (
        f"failed: auth0|000003: conflict: email taken@example.com is already used by identity "
        f"{holder.id}"
    ) in result.output
    assert "failed: auth0|000007: Ory answered 400:" in result.output
    assert "run the same command again" in result.output
    assert result.stderr == ""


def test_every_fault_switched_on(in_tmp_path: Path) -> None:
    """Rate limits, 5xx, 504s, dropped answers, a concurrency limit: each user exactly once."""
    faults = OryFaults(
        latency=0.002,
        rate_limit_every=4,
        retry_after=True,
        fail_next=5,
        drop_after_commit_next=3,
        gateway_timeout_next=2,
        gateway_timeout_above=30,
    )
    items = [body(i) for i in range(200)]
    ids = write_identities(in_tmp_path / "ids.ndjson", items)
    with OryAdminServer(api_key=KEY, faults=faults, max_inflight_imports=1) as server:
        result = cli(
            "import",
            "--identities",
            str(ids),
            "--ory-url",
            server.url,
            "--batch-size",
            "50",
            "--concurrency",
            "2",
        )
        assert result.exit_code == 0, result.output
        assert "created 200, already in Ory 0" in result.output
        statuses = {r.status for r in server.requests}
        assert {429, 504} <= statuses
        assert any(r.dropped for r in server.requests)
        assert set(each_once(server)) == {b["external_id"] for b in items}
        no_key(result)


def test_sigkill_mid_import_then_rerun(server: OryAdminServer, in_tmp_path: Path) -> None:
    """A CLI killed with SIGKILL mid-import and run again ends with every user exactly once."""
    items = [body(i) for i in range(500)]
    ids = write_identities(in_tmp_path / "ids.ndjson", items)
    server.faults.latency = 0.04
    command = [
        sys.executable,
        "-m",
        "auth0_ory_migrate",
        "import",
        "--identities",
        str(ids),
        "--ory-url",
        server.url,
        "--batch-size",
        "25",
    ]
    env = {**os.environ, "ORY_API_KEY": KEY, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        command, cwd=in_tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(server.identities()) < 150 and proc.poll() is None:
        assert time.monotonic() < deadline, "the import did not progress"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < len(server.identities()) < 500
    server.faults.latency = 0.0
    rerun = subprocess.run(
        command, cwd=in_tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    on_server = each_once(server)
    assert set(on_server) == {b["external_id"] for b in items}
    ledger = in_tmp_path / ".auth0-ory-migrate" / "ledger.ndjson"
    final: dict[str, tuple[str, str]] = {}
    for line in ledger.read_text().splitlines():
        entry = json.loads(line)
        if "status" in entry:
            final[entry["external_id"]] = (entry["status"], entry["identity_id"])
    assert final == {eid: ("created", iid) for eid, iid in on_server.items()}
    for text in (out.decode(), err.decode(), rerun.stdout, rerun.stderr):
        assert KEY not in text


def test_dry_run_writes_and_sends_nothing(server: OryAdminServer, in_tmp_path: Path) -> None:
    """--dry-run validates, counts who exists, creates no state and no identity."""
    server.add_identity(body(0))
    items = [body(i) for i in range(5)]
    items[2]["nickname"] = "ada"
    ids = write_identities(in_tmp_path / "ids.ndjson", items)
    result = cli("import", "--identities", str(ids), "--ory-url", server.url, "--dry-run")
    assert result.exit_code == 1, result.output
    assert "dry run: 4 identities valid, 1 invalid" in result.output
    assert "already in Ory" in result.output
    assert "invalid: auth0|000002: unknown key(s) Ory would reject: nickname" in result.output
    assert not (in_tmp_path / ".auth0-ory-migrate").exists()
    assert len(server.identities()) == 1
    assert all(r.method == "GET" for r in server.requests)


def test_another_input_under_the_same_state_dir_is_refused(
    server: OryAdminServer, in_tmp_path: Path
) -> None:
    """A different identities file with the same state dir: exit 2, clear message."""
    one = write_identities(in_tmp_path / "one.ndjson", [body(1)])
    two = write_identities(in_tmp_path / "two.ndjson", [body(2)])
    assert cli("import", "--identities", str(one), "--ory-url", server.url).exit_code == 0
    result = cli("import", "--identities", str(two), "--ory-url", server.url)
    assert result.exit_code == 2
    assert "belongs to another input (one.ndjson" in result.stderr


def test_url_from_the_environment_and_usage_errors(
    server: OryAdminServer, in_tmp_path: Path
) -> None:
    """ORY_SDK_URL works; no URL or a bad key is exit 2, and the key is never printed."""
    ids = write_identities(in_tmp_path / "ids.ndjson", [body(1)])
    assert cli("import", "--identities", str(ids)).exit_code == 2
    ok = cli("import", "--identities", str(ids), env={"ORY_SDK_URL": server.url})
    assert ok.exit_code == 0, ok.output
    wrong = "ory_pat_wrong_key_42"
    bad = cli(
        "import", "--identities", str(ids), "--ory-url", server.url, "--state-dir", "s2",
        env={"ORY_API_KEY": wrong},
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "401" in bad.stderr
    assert wrong not in bad.output + bad.stderr


def test_progress_lines_on_stderr_unless_quiet(server: OryAdminServer, in_tmp_path: Path) -> None:
    """Without a terminal, progress is plain lines on stderr; --quiet turns it off."""
    ids = write_identities(in_tmp_path / "ids.ndjson", [body(i) for i in range(3)])
    shown = cli("import", "--identities", str(ids), "--ory-url", server.url)
    assert "users " in shown.stderr
    quiet = cli("verify", "--identities", str(ids), "--ory-url", server.url, "--quiet")
    assert quiet.stderr == ""


# -- verify and undo -----------------------------------------------------------------------


def test_verify(server: OryAdminServer, in_tmp_path: Path) -> None:
    """Exit 0 when everyone is there; 1 with each missing user listed."""
    items = [body(i) for i in range(6)]
    ids = write_identities(in_tmp_path / "ids.ndjson", items)
    assert cli("import", "--identities", str(ids), "--ory-url", server.url).exit_code == 0
    good = cli("verify", "--identities", str(ids), "--ory-url", server.url)
    assert good.exit_code == 0, good.output
    assert "in the file 6, found in Ory 6, missing 0" in good.output
    gone = server.identity_by_external_id("auth0|000004")
    assert gone is not None
    assert OryAdmin.from_url(server.url, KEY).delete_identity(gone.id)
    stranger = server.add_identity(body(77))
    bad = cli("verify", "--identities", str(ids), "--ory-url", server.url)
    assert bad.exit_code == 1
    assert "missing: auth0|000004" in bad.output
    assert f"not in the file: {stranger.id}" in bad.output


def test_undo(server: OryAdminServer, in_tmp_path: Path) -> None:
    """Undo asks first; declined is exit 2 and deletes nothing; --yes deletes what was created."""
    before = server.add_identity(body(0))
    ids = write_identities(in_tmp_path / "ids.ndjson", [body(i) for i in range(5)])
    assert cli("import", "--identities", str(ids), "--ory-url", server.url).exit_code == 0
    declined = cli("undo", "--ory-url", server.url, input="n\n")
    assert declined.exit_code == 2
    assert "Delete 4 identities" in declined.output
    assert len(server.identities()) == 5
    done = cli("undo", "--ory-url", server.url, "--yes")
    assert done.exit_code == 0, done.output
    assert "deleted 4, already gone 0, failed 0" in done.output
    assert [i.id for i in server.identities()] == [before.id]
    nothing = cli("undo", "--ory-url", server.url, "--yes")
    assert "nothing to undo" in nothing.output
    again = cli("import", "--identities", str(ids), "--ory-url", server.url)
    assert again.exit_code == 0
    assert "created 4, already in Ory 0, imported by an earlier run 1" in again.output


# -- migrate -------------------------------------------------------------------------------


def test_migrate_streams_convert_into_ory(
    server: OryAdminServer, in_tmp_path: Path, examples: Path
) -> None:
    """Migrate = convert + import: same identities as convert writes, then nothing new."""
    inputs = [
        "--users",
        str(examples / "auth0-users.ndjson"),
        "--password-hashes",
        str(examples / "auth0-password-hashes.json"),
    ]
    converted = cli("convert", *inputs, "--out", "ids.ndjson", "--report", "convert.json")
    assert converted.exit_code == 0, converted.output
    expected = [json.loads(line) for line in (in_tmp_path / "ids.ndjson").read_text().splitlines()]
    result = cli("migrate", *inputs, "--ory-url", server.url)
    assert result.exit_code == 0, result.output
    assert f"created {len(expected)}, already in Ory 0" in result.output
    assert (in_tmp_path / "report.json").is_file()
    assert set(each_once(server)) == {b["external_id"] for b in expected}
    for b in expected:
        stored = server.identity_by_external_id(b["external_id"])
        assert stored is not None
        assert stored.traits == b["traits"]
        assert stored.credentials == b.get("credentials", {})
    again = cli("migrate", *inputs, "--ory-url", server.url)
    assert again.exit_code == 0, again.output
    assert (
        f"created 0, already in Ory 0, imported by an earlier run {len(expected)}" in again.output
    )
    verified = cli("verify", "--identities", "ids.ndjson", "--ory-url", server.url)
    assert verified.exit_code == 0, verified.output


def test_ctrl_c_mid_import_exits_130_without_a_traceback(
    server: OryAdminServer, in_tmp_path: Path
) -> None:
    """SIGINT (Ctrl-C) mid-import: exit 130, one line, no traceback; a rerun finishes the job."""
    items = [body(i) for i in range(300)]
    ids = write_identities(in_tmp_path / "ids.ndjson", items)
    server.faults.latency = 0.04
    command = [sys.executable, "-m", "auth0_ory_migrate", "import", "--identities", str(ids)]
    command += ["--ory-url", server.url, "--batch-size", "25"]
    env = {**os.environ, "ORY_API_KEY": KEY, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        command, cwd=in_tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(server.identities()) < 50 and proc.poll() is None:
        assert time.monotonic() < deadline, "the import did not progress"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out.decode() + err.decode()
    assert "Traceback" not in err.decode()
    assert "interrupted" in err.decode()
    server.faults.latency = 0.0
    rerun = subprocess.run(
        command, cwd=in_tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert set(each_once(server)) == {b["external_id"] for b in items}


@pytest.mark.parametrize("dry_run", [False, True])
def test_import_of_a_raw_auth0_export_says_run_convert_first_once(
    server: OryAdminServer, in_tmp_path: Path, examples: Path, dry_run: bool
) -> None:
    """Import given Auth0's user export: one line "run convert first", exit 2, nothing sent."""
    args = ["import", "--identities", str(examples / "auth0-users.ndjson"), "--ory-url", server.url]
    result = cli(*args, *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 2, result.output
    said = result.output  # stdout and stderr
    assert said.count("this looks like an Auth0 export: run convert first") == 1
    assert len(said.strip().splitlines()) == 1
    assert server.identities() == []
    assert not (in_tmp_path / ".auth0-ory-migrate").exists()


@pytest.mark.parametrize("command", ["import", "verify"])
def test_an_empty_identities_file_is_refused_before_anything_is_sent(
    server: OryAdminServer, in_tmp_path: Path, command: str
) -> None:
    """An empty (or blank) identities file: one line, exit 2, no request, no state directory."""
    empty = in_tmp_path / "identities.ndjson"
    empty.write_bytes(b"\n  \n")
    result = cli(command, "--identities", str(empty), "--ory-url", server.url)
    assert result.exit_code == 2, result.output
    assert "the file is empty" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert server.requests == []
    assert not (in_tmp_path / ".auth0-ory-migrate").exists()
