"""``auth0-ory-migrate convert`` end to end on the examples: files, report, env, exit codes."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import UserScan, plan_migration, read_identities
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import assert_valid_identity_body, auth0_users, write_export


ADA = "auth0|60425dc43519d90068f82973"
EDSGER = "auth0|60425dc43519d90068f82976"
BARBARA = "auth0|60425dc43519d90068f82977"
MALLORY = "auth0|60425dc43519d90068f82978"
UNVERIFIED = "auth0|60425dc43519d90068f82979"
RADIA = "auth0|60425dc43519d90068f82980"
TIM = "auth0|60425dc43519d90068f82981"
TIM_GOOGLE = "google-oauth2|113356789012345678901"
DONALD = "auth0|60425dc43519d90068f82982"
DONALD_LIVE = "windowslive|7b2d1e6f0a9c4d3e"
SMS = "sms|6523a1f0c2b4e8d9a7f05678"
USERNAME_ONLY = "auth0|60425dc43519d90068f82983"
SAML = "samlp|acme-saml|liskov@acme.test"
KEN_THOMPSON = "auth0|60425dc43519d90068f82984"
BYEMAIL = "auth0|60425dc43519d90068f82985"
PASSWORDLESS = "email|6523a1f0c2b4e8d9a7f01234"


def _secrets(examples: Path) -> list[str]:
    """Every hash and MFA secret in the example files."""
    values = [
        json.loads(line)["passwordHash"]
        for line in (examples / "auth0-password-hashes.json").read_text().splitlines()
    ]
    for line in (examples / "auth0-mfa-secrets.ndjson").read_text().splitlines():
        record = json.loads(line)
        values.append(record.get("otp_secret") or record["recovery_code"])
    return values


def _identities(path: Path) -> dict[str, dict[str, Any]]:
    bodies: dict[str, dict[str, Any]] = {}
    with path.open("rb") as f:
        for body in read_identities(f, strict=True):
            assert isinstance(body, dict)
            assert body["external_id"] not in bodies
            bodies[body["external_id"]] = body
    return bodies


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _convert(
    examples: Path, out: Path, *extra: str, env: dict[str, str] | None = None, mfa: bool = True
) -> Result:
    args = [
        "convert",
        "--users",
        str(examples / "auth0-users.ndjson"),
        "--password-hashes",
        str(examples / "auth0-password-hashes.json"),
        "--out",
        str(out / "identities.ndjson"),
        "--report",
        str(out / "report.json"),
    ]
    if mfa:
        args += ["--mfa-secrets", str(examples / "auth0-mfa-secrets.ndjson")]
    return CliRunner().invoke(main, [*args, *extra], env=env, catch_exceptions=False)


def _convert_files(users: Path, hashes: Path, out: Path) -> Result:
    """``convert`` of *users* and *hashes* into ``i.ndjson`` and ``r.json`` in *out*."""
    args = ["convert", "--users", str(users), "--password-hashes", str(hashes)]
    args += ["--out", str(out / "i.ndjson"), "--report", str(out / "r.json")]
    return CliRunner().invoke(main, args)


def _password(body: dict[str, Any]) -> Any:
    return body.get("credentials", {}).get("password", {}).get("config")


def _providers(body: dict[str, Any]) -> list[dict[str, str]]:
    providers: list[dict[str, str]] = (
        body.get("credentials", {}).get("oidc", {}).get("config", {}).get("providers", [])
    )
    return providers


@pytest.fixture(autouse=True)
def _no_guide_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own AUTH0_USERDATA / AUTH0_PWEXPORT / RESERVE_ONLY out of the tests."""
    for name in ("AUTH0_USERDATA", "AUTH0_PWEXPORT", "RESERVE_ONLY"):
        monkeypatch.delenv(name, raising=False)


# --- the examples, end to end ----------------------------------------------------------------


