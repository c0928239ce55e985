"""Roles and organizations export: the test server, the adapter, the files and ``export``.

Everything goes through auth0-python over real HTTP to ``Auth0ManagementServer``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth0.management.client import Auth0
from click.testing import CliRunner

from auth0_ory_migrate import (
    AUTHZ_CHECKPOINT_FILE,
    AUTHZ_FILES,
    Auth0ApiError,
    Auth0Authz,
    Auth0Exporter,
    AuthzExportProgress,
    AuthzFiles,
    ConfigurationError,
    InputFileError,
    OutputFileError,
    UserLogins,
    export_authz,
    plan_organizations,
    read_authz_files,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import (
    AUTHZ_AUDIENCES,
    Auth0ManagementServer,
    AuthzGraph,
    FakeAuth0User,
    auth0_users,
    authz_graph,
)


ROOT = Path(__file__).resolve().parent.parent


class FakeSleep:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture(scope="module")
def users() -> list[FakeAuth0User]:
    """Three hundred realistic users (database, social, enterprise)."""
    return auth0_users(n=300, seed=3)


@pytest.fixture(scope="module")
def graph(users: list[FakeAuth0User]) -> AuthzGraph:
    """Twelve roles and twenty organizations over them."""
    return authz_graph(users, roles=12, organizations=20, seed=3)


@pytest.fixture
def tenant(users: list[FakeAuth0User], graph: AuthzGraph) -> Iterator[Auth0ManagementServer]:
    """An Auth0 tenant serving the users, roles and organizations."""
    with Auth0ManagementServer([u.record for u in users], authz=graph) as server:
        yield server


_OPEN: list[Auth0Exporter] = []


@pytest.fixture(autouse=True)
def _close_exporters() -> Iterator[None]:
    """Close the exporters a test opened (their HTTP connections)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def source(server: Auth0ManagementServer, page_size: int = 100, **options: Any) -> Auth0Authz:
    """The adapter over an exporter of the test tenant, with waits recorded, not slept."""
    options.setdefault("sleep", FakeSleep())
    token = options.pop("token", server.token)
    exporter = Auth0Exporter.connect(server.url, token=token, **options)
    _OPEN.append(exporter)
    return Auth0Authz.of(exporter, page_size=page_size)


def weak_token(server: Auth0ManagementServer, token: str = "weak") -> str:  # noqa: S107
    """A token with every scope but read:organization_member_roles."""
    scopes = [s for s in Auth0ManagementServer.token_scopes if "member_roles" not in s]
    server.add_token(token, scopes)
    return token


def members_of(graph: AuthzGraph, role_id: str) -> int:
    """How many direct members a role has."""
    return sum(m["role_id"] == role_id for m in graph.role_members)


def file_lines(directory: Path) -> dict[str, list[bytes]]:
    """The lines of the four files (missing ones empty)."""
    return {
        name: (directory / name).read_bytes().splitlines() if (directory / name).exists() else []
        for name in AUTHZ_FILES.values()
    }


def graph_lines(graph: AuthzGraph) -> dict[str, list[bytes]]:
    """The lines the graph's files have."""
    return {name: data.splitlines() for name, data in graph.files().items()}


# -- the builder ----------------------------------------------------------------------------------


def test_graph_is_realistic(users: list[FakeAuth0User], graph: AuthzGraph, tmp_path: Path) -> None:
    """Orphan roles, two APIs, users in several organizations, roles in organizations, SSO orgs."""
    members = {m["role_id"] for m in graph.role_members}
    in_orgs = {r["id"] for m in graph.organization_members for r in m["roles"]}
    assert [r for r in graph.roles if r["id"] not in members | in_orgs]  # orphans
    audiences = {p["resource_server_identifier"] for r in graph.roles for p in r["permissions"]}
    assert audiences == set(AUTHZ_AUDIENCES)
    assert any(
        {p["resource_server_identifier"] for p in r["permissions"]} == set(AUTHZ_AUDIENCES)
        for r in graph.roles
    )
    orgs_of: dict[str, int] = {}
    for m in graph.organization_members:
        orgs_of[m["user_id"]] = orgs_of.get(m["user_id"], 0) + 1
    assert max(orgs_of.values()) >= 2
    assert in_orgs
    graph.write(tmp_path)
    read = AuthzFiles.in_directory(tmp_path).read()
    assert read.problems == ()
    plan = plan_organizations(
        read,
        {
            u.user_id: UserLogins(u.user_id, tuple(i["connection"] for i in u.record["identities"]))
            for u in users
        },
    )
    assert plan.mapped  # some organizations can become Ory organizations
    assert plan.unmapped  # and some cannot
    assert authz_graph(users, roles=12, organizations=20, seed=3) == graph  # deterministic


