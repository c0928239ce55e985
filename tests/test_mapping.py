"""Mapping one Auth0 user to an Ory CreateIdentityBody: every rule and every option."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from auth0_ory_migrate import (
    DEFAULT_PROVIDERS,
    Auth0User,
    ConfigurationError,
    MappingOptions,
    Note,
    PlannedIdentity,
    Skipped,
    build_identity_schema,
    map_user,
    ory_hash_problem,
    parse_user,
)
from auth0_ory_migrate.testing import fake_bcrypt


DB = "Username-Password-Authentication"
OID = "60425dc43519d90068f82973"
BCRYPT = fake_bcrypt(random.Random(4), cost=10)


def _user(raw: Mapping[str, Any], line: int = 1) -> Auth0User:
    user = parse_user(raw, line)
    assert isinstance(user, Auth0User), user
    return user


def _db(email: str | None = "ada@example.com", **extra: Any) -> Auth0User:
    raw: dict[str, Any] = {
        "user_id": f"auth0|{OID}",
        "identities": [{"provider": "auth0", "user_id": OID, "connection": DB, "isSocial": False}],
        **extra,
    }
    if email is not None:
        raw.setdefault("email", email)
        raw.setdefault("email_verified", True)
    return _user(raw)


def _social(
    provider: str, subject: str | int, email: str = "sam@example.com", **extra: Any
) -> Auth0User:
    return _user(
        {
            "user_id": f"{provider}|{subject}",
            "email": email,
            "email_verified": True,
            "identities": [
                {"provider": provider, "user_id": subject, "connection": provider, "isSocial": True}
            ],
            **extra,
        }
    )


def _plan(user: Auth0User, options: MappingOptions | None = None, **kwargs: Any) -> PlannedIdentity:
    result = map_user(user, options, **kwargs)
    assert isinstance(result, PlannedIdentity), result
    return result


def _skip(user: Auth0User, options: MappingOptions | None = None) -> Skipped:
    result = map_user(user, options)
    assert isinstance(result, Skipped), result
    return result


def _password(planned: PlannedIdentity) -> Any:
    return planned.body.get("credentials", {}).get("password", {}).get("config")


def _oidc(planned: PlannedIdentity) -> list[dict[str, str]]:
    providers: list[dict[str, str]] = (
        planned.body.get("credentials", {}).get("oidc", {}).get("config", {}).get("providers", [])
    )
    return providers


def _codes(notes: tuple[Note, ...]) -> list[str]:
    return [n.code for n in notes]


# --- schema, traits, external id -------------------------------------------------------------


def test_default_body_for_a_database_user() -> None:
    """The default body: preset://email, the email trait, external_id, addresses, state."""
    planned = _plan(_db())
    body = planned.body
    assert body["schema_id"] == "preset://email"
    assert body["traits"] == {"email": "ada@example.com"}
    assert body["external_id"] == f"auth0|{OID}"
    assert body["state"] == "active"
    assert body["verifiable_addresses"] == [
        {"value": "ada@example.com", "verified": True, "via": "email", "status": "completed"}
    ]
    assert body["recovery_addresses"] == [{"value": "ada@example.com", "via": "email"}]
    assert planned.external_id == f"auth0|{OID}"
    assert planned.line == 1


def test_schema_id_option() -> None:
    """--schema-id / MappingOptions.schema_id sets the body's schema_id."""
    body = _plan(_db(), MappingOptions(schema_id="customer")).body
    assert body["schema_id"] == "customer"


def test_preset_email_gets_no_other_traits() -> None:
    """preset://email allows only the email trait: names and the rest go elsewhere."""
    body = _plan(_db(name="Ada Lovelace", given_name="Ada", username="ada")).body
    assert body["traits"] == {"email": "ada@example.com"}
    assert body["metadata_admin"]["auth0"]["name"] == "Ada Lovelace"


