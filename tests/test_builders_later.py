"""``tenant_a_week_later``: the same Auth0 tenant after a week of sign-ups, changes, deletions."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import bcrypt
import pytest

from auth0_ory_migrate import (
    Auth0User,
    PlannedIdentity,
    UnreadableRecord,
    index_password_hashes,
    plan_migration,
    read_password_hashes,
    read_users,
)
from auth0_ory_migrate.testing import (
    FakeAuth0User,
    LaterTenant,
    auth0_users,
    tenant_a_week_later,
    write_export,
)


KINDS = (
    "new",
    "email_changed",
    "email_verified",
    "blocked",
    "unblocked",
    "social_linked",
    "password_reset_new_hash",
    "password_reset_no_hash",
    "deleted",
)


@pytest.fixture(scope="module")
def before() -> list[FakeAuth0User]:
    return auth0_users(300, seed=5)


@pytest.fixture(scope="module")
def later(before: list[FakeAuth0User]) -> LaterTenant:
    return tenant_a_week_later(before, seed=2)


def _by_id(users: tuple[FakeAuth0User, ...] | list[FakeAuth0User]) -> dict[str, FakeAuth0User]:
    return {u.user_id: u for u in users}


def test_every_kind_of_change_happens_to_different_users(later: LaterTenant) -> None:
    """By default each kind has at least one user, and no user has two kinds of change."""
    changed = [later.changes[kind] for kind in KINDS]
    assert all(ids for ids in changed), later.counts()
    flat = list(itertools.chain(*changed, later.unchanged))
    assert len(flat) == len(set(flat))
    assert later.counts()["unchanged"] == len(later.unchanged)


def test_defaults_are_about_one_percent_in_all(before: list[FakeAuth0User]) -> None:
    """On a large tenant the default changes are about 1 % of the users, a few of each kind."""
    users = auth0_users(3000, seed=3, real_hashes=False)
    tenant = tenant_a_week_later(users, real_hashes=False)
    changed = sum(len(tenant.changes[kind]) for kind in KINDS)
    assert 20 <= changed <= 40
    assert len(tenant.unchanged) == len(users) - changed + len(tenant.new)


def test_counts_can_be_asked_for(before: list[FakeAuth0User]) -> None:
    """Each count is a parameter; zero means none of that kind."""
    tenant = tenant_a_week_later(before, new=5, deleted=3, blocked=0, email_changed=2)
    assert (len(tenant.new), len(tenant.deleted), len(tenant.blocked)) == (5, 3, 0)
    assert len(tenant.email_changed) == 2


def test_the_same_seed_gives_the_same_changes(before: list[FakeAuth0User]) -> None:
    """The choice of users and their new values follow the seed."""
    one = tenant_a_week_later(before, seed=9, real_hashes=False)
    two = tenant_a_week_later(before, seed=9, real_hashes=False)
    assert one.changes == two.changes
    assert [u.record for u in one.users] == [u.record for u in two.users]


def test_unchanged_users_are_exactly_as_before(
    before: list[FakeAuth0User], later: LaterTenant
) -> None:
    """An unchanged user's record and hash record are the same; deleted users are gone."""
    old, new = _by_id(before), _by_id(later.users)
    for user_id in later.unchanged:
        assert new[user_id].record == old[user_id].record
        assert new[user_id].hash_record == old[user_id].hash_record
    assert not set(later.deleted) & set(new)
    assert set(later.deleted) <= set(old)
    assert len(later.users) == len(before) - len(later.deleted) + len(later.new)


def test_new_users_have_fresh_ids_and_addresses(
    before: list[FakeAuth0User], later: LaterTenant
) -> None:
    """A new user's id and email belong to no earlier user, and it signed up after them."""
    old = _by_id(before)
    old_emails = {u.email.lower() for u in before if u.email}
    new = _by_id(later.users)
    for user_id in later.new:
        assert user_id not in old
        email = new[user_id].email
        assert email is None or email.lower() not in old_emails
        assert new[user_id].record["created_at"] > max(u.record["created_at"] for u in before)


