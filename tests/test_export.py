"""The Auth0 export: pure decisions, the adapter and ``export`` through auth0-python over HTTP."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from auth0.management.client import Auth0
from auth0.management.core.api_error import ApiError
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from auth0_ory_migrate import (
    EXPORT_FIELDS,
    Auth0Exporter,
    ExportJob,
    ExportProgress,
    ExportScope,
    PollPolicy,
    export_scope_path,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._cli.export import _ProgressDisplay
from auth0_ory_migrate._core._auth0 import ManagementEndpoint, is_loopback_host, parse_domain
from auth0_ory_migrate._core._export import (
    EXPORT_RETRY,
    ApiFailure,
    DownloadProblem,
    ExportFileCheck,
    body_message,
    check_download_url,
    job_failure,
    next_check,
    next_poll_delay,
    refused_download,
)
from auth0_ory_migrate._core._retry import retry_delay, retry_wait
from auth0_ory_migrate.exceptions import (
    Auth0ApiError,
    Auth0OryMigrateError,
    ConfigurationError,
    ExportDownloadError,
    ExportJobFailedError,
    ExportTimeoutError,
    InputFileError,
)
from auth0_ory_migrate.testing import Auth0ManagementServer, auth0_users, write_export
from tests.test_auth0_server import DB, sample_users


NOW = 1_700_000_000.0


class FakeTime:
    """A wall clock and a monotonic clock that move only when slept on."""

    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def server(fake_time: FakeTime) -> Iterator[Auth0ManagementServer]:
    with Auth0ManagementServer(sample_users(), clock=fake_time) as s:
        yield s


@pytest.fixture
def make_exporter(server: Auth0ManagementServer, fake_time: FakeTime) -> Iterator[Any]:
    """Build exporters on the test server with fake time; close them after the test."""
    made: list[Auth0Exporter] = []

    def make(**options: Any) -> Auth0Exporter:
        if "token" not in options and "client_id" not in options:
            options["token"] = server.token
        options.setdefault("sleep", fake_time.sleep)
        options.setdefault("clock", fake_time)
        options.setdefault("wall_clock", fake_time)
        domain = options.pop("domain", server.url)
        exporter = Auth0Exporter.connect(domain, **options)
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.close()


def read_export(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def created_bodies(server: Auth0ManagementServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests_to("POST", "/api/v2/jobs/users-exports")]


# -- pure decisions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("acme.eu.auth0.com", ManagementEndpoint("https", "acme.eu.auth0.com")),
        ("https://acme.eu.auth0.com/", ManagementEndpoint("https", "acme.eu.auth0.com")),
        ("HTTPS://acme.auth0.com/api/v2", ManagementEndpoint("https", "acme.auth0.com")),
        ("login.acme.test:8443", ManagementEndpoint("https", "login.acme.test:8443")),
        ("http://127.0.0.1:8080", ManagementEndpoint("http", "127.0.0.1:8080")),
        ("http://localhost:3000/", ManagementEndpoint("http", "localhost:3000")),
        ("http://[::1]:9000", ManagementEndpoint("http", "[::1]:9000")),
    ],
)
def test_parse_domain_accepts(domain: str, expected: ManagementEndpoint) -> None:
    """Bare tenant domains mean https; full URLs are kept; http only for loopback."""
    assert parse_domain(domain) == expected


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "http://acme.eu.auth0.com",
        "http://10.0.0.5:8080",
        "ftp://acme.auth0.com",
        "https://acme.auth0.com/some/path",
        "https://user:pw@acme.auth0.com",
        "https://acme.auth0.com/?x=1",
        "https://acme.auth0.com:notaport",
    ],
)
def test_parse_domain_refuses(domain: str) -> None:
    """Plain http to a remote host, other schemes, paths, queries, credentials are refused."""
    with pytest.raises(ConfigurationError):
        parse_domain(domain)


@pytest.mark.parametrize(
    ("domain", "secret"),
    [("https://admin:pw-0123@acme.auth0.com", "pw-0123"),
     ("https://acme.auth0.com/?token=tok-0123", "tok-0123"),
     ("https://acme.auth0.com/#tok-0123", "tok-0123")],
)  # fmt: skip
def test_parse_domain_never_repeats_secrets(domain: str, secret: str) -> None:
    """Credentials, a query or a fragment in the domain are refused without being repeated."""
    with pytest.raises(ConfigurationError) as caught:
        parse_domain(domain)
    assert secret not in str(caught.value)


def test_endpoint_urls() -> None:
    """An endpoint gives the Management API base URL and its audience."""
    endpoint = parse_domain("http://127.0.0.1:8080")
    assert endpoint.base_url == "http://127.0.0.1:8080/api/v2"
    assert endpoint.audience == "https://127.0.0.1:8080/api/v2/"
    assert endpoint.host == "127.0.0.1"


def test_loopback_hosts() -> None:
    """Only this machine's addresses are loopback."""
    assert all(map(is_loopback_host, ["localhost", "127.0.0.1", "127.8.9.1", "::1", "[::1]"]))
    assert not any(map(is_loopback_host, ["example.com", "10.0.0.1", "0.0.0.0", "::"]))  # noqa: S104


