"""The Auth0 user model: parsing one exported record, ids, identities, emails."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from auth0_ory_migrate import (
    Auth0Identity,
    Auth0User,
    UnreadableRecord,
    UsersFile,
    normalize_email,
    parse_user,
    read_users,
)


DB = "Username-Password-Authentication"


def _parse(raw: dict[str, Any], line: int = 1) -> Auth0User:
    user = parse_user(raw, line)
    assert isinstance(user, Auth0User), user
    return user


def _reject(raw: dict[str, Any], line: int = 1) -> UnreadableRecord:
    result = parse_user(raw, line)
    assert isinstance(result, UnreadableRecord), result
    return result


def test_only_user_id_is_required() -> None:
    """A record with nothing but user_id is a valid user with defaults for the rest."""
    user = _parse({"user_id": "auth0|60425dc43519d90068f82973"}, line=7)
    assert user.line == 7
    assert user.provider == "auth0"
    assert user.local_id == "60425dc43519d90068f82973"
    assert user.email is None
    assert user.email_verified is False
    assert user.blocked is False
    assert user.created_at is None
    assert user.identities == (Auth0Identity("auth0", "60425dc43519d90068f82973"),)


@pytest.mark.parametrize(
    ("user_id", "provider", "local"),
    [
        ("auth0|60425dc43519d90068f82973", "auth0", "60425dc43519d90068f82973"),
        ("auth0|euclid", "auth0", "euclid"),
        ("google-oauth2|104359275918364748291", "google-oauth2", "104359275918364748291"),
        ("samlp|acme-saml|liskov@acme.test", "samlp", "acme-saml|liskov@acme.test"),
        ("oidc|okta|00u1|x", "oidc", "okta|00u1|x"),
        ("sms|6523a1f0c2b4e8d9a7f05678", "sms", "6523a1f0c2b4e8d9a7f05678"),
    ],
)
def test_user_id_splits_on_the_first_bar_only(user_id: str, provider: str, local: str) -> None:
    """The provider is what precedes the first '|', the local id everything after it."""
    user = _parse({"user_id": user_id})
    assert (user.user_id, user.provider, user.local_id) == (user_id, provider, local)
    assert user.identities[0] == Auth0Identity(provider, local)


def test_user_id_is_trimmed() -> None:
    """Surrounding white space is not part of the user id."""
    assert _parse({"user_id": "  auth0|abc \n"}).user_id == "auth0|abc"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({}, "no user_id"),
        ({"user_id": ""}, "no user_id"),
        ({"user_id": "   "}, "no user_id"),
        ({"user_id": 12345}, "no user_id"),
        ({"user_id": None, "email": "a@example.com"}, "no user_id"),
    ],
)
def test_record_without_user_id_is_unreadable(raw: dict[str, Any], reason: str) -> None:
    """A record without a string user_id cannot be used."""
    bad = _reject(raw, line=3)
    assert (bad.source, bad.line, bad.user_id, bad.reason) == ("users", 3, None, reason)


@pytest.mark.parametrize("user_id", ["auth0", "auth0|", "|abc", "no-bar-at-all"])
def test_user_id_not_provider_bar_id_is_unreadable(user_id: str) -> None:
    """A user_id that is not provider|id is reported with that id."""
    bad = _reject({"user_id": user_id})
    assert bad.user_id == user_id
    assert "provider|id" in bad.reason


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"email": 5}, "email is not a string"),
        ({"email": ["a@example.com"]}, "email is not a string"),
        ({"identities": {"provider": "auth0"}}, "identities is not a list"),
        ({"identities": ["auth0|abc"]}, "an identities entry is not an object"),
        ({"identities": [{"provider": "auth0"}]}, "an identities entry lacks provider or user_id"),
        ({"identities": [{"user_id": "abc"}]}, "an identities entry lacks provider or user_id"),
    ],
)
def test_malformed_fields_make_the_record_unreadable(extra: dict[str, Any], reason: str) -> None:
    """Wrongly typed email or identities are reported with the user id."""
    bad = _reject({"user_id": "auth0|abc", **extra}, line=9)
    assert (bad.line, bad.user_id, bad.reason) == (9, "auth0|abc", reason)


def test_numeric_identity_user_id_becomes_a_string() -> None:
    """GitHub's numeric identity ids are turned into strings."""
    user = _parse(
        {
            "user_id": "github|5812309",
            "identities": [
                {"provider": "github", "user_id": 5812309, "connection": "github", "isSocial": True}
            ],
        }
    )
    assert user.identities == (Auth0Identity("github", "5812309", "github", is_social=True),)