def test_declarative_trait_map() -> None:
    """A declarative map of trait path → Auth0 field path builds nested traits."""
    options = MappingOptions(
        schema_id="customer",
        traits={
            "email": "email",
            "name.first": "given_name",
            "name.last": "family_name",
            "plan": "app_metadata.plan",
            "missing": "no_such_field",
        },
    )
    user = _db(given_name="Ada", family_name="Lovelace", app_metadata={"plan": "pro"})
    body = _plan(user, options).body
    assert body["traits"] == {
        "email": "ada@example.com",
        "name": {"first": "Ada", "last": "Lovelace"},
        "plan": "pro",
    }


def test_custom_trait_function() -> None:
    """A trait function of the user sets the traits; the address trait still feeds addresses."""

    def traits(user: Auth0User) -> dict[str, Any] | None:
        return {"contact": {"email": user.email}, "nick": user.raw.get("nickname")}

    options = MappingOptions(schema_id="custom", traits=traits, address_trait="contact.email")
    body = _plan(_db(nickname="ada"), options).body
    assert body["traits"] == {"contact": {"email": "ada@example.com"}, "nick": "ada"}
    assert body["verifiable_addresses"][0]["value"] == "ada@example.com"
    assert body["recovery_addresses"] == [{"value": "ada@example.com", "via": "email"}]


def test_custom_mapping_handles_users_without_email() -> None:
    """A username schema maps users without email; with no address trait, no addresses."""
    options = MappingOptions(
        schema_id="username", traits={"username": "username"}, address_trait=None
    )
    body = _plan(_db(email=None, username="just_a_username"), options).body
    assert body["traits"] == {"username": "just_a_username"}
    assert "verifiable_addresses" not in body
    assert "recovery_addresses" not in body


def test_trait_function_returning_none_or_failing_skips_the_user() -> None:
    """A trait function that returns nothing, or raises, skips the user as no_traits."""
    nothing = _skip(_db(), MappingOptions(traits=lambda _user: None))
    assert nothing.reason == "no_traits"

    def broken(user: Auth0User) -> dict[str, Any]:
        raise KeyError("phone")

    failed = _skip(_db(), MappingOptions(traits=broken))
    assert failed.reason == "no_traits"
    assert "KeyError" in failed.detail
    assert failed.user_id == f"auth0|{OID}"


# --- addresses and state ---------------------------------------------------------------------


def test_unverified_email_is_pending() -> None:
    """email_verified false gives a pending, unverified address."""
    body = _plan(_db(email_verified=False)).body
    assert body["verifiable_addresses"] == [
        {"value": "ada@example.com", "verified": False, "via": "email", "status": "pending"}
    ]


def test_email_keeps_its_case_in_traits() -> None:
    """The email goes to traits as exported (Ory normalises it itself)."""
    body = _plan(_social("google-oauth2", "1", email="Frances.Allen@Gmail.example")).body
    assert body["traits"] == {"email": "Frances.Allen@Gmail.example"}


@pytest.mark.parametrize(
    ("blocked", "state"), [(True, "inactive"), (False, "active"), (None, "active")]
)
def test_blocked_users_are_inactive(blocked: bool | None, state: str) -> None:
    """blocked: true → state inactive; otherwise active."""
    extra: dict[str, Any] = {} if blocked is None else {"blocked": blocked}
    planned = _plan(_db(**extra))
    assert planned.body["state"] == state
    assert planned.blocked is (state == "inactive")


# --- metadata --------------------------------------------------------------------------------


