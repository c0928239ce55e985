"""The hook under production load and abuse: server, deadlines, proxies, JSON, MFA, logs."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from auth0_ory_migrate import (
    Auth0Outcome,
    Auth0PasswordChecker,
    HookSettings,
    make_hook_app,
    make_hook_server,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._core._hook import (
    HookAnswer,
    answer_for,
    classify_auth0_error,
    client_ip_from,
    identifier_tag,
    parse_migration_request,
    parse_trusted_proxies,
)
from auth0_ory_migrate.exceptions import ConfigurationError
from auth0_ory_migrate.testing import Auth0ManagementServer, PasswordUser
from auth0_ory_migrate.testing._http import BackgroundHTTPServer, HttpRequest, HttpResponse

from .test_hook import serving_hook


SECRET = "canary-shared-secret-7f3a9c0d1e2b"
PASSWORD = "canary-password-Zq8#wX1!"
CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"
REALM = "Username-Password-Authentication"
ADA = "ada@example.com"
MFA = "mfa@example.com"


@pytest.fixture
def auth0() -> Iterator[Auth0ManagementServer]:
    users = [PasswordUser(ADA, PASSWORD, REALM), PasswordUser(MFA, PASSWORD, REALM, mfa=True)]
    with Auth0ManagementServer(password_users=users) as server:
        yield server


class Served:
    """A hook served by make_hook_server in a thread."""

    def __init__(self, app: Any, **server_options: Any) -> None:
        self.server = make_hook_server(app, "127.0.0.1", 0, **server_options)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def post(self, payload: Any, headers: dict[str, str] | None = None) -> requests.Response:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {"X-Migration-Hook-Secret": SECRET, **(headers or {})}
        return requests.post(self.url, data=data, headers=all_headers, timeout=30)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@contextlib.contextmanager
def serving(
    auth0: Auth0ManagementServer | None, settings: HookSettings | None = None, **options: Any
) -> Iterator[Served]:
    checker = Auth0PasswordChecker.connect(
        auth0.url if auth0 else "http://127.0.0.1:9", CLIENT_ID, CLIENT_SECRET, REALM
    )
    served = Served(make_hook_app(settings or HookSettings(secret=SECRET), checker), **options)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for canary in (PASSWORD, SECRET, CLIENT_SECRET):
        assert canary not in caplog.text


# --- 1. a production server ------------------------------------------------------------------


def test_server_options_are_configurable() -> None:
    """make_hook_server takes threads, backlog and a request deadline, with sane defaults."""
    parameters = inspect.signature(make_hook_server).parameters
    assert parameters["threads"].default >= 8
    assert parameters["backlog"].default >= 512
    assert 1 <= parameters["request_timeout"].default <= 60


def test_200_concurrent_logins_are_all_answered(auth0: Auth0ManagementServer) -> None:
    """200 logins at once: no connection refused or reset, every verdict right."""
    results: list[Any] = [None] * 200
    start = threading.Barrier(200)

    with serving(auth0, threads=16) as served:

        def login(i: int) -> None:
            password = PASSWORD if i % 2 == 0 else PASSWORD + "x"
            body = json.dumps({"identifier": ADA, "password": password}).encode()
            start.wait()
            try:
                response = requests.post(
                    served.url,
                    data=body,
                    headers={"X-Migration-Hook-Secret": SECRET, "Connection": "close"},
                    timeout=60,
                )
                results[i] = response.status_code
            except requests.RequestException as e:
                results[i] = type(e).__name__

        threads = [threading.Thread(target=login, args=(i,)) for i in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [200 if i % 2 == 0 else 403 for i in range(200)]


def test_cli_without_the_server_extra_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without waitress, `hook serve` exits 2 naming the extra to install, and serves nothing."""
    monkeypatch.setitem(sys.modules, "waitress", None)
    monkeypatch.setitem(sys.modules, "waitress.server", None)
    env = {
        "AUTH0_DOMAIN": "tenant.eu.auth0.com",
        "AUTH0_CLIENT_ID": CLIENT_ID,
        "AUTH0_CLIENT_SECRET": CLIENT_SECRET,
        "MIGRATION_HOOK_SECRET": SECRET,
        "HOOK_PORT": "0",
    }
    result = CliRunner(env=env).invoke(main, ["hook", "serve"])
    assert result.exit_code == 2, result.output
    assert "pip install 'auth0-ory-migrate[hook]'" in result.stderr
    assert "Traceback" not in result.output


# --- 2. a request deadline -------------------------------------------------------------------


