"""Secrets never leave: a canary in every secret field, every command run, nothing shows it.

Each secret of the inputs (password hashes, TOTP secrets, the Ory API key, the Auth0 client
secret and management token, the hook's shared secret, an end user's password) holds a
distinct canary; the test servers quote requests in their error answers (``echo_request``);
the commands run through the CLI with DEBUG logging. No canary may appear in stdout, stderr,
the logs, the report, the ledger and state files, or any exception or traceback.
"""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from click.testing import CliRunner, Result

from auth0_ory_migrate import (
    Auth0PasswordChecker,
    HookSettings,
    OryAdmin,
    convert_custom_password_hash,
    make_hook_app,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._core._ory import batch_request
from auth0_ory_migrate._core._redact import Redactor, batch_secrets, credential_secrets, redact
from auth0_ory_migrate.exceptions import CustomHashError, OryError
from auth0_ory_migrate.testing import (
    Auth0ManagementServer,
    ClientApp,
    InMemoryOryAdmin,
    OryAdminServer,
    OryFaults,
    PasswordUser,
)


REALM = "Username-Password-Authentication"
#: The Ory API key: deliberately not shaped like an Ory key (no ``ory_`` prefix).
ORY_KEY = "canaryOryKey7Q2w9"
WRONG_ORY_KEY = "canaryWrongOryKey4k8"
MGMT_TOKEN = "canaryMgmtToken5j3"
WRONG_MGMT_TOKEN = "canaryWrongMgmtToken6h1"
CLIENT_ID = "hook-client"
#: Secrets that JSON, form and URL encodings spell differently: the canary is the letters
#: before the "+", which every spelling keeps.
SPECIAL = '+/"&\\é '
CLIENT_SECRET = "canaryClientSecret8x2" + SPECIAL
WRONG_CLIENT_SECRET = "canaryWrongClientSecret3v7" + SPECIAL
HOOK_SECRET = "canaryHookSharedSecret-0123456789"
END_USER_PASSWORD = "canaryEndUserPassw0rd" + SPECIAL
USERS = 12


def _bcrypt(i: int) -> str:
    body = f"CanaryHash{i:03d}"
    return "$2b$10$" + body + "x" * (53 - len(body))


def _totp(i: int) -> str:
    return "CANARYTOTP" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i] * 6


def _custom_canaries() -> list[str]:
    return ["canarySaltValue", "canaryHashValue", "canaryvariant"]


HASHES = [_bcrypt(i) for i in range(USERS)]
TOTPS = [_totp(i) for i in range(USERS)]
CANARIES = [
    *(h[7:] for h in HASHES),  # the hash's own characters (the $2b$10$ prefix is no secret)
    *TOTPS,
    ORY_KEY,
    WRONG_ORY_KEY,
    MGMT_TOKEN,
    WRONG_MGMT_TOKEN,
    CLIENT_SECRET.removesuffix(SPECIAL),
    WRONG_CLIENT_SECRET.removesuffix(SPECIAL),
    HOOK_SECRET,
    END_USER_PASSWORD.removesuffix(SPECIAL),
    *_custom_canaries(),
]


def leaks(text: str) -> list[str]:
    """The canaries in *text*."""
    return [c for c in CANARIES if c in text]


def assert_clean(where: str, text: str) -> None:
    found = leaks(text)
    assert not found, f"{where} shows {found}"


def assert_result_clean(result: Result) -> None:
    assert_clean("stdout", result.stdout)
    assert_clean("stderr", result.stderr)
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        assert_clean("traceback", "".join(traceback.format_exception(*result.exc_info)))
    if result.exception is not None:
        assert_clean("exception repr", repr(result.exception))