def test_download_url_must_be_https_except_loopback() -> None:
    """The location link must be https, or http on loopback."""
    assert check_download_url("https://user-exports.auth0.com/job_1/x.json.gz?sig=1") is None
    assert check_download_url("http://127.0.0.1:9/exports/x.gz") is None
    refused = check_download_url("http://user-exports.auth0.com/x.gz?X-Amz-Signature=abc")
    assert refused is not None
    assert "not https" in refused
    assert "X-Amz-Signature" not in refused
    assert check_download_url("file:///etc/passwd") is not None
    assert check_download_url("no-scheme") is not None


def test_poll_delay_follows_the_estimate_within_bounds() -> None:
    """With an estimate wait that long (within bounds), without one back off."""
    policy = PollPolicy(initial=1.0, multiplier=2.0, min_interval=0.5, max_interval=30.0)
    assert next_poll_delay(policy, 0, 12) == 12.0
    assert next_poll_delay(policy, 5, 3600) == 30.0
    assert next_poll_delay(policy, 0, None) == 1.0
    assert next_poll_delay(policy, 3, 0) == 8.0
    assert next_poll_delay(policy, 10, None) == 30.0
    assert next_poll_delay(PollPolicy(min_interval=2.0), 0, 1) == 2.0


def test_retry_wait_prefers_retry_after_then_ratelimit_reset() -> None:
    """Retry-After wins, then x-ratelimit-reset, then backoff; all capped."""
    policy = attrs.evolve(EXPORT_RETRY, wait_initial=0.5, wait_exp_base=2.0, wait_max=60.0)

    def wait(retry: int, headers: dict[str, str] | None) -> float | None:
        decision = retry_wait(ApiFailure(429, None, "slow", headers), policy, now=NOW, jitter=0)
        return retry_delay(decision, policy, retry, jitter=0.0)

    reset = {"x-ratelimit-reset": str(int(NOW) + 7)}
    assert wait(0, reset) == 7.0
    assert wait(0, {**reset, "Retry-After": "3"}) == 3.0
    http_date = {"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}  # NOW + 20 s
    assert wait(0, http_date) == 20.0
    assert wait(2, None) == 2.0
    assert wait(0, {"x-ratelimit-reset": str(int(NOW) + 3600)}) == 60.0
    assert wait(0, {"x-ratelimit-reset": str(int(NOW) - 5)}) == 0.0
    assert wait(1, {"retry-after": "soon"}) == 1.0


def test_export_job_reads_dicts_and_hides_the_link() -> None:
    """ExportJob reads Auth0's job; the pre-signed link stays out of its repr."""
    job = ExportJob.from_api(
        {
            "id": "job_1",
            "status": "completed",
            "percentage_done": 100,
            "time_left_seconds": 0,
            "location": "https://x/y?X-Amz-Signature=SECRET",
            "connection_id": "con_1",
        }
    )
    assert (job.id, job.status, job.percentage_done, job.connection_id) == (
        "job_1",
        "completed",
        100,
        "con_1",
    )
    assert "SECRET" not in repr(job)


def test_next_check_follows_the_job() -> None:
    """Completed: no more checks; failed/expired: the job's error; out of time: a timeout."""
    policy = PollPolicy(initial=1.0, multiplier=2.0, min_interval=0.5, max_interval=30.0)
    done = ExportJob("job_1", "completed")
    assert next_check(done, policy, 3, waited=10.0, time_left=0.0) is None
    running = ExportJob("job_1", "processing", percentage_done=40, time_left_seconds=12)
    assert next_check(running, policy, 0, waited=1.0, time_left=100.0) == 12.0
    assert next_check(running, policy, 0, waited=1.0, time_left=5.0) == 5.0
    with pytest.raises(ExportTimeoutError) as timed_out:
        next_check(running, policy, 4, waited=120.0, time_left=0.0)
    assert (timed_out.value.waited, timed_out.value.percentage_done) == (120.0, 40)
    for status in ("failed", "expired"):
        ended = ExportJob("job_1", status, status_details="internal error")
        with pytest.raises(ExportJobFailedError) as failed:
            next_check(ended, policy, 0, waited=1.0, time_left=100.0)
        assert failed.value.status == status
        assert job_failure(ended) is not None
    assert job_failure(running) is None
    assert job_failure(done) is None


@pytest.mark.parametrize(
    ("status", "retry"), [(400, True), (403, True), (429, True), (500, True), (503, True),
                          (404, False), (410, False), (301, False)]
)  # fmt: skip
def test_refused_downloads(status: int, retry: bool) -> None:
    """A stale link (403), a 400, a 429 or a 5xx is tried again with a fresh link."""
    s3 = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    problem = refused_download(status, s3)
    assert problem.retry is retry
    assert f"{status}: AccessDenied Request has expired" in problem.reason
    assert refused_download(status, "").reason.endswith(f"{status})" if retry else str(status))


def _gzip_members(*texts: bytes) -> bytes:
    return b"".join(gzip.compress(t) for t in texts)


@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    members=st.integers(1, 3),
    chunk=st.integers(1, 64),
    trailing_newline=st.booleans(),
)
def test_file_check_counts_users_whatever_the_chunks(
    *, lines: list[bytes], members: int, chunk: int, trailing_newline: bool
) -> None:
    """Any split of a complete gzip file (one or more members) passes and counts its lines."""
    text = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    third = len(text) // members
    parts = [text[i * third : (i + 1) * third if i < members - 1 else None] for i in range(members)]
    data = _gzip_members(*parts)
    check = ExportFileCheck()
    for start in range(0, len(data), chunk):
        assert check.feed(data[start : start + chunk]) is None
    assert check.finish(len(data)) is None
    assert check.size == len(data)
    assert check.users == len(lines) - (
        1 if lines and not lines[-1] and not trailing_newline else 0
    )


