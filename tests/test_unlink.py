"""After cutover: ``undo --credential oidc:PROVIDER_ID`` removes that one link, nothing else."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_client
import pytest
from click.testing import CliRunner, Result
from ory_client.exceptions import ApiException

from auth0_ory_migrate import (
    Ledger,
    LinkedIdentity,
    OryAdmin,
    UndoTarget,
    import_identities,
    unlink_credential,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._core._unlink import check_unlink_request, provider_identifiers
from auth0_ory_migrate.exceptions import ConfigurationError, OryError
from auth0_ory_migrate.testing import InMemoryOryAdmin, OryAdminServer
from auth0_ory_migrate.typing import CredentialAdmin, IdentityAdmin


KEY = "ory_pat_unlink_secret_0123456789"
LAST = "You cannot remove the last first factor credential."


pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.fixture(params=["http", "memory"])
def twin(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """(the store to read back, the admin to hand the library): over HTTP, and in memory."""
    if request.param == "memory":
        memory = InMemoryOryAdmin()
        yield memory, memory
        return
    with OryAdminServer(api_key=KEY) as s, OryAdmin.from_url(s.url, KEY) as ory:
        yield s, ory


def body(n: int, *links: str, hook: bool = False) -> dict[str, Any]:
    """User *n* with OIDC *links* (``provider:subject``), and the password hook if asked."""
    credentials: dict[str, Any] = {}
    if links:
        pairs = [link.split(":", 1) for link in links]
        providers = [{"provider": provider, "subject": subject} for provider, subject in pairs]
        credentials["oidc"] = {"config": {"providers": providers}}
    if hook:
        credentials["password"] = {"config": {"use_password_migration_hook": True}}
    out: dict[str, Any] = {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n:06d}",
        "traits": {"email": f"user{n}@example.com"},
    }
    if credentials:
        out["credentials"] = credentials
    return out


def dual_run(n: int) -> dict[str, Any]:
    """A user of the dual run: an Auth0 upstream link and a Google one."""
    return body(n, f"auth0:auth0|{n:06d}", f"google:g-{n}")


def imported(admin: Any, bodies: list[dict[str, Any]], state: Path) -> list[UndoTarget]:
    """Import *bodies* with a ledger in *state*; the ledger's undo targets."""
    with Ledger.open(state, input_digest="d", input_name="ids.ndjson") as ledger:
        result = import_identities(bodies, admin, ledger=ledger)
        assert result.created == len(bodies), result
        return ledger.undo_targets()


def links(store: Any, n: int) -> tuple[str, ...]:
    identity = store.identity_by_external_id(f"auth0|{n:06d}")
    assert identity is not None
    return tuple(identity.oidc_identifiers)


# -- the pure decisions ----------------------------------------------------------------------


def test_provider_identifiers_are_the_named_providers_only() -> None:
    """Split at the first colon, compared exactly; other providers and prefixes stay."""
    identifiers = ["auth0:auth0|1", "google:1", "auth0x:2", "Auth0:3", "auth0:a:b", "auth0:"]
    assert provider_identifiers(identifiers, "auth0") == ["auth0:auth0|1", "auth0:a:b"]
    assert provider_identifiers(["auth0:1", "auth0:1"], "auth0") == ["auth0:1"]
    assert provider_identifiers([], "auth0") == []