@pytest.fixture(autouse=True)
def _debug_logs_stay_clean(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with DEBUG logging; no canary may reach a log record."""
    caplog.set_level(logging.DEBUG)
    with stamina.set_testing(True, attempts=3):
        yield
    assert_clean("the logs", caplog.text)


def _user(i: int) -> dict[str, Any]:
    oid = f"{i:024x}"
    return {
        "user_id": f"auth0|{oid}",
        "email": f"user{i}@example.com",
        "email_verified": True,
        "created_at": "2021-03-05T16:35:16.775Z",
        "identities": [
            {"provider": "auth0", "user_id": oid, "connection": REALM, "isSocial": False}
        ],
    }


def _write_inputs(folder: Path) -> tuple[Path, Path, Path]:
    users = [_user(i) for i in range(USERS)]
    # One more user whose custom_password_hash is malformed and full of canaries.
    odd = _user(USERS)
    odd["custom_password_hash"] = {
        "algorithm": "argon2",
        "hash": {"value": "$canaryvariant$v=19$m=1,t=1,p=1$canarySaltValue$canaryHashValue"},
        "salt": {"value": "canarySaltValue", "encoding": "utf8"},
    }
    users.append(odd)
    hashes = [
        {
            "_id": {"$oid": f"{i:024x}"},
            "email": f"user{i}@example.com",
            "connection": REALM,
            "passwordHash": HASHES[i],
        }
        for i in range(USERS)
    ]
    mfa = [
        {"user_id": f"auth0|{i:024x}", "type": "otp", "otp_secret": TOTPS[i]} for i in range(USERS)
    ]
    paths = (folder / "users.ndjson", folder / "hashes.json", folder / "mfa.ndjson")
    contents: tuple[list[dict[str, Any]], ...] = (users, hashes, mfa)
    for path, records in zip(paths, contents, strict=True):
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return paths


def _cli(*args: str, key: str = ORY_KEY, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORY_API_KEY": key}, input=input)


def _state_files(folder: Path) -> Iterator[Path]:
    """Every file the commands wrote except the identities file (which holds the hashes)."""
    inputs = {"users.ndjson", "hashes.json", "mfa.ndjson", "identities.ndjson"}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name not in inputs:
            yield path


def test_convert_import_verify_undo_never_show_a_secret(in_tmp_path: Path) -> None:
    """convert, import (echoing per-item and whole-request errors), verify, undo: no canary."""
    users, hashes, mfa = _write_inputs(in_tmp_path)
    converted = _cli(
        "convert", "--users", str(users), "--password-hashes", str(hashes),
        "--mfa-secrets", str(mfa),
    )  # fmt: skip
    assert converted.exit_code == 0, converted.output
    assert_result_clean(converted)
    identities = in_tmp_path / "identities.ndjson"
    bodies = [json.loads(line) for line in identities.read_text().splitlines()]
    for i, body in enumerate(bodies):
        if i % 4 == 1:  # traits Ory refuses: a per-item 400 that quotes the body
            body["traits"]["email"] = f"user{i} at example.com"
    identities.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    assert all(t in identities.read_text() for t in TOTPS)  # the canaries are really sent

    faults = OryFaults(echo_request=True)
    with OryAdminServer(api_key=ORY_KEY, faults=faults) as server:
        # Half the users clash with identities already there: per-item 409s quoting each body.
        for i in range(0, USERS, 2):
            server.add_identity(
                {"traits": {"email": f"USER{i}@example.com"}, "external_id": f"other|{i}"}
            )
        refused = _cli("import", "--identities", str(identities), "--ory-url", server.url,
                       key=WRONG_ORY_KEY)  # fmt: skip
        assert refused.exit_code != 0
        assert_result_clean(refused)
        imported = _cli("import", "--identities", str(identities), "--ory-url", server.url)
        assert imported.exit_code == 1, imported.output
        assert "failed:" in imported.output
        assert_result_clean(imported)
        # A whole-request error quoting the request body (504 for batches above 1).
        server.faults.gateway_timeout_above = 1
        again = _cli("import", "--identities", str(identities), "--ory-url", server.url,
                     "--state-dir", "second", "--batch-size", "4")  # fmt: skip
        assert_result_clean(again)
        server.faults.gateway_timeout_above = 0
        for key in (ORY_KEY, WRONG_ORY_KEY):
            verified = _cli("verify", "--identities", str(identities), "--ory-url", server.url,
                            key=key)  # fmt: skip
            assert_result_clean(verified)
            undone = _cli("undo", "--ory-url", server.url, "--yes", key=key)
            assert_result_clean(undone)
    for path in _state_files(in_tmp_path):
        assert_clean(str(path.relative_to(in_tmp_path)), path.read_text(errors="replace"))


def test_the_adapter_cuts_every_sent_secret_out_of_ory_answers() -> None:
    """OryAdmin: a refused batch's reason and its items' errors carry no secret of the request."""
    bodies = [
        {
            "traits": {"email": f"user{i}@example.com"},
            "external_id": f"auth0|{i}",
            "credentials": {
                "password": {"config": {"hashed_password": HASHES[i]}},
                "totp": {"config": {"totp_url": f"otpauth://totp/Ory:u?secret={TOTPS[i]}"}},
            },
        }
        for i in range(4)
    ]
    with OryAdminServer(api_key=ORY_KEY, faults=OryFaults(echo_request=True)) as server:
        server.add_identity({"traits": {"email": "user1@example.com"}})
        with OryAdmin.from_url(server.url, ORY_KEY) as ory:
            items = ory.send_batch(ory.prepare_batch(bodies)).read()
            errors = [item["error"] for item in items if item["error"] is not None]
            assert len(errors) == 1
            assert "[redacted]" in json.dumps(errors)
            assert_clean("item errors", json.dumps(errors))
            server.faults.gateway_timeout_above = 1
            with pytest.raises(OryError) as caught:
                ory.send_batch(ory.prepare_batch(bodies))
            assert caught.value.status == 504
            assert "[redacted]" in str(caught.value)
            assert_clean("error", str(caught.value) + repr(caught.value))
            assert caught.value.__cause__ is None
        with OryAdmin.from_url(server.url, WRONG_ORY_KEY) as wrong:
            with pytest.raises(OryError) as refused:
                wrong.get_by_external_id("auth0|1")
            assert refused.value.status == 401
            assert "[redacted]" in str(refused.value)
            assert_clean("error", str(refused.value))
            assert_clean("repr", repr(wrong))


def test_the_in_memory_admin_cuts_them_out_as_well() -> None:
    """InMemoryOryAdmin behaves as OryAdmin: item errors and refusals carry no secret."""
    ory = InMemoryOryAdmin(echo_request=True)
    bodies = [
        {
            "traits": {"email": "same@example.com"},
            "credentials": {"password": {"config": {"hashed_password": HASHES[i]}}},
        }
        for i in range(2)
    ]
    items = ory.send_batch(ory.prepare_batch(bodies)).read()
    assert items[1]["action"] == "error"
    assert "[redacted]" in json.dumps(items[1]["error"])
    assert_clean("item error", json.dumps(items))
    bodies[0]["state"] = "bogus"
    with pytest.raises(OryError) as caught:
        ory.send_batch(ory.prepare_batch(bodies))
    assert_clean("error", str(caught.value))
    assert caught.value.__cause__ is None


def test_export_never_shows_a_secret_or_the_download_link(in_tmp_path: Path) -> None:
    """Export with DEBUG logs: token, client secret and the pre-signed link never shown."""
    users = [_user(i) for i in range(3)]
    clients = [ClientApp(CLIENT_ID, CLIENT_SECRET)]
    with Auth0ManagementServer(
        users, token=MGMT_TOKEN, clients=clients, seconds_per_step=0
    ) as auth0:
        auth0.echo_request = True
        base = ["export", "--domain", auth0.url, "--all-connections", "--poll-interval", "0"]
        done = CliRunner().invoke(main, [*base, "--token", MGMT_TOKEN, "--out", "u.gz"])
        assert done.exit_code == 0, done.output
        assert_result_clean(done)
        with_client = CliRunner().invoke(
            main,
            [*base, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, "--out", "c.gz"],
        )
        assert with_client.exit_code == 0, with_client.output
        assert_result_clean(with_client)
        for args in (
            ["--token", WRONG_MGMT_TOKEN],
            ["--client-id", CLIENT_ID, "--client-secret", WRONG_CLIENT_SECRET],
        ):
            refused = CliRunner().invoke(main, [*base, *args, "--out", "x.gz"])
            assert refused.exit_code == 2
            assert_result_clean(refused)
    for path in _state_files(in_tmp_path):
        if path.suffix != ".gz":
            assert_clean(path.name, path.read_text(errors="replace"))


def test_the_download_link_never_reaches_a_log(
    in_tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3 logs each request line at DEBUG: the pre-signed link is masked in it."""
    with Auth0ManagementServer([_user(0)], token=MGMT_TOKEN, seconds_per_step=0) as auth0:
        result = CliRunner().invoke(
            main,
            ["export", "--domain", auth0.url, "--token", MGMT_TOKEN, "--all-connections",
             "--poll-interval", "0", "--out", "u.gz"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    assert "/exports/job_" not in caplog.text
    assert "X-Amz-Signature" not in caplog.text
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # it did log the request


def _wsgi(app: Any, password: str, secret: str = HOOK_SECRET) -> tuple[str, bytes]:
    body = json.dumps({"identifier": "ada@example.com", "password": password}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "HTTP_X_MIGRATION_HOOK_SECRET": secret,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    status: list[str] = []
    answer = b"".join(app(environ, lambda s, _h: status.append(s)))
    return status[0], answer


def test_the_hook_never_shows_a_secret() -> None:
    """The hook (WSGI app) against an echoing Auth0: passwords and secrets never shown."""
    users = [PasswordUser("ada@example.com", END_USER_PASSWORD, REALM)]
    clients = [ClientApp(CLIENT_ID, CLIENT_SECRET)]
    with Auth0ManagementServer(token=MGMT_TOKEN, clients=clients, password_users=users) as auth0:
        auth0.echo_request = True
        settings = HookSettings(secret=HOOK_SECRET)
        assert_clean("settings", repr(settings))
        for client_secret in (CLIENT_SECRET, WRONG_CLIENT_SECRET):
            checker = Auth0PasswordChecker.connect(
                auth0.url, CLIENT_ID, client_secret, REALM, timeout=5
            )
            assert_clean("checker", repr(checker))
            app = make_hook_app(settings, checker)
            for password in (END_USER_PASSWORD, END_USER_PASSWORD + "-wrong"):
                status, answer = _wsgi(app, password)
                assert_clean(f"answer {status}", answer.decode())
            status, answer = _wsgi(app, END_USER_PASSWORD, secret=HOOK_SECRET + "x")
            assert status.startswith("401")
            assert_clean("answer", answer.decode())


# -- redaction by structure ------------------------------------------------------------------


def test_credential_secrets_are_found_by_structure() -> None:
    """Every string of a credential config is a secret, except who it belongs to."""
    body = {
        "traits": {"email": "a@example.com"},
        "credentials": {
            "password": {"config": {"hashed_password": "h4sh", "password": "pl4in"}},
            "totp": {"config": {"totp_url": "otpauth://totp/Ory:a?secret=JBSW%2BY3&issuer=Ory"}},
            "lookup_secret": {"config": {"codes": [{"code": "c0de1"}, {"code": "c0de2"}]}},
            "oidc": {
                "config": {
                    "providers": [
                        {"provider": "google", "subject": "123", "initial_id_token": "t0ken"}
                    ]
                }
            },
        },
    }
    found = credential_secrets(body)
    assert {"h4sh", "pl4in", "c0de1", "c0de2", "t0ken", "JBSW%2BY3", "JBSW+Y3"} <= found
    assert not {"google", "123", "a@example.com"} & found
    payload = batch_request([body], url="/admin/identities", headers={}).body
    assert batch_secrets(payload) == found


@pytest.mark.parametrize(
    "spelled",
    [
        lambda s: s,
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(json.dumps(s))[1:-1],
        lambda s: json.dumps({"v": s}),
    ],
)
def test_redactor_cuts_each_spelling_and_keeps_the_rest(spelled: Any) -> None:
    """The exact secret is cut, raw or JSON-escaped; the text around it stays readable."""
    secret = 'pa"ss/wörd<&>' + HASHES[0]
    text = f"refused {spelled(secret)} because it is bad"
    cut = Redactor(frozenset({secret})).text(text)
    assert secret not in cut
    assert "CanaryHash" not in cut
    assert cut.startswith("refused ")
    assert cut.endswith(" because it is bad")


def test_the_backstop_no_longer_swallows_the_text_after_a_hash() -> None:
    """The pattern backstop masks a hash, not the words after it up to the next space."""
    assert redact(f'bad "{HASHES[0]}", see docs') == 'bad "[redacted]", see docs'


@pytest.mark.parametrize(
    "custom",
    [
        {"algorithm": "argon2", "hash": {"value": "$canaryvariant$v=19$m=1$canarySaltValue$x"}},
        {"algorithm": "argon2", "hash": {"value": "$argon2id$v=19$canaryvariant$c2FsdA$aGFzaA"}},
        {"algorithm": "argon2", "hash": {"value": "$argon2id$v=canaryvariant$m=1,t=1,p=1$a$b"}},
        {"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-canaryvariant$i=1,l=4$c2FsdA$aGFzaA"}},
        {"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha256$i=1,l=4$canarySaltValue$@@"}},
        {"algorithm": "bcrypt", "hash": {"value": "$2b$canaryHashValue"}},
        {"algorithm": "hmac", "hash": {"value": "canaryHashValue", "digest": "canaryvariant"}},
        {"algorithm": "ldap", "hash": {"value": "{canaryvariant}canaryHashValue"}},
        {"algorithm": "ldap", "hash": {"value": "{SSHA}canaryHashValue!"}},
        {"algorithm": "sha256", "hash": {"value": "canaryHashValue", "encoding": "canaryvariant"}},
        {
            "algorithm": "sha256",
            "hash": {"value": "00" * 32, "encoding": "hex"},
            "salt": {"value": "canarySaltValue", "encoding": "hex"},
        },
        {
            "algorithm": "sha256",
            "hash": {"value": "00" * 32, "encoding": "hex"},
            "salt": {"value": "canarySaltValue", "position": "canaryvariant"},
        },
        {"algorithm": "scrypt", "hash": {"value": "canaryHashValue"}, "keylen": "canaryvariant"},
        {"algorithm": "canaryvariant", "hash": {"value": "canaryHashValue"}},
    ],
)
def test_a_malformed_custom_password_hash_is_never_quoted(custom: dict[str, Any]) -> None:
    """The error or the hook note of a bad custom_password_hash quotes no hash, salt or variant."""
    try:
        conversion = convert_custom_password_hash(custom)
    except CustomHashError as e:
        text = str(e) + repr(e)
    else:
        text = f"{conversion.reason} {conversion!r}"
    assert_clean("custom hash message", text)


def test_redactor_cuts_short_secrets_and_secrets_sharing_a_prefix() -> None:
    """Secrets shorter than the index key, and many hashes with one prefix, are all cut."""
    redactor = Redactor(frozenset({"pw1", *HASHES}))
    text = f"a pw1 b {HASHES[3]} c {HASHES[11]} d"
    assert redactor.text(text) == "a [redacted] b [redacted] c [redacted] d"
    assert redactor.value({"k": [text, 1, None]}) == {"k": [redactor.text(text), 1, None]}
    assert Redactor(frozenset()).text(text) == text
