"""Contract tests of the Auth0 test server, spoken to through auth0-python over HTTP."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error, RateLimitError
from auth0.management.client import Auth0
from auth0.management.core.api_error import ApiError
from auth0.management.errors.bad_request_error import BadRequestError
from auth0.management.errors.forbidden_error import ForbiddenError
from auth0.management.errors.not_found_error import NotFoundError
from auth0.management.errors.too_many_requests_error import TooManyRequestsError
from auth0.management.errors.unauthorized_error import UnauthorizedError
from auth0.management.management_client import ManagementClient

from auth0_ory_migrate.testing import (
    PASSWORD_REALM_GRANT,
    Auth0ManagementServer,
    ClientApp,
    PasswordUser,
    auth0_users,
)


DB = "Username-Password-Authentication"


def sample_users() -> list[dict[str, Any]]:
    """Realistic export records: database, social, linked, passwordless, sms, enterprise."""
    return [u.record for u in auth0_users(40, seed=7, real_hashes=False)]


class FakeClock:
    """A wall clock that only moves when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[Auth0ManagementServer]:
    with Auth0ManagementServer(sample_users()) as s:
        yield s


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The httpx client the SDK's Management API clients use (closed after the test)."""
    with httpx.Client(timeout=10) as client:
        yield client


def api(http: httpx.Client, server: Auth0ManagementServer, token: str | None = None) -> Auth0:
    """The generated Management API client on the server, with the SDK's retries off."""
    return Auth0(
        base_url=server.management_url,
        token=token or server.token or "",
        max_retries=0,
        httpx_client=http,
    )


def finish(client: Auth0, job_id: str, polls: int = 10) -> Any:
    """Poll a job until it leaves pending/processing."""
    for _ in range(polls):
        job = client.jobs.get(job_id)
        if job.status not in ("pending", "processing"):
            return job
    raise AssertionError("job never finished")


def download(location: str) -> list[dict[str, Any]]:
    """Fetch the export behind a location link and parse its NDJSON."""
    response = requests.get(location, timeout=5)
    assert response.status_code == 200
    return [json.loads(line) for line in gzip.decompress(response.content).splitlines()]


def primary(user: dict[str, Any]) -> str:
    return str(user["identities"][0]["connection"])


