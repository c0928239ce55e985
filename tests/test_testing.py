"""auth0_ory_migrate.testing: builders, files, assertions, pytest plugin, the issue's example."""

from __future__ import annotations

import copy
import gzip
import inspect
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from hypothesis import given, settings

from auth0_ory_migrate import (
    Auth0User,
    MappingOptions,
    OryAdmin,
    PlannedIdentity,
    Skipped,
    import_identities,
    index_password_hashes,
    parse_user,
    plan_migration,
    read_mfa_secrets,
    read_password_hashes,
    read_users,
    testing,
)
from auth0_ory_migrate.testing import (
    DATABASE_CONNECTION,
    Auth0ManagementServer,
    ExportFiles,
    FakeAuth0User,
    OryAdminServer,
    assert_migrated,
    assert_password_migrated,
    assert_valid_identity_body,
    auth0_users,
    migration_problems,
    password_users,
    write_export,
)
from auth0_ory_migrate.testing.strategies import auth0_exports


pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
#: Load the plugin by module whether or not the installed package registers its entry point.
PLUGIN_ARGS = ("-p", "no:auth0_ory_migrate", "-p", "auth0_ory_migrate.testing.pytest_plugin")


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def _planned(export: ExportFiles, **options: Any) -> list[PlannedIdentity | Skipped]:
    def users() -> Iterator[Any]:
        with export.users.open("rb") as f:
            yield from read_users(f)

    hashes = None
    if export.password_hashes is not None:
        with export.password_hashes.open("rb") as f:
            hashes = index_password_hashes(read_password_hashes(f))
    mfa = None
    if export.mfa_secrets is not None:
        with export.mfa_secrets.open("rb") as f:
            mfa = list(read_mfa_secrets(f))
    plan = plan_migration(
        users, password_hashes=hashes, mfa_secrets=mfa, options=MappingOptions(**options)
    )
    return [i for i in plan if isinstance(i, PlannedIdentity | Skipped)]


def _import(bodies: list[dict[str, Any]], url: str) -> None:
    with OryAdmin.from_url(url) as ory:
        result = import_identities(bodies, ory)
    assert result.ok, result


# --- the package itself --------------------------------------------------------------------------


def test_import_auth0_ory_migrate_leaves_the_testing_package_alone() -> None:
    """`import auth0_ory_migrate` loads neither this package nor bcrypt nor Hypothesis."""
    done = _python(
        "import sys, auth0_ory_migrate\n"
        "bad = [m for m in sys.modules if m.startswith('auth0_ory_migrate.testing')"
        " or m.split('.')[0] in ('bcrypt', 'hypothesis', 'pytest')]\n"
        "assert not bad, bad\n"
    )
    assert done.returncode == 0, done.stderr


