"""Whether a hash file joins the users at all: a wrong one is refused, not silently ignored (pure).

A hash file that reads fine but whose ids match no user (another tenant, an
older export, ids written differently) would send every database user to the
password-migration hook, and only a count in the summary would tell.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..exceptions import HashJoinError
from ._plan import MigrationPlan
from ._users import Auth0User


__all__ = ["MIN_HASH_JOIN_SHARE", "check_password_hash_join"]

#: The share of the hash file's records (those with a hash, duplicates counted
#: once) that must find their database user, or :func:`check_password_hash_join`
#: refuses the plan. A hash file from the same tenant finds nearly all; one
#: from an older export misses the users deleted since.
MIN_HASH_JOIN_SHARE = 0.5

_EXAMPLES = 3


def check_password_hash_join(
    plan: MigrationPlan, *, min_share: float = MIN_HASH_JOIN_SHARE
) -> None:
    """Refuse a plan whose hash file does not join its users.

    Call it after the plan was iterated (or written). It refuses when the users
    include database users and fewer than *min_share* of the hash file's records
    found their user (none at all: always, whatever *min_share*). A plan without
    a hash file, or with no record holding a hash, passes (an empty hash file is
    a problem of the file itself: see the reader).

    Args:
        plan: An iterated plan.
        min_share: The smallest share of hash records that must find their
            user; ``0`` accepts any share except none at all, and ``-1`` any.

    Raises:
        HashJoinError: Too few records found their user. The message says how
            many, with three example ids from each side; never a hash.
        RuntimeError: The plan has not been iterated to the end.

    .. versionadded:: 0.1.0
    """
    hashes = plan.password_hashes
    report = plan.report
    if hashes is None or min_share < 0:
        return
    total = hashes.distinct
    matched = report.password_hashes_matched
    if total == 0 or (matched > 0 and matched >= min_share * total):
        return
    users = _database_users_without_hash(plan)
    first = next(users, None)
    if first is None and matched == 0:
        return  # no database user at all (each would lack a hash): nothing could join
    unhashed = [u for u in (first, *users) if u is not None][:_EXAMPLES]
    orphans = [
        u.user_id or f"line {u.line}"
        for u in report.unused_password_hashes
        if u.reason in ("no_such_user", "not_a_database_user")
    ][:_EXAMPLES]
    raise HashJoinError(matched, total, min_share, tuple(orphans), tuple(unhashed))


def _database_users_without_hash(plan: MigrationPlan) -> Iterator[str]:
    hashes = plan.password_hashes
    assert hashes is not None  # checked by the caller
    found = 0
    for user in _users(plan):
        if user.database_ids and hashes.find(user.database_ids, user.normalized_email) < 0:
            yield user.user_id
            found += 1
            if found == _EXAMPLES:
                return


def _users(plan: MigrationPlan) -> Iterator[Auth0User]:
    source = plan.users
    for user in source() if callable(source) else source:
        if type(user) is Auth0User:
            yield user