def test_convert_examples_end_to_end(examples: Path, tmp_path: Path) -> None:
    """Convert on examples/ writes a valid identities file and a complete report, exit 0."""
    result = _convert(examples, tmp_path)
    assert result.exit_code == 0, result.output
    bodies = _identities(tmp_path / "identities.ndjson")
    report = json.loads((tmp_path / "report.json").read_text())
    summary = report["summary"]

    for body in bodies.values():
        assert_valid_identity_body(body)
    assert len(bodies) == summary["identities"]
    assert summary["users_read"] == 21
    assert summary["users_read"] == (
        summary["identities"] + summary["merged"] + sum(summary["skipped"].values())
    )

    # Passwords: hash by id (every _id form), by email for the id-less record; hook otherwise.
    assert _password(bodies[ADA])["hashed_password"].startswith("$2b$10$")
    assert _password(bodies["auth0|euclid"])["hashed_password"].startswith("$2b$10$")
    assert _password(bodies[BYEMAIL])["hashed_password"].startswith("$2b$10$")
    assert _password(bodies[EDSGER]) == {"use_password_migration_hook": True}
    assert _password(bodies[BARBARA]) == {"use_password_migration_hook": True}  # stale hash
    assert _password(bodies[KEN_THOMPSON]) == {"use_password_migration_hook": True}  # cost 31
    assert _password(bodies["github|5812309"]) is None

    # Logins, state, addresses, TOTP, metadata.
    assert _providers(bodies["github|5812309"]) == [{"provider": "github", "subject": "5812309"}]
    assert _providers(bodies[RADIA]) == [{"provider": "github", "subject": "9910001"}]
    assert _password(bodies[RADIA])["hashed_password"]
    assert _providers(bodies[TIM]) == [{"provider": "google", "subject": "113356789012345678901"}]
    assert bodies[TIM]["metadata_admin"]["auth0"]["merged_user_ids"] == [TIM_GOOGLE]
    assert _providers(bodies[DONALD_LIVE]) == [
        {"provider": "microsoft", "subject": "7b2d1e6f0a9c4d3e"}
    ]
    assert bodies[MALLORY]["state"] == "inactive"
    assert bodies[UNVERIFIED]["verifiable_addresses"][0]["status"] == "pending"
    assert bodies[ADA]["credentials"]["totp"]["config"]["totp_url"].startswith(
        "otpauth://totp/Ory:ada@example.com?"
    )
    assert bodies[ADA]["metadata_public"] == {"locale": "en"}
    assert bodies[ADA]["metadata_admin"]["auth0"]["app_metadata"] == {
        "roles": ["admin"],
        "plan": "pro",
    }
    assert "credentials" not in bodies[PASSWORDLESS]
    assert "credentials" not in bodies[SAML]

    # Everyone who is not an identity of their own is in the report, with id and reason.
    reasons = {u["auth0_user_id"]: (u["reason"], u.get("holder")) for u in report["users"]}
    assert reasons == {
        TIM_GOOGLE: ("merged", TIM),
        DONALD: ("duplicate_email", DONALD_LIVE),
        SMS: ("no_email", None),
        USERNAME_ONLY: ("no_email", None),
    }
    assert set(bodies) | set(reasons) == {
        json.loads(line)["user_id"]
        for line in (examples / "auth0-users.ndjson").read_text().splitlines()
        if line.rstrip().endswith("}")
    }
    assert all(u["detail"] and u["line"] > 0 for u in report["users"])
    notes = {(n["auth0_user_id"], n["reason"]) for n in report["notes"]}
    assert notes == {
        (ADA, "mfa_recovery_codes_not_imported"),
        (BARBARA, "stale_password_hash"),
        (SAML, "enterprise_login_not_imported"),
        (KEN_THOMPSON, "invalid_password_hash"),
        (BYEMAIL, "password_hash_joined_by_email"),  # issue 11: an email join is noted
    }
    # The truncated record on line 13 is reported by line and by its still readable user id,
    # without its content.
    assert report["unreadable"] == [
        {
            "source": "users",
            "line": 13,
            "auth0_user_id": "auth0|broken",
            "reason": report["unreadable"][0]["reason"],
        }
    ]
    assert "broken@example.com" not in (tmp_path / "report.json").read_text()
    assert summary["unreadable"] == {"users": 1}
    assert summary["password_hashes_read"] == 13
    assert summary["unmatched_password_hashes"] == 2
    assert summary["totp"] == 1
    assert summary["blocked"] == 1


def test_output_files_are_private(examples: Path, tmp_path: Path) -> None:
    """The identities file (it holds hashes) and the report get mode 0600, whatever the umask."""
    previous = os.umask(0)
    try:
        assert _convert(examples, tmp_path).exit_code == 0
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "identities.ndjson") == 0o600
    assert _mode(tmp_path / "report.json") == 0o600
    assert not list(tmp_path.glob(".*.part"))