def test_metadata_admin_keeps_the_whole_record() -> None:
    """metadata_admin.auth0 holds every exported field but user_metadata: nothing lost."""
    raw = {
        "user_id": f"auth0|{OID}",
        "email": "ada@example.com",
        "email_verified": True,
        "username": "ada",
        "phone_number": "+15555550123",
        "phone_verified": False,
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "nickname": "ada",
        "picture": "https://s.gravatar.com/avatar/ada.png",
        "created_at": "2021-03-05T16:35:16.775Z",
        "updated_at": "2024-06-01T10:00:00.000Z",
        "last_login": "2024-05-30T08:00:00.000Z",
        "last_ip": "192.0.2.10",
        "logins_count": 42,
        "last_password_reset": "2022-01-01T00:00:00.000Z",
        "multifactor": ["guardian"],
        "blocked": False,
        "app_metadata": {"roles": ["admin"], "plan": "pro"},
        "user_metadata": {"locale": "en"},
        "identities": [{"provider": "auth0", "user_id": OID, "connection": DB, "isSocial": False}],
        "some_future_field": {"x": [1, 2]},
    }
    body = _plan(_user(raw)).body
    admin = body["metadata_admin"]
    assert set(admin) == {"auth0"}
    expected = {k: v for k, v in raw.items() if k != "user_metadata"}
    assert admin["auth0"] == expected
    assert body["metadata_public"] == {"locale": "en"}


@pytest.mark.parametrize("user_metadata", [None, {}, [1, 2], "text", 5])
def test_metadata_public_only_for_a_non_empty_object(user_metadata: Any) -> None:
    """metadata_public is set only from a non-empty user_metadata object, never another type."""
    user = _db()
    if user_metadata is not None:  # built directly: parse_user reports a non-object as unreadable
        raw = {**user.raw, "user_metadata": user_metadata}
        user = Auth0User(user.user_id, user.line, user.provider, raw, email=user.email)
    body = _plan(user).body
    assert "metadata_public" not in body
    assert isinstance(body["metadata_admin"], dict)


def test_metadata_admin_is_an_object_whatever_app_metadata_is() -> None:
    """metadata_admin is always a JSON object (app_metadata sits inside it)."""
    for app_metadata in ([1], "x", None, 3):
        body = _plan(_db(app_metadata=app_metadata)).body
        assert isinstance(body["metadata_admin"], dict)
        assert isinstance(body["metadata_admin"]["auth0"], dict)


def test_tokens_and_hashes_are_stripped_from_metadata() -> None:
    """IdP tokens in identities and any password hash field never reach the body's metadata."""
    raw = {
        "user_id": "google-oauth2|1043",
        "email": "ada@example.com",
        "email_verified": True,
        "passwordHash": BCRYPT,
        "password_hash": BCRYPT,
        "custom_password_hash": {"algorithm": "bcrypt", "hash": {"value": BCRYPT}},
        "identities": [
            {
                "provider": "google-oauth2",
                "user_id": "1043",
                "connection": "google-oauth2",
                "isSocial": True,
                "access_token": "ya29.ACCESS-TOKEN",
                "refresh_token": "1//REFRESH-TOKEN",
            },
            {
                "provider": "twitter",
                "user_id": "77",
                "connection": "twitter",
                "isSocial": True,
                "access_token": "TW-ACCESS",
                "access_token_secret": "TW-SECRET",
            },
        ],
    }
    body = _plan(_user(raw)).body
    dumped = json.dumps(body)
    for secret in (BCRYPT, "ACCESS-TOKEN", "REFRESH-TOKEN", "TW-ACCESS", "TW-SECRET"):
        assert secret not in dumped
    identities = body["metadata_admin"]["auth0"]["identities"]
    assert [i["user_id"] for i in identities] == ["1043", "77"]
    assert all(set(i) == {"provider", "user_id", "connection", "isSocial"} for i in identities)


# --- password credential ---------------------------------------------------------------------


def test_valid_bcrypt_hash_is_imported() -> None:
    """A usable bcrypt hash becomes hashed_password."""
    planned = _plan(_db(), password_hash=(BCRYPT, None))
    assert _password(planned) == {"hashed_password": BCRYPT}
    assert planned.password == "hash"
    assert planned.notes == ()


def test_database_user_without_hash_uses_the_hook_by_default() -> None:
    """No hash: the password-migration hook (the default of --without-hash)."""
    planned = _plan(_db())
    assert _password(planned) == {"use_password_migration_hook": True}
    assert planned.password == "hook"


def test_without_hash_none_gives_no_password() -> None:
    """--without-hash none: no password credential at all (users reset their password)."""
    planned = _plan(_db(), MappingOptions(without_hash="none"))
    assert "credentials" not in planned.body
    assert planned.password == "none"


