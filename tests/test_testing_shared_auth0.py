"""A module-scoped Auth0 test server for Hypothesis: reset per example, the faults still on."""

from __future__ import annotations

import httpx
from hypothesis import given, settings

from auth0_ory_migrate.testing import Auth0ManagementServer
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
