"""The migration report: what happened to every Auth0 user (pure).

Built incrementally while a plan streams by, then frozen. It names users by
Auth0 user id and records by line; it never holds a hash or a secret.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from attrs import Factory, define, field, frozen

from ._json import dumps
from ._mapping import Note, PlannedIdentity, Skipped
from ._records import UnreadableRecord
from ._source import IdentityCounts


if TYPE_CHECKING:
    from ._mapping import PasswordSource
    from ._mfa import MfaIndex
    from ._password_hashes import HashUses, PasswordHashIndex, UnusedPasswordHash

__all__ = ["MigrationReport", "format_summary"]


@frozen
class MigrationReport:
    """Counts, every user that did not become its own identity, and every note.

    The counts always add up: ``users_read == identities + merged + sum(skipped.values())``.

    Attributes:
        users_read: Readable Auth0 users.
        identities: Identities planned (one per line of the identities file).
        merged: Users merged into another user's identity (same verified email).
        skipped: Users not imported, by reason.
        with_password_hash: Identities with an imported password hash.
        with_password_hook: Identities set to use Ory's password-migration hook.
        without_password: Identities with no password credential.
        social_logins: OIDC credentials (social and mapped enterprise logins).
        blocked: Identities imported as ``inactive``.
        totp: Identities with an imported TOTP secret.
        unreadable: Unreadable records by input.
        password_hashes_read: Readable records of the password-hash export.
        unmatched_password_hashes: Hashes that matched no user.
        password_hashes_matched: Hashes a database user found (used, or stale or
            unusable: see :attr:`unused_password_hashes`).
        password_hash_duplicates: Hash records for an id already in the file
            (:attr:`unused_password_hashes` says which record won and why).
        password_hashes_without_password: Hash records without any hash (users
            who never set a password).
        notes_by_code: How many notes of each code.
        unmapped_connections: The Auth0 connections with no Ory provider mapped, by
            kind (``"enterprise"``, ``"social"``), each with how many users lost its
            login (``{"enterprise": {"acme-saml": 1234}}``), most users first.
        logins_by_connection: The logins imported through each key of
            :attr:`MappingOptions.providers` and :attr:`MappingOptions.enterprise`
            (a key that gave none matched no user: a typo, or another tenant's name).
        users: Every user that did not become its own identity.
        notes: Everything worth knowing about users that were imported.
        unreadable_records: Every record that could not be read.
        unused_password_hashes: Every record of the hash file that gave no user
            its password, with why (never the hash).

    .. versionadded:: 0.1.0
    """

    users_read: int = 0
    identities: int = 0
    merged: int = 0
    skipped: Mapping[str, int] = field(factory=dict)
    with_password_hash: int = 0
    with_password_hook: int = 0
    without_password: int = 0
    social_logins: int = 0
    blocked: int = 0
    totp: int = 0
    unreadable: Mapping[str, int] = field(factory=dict)
    password_hashes_read: int = 0
    unmatched_password_hashes: int = 0
    notes_by_code: Mapping[str, int] = field(factory=dict)
    users: tuple[Skipped, ...] = field(default=(), repr=False)
    notes: tuple[Note, ...] = field(default=(), repr=False)
    unreadable_records: tuple[UnreadableRecord, ...] = field(default=(), repr=False)
    password_hashes_matched: int = 0
    password_hash_duplicates: int = 0
    password_hashes_without_password: int = 0
    unused_password_hashes: tuple[UnusedPasswordHash, ...] = field(default=(), repr=False)
    unmapped_connections: Mapping[str, Mapping[str, int]] = field(factory=dict)
    logins_by_connection: Mapping[str, int] = field(factory=dict)

    def _summary(self) -> dict[str, Any]:
        return {
            "users_read": self.users_read,
            "identities": self.identities,
            "merged": self.merged,
            "skipped": dict(self.skipped),
            "with_password_hash": self.with_password_hash,
            "with_password_hook": self.with_password_hook,
            "without_password": self.without_password,
            "social_logins": self.social_logins,
            "blocked": self.blocked,
            "totp": self.totp,
            "unreadable": dict(self.unreadable),
            "password_hashes_read": self.password_hashes_read,
            "unmatched_password_hashes": self.unmatched_password_hashes,
            "password_hashes_matched": self.password_hashes_matched,
            "password_hash_duplicates": self.password_hash_duplicates,
            "password_hashes_without_password": self.password_hashes_without_password,
            "notes": dict(self.notes_by_code),
            "unmapped_connections": {k: dict(v) for k, v in self.unmapped_connections.items()},
            "logins_by_connection": dict(self.logins_by_connection),
        }

    def _sections(self) -> dict[str, Iterable[dict[str, Any]]]:
        return {
            "users": (
                {
                    "auth0_user_id": s.user_id,
                    "line": s.line,
                    "outcome": "merged" if s.reason == "merged" else "skipped",
                    "reason": s.reason,
                    "detail": s.detail,
                    **({"holder": s.holder} if s.holder else {}),
                }
                for s in self.users
            ),
            "notes": (
                {
                    "auth0_user_id": n.user_id,
                    "reason": n.code,
                    "detail": n.detail,
                    **({"connection": n.connection} if n.connection is not None else {}),
                }
                for n in self.notes
            ),
            "unreadable": (r.to_dict() for r in self.unreadable_records),
            "password_hashes": (u.to_dict() for u in self.unused_password_hashes),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``convert --report`` writes)."""
        return {
            "summary": self._summary(),
            **{name: list(entries) for name, entries in self._sections().items()},
        }

    def iter_json(self) -> Iterator[bytes]:
        """:meth:`to_dict` as indented JSON, in chunks: memory stays flat for big reports.

        .. versionadded:: 0.1.0
        """
        summary = json.dumps(self._summary(), indent=2, ensure_ascii=False)
        yield b'{\n  "summary": ' + summary.replace("\n", "\n  ").encode()
        for name, entries in self._sections().items():
            yield f',\n  "{name}": ['.encode()
            separator = b"\n    "
            for entry in entries:
                yield separator + dumps(entry)
                separator = b",\n    "
            yield b"\n  ]" if separator != b"\n    " else b"]"
        yield b"\n}\n"


_PASSWORD_KEYS = {"hash": "password_hash", "hook": "password_hook", "none": "password_none"}


def _counts_of(
    item: PlannedIdentity,
) -> tuple[PasswordSource, int, tuple[str, ...], bool, bool]:
    """What *item* adds to the counts, as :meth:`ReportBuilder._identity` takes it."""
    body = item.body
    totp = "credentials" in body and "totp" in body["credentials"]
    return item.password, item.social_logins, item.connections, item.blocked, totp


def identity_counts(item: PlannedIdentity) -> IdentityCounts:
    """What *item* adds to a report's counts (:meth:`ReportBuilder.add_unchanged` adds them)."""
    return IdentityCounts(*_counts_of(item))


#: A place in a :class:`ReportBuilder`'s lists: how many users, notes and
#: unreadable records they held then (:meth:`ReportBuilder.mark`).
ReportMark: TypeAlias = tuple[int, int, int]


@define
class ReportBuilder:
    """Accumulates plan items into a :class:`MigrationReport` (the planner feeds it item by item).

    Builders merge: one that counted items elsewhere (say, in a worker process)
    adds its counts with :meth:`merge_counts` and its lists with
    :meth:`merge_entries`, piece by piece between marks (:meth:`mark`) when
    other items must come in between.
    """

    counts: Counter[str] = Factory(Counter)
    skipped: Counter[str] = Factory(Counter)
    unreadable: Counter[str] = Factory(Counter)
    users: list[Skipped] = Factory(list)
    notes: list[Note] = Factory(list)
    unreadable_records: list[UnreadableRecord] = Factory(list)

    def add(self, item: PlannedIdentity | Skipped | UnreadableRecord) -> None:
        """Count one plan item."""
        c = self.counts
        if type(item) is PlannedIdentity or isinstance(item, PlannedIdentity):
            c["users_read"] += 1 + len(item.merged_user_ids)
            self._identity(*_counts_of(item))
            if item.notes:
                self.notes.extend(item.notes)
        elif isinstance(item, Skipped):
            self.users.append(item)
            self.notes.extend(item.notes)
            if item.reason == "merged":
                c["merged"] += 1  # already counted as read by the identity it joined
            else:
                c["users_read"] += 1
                self.skipped[item.reason] += 1
        else:
            self.unreadable[item.source] += 1
            self.unreadable_records.append(item)

    def add_unchanged(self, counts: IdentityCounts) -> None:
        """Count one user planned before with these *counts* (``sync``: not mapped again)."""
        self.counts["users_read"] += 1
        self._identity(
            counts.password, counts.social_logins, counts.connections, counts.blocked, counts.totp
        )

    def _identity(
        self,
        password: PasswordSource,
        social_logins: int,
        connections: tuple[str, ...],
        blocked: bool,
        totp: bool,
    ) -> None:
        c = self.counts
        c["identities"] += 1
        c[_PASSWORD_KEYS[password]] += 1
        if social_logins:
            c["social_logins"] += social_logins
            for key in connections:
                c[f"{_LOGIN}{key}"] += 1
        if blocked:
            c["blocked"] += 1
        if totp:
            c["totp"] += 1

    def mark(self) -> ReportMark:
        """Where the lists end now: a place to :meth:`merge_entries` from or up to."""
        return len(self.users), len(self.notes), len(self.unreadable_records)

    def merge_counts(self, other: ReportBuilder) -> None:
        """Add what *other* counted (its lists go in with :meth:`merge_entries`)."""
        self.counts.update(other.counts)
        self.skipped.update(other.skipped)
        self.unreadable.update(other.unreadable)

    def merge_entries(
        self, other: ReportBuilder, start: ReportMark = (0, 0, 0), end: ReportMark | None = None
    ) -> None:
        """List *other*'s users, notes and unreadable records from mark *start* to *end*.

        With :meth:`merge_counts`, the whole of *other* (marks that cover its
        lists, in order) is as if its items had been added here.
        """
        a, b, c = start
        x, y, z = end if end is not None else (None, None, None)
        self.users.extend(other.users[a:x])
        self.notes.extend(other.notes[b:y])
        self.unreadable_records.extend(other.unreadable_records[c:z])

    def build(
        self,
        *,
        hashes: PasswordHashIndex | None = None,
        matched_hashes: int | HashUses = 0,
        mfa: MfaIndex | None = None,
    ) -> MigrationReport:
        """Freeze the counts, adding what the side inputs tell.

        *matched_hashes*: the hash entries users found, as the planner keeps them
        (:class:`~auth0_ory_migrate._core._password_hashes.HashUses`), or just their number.
        """
        unused: tuple[UnusedPasswordHash, ...] = ()
        if isinstance(matched_hashes, int):
            matched = matched_hashes
        else:
            matched = matched_hashes.found_count
            if hashes is not None:
                unused = tuple(hashes._unused(matched_hashes))
        unreadable = Counter(self.unreadable)
        records = list(self.unreadable_records)
        for side in (hashes, mfa):
            if side is not None:
                records.extend(side.unreadable)
                unreadable.update(r.source for r in side.unreadable)
        c = self.counts
        return MigrationReport(
            users_read=c["users_read"],
            identities=c["identities"],
            merged=c["merged"],
            skipped=dict(sorted(self.skipped.items())),
            with_password_hash=c["password_hash"],
            with_password_hook=c["password_hook"],
            without_password=c["password_none"],
            social_logins=c["social_logins"],
            blocked=c["blocked"],
            totp=c["totp"],
            unreadable=dict(sorted(unreadable.items())),
            password_hashes_read=hashes.total if hashes is not None else 0,
            unmatched_password_hashes=hashes.distinct - matched if hashes is not None else 0,
            password_hashes_matched=matched if hashes is not None else 0,
            password_hash_duplicates=hashes.duplicates if hashes is not None else 0,
            password_hashes_without_password=(
                len(hashes.without_password) if hashes is not None else 0
            ),
            unused_password_hashes=unused,
            notes_by_code=dict(sorted(Counter(n.code for n in self.notes).items())),
            unmapped_connections=_unmapped_connections(self.notes),
            logins_by_connection={
                k[len(_LOGIN) :]: v for k, v in sorted(c.items()) if k.startswith(_LOGIN)
            },
            users=tuple(self.users),
            notes=tuple(self.notes),
            unreadable_records=tuple(records),
        )


_LOGIN = "login:"  # counts' key prefix: logins imported per connection (or provider) key
_UNMAPPED = {"enterprise_login_not_imported": "enterprise", "social_login_not_imported": "social"}
_OPTION = {"enterprise": "--enterprise", "social": "--provider"}


def _unmapped_connections(notes: Iterable[Note]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for note in notes:
        kind = _UNMAPPED.get(note.code)
        if kind is not None and note.connection is not None:
            counts.setdefault(kind, Counter())[note.connection] += 1
    return {
        kind: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
        for kind, c in sorted(counts.items())
    }


def format_summary(report: MigrationReport) -> str:
    """A few human lines summing up *report* (what ``convert`` prints).

    .. versionadded:: 0.1.0
    """
    skipped = sum(report.skipped.values())
    lines = [
        f"users read:          {report.users_read:>9,}",
        f"identities written:  {report.identities:>9,}",
        f"merged:              {report.merged:>9,}  (same verified email, joined another identity)",
        f"skipped:             {skipped:>9,}"
        + (f"  ({', '.join(f'{k}: {v:,}' for k, v in report.skipped.items())})" if skipped else ""),
        f"with password hash:  {report.with_password_hash:>9,}",
        f"password hook:       {report.with_password_hook:>9,}",
        f"no password:         {report.without_password:>9,}",
        f"social logins:       {report.social_logins:>9,}",
        f"blocked (inactive):  {report.blocked:>9,}",
        f"TOTP secrets:        {report.totp:>9,}",
        f"unreadable records:  {sum(report.unreadable.values()):>9,}"
        + (
            f"  ({', '.join(f'{k}: {v:,}' for k, v in report.unreadable.items())})"
            if report.unreadable
            else ""
        ),
    ]
    if report.password_hashes_read:
        lines.append(
            f"password hashes:     {report.password_hashes_read:>9,} read, "
            f"{report.unmatched_password_hashes:,} not used (no such user, or not imported)"
            + (
                f", {report.password_hash_duplicates:,} duplicate ids (the newer record won)"
                if report.password_hash_duplicates
                else ""
            )
            + (
                f", {report.password_hashes_without_password:,} without a password"
                if report.password_hashes_without_password
                else ""
            )
        )
    if report.notes_by_code:
        lines.append(
            "notes:               "
            + ", ".join(f"{k}: {v:,}" for k, v in report.notes_by_code.items())
        )
    for kind, connections in report.unmapped_connections.items():
        lines.append(
            f"{kind} logins not imported: {sum(connections.values()):,} users of "
            f"{len(connections)} connection(s) with no Ory provider; to keep them, add:"
        )
        lines.extend(
            f"  {_OPTION[kind]} {name}=ORY_PROVIDER    ({users:,} users)"
            for name, users in connections.items()
        )
    return "\n".join(lines)
