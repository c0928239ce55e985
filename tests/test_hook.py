"""The password-migration hook: pure decisions, then real HTTP against the Auth0 test server."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from auth0_ory_migrate import (
    Auth0Outcome,
    Auth0PasswordChecker,
    HookSettings,
    make_hook_app,
    make_hook_server,
    ory_hook_config,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._core._auth0 import parse_domain
from auth0_ory_migrate._core._hook import (
    HookAnswer,
    MigrationRequest,
    answer_for,
    check_request,
    classify_auth0_error,
    classify_token_answer,
    client_ip_from,
    encode_answer,
    environ_key,
    parse_migration_request,
)
from auth0_ory_migrate.exceptions import ConfigurationError
from auth0_ory_migrate.testing import (
    PASSWORD_REALM_GRANT,
    Auth0ManagementServer,
    ClientApp,
    PasswordUser,
)
from auth0_ory_migrate.testing._http import BackgroundHTTPServer, HttpRequest, HttpResponse


SECRET = "s3cret-shared-with-ory-0123456789"
PASSWORD = "Tr0ub4dor&3-pässwörd"
REALM = "Username-Password-Authentication"
CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"


# --- pure decisions ------------------------------------------------------------------------------


def test_parse_valid_request() -> None:
    """Exactly identifier and password parse; the password stays out of the repr."""
    parsed = parse_migration_request(b'{"identifier": " ada@example.com ", "password": "pw"}')
    assert parsed == MigrationRequest("ada@example.com", "pw")
    assert "pw" not in repr(parsed).replace("password", "")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",
        b"not json",
        b"[]",
        b'{"identifier": "a@b.co"}',
        b'{"identifier": "a@b.co", "password": "x", "extra": 1}',
        b'{"identifier": 1, "password": "x"}',
        b'{"identifier": "  ", "password": "x"}',
        b'{"identifier": "a@b.co", "password": ""}',
        b'{"identifier": "a@b.co", "password": null}',
        json.dumps({"identifier": "a@b.co", "password": "x" * 5000}).encode(),
    ],
)
def test_parse_rejects_anything_else(body: bytes) -> None:
    """Every other shape is a 400 that never echoes the body."""
    answer = parse_migration_request(body)
    assert isinstance(answer, HookAnswer)
    assert answer.status == 400
    assert "x" * 10 not in json.dumps(dict(answer.body))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 , 10.0.0.1", "10.0.0.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("unknown", None),
        ("203.0.113.7:443", None),
    ],
)
def test_client_ip_from(value: str | None, expected: str | None) -> None:
    """Without trusted proxies the right-most address is used; anything else is not forwarded."""
    assert client_ip_from(value) == expected


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (403, "invalid_grant", "wrong_password"),
        (403, "mfa_required", "mfa_required"),
        (401, "unauthorized", "blocked"),
        (429, "too_many_attempts", "blocked"),
        (400, "password_leaked", "password_leaked"),
        (429, "too_many_requests", "rate_limited"),
        (500, "server_error", "unavailable"),
        (503, None, "unavailable"),
        (403, "unauthorized_client", "misconfigured"),
        (401, "access_denied", "misconfigured"),
        (400, "invalid_request", "misconfigured"),
        (403, "access_denied", "rejected"),
        (404, None, "rejected"),
        (None, None, "rejected"),
    ],
)
def test_classify_auth0_errors(status: int | None, code: str | None, kind: str) -> None:
    """Only 403 invalid_grant is a wrong password; each other answer has its own kind."""
    assert classify_auth0_error(status, code).kind == kind


def test_rate_limit_retry_after() -> None:
    """A 429's x-ratelimit-reset becomes Retry-After seconds."""
    outcome = classify_auth0_error(429, "too_many_requests", reset_at=1_000_010, now=1_000_000.5)
    assert outcome.retry_after == 10
    assert ("Retry-After", "10") in answer_for(outcome).headers
    assert answer_for(classify_auth0_error(429, None)).headers == ()


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("match", 200),
        ("wrong_password", 403),
        ("mfa_required", 409),
        ("blocked", 423),
        ("password_leaked", 409),
        ("rate_limited", 503),
        ("unavailable", 502),
        ("timeout", 504),
        ("misconfigured", 500),
        ("rejected", 502),
        ("unexpected", 502),
    ],
)
def test_answers(kind: Any, status: int) -> None:
    """Each outcome has its status; errors carry a JSON error code."""
    answer = answer_for(Auth0Outcome(kind))
    assert answer.status == status
    if kind == "match":
        assert dict(answer.body) == {"status": "password_match"}
    else:
        assert "error" in answer.body
        assert not answer.is_match