def test_a_slow_body_is_cut_off() -> None:
    """A client sending one byte every half second is disconnected at the deadline."""
    settings = HookSettings(secret=SECRET)
    app = make_hook_app(settings, _Never())
    with serving_app(app, request_timeout=2) as served:
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
            + f"X-Migration-Hook-Secret: {SECRET}\r\n\r\n".encode()
        )
        sent = 0
        closed = False
        with sock:
            for _ in range(40):
                try:
                    sock.sendall(b" ")
                    sent += 1
                    time.sleep(0.5)
                    sock.setblocking(False)
                    try:
                        closed = sock.recv(1024) == b""
                    except BlockingIOError:
                        pass
                    finally:
                        sock.setblocking(True)
                except OSError:
                    closed = True
                if closed:
                    break
    assert closed
    assert sent < 40


@contextlib.contextmanager
def serving_app(app: Any, **options: Any) -> Iterator[Served]:
    served = Served(app, **options)
    try:
        yield served
    finally:
        served.close()


class _Never:
    def check(self, identifier: str, password: str, client_ip: str | None) -> Auth0Outcome:
        raise AssertionError("Auth0 was asked")


# --- 3. the forwarded client IP --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "trusted", "expected"),
    [
        ("6.6.6.6, 203.0.113.7", (), "203.0.113.7"),
        ("6.6.6.6, 203.0.113.7, 10.0.0.1", ("10.0.0.0/8",), "203.0.113.7"),
        ("6.6.6.6, 203.0.113.7, 10.0.0.1, 10.0.0.2", ("10.0.0.0/8",), "203.0.113.7"),
        ("6.6.6.6,203.0.113.7,10.0.0.1", ("10.0.0.1/32", "192.168.0.0/16"), "203.0.113.7"),
        ("2001:db8::1, fd00::5", ("fd00::/8",), "2001:db8::1"),
        ("10.0.0.3, 10.0.0.1", ("10.0.0.0/8",), "10.0.0.3"),
        ("junk, 10.0.0.1", ("10.0.0.0/8",), None),
        ("203.0.113.7, junk", (), None),
        ("203.0.113.7", (), "203.0.113.7"),
        ("", (), None),
        (None, (), None),
    ],
)
def test_client_ip_is_the_rightmost_untrusted(
    value: str | None, trusted: tuple[str, ...], expected: str | None
) -> None:
    """The right-most address not a trusted proxy is the end user's, never the client's pick."""
    assert client_ip_from(value, parse_trusted_proxies(trusted)) == expected


@pytest.mark.parametrize("value", ["10.0.0.0/33", "nonsense", "10.0.0.1/8x"])
def test_bad_trusted_proxies_are_refused(value: str) -> None:
    """A trusted proxy that is not an address or a CIDR network is a configuration error."""
    with pytest.raises(ConfigurationError, match="trusted proxy"):
        HookSettings(secret=SECRET, trusted_proxies=(value,))


def test_spoofed_forwarded_for_does_not_reach_auth0(auth0: Auth0ManagementServer) -> None:
    """A client-supplied left-most X-Forwarded-For is not what Auth0 counts."""
    settings = HookSettings(
        secret=SECRET, client_ip_header="X-Forwarded-For", trusted_proxies=("10.0.0.0/8",)
    )
    with serving(auth0, settings) as served:
        response = served.post(
            {"identifier": ADA, "password": PASSWORD},
            headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.1.2.3"},
        )
    assert response.status_code == 200
    (request,) = auth0.token_requests
    assert request.forwarded_for == "203.0.113.7"


def test_cli_trusted_proxy_option() -> None:
    """`--trusted-proxy` is repeatable; a bad CIDR exits 2 before anything is served."""
    args = ["hook", "serve", "--print-config", "--auth0-domain", "t.auth0.com", "--client-id",
            "a", "--client-secret", CLIENT_SECRET, "--secret", SECRET,
            "--client-ip-header", "X-Forwarded-For"]  # fmt: skip
    ok = CliRunner().invoke(
        main, [*args, "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "fd00::/8"]
    )
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, [*args, "--trusted-proxy", "10.0.0.0/33"])
    assert bad.exit_code == 2
    assert "trusted proxy" in bad.output
    assert "Traceback" not in bad.output


# --- 4. hostile JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 15_000,
        b'{"identifier": ' + b"[" * 15_000 + b"]" * 15_000 + b', "password": "x"}',
        b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
        b'{"identifier": ' + b"9" * 15_000 + b', "password": "x"}',
        b'{"identifier": "a@b.co", "password": 1e999999}',
    ],
)
def test_hostile_json_is_400(body: bytes) -> None:
    """Deeply nested or oversize JSON is a plain 400, never an exception."""
    answer = parse_migration_request(body)
    assert isinstance(answer, HookAnswer)
    assert answer.status == 400


