"""A module-scoped Auth0 test server for Hypothesis: reset per example, the faults still on."""

from __future__ import annotations

import httpx
from hypothesis import given, settings

from auth0_ory_migrate.testing import Auth0ManagementServer, authz_graph
from auth0_ory_migrate.testing.strategies import Auth0Export, auth0_exports


TOKEN = "test-management-token"


def _users(server: Auth0ManagementServer) -> int:
    answer = httpx.post(
        f"{server.url}/api/v2/jobs/users-exports",
        json={"format": "json"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return answer.status_code


def test_reset_forgets_jobs_and_requests_and_rearms_the_faults() -> None:
    """reset(keep_faults=True): no job or request left, each fault as many times as configured."""
    with Auth0ManagementServer([{"user_id": "auth0|1", "email": "a@x.test"}]) as server:
        server.fail(503, times=1, path_prefix="/api/v2/jobs")
        assert _users(server) == 503
        assert _users(server) == 201
        server.reset(keep_faults=True)
        assert server.requests == []
        assert _users(server) == 503  # the configured fault again
        server.reset(users=[{"user_id": "auth0|2", "email": "b@x.test"}])
        assert _users(server) == 201  # faults off without keep_faults
        assert [u["user_id"] for u in server.users] == ["auth0|2"]


@settings(max_examples=15, deadline=None)
@given(export=auth0_exports(max_users=4))
def test_the_shared_server_takes_each_example_without_a_health_check(
    shared_auth0_server: Auth0ManagementServer, export: Auth0Export
) -> None:
    """The module-scoped fixture works with @given (no function_scoped_fixture health check)."""
    users = export.users
    shared_auth0_server.reset(users=users, keep_faults=True)
    assert [u["user_id"] for u in shared_auth0_server.users] == [u["user_id"] for u in users]
    assert shared_auth0_server.requests == []


def test_the_roles_endpoints_serve_the_users_of_the_latest_reset() -> None:
    """After many resets (list addresses reused), a role's members are this tenant's users."""
    users = [{"user_id": f"auth0|u{i}", "email": f"u{i}@x.test"} for i in range(10)]
    graph = authz_graph(users, roles=3, organizations=0, seed=1)
    role_id = graph.role_members[0]["role_id"]
    with Auth0ManagementServer(users, authz=graph) as server:
        for n in range(200):
            server.reset(users=[{**u, "email": f"n{n}.{u['email']}"} for u in users])
            if n % 7:
                continue  # (queried now and then: a freed list's address is reused meanwhile)
            answer = httpx.get(
                f"{server.url}/api/v2/roles/{role_id}/users",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ).json()
            members = answer["users"] if isinstance(answer, dict) else answer
            assert members, n
            assert all(str(m.get("email")).startswith(f"n{n}.") for m in members), (n, members)