def test_no_secret_in_report_or_output(examples: Path, tmp_path: Path) -> None:
    """No password hash, TOTP secret or recovery code appears in report.json, stdout or stderr."""
    result = _convert(examples, tmp_path)
    assert result.exit_code == 0
    report = (tmp_path / "report.json").read_text()
    secrets = _secrets(examples)
    assert len(secrets) == 15
    for secret in secrets:
        assert secret not in report
        assert secret not in result.stdout
        assert secret not in result.stderr
        assert secret[7:29] not in report + result.output


def test_summary_on_stdout(examples: Path, tmp_path: Path) -> None:
    """Convert prints a short summary naming each count and the files it wrote."""
    result = _convert(examples, tmp_path)
    out = result.stdout
    for label in (
        "users read",
        "identities written",
        "merged",
        "skipped",
        "with password hash",
        "social logins",
        "blocked",
        "unreadable records",
    ):
        assert label in out
    assert "duplicate_email: 1" in out
    assert "no_email: 2" in out
    assert str(tmp_path / "identities.ndjson") in out
    assert str(tmp_path / "report.json") in out


def test_default_output_paths_are_in_the_working_directory(
    examples: Path, in_tmp_path: Path
) -> None:
    """Without --out/--report, identities.ndjson and report.json land in the cwd."""
    result = CliRunner().invoke(main, ["convert", "--users", str(examples / "auth0-users.ndjson")])
    assert result.exit_code == 0, result.output
    assert (in_tmp_path / "identities.ndjson").is_file()
    assert (in_tmp_path / "report.json").is_file()


# --- options and environment -----------------------------------------------------------------


def test_guide_environment_variables(examples: Path, tmp_path: Path) -> None:
    """AUTH0_USERDATA and AUTH0_PWEXPORT stand for --users and --password-hashes."""
    env = {
        "AUTH0_USERDATA": str(examples / "auth0-users.ndjson"),
        "AUTH0_PWEXPORT": str(examples / "auth0-password-hashes.json"),
    }
    out = ["--out", str(tmp_path / "i.ndjson"), "--report", str(tmp_path / "r.json")]
    result = CliRunner().invoke(main, ["convert", *out], env=env)
    assert result.exit_code == 0, result.output
    bodies = _identities(tmp_path / "i.ndjson")
    assert _password(bodies[ADA])["hashed_password"].startswith("$2b$")


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_reserve_only_uses_the_hook_for_every_database_user(
    examples: Path, tmp_path: Path, value: str
) -> None:
    """RESERVE_ONLY=true ignores the hashes: every database user gets the migration hook."""
    result = _convert(examples, tmp_path, env={"RESERVE_ONLY": value})
    assert result.exit_code == 0, result.output
    content = (tmp_path / "identities.ndjson").read_text()
    assert "hashed_password" not in content
    bodies = _identities(tmp_path / "identities.ndjson")
    for user_id in (ADA, EDSGER, BARBARA, KEN_THOMPSON, "auth0|euclid", RADIA):
        assert _password(bodies[user_id]) == {"use_password_migration_hook": True}
    assert _password(bodies["github|5812309"]) is None
    summary = json.loads((tmp_path / "report.json").read_text())["summary"]
    assert summary["with_password_hash"] == 0


def test_reserve_only_false_keeps_hashes(examples: Path, tmp_path: Path) -> None:
    """RESERVE_ONLY=false is the default behaviour: usable hashes are imported."""
    result = _convert(examples, tmp_path, env={"RESERVE_ONLY": "false"})
    assert result.exit_code == 0
    assert "hashed_password" in (tmp_path / "identities.ndjson").read_text()


def test_provider_option_maps_an_enterprise_connection(examples: Path, tmp_path: Path) -> None:
    """--provider acme-saml=acme gives the SAML user a login and drops the report's note."""
    result = _convert(examples, tmp_path, "--provider", "acme-saml=acme", "--provider", "github=gh")
    assert result.exit_code == 0, result.output
    bodies = _identities(tmp_path / "identities.ndjson")
    assert _providers(bodies[SAML]) == [
        {"provider": "acme", "subject": "liskov@acme.test", "use_auto_link": True}
    ]
    assert _providers(bodies["github|5812309"]) == [{"provider": "gh", "subject": "5812309"}]
    report = json.loads((tmp_path / "report.json").read_text())
    assert "enterprise_login_not_imported" not in report["summary"]["notes"]


