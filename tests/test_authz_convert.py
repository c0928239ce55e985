"""Roles and organizations folded into the identity bodies (``--authz metadata``)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import (
    AUTHZ_FILES,
    Auth0User,
    MappingOptions,
    PlannedIdentity,
    plan_migration,
    read_authz,
    read_authz_files,
    read_users,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.exceptions import InputFileError


ADA = "auth0|0000000000000000000000a1"
BOB = "auth0|0000000000000000000000b2"
ROLES: list[dict[str, Any]] = [
    {"id": "rol_admin", "name": "admin", "description": None,
     "permissions": [{"resource_server_identifier": "https://api", "permission_name": "write"}]},
    {"id": "rol_viewer", "name": "viewer", "description": "reads",
     "permissions": [{"resource_server_identifier": "https://api", "permission_name": "read"}]},
]  # fmt: skip
ORGS: list[dict[str, Any]] = [
    {"id": "org_acme", "name": "acme", "display_name": "Acme", "enabled_connections": []},
]
MEMBERS: list[dict[str, Any]] = [{"role_id": "rol_admin", "user_id": ADA}]
ORG_MEMBERS: list[dict[str, Any]] = [
    {
        "organization_id": "org_acme",
        "user_id": BOB,
        "roles": [{"id": "rol_viewer", "name": "viewer"}],
    }
]


def _user(user_id: str, email: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "email": email,
        "email_verified": True,
        "created_at": "2024-01-02T03:04:05.000Z",
        "identities": [
            {"connection": "Username-Password-Authentication", "provider": "auth0",
             "user_id": user_id.partition("|")[2], "isSocial": False}
        ],
    }  # fmt: skip


def _ndjson(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A users export with the four roles and organizations files next to it."""
    users = tmp_path / "auth0-users.ndjson.gz"
    with gzip.open(users, "wt") as f:
        f.writelines(
            json.dumps(u) + "\n"
            for u in (_user(ADA, "ada@example.com"), _user(BOB, "bob@example.com"))
        )
    _ndjson(tmp_path / AUTHZ_FILES["roles"], ROLES)
    _ndjson(tmp_path / AUTHZ_FILES["role_members"], MEMBERS)
    _ndjson(tmp_path / AUTHZ_FILES["organizations"], ORGS)
    _ndjson(tmp_path / AUTHZ_FILES["organization_members"], ORG_MEMBERS)
    return users


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _identities(path: Path) -> dict[str, dict[str, Any]]:
    return {b["external_id"]: b for b in map(json.loads, path.read_text().splitlines())}


def test_mapping_options_with_authz_put_roles_into_metadata_admin() -> None:
    """MappingOptions(authz=...) gives each body its user's roles, permissions, organizations."""
    data = read_authz(
        [json.dumps(r) for r in ROLES],
        [json.dumps(m) for m in MEMBERS],
        [json.dumps(o) for o in ORGS],
        [json.dumps(m) for m in ORG_MEMBERS],
    )
    lines = [json.dumps(_user(ADA, "ada@example.com")), json.dumps(_user(BOB, "b@example.com"))]
    read = read_users(io.BytesIO("\n".join(lines).encode()))
    users = [u for u in read if isinstance(u, Auth0User)]
    plan = plan_migration(users, options=MappingOptions(authz=data))
    bodies = {p.external_id: p.body for p in plan if isinstance(p, PlannedIdentity)}
    assert bodies[ADA]["metadata_admin"]["auth0"]["roles"] == ["admin"]
    assert bodies[ADA]["metadata_admin"]["auth0"]["permissions"] == {"https://api": ["write"]}
    assert bodies[BOB]["metadata_admin"]["auth0"]["organizations"][0]["roles"] == ["viewer"]
    assert "auth0_authz" not in bodies[ADA].get("metadata_public", {})
    public = plan_migration(users, options=MappingOptions(authz=data, authz_public=True))
    ada = next(p for p in public if isinstance(p, PlannedIdentity) and p.external_id == ADA)
    assert ada.body["metadata_public"]["auth0_authz"]["roles"] == ["admin"]


def test_read_authz_files_reads_the_four_files_of_a_folder(export: Path) -> None:
    """read_authz_files reads what export --roles --organizations wrote; missing files: none."""
    data = read_authz_files(export.parent)
    assert set(data.roles) == {"rol_admin", "rol_viewer"}
    assert data.user_roles(ADA) == ("rol_admin",)
    (export.parent / AUTHZ_FILES["roles"]).unlink()
    (export.parent / AUTHZ_FILES["role_members"]).unlink()
    assert read_authz_files(export.parent).user_roles(ADA) == ()


def test_read_authz_files_refuses_a_folder_without_any_of_them(tmp_path: Path) -> None:
    """A folder with none of the four files is the wrong folder: one clear error."""
    with pytest.raises(InputFileError, match="export --roles --organizations"):
        read_authz_files(tmp_path)


def test_convert_authz_metadata_reads_the_files_next_to_the_users_export(
    export: Path, tmp_path: Path
) -> None:
    """`convert --authz metadata`: roles in metadata_admin.auth0, counts in the summary."""
    out = tmp_path / "identities.ndjson"
    result = _run("convert", "--users", str(export), "--out", str(out), "--report",
                  str(tmp_path / "report.json"), "--authz", "metadata")  # fmt: skip
    assert result.exit_code == 0, result.output
    bodies = _identities(out)
    assert bodies[ADA]["metadata_admin"]["auth0"]["roles"] == ["admin"]
    assert bodies[BOB]["metadata_admin"]["auth0"]["organizations"][0]["id"] == "org_acme"
    assert "roles and organizations: 2 roles, 1 organizations, 3 assignments" in result.output


def test_convert_authz_without_the_files_is_one_clear_error(tmp_path: Path) -> None:
    """--authz metadata with no roles file anywhere: exit 2, nothing written."""
    users = tmp_path / "auth0-users.ndjson"
    users.write_text(json.dumps(_user(ADA, "ada@example.com")) + "\n")
    out = tmp_path / "identities.ndjson"
    result = _run("convert", "--users", str(users), "--out", str(out), "--report",
                  str(tmp_path / "report.json"), "--authz", "metadata")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "export --roles --organizations" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_convert_authz_reports_a_bad_line_and_goes_on(export: Path, tmp_path: Path) -> None:
    """A bad line of a roles file is named (file, line, reason); the rest is imported."""
    with (export.parent / AUTHZ_FILES["role_members"]).open("a") as f:
        f.write('{"role_id": "rol_nope", "user_id": "auth0|x"}\nnot json\n')
    out = tmp_path / "identities.ndjson"
    result = _run("convert", "--users", str(export), "--out", str(out), "--report",
                  str(tmp_path / "report.json"), "--authz", "metadata")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{AUTHZ_FILES['role_members']} line 2" in result.output
    assert f"{AUTHZ_FILES['role_members']} line 3" in result.output
    assert _identities(out)[ADA]["metadata_admin"]["auth0"]["roles"] == ["admin"]