def test_identities_are_kept_in_order_with_primary_first() -> None:
    """Primary and linked identities are kept, and the primary is not added twice."""
    user = _parse(
        {
            "user_id": "auth0|60425dc43519d90068f82980",
            "identities": [
                {"provider": "auth0", "user_id": "60425dc43519d90068f82980", "connection": DB},
                {
                    "provider": "github",
                    "user_id": 9910001,
                    "connection": "github",
                    "isSocial": True,
                    "profileData": {"email": "radia@example.com"},
                },
            ],
        }
    )
    assert [(i.provider, i.user_id) for i in user.identities] == [
        ("auth0", "60425dc43519d90068f82980"),
        ("github", "9910001"),
    ]
    assert user.connections == (DB, "github")
    assert user.identities[0].is_database
    assert not user.identities[1].is_database


def test_primary_identity_is_derived_when_identities_omit_it() -> None:
    """When identities lack the primary account, it is rebuilt from user_id, first."""
    user = _parse(
        {
            "user_id": "google-oauth2|1043",
            "identities": [{"provider": "github", "user_id": "77", "connection": "github"}],
        }
    )
    assert [(i.provider, i.user_id) for i in user.identities] == [
        ("google-oauth2", "1043"),
        ("github", "77"),
    ]


def test_database_ids_include_linked_database_identities() -> None:
    """The hash-join keys are the primary database id and every linked auth0 identity."""
    primary_db = _parse({"user_id": "auth0|aaa"})
    assert primary_db.database_ids == ("aaa",)
    social_with_linked_db = _parse(
        {
            "user_id": "google-oauth2|1043",
            "identities": [
                {"provider": "google-oauth2", "user_id": "1043", "connection": "google-oauth2"},
                {"provider": "auth0", "user_id": "bbb", "connection": DB},
                {"provider": "auth0", "user_id": "ccc", "connection": "Other-DB"},
            ],
        }
    )
    assert social_with_linked_db.database_ids == ("bbb", "ccc")
    assert _parse({"user_id": "github|77"}).database_ids == ()
    assert _parse({"user_id": "email|abc"}).database_ids == ()


def test_flags_accept_json_booleans_and_csv_strings() -> None:
    """email_verified and blocked are true for JSON true or the CSV string 'true' only."""
    assert _parse({"user_id": "a|b", "email_verified": True, "blocked": True}).blocked
    csv_user = _parse({"user_id": "a|b", "email_verified": "true", "blocked": "true"})
    assert csv_user.email_verified
    assert csv_user.blocked
    # Issue 11: any other value is reported for the user, never read as false.
    other = parse_user({"user_id": "a|b", "email_verified": "yes", "blocked": 1})
    assert isinstance(other, UnreadableRecord)


def test_email_is_trimmed_and_empty_email_is_none() -> None:
    """White space around the email is dropped; an empty email counts as none."""
    assert _parse({"user_id": "a|b", "email": "  ada@example.com "}).email == "ada@example.com"
    assert _parse({"user_id": "a|b", "email": ""}).email is None
    assert _parse({"user_id": "a|b", "email": "   "}).email is None
    assert _parse({"user_id": "a|b", "email": None}).email is None


def test_timestamps_are_kept_as_strings() -> None:
    """created_at and last_password_reset are kept as exported."""
    user = _parse(
        {
            "user_id": "a|b",
            "created_at": "2021-03-05T16:35:16.775Z",
            "last_password_reset": "2024-02-01T00:00:00.000Z",
        }
    )
    assert user.created_at == "2021-03-05T16:35:16.775Z"
    assert user.last_password_reset == "2024-02-01T00:00:00.000Z"


def test_raw_record_is_kept_whole_and_out_of_repr() -> None:
    """The exported record is kept unchanged for metadata, and left out of repr."""
    raw = {
        "user_id": "auth0|abc",
        "email": "ada@example.com",
        "app_metadata": {"roles": ["admin"]},
        "user_metadata": {"secret_question": "first pet"},
        "unknown_future_field": [1, 2],
    }
    user = _parse(raw)
    assert user.raw == raw
    assert "first pet" not in repr(user)
    assert "roles" not in repr(user)


def test_users_compare_by_fields_not_raw() -> None:
    """Two parses of the same record are equal (raw does not take part)."""
    raw = {"user_id": "auth0|abc", "email": "a@example.com", "x": {"y": 1}}
    assert parse_user(raw, 1) == parse_user(dict(raw), 1)


@pytest.mark.parametrize(
    ("email", "normalized"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada@example.com\t", "ada@example.com"),
        ("\uff21da@example.com", "ada@example.com"),  # fullwidth A → A (NFKC), then lower
        ("\ufb01sh@example.com", "fish@example.com"),  # the ligature fi → fi
        ("J\u00dcRGEN@example.de", "j\u00fcrgen@example.de"),
        ("Ju\u0308rgen@example.de", "j\u00fcrgen@example.de"),  # combining diaeresis composes
    ],
)
def test_normalize_email_trims_nfkc_and_lowercases(email: str, normalized: str) -> None:
    """Emails compare as Ory's identifiers do: trimmed, NFKC-normalised, lower-cased."""
    assert normalize_email(email) == normalized


