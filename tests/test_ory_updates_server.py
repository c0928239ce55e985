"""The Ory test servers' single-identity API (GET, PUT, PATCH by id), driven through ory-client.

Each rule follows Kratos's ``identity/handler.go`` (``get``, ``update``, ``patch``) and the
validation extensions that derive verifiable addresses from the traits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import bcrypt
import ory_client
import pytest
import requests
from ory_client import (
    IdentityWithCredentials,
    IdentityWithCredentialsOidc,
    IdentityWithCredentialsOidcConfig,
    IdentityWithCredentialsOidcConfigProvider,
    IdentityWithCredentialsPassword,
    IdentityWithCredentialsPasswordConfig,
    JsonPatch,
    UpdateIdentityBody,
)
from ory_client.exceptions import (
    ApiException,
    BadRequestException,
    ConflictException,
    NotFoundException,
)

from auth0_ory_migrate.exceptions import OryError
from auth0_ory_migrate.testing import InMemoryOryAdmin, OryAdminServer, StoredIdentity


API_KEY = "ory_pat_test_key"
AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
HASH = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=4)).decode()
NEW_HASH = bcrypt.hashpw(b"battery staple", bcrypt.gensalt(rounds=4)).decode()
NOT_FOUND = {"code": 404, "status": "Not Found", "message": "Unable to locate the resource"}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def server() -> Iterator[OryAdminServer]:
    with OryAdminServer(api_key=API_KEY) as s:
        yield s


@pytest.fixture
def api(server: OryAdminServer) -> Iterator[ory_client.IdentityApi]:
    configuration = ory_client.Configuration(host=server.url, access_token=API_KEY)
    identity_api = ory_client.IdentityApi(ory_client.ApiClient(configuration))
    yield identity_api
    identity_api.api_client.rest_client.pool_manager.clear()


def imported(
    server: OryAdminServer, email: str = "ada@example.com", **extra: Any
) -> StoredIdentity:
    """An identity as an import leaves it: verified email, hash, a social link, metadata."""
    body: dict[str, Any] = {
        "schema_id": "preset://email",
        "traits": {"email": email},
        "external_id": "auth0|1",
        "state": "active",
        "metadata_public": {"plan": "pro"},
        "metadata_admin": {"roles": ["admin"]},
        "verifiable_addresses": [
            {"value": email, "via": "email", "verified": True, "status": "completed"}
        ],
        "credentials": {
            "password": {"config": {"hashed_password": HASH}},
            "oidc": {"config": {"providers": [{"provider": "github", "subject": "42"}]}},
        },
    }
    body.update(extra)
    return server.add_identity(body)


def put_body(email: str = "ada@example.com", **extra: Any) -> UpdateIdentityBody:
    return UpdateIdentityBody(
        schema_id="preset://email", state="active", traits={"email": email}, **extra
    )


def raw(server: OryAdminServer, method: str, path: str, payload: Any) -> requests.Response:
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return requests.request(method, f"{server.url}{path}", data=data, headers=AUTH, timeout=10)


def error_of(e: ApiException) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(e.body or "{}")["error"]
    return error


# -- GET /admin/identities/{id} ---------------------------------------------------------------


def test_get_shows_config_only_for_the_asked_credential_types(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """include_credential=password shows the hash; oidc is listed without its config."""
    stored = imported(server)
    got = api.get_identity(stored.id, include_credential=["password"])
    assert got.credentials is not None
    assert got.credentials["password"].config == {"hashed_password": HASH}
    assert got.credentials["oidc"].config in (None, {})
    assert got.credentials["oidc"].identifiers == ["github:42"]
    plain = api.get_identity(stored.id)
    assert all(c.config in (None, {}) for c in (plain.credentials or {}).values())


def test_get_oidc_config_is_shown_as_kratos_declassifies_it(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """An OIDC config shows provider, subject and use_auto_link only when true, as Kratos does."""
    stored = imported(
        server,
        credentials={
            "oidc": {
                "config": {
                    "providers": [
                        {"provider": "github", "subject": "42", "use_auto_link": False},
                        {"provider": "google", "subject": "7", "use_auto_link": True},
                    ]
                }
            }
        },
    )
    got = api.get_identity(stored.id, include_credential=["oidc", "totp"])
    assert got.credentials is not None
    assert got.credentials["oidc"].config == {
        "providers": [
            {"subject": "42", "provider": "github"},
            {"subject": "7", "provider": "google", "use_auto_link": True},
        ]
    }


def test_get_refuses_an_unknown_credential_type_as_kratos_does(server: OryAdminServer) -> None:
    """An unknown include_credential is 400 (Kratos names the types parsed before it)."""
    stored = imported(server)
    answer = requests.get(
        f"{server.url}/admin/identities/{stored.id}?include_credential=password"
        "&include_credential=nope",
        headers=AUTH,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["reason"] == (
        "Invalid value `[password]` for parameter `include_credential`."
    )


def test_get_of_an_unknown_id_is_ory_s_404(api: ory_client.IdentityApi) -> None:
    """404 with Ory's body: the resource could not be located (also for a malformed id)."""
    for identity_id in (MISSING_ID, "not-a-uuid"):
        with pytest.raises(NotFoundException) as e:
            api.get_identity(identity_id)
        assert error_of(e.value) == NOT_FOUND


