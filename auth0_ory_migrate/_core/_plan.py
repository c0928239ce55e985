"""Plan a whole migration: users + hashes + MFA secrets → identities and outcomes (pure).

Two passes over the users keep memory bounded: the first only counts email
addresses (a machine word per user), the second maps users as they stream by,
holding back only the users that share an email with another until their
whole group has been seen.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TypeAlias

from attrs import define, evolve, field, frozen

from ._mapping import MappingOptions, Note, PlannedIdentity, Skipped, map_user
from ._mfa import MfaIndex, MfaSecret, index_mfa_secrets
from ._password_hashes import (
    EmailWhy,
    HashUses,
    PasswordHashIndex,
    PasswordHashRecord,
    UnusedHashReason,
    index_password_hashes,
    to_epoch,
)
from ._records import UnreadableRecord
from ._report import MigrationReport, ReportBuilder, ReportMark, identity_counts
from ._source import SourceMark, options_digest, source_digest
from ._users import DATABASE_PROVIDER, Auth0User, NormalizedEmail, UsersFile


__all__ = ["MigrationPlan", "PlanItem", "UserScan", "UserSource", "plan_migration", "scan_users"]
# (MappingContext, PlanRun, start_run and needs_order are for the package's parallel writer.)

#: What :func:`plan_migration` yields, in input order.
PlanItem: TypeAlias = PlannedIdentity | Skipped | UnreadableRecord

#: Users to plan: a :class:`UsersFile` (fastest for big exports), a re-iterable
#: collection, or a function returning a fresh iterator each time.
UserSource: TypeAlias = (
    Iterable[Auth0User | UnreadableRecord] | Callable[[], Iterable[Auth0User | UnreadableRecord]]
)


def _repeated(hashes: array[int]) -> dict[int, int]:
    """The values that occur more than once in *hashes*, with their counts.

    (Counted in C by :class:`~collections.Counter`: three times as fast as sorting.)
    """
    return {value: n for value, n in Counter(hashes).items() if n > 1}


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
    _context: MappingContext
    _scan: UserScan | None = None
    _run: PlanRun | None = field(default=None, init=False)
    _last_report: MigrationReport | None = field(default=None, init=False)

    @property
    def options(self) -> MappingOptions:
        """The mapping rules."""
        return self._context.options

    @property
    def password_hashes(self) -> PasswordHashIndex | None:
        """The password-hash index the plan joins, if any."""
        return self._context.hashes

    @property
    def users(self) -> UserSource:
        """The users the plan reads."""
        return self._users

    @property
    def report(self) -> MigrationReport:
        """Every count and every user that did not become its own identity.

        The report of the last iteration that reached the end.

        Raises:
            RuntimeError: The plan has not been iterated to the end yet.
        """
        if self._run is not None and self._run.finished:
            return self._run.report
        if self._last_report is None:
            raise RuntimeError(_NOT_YET)
        return self._last_report

    def report_so_far(self) -> MigrationReport:
        """The counts of the current (or last) iteration, however far it got.

        For a summary when a run stops half-way (a full disk, say); once an
        iteration has reached the end, this is :attr:`report`. Users that share
        an email with a user not read yet are not counted until then.

        Raises:
            RuntimeError: The plan has not been iterated at all.

        .. versionadded:: 0.1.0
        """
        if self._run is not None:
            return self._run.report_so_far()
        return self.report

    def __iter__(self) -> Iterator[PlanItem]:
        """Plan every user, in input order (the first pass, :func:`scan_users`, runs first)."""
        return start_run(self)


def start_run(plan: MigrationPlan) -> PlanRun:
    """A new iteration of *plan*, which the caller may drive itself (package use).

    :meth:`MigrationPlan.__iter__` returns it as an iterator; the parallel writer
    drives it with :meth:`PlanRun.start`, :meth:`PlanRun.feed` and the merges.
    """
    if plan._run is not None and plan._run.finished:
        plan._last_report = plan._run.report
    if not callable(plan._users) and iter(plan._users) is plan._users:
        # A one-shot iterator cannot be read twice: keep it (memory grows with it).
        plan._users = list(plan._users)
    plan._run = PlanRun(plan._users, plan._context, plan._scan)
    return plan._run


_NOT_YET = "iterate the plan to the end before reading its report"


@frozen
class MappingContext:
    """What maps each user of a plan: the rules and the side files' indexes (package use).

    With *sources*, each planned identity without a note and with nobody merged into it
    gets its :class:`~auth0_ory_migrate.SourceMark` (what ``sync`` records to skip users
    whose inputs did not change).
    """

    options: MappingOptions
    hashes: PasswordHashIndex | None = None
    mfa: MfaIndex | None = None
    sources: bool = False
    #: :func:`options_digest` of the options, with *sources* (None: no source marks).
    options_digest: bytes | None = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        digest = options_digest(self.options) if self.sources else None
        object.__setattr__(self, "options_digest", digest)

    def _find_hash(
        self, user: Auth0User, matched: HashUses, email_unique: bool
    ) -> tuple[int, bool]:
        """The hash entry *user* takes (-1: none) and whether by email; marks *matched*.

        A hash record without an id joins *user* by email only when the email is
        verified in both files and unique in each (*email_unique*: no other user has it).
        """
        n = -1
        by_email = False
        hashes = self.hashes
        if hashes is not None:
            n = hashes.find(user.database_ids, None)
            if n < 0 and hashes.by_email and user.normalized_email is not None:
                n = hashes.find_by_email(user.normalized_email)
                by_email = n >= 0
            if n >= 0 and user.database_ids:
                matched.found(n)
                why = _email_join_refused(hashes, n, user, email_unique) if by_email else ""
                if why:
                    matched.not_used(n, "email_not_joined", why)
                    n = -1
            elif not user.database_ids:  # a social or passwordless user: is it in the hash file?
                n = n if n >= 0 else hashes.find((user.user_id.partition("|")[2],), None)
                if n >= 0:
                    matched.not_used(n, "not_a_database_user")
                n = -1
        return n, by_email

    def unchanged_source(self, user: Auth0User, matched: HashUses) -> bytes | None:
        """The :func:`source_digest` *user* (planned alone) would be mapped from; marks *matched*.

        Marks the hash entry it finds as :meth:`map_one` does; None without *sources*, and
        for a user whose hash is joined by email (its note is not in the digest).
        """
        options = self.options_digest
        if options is None:
            return None
        n, by_email = self._find_hash(user, matched, True)
        if by_email and n >= 0:
            return None
        entry = self.hashes.entry(n) if n >= 0 and self.hashes is not None else None
        otp, recovery = None, 0
        if self.mfa is not None:
            otp = self.mfa.otp.get(user.user_id)
            recovery = self.mfa.recovery_codes.get(user.user_id, 0)
        return source_digest(options, user.raw, entry, otp, recovery)

    def map_one(
        self,
        user: Auth0User,
        matched: HashUses,
        merge: list[Auth0User] | None = None,
        *,
        email_unique: bool = True,
    ) -> PlannedIdentity | Skipped:
        """Map *user* (with the users merged into it); add the hash entry it uses to *matched*.

        A hash record without an id joins *user* by email only when the email
        is verified in both files and unique in each (*email_unique*: no other
        user has it), with a note on the identity.
        """
        hashes = self.hashes
        n, by_email = self._find_hash(user, matched, email_unique)
        entry = hashes.entry(n) if n >= 0 and hashes is not None else None
        otp, recovery, notes = None, 0, []
        if self.mfa is not None:
            # A merged identity is one person: it takes the first TOTP secret among its users.
            for member in (user, *(merge or ())):
                secret = self.mfa.otp.get(member.user_id)
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
                recovery += self.mfa.recovery_codes.get(member.user_id, 0)
        planned = map_user(
            user,
            self.options,
            password_hash=entry,
            otp_secret=otp,
            recovery_codes=recovery,
            merge=merge or (),
        )
        if by_email and entry is not None and hashes is not None:
            notes.append(
                Note(
                    user.user_id,
                    "password_hash_joined_by_email",
                    f"the hash record on line {hashes.line(n)} has no user id: joined by the "
                    "email, verified in both files and unique in each",
                )
            )
        if notes and isinstance(planned, PlannedIdentity):
            planned = evolve(planned, notes=(*planned.notes, *notes))
        if n >= 0 and (type(planned) is not PlannedIdentity or planned.password != "hash"):
            matched.not_used(n, _why_unused(planned))
        elif (
            self.options_digest is not None
            and type(planned) is PlannedIdentity
            and not planned.notes
            and not merge
            and email_unique
        ):  # nothing but these inputs made it: what sync needs to know it unchanged
            digest = source_digest(self.options_digest, user.raw, entry, otp, recovery)
            planned = evolve(planned, source=SourceMark(digest, identity_counts(planned)))
        return planned

    def not_imported(self, users: Iterable[Auth0User], matched: HashUses) -> None:
        """Mark the hash entries of *users* (merged or skipped: never mapped) as not used."""
        if self.hashes is not None:
            for user in users:
                n = self.hashes.find(user.database_ids, None)  # shared emails never join
                if n >= 0 and user.database_ids:
                    matched.not_used(n, "not_imported")

    def map_group(
        self, group: list[Auth0User], matched: HashUses
    ) -> Iterator[PlannedIdentity | Skipped]:
        """Map users that share an email or a user id, all read: who holds it, who merges."""
        by_email: dict[NormalizedEmail | None, list[Auth0User]] = {}
        for user in group:
            by_email.setdefault(user.normalized_email, []).append(user)
        for users in by_email.values():
            if len(users) == 1:
                yield self.map_one(users[0], matched)
                continue
            yield from self._resolve_shared_email(sorted(users, key=_oldest_key), matched)

    def _resolve_shared_email(
        self, users: list[Auth0User], matched: HashUses
    ) -> Iterator[PlannedIdentity | Skipped]:
        if len(users) == 1:
            yield self.map_one(users[0], matched)
            return
        if all(u.email_verified for u in users):
            primary = next((u for u in users if u.provider == DATABASE_PROVIDER), users[0])
            others = [u for u in users if u is not primary]
            planned = self.map_one(primary, matched, merge=others, email_unique=False)
            self.not_imported(others, matched)
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
        yield self.map_one(holder, matched, email_unique=False)
        self.not_imported((u for u in users if u is not holder), matched)
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


def _email_join_refused(
    hashes: PasswordHashIndex, n: int, user: Auth0User, email_unique: bool
) -> EmailWhy:
    """Why id-less hash entry *n*, found by *user*'s email, may not join it (``""``: it may)."""
    if hashes.email_problem(n) is not None:
        return "hash_file"
    if not user.email_verified:
        return "user_not_verified"
    return "" if email_unique else "several_users"