def test_file_check_problems() -> None:
    """Not gzip is final; corrupt, cut, padded or short files are retried with a fresh link."""
    data = gzip.compress(b'{"user_id": "a"}\n{"user_id": "b"}\n')
    not_gzip = ExportFileCheck().feed(b'{"user_id": "a"}')
    assert not_gzip == DownloadProblem("the file is not gzip-compressed", retry=False)
    corrupt = ExportFileCheck()
    corrupt_data = data[:10] + bytes(b ^ 0xFF for b in data[10:])
    assert corrupt.feed(corrupt_data) == DownloadProblem("the gzip data is corrupt", retry=True)
    cut = ExportFileCheck()
    assert cut.feed(data[: len(data) // 2]) is None
    problem = cut.finish(None)
    assert problem is not None
    assert problem.retry
    assert "incomplete" in problem.reason
    padded = ExportFileCheck()
    assert padded.feed(data + b"junk") == DownloadProblem(
        "unexpected bytes after the gzip data", retry=True
    )
    short = ExportFileCheck()
    assert short.feed(data) is None
    assert short.finish(len(data) + 5) == DownloadProblem(
        f"got {len(data)} of {len(data) + 5} bytes", retry=True
    )
    assert ExportFileCheck().finish(None) is not None  # nothing at all came


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"statusCode": 403, "errorCode": "insufficient_scope", "message": "Insufficient scope"},
         ("insufficient_scope", "Insufficient scope")),
        ({"error": "access_denied", "error_description": "Unauthorized"},
         ("access_denied", "Unauthorized")),
        ({"error": "invalid_grant"}, ("invalid_grant", "invalid_grant")),
        ({"message": 5}, (None, "no message")),
        ("  Bad Gateway  ", (None, "Bad Gateway")),
        ("x" * 500, (None, "x" * 300)),
        (None, (None, "no message")),
    ],
)  # fmt: skip
def test_body_message(body: Any, expected: tuple[str | None, str]) -> None:
    """Auth0's code and message come from either API's error body; text is cut at 300."""
    assert body_message(body) == expected


def test_export_fields_cover_what_a_migration_needs() -> None:
    """The default field list asks for identities, metadata, verification and timestamps."""
    needed = {
        "user_id", "email", "email_verified", "identities", "app_metadata", "user_metadata",
        "blocked", "last_password_reset", "multifactor", "phone_number", "username",
    }  # fmt: skip
    assert needed <= set(EXPORT_FIELDS)
    assert len(set(EXPORT_FIELDS)) == len(EXPORT_FIELDS)


def test_errors_are_library_errors() -> None:
    """Every export error is an Auth0OryMigrateError; the timeout is also a TimeoutError."""
    for error in (
        Auth0ApiError("x", 500, None, "m"),
        ExportJobFailedError("job_1", "failed", None),
        ExportDownloadError("job_1", "r"),
    ):
        assert isinstance(error, Auth0OryMigrateError)
    assert isinstance(ExportTimeoutError("job_1", 1.0, "pending", None), TimeoutError)


# -- the adapter against the test server ----------------------------------------------------