def test_ignore_hashes_uses_the_hook_for_every_database_user() -> None:
    """RESERVE_ONLY / ignore_hashes: the hook even when a good hash is there."""
    planned = _plan(_db(), MappingOptions(ignore_hashes=True), password_hash=(BCRYPT, None))
    assert _password(planned) == {"use_password_migration_hook": True}
    assert planned.password == "hook"
    assert BCRYPT not in json.dumps(planned.body)


def test_ignore_hashes_with_without_hash_none_is_refused() -> None:
    """ignore_hashes gives every database user the hook: without_hash="none" contradicts it."""
    with pytest.raises(ConfigurationError, match="without_hash") as caught:
        MappingOptions(ignore_hashes=True, without_hash="none")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(ConfigurationError):
        attrs.evolve(MappingOptions(ignore_hashes=True), without_hash="none")


@pytest.mark.parametrize(
    "user",
    [
        _social("google-oauth2", "1043"),
        _user({"user_id": "email|abc", "email": "p@example.com", "email_verified": True}),
        _user(
            {
                "user_id": "samlp|acme|x",
                "email": "x@acme.test",
                "identities": [{"provider": "samlp", "user_id": "acme|x", "connection": "acme"}],
            }
        ),
    ],
    ids=["social", "passwordless", "enterprise"],
)
def test_non_database_users_get_no_password(user: Auth0User) -> None:
    """Only users with a database identity get a password credential, even given a hash."""
    planned = _plan(user, password_hash=(BCRYPT, None))
    assert _password(planned) is None
    assert planned.password == "none"


@pytest.mark.parametrize("cost", [4, 5, 10, 12, 15])
@pytest.mark.parametrize("variant", ["2a", "2b", "2y"])
def test_bcrypt_costs_ory_accepts(variant: str, cost: int) -> None:
    """$2a$/$2b$/$2y$ with cost 4-15 and a 53-character tail pass validation."""
    value = f"${variant}${cost:02d}$" + BCRYPT[7:]
    assert ory_hash_problem(value) is None
    assert _password(_plan(_db(), password_hash=(value, None))) == {"hashed_password": value}


@pytest.mark.parametrize(
    "value",
    [
        "$2b$03$" + BCRYPT[7:],
        "$2b$16$" + BCRYPT[7:],
        "$2b$31$" + "A" * 53,
        "$2b$10$" + BCRYPT[7:-1],
        "$2b$10$" + BCRYPT[7:] + "A",
        "$2b$10$" + BCRYPT[7:-1] + "!",
        "$2x$10$" + BCRYPT[7:],
        "$2$10$" + BCRYPT[7:],
        "$2b$4$" + BCRYPT[7:] + "A",
    ],
    ids=["cost3", "cost16", "cost31", "tail52", "tail54", "bad-char", "2x", "2", "one-digit-cost"],
)
def test_bad_bcrypt_falls_back_with_a_note(value: str) -> None:
    """A bcrypt hash Ory would reject is not imported: hook instead, and a note without the hash."""
    assert ory_hash_problem(value) is not None
    planned = _plan(_db(), password_hash=(value, None))
    assert _password(planned) == {"use_password_migration_hook": True}
    (note,) = planned.notes
    assert (note.user_id, note.code) == (f"auth0|{OID}", "invalid_password_hash")
    assert value not in note.detail
    assert value[7:20] not in note.detail
    assert value not in json.dumps(planned.body)


