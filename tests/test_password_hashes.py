"""The password-hash export: every record variant, the join by id, stale and unmatched hashes."""

from __future__ import annotations

import io
import json
import random
from typing import Any, Literal

import pytest

from auth0_ory_migrate import (
    Auth0User,
    MappingOptions,
    PasswordHashIndex,
    PasswordHashRecord,
    PlannedIdentity,
    UnreadableRecord,
    index_password_hashes,
    normalize_email,
    parse_user,
    plan_migration,
    read_password_hashes,
)
from auth0_ory_migrate.testing import fake_bcrypt, hash_record


OID = "60425dc43519d90068f82973"
HASH = fake_bcrypt(random.Random(1))
HASH2 = fake_bcrypt(random.Random(2))
DB = "Username-Password-Authentication"


def _records(*raw: dict[str, Any]) -> list[PasswordHashRecord | UnreadableRecord]:
    data = "".join(json.dumps(r) + "\n" for r in raw).encode()
    return list(read_password_hashes(io.BytesIO(data)))


def _record(raw: dict[str, Any]) -> PasswordHashRecord:
    (record,) = _records(raw)
    assert isinstance(record, PasswordHashRecord), record
    return record


def _user(user_id: str, email: str | None = None, **extra: Any) -> Auth0User:
    raw: dict[str, Any] = {"user_id": user_id, **extra}
    if email is not None:
        raw["email"] = email
        raw.setdefault("email_verified", True)
    user = parse_user(raw, 1)
    assert isinstance(user, Auth0User)
    return user


def _passwords(users: list[Auth0User], *hash_records: dict[str, Any]) -> dict[str, Any]:
    """Plan *users* with the hash file *hash_records*: user id → password credential config."""
    items = list(plan_migration(users, password_hashes=_records(*hash_records)))
    return {
        item.external_id: item.body.get("credentials", {}).get("password", {}).get("config")
        for item in items
        if isinstance(item, PlannedIdentity)
    }


# --- record variants -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"_id": {"$oid": OID}, "passwordHash": HASH},
        {"_ID": {"$oid": OID}, "passwordHash": HASH},
        {"_Id": {"$oid": OID}, "passwordHash": HASH},
        {"_id": OID, "passwordHash": HASH},
        {"_ID": OID, "passwordHash": HASH},
        {"_id": f"  {OID} ", "passwordHash": f" {HASH}\n"},
    ],
    ids=["_id-oid", "_ID-oid", "_Id-oid", "_id-plain", "_ID-plain", "padded"],
)
def test_id_forms(raw: dict[str, Any]) -> None:
    """_id in any case, as {"$oid": ...} or a plain string, gives the user id to join on."""
    record = _record(raw)
    assert record.ids == (OID,)
    assert record.password_hash == HASH


def test_alt_id_is_a_join_key_too() -> None:
    """alt_id is used as a join key next to _id."""
    record = _record({"_id": {"$oid": "0" * 24}, "alt_id": OID, "passwordHash": HASH})
    assert set(record.ids) == {"0" * 24, OID}
    only_alt = _record({"alt_id": {"$oid": OID}, "passwordHash": HASH})
    assert only_alt.ids == (OID,)


def test_builder_records_in_every_id_form() -> None:
    """Every id form the builders write is read with the right join key."""
    forms: tuple[Literal["_id", "_ID", "plain", "alt_id"], ...] = ("_id", "_ID", "plain", "alt_id")
    for form in forms:
        record = _record(hash_record(OID, "ada@example.com", HASH, id_form=form))
        assert OID in record.ids, form
        assert record.email == "ada@example.com"
        assert record.password_set_date is not None