def test_nested_json_over_http_is_400_without_a_traceback(
    auth0: Auth0ManagementServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Over HTTP, nested JSON is 400; no traceback and no 500 in the log."""
    with serving(auth0) as served:
        response = served.post(b"[" * 15_000)
    assert response.status_code == 400
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
    assert auth0.token_requests == []


# --- 5. MFA users ----------------------------------------------------------------------------


def test_mfa_required_follows_a_right_password_only(auth0: Auth0ManagementServer) -> None:
    """Auth0 says mfa_required only after the right password; a wrong one is invalid_grant."""
    checker = Auth0PasswordChecker.connect(auth0.url, CLIENT_ID, CLIENT_SECRET, REALM)
    assert checker.check(MFA, PASSWORD, None).kind == "mfa_required"
    assert checker.check(MFA, PASSWORD + "x", None).kind == "wrong_password"


def test_mfa_user_migrates_by_default(auth0: Auth0ManagementServer) -> None:
    """By default an MFA user's right password is a match, a wrong one 403."""
    with serving(auth0) as served:
        right = served.post({"identifier": MFA, "password": PASSWORD})
        wrong = served.post({"identifier": MFA, "password": PASSWORD + "x"})
    assert right.status_code == 200
    assert right.json() == {"status": "password_match"}
    assert wrong.status_code == 403


def test_mfa_required_can_be_an_error(auth0: Auth0ManagementServer) -> None:
    """mfa_required_means="error" keeps the old 409 answer."""
    settings = HookSettings(secret=SECRET, mfa_required_means="error")
    with serving(auth0, settings) as served:
        response = served.post({"identifier": MFA, "password": PASSWORD})
    assert response.status_code == 409
    assert response.json()["error"] == "mfa_required"


@pytest.mark.parametrize(
    ("status", "code", "means", "match"),
    [
        (403, "mfa_required", "password_match", True),
        (403, "mfa_required", "error", False),
        (401, "mfa_required", "password_match", False),
        (403, "invalid_grant", "password_match", False),
        (None, "mfa_required", "password_match", False),
    ],
)
def test_mfa_verdict(status: int | None, code: str, means: Any, match: bool) -> None:
    """Only Auth0's 403 mfa_required can be a match, and only when so configured."""
    answer = answer_for(classify_auth0_error(status, code), mfa_required_means=means)
    assert answer.is_match is match


def test_mfa_required_without_an_mfa_token_is_not_a_match() -> None:
    """A 403 mfa_required without Auth0's mfa_token is not Auth0's answer: 502, never a match."""

    def fake(_request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(403, {"error": "mfa_required", "error_description": "MFA"})

    with BackgroundHTTPServer(fake) as server:
        checker = Auth0PasswordChecker.connect(server.url, CLIENT_ID, CLIENT_SECRET, REALM)
        assert checker.check(MFA, PASSWORD, None).kind == "unexpected"
        with serving_app(make_hook_app(HookSettings(secret=SECRET), checker)) as served:
            response = served.post({"identifier": MFA, "password": PASSWORD})
    assert response.status_code == 502


def test_mfa_setting_is_checked() -> None:
    """An unknown MFA verdict is a configuration error."""
    with pytest.raises(ConfigurationError, match="mfa"):
        HookSettings(secret=SECRET, mfa_required_means="maybe")  # type: ignore[arg-type]


def test_cli_mfa_option() -> None:
    """`--mfa-required-means` takes password_match or error."""
    args = ["hook", "serve", "--print-config", "--auth0-domain", "t.auth0.com", "--client-id",
            "a", "--client-secret", CLIENT_SECRET, "--secret", SECRET]  # fmt: skip
    for value in ("password_match", "error"):
        result = CliRunner().invoke(main, [*args, "--mfa-required-means", value])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, [*args, "--mfa-required-means", "maybe"])
    assert result.exit_code == 2


# --- 6. access and outcome logs --------------------------------------------------------------


def _check_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "auth0_ory_migrate.hook" and r.getMessage().startswith("{")
    ]