@pytest.mark.parametrize(
    "value",
    [
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$pbkdf2-sha256$i=100000,l=32$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$pbkdf2-sha512$i=1000,l=64$c2FsdA$aGFzaA",
        "$scrypt$ln=16384,r=8,p=1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNo",
        "$firescrypt$ln=14,r=8,p=1$c2FsdA==$aGFzaA==$Bw==$a2V5",
        "$md5$aGFzaGhhc2hoYXNoaGFzaA==",
        "$md5$pf=e1NBTFR9e1BBU1NXT1JEfQ==$c2FsdA==$aGFzaA==",
        "$sha256$pf=e1NBTFR9e1BBU1NXT1JEfQ==$c2FsdA==$aGFzaA==",
        "$sha1$pf=e1BBU1NXT1JEfQ==$$aGFzaA==",
        "{SSHA}aGFzaGhhc2hzYWx0",
        "{SSHA256}aGFzaGhhc2hoYXNoaGFzaGhhc2hzYWx0",
        "{SSHA512}aGFzaGhhc2hoYXNoaGFzaGhhc2hzYWx0",
        "$hmac-sha256$YWJjZGVm$a2V5",
        "$sha512-crypt$rounds=5000$saltsalt$hashhash",
        "$md5-crypt$saltsalt$hashhash",
    ],
)
def test_other_ory_formats_pass_through(value: str) -> None:
    """Hashes already in a format Ory verifies are imported unchanged."""
    assert ory_hash_problem(value) is None
    planned = _plan(_db(), password_hash=(value, None))
    assert _password(planned) == {"hashed_password": value}
    assert planned.notes == ()


@pytest.mark.parametrize(
    "value",
    [
        "{SHA}aGFzaA==",
        "{MD5}aGFzaA==",
        "{CRYPT}abc",
        "5f4dcc3b5aa765d61d8327deb882cf99",
        "plaintext",
        "$argon2id$v=19$m=65536$salt$hash",
        "$pbkdf2-sha3$i=1,l=1$c2FsdA$aGFzaA",
        "$scrypt$ln=16384,r=8$c2FsdA$aGFzaA",
        "$sha256$c2FsdA$aGFzaA",
        "",
    ],
)
def test_hashes_ory_cannot_read_are_not_imported(value: str) -> None:
    """Anything else gets a reason (without the hash) and the fallback."""
    problem = ory_hash_problem(value)
    assert problem is not None
    if value:
        assert value not in problem
    planned = _plan(_db(), password_hash=(value, None))
    assert planned.password == "hook"
    assert _codes(planned.notes) == ["invalid_password_hash"]


# --- social and enterprise logins ------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth0", "ory"),
    [
        ("google-oauth2", "google"),
        ("windowslive", "microsoft"),
        ("github", "github"),
        ("facebook", "facebook"),
        ("apple", "apple"),
        ("twitter", "x"),
    ],
)
def test_default_social_providers(auth0: str, ory: str) -> None:
    """Auth0 social connections map to Ory's provider ids by default (subjects that match)."""
    assert DEFAULT_PROVIDERS[auth0] == ory
    planned = _plan(_social(auth0, "1043"))
    assert _oidc(planned) == [{"provider": ory, "subject": "1043"}]
    assert planned.social_logins == 1
    assert planned.notes == ()


def test_numeric_github_id_becomes_a_string_subject() -> None:
    """GitHub's numeric id is the subject, as a string."""
    assert _oidc(_plan(_social("github", 5812309))) == [
        {"provider": "github", "subject": "5812309"}
    ]


def test_linked_accounts_all_become_oidc_credentials() -> None:
    """A database user with linked social accounts gets a password and every social login."""
    user = _user(
        {
            "user_id": f"auth0|{OID}",
            "email": "radia@example.com",
            "email_verified": True,
            "identities": [
                {"provider": "auth0", "user_id": OID, "connection": DB, "isSocial": False},
                {
                    "provider": "github",
                    "user_id": 9910001,
                    "connection": "github",
                    "isSocial": True,
                },
                {
                    "provider": "google-oauth2",
                    "user_id": "1043",
                    "connection": "google-oauth2",
                    "isSocial": True,
                },
            ],
        }
    )
    planned = _plan(user, password_hash=(BCRYPT, None))
    assert _oidc(planned) == [
        {"provider": "github", "subject": "9910001"},
        {"provider": "google", "subject": "1043"},
    ]
    assert _password(planned) == {"hashed_password": BCRYPT}
    assert planned.social_logins == 2