@pytest.mark.parametrize(
    ("value", "epoch"),
    [
        ({"$date": "2021-03-05T16:35:16.775Z"}, 1614962116.775),
        ({"$date": {"$numberLong": "1614962116775"}}, 1614962116.775),
        ({"$date": 1614962116775}, 1614962116.775),
        ("2021-03-05T16:35:16.775Z", 1614962116.775),
        ("2021-03-05T17:35:16.775+01:00", 1614962116.775),
    ],
    ids=["date-iso", "date-numberLong", "date-millis", "string", "offset"],
)
def test_password_set_date_forms(value: Any, epoch: float) -> None:
    """Every $date form (and a plain string) gives the same moment."""
    index = index_password_hashes(
        _records({"_id": {"$oid": OID}, "passwordHash": HASH, "password_set_date": value})
    )
    entry = index.lookup([OID], None)
    assert entry is not None
    assert entry.value == HASH
    assert entry.set_at == pytest.approx(epoch)


def test_missing_or_unreadable_set_date_is_none() -> None:
    """No date, or an unreadable one, leaves the date unknown (the hash is still used)."""
    for extra in ({}, {"password_set_date": "yesterday"}, {"password_set_date": {"$date": True}}):
        index = index_password_hashes(
            _records({"_id": {"$oid": OID}, "passwordHash": HASH, **extra})
        )
        entry = index.lookup([OID], None)
        assert entry is not None
        assert (entry.value, entry.set_at) == (HASH, None)


@pytest.mark.parametrize(
    "identifiers",
    [
        ["ada@example.com"],
        [{"type": "email", "value": "ada@example.com"}],
        [{"type": "username", "value": "ada"}, {"type": "email", "value": "ada@example.com"}],
        ["ada", "ada@example.com"],
    ],
)
def test_email_from_identifiers_when_root_email_is_missing(identifiers: list[Any]) -> None:
    """Without a root email, the address is taken from identifiers[]."""
    record = _record({"_id": OID, "identifiers": identifiers, "passwordHash": HASH})
    assert record.email == "ada@example.com"


def test_non_email_identifiers_are_not_emails() -> None:
    """A username identifier (even one holding an @) is not taken as the email."""
    record = _record(
        {"_id": OID, "identifiers": [{"type": "username", "value": "a@b"}], "passwordHash": HASH}
    )
    assert record.email is None


def test_json_array_hash_file() -> None:
    """A JSON array of hash records is read like NDJSON."""
    data = json.dumps(
        [{"_id": {"$oid": OID}, "passwordHash": HASH}, {"_id": "b" * 24, "passwordHash": HASH2}],
        indent=2,
    ).encode()
    records = list(read_password_hashes(io.BytesIO(data)))
    assert [r.ids for r in records if isinstance(r, PasswordHashRecord)] == [(OID,), ("b" * 24,)]
    assert [r.line for r in records] == [2, 8]


@pytest.mark.parametrize(
    ("raw", "user_id", "reason"),
    [
        ({"_id": {"$oid": OID}, "passwordHash": 5}, f"auth0|{OID}", "passwordHash is not a string"),
        ({"passwordHash": HASH}, None, "neither _id nor email"),
        ({"_id": {"$oid": ""}, "passwordHash": HASH}, None, "neither _id nor email"),
        ({"_id": True, "passwordHash": HASH}, None, "neither _id nor email"),
    ],
)
def test_unusable_hash_records(raw: dict[str, Any], user_id: str | None, reason: str) -> None:
    """Records with a hash that is no string, or without any way to join them, are unreadable."""
    (bad,) = _records(raw)
    assert isinstance(bad, UnreadableRecord)
    assert (bad.source, bad.line, bad.user_id, bad.reason) == (
        "password_hashes",
        1,
        user_id,
        reason,
    )
    assert HASH not in repr(bad)


def test_hash_is_masked_in_repr() -> None:
    """Neither a record nor the index shows a hash in its repr."""
    records = _records({"_id": OID, "email": "a@example.com", "passwordHash": HASH})
    index = index_password_hashes(records)
    assert HASH not in repr(records)
    assert HASH not in repr(index)
    assert HASH[7:] not in repr(records) + repr(index)


# --- the index -----------------------------------------------------------------------------------