def _why_unused(planned: PlannedIdentity | Skipped) -> UnusedHashReason:
    if not isinstance(planned, PlannedIdentity):
        return "not_imported"
    codes = {note.code for note in planned.notes}
    return "stale" if "stale_password_hash" in codes else "unusable"


def needs_order(scan: UserScan, user: Auth0User) -> bool:
    """Whether *user* shares an email or user id with another: then it is planned with them."""
    email = user.normalized_email
    if email is not None and hash(email) in scan.shared_emails:
        return True
    return bool(scan.repeated_ids) and hash(user.user_id) in scan.repeated_ids


class PlanRun(Iterator[PlanItem]):
    """One iteration of a plan: what iterating a :class:`MigrationPlan` gives (package use).

    As an iterator it reads the users (the first pass, unless the plan was given
    its scan, then the second) and yields every item in file order. The parallel
    writer drives it instead: :meth:`start`, then :meth:`feed` every record that
    needs the others (:func:`needs_order`) in file order, after merging what its
    workers mapped with :meth:`merge_counts` and :meth:`merge_entries`, and
    :meth:`finish`. Either way, :attr:`report` is then complete.

    Attributes:
        users: The users (read again here; the first pass may read them too).
        context: What maps each user.
    """

    def __init__(self, users: UserSource, context: MappingContext, scan: UserScan | None) -> None:
        self.users = users
        self.context = context
        self._scan = scan
        self._started = False
        self._builder = ReportBuilder()
        self._shared: dict[int, int] = {}  # counted down as groups complete
        self._repeated_ids: frozenset[int] = frozenset()
        self._groups: dict[int, list[Auth0User]] = {}
        self._first_line: dict[str, int] = {}
        hashes = context.hashes  # the hash entries users found (PasswordHashIndex.find):
        self._matched = HashUses(hashes.entries if hashes is not None else 0)
        self._report: MigrationReport | None = None
        self._finished = False
        self._items = self._in_order()

    def __next__(self) -> PlanItem:
        return next(self._items)

    def _in_order(self) -> Iterator[PlanItem]:
        self.start()
        feed = self.feed
        for record in self.users() if callable(self.users) else self.users:  # pass 2
            yield from feed(record)
        yield from self.finish()

    @property
    def scan(self) -> UserScan:
        """The users' first pass (:meth:`start` makes it if the plan was given none)."""
        if self._scan is None:
            self._scan = scan_users(self.users)  # pass 1
        return self._scan

    def start(self) -> None:
        """Get ready to be fed (at most once): scan the users unless the plan was given a scan."""
        if not self._started:
            self._started = True
            self._shared = dict(self.scan.shared_emails)
            self._repeated_ids = self.scan.repeated_ids

    def feed(self, item: Auth0User | UnreadableRecord) -> list[PlanItem]:
        """What *item* becomes now (nothing yet while its email group is incomplete)."""
        add = self._builder.add
        if type(item) is not Auth0User and isinstance(item, UnreadableRecord):
            add(item)
            return [item]
        email = item.normalized_email
        shared = self._shared
        key = hash(email) if email is not None and shared else None
        repeated_ids = self._repeated_ids
        if (key is None or key not in shared) and not (
            repeated_ids and hash(item.user_id) in repeated_ids
        ):  # the common case: an email (or none) no one else has
            out = self.context.map_one(item, self._matched)
            add(out)
            return [out]

        items: list[PlanItem] = []
        duplicate = False
        if repeated_ids and hash(item.user_id) in repeated_ids:
            seen = self._first_line.setdefault(item.user_id, item.line)
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
            group = self._groups.setdefault(key, [])
            if not duplicate:
                group.append(item)
            if len(group) >= shared[key]:
                del self._groups[key], shared[key]
                items.extend(self._map_group(group))
        elif not duplicate:
            out = self.context.map_one(item, self._matched)
            add(out)
            items.append(out)
        return items

    def merge_counts(self, counted: ReportBuilder, matched: HashUses) -> None:
        """Count what was mapped elsewhere: *counted*'s counts, the hash entries it used."""
        self._builder.merge_counts(counted)
        self._matched.update(matched)

    def merge_entries(
        self, counted: ReportBuilder, start: ReportMark, end: ReportMark | None
    ) -> None:
        """List *counted*'s entries from mark *start* to *end*: they come next in file order."""
        self._builder.merge_entries(counted, start, end)

    def finish(self) -> list[PlanItem]:
        """The groups still held back (only when the two passes saw different data).

        The report is complete once they are returned.
        """
        items: list[PlanItem] = []
        for group in self._groups.values():
            items.extend(self._map_group(group))
        self._groups.clear()
        self._finished = True  # (the report is built when first asked for: see report)
        return items

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` has run (the report is complete)."""
        return self._finished

    def report_so_far(self) -> MigrationReport:
        """The report of what has been fed (and merged) so far: :attr:`report` once finished."""
        if self._finished:
            return self.report
        context = self.context
        return self._builder.build(
            hashes=context.hashes, matched_hashes=self._matched.found_count, mfa=context.mfa
        )

    @property
    def report(self) -> MigrationReport:
        """The report of everything fed.

        Raises:
            RuntimeError: :meth:`finish` has not run yet.
        """
        if self._report is None:
            if not self._finished:
                raise RuntimeError(_NOT_YET)
            # Built now, not at finish(): a caller done with other big things (sync's index
            # of what was imported) lets them go first; the unused hash entries are many.
            context = self.context
            self._report = self._builder.build(
                hashes=context.hashes, matched_hashes=self._matched, mfa=context.mfa
            )
        return self._report

    def _map_group(self, group: list[Auth0User]) -> list[PlanItem]:
        items: list[PlanItem] = []
        for out in self.context.map_group(group, self._matched):
            self._builder.add(out)
            items.append(out)
        return items


def plan_migration(
    users: UserSource,
    *,
    password_hashes: PasswordHashIndex
    | Iterable[PasswordHashRecord | UnreadableRecord]
    | None = None,
    mfa_secrets: MfaIndex | Iterable[MfaSecret | UnreadableRecord] | None = None,
    options: MappingOptions | None = None,
    scan: UserScan | None = None,
    sources: bool = False,
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
        sources: Give each planned identity without a note and with nobody merged
            into it its :attr:`PlannedIdentity.source` (a digest of its inputs, for
            ``sync``; a few microseconds a user).

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
    context = MappingContext(
        options or MappingOptions(), password_hashes, mfa_secrets, sources=sources
    )
    return MigrationPlan(users, context, scan)