# -- the test server over auth0-python ----------------------------------------------------------


def test_server_pages_follow_auth0_contracts(
    tenant: Auth0ManagementServer, graph: AuthzGraph
) -> None:
    """The SDK's own pagers walk every list to its end; checkpoint pages end without next."""
    with httpx.Client() as http:
        api = Auth0(base_url=tenant.management_url, token=str(tenant.token), httpx_client=http)
        walk_with_the_sdk(api, tenant, graph)


def walk_with_the_sdk(api: Auth0, tenant: Auth0ManagementServer, graph: AuthzGraph) -> None:
    """The checks of test_server_pages_follow_auth0_contracts, with one client."""
    roles = list(api.roles.list(per_page=5))
    assert [r.id for r in roles] == [r["id"] for r in graph.roles]
    busiest = max(graph.roles, key=lambda r: members_of(graph, r["id"]))
    expected = [m["user_id"] for m in graph.role_members if m["role_id"] == busiest["id"]]
    assert len(expected) > 7
    assert [u.user_id for u in api.roles.users.list(busiest["id"], take=7)] == expected
    pages = tenant.requests_to("GET", f"/api/v2/roles/{busiest['id']}/users")
    assert len(pages) == -(-len(expected) // 7)
    assert "from" not in pages[0].query
    assert all("from" in p.query for p in pages[1:])
    orgs = list(api.organizations.list(take=3))
    assert [o.id for o in orgs] == [o["id"] for o in graph.organizations]
    org = graph.organizations[1]
    members = list(api.organizations.members.list(org["id"], take=2, fields="user_id,roles"))
    assert [(m.user_id, [r.id for r in m.roles or []]) for m in members] == [
        (m["user_id"], [r["id"] for r in m["roles"]])
        for m in graph.organization_members
        if m["organization_id"] == org["id"]
    ]
    connections = list(api.organizations.enabled_connections.list(org["id"]))
    assert [c.connection.name for c in connections if c.connection] == [
        c["name"] for c in org["enabled_connections"]
    ]


def test_server_sends_rate_limit_headers_and_auth0_errors(
    tenant: Auth0ManagementServer, graph: AuthzGraph
) -> None:
    """x-ratelimit-* on every answer; 404 for an unknown role; offset paging stops at 1,000."""
    headers = {"Authorization": f"Bearer {tenant.token}"}
    with httpx.Client(base_url=tenant.management_url, headers=headers) as http:
        answer = http.get("/roles", params={"include_totals": "true"})
        assert answer.status_code == 200
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(
            answer.headers
        )
        assert answer.json()["total"] == len(graph.roles)
        missing = http.get("/roles/rol_0000000000000000/users")
        assert (missing.status_code, missing.json()["errorCode"]) == (404, "inexistent_role")
        deep = http.get("/roles", params={"page": 10, "per_page": 100})
        assert (deep.status_code, deep.json()["errorCode"]) == (400, "invalid_paging")
        plain = http.get(f"/organizations/{graph.organizations[0]['id']}/members")
        assert plain.status_code == 200
        assert all("roles" not in m for m in plain.json())  # roles only when asked for


def test_member_roles_need_their_scope(tenant: Auth0ManagementServer, graph: AuthzGraph) -> None:
    """fields=roles without read:organization_member_roles is 403 insufficient_scope."""
    weak_token(tenant)
    with httpx.Client(
        base_url=tenant.management_url, headers={"Authorization": "Bearer weak"}
    ) as http:
        org = graph.organizations[0]["id"]
        assert http.get(f"/organizations/{org}/members").status_code == 200
        refused = http.get(f"/organizations/{org}/members", params={"fields": "user_id,roles"})
    assert (refused.status_code, refused.json()["errorCode"]) == (403, "insufficient_scope")


# -- the export --------------------------------------------------------------------------------


def test_export_writes_what_the_tenant_holds(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """Every file equals the graph, read_authz finds no problem, and progress counts first."""
    seen: list[AuthzExportProgress] = []
    result = export_authz(source(tenant, page_size=4), tmp_path, progress=seen.append)
    assert file_lines(tmp_path) == graph_lines(graph)
    assert (result.roles, result.role_members) == (len(graph.roles), len(graph.role_members))
    assert (result.organizations, result.organization_members) == (
        len(graph.organizations),
        len(graph.organization_members),
    )
    assert not result.resumed
    assert result.files.complete
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(AUTHZ_FILES.values())
    data = result.files.read(strict=True)
    assert data.assignments == graph.assignments
    phases = [p.phase for p in seen]
    assert phases[0] == "counting"
    assert phases.index("roles") < phases.index("organizations") < phases.index("done")
    roles_started = next(p for p in seen if p.phase == "roles")
    assert (roles_started.total, roles_started.organizations) == (
        len(graph.roles),
        len(graph.organizations),
    )
    for name in AUTHZ_FILES.values():
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644  # no secrets in them


def test_export_walks_roles_to_users_with_checkpoints(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """Role members come from role → users checkpoint pages (from/take/next), never user → roles."""
    export_authz(source(tenant, page_size=5), tmp_path, organizations=False)
    paths = [r.path for r in tenant.requests]
    assert not any(p.startswith("/api/v2/users") for p in paths)
    walks = [r for r in tenant.requests if r.path.endswith("/users")]
    assert all(r.query_one("take") == "5" for r in walks)
    with_cursor = [r for r in walks if r.query_one("from")]
    per_role = [members_of(graph, r["id"]) for r in graph.roles]
    assert len(with_cursor) == sum(max(0, -(-n // 5) - 1) for n in per_role)
    assert (
        file_lines(tmp_path)["auth0-role-members.ndjson"]
        == graph_lines(graph)["auth0-role-members.ndjson"]
    )
    assert file_lines(tmp_path)["auth0-organizations.ndjson"] == []


def test_export_waits_out_429s_mid_walk(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """429s in the middle of the walks are waited out (x-ratelimit-reset); nothing is lost."""
    sleep = FakeSleep()
    reader = source(tenant, page_size=6, sleep=sleep)
    calls = 0

    def storm(progress: AuthzExportProgress) -> None:
        nonlocal calls
        calls += 1
        if calls in (3, 9, 20):
            tenant.rate_limit(times=2, path_prefix="/api/v2/", reset_in=2)

    export_authz(reader, tmp_path, progress=storm)
    assert len(sleep.slept) == 6  # each 429 waited once
    assert all(0 < s <= 3 for s in sleep.slept)
    assert file_lines(tmp_path) == graph_lines(graph)


def test_interrupted_export_resumes_without_duplicates(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """Stopped mid-walk (and a page written past the checkpoint), a re-run finishes exactly."""
    pages = 0

    def stop_after_some_pages(progress: AuthzExportProgress) -> None:
        nonlocal pages
        if progress.phase in ("roles", "organizations"):
            pages += 1
            if pages == 25:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_authz(source(tenant, page_size=3), tmp_path, progress=stop_after_some_pages)
    assert (tmp_path / AUTHZ_CHECKPOINT_FILE).exists()
    assert not AuthzFiles.in_directory(tmp_path).complete
    with pytest.raises(InputFileError, match="unfinished"):
        AuthzFiles.in_directory(tmp_path).read()
    with pytest.raises(InputFileError, match="unfinished"):
        read_authz_files(tmp_path)
    # A page appended after the last checkpoint (killed before the checkpoint was saved):
    partial = tmp_path / "auth0-role-members.ndjson"
    with partial.open("ab") as f:
        f.write(b'{"role_id":"rol_written_twice","user_id":"auth0|x"}\n')
    before = len(tenant.requests)
    result = export_authz(source(tenant, page_size=3), tmp_path)
    assert result.resumed
    assert file_lines(tmp_path) == graph_lines(graph)
    lists = ("/api/v2/roles", "/api/v2/organizations")
    assert [
        r for r in tenant.requests[before:] if r.path in lists
    ] == []  # the counts were kept: only the rest of the walk was asked for


def test_export_survives_sigkill(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """A process killed with SIGKILL mid-export is finished by the next run, line for line."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from auth0_ory_migrate import Auth0Authz, Auth0Exporter, export_authz
        exporter = Auth0Exporter.connect({tenant.url!r}, token={tenant.token!r})
        pages = 0
        def kill(progress):
            global pages
            pages += 1
            if pages == 30:
                os.kill(os.getpid(), signal.SIGKILL)
        export_authz(Auth0Authz.of(exporter, page_size=2), {str(tmp_path)!r}, progress=kill)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=False, timeout=120)
    assert done.returncode == -signal.SIGKILL
    assert (tmp_path / AUTHZ_CHECKPOINT_FILE).exists()
    result = export_authz(source(tenant, page_size=2), tmp_path)
    assert result.resumed
    assert file_lines(tmp_path) == graph_lines(graph)


def interrupt_at_organizations(tenant: Auth0ManagementServer, directory: Path) -> None:
    """Run an export into *directory* and stop it (a Ctrl-C) once it reaches organizations."""

    def stop(progress: AuthzExportProgress) -> None:
        if progress.phase == "organizations":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_authz(source(tenant), directory, progress=stop)


def test_other_options_start_over(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """A checkpoint of a run with other options is not resumed: the export starts over."""
    interrupt_at_organizations(tenant, tmp_path)
    result = export_authz(source(tenant), tmp_path, limit=2)
    assert not result.resumed
    assert (result.roles, result.organizations) == (2, 2)
    lines = file_lines(tmp_path)
    assert lines["auth0-roles.ndjson"] == graph_lines(graph)["auth0-roles.ndjson"][:2]


def test_missing_member_roles_scope_is_one_clear_error(
    tenant: Auth0ManagementServer, tmp_path: Path
) -> None:
    """Without read:organization_member_roles: Auth0ApiError naming the scope."""
    with pytest.raises(Auth0ApiError) as caught:
        export_authz(source(tenant, token=weak_token(tenant)), tmp_path, roles=False)
    assert caught.value.status == 403
    assert "read:organization_member_roles" in str(caught.value)
    assert "read:users scope" not in str(caught.value)


def test_output_through_a_symlink_is_refused(tenant: Auth0ManagementServer, tmp_path: Path) -> None:
    """A symbolic link where a file goes is never followed: one OutputFileError."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me\n")
    (tmp_path / AUTHZ_FILES["organizations"]).symlink_to(target)
    with pytest.raises(OutputFileError):
        export_authz(source(tenant), tmp_path, roles=False)
    assert target.read_text() == "keep me\n"


def test_nothing_to_export_is_refused(tenant: Auth0ManagementServer, tmp_path: Path) -> None:
    """Neither roles nor organizations, or a missing directory: ConfigurationError, no request."""
    with pytest.raises(ConfigurationError):
        export_authz(source(tenant), tmp_path, roles=False, organizations=False)
    with pytest.raises(ConfigurationError):
        export_authz(source(tenant), tmp_path / "nope")
    with pytest.raises(TypeError, match=r"Auth0Authz\.of\(exporter\)"):
        export_authz(source(tenant).exporter, tmp_path)  # type: ignore[arg-type]
    assert tenant.requests == []


# -- the command line ------------------------------------------------------------------------------


def run(args: list[str]) -> Any:
    """Run the CLI without the caller's AUTH0_* environment."""
    clean = {name: None for name in os.environ if name.startswith("AUTH0_")}
    return CliRunner().invoke(main, args, env=clean)


def test_cli_exports_roles_and_organizations_alone(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """`export --roles --organizations` without a users choice writes only the four files."""
    out = tmp_path / "auth0-users.ndjson.gz"
    result = run(
        ["export", "--domain", tenant.url, "--token", str(tenant.token), "--roles",
         "--organizations", "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert file_lines(tmp_path) == graph_lines(graph)
    assert not out.exists()
    assert tenant.requests_to("POST", "/api/v2/jobs") == []
    assert "counting roles and organizations" in result.stderr
    assert f"exported {len(graph.roles)} roles" in result.stderr


def test_cli_exports_users_and_a_trial_of_roles(
    tenant: Auth0ManagementServer, graph: AuthzGraph, tmp_path: Path
) -> None:
    """With --all-connections and --limit: the users file, and the first roles only."""
    out = tmp_path / "auth0-users.ndjson.gz"
    tenant.job_steps = 0
    result = run(
        ["export", "--domain", tenant.url, "--token", str(tenant.token), "--all-connections",
         "--roles", "--limit", "3", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.exists()
    lines = file_lines(tmp_path)
    assert lines["auth0-roles.ndjson"] == graph_lines(graph)["auth0-roles.ndjson"][:3]
    assert lines["auth0-organizations.ndjson"] == []
    assert result.stderr == ""


def test_cli_missing_scope_exits_2_in_one_line(
    tenant: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A token without the member-roles scope: one error line naming it, exit 2, no token."""
    token = "weak-token-without-member-roles"
    weak_token(tenant, token)
    result = run(
        ["export", "--domain", tenant.url, "--token", token, "--organizations",
         "--out", str(tmp_path / "u.gz")]
    )  # fmt: skip
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "read:organization_member_roles" in errors[0]
    assert "Traceback" not in result.output
    assert token not in result.output


def test_cli_checkpoint_is_json_without_secrets(
    tenant: Auth0ManagementServer, tmp_path: Path
) -> None:
    """The checkpoint of an interrupted run holds ids and cursors, never the token."""
    interrupt_at_organizations(tenant, tmp_path)
    text = (tmp_path / AUTHZ_CHECKPOINT_FILE).read_text()
    assert tenant.token is not None
    assert tenant.token not in text
    assert json.loads(text)["version"] == 1