def test_index_counts_and_newest_duplicate_wins() -> None:
    """Duplicates are counted; the hash with the latest set date wins whatever the order."""
    records = _records(
        {"_id": OID, "passwordHash": HASH2, "password_set_date": {"$date": "2023-01-01T00:00:00Z"}},
        {"_id": OID, "passwordHash": HASH, "password_set_date": {"$date": "2022-01-01T00:00:00Z"}},
        {"_id": "b" * 24, "passwordHash": HASH},
        {"email": "x@example.com", "passwordHash": HASH},
        {"email": "X@Example.com", "passwordHash": HASH2},
        {"_id": "c" * 24},
    )
    index = index_password_hashes(records)
    assert isinstance(index, PasswordHashIndex)
    assert index.total == 6  # issue 11: the record without a hash is read ("no password")
    assert index.duplicates == 2
    assert len(index.without_password) == 1  # issue 11: was unreadable
    assert index.without_password[0].line == 6
    newest = index.lookup([OID], None)
    assert newest is not None
    assert newest.value == HASH2
    assert index.distinct == 3


def test_lookup_prefers_id_and_uses_email_only_for_id_less_records() -> None:
    """An id match wins; an email matches only records that carry no id."""
    index = index_password_hashes(
        _records(
            {"_id": OID, "email": "ada@example.com", "passwordHash": HASH},
            {"email": "grace@example.com", "passwordHash": HASH2},
        )
    )
    ada = normalize_email("ada@example.com")
    grace = normalize_email("GRACE@example.com")
    assert index.lookup([OID], ada) == index.lookup([OID], None)
    assert index.lookup(["other"], ada) is None  # ada's record has an id: no email join
    found = index.lookup(["other"], grace)
    assert found is not None
    assert found.value == HASH2


def test_lookup_returns_the_same_entry_for_every_id_of_a_record() -> None:
    """All ids of one record share one entry (so matches are counted once)."""
    index = index_password_hashes(
        _records({"_id": {"$oid": "0" * 24}, "alt_id": OID, "passwordHash": HASH})
    )
    assert index.find([OID], None) == index.find(["0" * 24], None) >= 0
    assert index.lookup([OID], None) == index.lookup(["0" * 24], None)
    assert index.find(["unknown"], None) == -1
    assert index.distinct == 1


# --- the join, through the plan ------------------------------------------------------------------


def test_join_is_by_id_not_by_email() -> None:
    """Each user gets the hash of its own id, even when the hash record's email is another's."""
    users = [
        _user(f"auth0|{OID}", "ada@example.com"),
        _user("auth0|" + "b" * 24, "grace@example.com"),
    ]
    passwords = _passwords(
        users,
        {"_id": {"$oid": OID}, "email": "grace@example.com", "passwordHash": HASH},
        {"_id": {"$oid": "b" * 24}, "email": "ada@example.com", "passwordHash": HASH2},
    )
    assert passwords == {
        f"auth0|{OID}": {"hashed_password": HASH},
        "auth0|" + "b" * 24: {"hashed_password": HASH2},
    }


def test_custom_database_id_joins() -> None:
    """A custom database id (auth0|euclid) joins a hash record whose _id is 'euclid'."""
    passwords = _passwords(
        [_user("auth0|euclid", "euclid@example.com")], {"_id": "euclid", "passwordHash": HASH}
    )
    assert passwords == {"auth0|euclid": {"hashed_password": HASH}}


def test_join_through_linked_database_identity() -> None:
    """A social primary user gets the hash of its linked auth0 identity."""
    user = _user(
        "google-oauth2|1043",
        "radia@example.com",
        identities=[
            {"provider": "google-oauth2", "user_id": "1043", "connection": "google-oauth2"},
            {"provider": "auth0", "user_id": OID, "connection": DB, "isSocial": False},
        ],
    )
    passwords = _passwords([user], {"_id": {"$oid": OID}, "passwordHash": HASH})
    assert passwords == {"google-oauth2|1043": {"hashed_password": HASH}}