def test_provider_option_overrides_and_adds() -> None:
    """--provider CONNECTION=ORY_PROVIDER overrides a default and adds new connections."""
    options = MappingOptions().with_providers({"google-oauth2": "google-workspace", "acme": "okta"})
    assert _oidc(_plan(_social("google-oauth2", "1"), options)) == [
        {"provider": "google-workspace", "subject": "1"}
    ]
    assert options.providers["github"] == "github"  # the other defaults stay
    assert MappingOptions().providers["google-oauth2"] == "google"  # the original is unchanged


def test_connection_name_mapping_wins_over_provider() -> None:
    """A custom social connection can be mapped by its connection name."""
    user = _user(
        {
            "user_id": "oauth2|corp-github|77",
            "email": "x@example.com",
            "identities": [
                {
                    "provider": "oauth2",
                    "user_id": "corp-github|77",
                    "connection": "corp-github",
                    "isSocial": True,
                }
            ],
        }
    )
    options = MappingOptions().with_providers({"corp-github": "github-enterprise"})
    planned = _plan(user, options)
    assert _oidc(planned) == [
        {"provider": "github-enterprise", "subject": "corp-github|77", "use_auto_link": True}
    ]
    assert [n.code for n in planned.notes] == ["login_auto_link"]


def test_a_provider_whose_subject_differs_is_auto_linked_and_noted() -> None:
    """LinkedIn's ids are per app: the login is imported with use_auto_link, and noted."""
    planned = _plan(_social("linkedin", "abC12"))
    assert _oidc(planned) == [{"provider": "linkedin", "subject": "abC12", "use_auto_link": True}]
    (note,) = planned.notes
    assert note.code == "login_auto_link"
    assert note.connection == "linkedin"
    assert planned.social_logins == 1


def _enterprise() -> Auth0User:
    return _user(
        {
            "user_id": "samlp|acme-saml|liskov@acme.test",
            "email": "liskov@acme.test",
            "email_verified": True,
            "identities": [
                {
                    "provider": "samlp",
                    "user_id": "acme-saml|liskov@acme.test",
                    "connection": "acme-saml",
                    "isSocial": False,
                }
            ],
        }
    )


def test_unmapped_enterprise_login_is_imported_with_a_note() -> None:
    """An enterprise user without a mapping is imported without that login, and noted."""
    planned = _plan(_enterprise())
    assert "credentials" not in planned.body
    assert planned.body["traits"] == {"email": "liskov@acme.test"}
    (note,) = planned.notes
    assert note.code == "enterprise_login_not_imported"
    assert "acme-saml" in note.detail
    assert "--enterprise acme-saml=ORY_PROVIDER" in note.detail
    assert note.connection == "acme-saml"


def test_mapped_enterprise_login_becomes_oidc() -> None:
    """Mapping the enterprise connection as a provider gives it an OIDC credential and no note.

    The subject is the IdP's, without the ``CONNECTION|`` Auth0 puts before it.
    """
    planned = _plan(_enterprise(), MappingOptions().with_providers({"acme-saml": "acme"}))
    assert _oidc(planned) == [
        {"provider": "acme", "subject": "liskov@acme.test", "use_auto_link": True}
    ]
    assert [n.code for n in planned.notes] == ["login_auto_link"]


def test_unmapped_social_login_is_noted() -> None:
    """A social connection without a default mapping is noted as social_login_not_imported."""
    planned = _plan(_social("bitbucket", "99"))
    assert _oidc(planned) == []
    assert _codes(planned.notes) == ["social_login_not_imported"]


@pytest.mark.parametrize("provider", ["email", "sms"])
def test_passwordless_identities_are_not_logins(provider: str) -> None:
    """Passwordless (email/sms) identities give neither an OIDC credential nor a note."""
    planned = _plan(
        _user(
            {
                "user_id": f"{provider}|abc",
                "email": "p@example.com",
                "identities": [{"provider": provider, "user_id": "abc", "connection": provider}],
            }
        )
    )
    assert "credentials" not in planned.body
    assert planned.notes == ()