def test_create_answers_the_documented_job(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """POST users-exports answers a pending users_export job with its connection and fields."""
    con = server.connection_id(DB)
    job = api(http, server).jobs.users_exports.create(
        connection_id=con, format="json", fields=[{"name": "email"}]
    )
    assert job.id.startswith("job_")
    assert (job.type, job.status, job.connection_id, job.format) == (
        "users_export",
        "pending",
        con,
        "json",
    )
    assert getattr(job, "connection", None) == DB
    assert job.created_at is not None
    assert [f.name for f in job.fields or []] == ["email"]


def test_job_moves_through_its_states(server: Auth0ManagementServer, http: httpx.Client) -> None:
    """GET jobs/{id} goes pending, processing (progress, time left), completed with a link."""
    server.job_steps, server.seconds_per_step = 3, 4
    client = api(http, server)
    job = client.jobs.users_exports.create(format="json")
    seen = [client.jobs.get(job.id) for _ in range(5)]
    assert [j.status for j in seen] == [
        "pending",
        "processing",
        "processing",
        "completed",
        "completed",
    ]
    assert [j.percentage_done for j in seen[1:3]] == [33, 66]
    assert [j.time_left_seconds for j in seen[1:3]] == [8, 4]
    assert seen[0].location is None
    assert seen[3].location
    assert seen[4].location
    assert seen[3].location != seen[4].location  # a fresh link on every call


def test_failed_and_expired_jobs(server: Auth0ManagementServer, http: httpx.Client) -> None:
    """A job can end failed (with status_details) or expired, without a location."""
    client = api(http, server)
    server.job_outcome = "failed"
    failed = finish(client, client.jobs.users_exports.create(format="json").id)
    assert failed.status == "failed"
    assert failed.status_details
    assert failed.location is None
    server.job_outcome = "expired"
    expired = finish(client, client.jobs.users_exports.create(format="json").id)
    assert (expired.status, expired.location) == ("expired", None)


def test_expire_job_turns_a_completed_job_expired(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """expire_job() does what Auth0 does a day after completion."""
    client = api(http, server)
    job = finish(client, client.jobs.users_exports.create(format="json").id)
    assert job.status == "completed"
    server.expire_job(job.id)
    assert client.jobs.get(job.id).status == "expired"


def test_export_file_honours_connection_and_fields(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """The file holds the connection's users, the requested fields, export_as renames."""
    client = api(http, server)
    job = client.jobs.users_exports.create(
        connection_id=server.connection_id(DB),
        format="json",
        fields=[
            {"name": "user_id"},
            {"name": "email", "export_as": "mail"},
            {"name": "identities[0].connection", "export_as": "conn"},
            {"name": "app_metadata"},
            {"name": "not_a_field"},
        ],
    )
    records = download(finish(client, job.id).location)
    expected = [u for u in sample_users() if primary(u) == DB]
    assert [r["user_id"] for r in records] == [u["user_id"] for u in expected]
    for record, user in zip(records, expected, strict=True):
        assert record["conn"] == DB
        assert record["app_metadata"] == user["app_metadata"]
        assert record.get("mail") == user.get("email")
        assert "not_a_field" not in record
        assert set(record) <= {"user_id", "mail", "conn", "app_metadata"}


def test_omitted_connection_exports_everyone_and_limit_caps(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """Without connection_id every user is exported; limit caps the count."""
    client = api(http, server)
    everyone = download(finish(client, client.jobs.users_exports.create(format="json").id).location)
    assert [r["user_id"] for r in everyone] == [u["user_id"] for u in sample_users()]
    assert len({primary(u) for u in sample_users()}) > 3  # social, enterprise... included
    capped = client.jobs.users_exports.create(format="json", limit=3)
    assert len(download(finish(client, capped.id).location)) == 3


def test_csv_export_quotes_strings(server: Auth0ManagementServer, http: httpx.Client) -> None:
    """CSV format gives a header row and Auth0's quote prefix on strings."""
    client = api(http, server)
    job = client.jobs.users_exports.create(
        format="csv", fields=[{"name": "user_id", "export_as": "id"}, {"name": "logins_count"}]
    )
    response = requests.get(finish(client, job.id).location, timeout=5)
    lines = gzip.decompress(response.content).decode().splitlines()
    assert lines[0] == "id,logins_count"
    first = sample_users()[0]
    assert lines[1] == f"'{first['user_id']},{first['logins_count']}"


def test_link_expires_like_an_s3_presigned_url(http: httpx.Client) -> None:
    """After link_ttl seconds the location answers 403 with S3's XML error."""
    clock = FakeClock()
    with Auth0ManagementServer(sample_users(), clock=clock, link_ttl=60) as server:
        client = api(http, server)
        location = finish(client, client.jobs.users_exports.create(format="json").id).location
        clock.now += 59
        assert requests.get(location, timeout=5).status_code == 200
        clock.now += 1
        response = requests.get(location, timeout=5)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in response.text
    assert "<Message>Request has expired</Message>" in response.text


def test_forged_or_reused_links_are_refused(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """A link with a wrong signature, or pointing at another job, is refused."""
    client = api(http, server)
    location = finish(client, client.jobs.users_exports.create(format="json").id).location
    forged = location.replace("X-Amz-Signature=", "X-Amz-Signature=00")
    assert requests.get(forged, timeout=5).status_code == 403
    other = client.jobs.users_exports.create(format="json").id
    prefix, _, rest = location.partition("/exports/")
    moved = f"{prefix}/exports/{other}/{rest.split('/', 1)[1]}"
    assert requests.get(moved, timeout=5).status_code == 403


def test_expire_next_links_and_truncate_downloads(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """The link faults: a link born expired, then a download cut in half."""
    client = api(http, server)
    job = finish(client, client.jobs.users_exports.create(format="json").id)
    full = server.export_file(job.id)
    server.expire_next_links()
    assert requests.get(client.jobs.get(job.id).location, timeout=5).status_code == 403
    server.truncate_next_downloads()
    response = requests.get(client.jobs.get(job.id).location, timeout=5)
    assert response.status_code == 200
    assert response.content == full[: len(full) // 2]
    with pytest.raises(EOFError):
        gzip.decompress(response.content)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"format": "json", "unknown": 1}, "Additional properties not allowed: unknown"),
        ({"limit": None}, "Expected type integer but found type null"),
        ({"connection_id": "con_short"}, "does not match pattern"),
        ({"format": "xml"}, "No enum match"),
        ({"limit": 0}, "less than minimum 1"),
        ({"fields": [{"name": "a", "as": "b"}]}, "Additional properties not allowed: as"),
        ({"fields": [{"export_as": "b"}]}, "Missing required property: name"),
    ],
)
def test_create_validates_the_body(
    server: Auth0ManagementServer, body: dict[str, Any], message: str
) -> None:
    """A malformed job request is a 400 invalid_body naming the problem."""
    response = requests.post(
        f"{server.management_url}/jobs/users-exports",
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=5,
    )
    assert response.status_code == 400
    payload = response.json()
    assert (payload["statusCode"], payload["error"], payload["errorCode"]) == (
        400,
        "Bad Request",
        "invalid_body",
    )
    assert message in payload["message"]
    assert server.jobs == []


def test_unknown_connection_and_too_many_csv_fields(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """An unknown connection id and a CSV of 31 fields are refused through the SDK."""
    client = api(http, server)
    with pytest.raises(BadRequestError) as unknown:
        client.jobs.users_exports.create(connection_id="con_" + "A" * 16)
    assert unknown.value.body["errorCode"] == "inexistent_connection"
    with pytest.raises(BadRequestError):
        client.jobs.users_exports.create(
            format="csv", fields=[{"name": f"f{i}"} for i in range(31)]
        )
    job = client.jobs.users_exports.create(
        format="json", fields=[{"name": f"f{i}"} for i in range(31)]
    )
    assert job.status == "pending"


def test_connections_lookup_by_name_and_paging(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """connections.list finds a connection by name and pages through all of them."""
    client = api(http, server)
    found = list(client.connections.list(name=DB))
    assert [(c.name, c.id) for c in found] == [(DB, server.connection_id(DB))]
    assert list(client.connections.list(name="nope")) == []
    names = [c.name for c in client.connections.list(take=2)]
    assert sorted(names) == sorted(c["name"] for c in server.connections)
    assert len(names) > 2


def test_unknown_job_is_404(server: Auth0ManagementServer, http: httpx.Client) -> None:
    """GET of a job that does not exist is 404 inexistent_job."""
    with pytest.raises(NotFoundError) as caught:
        api(http, server).jobs.get("job_doesnotexist")
    assert caught.value.body == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The job does not exist.",
        "errorCode": "inexistent_job",
    }


def test_bearer_token_is_checked(server: Auth0ManagementServer, http: httpx.Client) -> None:
    """No token or a wrong one is 401 with Auth0's error body; the right one passes."""
    no_token = requests.get(f"{server.management_url}/connections", timeout=5)
    assert no_token.status_code == 401
    assert no_token.json()["error"] == "Unauthorized"
    with pytest.raises(UnauthorizedError) as caught:
        api(http, server, token="wrong").jobs.users_exports.create(format="json")
    assert caught.value.status_code == 401
    assert set(caught.value.body) == {"statusCode", "error", "message", "errorCode"}
    assert caught.value.body["message"] == "Invalid token"
    assert server.jobs == []


def test_scopes_are_checked(server: Auth0ManagementServer, http: httpx.Client) -> None:
    """A token without read:users gets 403 insufficient_scope."""
    server.add_token("connections-only", scopes=["read:connections"])
    client = api(http, server, token="connections-only")
    assert list(client.connections.list(name=DB))
    with pytest.raises(ForbiddenError) as caught:
        client.jobs.users_exports.create(format="json")
    assert caught.value.body["errorCode"] == "insufficient_scope"
    assert "read:users" in caught.value.body["message"]


def test_rate_limit_fault_sends_ratelimit_headers(http: httpx.Client) -> None:
    """A 429 carries x-ratelimit-limit/-remaining/-reset (and Retry-After when asked)."""
    clock = FakeClock()
    with Auth0ManagementServer(sample_users(), clock=clock) as server:
        server.rate_limit(times=2, reset_in=7, retry_after=3)
        client = api(http, server)
        for _ in range(2):
            with pytest.raises(TooManyRequestsError) as caught:
                client.jobs.users_exports.create(format="json")
            headers = caught.value.headers or {}
            assert headers["x-ratelimit-limit"] == "50"
            assert headers["x-ratelimit-remaining"] == "0"
            assert headers["x-ratelimit-reset"] == str(int(clock.now) + 7)
            assert headers["retry-after"] == "3"
            assert caught.value.body["errorCode"] == "too_many_requests"
        assert client.jobs.users_exports.create(format="json").status == "pending"
        assert len(server.jobs) == 1


def test_server_error_fault_only_hits_matching_requests(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """fail() hits the next matching request (by path and method) with an Auth0 5xx body."""
    server.fail(503, path_prefix="/api/v2/jobs/", method="GET")
    client = api(http, server)
    job = client.jobs.users_exports.create(format="json")
    with pytest.raises(ApiError) as caught:
        client.jobs.get(job.id)
    assert caught.value.status_code == 503
    assert caught.value.body["statusCode"] == 503
    assert client.jobs.get(job.id).status == "pending"


def test_client_credentials_token_works_on_the_management_api(
    server: Auth0ManagementServer, http: httpx.Client
) -> None:
    """GetToken.client_credentials returns a bearer token the Management API accepts."""
    auth = GetToken(
        server.domain, "test-client-id", client_secret="test-client-secret", protocol="http"
    )
    answer = auth.client_credentials(audience=server.audience)
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] > 0
    assert "read:users" in answer["scope"].split()
    job = api(http, server, token=answer["access_token"]).jobs.users_exports.create(format="json")
    assert job.status == "pending"


def test_client_credentials_refusals(server: Auth0ManagementServer) -> None:
    """A wrong secret is 401 access_denied; a foreign audience is 403."""
    wrong = GetToken(server.domain, "test-client-id", client_secret="nope", protocol="http")
    with pytest.raises(Auth0Error) as caught:
        wrong.client_credentials(audience=server.audience)
    assert (caught.value.status_code, caught.value.error_code) == (401, "access_denied")
    right = GetToken(
        server.domain, "test-client-id", client_secret="test-client-secret", protocol="http"
    )
    with pytest.raises(Auth0Error) as foreign:
        right.client_credentials(audience="https://elsewhere.example/api/v2/")
    assert foreign.value.status_code == 403


def test_management_client_with_client_credentials_over_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ManagementClient(domain, client_id, client_secret) works against the server over https."""
    with Auth0ManagementServer(sample_users(), tls=True) as server:
        assert server.url.startswith("https://")
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        with httpx.Client() as http:  # created after SSL_CERT_FILE is set
            client = ManagementClient(
                domain=server.domain,
                client_id="test-client-id",
                client_secret="test-client-secret",
                httpx_client=http,
            )
            found = list(client.connections.list(name=DB, request_options={"max_retries": 0}))
        assert [c.id for c in found] == [server.connection_id(DB)]
        grants = [(r.grant_type, r.audience, r.status) for r in server.token_requests]
        assert grants == [("client_credentials", server.audience, 200)]


@pytest.fixture
def login_server() -> Iterator[Auth0ManagementServer]:
    users = [
        PasswordUser("ada@example.com", "right horse battery"),
        PasswordUser("mfa@example.com", "mfa-pass", mfa=True),
        PasswordUser("blocked@example.com", "blocked-pass", blocked=True),
    ]
    with Auth0ManagementServer(password_users=users) as s:
        yield s


def login_client(server: Auth0ManagementServer) -> GetToken:
    return GetToken(
        server.domain, "test-client-id", client_secret="test-client-secret", protocol="http"
    )


def test_password_realm_right_password(login_server: Auth0ManagementServer) -> None:
    """The right password gets a token; auth0-forwarded-for is recorded as trusted."""
    answer = login_client(login_server).login(
        "Ada@Example.com", "right horse battery", realm=DB, forwarded_for="203.0.113.9"
    )
    assert answer["access_token"]
    assert answer["token_type"] == "Bearer"
    (record,) = login_server.token_requests
    assert (record.grant_type, record.username, record.realm) == (
        PASSWORD_REALM_GRANT,
        "Ada@Example.com",
        DB,
    )
    assert (record.forwarded_for, record.forwarded_for_trusted, record.status) == (
        "203.0.113.9",
        True,
        200,
    )


def test_password_realm_wrong_password_and_unknown_user(
    login_server: Auth0ManagementServer,
) -> None:
    """A wrong password and an unknown user both get 403 invalid_grant."""
    client = login_client(login_server)
    for username, password in (("ada@example.com", "wrong"), ("who@example.com", "x")):
        with pytest.raises(Auth0Error) as caught:
            client.login(username, password, realm=DB)
        assert (caught.value.status_code, caught.value.error_code) == (403, "invalid_grant")
        assert caught.value.message == "Wrong email or password."
    with pytest.raises(Auth0Error):
        client.login("ada@example.com", "right horse battery", realm="other-db")


def test_password_realm_mfa_and_blocked(login_server: Auth0ManagementServer) -> None:
    """An MFA user gets 403 mfa_required with an mfa_token; a blocked user 401."""
    client = login_client(login_server)
    with pytest.raises(Auth0Error) as mfa:
        client.login("mfa@example.com", "mfa-pass", realm=DB)
    assert (mfa.value.status_code, mfa.value.error_code) == (403, "mfa_required")
    assert isinstance(mfa.value.content, dict)
    assert mfa.value.content["mfa_token"].startswith("mfa_")
    with pytest.raises(Auth0Error) as blocked:
        client.login("blocked@example.com", "blocked-pass", realm=DB)
    assert blocked.value.status_code == 401


def test_password_realm_rate_limit_and_server_error(login_server: Auth0ManagementServer) -> None:
    """The token endpoint's 429 (RateLimitError with reset_at) and 5xx faults."""
    client = login_client(login_server)
    login_server.rate_limit(path_prefix="/oauth/token", reset_in=30)
    with pytest.raises(RateLimitError) as limited:
        client.login("ada@example.com", "right horse battery", realm=DB)
    assert limited.value.reset_at > 0
    login_server.fail(503, path_prefix="/oauth/token")
    with pytest.raises(Auth0Error) as failed:
        client.login("ada@example.com", "right horse battery", realm=DB)
    assert failed.value.status_code == 503
    assert client.login("ada@example.com", "right horse battery", realm=DB)["access_token"]


def test_forwarded_for_is_untrusted_without_secret_or_setting() -> None:
    """auth0-forwarded-for counts only with the client secret and the trust setting."""
    clients = [
        ClientApp("trusting", "s1"),
        ClientApp("distrusting", "s2", trust_forwarded_for=False),
    ]
    with Auth0ManagementServer(
        clients=clients, password_users=[PasswordUser("a@b.c", "pw")]
    ) as server:
        for client_id, secret in (("distrusting", "s2"), ("trusting", None)):
            GetToken(server.domain, client_id, client_secret=secret, protocol="http").login(
                "a@b.c", "pw", realm=DB, forwarded_for="198.51.100.1"
            )
        records = server.token_requests
    assert [(r.client_id, r.forwarded_for, r.forwarded_for_trusted) for r in records] == [
        ("distrusting", "198.51.100.1", False),
        ("trusting", "198.51.100.1", False),
    ]
    assert [r.client_authenticated for r in records] == [True, False]


def test_grant_not_allowed_for_the_client() -> None:
    """A client without the password-realm grant gets 403 unauthorized_client."""
    app = ClientApp("m2m", "secret", grant_types=("client_credentials",))
    with (
        Auth0ManagementServer(
            clients=[app], password_users=[PasswordUser("a@b.c", "pw")]
        ) as server,
        pytest.raises(Auth0Error) as caught,
    ):
        GetToken(server.domain, "m2m", client_secret="secret", protocol="http").login(
            "a@b.c", "pw", realm=DB
        )
    assert (caught.value.status_code, caught.value.error_code) == (403, "unauthorized_client")


def test_concurrent_job_creation_is_safe(server: Auth0ManagementServer, http: httpx.Client) -> None:
    """Jobs created from many threads at once are all recorded, each with its own id."""
    ids: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        job = api(http, server).jobs.users_exports.create(format="json")
        with lock:
            ids.append(job.id)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 8
    assert sorted(j["id"] for j in server.jobs) == sorted(ids)


def test_secrets_stay_out_of_reprs() -> None:
    """Client secrets and passwords do not show in the records' reprs."""
    assert "s3cr3t" not in repr(ClientApp("id", "s3cr3t"))
    assert "pa55" not in repr(PasswordUser("a@b.c", "pa55"))