# -- PUT /admin/identities/{id} ---------------------------------------------------------------


def test_put_clears_what_it_is_not_sent(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """external_id, metadata_public and metadata_admin left out are wiped; credentials kept."""
    stored = imported(server)
    answer = api.update_identity(stored.id, put_body())
    assert str(answer.id) == stored.id
    after = server.identity(stored.id)
    assert after is not None
    assert (after.external_id, after.metadata_public, after.metadata_admin) == (None, None, None)
    assert after.hashed_password == HASH
    assert after.oidc_identifiers == ("github:42",)
    assert server.identity_by_external_id("auth0|1") is None


def test_put_keeps_everything_it_is_sent(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """A PUT of what is stored changes nothing but updated_at."""
    stored = imported(server)
    before = api.get_identity(stored.id)
    api.update_identity(
        stored.id,
        put_body(
            external_id="auth0|1",
            metadata_public={"plan": "pro"},
            metadata_admin={"roles": ["admin"]},
        ),
    )
    after = api.get_identity(stored.id)
    assert after.updated_at is not None
    assert before.updated_at is not None
    assert after.updated_at > before.updated_at
    assert after.created_at == before.created_at
    same = (
        "traits",
        "external_id",
        "metadata_public",
        "metadata_admin",
        "state",
        "state_changed_at",
    )
    for name in same:
        assert getattr(after, name) == getattr(before, name), name
    assert after.verifiable_addresses == before.verifiable_addresses


def test_put_a_new_email_starts_unverified_an_unchanged_one_keeps_its_state(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Addresses are derived again from the traits: a new one is pending, a kept one verified."""
    stored = imported(server)
    kept = api.update_identity(stored.id, put_body("ADA@example.com"))
    (address,) = kept.verifiable_addresses or []
    assert (address.value, address.verified, address.status) == (
        "ada@example.com",
        True,
        "completed",
    )
    assert str(address.id) == stored.verifiable_addresses[0]["id"]
    changed = api.update_identity(stored.id, put_body("ada@new.example"))
    (address,) = changed.verifiable_addresses or []
    assert (address.value, address.verified, address.status) == (
        "ada@new.example",
        False,
        "pending",
    )
    assert address.verified_at is None
    after = server.identity(stored.id)
    assert after is not None
    assert after.password_identifiers == ("ada@new.example",)
    assert server.identity_by_identifier("ada@example.com") is None


def test_put_password_replaces_oidc_adds(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Credentials sent: the password is replaced (hook: no hash), OIDC providers are added."""
    stored = imported(server)
    hook = IdentityWithCredentialsPassword(
        config=IdentityWithCredentialsPasswordConfig(use_password_migration_hook=True)
    )
    google = IdentityWithCredentialsOidc(
        config=IdentityWithCredentialsOidcConfig(
            providers=[IdentityWithCredentialsOidcConfigProvider(provider="google", subject="7")]
        )
    )
    api.update_identity(
        stored.id, put_body(credentials=IdentityWithCredentials(password=hook, oidc=google))
    )
    after = server.identity(stored.id)
    assert after is not None
    assert after.hashed_password is None
    assert after.uses_password_migration_hook
    assert after.oidc_identifiers == ("github:42", "google:7")
    new_hash = IdentityWithCredentialsPassword(
        config=IdentityWithCredentialsPasswordConfig(hashed_password=NEW_HASH)
    )
    api.update_identity(stored.id, put_body(credentials=IdentityWithCredentials(password=new_hash)))
    after = server.identity(stored.id)
    assert after is not None
    assert after.hashed_password == NEW_HASH
    assert not after.uses_password_migration_hook
    assert after.oidc_identifiers == ("github:42", "google:7")


def test_put_an_oidc_link_sent_twice_is_stored_twice(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Kratos appends what it is sent: an existing provider sent again becomes a duplicate."""
    stored = imported(server)
    github = IdentityWithCredentialsOidc(
        config=IdentityWithCredentialsOidcConfig(
            providers=[IdentityWithCredentialsOidcConfigProvider(provider="github", subject="42")]
        )
    )
    api.update_identity(stored.id, put_body(credentials=IdentityWithCredentials(oidc=github)))
    after = server.identity(stored.id)
    assert after is not None
    assert after.oidc_identifiers == ("github:42", "github:42")


def test_put_state_changes_state_changed_at(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """State inactive is stored and moves state_changed_at; an invalid state is 400."""
    stored = imported(server)
    before = api.get_identity(stored.id)
    answer = api.update_identity(
        stored.id,
        UpdateIdentityBody(
            schema_id="preset://email", state="inactive", traits={"email": "ada@example.com"}
        ),
    )
    assert answer.state == "inactive"
    assert answer.state_changed_at is not None
    assert before.state_changed_at is not None
    assert answer.state_changed_at > before.state_changed_at
    bad = raw(
        server,
        "PUT",
        f"/admin/identities/{stored.id}",
        {"schema_id": "preset://email", "state": "gone", "traits": {"email": "a@example.com"}},
    )
    assert bad.status_code == 400


def test_put_decodes_as_kratos_does(server: OryAdminServer) -> None:
    """Unknown keys are ignored (Kratos's PUT decoder is not strict); a wrong type is 400."""
    stored = imported(server)
    path = f"/admin/identities/{stored.id}"
    base = {
        "schema_id": "preset://email",
        "state": "active",
        "traits": {"email": "ada@example.com"},
    }
    assert raw(server, "PUT", path, {**base, "nickname": "ada"}).status_code == 200
    wrong = raw(server, "PUT", path, {**base, "external_id": 7})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["reason"].startswith("Unable to decode JSON payload: ")
    assert raw(server, "PUT", path, b"{").status_code == 400
    assert raw(server, "PUT", path, b"").status_code == 400


def test_put_validates_the_traits_and_the_hash(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Traits against the schema, a hash of no known format: 400, and nothing changes."""
    stored = imported(server)
    with pytest.raises(BadRequestException):
        api.update_identity(stored.id, put_body("not an email"))
    bad_hash = IdentityWithCredentialsPassword(
        config=IdentityWithCredentialsPasswordConfig(hashed_password="plain-text")
    )
    with pytest.raises(BadRequestException) as e:
        api.update_identity(
            stored.id, put_body(credentials=IdentityWithCredentials(password=bad_hash))
        )
    assert (
        error_of(e.value)["reason"] == "The imported password does not match any known hash format."
    )
    after = server.identity(stored.id)
    assert after is not None
    assert after.traits == {"email": "ada@example.com"}
    assert after.hashed_password == HASH
    assert after.external_id == "auth0|1"


def test_put_a_clashing_identifier_is_409(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """An email or external_id another identity owns: 409 with Ory's body, nothing changes."""
    stored = imported(server)
    server.add_identity(
        {
            "schema_id": "preset://email",
            "traits": {"email": "bob@example.com"},
            "external_id": "auth0|2",
        }
    )
    for body in (put_body("bob@example.com"), put_body(external_id="auth0|2")):
        with pytest.raises(ConflictException) as e:
            api.update_identity(stored.id, body)
        assert error_of(e.value)["message"] == (
            "Unable to insert or update resource because a resource with that value exists already"
        )
    after = server.identity(stored.id)
    assert after is not None
    assert after.traits == {"email": "ada@example.com"}
    assert server.identity_by_external_id("auth0|1") == after


def test_put_of_an_unknown_id_is_404(api: ory_client.IdentityApi) -> None:
    """PUT to an identity that does not exist: Ory's 404."""
    with pytest.raises(NotFoundException) as e:
        api.update_identity(MISSING_ID, put_body())
    assert error_of(e.value) == NOT_FOUND


# -- PATCH /admin/identities/{id} -------------------------------------------------------------


def test_patch_sets_verification_state(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """Replace /verifiable_addresses/0/verified (and status) marks the address verified."""
    stored = imported(server, verifiable_addresses=[])
    assert stored.verifiable_addresses[0]["verified"] is False
    answer = api.patch_identity(
        stored.id,
        json_patch=[
            JsonPatch(op="replace", path="/verifiable_addresses/0/verified", value=True),
            JsonPatch(op="replace", path="/verifiable_addresses/0/status", value="completed"),
        ],
    )
    (address,) = answer.verifiable_addresses or []
    assert (address.verified, address.status) == (True, "completed")
    after = server.identity(stored.id)
    assert after is not None
    assert after.external_id == "auth0|1"
    assert after.metadata_admin == {"roles": ["admin"]}
    assert after.hashed_password == HASH


def test_patch_changes_only_what_it_names(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """add/remove/replace on metadata and state; everything else stays."""
    stored = imported(server)
    api.patch_identity(
        stored.id,
        json_patch=[
            JsonPatch(op="add", path="/metadata_public/locale", value="de"),
            JsonPatch(op="remove", path="/metadata_admin/roles"),
            JsonPatch(op="replace", path="/state", value="inactive"),
        ],
    )
    after = server.identity(stored.id)
    assert after is not None
    assert after.metadata_public == {"plan": "pro", "locale": "de"}
    assert after.metadata_admin == {}
    assert after.state == "inactive"
    assert after.external_id == "auth0|1"
    assert after.oidc_identifiers == ("github:42",)
    assert after.verifiable_addresses == stored.verifiable_addresses


@pytest.mark.parametrize(
    "path",
    ["/id", "/stateChangedAt", "/credentials", "/credentials/oidc",
     "/credentials/oidc/config/providers/0", "/credentials/saml", "/credentials/saml/config",
     "/ID"],
)  # fmt: skip
def test_patch_refuses_kratos_s_denied_paths(
    server: OryAdminServer, api: ory_client.IdentityApi, path: str
) -> None:
    """The paths Kratos denies are 400 'failed to apply JSON patch', and nothing changes."""
    stored = imported(server)
    with pytest.raises(BadRequestException) as e:
        api.patch_identity(stored.id, json_patch=[JsonPatch(op="replace", path=path, value={})])
    error = error_of(e.value)
    assert error["reason"] == "failed to apply JSON patch"
    assert error["message"] == f"patch includes denied path: {path}"
    assert server.identity(stored.id) == stored


@pytest.mark.parametrize("op", ["test", "move", "copy"])
def test_patch_refuses_operations_kratos_does_not_support(
    server: OryAdminServer, api: ory_client.IdentityApi, op: str
) -> None:
    """Only add, remove and replace: test, move and copy are 400."""
    stored = imported(server)
    patch = JsonPatch.model_validate(
        {"op": op, "path": "/metadata_public/x", "from": "/traits/email", "value": 1}
    )
    with pytest.raises(BadRequestException) as e:
        api.patch_identity(stored.id, json_patch=[patch])
    assert error_of(e.value)["message"] == f"unsupported operation: {op}"


def test_patch_result_is_validated(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """A patched identity that breaks the schema, a bad state or a missing path is 400."""
    stored = imported(server)
    for ops in (
        [JsonPatch(op="replace", path="/traits/email", value="not an email")],
        [JsonPatch(op="replace", path="/state", value="gone")],
        [JsonPatch(op="remove", path="/metadata_public/nope")],
        [JsonPatch(op="replace", path="/verifiable_addresses/5/verified", value=True)],
        [JsonPatch(op="replace", path="/verifiable_addresses/0/verified", value="yes")],
    ):
        with pytest.raises(BadRequestException):
            api.patch_identity(stored.id, json_patch=ops)
    assert server.identity(stored.id) == stored


def test_patch_a_clashing_email_is_409_and_a_missing_identity_404(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Patching the email to another identity's is 409; an unknown id is Ory's 404."""
    stored = imported(server)
    server.add_identity({"schema_id": "preset://email", "traits": {"email": "bob@example.com"}})
    with pytest.raises(ConflictException):
        api.patch_identity(
            stored.id,
            json_patch=[JsonPatch(op="replace", path="/traits/email", value="bob@example.com")],
        )
    with pytest.raises(NotFoundException) as e:
        api.patch_identity(
            MISSING_ID, json_patch=[JsonPatch(op="add", path="/state", value="active")]
        )
    assert error_of(e.value) == NOT_FOUND


def test_patch_body_that_is_no_patch_is_400(server: OryAdminServer) -> None:
    """A body that is not a JSON array of operations is refused."""
    stored = imported(server)
    answer = raw(server, "PATCH", f"/admin/identities/{stored.id}", {"op": "add"})
    assert answer.status_code == 400
    assert answer.json()["error"]["reason"] == "failed to unmarshal JSON patch"


# -- rate limits ------------------------------------------------------------------------------


def test_single_identity_bucket_429s_while_the_others_answer(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """kratos-admin-low (PUT, PATCH, DELETE, imports) runs out; GET by id and lists still work."""
    stored = imported(server)
    server.faults.rate_limits = {"kratos-admin-low": 2}
    api.update_identity(stored.id, put_body(external_id="auth0|1"))
    with_info = api.patch_identity_with_http_info(
        stored.id, json_patch=[JsonPatch(op="add", path="/metadata_public", value={})]
    )
    assert with_info.headers is not None
    assert with_info.headers["x-ratelimit-limit"] == "2"
    assert with_info.headers["x-ratelimit-remaining"] == "0"
    with pytest.raises(ApiException) as e:
        api.update_identity(stored.id, put_body(external_id="auth0|1"))
    assert e.value.status == 429
    assert e.value.headers is not None
    assert e.value.headers["x-ratelimit-remaining"] == "0"
    assert int(e.value.headers["x-ratelimit-reset"]) > 0
    server.faults.retry_after = True  # (urllib3 would wait for it: ask without ory-client)
    again = raw(server, "DELETE", f"/admin/identities/{stored.id}", b"")
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) >= 1
    batch = raw(server, "PATCH", "/admin/identities", {"identities": []})
    assert batch.status_code == 429  # the batch import is in the same bucket on Ory
    assert str(api.get_identity(stored.id).id) == stored.id  # kratos-admin-high
    assert api.list_identities()  # kratos-admin-medium
    server.faults.retry_after = False
    server.faults.rate_limits = {"kratos-admin-low": 2, "kratos-admin-high": 1}
    api.get_identity(stored.id)
    with pytest.raises(ApiException) as e:
        api.get_identity(stored.id)
    assert e.value.status == 429


def test_a_bucket_starts_again_when_its_window_is_over(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """rate_limit_window 0: every request opens a new window, so nothing is refused."""
    stored = imported(server)
    server.faults.rate_limits = {"kratos-admin-low": 1}
    server.faults.rate_limit_window = 0.0
    for _ in range(3):
        api.update_identity(stored.id, put_body(external_id="auth0|1"))


# -- InMemoryOryAdmin -------------------------------------------------------------------------


def test_in_memory_get_update_patch_follow_the_same_rules() -> None:
    """InMemoryOryAdmin answers get/update/patch as the server does, and records the requests."""
    ory = InMemoryOryAdmin()
    stored = ory.add_identity(
        {
            "schema_id": "preset://email",
            "traits": {"email": "ada@example.com"},
            "external_id": "auth0|1",
            "credentials": {"password": {"config": {"hashed_password": HASH}}},
        }
    )
    got = ory.get_identity(stored.id)
    assert got is not None
    assert got["credentials"]["password"]["config"] == {"hashed_password": HASH}
    assert ory.get_identity(MISSING_ID) is None
    answer = ory.update_identity(
        stored.id,
        {"schema_id": "preset://email", "state": "active", "traits": {"email": "ada@new.example"}},
    )
    assert answer["verifiable_addresses"][0]["verified"] is False
    assert "external_id" not in answer
    assert "config" not in answer["credentials"]["password"]
    patched = ory.patch_identity(
        stored.id, [{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": True}]
    )
    assert patched["verifiable_addresses"][0]["verified"] is True
    with pytest.raises(OryError) as e:
        ory.patch_identity(stored.id, [{"op": "remove", "path": "/id"}])
    assert e.value.status == 400
    with pytest.raises(OryError) as e:
        ory.update_identity(
            MISSING_ID, {"schema_id": "preset://email", "state": "active", "traits": {}}
        )
    assert e.value.status == 404
    assert [(r.method, r.status) for r in ory.requests] == [
        ("GET", 200), ("GET", 404), ("PUT", 200), ("PATCH", 200), ("PATCH", 400), ("PUT", 404)
    ]  # fmt: skip