@pytest.mark.parametrize(
    ("kind", "provider"),
    [("password", "auth0"), ("totp", "auth0"), ("oidc", ""), ("oidc", "a:b"), ("oidc", " auth0")],
)
def test_only_a_provider_link_can_be_asked_for(kind: str, provider: str) -> None:
    """Anything but oidc/saml with a plain provider id is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        check_unlink_request(kind, provider)


def test_a_bad_request_fails_before_anything_is_sent() -> None:
    """unlink_credential refuses a bad type or provider up front: no request goes out."""
    ory = InMemoryOryAdmin()
    with pytest.raises(ConfigurationError):
        unlink_credential([UndoTarget("auth0|1", "x")], ory, "password", "auth0")
    assert ory.requests == []


def test_both_admins_are_credential_admins_and_the_import_protocol_did_not_grow() -> None:
    """OryAdmin and InMemoryOryAdmin are CredentialAdmins; IdentityAdmin asks nothing new."""
    assert isinstance(InMemoryOryAdmin(), CredentialAdmin)
    assert isinstance(OryAdmin.from_url("http://127.0.0.1:9"), CredentialAdmin)

    class ImportOnly:  # a third-party admin written against IdentityAdmin alone
        def body_problem(self, body: Any) -> None: ...
        def prepare_batch(self, bodies: Any) -> Any: ...
        def send_batch(self, batch: Any) -> Any: ...
        def get_by_external_id(self, external_id: str) -> None: ...
        def find_by_identifier(self, identifier: str) -> None: ...
        def list_page(self, page_token: Any = None, *, page_size: int = 500) -> Any: ...
        def delete_identity(self, identity_id: str) -> bool:
            return False

        def identity_schema(self, schema_id: str) -> None: ...

    assert isinstance(ImportOnly(), IdentityAdmin)
    assert not isinstance(ImportOnly(), CredentialAdmin)


# -- the loop, over HTTP and in memory -------------------------------------------------------


def test_only_the_named_link_goes(twin: tuple[Any, Any], tmp_path: Path) -> None:
    """Two providers each: the auth0 link goes, google stays; no auth0 link: not present."""
    store, admin = twin
    bodies = [dual_run(1), dual_run(2), body(3, "google:g-3", "github:h-3")]
    targets = imported(admin, bodies, tmp_path / "s")
    result = unlink_credential(targets, admin, "oidc", "auth0")
    assert (result.removed, result.identities, result.not_present) == (2, 2, 1)
    assert result.ok
    assert (result.failed, result.not_found, result.left_alone) == ((), (), ())
    assert links(store, 1) == ("google:g-1",)
    assert links(store, 2) == ("google:g-2",)
    assert links(store, 3) == ("google:g-3", "github:h-3")
    assert len(store.identities()) == 3
    assert store.identity_by_identifier("auth0:auth0|000001") is None


def test_a_second_run_removes_nothing_more(twin: tuple[Any, Any], tmp_path: Path) -> None:
    """Idempotent: the same call again counts everyone as not present."""
    store, admin = twin
    targets = imported(admin, [dual_run(1), dual_run(2)], tmp_path / "s")
    first = unlink_credential(targets, admin, "oidc", "auth0")
    again = unlink_credential(targets, admin, "oidc", "auth0")
    assert (first.removed, first.not_present) == (2, 0)
    assert (again.removed, again.identities, again.not_present, again.ok) == (0, 0, 2, True)
    assert links(store, 1) == ("google:g-1",)


def test_an_identity_gone_is_counted_not_found(twin: tuple[Any, Any], tmp_path: Path) -> None:
    """A deleted identity (404 by external id): counted as not found, the rest go on."""
    store, admin = twin
    targets = imported(admin, [dual_run(1), dual_run(2)], tmp_path / "s")
    admin.delete_identity(targets[1].identity_id)
    result = unlink_credential(targets, admin, "oidc", "auth0")
    assert (result.removed, result.not_present, result.ok) == (1, 0, True)
    [gone] = result.not_found
    assert (gone.external_id, gone.identity_id) == ("auth0|000002", targets[1].identity_id)
    assert links(store, 1) == ("google:g-1",)


def test_a_merged_identity_loses_every_link_of_the_provider(
    twin: tuple[Any, Any], tmp_path: Path
) -> None:
    """An identity carrying two Auth0 users' links loses both, and keeps the others."""
    store, admin = twin
    merged = body(1, "auth0:auth0|000001", "google:g-1", "auth0:google-oauth2|7")
    targets = imported(admin, [merged], tmp_path / "s")
    result = unlink_credential(targets, admin, "oidc", "auth0")
    assert (result.removed, result.identities) == (2, 1)
    assert links(store, 1) == ("google:g-1",)