def test_same_login_twice_is_one_credential() -> None:
    """Identical provider/subject pairs are deduplicated."""
    user = _user(
        {
            "user_id": "github|7",
            "email": "x@example.com",
            "identities": [
                {"provider": "github", "user_id": 7, "connection": "github", "isSocial": True},
                {"provider": "github", "user_id": "7", "connection": "github", "isSocial": True},
            ],
        }
    )
    assert _oidc(_plan(user)) == [{"provider": "github", "subject": "7"}]


# --- users that cannot be imported -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"user_id": "sms|abc", "phone_number": "+15555550123"},
        {"user_id": "auth0|abc", "username": "just_a_username"},
        {"user_id": "auth0|abc", "email": ""},
    ],
    ids=["sms", "username-only", "empty-email"],
)
def test_users_without_email_are_skipped(raw: dict[str, Any]) -> None:
    """preset://email needs an email: users without one are skipped as no_email."""
    skipped = _skip(_user(raw, line=5))
    assert (skipped.user_id, skipped.line, skipped.reason) == (raw["user_id"], 5, "no_email")
    assert "preset://email" in skipped.detail


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "@example.com",
        "ada@",
        "ada lovelace@example.com",
        "a" * 310 + "@example.com",
    ],
)
def test_invalid_email_is_skipped(email: str) -> None:
    """A malformed (or over-long) email is skipped as invalid_email."""
    skipped = _skip(_db(email=email))
    assert skipped.reason == "invalid_email"


# --- merging (the plan decides; map_user builds) ---------------------------------------------


def test_merge_joins_social_logins_and_records_the_others() -> None:
    """merge= adds the others' social logins and lists their user ids in metadata_admin."""
    primary = _db(email="tim@example.com")
    google = _social("google-oauth2", "113", email="Tim@Example.com", user_metadata={"a": 1})
    planned = _plan(primary, password_hash=(BCRYPT, None), merge=[google])
    assert _password(planned) == {"hashed_password": BCRYPT}
    assert _oidc(planned) == [{"provider": "google", "subject": "113"}]
    assert planned.merged_user_ids == ("google-oauth2|113",)
    admin = planned.body["metadata_admin"]["auth0"]
    assert admin["merged_user_ids"] == ["google-oauth2|113"]
    assert admin["merged_users"][0]["user_id"] == "google-oauth2|113"
    assert admin["merged_users"][0]["user_metadata"] == {"a": 1}
    assert planned.body["traits"] == {"email": "tim@example.com"}


def test_merged_database_users_passwords_are_noted() -> None:
    """A merged database user's password cannot be kept; a note says so."""
    primary = _db(email="tim@example.com")
    other = _user(
        {
            "user_id": "auth0|other",
            "email": "tim@example.com",
            "email_verified": True,
            "identities": [{"provider": "auth0", "user_id": "other", "connection": "Other-DB"}],
        }
    )
    planned = _plan(primary, merge=[other])
    assert ("auth0|other", "password_not_merged") in [(n.user_id, n.code) for n in planned.notes]


def test_repr_hides_the_body() -> None:
    """repr(PlannedIdentity) never shows the body (it holds the hash)."""
    planned = _plan(_db(), password_hash=(BCRYPT, None))
    assert BCRYPT not in repr(planned)
    assert BCRYPT not in str(planned)
    assert f"auth0|{OID}" in repr(planned)


def test_mapping_does_not_change_the_user() -> None:
    """Mapping (with tokens to strip and users to merge) leaves the exported records untouched."""
    raw = {
        "user_id": f"auth0|{OID}",
        "email": "ada@example.com",
        "email_verified": True,
        "user_metadata": {"a": {"b": 1}},
        "identities": [
            {"provider": "auth0", "user_id": OID, "connection": DB, "access_token": "t"}
        ],
    }
    other_raw = {"user_id": "github|7", "email": "ADA@example.com", "email_verified": True}
    before = json.dumps([raw, other_raw], sort_keys=True)
    _plan(_user(raw), merge=[_user(other_raw)], password_hash=(BCRYPT, None))
    assert json.dumps([raw, other_raw], sort_keys=True) == before