def test_id_less_record_joins_by_email_whatever_the_case() -> None:
    """A hash record without an id falls back to the (verified) email, case-insensitively."""
    users = [_user(f"auth0|{OID}", "byemail@example.com")]
    # issue 11: only a verified email joins (email_verified: true in the hash record)
    for email in ("byemail@example.com", "ByEmail@EXAMPLE.com", " BYEMAIL@example.com "):
        assert _passwords(
            users, {"email": email, "passwordHash": HASH, "email_verified": True}
        ) == {f"auth0|{OID}": {"hashed_password": HASH}}
        assert _passwords(
            users,
            {
                "identifiers": [{"type": "email", "value": email}],
                "passwordHash": HASH,
                "email_verified": True,
            },
        ) == {f"auth0|{OID}": {"hashed_password": HASH}}


def test_join_ignores_the_case_of_user_emails() -> None:
    """Changing the case of a user's email changes nothing about its hash."""
    record = {"_id": OID, "email": "ada@example.com", "passwordHash": HASH}
    for email in ("ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.Com"):
        assert _passwords([_user(f"auth0|{OID}", email)], record) == {
            f"auth0|{OID}": {"hashed_password": HASH}
        }


def test_email_never_joins_a_record_that_has_an_id() -> None:
    """A record with an id that matches no user is not given to a user with its email."""
    passwords = _passwords(
        [_user(f"auth0|{OID}", "ada@example.com")],
        {"_id": "f" * 24, "email": "ada@example.com", "passwordHash": HASH},
    )
    assert passwords == {f"auth0|{OID}": {"use_password_migration_hook": True}}


def test_social_user_without_database_identity_gets_no_password() -> None:
    """A hash for a social user's email is never turned into a password."""
    passwords = _passwords(
        [_user("google-oauth2|1043", "ada@example.com")],
        {"email": "ada@example.com", "passwordHash": HASH},
    )
    assert passwords == {"google-oauth2|1043": None}


def test_unmatched_hashes_are_counted_not_listed() -> None:
    """Hashes for no user are counted in the report, which never shows them."""
    plan = plan_migration(
        [_user(f"auth0|{OID}", "ada@example.com")],
        password_hashes=_records(
            {"_id": OID, "passwordHash": HASH},
            {"_id": "f" * 24, "email": "gone@example.com", "passwordHash": HASH2},
            {"email": "nobody@example.com", "passwordHash": HASH2},
        ),
    )
    list(plan)
    report = plan.report
    assert report.password_hashes_read == 3
    assert report.unmatched_password_hashes == 2
    assert report.with_password_hash == 1
    dumped = json.dumps(report.to_dict())
    assert HASH not in dumped
    assert HASH2 not in dumped
    assert "gone@example.com" not in dumped


def test_unreadable_hash_records_are_in_the_report() -> None:
    """Unreadable hash records appear in the report with their line, without content."""
    data = (
        b'{"_id": "' + OID.encode() + b'", "passwordHash": "' + HASH.encode() + b'"}\n'
        b'{"_id": "x", "passwordHash": "' + HASH2.encode() + b'"\n'
    )
    plan = plan_migration(
        [_user(f"auth0|{OID}", "ada@example.com")],
        password_hashes=read_password_hashes(io.BytesIO(data)),
    )
    list(plan)
    report = plan.report.to_dict()
    assert report["unreadable"] == [
        {
            "source": "password_hashes",
            "line": 2,
            "auth0_user_id": None,
            "reason": report["unreadable"][0]["reason"],
        }
    ]
    assert report["summary"]["unreadable"] == {"password_hashes": 1}
    assert HASH2 not in json.dumps(report)