def test_the_last_way_to_sign_in_is_kept_and_reported(
    twin: tuple[Any, Any], tmp_path: Path
) -> None:
    """Ory refuses to remove an identity's last first factor (400): failed, with Ory's reason."""
    store, admin = twin
    targets = imported(admin, [body(1, "auth0:auth0|000001"), dual_run(2)], tmp_path / "s")
    result = unlink_credential(targets, admin, "oidc", "auth0")
    assert (result.removed, result.ok) == (1, False)
    [failed] = result.failed
    assert failed.external_id == "auth0|000001"
    assert failed.reason is not None
    assert LAST in failed.reason
    assert links(store, 1) == ("auth0:auth0|000001",)


def test_a_password_or_passwordless_code_counts_as_a_way_to_sign_in(tmp_path: Path) -> None:
    """With the password hook, or code login enabled in the project, the last link can go."""
    hooked = InMemoryOryAdmin()
    targets = imported(hooked, [body(1, "auth0:auth0|000001", hook=True)], tmp_path / "a")
    assert unlink_credential(targets, hooked, "oidc", "auth0").removed == 1
    coded = InMemoryOryAdmin(passwordless_code=True)
    targets = imported(coded, [body(1, "auth0:auth0|000001")], tmp_path / "b")
    assert unlink_credential(targets, coded, "oidc", "auth0").removed == 1
    assert links(coded, 1) == ()


def test_adopted_and_foreign_identities_are_left_alone(tmp_path: Path) -> None:
    """An adopted identity, and one the ledger names wrongly: untouched, listed with why."""
    ory = InMemoryOryAdmin()
    mine = ory.add_identity(dual_run(1))
    theirs = ory.add_identity(dual_run(2))
    adopted = ory.add_identity(dual_run(3))
    targets = [
        UndoTarget("auth0|000001", mine.id),
        UndoTarget("auth0|000009", theirs.id),  # no identity has this external id
        UndoTarget("auth0|000002", mine.id),  # names another identity
        UndoTarget("auth0|000003", adopted.id, "adopted"),
    ]
    result = unlink_credential(targets, ory, "oidc", "auth0")
    assert result.removed == 1
    assert [o.external_id for o in result.not_found] == ["auth0|000009"]
    reasons = {o.external_id: o.reason or "" for o in result.left_alone}
    assert f"identity {theirs.id} does" in reasons["auth0|000002"]
    assert "adopted" in reasons["auth0|000003"]
    assert links(ory, 2) == ("auth0:auth0|000002", "google:g-2")
    assert links(ory, 3) == ("auth0:auth0|000003", "google:g-3")


def test_server_errors_are_retried(server: OryAdminServer, tmp_path: Path) -> None:
    """5xx answers to lookups and deletions are retried by the retry policy; all links go."""
    with OryAdmin.from_url(server.url, KEY) as ory:
        targets = imported(ory, [dual_run(1), dual_run(2)], tmp_path / "s")
        server.faults.fail_next = 3
        result = unlink_credential(targets, ory, "oidc", "auth0")
    assert (result.removed, result.ok) == (2, True)
    assert sum(r.status >= 500 for r in server.requests) == 3
    deletes = [r for r in server.requests if r.method == "DELETE" and r.status == 204]
    assert len(deletes) == 2
    assert links(server, 1) == ("google:g-1",)


def test_no_token_is_asked_for(server: OryAdminServer, tmp_path: Path) -> None:
    """The lookups never ask for credential configs (an OIDC link's tokens)."""
    with OryAdmin.from_url(server.url, KEY) as ory:
        targets = imported(ory, [dual_run(1)], tmp_path / "s")
        unlink_credential(targets, ory, "oidc", "auth0")
    gets = [r for r in server.requests if r.method == "GET"]
    assert gets
    assert all("include_credential" not in r.query for r in gets)


# -- the twin's DELETE /admin/identities/{id}/credentials/{type} -----------------------------


def _api(server: OryAdminServer) -> ory_client.IdentityApi:
    configuration = ory_client.Configuration(host=server.url, access_token=KEY)
    return ory_client.IdentityApi(ory_client.ApiClient(configuration))