@given(status=st.one_of(st.none(), st.integers(100, 599)), code=st.one_of(st.none(), st.text()))
def test_no_auth0_error_is_ever_a_match(status: int | None, code: str | None) -> None:
    """Whatever error Auth0 gives, the hook never answers password_match."""
    outcome = classify_auth0_error(status, code)
    assert outcome.kind != "match"
    assert not answer_for(outcome).is_match


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tenant.eu.auth0.com", ("https", "tenant.eu.auth0.com")),
        ("https://tenant.auth0.com/", ("https", "tenant.auth0.com")),
        ("http://127.0.0.1:8080", ("http", "127.0.0.1:8080")),
    ],
)
def test_auth0_domain(value: str, expected: tuple[str, str]) -> None:
    """A domain or a base URL gives the SDK's protocol and domain (the exporter's parser)."""
    endpoint = parse_domain(value)
    assert (endpoint.scheme, endpoint.netloc) == expected


@pytest.mark.parametrize("value", ["", "ftp://x", "https://x/path", "x/y"])
def test_auth0_domain_rejects(value: str) -> None:
    """Other values are configuration errors."""
    with pytest.raises(ConfigurationError):
        parse_domain(value)


def test_settings_need_a_real_secret() -> None:
    """A short secret or an empty header name is refused; the secret is never in the repr."""
    with pytest.raises(ConfigurationError, match="16"):
        HookSettings(secret="short")
    with pytest.raises(ConfigurationError, match="header"):
        HookSettings(secret=SECRET, secret_header=" ")
    assert SECRET not in repr(HookSettings(secret=SECRET))


def test_ory_config_shape() -> None:
    """The config enables migrate_hook with POST, JSON and the api_key header auth."""
    config = ory_hook_config("https://hook.example.com/", secret_header="X-S", secret=None)
    hook = config["selfservice"]["methods"]["password"]["config"]["migrate_hook"]
    assert hook["enabled"] is True
    assert hook["config"]["url"] == "https://hook.example.com/"
    assert hook["config"]["method"] == "POST"
    assert hook["config"]["auth"] == {
        "type": "api_key",
        "config": {"name": "X-S", "value": "<secret>", "in": "header"},
    }


@pytest.mark.parametrize(
    ("method", "secret", "length", "expected"),
    [
        ("POST", SECRET, "42", 42),
        ("post", SECRET, "0", 0),
        ("GET", SECRET, "42", 405),
        ("POST", "", "42", 401),
        ("POST", SECRET[:-1], "42", 401),
        ("POST", SECRET + "x", "42", 401),
        ("POST", SECRET, "", 411),
        ("POST", SECRET, "lots", 411),
        ("POST", SECRET, "-1", 400),
        ("POST", SECRET, str(16 * 1024 + 1), 413),
    ],
)
def test_check_request(method: str, secret: str, length: str, expected: int) -> None:
    """Only POST with the secret and a Content-Length within the limit is read, in that order."""
    checked = check_request(
        HookSettings(secret=SECRET), method=method, secret=secret, content_length=length
    )
    if isinstance(checked, HookAnswer):
        assert checked.status == expected
        assert SECRET not in json.dumps(dict(checked.body))
    else:
        assert checked == expected


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"access_token": "eyJ", "token_type": "Bearer"}, "match"),
        ({"access_token": ""}, "unexpected"),
        ({"id_token": "eyJ"}, "unexpected"),
        ({"access_token": 5}, "unexpected"),
        ("<html>login</html>", "unexpected"),
        (None, "unexpected"),
    ],
)
def test_only_a_token_is_a_match(answer: Any, kind: str) -> None:
    """A 2xx from Auth0 is a match only when it carries an access token."""
    assert classify_token_answer(answer).kind == kind