def test_schema_id_and_without_hash_none(examples: Path, tmp_path: Path) -> None:
    """--schema-id sets every body's schema; --without-hash none drops the hook."""
    result = _convert(examples, tmp_path, "--schema-id", "customer-v1", "--without-hash", "none")
    assert result.exit_code == 0, result.output
    bodies = _identities(tmp_path / "identities.ndjson")
    assert {b["schema_id"] for b in bodies.values()} == {"customer-v1"}
    assert "use_password_migration_hook" not in (tmp_path / "identities.ndjson").read_text()
    assert _password(bodies[EDSGER]) is None
    assert _password(bodies[ADA])["hashed_password"]


def test_totp_issuer_option(examples: Path, tmp_path: Path) -> None:
    """--totp-issuer names the issuer of imported TOTP secrets."""
    assert _convert(examples, tmp_path, "--totp-issuer", "Acme").exit_code == 0
    url = _identities(tmp_path / "identities.ndjson")[ADA]["credentials"]["totp"]["config"]
    assert url["totp_url"].startswith("otpauth://totp/Acme:ada@example.com?")
    assert url["totp_url"].endswith("issuer=Acme")


@pytest.mark.parametrize("fmt", ["ndjson.gz", "json"])
def test_other_export_layouts(tmp_path: Path, fmt: str) -> None:
    """A gzipped export and a JSON array convert like plain NDJSON."""
    users = auth0_users(40, seed=21, real_hashes=False)
    files = write_export(tmp_path, users, fmt=fmt)  # type: ignore[arg-type]
    assert files.password_hashes is not None
    result = CliRunner().invoke(
        main,
        [
            "convert",
            "--users",
            str(files.users),
            "--password-hashes",
            str(files.password_hashes),
            "--out",
            str(tmp_path / "i.ndjson"),
            "--report",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["users_read"] == 40
    assert summary["unreadable"] == {}
    assert summary["with_password_hash"] > 0
    for body in _identities(tmp_path / "i.ndjson").values():
        assert_valid_identity_body(body)


# --- failures and exit codes -----------------------------------------------------------------


def test_missing_users_option_is_a_usage_error(in_tmp_path: Path) -> None:
    """Without --users (or AUTH0_USERDATA) convert exits 2 and writes nothing."""
    result = CliRunner().invoke(main, ["convert"], env={"AUTH0_USERDATA": None})
    assert result.exit_code == 2
    assert "--users" in result.output
    assert list(in_tmp_path.iterdir()) == []


def test_missing_input_file_is_a_usage_error(tmp_path: Path) -> None:
    """A --users path that does not exist exits 2."""
    result = CliRunner().invoke(main, ["convert", "--users", str(tmp_path / "nope.ndjson")])
    assert result.exit_code == 2


def test_bad_provider_value_is_a_usage_error(examples: Path, tmp_path: Path) -> None:
    """--provider without CONNECTION=PROVIDER exits 2 naming the bad value."""
    result = _convert(examples, tmp_path, "--provider", "acme-saml")
    assert result.exit_code == 2
    assert "acme-saml" in result.output


def test_reserve_only_with_without_hash_none_is_refused(examples: Path, tmp_path: Path) -> None:
    """RESERVE_ONLY=true cannot work with --without-hash none: exit 2, one clear line."""
    result = _convert(examples, tmp_path, "--without-hash", "none", env={"RESERVE_ONLY": "true"})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "--without-hash" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "identities.ndjson").exists()
    assert not (tmp_path / "report.json").exists()


def test_encrypted_hash_file_exits_2_telling_to_decrypt(tmp_path: Path, examples: Path) -> None:
    """A PGP-encrypted hash export stops the run (exit 2) with the decrypt hint, nothing written."""
    encrypted = tmp_path / "hashes.json.gpg"
    encrypted.write_bytes(
        b"-----BEGIN PGP MESSAGE-----\n\nhQIMA1VwJwVJ\n-----END PGP MESSAGE-----\n"
    )
    result = _convert_files(examples / "auth0-users.ndjson", encrypted, tmp_path)
    assert result.exit_code == 2
    assert "decrypt" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "i.ndjson").exists()
    assert not (tmp_path / "r.json").exists()


def test_strict_stops_at_the_first_unreadable_record(examples: Path, tmp_path: Path) -> None:
    """--strict exits 2 naming line 13; an existing identities file is left as it was."""
    out = tmp_path / "identities.ndjson"
    out.write_text("previous run\n")
    result = _convert(examples, tmp_path, "--strict")
    assert result.exit_code == 2
    assert "line 13" in result.stderr
    assert out.read_text() == "previous run\n"
    assert not list(tmp_path.glob(".*.part"))
    assert not (tmp_path / "report.json").exists()


