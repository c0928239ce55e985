"""Contract tests for the Ory admin identity API test server, driven through the real ory-client."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import bcrypt
import ory_client
import pytest
import requests
import urllib3
from ory_client import (
    CreateIdentityBody,
    IdentityPatch,
    IdentityWithCredentials,
    IdentityWithCredentialsOidc,
    IdentityWithCredentialsOidcConfig,
    IdentityWithCredentialsOidcConfigProvider,
    IdentityWithCredentialsPassword,
    IdentityWithCredentialsPasswordConfig,
    IdentityWithCredentialsTotp,
    IdentityWithCredentialsTotpConfig,
    PatchIdentitiesBody,
    RecoveryIdentityAddress,
    VerifiableIdentityAddress,
)
from ory_client.exceptions import (
    ApiException,
    BadRequestException,
    ConflictException,
    NotFoundException,
    ServiceException,
    UnauthorizedException,
)

from auth0_ory_migrate.testing import (
    OryAdminError,
    OryAdminServer,
    OryFaults,
    is_supported_password_hash,
    normalize_identifier,
)


API_KEY = "ory_pat_test_key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
BCRYPT_HASH = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture
def server() -> Iterator[OryAdminServer]:
    with OryAdminServer(api_key=API_KEY) as s:
        yield s


def make_api(server: OryAdminServer, token: str | None = API_KEY) -> ory_client.IdentityApi:
    configuration = ory_client.Configuration(host=server.url, access_token=token)
    return ory_client.IdentityApi(ory_client.ApiClient(configuration))


@pytest.fixture
def api(server: OryAdminServer) -> Iterator[ory_client.IdentityApi]:
    identity_api = make_api(server)
    yield identity_api
    identity_api.api_client.rest_client.pool_manager.clear()


def body(
    email: str,
    external_id: str | None = None,
    *,
    hashed_password: str | None = None,
    password: str | None = None,
    oidc: list[tuple[str, str]] | None = None,
    totp_url: str | None = None,
    **extra: Any,
) -> CreateIdentityBody:
    credentials: dict[str, Any] = {}
    if hashed_password is not None or password is not None:
        config = IdentityWithCredentialsPasswordConfig(
            hashed_password=hashed_password, password=password
        )
        credentials["password"] = IdentityWithCredentialsPassword(config=config)
    if oidc:
        providers = [
            IdentityWithCredentialsOidcConfigProvider(provider=p, subject=s) for p, s in oidc
        ]
        credentials["oidc"] = IdentityWithCredentialsOidc(
            config=IdentityWithCredentialsOidcConfig(providers=providers)
        )
    if totp_url is not None:
        credentials["totp"] = IdentityWithCredentialsTotp(
            config=IdentityWithCredentialsTotpConfig(totp_url=totp_url)
        )
    extra.setdefault("credentials", IdentityWithCredentials(**credentials) if credentials else None)
    return CreateIdentityBody(
        schema_id="preset://email",
        traits={"email": email},
        external_id=external_id,
        **extra,
    )


def batch(*bodies: CreateIdentityBody) -> PatchIdentitiesBody:
    return PatchIdentitiesBody(
        identities=[IdentityPatch(create=b, patch_id=uuid.uuid4()) for b in bodies]
    )


def raw_create(email: str, external_id: Any = None, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"schema_id": "preset://email", "traits": {"email": email}}
    if external_id is not None:
        payload["external_id"] = external_id
    payload.update(extra)
    return payload


def post_raw(server: OryAdminServer, payload: Any, method: str = "POST") -> requests.Response:
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return requests.request(
        method,
        f"{server.url}/admin/identities",
        data=data,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )


def patch_raw(server: OryAdminServer, items: list[dict[str, Any]]) -> requests.Response:
    return post_raw(
        server,
        {"identities": [{"create": c, "patch_id": str(uuid.uuid4())} for c in items]},
        method="PATCH",
    )


def error_of(exc: ApiException) -> dict[str, Any]:
    assert exc.body is not None
    payload = json.loads(exc.body)
    assert set(payload) == {"error"}
    error: dict[str, Any] = payload["error"]
    assert {"code", "status", "message"} <= set(error)
    return error


def item_error(item: Any) -> dict[str, Any]:
    assert item.action == "error"
    assert isinstance(item.error, dict)
    return item.error


def b64(data: bytes, *, pad: bool = True) -> str:
    text = base64.b64encode(data).decode()
    return text if pad else text.rstrip("=")


# --- authentication and error bodies -------------------------------------------------------


def test_create_returns_an_identity_the_sdk_reads(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """POST answers 201 with an Identity that ory-client deserialises, and stores it."""
    created = api.create_identity(
        create_identity_body=body(
            "Ada@Example.com",
            "auth0|1",
            hashed_password=BCRYPT_HASH,
            metadata_public={"plan": "pro"},
            metadata_admin={"auth0": {"logins": 3}},
        )
    )
    assert created.schema_id == "preset://email"
    assert created.schema_url.startswith(server.url + "/schemas/")
    assert created.traits == {"email": "Ada@Example.com"}
    assert created.external_id == "auth0|1"
    assert created.state == "active"
    assert created.metadata_public == {"plan": "pro"}
    assert created.organization_id is None
    assert created.created_at is not None
    assert [a.value for a in created.verifiable_addresses or []] == ["ada@example.com"]
    assert [a.value for a in created.recovery_addresses or []] == ["ada@example.com"]
    stored = server.identity_by_external_id("auth0|1")
    assert stored is not None
    assert stored.id == str(created.id)
    assert stored.hashed_password == BCRYPT_HASH
    assert stored.password_identifiers == ("ada@example.com",)
    assert stored.metadata_admin == {"auth0": {"logins": 3}}
    assert server.requests[-1].status == 201
    assert server.requests[-1].items == 1


def test_wrong_api_key_is_401_with_ory_error_body(server: OryAdminServer) -> None:
    """A wrong or missing bearer token is answered 401 with Ory's error body."""
    for token in ("wrong", None):
        api = make_api(server, token)
        with pytest.raises(UnauthorizedException) as info:
            api.create_identity(create_identity_body=body("a@x.com"))
        error = error_of(info.value)
        assert error["code"] == 401
        assert error["status"] == "Unauthorized"
    assert server.identities() == []


def test_server_without_api_key_accepts_any_request() -> None:
    """With api_key=None (a self-hosted Kratos admin port) no token is needed."""
    with OryAdminServer() as server:
        api = make_api(server, None)
        created = api.create_identity(create_identity_body=body("a@x.com"))
        assert server.identity(str(created.id)) is not None