# --- stale hashes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reset", "set_date", "stale"),
    [
        ("2024-02-01T00:00:00.000Z", "2023-01-01T00:00:00.000Z", True),
        ("2023-01-01T00:00:00.001Z", "2023-01-01T00:00:00.000Z", True),
        ("2022-12-31T23:59:59.999Z", "2023-01-01T00:00:00.000Z", False),
        ("2023-01-01T00:00:00.000Z", "2023-01-01T00:00:00.000Z", False),
        (None, "2023-01-01T00:00:00.000Z", False),
        ("2024-02-01T00:00:00.000Z", None, False),
    ],
)
def test_stale_hash_rule(reset: str | None, set_date: str | None, stale: bool) -> None:
    """A password reset after the hash's set date makes the hash stale: hook, and a note."""
    extra = {"last_password_reset": reset} if reset else {}
    record: dict[str, Any] = {"_id": OID, "passwordHash": HASH}
    if set_date:
        record["password_set_date"] = {"$date": set_date}
    plan = plan_migration(
        [_user(f"auth0|{OID}", "ada@example.com", **extra)], password_hashes=_records(record)
    )
    (item,) = list(plan)
    assert isinstance(item, PlannedIdentity)
    config = item.body["credentials"]["password"]["config"]
    if stale:
        assert config == {"use_password_migration_hook": True}
        assert item.password == "hook"
        assert [n.code for n in item.notes] == ["stale_password_hash"]
        assert plan.report.notes_by_code == {"stale_password_hash": 1}
    else:
        assert config == {"hashed_password": HASH}
        assert item.password == "hash"
        assert item.notes == ()


def test_stale_hash_without_hook_means_no_password() -> None:
    """With --without-hash none a stale hash leaves the user without a password credential."""
    plan = plan_migration(
        [_user(f"auth0|{OID}", "a@example.com", last_password_reset="2030-01-01T00:00:00Z")],
        password_hashes=_records(
            {"_id": OID, "passwordHash": HASH, "password_set_date": "2021-01-01T00:00:00Z"}
        ),
        options=MappingOptions(without_hash="none"),
    )
    (item,) = list(plan)
    assert isinstance(item, PlannedIdentity)
    assert "credentials" not in item.body
    assert item.password == "none"
    assert plan.report.without_password == 1


# --- password_set_date values that are no moment (issue 11) --------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"$date": 1e20},
        {"$date": -1e18},
        {"$date": float("nan")},
        {"$date": float("inf")},
        {"$date": {"$numberLong": "abc"}},
        {"$date": {"$numberLong": "99999999999999999999"}},
        {"$date": {"$numberLong": 1.5}},
    ],
    ids=["1e20", "-1e18", "nan", "inf", "numberLong-abc", "numberLong-huge", "numberLong-float"],
)
def test_impossible_set_date_reports_the_record(value: Any) -> None:
    """A password_set_date that is no moment is reported for that record; the rest are read."""
    records = [
        {"_id": OID, "passwordHash": HASH, "password_set_date": value},
        {"_id": "b" * 24, "passwordHash": HASH2},
    ]
    data = json.dumps(records).encode()  # a JSON array: Python's decoder reads NaN too
    bad, good = list(read_password_hashes(io.BytesIO(data)))
    assert isinstance(bad, UnreadableRecord)
    assert (bad.line, bad.user_id) == (1, f"auth0|{OID}")
    assert "password_set_date" in bad.reason
    assert HASH not in bad.reason
    assert isinstance(good, PasswordHashRecord)


@pytest.mark.parametrize("identifiers", [5, True, 1.5])
def test_identifiers_that_are_not_a_list_are_no_email(identifiers: Any) -> None:
    """A record whose `identifiers` is not a list: indexed by its id; without one, unreadable."""
    records = [
        {"_id": {"$oid": "a1"}, "passwordHash": HASH, "identifiers": identifiers},
        {"passwordHash": HASH2, "identifiers": identifiers},
    ]
    text = "".join(json.dumps(r) + "\n" for r in records)
    index = index_password_hashes(read_password_hashes(io.BytesIO(text.encode())))
    assert index.find(("a1",), None) == 0
    assert [u.line for u in index.unreadable] == [2]