# --- the first pass in a forked child --------------------------------------------------------


def _plan_spy(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record the ``scan`` that ``convert`` (through plan_from_files) hands to plan_migration."""
    scans: list[object] = []
    real = plan_migration

    def spy(*args: Any, **kwargs: Any) -> Any:
        scans.append(kwargs.get("scan"))
        return real(*args, **kwargs)

    monkeypatch.setattr("auth0_ory_migrate._runtime._parallel.plan_migration", spy)
    return scans


@pytest.mark.skipif(sys.platform != "linux", reason="the scan is forked on Linux only")
def test_users_are_scanned_in_a_child_while_hashes_are_indexed(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a side file, a forked child scans the users; the files are the same as without it."""
    scans = _plan_spy(monkeypatch)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    (tmp_path / "forked").mkdir()
    assert _convert(examples, tmp_path / "forked").exit_code == 0
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    (tmp_path / "alone").mkdir()
    assert _convert(examples, tmp_path / "alone").exit_code == 0

    assert isinstance(scans[0], UserScan)
    assert scans[0].users == 21  # every record with a user id
    assert scans[1] is None  # other threads run: no fork, the plan scans itself
    for name in ("identities.ndjson", "report.json"):
        assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()


def test_a_failed_scan_in_the_child_is_reported_by_the_parent(
    tmp_path: Path, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encrypted user export fails the child's scan; the run still exits 2 with the hint."""
    scans = _plan_spy(monkeypatch)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    encrypted = tmp_path / "users.json.gpg"
    encrypted.write_bytes(b"\x85\x02\x0c\x03" + bytes(range(200)))
    result = _convert_files(encrypted, examples / "auth0-password-hashes.json", tmp_path)
    assert result.exit_code == 2
    assert "decrypt" in result.stderr
    assert scans == [None]
    assert not (tmp_path / "i.ndjson").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_any_number_of_jobs_writes_the_same_files(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--jobs 1, 2 and 3 write byte-identical identities files and reports."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr("auth0_ory_migrate._core._read._BLOCK", 1000)  # several blocks per worker
    written = []
    for jobs in ("1", "2", "3"):
        (tmp_path / jobs).mkdir()
        assert _convert(examples, tmp_path / jobs, "--jobs", jobs).exit_code == 0
        written.append(
            [(tmp_path / jobs / name).read_bytes() for name in ("identities.ndjson", "report.json")]
        )
    assert written[0] == written[1] == written[2]


def test_jobs_must_be_positive(examples: Path, tmp_path: Path) -> None:
    """--jobs 0 is a usage error (exit 2)."""
    result = _convert(examples, tmp_path, "--jobs", "0")
    assert result.exit_code == 2
    assert "--jobs" in result.stderr


# --- every user accounted for: --outcomes --------------------------------------------------------


def _outcomes(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_outcomes_account_for_every_user(examples: Path, tmp_path: Path) -> None:
    """--outcomes: one CSV row per Auth0 user: outcome, password path, social logins, notes."""
    result = _convert(examples, tmp_path, "--outcomes", str(tmp_path / "outcomes.csv"))
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "outcomes.csv") in result.stdout
    rows = _outcomes(tmp_path / "outcomes.csv")
    lines = (examples / "auth0-users.ndjson").read_text().splitlines()
    assert len(rows) == len(lines) == 22
    assert sorted(int(row["line"]) for row in rows) == list(range(1, 23))
    by_id = {row["auth0_user_id"]: row for row in rows if row["outcome"] != "unreadable"}
    assert by_id[TIM_GOOGLE]["outcome"] == f"merged into {TIM}"
    assert by_id[DONALD]["outcome"] == "skipped: duplicate_email"
    assert DONALD_LIVE in by_id[DONALD]["notes"]
    assert by_id[SMS]["outcome"] == "skipped: no_email"
    assert [row["line"] for row in rows if row["outcome"] == "unreadable"] == ["13"]
    assert (by_id[ADA]["password"], by_id[EDSGER]["password"]) == ("hash", "hook")
    assert by_id["github|5812309"]["password"] == "none"
    assert by_id["github|5812309"]["social_logins"] == "1"
    assert by_id[TIM]["social_logins"] == "1"
    assert "stale_password_hash" in by_id[BARBARA]["notes"]
    # The password path of every imported user, as the identities file has it.
    bodies = _identities(tmp_path / "identities.ndjson")
    for user_id, body in bodies.items():
        config = _password(body) or {}
        expected = (
            "hash" if "hashed_password" in config
            else "hook" if config.get("use_password_migration_hook") else "none"
        )  # fmt: skip
        assert (by_id[user_id]["outcome"], by_id[user_id]["password"]) == ("identity", expected)
    outcomes = (tmp_path / "outcomes.csv").read_text()
    for secret in _secrets(examples):
        assert secret not in outcomes


def test_outcomes_file_names_no_secret_so_is_0644(examples: Path, tmp_path: Path) -> None:
    """The outcomes file gets mode 0644 (no secret in it), the others 0600, whatever the umask."""
    previous = os.umask(0o077)
    try:
        result = _convert(examples, tmp_path, "--outcomes", str(tmp_path / "outcomes.csv"))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "outcomes.csv") == 0o644
    assert _mode(tmp_path / "identities.ndjson") == 0o600
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_outcomes_are_the_same_for_any_number_of_jobs(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--jobs 1 and 2 write byte-identical outcomes files (rows in file order)."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr("auth0_ory_migrate._core._read._BLOCK", 1000)  # several blocks per worker
    written = []
    for jobs in ("1", "2"):
        (tmp_path / jobs).mkdir()
        outcomes = tmp_path / jobs / "outcomes.csv"
        result = _convert(examples, tmp_path / jobs, "--jobs", jobs, "--outcomes", str(outcomes))
        assert result.exit_code == 0, result.output
        written.append(outcomes.read_bytes())
    assert written[0] == written[1]
    assert written[0].count(b"\n") == 23


@pytest.mark.parametrize("clash", ["--users", "--password-hashes", "--out", "--report"])
def test_outcomes_naming_another_file_is_refused(
    examples: Path, tmp_path: Path, clash: str
) -> None:
    """--outcomes naming an input or another output: exit 2, nothing written."""
    for name in ("auth0-users.ndjson", "auth0-password-hashes.json"):
        (tmp_path / name).write_bytes((examples / name).read_bytes())
    paths = {
        "--users": tmp_path / "auth0-users.ndjson",
        "--password-hashes": tmp_path / "auth0-password-hashes.json",
        "--out": tmp_path / "identities.ndjson",
        "--report": tmp_path / "report.json",
    }
    before = {name: path.read_bytes() for name, path in paths.items() if path.exists()}
    result = CliRunner().invoke(
        main,
        [
            "convert",
            *("--users", str(paths["--users"])),
            *("--password-hashes", str(paths["--password-hashes"])),
            *("--out", str(paths["--out"]), "--report", str(paths["--report"])),
            *("--outcomes", str(paths[clash])),
        ],
    )
    assert result.exit_code == 2, result.output
    assert f"--outcomes {paths[clash]} is the same file as {clash}" in result.stderr
    assert {name: path.read_bytes() for name, path in paths.items() if path.exists()} == before


def test_no_outcomes_file_when_the_run_is_refused(tmp_path: Path) -> None:
    """A run refused as a whole (here: no readable user) leaves no outcomes file."""
    (tmp_path / "empty.ndjson").write_bytes(b"")
    result = CliRunner().invoke(
        main,
        [
            "convert",
            *("--users", str(tmp_path / "empty.ndjson"), "--out", str(tmp_path / "i.ndjson")),
            *("--report", str(tmp_path / "r.json"), "--outcomes", str(tmp_path / "o.csv")),
        ],
    )
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.ndjson"]


# --- the real command ------------------------------------------------------------------------


@pytest.mark.slow
def test_python_dash_m_matches_the_click_runner(examples: Path, tmp_path: Path) -> None:
    """`python -m auth0_ory_migrate convert` (env-var inputs) writes what CliRunner writes."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _convert(examples, tmp_path / "a", mfa=False).exit_code == 0
    env = {
        **os.environ,
        "AUTH0_USERDATA": str(examples / "auth0-users.ndjson"),
        "AUTH0_PWEXPORT": str(examples / "auth0-password-hashes.json"),
    }
    env.pop("RESERVE_ONLY", None)
    done = subprocess.run(
        [sys.executable, "-m", "auth0_ory_migrate", "convert", "--out", "identities.ndjson"],
        cwd=tmp_path / "b",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "identities written" in done.stdout
    for name in ("identities.ndjson", "report.json"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()
        assert _mode(tmp_path / "b" / name) == 0o600
    for secret in _secrets(examples):
        assert secret not in done.stdout + done.stderr