def _refused(server: OryAdminServer, *args: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ApiException) as caught:
        _api(server).delete_identity_credentials(*args, **kwargs)
    error = json.loads(caught.value.body or "{}")["error"]
    assert error["code"] == caught.value.status
    return caught.value.status, str(error["reason"])


def test_the_server_deletes_one_link_with_204(server: OryAdminServer) -> None:
    """204; the identity lists the other links only, and the identifier is free again."""
    identity = server.add_identity(dual_run(1))
    _api(server).delete_identity_credentials(identity.id, "oidc", identifier="auth0:auth0|000001")
    assert links(server, 1) == ("google:g-1",)
    answer = _api(server).get_identity(identity.id)
    assert answer.credentials is not None
    assert answer.credentials["oidc"].identifiers == ["google:g-1"]
    server.add_identity(body(2, "auth0:auth0|000001"))  # no clash any more


def test_the_server_answers_as_kratos_does(server: OryAdminServer) -> None:
    """404 for an unknown identity, type or identifier; 400 without an identifier."""
    identity = server.add_identity(dual_run(1))
    plain = server.add_identity(body(2, hook=True))
    lone = server.add_identity(body(3, "auth0:auth0|000003"))
    unknown = str(uuid.uuid4())
    assert _refused(server, unknown, "oidc", identifier="auth0:x")[0] == 404
    assert _refused(server, "not-a-uuid", "oidc", identifier="auth0:x")[0] == 404
    assert _refused(server, plain.id, "oidc", identifier="auth0:x") == (
        404,
        "You tried to remove a oidc but this user have no oidc set up.",
    )
    assert _refused(server, identity.id, "oidc") == (
        400,
        "You must provide an identifier to delete this credential.",
    )
    assert _refused(server, identity.id, "oidc", identifier="auth0:nobody") == (
        404,
        "The identifier `auth0:nobody` was not found among OIDC credentials.",
    )
    assert _refused(server, lone.id, "oidc", identifier="auth0:auth0|000003") == (400, LAST)
    assert links(server, 3) == ("auth0:auth0|000003",)
    statuses = [r.status for r in server.requests if r.method == "DELETE"]
    assert statuses == [404, 404, 404, 400, 404, 400]


def test_the_server_deletes_a_totp_credential_whole(server: OryAdminServer) -> None:
    """TOTP (a second factor) goes whole, without an identifier; a code credential cannot."""
    totp = {"totp": {"config": {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}}}
    hooked = body(1, hook=True)
    identity = server.add_identity({**hooked, "credentials": {**hooked["credentials"], **totp}})
    _api(server).delete_identity_credentials(identity.id, "totp")
    stored = server.identity(identity.id)
    assert stored is not None
    assert "totp" not in stored.credentials
    assert stored.uses_password_migration_hook


def test_the_in_memory_admin_answers_like_the_adapter(tmp_path: Path) -> None:
    """False for a 404, OryError(400) for the last first factor, and each call recorded."""
    ory = InMemoryOryAdmin()
    lone = ory.add_identity(body(1, "auth0:auth0|000001"))
    two = ory.add_identity(dual_run(2))
    assert ory.credential_identifiers("auth0|000001", "oidc") == LinkedIdentity(
        lone.id, ("auth0:auth0|000001",)
    )
    assert ory.credential_identifiers("auth0|nobody", "oidc") is None
    assert ory.delete_credential(two.id, "oidc", "auth0:nobody") is False
    with pytest.raises(OryError) as caught:  # (Kratos counts first factors before it looks)
        ory.delete_credential(lone.id, "oidc", "auth0:nobody")
    assert caught.value.status == 400
    assert LAST in str(caught.value)
    assert [(r.method, r.status) for r in ory.requests] == [
        ("GET", 200),
        ("GET", 404),
        ("DELETE", 404),
        ("DELETE", 400),
    ]


# -- the command -----------------------------------------------------------------------------