# -- lossy mappings said out loud (issue 11) ------------------------------------------------------


_NAME = {"email": "email", "name.first": "given_name", "name.last": "family_name"}


def test_unfilled_traits_names_schema_traits_the_mapping_never_fills() -> None:
    """A schema with ``name`` and the default mapping: ``name`` is never filled (phone is)."""
    schema = build_identity_schema(("email", "name", "phone"))
    assert MappingOptions(schema=schema).unfilled_traits == ("name",)
    only_email = MappingOptions(schema=schema, traits={"email": "email"})
    assert only_email.unfilled_traits == ("phone", "name")
    half = MappingOptions(schema=schema, traits={"email": "email", "name.first": "given_name"})
    assert half.unfilled_traits == ("phone", "name.last")
    full = MappingOptions(schema=schema, traits={**_NAME, "phone": "phone_number"})
    assert full.unfilled_traits == ()
    assert MappingOptions().unfilled_traits == ()  # preset://email, the email mapped
    assert MappingOptions(schema=schema, traits=lambda u: {"email": u.email}).unfilled_traits == ()


_TEL_SCHEMA = {
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "phone": {"type": "string", "format": "tel"},
                "name": {
                    "type": "object",
                    "properties": {"first": {"type": "string"}, "last": {"type": "string"}},
                    "required": ["first"],
                },
            },
            "required": ["email"],
            "additionalProperties": False,
        }
    },
}


def _phone_user(phone: str, **extra: Any) -> Auth0User:
    return _db(user_metadata={"phone": phone}, **extra)


_PHONE = {"email": "email", "phone": "user_metadata.phone"}


def test_a_bad_optional_trait_is_dropped_with_a_note() -> None:
    """``020 7123 4567`` under ``format: tel`` drops ``phone``; the user is still imported."""
    options = MappingOptions(schema_id="customer", schema=_TEL_SCHEMA, traits=_PHONE)
    planned = map_user(_phone_user("020 7123 4567"), options)
    assert isinstance(planned, PlannedIdentity), planned
    assert planned.body["traits"] == {"email": "ada@example.com"}
    (note,) = [n for n in planned.notes if n.code == "invalid_trait_dropped"]
    assert "traits.phone" in note.detail
    assert "tel" in note.detail
    assert "7123" not in note.detail  # never the value
    good = map_user(_phone_user("+442071234567"), options)
    assert isinstance(good, PlannedIdentity)
    assert good.notes == ()
    assert good.body["traits"]["phone"] == "+442071234567"


def test_a_bad_required_trait_still_skips_the_user() -> None:
    """A required trait that does not fit skips the user, as before."""
    schema = json.loads(json.dumps(_TEL_SCHEMA))
    schema["properties"]["traits"]["required"] = ["email", "phone"]
    options = MappingOptions(schema_id="customer", schema=schema, traits=_PHONE)
    skipped = map_user(_phone_user("020 7123 4567"), options)
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "invalid_traits"


def test_a_bad_nested_optional_trait_drops_the_smallest_optional_part() -> None:
    """Optional ``name.last`` goes alone; ``name.first``, required in ``name``, takes ``name``."""
    traits = {"email": "email", "name.first": "given_name", "name.last": "family_name"}
    options = MappingOptions(schema_id="customer", schema=_TEL_SCHEMA, traits=traits)
    last = map_user(_db(given_name="Ada", family_name=7), options)
    assert isinstance(last, PlannedIdentity), last
    assert last.body["traits"]["name"] == {"first": "Ada"}
    first = map_user(_db(given_name=7, family_name="Lovelace"), options)
    assert isinstance(first, PlannedIdentity), first
    assert "name" not in first.body["traits"]
    assert [n.code for n in first.notes] == ["invalid_trait_dropped"]
