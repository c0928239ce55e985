"""Hash records without a user id join by email only when verified and unique on both sides."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest

from auth0_ory_migrate import (
    Auth0User,
    PlannedIdentity,
    index_password_hashes,
    parse_user,
    plan_migration,
    read_password_hashes,
)
from auth0_ory_migrate.testing import fake_bcrypt


OID = "60425dc43519d90068f82973"
HASH = fake_bcrypt(random.Random(11))
HASH2 = fake_bcrypt(random.Random(12))


def _user(user_id: str, email: str, *, verified: bool = True, line: int = 1) -> Auth0User:
    raw = {"user_id": user_id, "email": email, "email_verified": verified}
    user = parse_user(raw, line)
    assert isinstance(user, Auth0User)
    return user


def _record(email: str, value: str = HASH, **extra: Any) -> dict[str, Any]:
    return {"email": email, "email_verified": True, "passwordHash": value, **extra}


def _plan(users: list[Auth0User], *records: dict[str, Any]) -> tuple[Any, list[Any]]:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    plan = plan_migration(users, password_hashes=list(read_password_hashes(io.BytesIO(data))))
    return plan, list(plan)


def _password(item: Any) -> Any:
    assert isinstance(item, PlannedIdentity)
    return item.body.get("credentials", {}).get("password", {}).get("config")


def test_verified_unique_email_joins_with_a_note() -> None:
    """Verified in both files, one user and one record: joined, and the user gets a note."""
    plan, (item,) = _plan([_user(f"auth0|{OID}", "Ada@Example.com")], _record("ada@example.com"))
    assert _password(item) == {"hashed_password": HASH}
    (note,) = [n for n in item.notes if n.code == "password_hash_joined_by_email"]
    assert note.user_id == f"auth0|{OID}"
    assert "line 1" in note.detail
    assert HASH not in note.detail
    assert plan.report.notes_by_code["password_hash_joined_by_email"] == 1
    assert plan.report.unused_password_hashes == ()


def test_email_not_verified_in_the_hash_file_does_not_join() -> None:
    """A hash record whose email is not marked verified is not joined: hook, and said why."""
    for extra in ({"email_verified": False}, {"email_verified": "true"}):
        plan, (item,) = _plan(
            [_user(f"auth0|{OID}", "ada@example.com")], _record("ada@example.com", **extra)
        )
        assert _password(item) == {"use_password_migration_hook": True}
        (unused,) = plan.report.unused_password_hashes
        assert (unused.line, unused.reason) == (1, "email_not_joined")
        assert "not verified in the hash file" in unused.detail


def test_email_not_verified_in_the_users_file_does_not_join() -> None:
    """The user's email is not verified: not joined by email (anyone could have typed it)."""
    plan, (item,) = _plan(
        [_user(f"auth0|{OID}", "ada@example.com", verified=False)], _record("ada@example.com")
    )
    assert _password(item) == {"use_password_migration_hook": True}
    (unused,) = plan.report.unused_password_hashes
    assert unused.reason == "email_not_joined"
    assert "not verified in the users file" in unused.detail


def test_two_hash_records_with_one_email_join_neither() -> None:
    """Two id-less records with the same email: neither is joined, both are reported."""
    plan, (item,) = _plan(
        [_user(f"auth0|{OID}", "ada@example.com")],
        _record("ada@example.com"),
        _record("ADA@example.com", HASH2),
    )
    assert _password(item) == {"use_password_migration_hook": True}
    unused = plan.report.unused_password_hashes
    assert [u.line for u in unused] == [1, 2]
    assert all("line" in u.detail and "neither is joined" in u.detail for u in unused)


def test_two_users_with_one_email_join_none() -> None:
    """Two users share the email (merged): the id-less record is joined to neither."""
    users = [
        _user(f"auth0|{OID}", "ada@example.com", line=1),
        _user("google-oauth2|7", "ada@example.com", line=2),
    ]
    plan, items = _plan(users, _record("ada@example.com"))
    identity = next(i for i in items if isinstance(i, PlannedIdentity))
    assert _password(identity) == {"use_password_migration_hook": True}
    (unused,) = plan.report.unused_password_hashes
    assert unused.reason == "email_not_joined"
    assert "several users" in unused.detail


def test_index_keeps_the_email_record_for_lookups() -> None:
    """The index still finds an id-less record by email (the planner applies the rule)."""
    index = index_password_hashes(
        read_password_hashes(io.BytesIO(json.dumps(_record("a@example.com")).encode()))
    )
    assert index.distinct == 1


@pytest.mark.parametrize("jobs", [1, 2])
def test_email_join_is_the_same_in_worker_processes(tmp_path: Any, jobs: int) -> None:
    """The parallel writer applies the same rule and notes as one process."""
    from auth0_ory_migrate import plan_from_files, write_identities

    users = tmp_path / "users.ndjson"
    users.write_text(
        json.dumps({"user_id": f"auth0|{OID}", "email": "ada@example.com", "email_verified": True})
        + "\n"
        + json.dumps({"user_id": "auth0|b", "email": "bob@example.com", "email_verified": False})
        + "\n"
    )
    hashes = tmp_path / "hashes.json"
    hashes.write_text(
        json.dumps(_record("ada@example.com"))
        + "\n"
        + json.dumps(_record("bob@example.com"))
        + "\n"
    )
    plan = plan_from_files(users, password_hashes=hashes)
    report = write_identities(plan, tmp_path / f"out{jobs}.ndjson", jobs=jobs)
    assert report.notes_by_code["password_hash_joined_by_email"] == 1
    assert [u.reason for u in report.unused_password_hashes] == ["email_not_joined"]