def test_encode_answer() -> None:
    """An answer becomes a status line, JSON headers that forbid caching, and a JSON body."""
    answer = answer_for(Auth0Outcome("rate_limited", 429, retry_after=7))
    status, headers, payload = encode_answer(answer)
    assert status == "503 Service Unavailable"
    assert ("Content-Type", "application/json") in headers
    assert ("Cache-Control", "no-store") in headers
    assert ("Retry-After", "7") in headers
    assert ("Content-Length", str(len(payload))) in headers
    assert json.loads(payload)["error"] == "auth0_rate_limited"
    assert encode_answer(HookAnswer.error(418, "teapot", "no"))[0] == "418 Error"


def test_environ_keys() -> None:
    """Header names map to WSGI environ keys (Content-Type and -Length without HTTP_)."""
    assert environ_key("X-Migration-Hook-Secret") == "HTTP_X_MIGRATION_HOOK_SECRET"
    assert environ_key(" authorization ") == "HTTP_AUTHORIZATION"
    assert environ_key("Content-Length") == "CONTENT_LENGTH"


# --- over HTTP, against the Auth0 test server ----------------------------------------------------


@pytest.fixture
def auth0() -> Iterator[Auth0ManagementServer]:
    users = [
        PasswordUser("ada@example.com", PASSWORD, REALM),
        PasswordUser("mfa@example.com", PASSWORD, REALM, mfa=True),
        PasswordUser("blocked@example.com", PASSWORD, REALM, blocked=True),
    ]
    with Auth0ManagementServer(password_users=users) as server:
        yield server


