"""auth0_ory_migrate.testing as an outside team meets it (issue 16).

A throwaway project in a temporary directory, with the package installed from a wheel into a
virtual environment of its own (nothing downloaded: the wheel is made here, and the environment
sees the test environment's other packages), tests its own pipeline with public names only and
the pytest plugin its entry point registers. Installed so, pytest rewrites the asserts of the
whole package, as it does for any plugin's distribution: a bare ``assert`` in the package would
print its operands (bodies, hashes, TOTP URLs) when it fails. The project's failing tests plant
canary secrets and the whole output of the run is searched for them.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from auth0_ory_migrate import testing


ROOT = Path(__file__).resolve().parent.parent
CANARIES = ("C4n4ryH4sh", "CANARYTOTPSECRETZZ", "canary-password-Zq9")

PROJECT = """
import pytest
from hypothesis import given, settings

from auth0_ory_migrate import (
    MappingOptions,
    OryAdmin,
    PlannedIdentity,
    import_identities,
    index_mfa_secrets,
    index_password_hashes,
    plan_migration,
    read_mfa_secrets,
    read_password_hashes,
    read_users,
)
from auth0_ory_migrate.testing import (
    InMemoryOryAdmin,
    assert_migrated,
    assert_password_migrated,
    assert_valid_identity_body,
    auth0_users,
    write_export,
)
from auth0_ory_migrate.testing.strategies import auth0_exports

CANARY_HASH = "$2b$10$" + "C4n4ryH4sh" * 5 + "xyz"
CANARY_TOTP_URL = "otpauth://totp/acme:ada?secret=CANARYTOTPSECRETZZ&issuer=acme"
CANARY_PASSWORD = "canary-password-Zq9"
SCHEMA = {
    "$id": "https://example.com/customer.schema.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {
                    "type": "string",
                    "format": "email",
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": True}},
                        "verification": {"via": "email"},
                    },
                },
                "name": {
                    "type": "object",
                    "properties": {"first": {"type": "string"}, "last": {"type": "string"}},
                },
            },
            "required": ["email"],
        }
    },
}
OPTIONS = MappingOptions(
    schema_id="customer",
    schema=SCHEMA,
    traits={"email": "email", "name.first": "given_name", "name.last": "family_name"},
)
SWAPPED = MappingOptions(  # the mapping bug: first and last name swapped
    schema_id="customer",
    schema=SCHEMA,
    traits={"email": "email", "name.first": "family_name", "name.last": "given_name"},
)
EXPECTED = {"email": "email", "name.first": "given_name", "name.last": "family_name"}


def pipeline(export, ory, options=OPTIONS, change=lambda body: body):
    def users():
        with open(export.users, "rb") as f:
            yield from read_users(f)

    with open(export.password_hashes, "rb") as f:
        hashes = index_password_hashes(read_password_hashes(f))
    mfa = None
    if export.mfa_secrets is not None:
        with open(export.mfa_secrets, "rb") as f:
            mfa = index_mfa_secrets(read_mfa_secrets(f))
    plan = plan_migration(users, password_hashes=hashes, mfa_secrets=mfa, options=options)
    bodies = [change(dict(i.body)) for i in plan if isinstance(i, PlannedIdentity)]
    import_identities(bodies, ory)


@pytest.fixture
def export(tmp_path):
    return write_export(tmp_path, auth0_users(40, seed=3, mfa=True))


def test_the_package_asserts_are_rewritten():
    import auth0_ory_migrate.testing._bodies as bodies

    assert "site-packages" in bodies.__file__
    assert type(bodies.__spec__.loader).__name__ == "AssertionRewritingHook"


def test_the_good_pipeline_passes(export):
    ory = InMemoryOryAdmin(schemas={"customer": SCHEMA})
    pipeline(export, ory)
    checks = assert_migrated(export, ory, options=OPTIONS, expected_traits=EXPECTED)
    assert checks.note is None
    assert "traits[email, name.first, name.last]" in str(checks)
    assert "expected_traits[email, name.first, name.last]" in str(checks)


def test_without_options_it_says_what_it_did_not_check(export):
    ory = InMemoryOryAdmin()
    pipeline(export, ory, options=MappingOptions())
    checks = assert_migrated(export, ory)
    assert "traits[email]" in str(checks)
    assert "default mapping only" in checks.note


def test_a_body_without_state_is_valid():
    assert_valid_identity_body({"schema_id": "preset://email", "traits": {"email": "a@b.test"}})


@settings(max_examples=10)
@given(auth0_exports(max_users=4))
def test_any_export_over_http(shared_ory_admin_server, tmp_path_factory, export):
    shared_ory_admin_server.reset(keep_faults=True)
    files = write_export(tmp_path_factory.mktemp("export"), export)
    with OryAdmin.from_url(shared_ory_admin_server.url) as ory:
        pipeline(files, ory, options=MappingOptions())
    assert_migrated(files, shared_ory_admin_server)


def test_fails_forgotten_state(export):
    ory = InMemoryOryAdmin(schemas={"customer": SCHEMA})
    pipeline(export, ory, change=lambda body: {k: v for k, v in body.items() if k != "state"})
    assert_migrated(export, ory, options=OPTIONS)


def test_fails_wrong_trait_mapping(export):
    ory = InMemoryOryAdmin(schemas={"customer": SCHEMA})
    pipeline(export, ory, options=SWAPPED)
    assert_migrated(export, ory, options=SWAPPED, expected_traits=EXPECTED)