def cli(*args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORY_API_KEY": KEY}, input=answer)


def _state(server: OryAdminServer, tmp_path: Path, *bodies: dict[str, Any]) -> Path:
    state = tmp_path / "state"
    with OryAdmin.from_url(server.url, KEY) as ory:
        imported(ory, list(bodies), state)
    return state


def test_undo_credential_removes_the_links_and_deletes_no_one(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """`undo --credential oidc:auth0 --yes`: links gone, identities and ledger kept; exit 0."""
    state = _state(server, tmp_path, dual_run(1), dual_run(2), body(3, "google:g-3"))
    args = ("undo", "--ory-url", server.url, "--state-dir", str(state))
    result = cli(*args, "--credential", "oidc:auth0", "--yes")
    assert result.exit_code == 0, result.output
    assert (
        "removed 2 oidc links of provider auth0 from 2 identities, not present 1, "
        "not found 0, failed 0, left alone 0"
    ) in result.output
    assert len(server.identities()) == 3
    assert links(server, 1) == ("google:g-1",)
    with Ledger.open_existing(state) as ledger:
        assert len(ledger.undo_targets()) == 3
    again = cli(*args, "--credential", "oidc:auth0", "--yes")
    assert again.exit_code == 0, again.output
    assert "removed 0 oidc links of provider auth0 from 0 identities, not present 3" in (
        again.output
    )


def test_undo_credential_asks_first(server: OryAdminServer, tmp_path: Path) -> None:
    """The prompt names the link and the count; "no" removes nothing, exit 2."""
    state = _state(server, tmp_path, dual_run(1))
    args = ("undo", "--ory-url", server.url, "--state-dir", str(state))
    result = cli(*args, "--credential", "oidc:auth0", answer="n\n")
    assert result.exit_code == 2, result.output
    assert "Remove the oidc links of provider auth0 from 1 identities" in result.output
    assert "nothing removed" in result.stderr
    assert links(server, 1) == ("auth0:auth0|000001", "google:g-1")


def test_undo_credential_lists_failures_and_exits_1(server: OryAdminServer, tmp_path: Path) -> None:
    """An identity whose only way to sign in is the link: listed with Ory's reason; exit 1."""
    state = _state(server, tmp_path, body(1, "auth0:auth0|000001"), dual_run(2))
    args = ("undo", "--ory-url", server.url, "--state-dir", str(state), "--yes")
    result = cli(*args, "--credential", "oidc:auth0")
    assert result.exit_code == 1, result.output
    assert "failed: auth0|000001 (" in result.output
    assert LAST in result.output
    assert links(server, 2) == ("google:g-2",)


@pytest.mark.parametrize(
    "extra",
    [
        ("--credential", "password"),
        ("--credential", "oidc:"),
        ("--credential", "oidc"),
        ("--credential", "totp:x"),
        ("--credential", "oidc:auth0", "--include-uncertain"),
    ],
)
def test_a_bad_credential_option_is_a_usage_error(
    server: OryAdminServer, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """One clear line, exit 2, nothing sent."""
    state = _state(server, tmp_path, dual_run(1))
    server.requests.clear()
    result = cli("undo", "--ory-url", server.url, "--state-dir", str(state), "--yes", *extra)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert server.requests == []
    assert links(server, 1) == ("auth0:auth0|000001", "google:g-1")


def test_pairs_and_outcomes_are_accepted_as_targets() -> None:
    """Bare (external_id, identity_id) pairs work as targets, as with undo_import."""
    ory = InMemoryOryAdmin()
    identity = ory.add_identity(dual_run(1))
    result = unlink_credential([("auth0|000001", identity.id)], ory, "oidc", "auth0")
    assert (result.removed, result.left_alone) == (1, ())


def test_the_api_key_never_shows_in_a_failure(server: OryAdminServer, tmp_path: Path) -> None:
    """Ory's error text quoting the request's Authorization header: the key is cut out."""
    state = _state(server, tmp_path, body(1, "auth0:auth0|000001"))
    server.faults.echo_request = True
    args = ("undo", "--ory-url", server.url, "--state-dir", str(state), "--yes")
    result = cli(*args, "--credential", "oidc:auth0")
    assert result.exit_code == 1, result.output
    assert LAST in result.output
    assert "Authorization" in result.output  # the echo is there ...
    assert KEY not in result.output  # ... without the key
