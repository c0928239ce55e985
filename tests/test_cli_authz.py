"""The roles and organizations commands end to end: `migrate --authz`, `authz land/verify/undo`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import read_authz_files
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import (
    AuthzGraph,
    OryAdminServer,
    OryConsoleServer,
    auth0_users,
    authz_graph,
    write_export,
)


KEY = "ory_pat_authz_secret_0123456789"

pytestmark = pytest.mark.usefixtures("no_backoff")


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORY_API_KEY": KEY})


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, AuthzGraph]:
    """300 users exported with their roles and organizations files next to them."""
    users = auth0_users(300, seed=15, real_hashes=False)
    write_export(tmp_path, users, mfa_secrets=False)
    graph = authz_graph(users, roles=12, organizations=20, seed=15)
    graph.write(tmp_path)
    return tmp_path, graph


def _migrate(tmp_path: Path, server: OryAdminServer, *extra: str) -> Result:
    return _run("migrate", "--users", str(tmp_path / "auth0-users.ndjson.gz"),
                "--ory-url", server.url, "--state-dir", str(tmp_path / "state"),
                "--report", str(tmp_path / "report.json"), "--quiet", *extra)  # fmt: skip


def _tuples(server: OryAdminServer) -> Counter[tuple[str, str, str, str]]:
    return Counter(
        (t["namespace"], t["object"], t["relation"], t.get("subject_id", ""))
        for t in server.relations.all()
    )


def expected_memberships(
    folder: Path, report: Path, server: OryAdminServer
) -> set[tuple[str, str, str, str]]:
    """Every role and organization membership of the files, on its user's identity in Ory.

    A user merged into another's identity (the report says whose) on that identity; a user not
    in Ory has none.
    """
    data = read_authz_files(folder)
    users = json.loads(report.read_text())["users"]
    holder = {u["auth0_user_id"]: u["holder"] for u in users if u["outcome"] == "merged"}
    ids = {i.external_id: i.id for i in server.identities()}
    out = set()
    for user_id in data.users:
        identity = ids.get(holder.get(user_id, user_id))
        if identity is None:
            continue
        for role_id in data.user_roles(user_id):
            out.add(("Role", data.roles[role_id].name, "member", identity))
        for org_id, _roles in data.user_organizations(user_id):
            out.add(("Organization", org_id, "member", identity))
    return out


def test_migrate_authz_permissions_lands_every_assignment_once(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """`migrate --authz permissions` imports, then lands each assignment as one relationship."""
    tmp_path, _graph = exported
    result = _migrate(tmp_path, server, "--authz", "permissions")
    assert "relationships: sent" in result.output, result.output
    landed = _tuples(server)
    assert max(landed.values()) == 1
    members = {t for t in landed if t[2] == "member"}
    assert members == expected_memberships(tmp_path, tmp_path / "report.json", server)
    before = len(server.requests)
    again = _run("authz", "land", "--authz-files", str(tmp_path), "--ory-url", server.url,
                 "--state-dir", str(tmp_path / "state"), "--report",
                 str(tmp_path / "report.json"), "--quiet")  # fmt: skip
    assert "sent 0 in 0 requests" in again.output, again.output
    assert not [r for r in server.requests[before:] if r.method == "PATCH"]
    assert _tuples(server) == landed


def test_authz_verify_finds_a_missing_and_an_extra_relationship(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """`authz verify` reads back: 0 when all is there; 1 naming what is missing and extra."""
    tmp_path, _graph = exported
    _migrate(tmp_path, server, "--authz", "permissions")
    verify = ("authz", "verify", "--authz-files", str(tmp_path), "--ory-url", server.url,
              "--state-dir", str(tmp_path / "state"), "--report",
              str(tmp_path / "report.json"))  # fmt: skip
    ok = _run(*verify)
    assert "missing 0, extra 0" in ok.output, ok.output
    (first, *_rest) = server.relations.all()
    server.relations.patch([{"action": "delete", "relation_tuple": first}])
    extra = {**first, "object": "intruder-role"} if first["namespace"] == "Role" else {
        **first, "relation": "member", "object": "org_intruder"}  # fmt: skip
    server.relations.patch([{"action": "insert", "relation_tuple": extra}])
    bad = _run(*verify)
    assert bad.exit_code == 1, bad.output
    assert "missing 1, extra 1" in bad.output
    assert "missing: " in bad.output
    assert "extra: " in bad.output


def test_authz_undo_removes_ours_and_leaves_a_foreign_relationship(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """`authz undo` deletes exactly the relationships landed; one made by others stays."""
    tmp_path, _graph = exported
    foreign: dict[str, Any] = {"namespace": "Role", "object": "ops", "relation": "member",
                               "subject_id": "someone-else"}  # fmt: skip
    server.relations.patch([{"action": "insert", "relation_tuple": foreign}])
    _migrate(tmp_path, server, "--authz", "permissions")
    assert len(server.relations.all()) > 1
    result = _run("authz", "undo", "--ory-url", server.url, "--state-dir",
                  str(tmp_path / "state"), "--yes")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [(t["namespace"], t["object"], t.get("subject_id")) for t in server.relations.all()] == [
        ("Role", "ops", "someone-else")
    ]


def test_authz_namespaces_prints_the_permission_language_file(
    exported: tuple[Path, AuthzGraph],
) -> None:
    """`authz namespaces` prints an OPL file with the Role and Organization namespaces."""
    tmp_path, _graph = exported
    result = _run("authz", "namespaces", "--authz-files", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "class Role implements Namespace" in result.output
    assert "class Organization implements Namespace" in result.output


def test_convert_refuses_permissions_it_cannot_land(exported: tuple[Path, AuthzGraph]) -> None:
    """`convert --authz permissions` is one clear error: relationships need Ory's identity ids."""
    tmp_path, _graph = exported
    out = tmp_path / "identities.ndjson"
    result = _run("convert", "--users", str(tmp_path / "auth0-users.ndjson.gz"), "--out",
                  str(out), "--authz", "permissions")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "authz land --as permissions" in result.output
    assert not out.exists()