def test_one_log_line_per_check(
    auth0: Auth0ManagementServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request logs one JSON line: outcome, status, latency, Auth0's status; no identifier."""
    with serving(auth0) as served:
        served.post({"identifier": ADA, "password": PASSWORD})
        served.post({"identifier": ADA, "password": PASSWORD + "x"})
        served.post(b"nope")
    lines = _check_lines(caplog)
    assert [(x["outcome"], x["status"], x["auth0_status"]) for x in lines] == [
        ("password_match", 200, 200),
        ("invalid_credentials", 403, 403),
        ("invalid_request", 400, None),
    ]
    for line in lines:
        assert isinstance(line["latency_ms"], float)
    assert lines[0]["identifier"] == identifier_tag(SECRET, ADA)
    assert lines[0]["identifier"] == lines[1]["identifier"]
    assert ADA not in caplog.text
    assert "example.com" not in caplog.text


def test_identifiers_logged_only_when_asked(
    auth0: Auth0ManagementServer, caplog: pytest.LogCaptureFixture
) -> None:
    """log_identifiers=True puts the identifier in clear."""
    with serving(auth0, HookSettings(secret=SECRET, log_identifiers=True)) as served:
        served.post({"identifier": ADA, "password": PASSWORD})
    (line,) = _check_lines(caplog)
    assert line["identifier"] == ADA


def test_identifier_tag_is_keyed() -> None:
    """The identifier tag is short, stable, case-insensitive and depends on the key."""
    tag = identifier_tag(SECRET, ADA)
    assert tag == identifier_tag(SECRET, ADA.upper())
    assert tag != identifier_tag(SECRET + "x", ADA)
    assert ADA not in tag
    assert len(tag) <= 20


@pytest.mark.slow
def test_cli_logs_checks_and_never_a_secret(auth0: Auth0ManagementServer) -> None:
    """`hook serve` logs a line per check to stderr; no password, secret or identifier in it."""
    with serving_hook(auth0, client=(CLIENT_ID, CLIENT_SECRET), secret=SECRET) as (url, stderr):
        for payload in (
            {"identifier": ADA, "password": PASSWORD},
            {"identifier": ADA, "password": PASSWORD + "x"},
            {"identifier": MFA, "password": PASSWORD},
        ):
            requests.post(
                url, json=payload, headers={"X-Migration-Hook-Secret": SECRET}, timeout=10
            )
        requests.post(url, data=b"[" * 15_000, headers={"X-Migration-Hook-Secret": SECRET},
                      timeout=10)  # fmt: skip
    [rest] = stderr
    logged = [json.loads(x) for x in rest.splitlines() if x.startswith("{")]
    assert [x["outcome"] for x in logged] == [
        "password_match", "invalid_credentials", "password_match", "invalid_request"
    ]  # fmt: skip
    for canary in (PASSWORD, SECRET, CLIENT_SECRET, ADA, MFA):
        assert canary not in rest
    assert "Traceback" not in rest


def test_cli_defaults_match_the_library() -> None:
    """The CLI's server defaults are make_hook_server's."""
    parameters = inspect.signature(make_hook_server).parameters
    options = {p.name: p.default for p in main.commands["hook"].commands["serve"].params}  # type: ignore[attr-defined]
    for name in ("threads", "backlog", "request_timeout"):
        assert options[name] == parameters[name].default


def test_identifier_tag_ignores_case_and_spaces() -> None:
    """One user's identifier, however typed, gets one tag."""
    assert identifier_tag(SECRET, "  Ada@Example.com ") == identifier_tag(SECRET, ADA)


def test_cli_port_in_use_is_exit_2() -> None:
    """A port already taken is one line and exit status 2, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "AUTH0_DOMAIN": "tenant.eu.auth0.com",
            "AUTH0_CLIENT_ID": CLIENT_ID,
            "AUTH0_CLIENT_SECRET": CLIENT_SECRET,
            "MIGRATION_HOOK_SECRET": SECRET,
            "HOOK_PORT": str(port),
        }
        result = CliRunner(env=env).invoke(main, ["hook", "serve"])
    assert result.exit_code == 2, result.output
    assert "cannot listen on" in result.stderr
    assert "Traceback" not in result.output


def test_auth0_error_texts_never_reach_the_answer_or_the_logs(
    auth0: Auth0ManagementServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Auth0 error texts quoting the request (password, client secret) are never passed on."""
    auth0.echo_request = True  # error texts quote the request's body and Authorization
    with serving(auth0) as served:
        wrong = served.post({"identifier": ADA, "password": PASSWORD + "-wrong"})
        unknown = served.post({"identifier": "nobody@example.com", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 403
        for canary in (PASSWORD, CLIENT_SECRET, SECRET):
            assert canary not in response.text
    # (the autouse fixture checks the logs for the same canaries)
    assert len(_check_lines(caplog)) == 2