def test_export_one_connection(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A connection is exported as JSON with every field, written 0600, users counted."""
    out = tmp_path / "users.ndjson.gz"
    result = make_exporter().export(out, connection_id=server.connection_id(DB))
    expected = [u for u in sample_users() if u["identities"][0]["connection"] == DB]
    records = read_export(out)
    assert [r["user_id"] for r in records] == [u["user_id"] for u in expected]
    assert records[0]["identities"] == expected[0]["identities"]
    assert records[0]["app_metadata"] == expected[0]["app_metadata"]
    assert (result.users, result.size, result.path) == (len(expected), out.stat().st_size, out)
    assert result.connection_id == server.connection_id(DB)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []
    (body,) = created_bodies(server)
    assert body == {
        "format": "json",
        "fields": [{"name": name} for name in EXPORT_FIELDS],
        "connection_id": server.connection_id(DB),
    }


def test_export_all_connections(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """Without a connection the job omits connection_id and every user comes back."""
    out = tmp_path / "all.ndjson.gz"
    result = make_exporter().export(out)
    assert [r["user_id"] for r in read_export(out)] == [u["user_id"] for u in sample_users()]
    assert result.connection_id is None
    assert "connection_id" not in created_bodies(server)[0]


def test_export_connection_by_name(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A connection name is looked up through GET /api/v2/connections?name=..."""
    out = tmp_path / "social.ndjson.gz"
    result = make_exporter().export(out, connection="google-oauth2")
    assert result.connection_id == server.connection_id("google-oauth2")
    assert {r["identities"][0]["connection"] for r in read_export(out)} == {"google-oauth2"}
    (lookup,) = server.requests_to("GET", "/api/v2/connections")
    assert lookup.query_one("name") == "google-oauth2"


def test_unknown_connection_name(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """An unknown connection name is a ConfigurationError and no job is created."""
    with pytest.raises(ConfigurationError, match="no connection named 'nope'"):
        make_exporter().export(tmp_path / "x.gz", connection="nope")
    assert server.jobs == []


def test_limit_and_custom_fields(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """The limit and a caller's own field list reach the job."""
    out = tmp_path / "few.ndjson.gz"
    make_exporter(fields=("user_id", "email")).export(out, limit=4)
    records = read_export(out)
    assert len(records) == 4
    assert all(set(r) <= {"user_id", "email"} for r in records)
    assert created_bodies(server)[0]["limit"] == 4


def test_polling_honours_time_left(
    make_exporter: Any, server: Auth0ManagementServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    """Status checks wait Auth0's time-left estimate; progress reports every state."""
    server.job_steps, server.seconds_per_step = 3, 4
    seen: list[ExportProgress] = []
    make_exporter().export(tmp_path / "u.gz", progress=seen.append)
    assert fake_time.slept == [1.0, 8.0, 4.0]  # pending: no estimate; then 8 s, 4 s left
    waiting = [(p.status, p.percentage_done, p.time_left_seconds) for p in seen[:4]]
    assert waiting == [
        ("pending", None, None),
        ("processing", 33, 8),
        ("processing", 66, 4),
        ("completed", 100, 0),
    ]
    assert seen[-1].phase == "done"
    assert seen[-1].bytes_downloaded == (tmp_path / "u.gz").stat().st_size


def test_failed_job(make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path) -> None:
    """A failed job is an ExportJobFailedError with Auth0's details; nothing is written."""
    server.job_outcome = "failed"
    with pytest.raises(ExportJobFailedError) as caught:
        make_exporter().export(tmp_path / "u.gz")
    assert caught.value.status == "failed"
    assert "internal error" in str(caught.value)
    assert caught.value.job_id in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_expired_job(make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path) -> None:
    """An expired job is an ExportJobFailedError saying to start a new export."""
    server.job_outcome = "expired"
    with pytest.raises(ExportJobFailedError, match="expired") as caught:
        make_exporter().export(tmp_path / "u.gz")
    assert caught.value.status == "expired"


def test_expired_link_is_refreshed(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A link refused as expired is replaced by a fresh one from the job, and it works."""
    server.expire_next_links(2)
    out = tmp_path / "u.gz"
    make_exporter().export(out)
    downloads = server.requests_to("GET", "/exports/")
    assert len(downloads) == 3
    assert len({d.query_one("X-Amz-Signature") for d in downloads}) == 3
    assert out.read_bytes() == server.export_file(server.jobs[0]["id"])


def test_links_expiring_forever_give_up(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """When every link is refused the error says so, and no file or temp file is left."""
    server.expire_next_links(100)
    with pytest.raises(ExportDownloadError, match="Request has expired") as caught:
        make_exporter(download_attempts=3).export(tmp_path / "u.gz")
    assert "X-Amz-Signature" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    assert len(server.requests_to("GET", "/exports/")) == 3


def test_truncated_gzip_is_detected_and_retried(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A cut gzip stream is noticed (HTTP looked fine), retried, then refused for good."""
    server.truncate_next_downloads(1)
    out = tmp_path / "u.gz"
    make_exporter().export(out)
    assert out.read_bytes() == server.export_file(server.jobs[0]["id"])
    server.truncate_next_downloads(100)
    with pytest.raises(ExportDownloadError, match="incomplete"):
        make_exporter(download_attempts=2).export(tmp_path / "cut.gz")
    assert not (tmp_path / "cut.gz").exists()
    assert leftovers(tmp_path) == []


def test_content_encoding_gzip_is_kept_compressed(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A file served with Content-Encoding: gzip is still written as the gzip Auth0 made."""
    server.download_content_encoding = True
    out = tmp_path / "u.gz"
    make_exporter().export(out)
    assert out.read_bytes() == server.export_file(server.jobs[0]["id"])


def test_rate_limit_on_status_checks_is_honoured(
    make_exporter: Any, server: Auth0ManagementServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    """A 429 on GET /jobs waits until x-ratelimit-reset (or Retry-After) and goes on."""
    server.job_steps = 0
    server.rate_limit(times=1, path_prefix="/api/v2/jobs/job_", reset_in=7)
    server.rate_limit(times=1, path_prefix="/api/v2/jobs/job_", reset_in=30, retry_after=3)
    make_exporter().export(tmp_path / "u.gz")
    assert fake_time.slept == [7.0, 3.0]


def test_rate_limited_create_is_retried_once_the_limit_resets(
    make_exporter: Any, server: Auth0ManagementServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    """A 429 on the create call is retried (Auth0 created nothing): one job in the end."""
    server.rate_limit(times=1, path_prefix="/api/v2/jobs/users-exports", reset_in=5)
    make_exporter().export(tmp_path / "u.gz")
    assert len(created_bodies(server)) == 2
    assert len(server.jobs) == 1
    assert fake_time.slept[0] == 5.0


def test_create_is_never_retried_after_a_server_error(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A 5xx on the create call is not retried: a second POST could start a second job."""
    server.fail(503, path_prefix="/api/v2/jobs/users-exports")
    with pytest.raises(Auth0ApiError) as caught:
        make_exporter().export(tmp_path / "u.gz")
    assert caught.value.status == 503
    assert caught.value.action == "creating the export job"
    assert len(created_bodies(server)) == 1


def test_own_client_with_sdk_retries_still_posts_once(
    server: Auth0ManagementServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    """A caller's client with the SDK's default retries still creates the job with one POST."""
    server.fail(503, path_prefix="/api/v2/jobs/users-exports")
    with httpx.Client() as http:
        client = Auth0(base_url=server.management_url, token=server.token or "", httpx_client=http)
        exporter = Auth0Exporter(client, sleep=fake_time.sleep, clock=fake_time)
        with exporter, pytest.raises(Auth0ApiError):
            exporter.export(tmp_path / "u.gz")
        assert len(created_bodies(server)) == 1
        server.fail(503, times=2, path_prefix="/api/v2/jobs/job_")  # GETs are retried
        with exporter:
            result = exporter.export(tmp_path / "u.gz")
    assert result.users == len(sample_users())


def test_status_checks_retry_server_errors(
    make_exporter: Any, server: Auth0ManagementServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    """5xx answers to GET /jobs are retried with backoff, up to the retry policy."""
    server.fail(502, times=2, path_prefix="/api/v2/jobs/job_")
    make_exporter(retry=attrs.evolve(EXPORT_RETRY, attempts=3)).export(tmp_path / "u.gz")
    assert fake_time.slept[:2] == [0.5, 1.0]
    server.fail(502, times=3, path_prefix="/api/v2/jobs/job_")
    with pytest.raises(Auth0ApiError) as caught:
        make_exporter(retry=attrs.evolve(EXPORT_RETRY, attempts=3)).export(tmp_path / "v.gz")
    assert caught.value.status == 502


def test_bad_token_is_401_without_the_token(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A wrong token gives Auth0's 401 message and a hint; the token never appears."""
    token = "eyJhbGciOiJSUzI1NiJ9.very-secret-token"
    with pytest.raises(Auth0ApiError) as caught:
        make_exporter(token=token).export(tmp_path / "u.gz")
    error = caught.value
    assert (error.status, error.error_code, error.auth0_message) == (
        401,
        "invalid_token",
        "Invalid token",
    )
    assert token not in str(error)
    assert token not in repr(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_missing_scope_is_403_with_a_hint(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A token without read:users gets 403 insufficient_scope and says which scope."""
    server.add_token("weak-token-value", scopes=["read:connections"])
    with pytest.raises(Auth0ApiError) as caught:
        make_exporter(token="weak-token-value").export(tmp_path / "u.gz")
    assert caught.value.status == 403
    assert caught.value.error_code == "insufficient_scope"
    assert "read:users" in str(caught.value)
    assert "weak-token-value" not in str(caught.value)


def test_client_credentials(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """With a client id and secret the token is fetched once from /oauth/token."""
    make_exporter(client_id="test-client-id", client_secret="test-client-secret").export(
        tmp_path / "u.gz", connection=DB
    )
    grants = [(r.grant_type, r.status) for r in server.token_requests]
    assert grants == [("client_credentials", 200)]


def test_wrong_client_secret_is_401_without_the_secret(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A wrong client secret is a 401 from /oauth/token; the secret never appears."""
    secret = "definitely-wrong-secret-value"
    with pytest.raises(Auth0ApiError) as caught:
        make_exporter(client_id="test-client-id", client_secret=secret).export(tmp_path / "u.gz")
    assert caught.value.status == 401
    assert secret not in str(caught.value)
    assert server.jobs == []


def test_secret_echoed_by_auth0_is_redacted(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """Should an answer ever quote the token, the message shows [redacted] instead."""
    exporter = make_exporter(token="tok-123456")
    assert exporter._scrub("bad token tok-123456 here") == "bad token [redacted] here"
    assert "tok-123456" not in repr(exporter)


def test_timeout(
    make_exporter: Any, server: Auth0ManagementServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    """A job still running at the timeout is an ExportTimeoutError naming the job."""
    server.job_steps = 1000
    with pytest.raises(ExportTimeoutError) as caught:
        make_exporter(timeout=120).export(tmp_path / "u.gz")
    error = caught.value
    assert error.job_id == server.jobs[0]["id"]
    assert error.status == "processing"
    assert error.job_id in str(error)
    assert sum(fake_time.slept) == pytest.approx(120)
    assert list(tmp_path.iterdir()) == []


def test_a_retry_past_the_timeout_is_not_made(
    make_exporter: Any, server: Auth0ManagementServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    """A 429 on a status check asking to wait past the job's timeout ends the wait there."""
    server.rate_limit(times=1, path_prefix="/api/v2/jobs/job_", reset_in=45)
    with pytest.raises(Auth0ApiError) as caught:
        make_exporter(timeout=30).export(tmp_path / "u.gz")
    assert caught.value.status == 429
    job_id = server.jobs[0]["id"]
    assert f"(gave up: the timeout for job {job_id} is reached)" in str(caught.value)
    assert fake_time.slept == []


class _EchoingJobs:
    """A Management client whose status checks fail with an answer quoting the token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def get(self, job_id: str, request_options: Any = None) -> Any:
        self.calls += 1
        raise ApiError(
            status_code=503,
            headers={"x-request": "1"},
            body={"message": f"upstream rejected Bearer {self.token} for {job_id}"},
        )


def test_retries_never_log_or_raise_the_token(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """What stamina logs about each retry, and the final error, show [redacted], not the token."""
    token = "tok-0123456789-secret"
    jobs = _EchoingJobs(token)
    client: Any = type("Client", (), {"jobs": jobs})()
    exporter = Auth0Exporter(
        client,
        retry=attrs.evolve(EXPORT_RETRY, attempts=3),
        secrets=(token,),
        sleep=fake_time.sleep,
        clock=fake_time,
        wall_clock=fake_time,
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Auth0ApiError) as caught:
        exporter.job("job_1")
    assert jobs.calls == 3
    assert fake_time.slept == [0.5, 1.0]
    assert "[redacted]" in str(caught.value)
    assert token not in str(caught.value)
    logged = [repr(vars(record)) for record in caplog.records]
    assert len([r for r in caplog.records if r.getMessage() == "stamina.retry_scheduled"]) == 2
    assert all(token not in line for line in logged)


def test_resume_an_existing_job(
    make_exporter: Any, server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """export(job_id=...) waits for and downloads a job created earlier; no new job."""
    exporter = make_exporter()
    job = exporter.start()
    result = exporter.export(tmp_path / "u.gz", job_id=job.id)
    assert result.job_id == job.id
    assert len(server.jobs) == 1


def test_plain_http_refused_for_remote_hosts() -> None:
    """connect() refuses http:// to a non-loopback host before any request."""
    with pytest.raises(ConfigurationError, match="plain http"):
        Auth0Exporter.connect("http://acme.eu.auth0.com", token="t")


def test_credentials_are_required_once() -> None:
    """connect() wants a token or a client id and secret, not both, not neither."""
    with pytest.raises(ConfigurationError):
        Auth0Exporter.connect("acme.eu.auth0.com")
    with pytest.raises(ConfigurationError):
        Auth0Exporter.connect("acme.eu.auth0.com", token="t", client_id="i", client_secret="s")
    with pytest.raises(ConfigurationError):
        Auth0Exporter.connect("acme.eu.auth0.com", client_id="i")


def test_non_https_location_is_refused(make_exporter: Any, tmp_path: Path) -> None:
    """A completed job whose link is plain http to a remote host is not downloaded."""
    job = ExportJob("job_1", "completed", location="http://exports.example.com/f.gz?sig=s")
    with pytest.raises(ExportDownloadError, match="not https") as caught:
        make_exporter().download(job, tmp_path / "u.gz")
    assert "sig=s" not in str(caught.value)


def test_https_tenant_through_management_client(
    fake_time: FakeTime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare domain goes through ManagementClient over https, client credentials included."""
    with Auth0ManagementServer(sample_users(), tls=True) as server:
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
            monkeypatch.setenv(name, str(server.ca_file))
        with Auth0Exporter.connect(
            server.domain,
            client_id="test-client-id",
            client_secret="test-client-secret",
            sleep=fake_time.sleep,
        ) as exporter:
            result = exporter.export(tmp_path / "u.gz", connection=DB)
        assert [r.audience for r in server.token_requests] == [server.audience]
    assert result.users == sum(1 for u in sample_users() if u["identities"][0]["connection"] == DB)


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_server() -> Iterator[Auth0ManagementServer]:
    """A server whose jobs report no time left, so the CLI's real sleeps are zero."""
    with Auth0ManagementServer(sample_users(), seconds_per_step=0) as s:
        yield s


def run(args: list[str], env: dict[str, str] | None = None) -> Any:
    clean = {name: None for name in os.environ if name.startswith("AUTH0_")}
    return CliRunner().invoke(main, args, env={**clean, **(env or {})})


def test_cli_export_connection_by_name(cli_server: Auth0ManagementServer, tmp_path: Path) -> None:
    """`export --connection NAME` writes the file and reports progress on stderr."""
    out = tmp_path / "auth0-users.ndjson.gz"
    result = run(
        [
            "export", "--domain", cli_server.url, "--token", cli_server.token or "",
            "--connection", DB, "--out", str(out), "--poll-interval", "0",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = [u for u in sample_users() if u["identities"][0]["connection"] == DB]
    assert len(read_export(out)) == len(expected)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "pending" in result.stderr
    assert "processing, 50% done" in result.stderr
    assert f"exported {len(expected)} users" in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_cli_retries_quietly(cli_server: Auth0ManagementServer, tmp_path: Path) -> None:
    """A retried 429 is waited out without stamina's log lines on stderr (a real process)."""
    cli_server.rate_limit(times=1, path_prefix="/api/v2/jobs/job_", reset_in=0)
    out = tmp_path / "u.gz"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH0_")}
    done = subprocess.run(
        [sys.executable, "-m", "auth0_ory_migrate", "export", "--domain", cli_server.url,
         "--token", cli_server.token or "", "--all-connections", "--out", str(out),
         "--poll-interval", "0"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(cli_server.requests_to("GET", "/api/v2/jobs/job_")) >= 2
    assert "stamina" not in done.stderr
    assert "exported" in done.stderr


def test_cli_reads_the_environment(cli_server: Auth0ManagementServer, tmp_path: Path) -> None:
    """AUTH0_DOMAIN, AUTH0_TOKEN and AUTH0_CONNECTION_ID work as in Ory's guide."""
    out = tmp_path / "u.gz"
    env = {
        "AUTH0_DOMAIN": cli_server.url,
        "AUTH0_TOKEN": cli_server.token or "",
        "AUTH0_CONNECTION_ID": cli_server.connection_id("google-oauth2"),
    }
    result = run(["export", "--out", str(out), "--poll-interval", "0", "--quiet"], env)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert {r["identities"][0]["connection"] for r in read_export(out)} == {"google-oauth2"}


def test_cli_all_connections_with_client_credentials(
    cli_server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """--all-connections beats AUTH0_CONNECTION_ID; client credentials come from the env."""
    out = tmp_path / "u.gz"
    env = {
        "AUTH0_DOMAIN": cli_server.url,
        "AUTH0_CLIENT_ID": "test-client-id",
        "AUTH0_CLIENT_SECRET": "test-client-secret",
        "AUTH0_CONNECTION_ID": cli_server.connection_id("google-oauth2"),
    }
    result = run(["export", "--all-connections", "-o", str(out), "--poll-interval", "0"], env)
    assert result.exit_code == 0, result.output
    assert len(read_export(out)) == len(sample_users())
    assert "connection_id" not in created_bodies(cli_server)[0]


def test_cli_writes_the_export_scope_next_to_the_file(
    cli_server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """Export writes <file>.scope.json: complete for --all-connections, not for one or --limit."""
    base = ["export", "--domain", cli_server.url, "--token", cli_server.token or ""]
    whole, one, trial = tmp_path / "all.gz", tmp_path / "one.gz", tmp_path / "trial.gz"
    assert (
        run([*base, "--all-connections", "-o", str(whole), "--poll-interval", "0"]).exit_code == 0
    )
    assert run([*base, "--connection", DB, "-o", str(one), "--poll-interval", "0"]).exit_code == 0
    limited = [*base, "--all-connections", "--limit", "2", "-o", str(trial), "--poll-interval", "0"]
    assert run(limited).exit_code == 0
    scopes = {
        p.name: ExportScope.from_json(export_scope_path(p).read_text()) for p in (whole, one, trial)
    }
    assert scopes["all.gz"].complete
    assert scopes["all.gz"].users == len(sample_users())
    assert not scopes["one.gz"].complete
    assert scopes["one.gz"].connection_id == cli_server.connection_id(DB)
    assert not scopes["trial.gz"].complete
    assert scopes["trial.gz"].limit == 2
    taken_over = ExportScope("con_x", None, "job_1", 3, known=False)
    assert not taken_over.complete
    assert ExportScope.from_json(taken_over.to_json()) == taken_over


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"connection_id": null}',
        '{"connection_id": 1, "limit": null, "job_id": "j", "users": 1}',
    ],
)
def test_a_file_that_is_not_a_scope_is_an_input_file_error(text: str) -> None:
    """A scope file that is not one `export` wrote: InputFileError naming the source."""
    with pytest.raises(InputFileError, match=r"scope\.json"):
        ExportScope.from_json(text, source="u.gz.scope.json")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "t"], "say which users to export"),
        (["--token", "t", "--all-connections", "--connection", "x"], "choose one of"),
        (["--token", "t", "--client-id", "i", "--client-secret", "s", "--all-connections"],
         "not both"),
        (["--client-id", "i", "--all-connections"], "credentials missing"),
    ],
)  # fmt: skip
def test_cli_usage_errors(cli_server: Auth0ManagementServer, args: list[str], message: str) -> None:
    """Missing or conflicting choices are usage errors (exit 2) before any request."""
    result = run(["export", "--domain", cli_server.url, *args])
    assert result.exit_code == 2
    assert message in result.output
    assert cli_server.requests == []


def test_cli_auth0_error_exits_2_without_the_token(
    cli_server: Auth0ManagementServer, tmp_path: Path
) -> None:
    """A refused token is one error line (exit 2) that does not show the token."""
    token = "not-the-right-token-0123456789"
    result = run(
        ["export", "--domain", cli_server.url, "--token", token, "--all-connections",
         "--out", str(tmp_path / "u.gz")]
    )  # fmt: skip
    assert result.exit_code == 2
    assert "error: creating the export job: Auth0 answered 401: Invalid token" in result.stderr
    assert token not in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    """--domain http://remote is refused (the token would travel in clear)."""
    result = run(
        ["export", "--domain", "http://acme.eu.auth0.com", "--token", "t", "--all-connections",
         "--out", str(tmp_path / "u.gz")]
    )  # fmt: skip
    assert result.exit_code == 2
    assert "plain http" in result.stderr


# -- end to end -----------------------------------------------------------------------------


def test_export_then_convert(in_tmp_path: Path) -> None:
    """What `export` downloads, `convert` reads: every user accounted for, hashes joined."""
    users = auth0_users(30, seed=11, duplicate_emails=False)
    hashes = write_export(in_tmp_path, users, hashes=True).password_hashes
    assert hashes is not None
    with Auth0ManagementServer([u.record for u in users], seconds_per_step=0) as server:
        exported = run(
            ["export", "--domain", server.url, "--token", server.token or "",
             "--all-connections", "--poll-interval", "0"]
        )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    converted = run(
        ["convert", "--users", "auth0-users.ndjson.gz", "--password-hashes", str(hashes),
         "--out", "identities.ndjson", "--report", "report.json"]
    )  # fmt: skip
    assert converted.exit_code == 0, converted.output
    report = json.loads((in_tmp_path / "report.json").read_text())
    assert report["summary"]["users_read"] == len(users)
    identities = {
        i["external_id"]: i
        for i in map(json.loads, (in_tmp_path / "identities.ndjson").read_text().splitlines())
    }
    reported = {u["auth0_user_id"] for u in report["users"]}
    assert {u.user_id for u in users} <= set(identities) | reported
    hashed = 0
    for user in users:
        if user.hash_record is None or user.user_id not in identities:
            continue  # no hash, or skipped with a reason (e.g. username-only under preset://email)
        config = identities[user.user_id]["credentials"]["password"]["config"]
        if "hashed_password" in config:  # else the hook: the hash went stale after a reset
            assert config["hashed_password"] == user.hash_record["passwordHash"]
            hashed += 1
    assert hashed == report["summary"]["with_password_hash"] > 0


def test_progress_display_lines_and_bar() -> None:
    """Progress shows state, percentage and time left: plain lines, or a bar on a terminal."""
    events = [
        ExportProgress("job_1", "waiting", "pending"),
        ExportProgress("job_1", "waiting", "processing", 40, 12),
        ExportProgress("job_1", "waiting", "processing", 40, 12),
        ExportProgress("job_1", "downloading", "completed", 100, 0, 2048, 4096),
        ExportProgress("job_1", "done", "completed", 100, 0, 4096, 4096),
    ]
    plain = io.StringIO()
    display = _ProgressDisplay(quiet=False, stream=plain)
    for event in events:
        display(event)
    display.close()
    assert plain.getvalue().splitlines() == [
        "Auth0 export job job_1: pending",
        "Auth0 export job job_1: processing, 40% done, about 12 s left",
        "downloading the export file...",
    ]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    display = _ProgressDisplay(quiet=False, stream=terminal)
    for event in events:
        display(event)
    display.close()
    assert "Auth0 job job_1" in terminal.getvalue()
    assert "processing, ~12 s left" in terminal.getvalue()
    quiet = io.StringIO()
    display = _ProgressDisplay(quiet=True, stream=quiet)
    for event in events:
        display(event)
    assert quiet.getvalue() == ""