def _swap_secrets(body):
    credentials = body.get("credentials") or {}
    if "password" in credentials:
        credentials["password"] = {"config": {"hashed_password": CANARY_HASH}}
    if "totp" in credentials:
        credentials["totp"] = {"config": {"totp_url": CANARY_TOTP_URL}}
    return body


def test_fails_changed_secrets(export):
    ory = InMemoryOryAdmin(schemas={"customer": SCHEMA})
    pipeline(export, ory, change=_swap_secrets)
    assert_migrated(export, ory, options=OPTIONS)


def test_fails_body_with_secrets():
    body = {
        "schema_id": "preset://email",
        "external_id": "auth0|canary",
        "state": "blocked",
        "traits": {"email": "ada@example.com"},
        "credentials": {
            "password": {"config": {"hashed_password": CANARY_HASH}},
            "totp": {"config": {"totp_url": CANARY_TOTP_URL}},
        },
    }
    assert_valid_identity_body(body)


def test_fails_body_with_a_malformed_hash():
    body = {
        "schema_id": "preset://email",
        "state": "active",
        "traits": {"email": "ada@example.com"},
        "credentials": {
            "password": {"config": {"hashed_password": CANARY_HASH + "!"}},
            "totp": {"config": {"totp_url": CANARY_TOTP_URL}},
        },
    }
    assert_valid_identity_body(body)


def test_fails_wrong_password(export):
    ory = InMemoryOryAdmin(schemas={"customer": SCHEMA})
    pipeline(export, ory)
    user = next(u for u in export.fake_users if u.password and u.hash_record)
    assert_password_migrated(ory, user.user_id, CANARY_PASSWORD)
"""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(source: Path, out: Path) -> Path:
    """A wheel of the package under *source*, with its metadata and entry points (no download).

    What hatchling would put in it: every file of the package, and the dist-info pip needs.
    """
    # The metadata of the package as installed here (hatchling wrote it from pyproject.toml).
    dist = importlib.metadata.distribution("auth0-ory-migrate")
    name, version = dist.metadata["Name"].replace("-", "_"), dist.version
    info = f"{name}-{version}.dist-info"
    entry_points = dist.read_text("entry_points.txt") or ""
    files = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted((source / "auth0_ory_migrate").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {dist.metadata['Name']}\nVersion: {version}\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    wheel = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for file_name, data in files.items():
            z.writestr(file_name, data)
        z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


def outside_environment(directory: Path, source: Path = ROOT) -> Path:
    """A virtual environment with the package installed from a wheel; returns its python."""
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The test environment's packages (pytest, Hypothesis, the SDKs), after the venv's own:
    # a path from a .pth file is not a site directory, so the editable install is not seen.
    (site / "test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = build_wheel(source, directory)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "--no-cache-dir", "--quiet", wheel],
        check=True,
    )  # fmt: skip
    return python


def run_project(python: Path, project: Path) -> subprocess.CompletedProcess[str]:
    """pytest, as the outside team runs it, in *project*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HYPOTHESIS", "PYTEST")) and k != "PYTHONPATH"
    }
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--tb=long"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_an_outside_team_tests_its_pipeline(tmp_path: Path) -> None:
    """Installed from a wheel, used by public names: right checks, no secret, short failures."""
    python = outside_environment(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_outside.py").write_text(PROJECT)
    done = run_project(python, project)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    passed = set(re.findall(r"^PASSED test_outside.py::(\w+)", out, re.MULTILINE))
    failed = set(re.findall(r"^FAILED test_outside.py::(\w+)", out, re.MULTILINE))
    assert passed == {
        "test_the_package_asserts_are_rewritten",
        "test_the_good_pipeline_passes",
        "test_without_options_it_says_what_it_did_not_check",
        "test_a_body_without_state_is_valid",
        "test_any_export_over_http",
    }, out
    assert failed == {
        "test_fails_forgotten_state",
        "test_fails_wrong_trait_mapping",
        "test_fails_changed_secrets",
        "test_fails_body_with_secrets",
        "test_fails_body_with_a_malformed_hash",
        "test_fails_wrong_password",
    }, out
    # 3. the mapping bug and the forgotten state are caught, in plain words
    assert ": blocked in Auth0 but active in Ory" in out
    assert "traits not as expected_traits says: traits.name.first differs" in out
    # 1. what a secret's check says, without the secret
    assert "its password hash was changed on the way" in out
    assert "its TOTP secret was changed on the way" in out
    assert "auth0|canary: ory-client rejects the body: state" in out
    assert "Ory does not accept the hashed_password: malformed bcrypt hash" in out
    assert "does not verify its password" in out
    leaked = [canary for canary in CANARIES if canary in out]
    assert leaked == [], out
    # 2. the user's line and the message, not the library's source
    assert "auth0_ory_migrate/testing/" not in out, out
    assert "raise AssertionError" not in out, out


#: The modules of the testing package that check things for users (the servers answer HTTP).
CHECKING_MODULES = (
    "_assertions.py",
    "_bodies.py",
    "_builders.py",
    "pytest_plugin.py",
    "strategies.py",
)


def test_no_bare_assert_and_every_helper_hides_its_frames() -> None:
    """No ``assert`` statement where the package checks; each assert_* hides its frames."""
    package = Path(testing.__file__).parent
    bare, shown = [], []
    for path in [package / name for name in CHECKING_MODULES]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert):
                bare.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.FunctionDef) and node.name.startswith("assert_"):
                hides = any(
                    isinstance(s, ast.Assign)
                    and any(
                        isinstance(t, ast.Name) and t.id == "__tracebackhide__" for t in s.targets
                    )
                    for s in node.body
                )
                if not hides:
                    shown.append(f"{path.name}:{node.name}")
    assert bare == []
    assert shown == []