def test_changed_email_keeps_the_user_id_and_is_unverified(
    before: list[FakeAuth0User], later: LaterTenant
) -> None:
    """A changed email: same user id, another address, not verified, the hash record follows."""
    old, new = _by_id(before), _by_id(later.users)
    for user_id in later.email_changed:
        assert new[user_id].email != old[user_id].email
        assert new[user_id].record["email_verified"] is False
        assert new[user_id].record["updated_at"] > old[user_id].record["updated_at"]
        if (record := new[user_id].hash_record) is not None:
            assert record["email"] == new[user_id].email


def test_verified_blocked_unblocked_and_linked(
    before: list[FakeAuth0User], later: LaterTenant
) -> None:
    """Each change is the Auth0 field it names, and only that."""
    old, new = _by_id(before), _by_id(later.users)
    for user_id in later.email_verified:
        assert old[user_id].record["email_verified"] is False
        assert new[user_id].record["email_verified"] is True
    for user_id in later.blocked:
        assert old[user_id].record.get("blocked") is not True
        assert new[user_id].record["blocked"] is True
    for user_id in later.unblocked:
        assert old[user_id].record["blocked"] is True
        assert new[user_id].record["blocked"] is False
    for user_id in later.social_linked:
        added = new[user_id].record["identities"][len(old[user_id].record["identities"]) :]
        assert len(added) == 1
        assert added[0]["isSocial"] is True
        assert new[user_id].kind == "linked"


def test_password_resets_with_and_without_a_new_hash(
    before: list[FakeAuth0User], later: LaterTenant
) -> None:
    """A reset is a later last_password_reset; with a new hash, a newer record of the password."""
    old, new = _by_id(before), _by_id(later.users)
    for user_id in later.password_reset_new_hash:
        record, user = new[user_id].hash_record, new[user_id]
        assert record is not None
        assert user.password is not None
        assert bcrypt.checkpw(user.password.encode(), record["passwordHash"].encode())
        old_record = old[user_id].hash_record
        assert old_record is not None
        old_date = old_record["password_set_date"]["$date"]
        assert record["password_set_date"]["$date"] > old_date
        assert user.record["last_password_reset"] == record["password_set_date"]["$date"]
    for user_id in later.password_reset_no_hash:
        user = new[user_id]
        assert user.hash_record == old[user_id].hash_record
        assert user.hash_record is not None
        assert user.record["last_password_reset"] > user.hash_record["password_set_date"]["$date"]
        assert user.password != old[user_id].password


def _reader(path: Path) -> Callable[[], Iterator[Auth0User | UnreadableRecord]]:
    def read() -> Iterator[Auth0User | UnreadableRecord]:
        with path.open("rb") as f:
            yield from read_users(f)

    return read


def test_the_library_reads_the_later_export_as_auth0_delivers_it(
    tmp_path: Path, later: LaterTenant
) -> None:
    """write_export of the later tenant plans: new hashes imported, no-hash resets to the hook."""
    files = write_export(tmp_path, later.users)
    assert files.password_hashes is not None
    with files.password_hashes.open("rb") as f:
        hashes = index_password_hashes(read_password_hashes(f))
    planned = {
        item.external_id: item
        for item in plan_migration(_reader(files.users), password_hashes=hashes)
        if isinstance(item, PlannedIdentity)
    }
    by_id = _by_id(later.users)
    for user_id in later.password_reset_new_hash:
        credentials = planned[user_id].body["credentials"]["password"]["config"]
        hash_record = by_id[user_id].hash_record
        assert hash_record is not None
        assert credentials == {"hashed_password": hash_record["passwordHash"]}
    for user_id in later.password_reset_no_hash:
        assert planned[user_id].password != "hash"
        assert any(n.code == "stale_password_hash" for n in planned[user_id].notes)
    for user_id in later.blocked:
        assert planned[user_id].body["state"] == "inactive"


def test_a_later_tenant_is_a_frozen_record(later: LaterTenant) -> None:
    """The record cannot be changed, and its repr names counts, not users' data."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        later.new = ()  # type: ignore[misc]
    assert "LaterTenant(" in repr(later)
    assert "@" not in repr(later)