def test_public_names_are_sorted_documented_and_load() -> None:
    """__all__ is sorted, every name loads lazily, and every class or function has a docstring."""
    names = testing.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n[0].islower(), n))
    for name in names:
        value = getattr(testing, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert "versionadded" in (value.__doc__ or ""), name
    assert testing.strategies.auth0_exports is auth0_exports
    assert "strategies" in dir(testing)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = testing.nope


def test_missing_extra_is_named() -> None:
    """Without bcrypt, using a builder says which extra to install."""
    done = _python(
        "import sys\n"
        "sys.modules['bcrypt'] = None\n"
        "from auth0_ory_migrate import testing\n"
        "try:\n"
        "    testing.auth0_users\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "auth0-ory-migrate[testing]"' in done.stdout


# --- builders ------------------------------------------------------------------------------------


def test_auth0_users_cover_every_kind_and_case() -> None:
    """The default mix has every kind, blocked, unverified, shared emails and metadata."""
    users = auth0_users(n=50, seed=1)
    assert {u.kind for u in users} == {
        "database", "social", "linked", "passwordless", "sms", "enterprise", "username_only",
    }  # fmt: skip
    records = [u.record for u in users]
    assert any(r.get("blocked") for r in records)
    assert any(r.get("email_verified") is False for r in records)
    assert all(r["app_metadata"] and r["user_metadata"] for r in records)
    emails = [r["email"] for r in records if "email" in r]
    assert len({e.lower() for e in emails}) < len(emails)  # the same address in two connections
    assert any(e != e.lower() for e in emails)
    linked = next(u for u in users if u.kind == "linked")
    assert [i["provider"] for i in linked.record["identities"]] == ["auth0", "github"]
    again = auth0_users(n=50, seed=1)  # the same but for bcrypt's salts
    assert [u.record for u in again] == records
    assert [u.password for u in again] == [u.password for u in users]
    assert users[0].email == users[0].record.get("email")


def test_hash_records_are_real_bcrypt_of_known_passwords() -> None:
    """Every hash record is a cost-4 bcrypt of the user's password, joined by its id."""
    users = [u for u in auth0_users(n=30, seed=2) if u.hash_record is not None]
    assert users
    for user in users:
        record = user.hash_record
        assert record is not None
        assert user.password is not None
        assert record["passwordHash"].startswith("$2b$04$")
        assert bcrypt.checkpw(user.password.encode(), record["passwordHash"].encode())
    forms = {next(k for k in ("_id", "_ID") if k in u.hash_record) for u in users if u.hash_record}
    assert forms == {"_id", "_ID"}
    assert "password=" not in repr(users[0])
    assert str(users[0].password) not in repr(users[0])


def test_mfa_secrets_leave_the_rest_unchanged() -> None:
    """mfa=True adds TOTP secrets to some database users and changes nothing else."""
    plain, with_mfa = auth0_users(n=40, seed=3), auth0_users(n=40, seed=3, mfa=True)
    assert [u.record for u in plain] == [u.record for u in with_mfa]
    secret_holders = [u for u in with_mfa if u.mfa_secret]
    assert secret_holders
    assert {u.kind for u in secret_holders} <= {"database", "linked", "username_only"}
    assert [r["type"] for r in secret_holders[0].mfa_records] == ["otp", "recovery-code"]


@pytest.mark.parametrize("fmt", ["ndjson", "ndjson.gz", "json", "csv"])
def test_write_export_user_file_formats(tmp_path: Path, fmt: str) -> None:
    """Every user-file variant reads back to the same users."""
    users = auth0_users(n=20, seed=4, real_hashes=False)
    export = write_export(tmp_path, users, fmt=fmt, hashes=False)  # type: ignore[arg-type]
    data = export.users.read_bytes()
    assert data.startswith(b"\x1f\x8b") == (fmt == "ndjson.gz")
    if fmt == "json":
        assert isinstance(json.loads(data), list)
    with export.users.open("rb") as f:
        read = [u.user_id for u in read_users(f, strict=True)]
    assert read == [u.user_id for u in users]
    assert export.password_hashes is None
    assert export.fake_users == tuple(users)


@pytest.mark.parametrize("hash_fmt", ["ndjson", "ndjson.gz", "json"])
@pytest.mark.parametrize("id_form", ["_id", "_ID", "plain", "alt_id", None])
def test_write_export_hash_file_variants(tmp_path: Path, hash_fmt: str, id_form: Any) -> None:
    """Every hash-file variant is private and joins every hash to its user."""
    users = auth0_users(n=30, seed=5, real_hashes=False, mfa=True)
    export = write_export(tmp_path, users, hash_fmt=hash_fmt, hash_id_form=id_form)  # type: ignore[arg-type]
    assert export.password_hashes is not None
    assert export.mfa_secrets is not None
    for path in (export.password_hashes, export.mfa_secrets):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = export.password_hashes.read_bytes()
    if hash_fmt == "ndjson.gz":
        raw = gzip.decompress(raw)
    first = json.loads(raw)[0] if hash_fmt == "json" else json.loads(raw.splitlines()[0])
    if id_form in ("_ID", "alt_id"):
        assert id_form in first
    with export.password_hashes.open("rb") as f:
        index = index_password_hashes(read_password_hashes(f, strict=True))
    with export.users.open("rb") as f:
        parsed = {u.user_id: u for u in read_users(f, strict=True)}
    for user in users:
        if user.hash_record is not None:
            entry = index.lookup(parsed[user.user_id].database_ids, None)  # type: ignore[union-attr]
            assert entry is not None
            assert entry.value == user.hash_record["passwordHash"]
    with export.mfa_secrets.open("rb") as f:
        secrets = {s.user_id: s.secret for s in read_mfa_secrets(f, strict=True) if s.kind == "otp"}  # type: ignore[union-attr]
    assert secrets == {u.user_id: u.mfa_secret for u in users if u.mfa_secret}


def test_password_users_log_in_at_the_auth0_token_endpoint() -> None:
    """password_users() lets each database user log in with its known password."""
    users = auth0_users(n=30, seed=6, mfa=True)
    logins = password_users(users)
    assert logins
    assert all(p.realm == DATABASE_CONNECTION for p in logins)
    ready = next(p for p in logins if not p.mfa and not p.blocked)
    with Auth0ManagementServer([u.record for u in users], password_users=logins) as tenant:
        client = GetToken(
            tenant.domain, "test-client-id", client_secret="test-client-secret", protocol="http"
        )
        token = client.login(ready.username, ready.password, realm=DATABASE_CONNECTION)
        assert token["access_token"]
        with pytest.raises(Auth0Error) as wrong:
            client.login(ready.username, "not-it", realm=DATABASE_CONNECTION)
        assert wrong.value.error_code == "invalid_grant"
        mfa_user = next(p for p in logins if p.mfa)
        with pytest.raises(Auth0Error) as mfa:
            client.login(mfa_user.username, mfa_user.password, realm=DATABASE_CONNECTION)
        assert mfa.value.error_code == "mfa_required"


@settings(max_examples=20)
@given(auth0_exports(max_users=6))
def test_strategies_draw_what_the_library_reads(export: Any) -> None:
    """The public strategies draw records the library parses without complaint."""
    for line, record in enumerate(export.users, 1):
        assert isinstance(parse_user(record, line), Auth0User)


# --- assertions ----------------------------------------------------------------------------------


def _my_pipeline(users_path: Path, hashes_path: Path | None, *, ory_url: str) -> None:
    """A user's own pipeline around the library's functions (no MFA file)."""
    export = ExportFiles(users_path, hashes_path)
    bodies = [i.body for i in _planned(export) if isinstance(i, PlannedIdentity)]
    _import(bodies, ory_url)


def test_the_example_from_the_issue(tmp_path: Path) -> None:
    """The issue's example runs as written: a user pipeline, then assert_migrated passes."""
    users = testing.auth0_users(n=50, seed=1)
    export = testing.write_export(tmp_path, users, hashes=True)
    with testing.OryAdminServer() as ory:
        _my_pipeline(export.users, export.password_hashes, ory_url=ory.url)
        stored = ory.identity_by_external_id(users[0].user_id)
        assert stored is not None
        assert stored.traits["email"] == users[0].email
        testing.assert_migrated(export, ory)
        with_hash = [u for u in users if u.password and ory.identity_by_external_id(u.user_id)]
        for user in with_hash:
            if ory.identity_by_external_id(user.user_id).hashed_password:  # type: ignore[union-attr]
                testing.assert_password_migrated(ory, user)


@pytest.fixture
def export(tmp_path: Path) -> ExportFiles:
    return write_export(tmp_path, auth0_users(n=50, seed=1, mfa=True))


def _victims(items: list[PlannedIdentity | Skipped]) -> dict[str, Any]:
    planned = [i for i in items if isinstance(i, PlannedIdentity)]

    def first(test: Any, taken: set[str]) -> PlannedIdentity:
        found = next(p for p in planned if test(p) and p.external_id not in taken)
        taken.add(found.external_id)
        return found

    taken: set[str] = set()
    return {
        "missing": first(lambda p: p.external_id.startswith("auth0|"), taken),
        "hash": first(lambda p: p.password == "hash", taken),
        "social": first(lambda p: p.social_logins > 0, taken),
        "verified": first(lambda p: p.body["verifiable_addresses"][0]["verified"], taken),
        "metadata": first(lambda p: "metadata_public" in p.body, taken),
        "totp": first(lambda p: "totp" in p.body.get("credentials", {}), taken),
        "blocked": first(lambda p: p.blocked, taken),
        "merged": next(i for i in items if isinstance(i, Skipped) and i.reason == "merged"),
    }


def test_a_broken_migration_is_described_in_plain_words(export: ExportFiles) -> None:
    """Each kind of loss is one plain line naming the user; no hash is ever shown."""
    items = _planned(export)
    v = _victims(items)
    bodies = []
    for item in items:
        if not isinstance(item, PlannedIdentity) or item is v["missing"]:
            continue
        body = copy.deepcopy(item.body)
        if item is v["hash"]:
            body["credentials"]["password"] = {"config": {"use_password_migration_hook": True}}
        elif item is v["social"]:
            del body["credentials"]["oidc"]
        elif item is v["verified"]:
            body["verifiable_addresses"][0].update(verified=False, status="pending")
        elif item is v["metadata"]:
            del body["metadata_public"]["locale"]
        elif item is v["totp"]:
            del body["credentials"]["totp"]
        elif item is v["blocked"]:
            body["state"] = "active"
        bodies.append(body)
    merged = v["merged"]
    bodies.append(
        {
            "schema_id": "preset://email",
            "external_id": merged.user_id,
            "traits": {"email": "someone.else@example.com"},
            "state": "active",
        }
    )
    with OryAdminServer() as ory:
        _import(bodies, ory.url)
        with pytest.raises(AssertionError) as failed:
            assert_migrated(export, ory)
        message = str(failed.value)
        kinds = {p.kind for p in migration_problems(export, ory)}
        assert not migration_problems(export, ory, ignore=list(kinds))

    social = v["social"].body["credentials"]["oidc"]["config"]["providers"][0]
    address = v["verified"].body["verifiable_addresses"][0]["value"]
    missing = v["missing"]
    expected = [
        f"{missing.external_id} ({missing.body['traits']['email']}): missing from Ory",
        f"{v['hash'].external_id}: lost its password hash (it was imported with the "
        "password-migration hook instead)",
        f"{v['social'].external_id}: lost its social login "
        f"{social['provider']}:{social['subject']}",
        f"{v['verified'].external_id}: lost its verification: {address} is verified in Auth0 "
        "but not in Ory",
        f"{v['metadata'].external_id}: lost metadata: metadata_public.locale is missing",
        f"{v['totp'].external_id}: lost its TOTP secret (authenticator app enrolment)",
        f"{v['blocked'].external_id}: blocked in Auth0 but active in Ory",
        f"{merged.user_id}: duplicated: it was merged into {merged.holder}'s identity, yet has "
        "an identity of its own",
    ]
    assert message.startswith(f"the migration into Ory is not complete ({len(expected)} problems)")
    for line in expected:
        assert f"  - {line}" in message
    assert kinds == {
        "missing", "password", "social_login", "verification", "metadata", "mfa", "state",
        "duplicate",
    }  # fmt: skip
    assert "$2b$" not in message
    assert "otpauth" not in message


def test_identities_without_external_id_or_from_nowhere(export: ExportFiles) -> None:
    """An identity without its external_id is named; one no user stands behind is unexpected."""
    items = [i for i in _planned(export) if isinstance(i, PlannedIdentity)]
    bodies = [copy.deepcopy(i.body) for i in items]
    del bodies[0]["external_id"]
    with OryAdminServer() as ory:
        ory.add_identity(
            bodies[0]
        )  # the library's import needs external_id: a pipeline of one's own
        ory.add_identity({"schema_id": "preset://email", "traits": {"email": "x@nowhere.test"}})
        _import(bodies[1:], ory.url)
        problems = migration_problems(export, ory)
        stranger = ory.identity_by_identifier("x@nowhere.test")
        first = ory.identity_by_identifier(items[0].body["traits"]["email"])
    assert stranger is not None
    assert first is not None
    assert [(p.kind, p.user_id, p.identity_id) for p in problems] == [
        ("external_id", items[0].external_id, first.id),
        ("unexpected", None, stranger.id),
    ]
    assert problems[0].message == (
        f"{items[0].external_id}: imported without external_id "
        f"(identity {first.id} has its email or social login)"
    )
    assert str(problems[1]).startswith(f"unexpected identity {stranger.id} (no external_id)")


def test_a_skipped_user_imported_anyway_is_unexpected(export: ExportFiles) -> None:
    """A user the plan skips (no email) but the pipeline imported is reported, with the reason."""
    items = _planned(export)
    skipped = next(i for i in items if isinstance(i, Skipped) and i.reason == "no_email")
    bodies = [i.body for i in items if isinstance(i, PlannedIdentity)]
    with OryAdminServer() as ory:
        _import(bodies, ory.url)
        ory.add_identity(
            {"external_id": skipped.user_id, "traits": {"email": "sms-user@example.com"}}
        )
        (problem,) = migration_problems(export, ory)
    assert problem.kind == "unexpected"
    assert problem.user_id == skipped.user_id
    assert "the plan skips this user (no_email" in problem.message


def test_options_of_the_pipeline_shape_the_expectation(tmp_path: Path) -> None:
    """With the pipeline's own MappingOptions, a hook-only migration passes; without, it fails."""
    export = write_export(tmp_path, auth0_users(n=15, seed=8, kinds=["database"]))
    bodies = [
        i.body for i in _planned(export, ignore_hashes=True) if isinstance(i, PlannedIdentity)
    ]
    with OryAdminServer() as ory:
        _import(bodies, ory.url)
        assert_migrated(export, ory, options=MappingOptions(ignore_hashes=True))
        with pytest.raises(AssertionError, match="lost its password hash"):
            assert_migrated(export, ory)
        assert_migrated(export, ory, ignore=["password"])
        with pytest.raises(ValueError, match="unknown problem kinds in ignore: passwords"):
            assert_migrated(export, ory, ignore=["passwords"])  # type: ignore[list-item]


def test_assert_password_migrated(tmp_path: Path) -> None:
    """The stored hash must verify the known password; the hook or a wrong hash fail."""
    users = [u for u in auth0_users(n=10, seed=9, kinds=["database"]) if u.password]
    a, b, c, d = users[:4]
    with OryAdminServer() as ory:
        for user, config in (
            (a, {"hashed_password": a.hash_record["passwordHash"]}),  # type: ignore[index]
            (b, {"use_password_migration_hook": True}),
            (c, {"hashed_password": d.hash_record["passwordHash"]}),  # type: ignore[index]
            (d, {"password": d.password}),  # Ory hashes a plaintext password itself
        ):
            ory.add_identity(
                {
                    "external_id": user.user_id,
                    "traits": {"email": user.email},
                    "credentials": {"password": {"config": config}},
                }
            )
        assert_password_migrated(ory, a)
        assert_password_migrated(ory, d.user_id, d.password)
        with pytest.raises(AssertionError, match="uses the password-migration hook"):
            assert_password_migrated(ory, b)
        with pytest.raises(AssertionError, match="does not verify its password") as wrong:
            assert_password_migrated(ory, c)
        assert "$2b$" not in str(wrong.value)
        with pytest.raises(AssertionError, match="missing from Ory"):
            assert_password_migrated(ory, "auth0|nobody", "pw")
        with pytest.raises(ValueError, match="no password known"):
            assert_password_migrated(ory, FakeAuth0User("auth0|x", "database", {}))


def test_assert_valid_identity_body_names_the_problem() -> None:
    """A planned body passes; an unknown key or a bad state fails in words."""
    body: dict[str, Any] = {
        "schema_id": "preset://email",
        "external_id": "auth0|1",
        "traits": {"email": "a@example.com"},
        "state": "active",
        "credentials": {"password": {"config": {"hashed_password": "$2b$04$" + "a" * 53}}},
    }
    assert_valid_identity_body(body)
    with pytest.raises(AssertionError, match=r"unknown keys .*: credentials.password.config.salt"):
        assert_valid_identity_body({**body, "credentials": {"password": {"config": {"salt": "x"}}}})
    with pytest.raises(AssertionError, match="ory-client rejects the body: state: Value error"):
        assert_valid_identity_body({**body, "state": "blocked"})
    with pytest.raises(AssertionError, match="Ory does not accept the hashed_password"):
        assert_valid_identity_body(
            {**body, "credentials": {"password": {"config": {"hashed_password": "{SHA}x"}}}}
        )


# --- the pytest plugin ---------------------------------------------------------------------------


def test_the_plugin_is_registered_in_pyproject() -> None:
    """pyproject.toml registers the plugin under pytest11, so installing the package enables it."""
    text = (ROOT / "pyproject.toml").read_text()
    section = re.search(
        r"^\[project\.entry-points\.pytest11\]\n(.*?)(?:\n\[|\Z)", text, re.M | re.S
    )
    assert section is not None
    assert 'auth0_ory_migrate = "auth0_ory_migrate.testing.pytest_plugin"' in section.group(1)


def test_the_plugin_imports_nothing_heavy() -> None:
    """Loading the plugin loads neither bcrypt, Hypothesis, the SDKs nor the servers."""
    done = _python(
        "import sys, auth0_ory_migrate.testing.pytest_plugin\n"
        "heavy = ('bcrypt', 'hypothesis', 'ory_client', 'auth0')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy or"
        " (m.startswith('auth0_ory_migrate.testing.') and not m.endswith('pytest_plugin'))]\n"
        "assert not bad, bad\n"
    )
    assert done.returncode == 0, done.stderr


def test_the_fixtures(pytester: pytest.Pytester) -> None:
    """ory_admin_server, auth0_export and auth0_server work, and their markers configure them."""
    pytester.makepyfile(
        """
        import pytest
        from auth0_ory_migrate import Auth0Exporter, read_users
        from auth0_ory_migrate.testing import assert_migrated

        def test_defaults(ory_admin_server, auth0_export, auth0_server, tmp_path):
            assert ory_admin_server.url.startswith("http://127.0.0.1:")
            assert ory_admin_server.identities() == []
            assert len(auth0_export.fake_users) == 50
            assert auth0_export.password_hashes and auth0_export.mfa_secrets
            assert auth0_server.users == [u.record for u in auth0_export.fake_users]
            out = tmp_path / "export.ndjson.gz"
            with Auth0Exporter.connect(
                auth0_server.url, token=auth0_server.token, sleep=lambda s: None
            ) as exporter:
                result = exporter.export(out)
            with out.open("rb") as f:
                assert len(list(read_users(f))) == 50 == result.users
            with pytest.raises(AssertionError, match="missing from Ory"):
                assert_migrated(auth0_export, ory_admin_server)

        @pytest.mark.auth0_export(n=7, seed=3, fmt="json", mfa=False)
        @pytest.mark.ory_admin_server(api_key="k")
        @pytest.mark.auth0_server(token="t")
        def test_markers(ory_admin_server, auth0_export, auth0_server):
            assert auth0_export.users.name == "auth0-users.json"
            assert len(auth0_export.fake_users) == 7 and auth0_export.mfa_secrets is None
            assert auth0_server.token == "t"
            import urllib.request, urllib.error
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(ory_admin_server.url + "/admin/identities")
            assert e.value.code == 401
            e.value.close()
        """
    )
    # In a subprocess: an in-process run drops this package's modules from sys.modules after it,
    # and the classes imported again would no longer be the public ones other tests compare.
    result = pytester.runpytest_subprocess(
        *PLUGIN_ARGS, "--strict-markers", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)


@pytest.mark.auth0_export(n=12, seed=2, kinds=["database", "social"], mfa=False)
def test_this_suite_uses_the_fixtures(
    auth0_export: ExportFiles, ory_admin_server: OryAdminServer
) -> None:
    """The suite itself gets the plugin's fixtures (tests/conftest.py registers it if need be)."""
    assert {u.kind for u in auth0_export.fake_users} == {"database", "social"}
    _my_pipeline(auth0_export.users, auth0_export.password_hashes, ory_url=ory_admin_server.url)
    assert_migrated(auth0_export, ory_admin_server)


@pytest.mark.slow
def test_the_entry_point_loads_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed distribution with pyproject's pytest11 entry point gives the fixtures."""
    text = (ROOT / "pyproject.toml").read_text()
    entry = text.split("[project.entry-points.pytest11]\n", 1)[1].split("\n", 1)[0]
    dist = pytester.path / "site" / "auth0_ory_migrate_plugin_check-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: auth0-ory-migrate-plugin-check\nVersion: 0\n"
    )
    (dist / "entry_points.txt").write_text("[pytest11]\n" + entry.replace('"', "") + "\n")
    pytester.makepyfile("def test_it(ory_admin_server):\n    assert ory_admin_server.url\n")
    path = os.pathsep.join(filter(None, [str(dist.parent), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    disabled = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:auth0_ory_migrate")
    disabled.assert_outcomes(errors=1)
    disabled.stdout.fnmatch_lines(["*fixture 'ory_admin_server' not found*"])


@pytest.mark.slow
def test_pytest_runs_without_the_testing_extra(pytester: pytest.Pytester) -> None:
    """Without bcrypt and Hypothesis pytest still runs; a fixture that needs them says why."""
    tests = pytester.makepyfile(
        "def test_plain():\n    assert True\n\ndef test_needs_extra(auth0_export):\n    pass\n"
    )
    pytester.makepyfile(
        run="import sys\n"
        "class Missing:  # as if the testing extra were not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('bcrypt', 'hypothesis'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Missing())\n"
        "import pytest\n"
        "raise SystemExit(pytest.main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "run.py", "-p", "no:hypothesispytest", *PLUGIN_ARGS, tests.name],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "1 passed, 1 error" in done.stdout, done.stdout + done.stderr
    assert 'pip install "auth0-ory-migrate[testing]"' in done.stdout
