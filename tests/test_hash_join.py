"""Hash files that don't join are said out loud: prefixed ids, the join share, unused records."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest

from auth0_ory_migrate import (
    MIN_HASH_JOIN_SHARE,
    Auth0User,
    PasswordHashRecord,
    PlannedIdentity,
    UnreadableRecord,
    check_password_hash_join,
    index_password_hashes,
    parse_user,
    plan_migration,
    read_password_hashes,
)
from auth0_ory_migrate.exceptions import HashJoinError, InvalidRecordError
from auth0_ory_migrate.testing import fake_bcrypt


HASH = fake_bcrypt(random.Random(1))
HASH2 = fake_bcrypt(random.Random(2))


def _oid(n: int) -> str:
    return f"{n:024x}"


def _records(*raw: dict[str, Any], strict: bool = False) -> list[Any]:
    data = "".join(json.dumps(r) + "\n" for r in raw).encode()
    return list(read_password_hashes(io.BytesIO(data), strict=strict))


def _user(user_id: str, **extra: Any) -> Auth0User:
    raw = {"user_id": user_id, "email": f"{user_id.replace('|', '.')}@example.com", **extra}
    user = parse_user({"email_verified": True, **raw}, 1)
    assert isinstance(user, Auth0User)
    return user


def _planned(users: list[Auth0User], *hash_records: dict[str, Any]) -> Any:
    plan = plan_migration(users, password_hashes=_records(*hash_records))
    items = list(plan)
    return plan, items


@pytest.mark.parametrize(
    "raw",
    [
        {"_id": {"$oid": f"auth0|{_oid(1)}"}, "passwordHash": HASH},
        {"_id": f"auth0|{_oid(1)}", "passwordHash": HASH},
        {"_id": {"$oid": "0" * 24}, "alt_id": f"auth0|{_oid(1)}", "passwordHash": HASH},
    ],
    ids=["oid", "plain", "alt_id"],
)
def test_ids_with_the_auth0_prefix_join(raw: dict[str, Any]) -> None:
    """An _id / $oid / alt_id that already carries auth0| joins its user."""
    (record,) = _records(raw)
    assert isinstance(record, PasswordHashRecord)
    assert _oid(1) in record.ids
    assert all(not i.startswith("auth0|") for i in record.ids)
    _, items = _planned([_user(f"auth0|{_oid(1)}")], raw)
    assert items[0].password == "hash"


def test_a_hash_file_that_joins_passes_the_check() -> None:
    """Most hash records find their user: the check says nothing."""
    users = [_user(f"auth0|{_oid(n)}") for n in range(4)]
    plan, _ = _planned(users, *({"_id": _oid(n), "passwordHash": HASH} for n in range(1, 5)))
    check_password_hash_join(plan)  # 3 of 4 found their user
    assert plan.report.password_hashes_matched == 3


def test_a_hash_file_that_joins_no_user_is_refused() -> None:
    """No hash record finds its user: refused, with the counts and three ids from each side."""
    users = [_user(f"auth0|{_oid(n)}") for n in range(5)]
    plan, _ = _planned(users, *({"_id": _oid(100 + n), "passwordHash": HASH} for n in range(5)))
    with pytest.raises(HashJoinError) as caught:
        check_password_hash_join(plan)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "0 of 5" in message
    for n in (100, 101, 102):  # three from the hash side
        assert f"auth0|{_oid(n)}" in message
    assert f"auth0|{_oid(103)}" not in message
    assert f"auth0|{_oid(0)}" in message
    assert f"auth0|{_oid(2)}" in message
    assert f"auth0|{_oid(3)}" not in message
    assert "--allow-unmatched-hashes" in message
    assert HASH not in message


def test_none_at_all_is_refused_even_for_one_record() -> None:
    """A single hash record that finds no user is refused too: none at all always is."""
    plan, _ = _planned([_user(f"auth0|{_oid(1)}")], {"_id": _oid(2), "passwordHash": HASH})
    with pytest.raises(HashJoinError, match="0 of 1"):
        check_password_hash_join(plan)


def test_below_the_documented_share_is_refused_unless_allowed() -> None:
    """Below MIN_HASH_JOIN_SHARE of the hash records found a user: refused; min_share=0 allows."""
    assert 0 < MIN_HASH_JOIN_SHARE < 1
    users = [_user(f"auth0|{_oid(n)}") for n in range(10)]
    found = int(10 * MIN_HASH_JOIN_SHARE) - 1
    hashes = [{"_id": _oid(n), "passwordHash": HASH} for n in range(found)]
    hashes += [{"_id": _oid(100 + n), "passwordHash": HASH} for n in range(10 - found)]
    plan, _ = _planned(users, *hashes)
    with pytest.raises(HashJoinError, match=f"{found} of 10"):
        check_password_hash_join(plan)
    check_password_hash_join(plan, min_share=0)


def test_no_database_user_means_no_check() -> None:
    """Without database users there is nothing to join: no refusal."""
    plan, _ = _planned([_user("google-oauth2|1")], {"_id": _oid(2), "passwordHash": HASH})
    check_password_hash_join(plan)


def _unused(plan: Any) -> list[dict[str, Any]]:
    return list(plan.report.to_dict()["password_hashes"])


def test_the_report_lists_every_unused_hash_record_and_why() -> None:
    """Unused records are listed with line, id and why: no such user, not a database user, stale."""
    users = [
        _user(f"auth0|{_oid(1)}"),
        _user(f"auth0|{_oid(2)}", last_password_reset="2030-01-01T00:00:00Z"),
        _user(f"sms|{_oid(3)}"),
    ]
    plan, _ = _planned(
        users,
        {"_id": _oid(1), "passwordHash": HASH},
        {"_id": _oid(2), "passwordHash": HASH, "password_set_date": "2020-01-01T00:00:00Z"},
        {"_id": _oid(3), "passwordHash": HASH2},
        {"_id": _oid(4), "passwordHash": HASH2},
    )
    unused = _unused(plan)
    assert [(u["line"], u["auth0_user_id"], u["reason"]) for u in unused] == [
        (2, f"auth0|{_oid(2)}", "stale"),
        (3, f"auth0|{_oid(3)}", "not_a_database_user"),
        (4, f"auth0|{_oid(4)}", "no_such_user"),
    ]
    dumped = json.dumps(plan.report.to_dict())
    assert HASH not in dumped
    assert HASH2 not in dumped
    assert plan.report.unmatched_password_hashes == 2


def test_duplicates_say_which_record_won_and_why() -> None:
    """Two records for one id: the newer wins; report and summary say which and why."""
    plan, items = _planned(
        [_user(f"auth0|{_oid(1)}")],
        {"_id": _oid(1), "passwordHash": HASH, "password_set_date": "2023-01-01T00:00:00Z"},
        {"_id": _oid(1), "passwordHash": HASH2, "password_set_date": "2022-01-01T00:00:00Z"},
    )
    assert items[0].body["credentials"]["password"]["config"] == {"hashed_password": HASH}
    (entry,) = _unused(plan)
    assert (entry["line"], entry["auth0_user_id"], entry["reason"]) == (
        2,
        f"auth0|{_oid(1)}",
        "duplicate",
    )
    assert "line 1" in entry["detail"]
    assert "newer password_set_date" in entry["detail"]
    from auth0_ory_migrate import format_summary

    assert "1 duplicate" in format_summary(plan.report)


def test_duplicates_with_the_same_date_keep_the_later_record() -> None:
    """Same (or no) date: the later record wins, and the report says so."""
    plan, items = _planned(
        [_user(f"auth0|{_oid(1)}")],
        {"_id": _oid(1), "passwordHash": HASH},
        {"_id": _oid(1), "passwordHash": HASH2},
    )
    assert items[0].body["credentials"]["password"]["config"] == {"hashed_password": HASH2}
    (entry,) = _unused(plan)
    assert entry["line"] == 1
    assert "line 2" in entry["detail"]
    assert "later in the file" in entry["detail"]


def test_records_without_a_hash_are_no_password_not_unreadable() -> None:
    """No passwordHash: not unreadable, strict does not stop, labelled with its real connection."""
    raw = [
        {"_id": _oid(1), "connection": "sms"},
        {"_id": _oid(2), "connection": "Username-Password-Authentication"},
        {"_id": _oid(3), "passwordHash": HASH},
    ]
    records = _records(*raw, strict=True)
    assert not any(isinstance(r, UnreadableRecord) for r in records)
    index = index_password_hashes(records)
    assert index.unreadable == ()
    assert [(r.line, r.user_id) for r in index.without_password] == [
        (1, f"sms|{_oid(1)}"),
        (2, f"auth0|{_oid(2)}"),
    ]
    plan = plan_migration([_user(f"auth0|{_oid(3)}")], password_hashes=index)
    list(plan)
    report = plan.report
    assert report.unreadable == {}
    assert report.password_hashes_without_password == 2
    reasons = {(u["line"], u["auth0_user_id"], u["reason"]) for u in _unused(plan)}
    assert reasons == {(1, f"sms|{_oid(1)}", "no_password"), (2, f"auth0|{_oid(2)}", "no_password")}
    check_password_hash_join(plan)


def test_strict_still_stops_on_a_record_with_no_id() -> None:
    """Strict mode keeps stopping on records that cannot be read at all."""
    with pytest.raises(InvalidRecordError):
        _records({"passwordHash": HASH}, strict=True)


def test_planned_identity_is_unchanged_by_the_check() -> None:
    """The check only reads the plan."""
    plan, items = _planned([_user(f"auth0|{_oid(1)}")], {"_id": _oid(1), "passwordHash": HASH})
    check_password_hash_join(plan)
    assert isinstance(items[0], PlannedIdentity)