def test_unknown_route_is_404_with_ory_error_body(server: OryAdminServer) -> None:
    """Unknown paths answer 404 with Ory's error body."""
    response = requests.get(f"{server.url}/admin/nothing", headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


# --- strict decoding -----------------------------------------------------------------------

UNKNOWN_KEY_BODIES = {
    "top level": raw_create("a@x.com", name="Ada"),
    "credentials": raw_create("a@x.com", credentials={"magic": {}}),
    "password credential": raw_create(
        "a@x.com", credentials={"password": {"config": {"hashed_password": BCRYPT_HASH}, "x": 1}}
    ),
    "password config": raw_create(
        "a@x.com",
        credentials={"password": {"config": {"hashed_password": BCRYPT_HASH, "algo": "bcrypt"}}},
    ),
    "oidc provider": raw_create(
        "a@x.com",
        credentials={
            "oidc": {"config": {"providers": [{"provider": "g", "subject": "1", "email": "x"}]}}
        },
    ),
    "totp config": raw_create(
        "a@x.com", credentials={"totp": {"config": {"totp_url": "otpauth://totp/x", "k": 1}}}
    ),
    "verifiable address": raw_create(
        "a@x.com",
        verifiable_addresses=[
            {"value": "a@x.com", "via": "email", "verified": True, "status": "completed", "y": 1}
        ],
    ),
    "recovery address": raw_create(
        "a@x.com", recovery_addresses=[{"value": "a@x.com", "via": "email", "primary": True}]
    ),
}


@pytest.mark.parametrize("payload", UNKNOWN_KEY_BODIES.values(), ids=UNKNOWN_KEY_BODIES.keys())
def test_unknown_key_anywhere_rejects_the_post(
    server: OryAdminServer, payload: dict[str, Any]
) -> None:
    """An unknown key at any depth of CreateIdentityBody answers 400 and stores nothing."""
    response = post_raw(server, payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400
    assert "unknown field" in response.json()["error"]["reason"]
    assert server.identities() == []


@pytest.mark.parametrize("payload", UNKNOWN_KEY_BODIES.values(), ids=UNKNOWN_KEY_BODIES.keys())
def test_unknown_key_in_one_item_rejects_the_whole_batch(
    server: OryAdminServer, payload: dict[str, Any]
) -> None:
    """An unknown key in one batch item answers 400 for the request; nothing is imported."""
    response = patch_raw(server, [raw_create("ok@x.com", "auth0|ok"), payload])
    assert response.status_code == 400
    assert server.identities() == []


def test_unknown_keys_of_the_batch_envelope_are_rejected(server: OryAdminServer) -> None:
    """Unknown keys in PatchIdentitiesBody or IdentityPatch (incl. with_partial_inserts) are 400."""
    create = raw_create("a@x.com")
    for payload in (
        {"identities": [{"create": create}], "with_partial_inserts": True},
        {"identities": [{"create": create, "delete": True}]},
        {"identities": [{"create": create}], "mode": "fast"},
    ):
        assert post_raw(server, payload, method="PATCH").status_code == 400
    assert server.identities() == []


def test_sdk_resends_unknown_keys_and_the_server_rejects_them(
    api: ory_client.IdentityApi,
) -> None:
    """A body built with from_dict keeps unknown keys; the server answers 400."""
    sdk_body = CreateIdentityBody.from_dict(
        {"schema_id": "preset://email", "traits": {"email": "a@x.com"}, "name": "Ada"}
    )
    assert sdk_body is not None
    with pytest.raises(BadRequestException) as info:
        api.create_identity(create_identity_body=sdk_body)
    assert error_of(info.value)["code"] == 400


@pytest.mark.parametrize(
    "data", [b"{", b"not json", b"[1, 2]", b'{"schema_id": NaN}', b"\xff\xfe"], ids=repr
)
def test_malformed_json_is_400(server: OryAdminServer, data: bytes) -> None:
    """Malformed JSON (or JSON that is not an object) answers 400 for POST and PATCH."""
    for method in ("POST", "PATCH"):
        response = post_raw(server, data, method=method)
        assert response.status_code == 400
        assert response.json()["error"]["status"] == "Bad Request"


@pytest.mark.parametrize(
    "payload",
    [
        {"schema_id": 5, "traits": {"email": "a@x.com"}},
        raw_create("a@x.com", external_id=12),
        raw_create("a@x.com", credentials={"password": {"config": {"hashed_password": 1}}}),
        raw_create("a@x.com", verifiable_addresses={"value": "a@x.com"}),
        raw_create("a@x.com", verifiable_addresses=[{"value": "a@x.com", "verified": "yes"}]),
        raw_create("a@x.com", organization_id="not-a-uuid"),
    ],
)
def test_values_of_the_wrong_json_type_are_400(
    server: OryAdminServer, payload: dict[str, Any]
) -> None:
    """A value of the wrong JSON type (Go's decoder would fail) answers 400."""
    assert post_raw(server, payload).status_code == 400
    assert server.identities() == []


def test_explicit_nulls_are_accepted(server: OryAdminServer) -> None:
    """Explicit nulls for known keys (as ory-client writes for nullable fields) are fine."""
    payload = raw_create(
        "a@x.com", metadata_public=None, metadata_admin=None, organization_id=None, state=None
    )
    response = post_raw(server, payload)
    assert response.status_code == 201
    assert response.json()["state"] == "active"


def test_invalid_state_is_400_for_post_and_whole_batch(server: OryAdminServer) -> None:
    """A state other than active|inactive rejects the POST, and the whole batch."""
    assert post_raw(server, raw_create("a@x.com", state="blocked")).status_code == 400
    response = patch_raw(server, [raw_create("b@x.com"), raw_create("c@x.com", state="gone")])
    assert response.status_code == 400
    assert server.identities() == []
    assert post_raw(server, raw_create("d@x.com", state="inactive")).json()["state"] == "inactive"


# --- password hashes -----------------------------------------------------------------------

SALT = b"0123456789abcdef"
ACCEPTED_HASHES = {
    "bcrypt 2b": BCRYPT_HASH,
    "bcrypt 2a": "$2a$" + BCRYPT_HASH[4:],
    "bcrypt 2y cost 15": "$2y$15$" + BCRYPT_HASH[7:],
    "argon2id": "$argon2id$v=19$m=65536,t=3,p=4$"
    + f"{b64(SALT, pad=False)}${b64(b'h' * 32, pad=False)}",
    "argon2i": f"$argon2i$v=19$m=32,t=2,p=1${b64(SALT, pad=False)}${b64(b'h' * 16, pad=False)}",
    "pbkdf2-sha256": "$pbkdf2-sha256$i=1000,l=32$"
    + b64(SALT, pad=False)
    + "$"
    + b64(hashlib.pbkdf2_hmac("sha256", b"pw", SALT, 1000, 32), pad=False),
    "pbkdf2-sha512": f"$pbkdf2-sha512$i=1,l=64${b64(SALT, pad=False)}${b64(b'x' * 64, pad=False)}",
    "scrypt": "$scrypt$ln=16384,r=8,p=1$"
    + b64(SALT)
    + "$"
    + b64(hashlib.scrypt(b"pw", salt=SALT, n=16384, r=8, p=1, dklen=32)),
    "firescrypt": "$firescrypt$ln=14,r=8,p=1$c2FsdHNhbHQ=$aGFzaA==$Bw==$a2V5a2V5",
    "md5 plain": "$md5$" + b64(hashlib.md5(b"pw").digest()),  # noqa: S324
    "md5 pf": "$md5$pf=e1NBTFR9e1BBU1NXT1JEfQ==$c2FsdA==$" + b64(b"d" * 16),
    "sha256 pf": "$sha256$pf=e1BBU1NXT1JEfQ==$$" + b64(hashlib.sha256(b"pw").digest()),
    "sha1 pf": "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$c2FsdA==$" + b64(b"d" * 20),
    "ssha": "{SSHA}" + b64(b"d" * 20 + b"salt"),
    "ssha512": "{SSHA512}" + b64(b"d" * 64 + b"salt"),
    "hmac-sha256": "$hmac-sha256$" + b64(b"ab" * 32) + "$" + b64(b"key"),
    "md5-crypt": "$md5-crypt$salt$hash0123456789abcdef",
    "sha512-crypt": "$sha512-crypt$rounds=5000$salt$hash",
}
REJECTED_HASHES = {
    "plain text": "correct horse",
    "ldap sha": "{SHA}" + b64(b"d" * 20),
    "ldap md5": "{MD5}" + b64(b"d" * 16),
    "ldap crypt": "{CRYPT}$1$abc$def",
    "unix md5 crypt": "$1$salt$hash",
    "bcrypt cost 16": "$2b$16$" + BCRYPT_HASH[7:],
    "bcrypt cost 3": "$2b$03$" + BCRYPT_HASH[7:],
    "bcrypt truncated": BCRYPT_HASH[:40],
    "argon2 url-safe base64": "$argon2id$v=19$m=32,t=2,p=1$ab-_ab$cd-_cd",
    "argon2 padded base64": f"$argon2id$v=19$m=32,t=2,p=1${b64(b'salt1')}${b64(b'hash1')}",
    "argon2 version 16": f"$argon2id$v=16$m=32,t=2,p=1${b64(SALT, pad=False)}$aGFzaA",
    "argon2 memory 8GiB": f"$argon2id$v=19$m=8388608,t=2,p=4${b64(SALT, pad=False)}$aGFzaA",
    "pbkdf2 1e9 iterations": f"$pbkdf2-sha256$i=1000000000,l=32${b64(SALT, pad=False)}$aGFzaA",
    "scrypt N too large": "$scrypt$ln=2097153,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaA==",
    "firescrypt ln 31": "$firescrypt$ln=31,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaA==$Bw==$a2V5a2V5",
    "unknown scheme": "$sha3$pf=e1BBU1NXT1JEfQ==$$aGFzaA==",
}


@pytest.mark.parametrize("hashed", ACCEPTED_HASHES.values(), ids=ACCEPTED_HASHES.keys())
def test_recognised_hash_formats_are_imported(
    server: OryAdminServer, api: ory_client.IdentityApi, hashed: str
) -> None:
    """Every hash format Kratos recognises is imported and readable with include_credential."""
    assert is_supported_password_hash(hashed)
    created = api.create_identity(create_identity_body=body("a@x.com", hashed_password=hashed))
    read = api.get_identity(str(created.id), include_credential=["password"])
    assert read.credentials is not None
    password = read.credentials["password"]
    assert password.config == {"hashed_password": hashed}
    assert password.identifiers == ["a@x.com"]


@pytest.mark.parametrize("hashed", REJECTED_HASHES.values(), ids=REJECTED_HASHES.keys())
def test_unrecognised_hash_format_rejects_post_and_whole_batch(
    server: OryAdminServer, api: ory_client.IdentityApi, hashed: str
) -> None:
    """An unrecognised hashed_password answers 400: for a POST, and for a whole batch."""
    assert not is_supported_password_hash(hashed)
    with pytest.raises(BadRequestException):
        api.create_identity(create_identity_body=body("a@x.com", hashed_password=hashed))
    good = body("good@x.com", "auth0|good", hashed_password=BCRYPT_HASH)
    bad = body("bad@x.com", "auth0|bad", hashed_password=hashed)
    with pytest.raises(BadRequestException) as info:
        api.batch_patch_identities(patch_identities_body=batch(good, bad))
    assert "hash" in error_of(info.value)["reason"]
    assert server.identities() == []


def test_plaintext_password_is_stored_hashed_for_reading_back(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """A plaintext password is kept as imported, and read back as a recognised hash."""
    created = api.create_identity(create_identity_body=body("a@x.com", password="s3cret!"))
    read = api.get_identity(str(created.id), include_credential=["password"])
    assert read.credentials is not None
    config = read.credentials["password"].config or {}
    assert config["hashed_password"].startswith("$pbkdf2-sha256$")
    assert is_supported_password_hash(config["hashed_password"])
    stored = server.identity(str(created.id))
    assert stored is not None
    assert stored.credentials["password"]["config"]["password"] == "s3cret!"
    assert stored.hashed_password == config["hashed_password"]
    _, _, params, salt, digest = config["hashed_password"].split("$")
    rounds = int(params.split(",")[0].removeprefix("i="))
    pad = "=" * (-len(salt) % 4)
    expected = hashlib.pbkdf2_hmac("sha256", b"s3cret!", base64.b64decode(salt + pad), rounds, 32)
    assert b64(expected, pad=False) == digest
    again = api.get_identity(str(created.id), include_credential=["password"])
    assert again.credentials is not None
    assert (again.credentials["password"].config or {})["hashed_password"] == stored.hashed_password
    assert "s3cret" not in repr(stored)


def test_password_migration_hook_flag_is_stored(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """use_password_migration_hook is stored and read back in the password config."""
    config = IdentityWithCredentialsPasswordConfig(use_password_migration_hook=True)
    credentials = IdentityWithCredentials(password=IdentityWithCredentialsPassword(config=config))
    created = api.create_identity(
        create_identity_body=body("a@x.com", "auth0|1", credentials=credentials)
    )
    stored = server.identity(str(created.id))
    assert stored is not None
    assert stored.uses_password_migration_hook
    assert stored.hashed_password is None
    read = api.get_identity(str(created.id), include_credential=["password"])
    assert read.credentials is not None
    assert read.credentials["password"].config == {"use_password_migration_hook": True}


# --- traits and schemas --------------------------------------------------------------------

BAD_TRAITS = {
    "missing email": {},
    "extra trait": {"email": "a@x.com", "name": "Ada"},
    "not an email": {"email": "not-an-email"},
    "too long": {"email": "a" * 310 + "@example.com"},
    "not a string": {"email": 42},
}


@pytest.mark.parametrize("traits", BAD_TRAITS.values(), ids=BAD_TRAITS.keys())
def test_traits_violating_preset_email_are_400(
    server: OryAdminServer, api: ory_client.IdentityApi, traits: dict[str, Any]
) -> None:
    """preset://email allows exactly one trait, a required email of at most 320 characters."""
    bad = CreateIdentityBody(schema_id="preset://email", traits=traits)
    with pytest.raises(BadRequestException) as info:
        api.create_identity(create_identity_body=bad)
    assert "traits" in error_of(info.value)["reason"]
    assert server.identities() == []


def test_trait_failure_in_a_batch_is_a_per_item_error(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """A trait failure in a batch fails only that item (code 400); the rest are imported."""
    bad = CreateIdentityBody(schema_id="preset://email", traits={"email": "a@x.com", "n": 1})
    result = api.batch_patch_identities(
        patch_identities_body=batch(body("ok@x.com", "auth0|1"), bad, body("ok2@x.com"))
    )
    items = result.identities or []
    assert [i.action for i in items] == ["create", "error", "create"]
    assert item_error(items[1])["code"] == 400
    assert items[1].identity is None
    assert len(server.identities()) == 2


def test_unknown_schema_id_is_400(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """A schema_id the project does not know answers 400."""
    unknown = CreateIdentityBody(schema_id="preset://username", traits={"email": "a@x.com"})
    with pytest.raises(BadRequestException):
        api.create_identity(create_identity_body=unknown)
    result = api.batch_patch_identities(patch_identities_body=batch(unknown))
    assert item_error((result.identities or [])[0])["code"] == 400


CUSTOM_SCHEMA: dict[str, Any] = {
    "$id": "https://example.com/customer.schema.json",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "username": {
                    "type": "string",
                    "minLength": 3,
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}},
                },
                "email": {
                    "type": "string",
                    "format": "email",
                    "ory.sh/kratos": {"verification": {"via": "email"}},
                },
                "backup_email": {
                    "type": "string",
                    "format": "email",
                    "ory.sh/kratos": {"recovery": {"via": "email"}},
                },
                "name": {
                    "type": "object",
                    "properties": {"first": {"type": "string"}, "last": {"type": "string"}},
                    "additionalProperties": False,
                },
                "roles": {"type": "array", "items": {"type": "string", "enum": ["admin", "user"]}},
            },
            "required": ["username"],
            "additionalProperties": False,
        }
    },
}


def test_custom_schema_is_validated_and_its_extensions_decide_identifiers() -> None:
    """A registered schema validates traits; its ory.sh/kratos extension picks the identifiers."""
    with OryAdminServer(schemas={"customer": CUSTOM_SCHEMA}) as server:
        api = make_api(server, None)
        traits = {
            "username": "Ada",
            "email": "ADA@x.com",
            "backup_email": "Backup@x.com",
            "name": {"first": "Ada", "last": "Lovelace"},
            "roles": ["admin"],
        }
        created = api.create_identity(
            create_identity_body=CreateIdentityBody(schema_id="customer", traits=traits)
        )
        stored = server.identity(str(created.id))
        assert stored is not None
        assert stored.password_identifiers == ("ada",)
        assert [a["value"] for a in stored.verifiable_addresses] == ["ada@x.com"]
        assert [a["value"] for a in stored.recovery_addresses] == ["backup@x.com"]
        assert server.identity_by_identifier("ADA") == stored
        for bad in (
            {"username": "Al"},
            {"username": "Bob", "roles": ["root"]},
            {"username": "Bob", "name": {"middle": "X"}},
            {"username": "Bob", "email": "nope"},
        ):
            with pytest.raises(BadRequestException):
                api.create_identity(
                    create_identity_body=CreateIdentityBody(schema_id="customer", traits=bad)
                )
        with pytest.raises(ConflictException) as info:
            api.create_identity(
                create_identity_body=CreateIdentityBody(
                    schema_id="customer", traits={"username": " \uff21DA "}
                )
            )
        assert "password identifier" in error_of(info.value)["reason"]
        clash = {"username": "other", "email": "ada@X.com"}
        with pytest.raises(ConflictException) as info:
            api.create_identity(
                create_identity_body=CreateIdentityBody(schema_id="customer", traits=clash)
            )
        assert "verifiable address" in error_of(info.value)["reason"]
        clash = {"username": "other2", "backup_email": "BACKUP@x.com"}
        with pytest.raises(ConflictException) as info:
            api.create_identity(
                create_identity_body=CreateIdentityBody(schema_id="customer", traits=clash)
            )
        assert "recovery address" in error_of(info.value)["reason"]


def test_schema_without_password_extension_falls_back_to_the_email_trait() -> None:
    """Without a password identifier extension, the email trait is the password identifier."""
    schema = {"type": "object", "properties": {"email": {"type": "string"}}}
    with OryAdminServer(schemas={"bare": schema}) as server:
        stored = server.add_identity({"schema_id": "bare", "traits": {"email": "X@Y.com"}})
        assert stored.password_identifiers == ("x@y.com",)
        with pytest.raises(OryAdminError) as info:
            server.add_identity({"schema_id": "bare", "traits": {"email": "x@y.COM"}})
        assert info.value.code == 409


def test_schema_url_serves_the_schema(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """The identity's schema_url answers the identity schema."""
    created = api.create_identity(create_identity_body=body("a@x.com"))
    schema = requests.get(created.schema_url, timeout=10).json()
    assert schema["properties"]["traits"]["required"] == ["email"]


@pytest.mark.parametrize("value", [[1, 2], "text", 3])
def test_metadata_must_be_an_object(
    server: OryAdminServer, api: ory_client.IdentityApi, value: Any
) -> None:
    """Non-object metadata answers 400 for a POST and a per-item 400 in a batch."""
    with pytest.raises(BadRequestException):
        api.create_identity(create_identity_body=body("a@x.com", metadata_public=value))
    with pytest.raises(BadRequestException):
        api.create_identity(create_identity_body=body("a@x.com", metadata_admin=value))
    result = api.batch_patch_identities(
        patch_identities_body=batch(body("a@x.com", metadata_admin=value), body("b@x.com"))
    )
    assert [i.action for i in result.identities or []] == ["error", "create"]


# --- identifiers and uniqueness ------------------------------------------------------------


def test_normalize_identifier_trims_nfkc_and_lowercases() -> None:
    """Identifiers are trimmed, NFKC-normalised and lower-cased."""
    assert normalize_identifier("  Ada@Example.COM \n") == "ada@example.com"
    assert normalize_identifier("\uff55\uff53\uff45\uff52@x.com") == "user@x.com"


def test_email_clash_after_normalisation_is_409(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Emails equal after trim/NFKC/lower-case clash: 409 with Ory's error body."""
    api.create_identity(create_identity_body=body("ada@example.com", "auth0|1"))
    for email in ("ADA@example.com", "Ada@Example.COM", "\uff41\uff44\uff41@example.com"):
        with pytest.raises(ConflictException) as info:
            api.create_identity(create_identity_body=body(email, f"auth0|{email}"))
        error = error_of(info.value)
        assert error["code"] == 409
        assert error["status"] == "Conflict"
    assert len(server.identities()) == 1


def test_external_id_clash_is_409(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """Two identities cannot share an external_id."""
    api.create_identity(create_identity_body=body("a@x.com", "auth0|1"))
    with pytest.raises(ConflictException) as info:
        api.create_identity(create_identity_body=body("b@x.com", "auth0|1"))
    assert "external_id" in error_of(info.value)["reason"]


def test_oidc_subject_clash_is_409(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """Two identities cannot share an OIDC provider:subject."""
    api.create_identity(create_identity_body=body("a@x.com", oidc=[("google", "123")]))
    with pytest.raises(ConflictException) as info:
        api.create_identity(create_identity_body=body("b@x.com", oidc=[("google", "123")]))
    assert "google:123" in error_of(info.value)["reason"]
    api.create_identity(create_identity_body=body("c@x.com", oidc=[("github", "123")]))
    assert server.identity_by_identifier("github:123") is not None


def test_social_only_identity_still_owns_its_email(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """An identity with only a social login still owns its email address."""
    api.create_identity(create_identity_body=body("a@x.com", "google|1", oidc=[("google", "1")]))
    with pytest.raises(ConflictException):
        api.create_identity(create_identity_body=body("A@x.com", "auth0|2"))


def test_batch_clashes_are_per_item_409_also_within_the_batch(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Clashes with stored identities and between items of one batch are per-item 409s."""
    api.create_identity(create_identity_body=body("taken@x.com", "auth0|0"))
    request = batch(
        body("new@x.com", "auth0|1"),
        body("TAKEN@x.com", "auth0|2"),
        body("New@X.com", "auth0|3"),
        body("other@x.com", "auth0|1"),
        body("g@x.com", "auth0|4", oidc=[("google", "9")]),
        body("h@x.com", "auth0|5", oidc=[("google", "9")]),
        body("last@x.com", "auth0|6"),
    )
    result = api.batch_patch_identities(patch_identities_body=request)
    items = result.identities or []
    assert [i.action for i in items] == [
        "create",
        "error",
        "error",
        "error",
        "create",
        "error",
        "create",
    ]
    sent = [str(p.patch_id) for p in request.identities or []]
    assert [str(i.patch_id) for i in items] == sent
    assert all(item_error(i)["code"] == 409 for i in items if i.action == "error")
    created = {str(i.identity) for i in items if i.action == "create"}
    assert created == {s.id for s in server.identities()} - {
        s.id for s in server.identities() if s.external_id == "auth0|0"
    }
    assert server.requests[-1].items == 7


def test_a_batch_where_every_item_fails_is_still_200(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """A batch whose items all fail answers 200 with only error items."""
    api.create_identity(create_identity_body=body("a@x.com", "auth0|1"))
    result = api.batch_patch_identities(patch_identities_body=batch(body("a@x.com", "auth0|1")))
    assert [i.action for i in result.identities or []] == ["error"]
    assert server.requests[-1].status == 200


# --- addresses -----------------------------------------------------------------------------


def test_verified_address_is_kept_and_gets_verified_at(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """An imported address matching the email trait keeps its verification; verified_at is set."""
    address = VerifiableIdentityAddress(
        value="ADA@x.com", verified=True, via="email", status="completed"
    )
    created = api.create_identity(
        create_identity_body=body("Ada@x.com", verifiable_addresses=[address])
    )
    (kept,) = created.verifiable_addresses or []
    assert kept.value == "ada@x.com"
    assert kept.verified is True
    assert kept.status == "completed"
    assert kept.verified_at is not None


def test_given_verified_at_is_kept(api: ory_client.IdentityApi) -> None:
    """An imported verified_at is kept as given."""
    address = VerifiableIdentityAddress.from_dict(
        {
            "value": "a@x.com",
            "verified": True,
            "via": "email",
            "status": "completed",
            "verified_at": "2021-03-05T16:35:16.775Z",
        }
    )
    assert address is not None
    created = api.create_identity(
        create_identity_body=body("a@x.com", verifiable_addresses=[address])
    )
    (kept,) = created.verifiable_addresses or []
    assert kept.verified_at is not None
    assert kept.verified_at.isoformat().startswith("2021-03-05T16:35:16.775")


def test_addresses_not_derived_from_traits_are_dropped(api: ory_client.IdentityApi) -> None:
    """Imported addresses the schema does not derive from the traits are dropped."""
    created = api.create_identity(
        create_identity_body=body(
            "a@x.com",
            verifiable_addresses=[
                VerifiableIdentityAddress(
                    value="other@x.com", verified=True, via="email", status="completed"
                ),
                VerifiableIdentityAddress(
                    value="a@x.com", verified=True, via="sms", status="completed"
                ),
            ],
            recovery_addresses=[RecoveryIdentityAddress(value="other@x.com", via="email")],
        )
    )
    (address,) = created.verifiable_addresses or []
    assert (address.value, address.via, address.verified, address.status) == (
        "a@x.com",
        "email",
        False,
        "pending",
    )
    assert address.verified_at is None
    assert [a.value for a in created.recovery_addresses or []] == ["a@x.com"]


def test_invalid_address_via_or_status_is_400(server: OryAdminServer) -> None:
    """A verifiable address with an unknown via or status is rejected."""
    for address in (
        {"value": "a@x.com", "verified": True, "via": "pigeon", "status": "completed"},
        {"value": "a@x.com", "verified": True, "via": "email", "status": "done"},
    ):
        response = post_raw(server, raw_create("a@x.com", verifiable_addresses=[address]))
        assert response.status_code == 400


# --- batch limits --------------------------------------------------------------------------


def test_batch_of_1000_is_accepted_and_1001_rejected(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """At most 1,000 identities per batch; one more rejects the request."""
    too_many = batch(*(body(f"u{i}@x.com") for i in range(1001)))
    with pytest.raises(BadRequestException):
        api.batch_patch_identities(patch_identities_body=too_many)
    assert server.identities() == []
    result = api.batch_patch_identities(
        patch_identities_body=batch(*(body(f"u{i}@x.com") for i in range(1000)))
    )
    assert {i.action for i in result.identities or []} == {"create"}
    assert len(server.identities()) == 1000


def test_plaintext_passwords_limit_batches_to_200(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """A batch carrying any plaintext password may hold at most 200 identities."""
    bodies = [body(f"u{i}@x.com") for i in range(201)]
    bodies[-1] = body("u200@x.com", password="pw")
    with pytest.raises(BadRequestException):
        api.batch_patch_identities(patch_identities_body=batch(*bodies))
    assert server.identities() == []
    api.batch_patch_identities(patch_identities_body=batch(*bodies[1:]))
    assert len(server.identities()) == 200
    hashed = [body(f"h{i}@x.com", hashed_password=BCRYPT_HASH) for i in range(201)]
    api.batch_patch_identities(patch_identities_body=batch(*hashed))
    assert len(server.identities()) == 401


def test_batch_item_without_create_is_rejected(api: ory_client.IdentityApi) -> None:
    """Only the create action is supported: a patch without create rejects the batch."""
    request = PatchIdentitiesBody(
        identities=[IdentityPatch(patch_id=uuid.uuid4()), IdentityPatch(create=body("a@x"))]
    )
    with pytest.raises(BadRequestException):
        api.batch_patch_identities(patch_identities_body=request)


def test_empty_batch_answers_an_empty_list(api: ory_client.IdentityApi) -> None:
    """An empty batch is fine and answers no items."""
    result = api.batch_patch_identities(patch_identities_body=PatchIdentitiesBody(identities=[]))
    assert result.identities == []


# --- reading back --------------------------------------------------------------------------


def test_list_paginates_with_link_header(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """GET /admin/identities pages with page_size and the Link header's rel=next token."""
    for i in range(7):
        server.add_identity(raw_create(f"u{i}@x.com", f"auth0|{i}"))
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        response = api.list_identities_with_http_info(page_size=3, page_token=token)
        pages += 1
        seen.extend(str(i.id) for i in response.data)
        link = (response.headers or {}).get("Link", "")
        assert 'rel="first"' in link
        next_links = [part for part in link.split(",") if 'rel="next"' in part]
        if not next_links:
            break
        target = next_links[0].split(";")[0].strip().strip("<>")
        assert target.startswith("/admin/identities?")
        token = target.split("page_token=")[1].split("&")[0]
    assert pages == 3
    assert seen == [s.id for s in server.identities()]


def test_list_defaults_to_250_and_caps_page_size_at_500(server: OryAdminServer) -> None:
    """Without page_size a page holds 250 identities; a larger page_size is capped at 500."""
    for i in range(510):
        server.add_identity(raw_create(f"u{i}@x.com"))
    url = f"{server.url}/admin/identities"
    first = requests.get(url, headers=AUTH, timeout=10)
    assert len(first.json()) == 250
    assert 'rel="next"' in first.headers["Link"]
    capped = requests.get(url, params={"page_size": 1000}, headers=AUTH, timeout=10)
    assert len(capped.json()) == 500
    assert requests.get(url, params={"page_size": 0}, headers=AUTH, timeout=10).status_code == 400
    bad_token = requests.get(url, params={"page_token": "zzz"}, headers=AUTH, timeout=10)
    assert bad_token.status_code == 400


def test_list_survives_deletes_between_pages(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Page tokens are keyset tokens: a delete between pages neither skips nor repeats."""
    stored = [server.add_identity(raw_create(f"u{i}@x.com")) for i in range(4)]
    first = api.list_identities_with_http_info(page_size=2)
    api.delete_identity(stored[0].id)
    link = (first.headers or {})["Link"]
    token = link.split("page_token=")[1].split(">")[0].split("&")[0]
    second = api.list_identities(page_size=2, page_token=token)
    assert [str(i.id) for i in second] == [stored[2].id, stored[3].id]


def test_absolute_links_option_writes_full_urls() -> None:
    """absolute_links=True writes full URLs in the Link header."""
    with OryAdminServer(absolute_links=True) as server:
        server.add_identity(raw_create("a@x.com"))
        server.add_identity(raw_create("b@x.com"))
        response = requests.get(
            f"{server.url}/admin/identities", params={"page_size": 1}, timeout=10
        )
        assert f"<{server.url}/admin/identities?" in response.headers["Link"]


def test_list_filters_by_credentials_identifier_and_ids(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """credentials_identifier matches a normalised email or provider:subject; ids selects."""
    a = server.add_identity(raw_create("ada@x.com"))
    b = server.add_identity(
        raw_create(
            "bob@x.com",
            credentials={
                "oidc": {"config": {"providers": [{"provider": "github", "subject": "7"}]}}
            },
        )
    )
    server.add_identity(raw_create("cy@x.com"))
    assert [str(i.id) for i in api.list_identities(credentials_identifier="ADA@x.com")] == [a.id]
    assert [str(i.id) for i in api.list_identities(credentials_identifier="github:7")] == [b.id]
    assert api.list_identities(credentials_identifier="nobody@x.com") == []
    found = api.list_identities(ids=[a.id, b.id, str(uuid.uuid4())])
    assert sorted(str(i.id) for i in found) == sorted([a.id, b.id])


def test_list_include_credential_shows_configs(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """The list shows credentials only with include_credential, configs of those types."""
    server.add_identity(
        raw_create(
            "a@x.com",
            credentials={
                "password": {"config": {"hashed_password": BCRYPT_HASH}},
                "oidc": {"config": {"providers": [{"provider": "google", "subject": "1"}]}},
            },
        )
    )
    (plain,) = api.list_identities()
    assert plain.credentials is None
    (full,) = api.list_identities(include_credential=["password"])
    assert full.credentials is not None
    assert full.credentials["password"].config == {"hashed_password": BCRYPT_HASH}
    assert full.credentials["oidc"].config is None
    assert full.credentials["oidc"].identifiers == ["google:1"]


def test_get_identity_hides_configs_unless_included(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """GET by id lists credential types and identifiers; configs only with include_credential."""
    created = api.create_identity(
        create_identity_body=body(
            "a@x.com",
            hashed_password=BCRYPT_HASH,
            oidc=[("google", "1")],
            totp_url="otpauth://totp/x?secret=ABC",
        )
    )
    plain = api.get_identity(str(created.id))
    assert plain.credentials is not None
    assert set(plain.credentials) == {"password", "oidc", "totp"}
    assert all(c.config is None for c in plain.credentials.values())
    full = api.get_identity(str(created.id), include_credential=["oidc", "totp"])
    assert full.credentials is not None
    assert full.credentials["oidc"].config == {
        "providers": [{"provider": "google", "subject": "1"}]
    }
    assert full.credentials["totp"].config == {"totp_url": "otpauth://totp/x?secret=ABC"}
    assert full.credentials["password"].config is None
    response = requests.get(
        f"{server.url}/admin/identities/{created.id}",
        params={"include_credential": "secrets"},
        headers=AUTH,
        timeout=10,
    )
    assert response.status_code == 400


def test_get_by_external_id(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """GET /admin/identities/by/external/{id} finds the identity; 404 with Ory's body if absent."""
    created = api.create_identity(create_identity_body=body("a@x.com", "samlp|acme|a/b c/"))
    found = api.get_identity_by_external_id("samlp|acme|a/b c/")
    assert found.id == created.id
    with pytest.raises(NotFoundException) as info:
        api.get_identity_by_external_id("auth0|missing")
    assert error_of(info.value)["code"] == 404


def test_delete_identity_frees_its_identifiers(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """DELETE answers 204, then 404; the deleted identity's identifiers can be reused."""
    created = api.create_identity(
        create_identity_body=body("a@x.com", "auth0|1", oidc=[("google", "1")])
    )
    api.delete_identity(str(created.id))
    assert server.requests[-1].status == 204
    assert server.identities() == []
    with pytest.raises(NotFoundException):
        api.delete_identity(str(created.id))
    with pytest.raises(NotFoundException):
        api.get_identity(str(created.id))
    again = api.create_identity(
        create_identity_body=body("a@x.com", "auth0|1", oidc=[("google", "1")])
    )
    assert again.id != created.id


# --- direct access -------------------------------------------------------------------------


def test_add_identity_follows_the_post_rules(server: OryAdminServer) -> None:
    """add_identity applies the same rules as POST and raises OryAdminError."""
    server.add_identity(raw_create("a@x.com", "auth0|1"))
    cases = [
        (raw_create("A@x.com"), 409),
        (raw_create("b@x.com", name="x"), 400),
        (raw_create("b@x.com", state="deleted"), 400),
        (
            raw_create("b@x.com", credentials={"password": {"config": {"hashed_password": "x"}}}),
            400,
        ),
        ({"schema_id": "preset://email", "traits": {"email": "b@x.com", "n": 1}}, 400),
    ]
    for payload, code in cases:
        with pytest.raises(OryAdminError) as info:
            server.add_identity(payload)
        assert info.value.code == code
    assert len(server.identities()) == 1


def test_reset_forgets_everything(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """reset() clears identities, recorded requests, counters and faults."""
    api.create_identity(create_identity_body=body("a@x.com", "auth0|1"))
    server.faults.fail_next = 5
    server.reset()
    assert server.identities() == []
    assert server.requests == []
    assert server.max_concurrent_seen == 0
    assert server.faults == OryFaults()
    api.create_identity(create_identity_body=body("a@x.com", "auth0|1"))


def test_no_access_log_on_stderr(
    server: OryAdminServer, api: ory_client.IdentityApi, capfd: pytest.CaptureFixture[str]
) -> None:
    """The server writes no access log lines."""
    api.create_identity(create_identity_body=body("a@x.com"))
    api.list_identities()
    with pytest.raises(NotFoundException):
        api.get_identity_by_external_id("nope")
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_health_endpoint_needs_no_key(server: OryAdminServer) -> None:
    """/health/alive answers 200 without authentication."""
    assert requests.get(f"{server.url}/health/alive", timeout=10).json() == {"status": "ok"}


# --- faults --------------------------------------------------------------------------------


def test_latency_still_answers_correctly(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """With latency switched on requests still succeed (the delay itself is not asserted)."""
    server.faults.latency = 0.01
    api.create_identity(create_identity_body=body("a@x.com"))
    assert len(api.list_identities()) == 1


def test_rate_limit_every_nth_request_is_429_with_headers(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """Every Nth admin request answers 429 with x-ratelimit-* headers (Retry-After optional)."""
    server.faults.rate_limit_every = 3
    ok = api.list_identities_with_http_info()
    assert (ok.headers or {})["x-ratelimit-remaining"] == "2"
    api.create_identity(create_identity_body=body("a@x.com"))
    with pytest.raises(ApiException) as info:
        api.create_identity(create_identity_body=body("b@x.com"))
    assert info.value.status == 429
    headers = info.value.headers or {}
    assert headers["x-ratelimit-limit"] == "3"
    assert headers["x-ratelimit-remaining"] == "0"
    assert int(headers["x-ratelimit-reset"]) >= int(time.time())
    assert "Retry-After" not in headers
    assert error_of(info.value)["code"] == 429
    assert server.identity_by_identifier("b@x.com") is None
    server.faults.retry_after = True
    server.faults.rate_limit_reset_after = 0
    api.list_identities()
    api.list_identities()
    # A POST: urllib3 itself would retry a GET answered 429 with Retry-After.
    with pytest.raises(ApiException) as info:
        api.create_identity(create_identity_body=body("b@x.com"))
    assert (info.value.headers or {})["Retry-After"] == "0"


def test_fail_next_answers_5xx_without_doing_anything(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """fail_next answers 500/502/503 with Ory's error body and imports nothing."""
    server.faults.fail_next = 3
    statuses = []
    for _ in range(3):
        with pytest.raises(ServiceException) as info:
            api.batch_patch_identities(patch_identities_body=batch(body("a@x.com")))
        statuses.append(info.value.status)
        assert error_of(info.value)["code"] == info.value.status
    assert sorted(statuses) == [500, 502, 503]
    assert server.identities() == []
    api.batch_patch_identities(patch_identities_body=batch(body("a@x.com")))
    assert len(server.identities()) == 1
    assert server.faults.fail_next == 0


def test_drop_after_commit_imports_then_closes_the_connection(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """drop_after_commit_next commits the batch, then closes the connection without answer."""
    server.faults.drop_after_commit_next = 2
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.batch_patch_identities(
            patch_identities_body=batch(body("a@x.com", "auth0|a"), body("b@x.com", "auth0|b"))
        )
    assert {s.external_id for s in server.identities()} == {"auth0|a", "auth0|b"}
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.create_identity(create_identity_body=body("c@x.com", "auth0|c"))
    assert server.identity_by_external_id("auth0|c") is not None
    assert [r.dropped for r in server.requests] == [True, True]
    retried = api.batch_patch_identities(
        patch_identities_body=batch(body("a@x.com", "auth0|a"), body("d@x.com", "auth0|d"))
    )
    assert [i.action for i in retried.identities or []] == ["error", "create"]
    assert len(server.identities()) == 4


def test_gateway_timeouts(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """gateway_timeout_above rejects big batches with 504; gateway_timeout_next commits first."""
    server.faults.gateway_timeout_above = 2
    with pytest.raises(ServiceException) as info:
        api.batch_patch_identities(
            patch_identities_body=batch(*(body(f"u{i}@x.com") for i in range(3)))
        )
    assert info.value.status == 504
    assert server.identities() == []
    api.batch_patch_identities(patch_identities_body=batch(body("u0@x.com"), body("u1@x.com")))
    assert len(server.identities()) == 2
    server.faults.gateway_timeout_next = 1
    with pytest.raises(ServiceException) as info:
        api.create_identity(create_identity_body=body("u2@x.com"))
    assert info.value.status == 504
    assert server.identity_by_identifier("u2@x.com") is not None


def _create_in_thread(
    server: OryAdminServer, email: str, results: dict[str, Any]
) -> threading.Thread:
    def run() -> None:
        api = make_api(server)
        try:
            results[email] = api.create_identity(create_identity_body=body(email))
        except ApiException as e:
            results[email] = e

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_until_inflight(server: OryAdminServer, count: int) -> None:
    deadline = time.monotonic() + 10
    while server.inflight_imports < count:
        assert time.monotonic() < deadline, "request never arrived"
        time.sleep(0.005)


def test_second_import_in_flight_is_429(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """With one import in flight (Ory Network), a concurrent one is answered 429."""
    gate = threading.Event()
    server.faults.import_gate = gate
    results: dict[str, Any] = {}
    thread = _create_in_thread(server, "first@x.com", results)
    _wait_until_inflight(server, 1)
    with pytest.raises(ApiException) as info:
        api.batch_patch_identities(patch_identities_body=batch(body("second@x.com")))
    assert info.value.status == 429
    assert "x-ratelimit-reset" in (info.value.headers or {})
    api.list_identities()  # reads are not import requests
    gate.set()
    thread.join(10)
    assert not isinstance(results["first@x.com"], ApiException)
    assert server.max_concurrent_seen == 2
    assert [s.traits["email"] for s in server.identities()] == ["first@x.com"]


def test_unlimited_inflight_imports_for_self_hosted_kratos() -> None:
    """max_inflight_imports=None accepts concurrent imports and records the concurrency."""
    with OryAdminServer(api_key=API_KEY, max_inflight_imports=None) as server:
        gate = threading.Event()
        server.faults.import_gate = gate
        results: dict[str, Any] = {}
        threads = [_create_in_thread(server, f"u{i}@x.com", results) for i in range(3)]
        _wait_until_inflight(server, 3)
        gate.set()
        for thread in threads:
            thread.join(10)
        assert server.max_concurrent_seen == 3
        assert not any(isinstance(r, ApiException) for r in results.values())
        assert len(server.identities()) == 3


def test_concurrent_creates_of_one_email_create_it_once() -> None:
    """Many threads racing to create the same email end with exactly one identity."""
    with OryAdminServer(api_key=API_KEY, max_inflight_imports=None) as server:
        results: dict[str, Any] = {}
        lock = threading.Lock()

        def run(n: int) -> None:
            api = make_api(server)
            try:
                api.create_identity(create_identity_body=body("same@x.com", f"auth0|{n}"))
                outcome: Any = "created"
            except ConflictException:
                outcome = "conflict"
            with lock:
                results[str(n)] = outcome

        threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(results.values()) == ["conflict"] * 7 + ["created"]
        assert len(server.identities()) == 1


def test_drop_before_commit_imports_nothing(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """drop_before_commit_next closes the connection without importing anything."""
    server.faults.drop_before_commit_next = 1
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.batch_patch_identities(patch_identities_body=batch(body("a@x.com", "auth0|a")))
    assert server.identities() == []
    assert server.requests[-1].dropped
    api.batch_patch_identities(patch_identities_body=batch(body("a@x.com", "auth0|a")))
    assert len(server.identities()) == 1


def test_batch_all_failed_error_switch(server: OryAdminServer, api: ory_client.IdentityApi) -> None:
    """With batch_all_failed_error, a batch whose items all fail answers 409 (or 400)."""
    server.faults.batch_all_failed_error = True
    api.create_identity(create_identity_body=body("a@x.com", "auth0|1"))
    with pytest.raises(ConflictException) as info:
        api.batch_patch_identities(patch_identities_body=batch(body("a@x.com", "auth0|1")))
    assert error_of(info.value)["code"] == 409
    bad = CreateIdentityBody(schema_id="preset://email", traits={"nope": 1})
    with pytest.raises(BadRequestException):
        api.batch_patch_identities(patch_identities_body=batch(body("a@x.com"), bad))
    mixed = api.batch_patch_identities(patch_identities_body=batch(body("b@x.com"), bad))
    assert [i.action for i in mixed.identities or []] == ["create", "error"]


def test_rate_limited_request_does_not_consume_fail_next(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """A request answered 429 by rate_limit_every leaves fail_next for the next request."""
    server.faults.rate_limit_every = 1
    server.faults.fail_next = 1
    with pytest.raises(ApiException) as info:
        api.create_identity(create_identity_body=body("a@x.com"))
    assert info.value.status == 429
    server.faults.rate_limit_every = 0
    with pytest.raises(ServiceException):
        api.create_identity(create_identity_body=body("a@x.com"))
    api.create_identity(create_identity_body=body("a@x.com"))


def test_create_answers_a_location_header(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """POST answers 201 with the new identity's Location."""
    response = api.create_identity_with_http_info(create_identity_body=body("a@x.com"))
    assert response.status_code == 201
    location = (response.headers or {})["Location"]
    assert location == f"{server.url}/admin/identities/{response.data.id}"


def test_reset_keeps_the_faults_object(server: OryAdminServer) -> None:
    """reset() switches faults off in place, so a held reference stays live."""
    faults = server.faults
    faults.latency = 0.5
    faults.gateway_timeout_above = 3
    server.reset()
    assert server.faults is faults
    assert faults == OryFaults()


@pytest.mark.slow
def test_runs_as_a_separate_process() -> None:
    """Run as ``python -m auth0_ory_migrate.testing._ory_admin`` it serves and prints its URL."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "auth0_ory_migrate.testing._ory_admin", "--api-key", API_KEY],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        configuration = ory_client.Configuration(host=url, access_token=API_KEY)
        api = ory_client.IdentityApi(ory_client.ApiClient(configuration))
        api.create_identity(create_identity_body=body("a@x.com"))
        assert len(api.list_identities()) == 1
        api.api_client.rest_client.pool_manager.clear()
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0


# -- every kind of Auth0 user: SAML, organizations, use_auto_link ------------------------------

ORG = "8f1c6c2e-1b1f-4a53-9d6e-3f4b1f0e2a11"
OTHER_ORG = "0b9d2f4e-7c51-4e0a-8a43-5d1e6f7a8b9c"


def sso_body(email: str, *, organization_id: str | None = None) -> CreateIdentityBody:
    saml_provider = ory_client.IdentityWithCredentialsSamlConfigProvider(
        provider="acme-saml", subject=email, organization=organization_id
    )
    oidc_provider = IdentityWithCredentialsOidcConfigProvider(
        provider="acme-okta", subject="00u1abc", use_auto_link=True, organization=organization_id
    )
    return CreateIdentityBody(
        schema_id="preset://email",
        traits={"email": email},
        organization_id=organization_id,
        credentials=IdentityWithCredentials(
            saml=ory_client.IdentityWithCredentialsSaml(
                config=ory_client.IdentityWithCredentialsSamlConfig(providers=[saml_provider])
            ),
            oidc=IdentityWithCredentialsOidc(
                config=IdentityWithCredentialsOidcConfig(providers=[oidc_provider])
            ),
        ),
    )


def test_saml_credentials_organization_and_auto_link_are_stored_and_read_back(
    server: OryAdminServer, api: ory_client.IdentityApi
) -> None:
    """SAML providers, organization_id and use_auto_link come back as Ory shows them."""
    created = api.create_identity(create_identity_body=sso_body("a@acme.test", organization_id=ORG))
    assert created.organization_id == ORG
    got = api.get_identity(str(created.id), include_credential=["saml", "oidc"])
    assert got.organization_id == ORG
    assert got.credentials is not None
    saml = got.credentials["saml"]
    assert saml.identifiers == ["acme-saml:a@acme.test"]
    assert saml.config == {
        "providers": [{"provider": "acme-saml", "subject": "a@acme.test", "organization": ORG}]
    }
    oidc = got.credentials["oidc"]
    assert oidc.identifiers == ["acme-okta:00u1abc"]
    assert oidc.config is not None
    assert oidc.config["providers"][0]["use_auto_link"] is True
    listed = api.list_identities(organization_id=ORG, include_credential=["saml"])
    assert [i.id for i in listed] == [created.id]
    assert listed[0].credentials is not None
    assert listed[0].credentials["saml"].identifiers == ["acme-saml:a@acme.test"]
    stored = server.identity(str(created.id))
    assert stored is not None
    assert stored.organization_id == ORG
    assert stored.saml_identifiers == ("acme-saml:a@acme.test",)


def test_saml_subject_clash_is_409(api: ory_client.IdentityApi) -> None:
    """Two identities cannot share a SAML provider:subject."""
    api.create_identity(create_identity_body=sso_body("a@acme.test"))
    other = sso_body("a@acme.test")
    other.traits = {"email": "b@acme.test"}
    assert other.credentials is not None
    other.credentials.oidc = None
    with pytest.raises(ConflictException):
        api.create_identity(create_identity_body=other)


def test_unknown_organization_is_400_when_organizations_are_configured() -> None:
    """With organizations configured, an unknown organization_id is refused (400, Ory body)."""
    with OryAdminServer(api_key=API_KEY, organizations=[ORG]) as server:
        api = make_api(server)
        api.create_identity(create_identity_body=sso_body("a@acme.test", organization_id=ORG))
        with pytest.raises(BadRequestException) as info:
            api.create_identity(
                create_identity_body=sso_body("b@acme.test", organization_id=OTHER_ORG)
            )
        error = error_of(info.value)
        assert error["code"] == 400
        assert OTHER_ORG in error["reason"]
        answer = api.batch_patch_identities(
            patch_identities_body=batch(
                sso_body("c@acme.test", organization_id=OTHER_ORG), body("d@x.com")
            )
        )
        assert answer.identities is not None
        assert item_error(answer.identities[0])["code"] == 400
        assert answer.identities[1].action == "create"
        assert len(server.identities()) == 2


def test_any_organization_is_accepted_when_none_are_configured(
    api: ory_client.IdentityApi,
) -> None:
    """Without organizations configured, any organization_id is accepted."""
    created = api.create_identity(
        create_identity_body=sso_body("a@acme.test", organization_id=OTHER_ORG)
    )
    assert created.organization_id == OTHER_ORG