def test_authz_land_without_state_is_one_clear_error(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """No import in --state-dir: exit 2, nothing sent."""
    tmp_path, _graph = exported
    result = _run("authz", "land", "--authz-files", str(tmp_path), "--ory-url", server.url,
                  "--state-dir", str(tmp_path / "nothing-here"))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not [r for r in server.requests if r.method == "PATCH"]


def test_authz_land_against_an_unreachable_ory_is_one_clear_error(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """An Ory that does not answer: exit 2 at once, one line."""
    tmp_path, _graph = exported
    _migrate(tmp_path, server)
    result = _run("authz", "land", "--authz-files", str(tmp_path), "--ory-url",
                  "http://127.0.0.1:9", "--state-dir", str(tmp_path / "state"))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "no answer from Ory" in result.output


def test_authz_land_as_organizations_creates_them_and_undo_removes_them(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """`--as organizations`: enterprise organizations made in Ory, members joined; undo: gone."""
    users = auth0_users(400, seed=16, real_hashes=False, every_kind=True)
    write_export(tmp_path, users, mfa_secrets=False)
    authz_graph(users, roles=10, organizations=24, seed=16).write(tmp_path)
    migrated = _migrate(tmp_path, server)
    assert migrated.exit_code == 0, migrated.output
    with OryConsoleServer(api_key="ory_wak_cli_secret") as console:
        project = console.add_project()
        where = ("--ory-url", server.url, "--state-dir", str(tmp_path / "state"), "--project",
                 project, "--workspace-api-key", "ory_wak_cli_secret", "--console-url",
                 console.url)  # fmt: skip
        result = _run("authz", "land", "--authz-files", str(tmp_path), "--as", "organizations",
                      "--as", "permissions", "--users", str(tmp_path / "auth0-users.ndjson.gz"),
                      "--report", str(tmp_path / "report.json"), "--quiet", *where)  # fmt: skip
        assert "organizations: " in result.output, result.output
        made = console.organizations(project)
        assert made
        joined = [i for i in server.identities() if i.organization_id is not None]
        assert joined
        assert {i.organization_id for i in joined} <= {o["id"] for o in made}
        assert "ory_wak_cli_secret" not in result.output
        again = _run("authz", "land", "--authz-files", str(tmp_path), "--as", "organizations",
                     "--users", str(tmp_path / "auth0-users.ndjson.gz"), "--quiet",
                     *where)  # fmt: skip
        assert "created 0" in again.output, again.output
        assert len(console.organizations(project)) == len(made)
        undone = _run("authz", "undo", "--yes", *where)
        assert undone.exit_code == 0, undone.output
        assert console.organizations(project) == []
    assert all(i.organization_id is None for i in server.identities())
    assert server.relations.all() == []
    # The organizations are gone: `undo` of the import does not say they are left.
    identities = _run("undo", "--ory-url", server.url, "--state-dir", str(tmp_path / "state"),
                      "--yes", "--quiet")  # fmt: skip
    assert identities.exit_code == 0, identities.output
    assert "organizations" not in identities.output


def test_authz_land_as_organizations_without_the_console_key_is_one_clear_error(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """`--as organizations` needs the project and the workspace key: exit 2, nothing sent."""
    tmp_path, _graph = exported
    _migrate(tmp_path, server)
    before = len(server.requests)
    result = _run("authz", "land", "--authz-files", str(tmp_path), "--as", "organizations",
                  "--users", str(tmp_path / "auth0-users.ndjson.gz"), "--ory-url", server.url,
                  "--state-dir", str(tmp_path / "state"))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--workspace-api-key" in result.output
    assert len(server.requests) == before


def test_verify_authz_checks_the_relationships_after_the_identities(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """`verify --authz` (the issue's spelling) reads the relationships back as `authz verify`."""
    tmp_path, _graph = exported
    out = tmp_path / "identities.ndjson"
    converted = _run("convert", "--users", str(tmp_path / "auth0-users.ndjson.gz"), "--out",
                     str(out), "--report", str(tmp_path / "report.json"), "--quiet")  # fmt: skip
    assert converted.exit_code == 0, converted.output
    assert _run("import", "--identities", str(out), "--ory-url", server.url, "--state-dir",
                str(tmp_path / "state"), "--quiet").exit_code == 0  # fmt: skip
    where = ("--authz-files", str(tmp_path), "--state-dir", str(tmp_path / "state"), "--report",
             str(tmp_path / "report.json"))  # fmt: skip
    before = _run("verify", "--identities", str(out), "--ory-url", server.url, "--authz", *where)
    assert before.exit_code == 1, before.output
    assert "present 0" in before.output
    _run("authz", "land", "--ory-url", server.url, "--quiet", *where)
    after = _run("verify", "--identities", str(out), "--ory-url", server.url, "--authz", *where)
    assert "missing 0, extra 0" in after.output, after.output
    alone = _run("verify", "--identities", str(out), "--ory-url", server.url, "--authz")
    assert alone.exit_code == 2, alone.output
    assert "--authz-files" in alone.output


def test_undo_of_the_import_removes_the_relationships_first(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """`undo` after `migrate --authz permissions`: no relationship is left naming a deleted id."""
    tmp_path, _graph = exported
    _migrate(tmp_path, server, "--authz", "permissions")
    assert server.relations.all()
    result = _run("undo", "--ory-url", server.url, "--state-dir", str(tmp_path / "state"),
                  "--yes", "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "relationships `authz land` made: deleted" in result.output
    assert server.relations.all() == []
    assert server.identities() == []


def test_authz_undo_answered_no_removes_nothing(
    exported: tuple[Path, AuthzGraph], server: OryAdminServer
) -> None:
    """`authz undo` answered "n": exit 2, "nothing removed", every relationship still there."""
    tmp_path, _graph = exported
    _migrate(tmp_path, server, "--authz", "permissions")
    landed = server.relations.all()
    result = CliRunner().invoke(
        main,
        ["authz", "undo", "--ory-url", server.url, "--state-dir", str(tmp_path / "state")],
        input="n\n",
        env={"ORY_API_KEY": KEY},
    )
    assert result.exit_code == 2, result.output
    assert "nothing removed" in result.output
    assert server.relations.all() == landed


def test_migrate_permissions_without_the_namespaces_in_ory_stops_before_the_import(
    exported: tuple[Path, AuthzGraph],
) -> None:
    """Ory Permissions without the Role namespace: exit 2 naming the fix, no identity sent."""
    tmp_path, _graph = exported
    with OryAdminServer(api_key=KEY, namespaces=["Other"]) as server:
        result = _migrate(tmp_path, server, "--authz", "permissions")
        assert result.exit_code == 2, result.output
        assert "no namespace 'Role'" in result.output
        assert "authz namespaces" in result.output
        assert server.identities() == []
