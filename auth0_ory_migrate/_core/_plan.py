"""Plan a whole migration: users + hashes + MFA secrets → identities and outcomes (pure).

Two passes over the users keep memory bounded: the first only counts email
addresses (a machine word per user), the second maps users as they stream by,
holding back only the users that share an email with another until their
whole group has been seen.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import TypeAlias

from attrs import define, evolve, field, frozen

from ._mapping import MappingOptions, Note, PlannedIdentity, Skipped, map_user
from ._mfa import MfaIndex, MfaSecret, index_mfa_secrets
from ._password_hashes import PasswordHashIndex, PasswordHashRecord, index_password_hashes, to_epoch
from ._records import UnreadableRecord
from ._report import MigrationReport
from ._users import DATABASE_PROVIDER, Auth0User, NormalizedEmail, UsersFile


__all__ = ["MigrationPlan", "PlanItem", "UserScan", "UserSource", "plan_migration", "scan_users"]
# (PlanRun and needs_order are for the package's parallel writer.)

#: What :func:`plan_migration` yields, in input order.
PlanItem: TypeAlias = PlannedIdentity | Skipped | UnreadableRecord

#: Users to plan: a :class:`UsersFile` (fastest for big exports), a re-iterable
#: collection, or a function returning a fresh iterator each time.
UserSource: TypeAlias = (
    Iterable[Auth0User | UnreadableRecord] | Callable[[], Iterable[Auth0User | UnreadableRecord]]
)


def _repeated(hashes: array[int]) -> dict[int, int]:
    """The values that occur more than once in *hashes*, with their counts."""
    counts: dict[int, int] = {}
    previous, run = None, 0
    for value in sorted(hashes):
        if value == previous:
            run += 1
            continue
        if run > 1:
            counts[previous] = run  # type: ignore[index]
        previous, run = value, 1
    if run > 1:
        counts[previous] = run  # type: ignore[index]
    return counts


#: Tells whether a :class:`UserScan` was made with this process's ``hash()`` (it
#: is salted per interpreter unless inherited by ``fork``).
_HASH_CHECK = hash("auth0-ory-migrate: same hash() salt?")


@frozen
class UserScan:
    """Which emails and user ids occur more than once in an export: the planner's first pass.

    Made by :func:`scan_users`. It holds ``hash()`` values, a few bytes per
    repeated email, so it is valid only in the process that made it or in a
    child forked from it after that (which may also make it, in parallel with
    other work, and send it back: it pickles).

    .. versionadded:: 0.1.0
    """

    shared_emails: dict[int, int] = field(repr=False)
    repeated_ids: frozenset[int] = field(repr=False)
    users: int
    hash_check: int = field(default=_HASH_CHECK, repr=False)


def scan_users(users: UserSource) -> UserScan:
    """Read the users once to find repeated (normalised) emails and user ids.

    :func:`plan_migration` does this itself unless handed the result; doing it
    separately lets a caller run it at the same time as other work, e.g. while
    the password hashes are indexed.

    .. versionadded:: 0.1.0
    """
    # 8 bytes per user in an array: hash() collisions only cost a little extra work in
    # the second pass, never a wrong result.
    email_hashes, id_hashes = array("q"), array("q")
    if isinstance(users, UsersFile):
        keys: Iterable[tuple[str, NormalizedEmail | None]] = users.identity_keys()
    else:
        source = users() if callable(users) else users
        keys = ((u.user_id, u.normalized_email) for u in source if type(u) is Auth0User)
    for user_id, normalized_email in keys:
        id_hashes.append(hash(user_id))
        if normalized_email is not None:
            email_hashes.append(hash(normalized_email))
    return UserScan(_repeated(email_hashes), frozenset(_repeated(id_hashes)), len(id_hashes))


def _oldest_key(user: Auth0User) -> tuple[float, int]:
    created = to_epoch(user.created_at)
    return (created if created is not None else float("inf"), user.line)


@define
class MigrationPlan:
    """An iterable plan; iterate it once, then read :attr:`report`.

    Create it with :func:`plan_migration`.

    .. versionadded:: 0.1.0
    """

    _users: UserSource
    _hashes: PasswordHashIndex | None
    _mfa: MfaIndex | None
    options: MappingOptions
    _scan: UserScan | None = None
    _report: MigrationReport | None = field(default=None, init=False)

    @property
    def report(self) -> MigrationReport:
        """Every count and every user that did not become its own identity.

        Raises:
            RuntimeError: The plan has not been iterated to the end yet.
        """
        if self._report is None:
            msg = "iterate the plan to the end before reading its report"
            raise RuntimeError(msg)
        return self._report

    def _pass(self) -> Iterable[Auth0User | UnreadableRecord]:
        return self._users() if callable(self._users) else self._users

    def __iter__(self) -> Iterator[PlanItem]:
        if not callable(self._users) and iter(self._users) is self._users:
            # A one-shot iterator cannot be read twice: keep it (memory grows with it).
            self._users = list(self._users)
        scan = self._scan if self._scan is not None else scan_users(self._users)  # pass 1
        run = PlanRun(self, scan)
        feed = run.feed
        for item in self._pass():  # pass 2
            yield from feed(item)
        yield from run.finish()
        self._report = run.report()

    def _map_one(
        self, user: Auth0User, matched: set[int], merge: list[Auth0User] | None = None
    ) -> PlannedIdentity | Skipped:
        entry = None
        if self._hashes is not None:
            n = self._hashes.find(user.database_ids, user.normalized_email)
            if n >= 0:
                matched.add(n)
                entry = self._hashes.entry(n)
        otp, recovery, notes = None, 0, []
        if self._mfa is not None:
            # A merged identity is one person: it takes the first TOTP secret among its users.
            for member in (user, *(merge or ())):
                secret = self._mfa.otp.get(member.user_id)
                if secret is not None and otp is None:
                    otp = secret
                elif secret is not None:
                    notes.append(
                        Note(
                            member.user_id,
                            "totp_not_merged",
                            f"{user.user_id}'s TOTP secret is kept",
                        )
                    )
                recovery += self._mfa.recovery_codes.get(member.user_id, 0)
        planned = map_user(
            user,
            self.options,
            password_hash=entry,
            otp_secret=otp,
            recovery_codes=recovery,
            merge=merge or (),
        )
        if notes and isinstance(planned, PlannedIdentity):
            planned = evolve(planned, notes=(*planned.notes, *notes))
        return planned

    def _map_group(
        self, group: list[Auth0User], matched: set[int]
    ) -> Iterator[PlannedIdentity | Skipped]:
        by_email: dict[NormalizedEmail | None, list[Auth0User]] = {}
        for user in group:
            by_email.setdefault(user.normalized_email, []).append(user)
        for users in by_email.values():
            if len(users) == 1:
                yield self._map_one(users[0], matched)
                continue
            yield from self._resolve_shared_email(sorted(users, key=_oldest_key), matched)

    def _resolve_shared_email(
        self, users: list[Auth0User], matched: set[int]
    ) -> Iterator[PlannedIdentity | Skipped]:
        if len(users) == 1:
            yield self._map_one(users[0], matched)
            return
        if all(u.email_verified for u in users):
            primary = next((u for u in users if u.provider == DATABASE_PROVIDER), users[0])
            others = [u for u in users if u is not primary]
            planned = self._map_one(primary, matched, merge=others)
            yield planned
            if isinstance(planned, PlannedIdentity):
                for other in others:
                    yield Skipped(
                        other.user_id,
                        other.line,
                        "merged",
                        f"same verified email as {primary.user_id}: merged into its identity",
                        holder=primary.user_id,
                    )
                return
            for other in others:
                yield Skipped(other.user_id, other.line, planned.reason, planned.detail)
            return
        holder = next((u for u in users if u.email_verified), users[0])
        yield self._map_one(holder, matched)
        for other in users:
            if other is not holder:
                yield Skipped(
                    other.user_id,
                    other.line,
                    "duplicate_email",
                    f"same email as {holder.user_id}, which is imported; not merged because not "
                    "every account with this email has it verified",
                    holder=holder.user_id,
                )


def needs_order(scan: UserScan, user: Auth0User) -> bool:
    """Whether *user* shares an email or user id with another: then it is planned with them."""
    email = user.normalized_email
    if email is not None and hash(email) in scan.shared_emails:
        return True
    return bool(scan.repeated_ids) and hash(user.user_id) in scan.repeated_ids


class PlanRun:
    """The second pass of a plan: feed it every record in file order; it says what each becomes.

    Users that share an email are held back until their group is complete. Every
    item is counted in the report as it is returned. (Also used by the parallel
    writer, which maps the users with no one to wait for elsewhere and feeds the rest.)
    """

    def __init__(self, plan: MigrationPlan, scan: UserScan) -> None:
        self.plan = plan
        self.builder = MigrationReport.builder()
        self.shared = dict(scan.shared_emails)  # counted down as groups complete
        self.repeated_ids = scan.repeated_ids
        self.groups: dict[int, list[Auth0User]] = {}
        self.first_line: dict[str, int] = {}
        self.matched: set[int] = set()  # the hash entries used (PasswordHashIndex.find)

    def feed(self, item: Auth0User | UnreadableRecord) -> list[PlanItem]:
        """What *item* becomes now (nothing yet while its email group is incomplete)."""
        add = self.builder.add
        if type(item) is not Auth0User and isinstance(item, UnreadableRecord):
            add(item)
            return [item]
        email = item.normalized_email
        shared = self.shared
        key = hash(email) if email is not None and shared else None
        if (key is None or key not in shared) and not (
            self.repeated_ids and hash(item.user_id) in self.repeated_ids
        ):  # the common case: an email (or none) no one else has
            out = self.plan._map_one(item, self.matched)
            add(out)
            return [out]

        items: list[PlanItem] = []
        duplicate = False
        if self.repeated_ids and hash(item.user_id) in self.repeated_ids:
            seen = self.first_line.setdefault(item.user_id, item.line)
            if seen != item.line:
                # The same user exported twice: keep the first.
                duplicate = True
                skipped = Skipped(
                    item.user_id, item.line, "duplicate_user_id",
                    f"the same user_id appears earlier, on line {seen}",
                )  # fmt: skip
                add(skipped)
                items.append(skipped)
                if key in shared:
                    shared[key] -= 1  # its email group is one member smaller
        if key is not None and key in shared:
            group = self.groups.setdefault(key, [])
            if not duplicate:
                group.append(item)
            if len(group) >= shared[key]:
                del self.groups[key], shared[key]
                items.extend(self._map_group(group))
        elif not duplicate:
            out = self.plan._map_one(item, self.matched)
            add(out)
            items.append(out)
        return items

    def finish(self) -> list[PlanItem]:
        """The groups still held back (only when the two passes saw different data)."""
        items: list[PlanItem] = []
        for group in self.groups.values():
            items.extend(self._map_group(group))
        self.groups.clear()
        return items

    def _map_group(self, group: list[Auth0User]) -> list[PlanItem]:
        items: list[PlanItem] = []
        for out in self.plan._map_group(group, self.matched):
            self.builder.add(out)
            items.append(out)
        return items

    def report(self) -> MigrationReport:
        """The report of everything fed."""
        plan = self.plan
        return self.builder.build(
            hashes=plan._hashes, matched_hashes=len(self.matched), mfa=plan._mfa
        )


def plan_migration(
    users: UserSource,
    *,
    password_hashes: PasswordHashIndex
    | Iterable[PasswordHashRecord | UnreadableRecord]
    | None = None,
    mfa_secrets: MfaIndex | Iterable[MfaSecret | UnreadableRecord] | None = None,
    options: MappingOptions | None = None,
    scan: UserScan | None = None,
) -> MigrationPlan:
    """Plan the migration of every Auth0 user.

    Iterating the result yields, in input order, one item per input record:
    a :class:`PlannedIdentity` to create, a :class:`Skipped` user (merged into
    another identity, or why not importable) or an :class:`UnreadableRecord`.
    After the iteration, :attr:`MigrationPlan.report` accounts for everyone:
    users read = identities + merged + skipped.

    Args:
        users: The Auth0 users (see :data:`UserSource`); read twice.
        password_hashes: Auth0's password-hash export (records or an index).
        mfa_secrets: Auth0's MFA-secrets export (records or an index).
        options: Mapping rules.
        scan: The users' :func:`scan_users`, if already made (then they are
            read once more, not twice).

    Raises:
        ValueError: *scan* was made in another process (its ``hash()`` values differ).

    Example:
        >>> plan = plan_migration(lambda: read_users(open(users_path, "rb")))  # doctest: +SKIP
        >>> for item in plan:
        ...     ...

    .. versionadded:: 0.1.0
    """
    if password_hashes is not None and not isinstance(password_hashes, PasswordHashIndex):
        password_hashes = index_password_hashes(password_hashes)
    if mfa_secrets is not None and not isinstance(mfa_secrets, MfaIndex):
        mfa_secrets = index_mfa_secrets(mfa_secrets)
    if scan is not None and scan.hash_check != _HASH_CHECK:
        msg = "this UserScan was made in another process: hash() differs here (fork, or rescan)"
        raise ValueError(msg)
    return MigrationPlan(users, password_hashes, mfa_secrets, options or MappingOptions(), scan)