class Hook:
    """A hook served on 127.0.0.1 in a thread, with a requests session."""

    def __init__(self, app: Any) -> None:
        self.server = make_hook_server(app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def post(
        self, payload: Any, *, secret: str | None = SECRET, headers: dict[str, str] | None = None
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if secret is not None:
            all_headers["X-Migration-Hook-Secret"] = secret
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return requests.post(self.url, data=data, headers=all_headers, timeout=10)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def make_hook(
    auth0: Auth0ManagementServer | None,
    *,
    client_secret: str = CLIENT_SECRET,
    client_ip_header: str | None = None,
    trusted_proxies: tuple[str, ...] = (),
    domain: str | None = None,
) -> Hook:
    checker = Auth0PasswordChecker.connect(
        domain or (auth0.url if auth0 else "http://127.0.0.1:9"),
        CLIENT_ID,
        client_secret,
        REALM,
        timeout=5,
    )
    settings = HookSettings(
        secret=SECRET, client_ip_header=client_ip_header, trusted_proxies=trusted_proxies
    )
    return Hook(make_hook_app(settings, checker))


def ask_once(
    auth0: Auth0ManagementServer | None,
    *,
    client_secret: str = CLIENT_SECRET,
    domain: str | None = None,
) -> requests.Response:
    """Serve a hook for one request with Ada's right password, stop it, and return the answer."""
    served = make_hook(auth0, client_secret=client_secret, domain=domain)
    try:
        return served.post({"identifier": "ada@example.com", "password": PASSWORD})
    finally:
        served.close()


@pytest.fixture
def hook(auth0: Auth0ManagementServer) -> Iterator[Hook]:
    served = make_hook(auth0, client_ip_header="X-Forwarded-For", trusted_proxies=("10.0.0.0/8",))
    yield served
    served.close()


@pytest.fixture(autouse=True)
def _no_password_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert PASSWORD not in caplog.text
    assert SECRET not in caplog.text


def test_right_password_matches(hook: Hook, auth0: Auth0ManagementServer) -> None:
    """The right password → 200 password_match, via the password-realm grant on the connection."""
    response = hook.post({"identifier": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"status": "password_match"}
    assert response.headers["Content-Type"] == "application/json"
    (request,) = auth0.token_requests
    assert request.grant_type == PASSWORD_REALM_GRANT
    assert request.username == "ada@example.com"
    assert request.realm == REALM
    assert request.client_authenticated
    assert request.forwarded_for is None


def test_end_user_ip_is_forwarded(hook: Hook, auth0: Auth0ManagementServer) -> None:
    """The end user's IP from the configured header reaches Auth0 as auth0-forwarded-for."""
    response = hook.post(
        {"identifier": "ada@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"},
    )
    assert response.status_code == 200
    (request,) = auth0.token_requests
    assert request.forwarded_for == "203.0.113.7"
    assert request.forwarded_for_trusted


@pytest.mark.parametrize("identifier", ["ada@example.com", "nobody@example.com"])
def test_wrong_password_is_403(hook: Hook, identifier: str) -> None:
    """A wrong password or unknown user → 403, and the password is not echoed."""
    response = hook.post({"identifier": identifier, "password": PASSWORD + "x"})
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_credentials"
    assert PASSWORD not in response.text


def test_mfa_user_with_the_right_password_matches(hook: Hook) -> None:
    """An MFA user with the right password → password_match (the default verdict)."""
    response = hook.post({"identifier": "mfa@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"status": "password_match"}


def test_blocked_user_is_an_error(hook: Hook) -> None:
    """A blocked Auth0 user → 423."""
    response = hook.post({"identifier": "blocked@example.com", "password": PASSWORD})
    assert response.status_code == 423


def test_auth0_rate_limit_is_503(hook: Hook, auth0: Auth0ManagementServer) -> None:
    """Auth0's 429 → 503 with Retry-After; the right password is not a match then."""
    auth0.rate_limit(path_prefix="/oauth/token", reset_in=7)
    response = hook.post({"identifier": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 503
    assert response.json()["error"] == "auth0_rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 8
    # The SDK does not retry behind Ory's back.
    assert len(auth0.requests_to("POST", "/oauth/token")) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_auth0_server_errors_are_502(hook: Hook, auth0: Auth0ManagementServer, status: int) -> None:
    """Auth0's 5xx → 502 auth0_unavailable."""
    auth0.fail(status, path_prefix="/oauth/token")
    response = hook.post({"identifier": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 502
    assert response.json()["error"] == "auth0_unavailable"


def test_wrong_client_secret_is_misconfiguration(auth0: Auth0ManagementServer) -> None:
    """A wrong client secret → 500 hook_misconfigured, not a wrong password."""
    response = ask_once(auth0, client_secret="not-the-secret")
    assert response.status_code == 500
    assert response.json()["error"] == "hook_misconfigured"


def test_password_grant_not_enabled_is_misconfiguration(auth0: Auth0ManagementServer) -> None:
    """An application without the Password grant → 500 hook_misconfigured."""
    auth0.add_client(ClientApp(CLIENT_ID, CLIENT_SECRET, grant_types=("client_credentials",)))
    response = ask_once(auth0)
    assert response.status_code == 500
    assert "unauthorized_client" in response.json()["message"]


def test_auth0_unreachable_is_502() -> None:
    """No Auth0 listening → 502."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    response = ask_once(None, domain=f"http://127.0.0.1:{port}")
    assert response.status_code == 502


@pytest.mark.parametrize(
    "domain", ["http://tenant.example.com", "http://tenant.example.com:8080/", "http://10.0.0.5"]
)
def test_connect_refuses_plain_http_to_a_remote_host(domain: str) -> None:
    """connect() refuses http:// to any host but loopback: passwords would travel in clear."""
    with pytest.raises(ConfigurationError, match="plain http") as caught:
        Auth0PasswordChecker.connect(domain, CLIENT_ID, CLIENT_SECRET, REALM)
    assert CLIENT_SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("domain", "protocol", "host"),
    [
        ("tenant.eu.auth0.com", "https", "tenant.eu.auth0.com"),
        ("https://tenant.eu.auth0.com/", "https", "tenant.eu.auth0.com"),
        ("http://127.0.0.1:8080", "http", "127.0.0.1:8080"),
        ("http://localhost:8080", "http", "localhost:8080"),
    ],
)
def test_connect_accepts_https_and_loopback_http(domain: str, protocol: str, host: str) -> None:
    """A bare tenant domain and https URLs mean https; plain http is kept for loopback only."""
    checker = Auth0PasswordChecker.connect(domain, CLIENT_ID, CLIENT_SECRET, REALM)
    assert (checker.get_token.protocol, checker.get_token.domain) == (protocol, host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_http_reaches_the_test_server(auth0: Auth0ManagementServer, host: str) -> None:
    """http://127.0.0.1:PORT and http://localhost:PORT both reach a local Auth0."""
    port = auth0.url.rsplit(":", 1)[1]
    response = ask_once(auth0, domain=f"http://{host}:{port}")
    assert response.status_code == 200


def test_auth0_answer_without_token_is_not_a_match() -> None:
    """A 200 from something that is not Auth0's token endpoint (an HTML page) → 502."""

    def html(_request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, b"<html>login</html>", (("Content-Type", "text/html"),))

    with BackgroundHTTPServer(html) as fake:
        response = ask_once(None, domain=fake.url)
    assert response.status_code == 502
    assert response.json()["error"] == "auth0_unexpected"


@pytest.mark.parametrize(
    ("secret", "status"), [(None, 401), ("wrong-secret-wrong-secret", 401), (SECRET[:-1], 401)]
)
def test_shared_secret_is_required(
    hook: Hook, auth0: Auth0ManagementServer, secret: str | None, status: int
) -> None:
    """Without the right shared secret → 401 and Auth0 is not asked."""
    response = hook.post({"identifier": "ada@example.com", "password": PASSWORD}, secret=secret)
    assert response.status_code == status
    assert auth0.token_requests == []


def test_get_is_405(hook: Hook) -> None:
    """Only POST is answered."""
    response = requests.get(hook.url, headers={"X-Migration-Hook-Secret": SECRET}, timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_large_body_is_413(hook: Hook, auth0: Auth0ManagementServer) -> None:
    """A body over 16 KiB → 413, unread and not sent to Auth0."""
    response = hook.post(b"{" + b" " * 20_000 + b"}")
    assert response.status_code == 413
    assert auth0.token_requests == []


@pytest.mark.parametrize(
    "payload",
    [b"nope", {"identifier": "ada@example.com", "password": PASSWORD, "ip": "1.2.3.4"}, []],
)
def test_bad_bodies_are_400(hook: Hook, auth0: Auth0ManagementServer, payload: Any) -> None:
    """Anything but the exact JSON shape → 400, Auth0 not asked, password not echoed."""
    response = hook.post(payload)
    assert response.status_code == 400
    assert PASSWORD not in response.text
    assert auth0.token_requests == []


class _Exploding:
    def check(self, identifier: str, password: str, client_ip: str | None) -> Auth0Outcome:
        raise RuntimeError("boom")


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, _h: status.append(s)))
    return status[0], body


def _environ(body: bytes, **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "HTTP_X_MIGRATION_HOOK_SECRET": SECRET,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    environ.update(extra)
    return environ


def test_a_failing_checker_is_500_not_a_match() -> None:
    """An exception in the checker → 500; the password is not logged (see the autouse check)."""
    app = make_hook_app(HookSettings(secret=SECRET), _Exploding())
    body = json.dumps({"identifier": "a@b.co", "password": PASSWORD}).encode()
    status, payload = _call(app, _environ(body))
    assert status.startswith("500")
    assert json.loads(payload)["error"] == "internal_error"


def test_missing_content_length_is_411() -> None:
    """Without Content-Length the hook does not read the body."""
    app = make_hook_app(HookSettings(secret=SECRET), _Exploding())
    status, _ = _call(app, _environ(b"{}", CONTENT_LENGTH=""))
    assert status.startswith("411")


def test_custom_secret_header() -> None:
    """The shared-secret header name is configurable."""
    app = make_hook_app(HookSettings(secret=SECRET, secret_header="Authorization"), _Exploding())
    status, _ = _call(app, _environ(b"{}", HTTP_AUTHORIZATION=SECRET))
    assert status.startswith("400")  # past the secret check, the body is refused
    status, _ = _call(app, _environ(b"{}"))
    assert status.startswith("401")


# --- the command line ----------------------------------------------------------------------------


def test_cli_print_config_hides_the_secret() -> None:
    """`hook serve --print-config` prints the Ory snippet without the secret by default."""
    env = {
        "AUTH0_DOMAIN": "tenant.eu.auth0.com",
        "AUTH0_CLIENT_ID": CLIENT_ID,
        "AUTH0_CLIENT_SECRET": CLIENT_SECRET,
        "MIGRATION_HOOK_SECRET": SECRET,
    }
    runner = CliRunner(env=env)
    args = ["hook", "serve", "--print-config", "--public-url", "https://hook.example.com/m"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "migrate_hook:" in result.output
    assert '"https://hook.example.com/m"' in result.output
    assert SECRET not in result.output
    assert CLIENT_SECRET not in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("ory patch"))
    patch = line.split("--replace ", 1)[1].strip("'")
    path, _, value = patch.partition("=")
    assert path == "/selfservice/methods/password/config/migrate_hook"
    assert json.loads(value)["config"]["method"] == "POST"
    shown = runner.invoke(main, [*args, "--show-secret"])
    assert SECRET in shown.output


def test_cli_refuses_a_short_secret() -> None:
    """A short shared secret exits with status 2."""
    result = CliRunner().invoke(
        main,
        [
            "hook", "serve", "--print-config", "--auth0-domain", "t.auth0.com",
            "--client-id", "a", "--client-secret", "b", "--secret", "short",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "16 characters" in result.output


def test_cli_refuses_plain_http_to_a_remote_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """`hook serve` refuses --auth0-domain http://remote: exit 2, one line, nothing served."""
    import auth0_ory_migrate

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the hook was served")

    # (the command imports the hook's names when it runs: auth0-python is slow to load)
    monkeypatch.setattr(auth0_ory_migrate, "make_hook_server", never)
    env = {
        "AUTH0_DOMAIN": "http://tenant.example.com",
        "AUTH0_CLIENT_ID": CLIENT_ID,
        "AUTH0_CLIENT_SECRET": CLIENT_SECRET,
        "MIGRATION_HOOK_SECRET": SECRET,
        "HOOK_PORT": "0",
    }
    for args in (["hook", "serve"], ["hook", "serve", "--print-config"]):
        result = CliRunner(env=env).invoke(main, args)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: refusing plain http to tenant.example.com")
        assert CLIENT_SECRET not in result.output
        assert SECRET not in result.output


@pytest.mark.parametrize(
    "domain",
    ["tenant.eu.auth0.com", "https://tenant.eu.auth0.com", "http://127.0.0.1:8080",
     "http://localhost:8080"],
)  # fmt: skip
def test_cli_accepts_https_and_loopback_http(domain: str) -> None:
    """`hook serve` takes a bare domain, an https URL, and plain http on loopback."""
    args = ["hook", "serve", "--print-config", "--auth0-domain", domain, "--client-id", "a",
            "--client-secret", CLIENT_SECRET, "--secret", SECRET]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "migrate_hook:" in result.stdout


@contextlib.contextmanager
def serving_hook(
    auth0: Auth0ManagementServer,
    *,
    client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
    secret: str = SECRET,
) -> Iterator[tuple[str, list[str]]]:
    """`hook serve` in a subprocess: its URL, and (once the block ends) all it wrote to stderr."""
    env = {
        **os.environ,
        "AUTH0_DOMAIN": auth0.url,
        "AUTH0_CLIENT_ID": client[0],
        "AUTH0_CLIENT_SECRET": client[1],
        "MIGRATION_HOOK_SECRET": secret,
        "HOOK_PORT": "0",
    }
    stderr: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "auth0_ory_migrate", "hook", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        try:
            line = proc.stderr.readline()
            assert "serving the password-migration hook on" in line
            yield line.split(" on ", 1)[1].split()[0], stderr
        finally:
            proc.terminate()
            stderr.append(proc.communicate(timeout=10)[1])


@pytest.mark.slow
def test_cli_serves_the_hook(auth0: Auth0ManagementServer) -> None:
    """`hook serve` in a subprocess answers Ory's request through Auth0."""
    with serving_hook(auth0) as (url, _):
        ok = requests.post(
            url,
            json={"identifier": "ada@example.com", "password": PASSWORD},
            headers={"X-Migration-Hook-Secret": SECRET},
            timeout=10,
        )
        wrong = requests.post(
            url,
            json={"identifier": "ada@example.com", "password": "nope"},
            headers={"X-Migration-Hook-Secret": SECRET},
            timeout=10,
        )
    assert ok.status_code == 200
    assert ok.json() == {"status": "password_match"}
    assert wrong.status_code == 403