def test_user_normalized_email() -> None:
    """Auth0User.normalized_email applies normalize_email, or is None without an email."""
    assert _parse({"user_id": "a|b", "email": "Tim@Example.com"}).normalized_email == (
        "tim@example.com"
    )
    assert _parse({"user_id": "a|b"}).normalized_email is None


def test_read_users_parses_every_line() -> None:
    """read_users yields one Auth0User or UnreadableRecord per record, with line numbers."""
    lines = [
        {"user_id": "auth0|a", "email": "a@example.com"},
        {"user_id": "auth0"},
        {"user_id": "samlp|conn|x"},
    ]
    items = list(read_users(io.BytesIO("\n".join(json.dumps(x) for x in lines).encode())))
    assert [type(i).__name__ for i in items] == ["Auth0User", "UnreadableRecord", "Auth0User"]
    assert [i.line for i in items] == [1, 2, 3]


# --- wrong JSON types (issue 11) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"blocked": 1}, "blocked is not true or false"),
        ({"blocked": "yes"}, "blocked is not true or false"),
        ({"email_verified": 1}, "email_verified is not true or false"),
        ({"email_verified": "TRUE"}, "email_verified is not true or false"),
        ({"user_metadata": "x"}, "user_metadata is not an object"),
        ({"user_metadata": [1]}, "user_metadata is not an object"),
        ({"email": "a\x00@example.com"}, "email holds a NUL character"),
    ],
)
def test_wrong_json_types_are_reported_for_that_user(extra: dict[str, Any], says: str) -> None:
    """A field of the wrong JSON type is reported for its user, never silently coerced."""
    result = parse_user({"user_id": "auth0|a1", **extra}, 3)
    assert result == UnreadableRecord("users", 3, "auth0|a1", says)


@pytest.mark.parametrize(
    ("extra", "blocked", "verified"),
    [
        ({"blocked": True, "email_verified": False}, True, False),
        ({"blocked": "true", "email_verified": "true"}, True, True),
        ({"blocked": "false", "email_verified": "false"}, False, False),
        ({"blocked": None, "email_verified": None, "user_metadata": None}, False, False),
    ],
)
def test_booleans_read_by_the_documented_rule(
    extra: dict[str, Any], blocked: bool, verified: bool
) -> None:
    """true/false, their strings (the job's CSV) and null (as missing) are read as documented."""
    user = parse_user({"user_id": "auth0|a1", **extra})
    assert isinstance(user, Auth0User)
    assert (user.blocked, user.email_verified) == (blocked, verified)


def test_nul_in_user_id_is_reported_with_the_id_escaped() -> None:
    """A user_id with a NUL byte is reported, the NUL shown as an escape, not passed on."""
    result = parse_user({"user_id": "auth0|a\x00b"}, 2)
    assert result == UnreadableRecord("users", 2, "auth0|a\\x00b", "user_id holds a NUL character")


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_integers_beyond_64_bits_are_reported_not_made_floats(number: int) -> None:
    """An integer outside the 64-bit range is reported for its user (NDJSON and JSON array)."""
    record = {"user_id": "auth0|big", "app_metadata": {"n": number}}
    ok = {"user_id": "auth0|ok", "app_metadata": {"n": 2**64 - 1, "id": "1" * 30}}
    for data in (
        (json.dumps(record) + "\n" + json.dumps(ok) + "\n").encode(),
        json.dumps([record, ok]).encode(),
        f'user_id,app_metadata\nauth0|big,{{"n": {number}}}\n'.encode(),
    ):
        items = list(read_users(io.BytesIO(data)))
        bad = [i for i in items if isinstance(i, UnreadableRecord)]
        assert [b.user_id for b in bad] == ["auth0|big"], data
        assert bad[0].reason.endswith("holds an integer that does not fit in 64 bits")
        users = [i for i in items if isinstance(i, Auth0User)]
        assert all(type(u.raw["app_metadata"]["n"]) is int for u in users)


@pytest.mark.parametrize(
    "around",
    [b"", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\x0c \x0b"],
    ids=["none", "space", "tab", "cr", "vt", "ff", "mixed"],
)
def test_the_first_pass_sees_every_user_the_reading_sees(around: bytes) -> None:
    """UsersFile.identity_keys finds each user read_users reads, whatever whitespace is around."""
    records = [
        {"user_id": f"auth0|{n:024x}", "email": f" User{n % 3}@Example.com "} for n in range(6)
    ]
    lines = [around + json.dumps(r).encode() + around for r in records]
    data = b"\xef\xbb\xbf" + b"\n".join([*lines[:3], b"", b"not json", b"[1]", *lines[3:]]) + b"\n"
    users = UsersFile(lambda: io.BytesIO(data))
    read = [(u.user_id, u.normalized_email) for u in users if isinstance(u, Auth0User)]
    assert len(read) == 6
    assert list(users.identity_keys()) == read
