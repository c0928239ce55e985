"""What became of every Auth0 user, one row each: ``convert --outcomes`` (pure).

A plan yields one item per input record of the users file (:data:`PlanItem`);
:func:`user_outcome` turns each into a :class:`UserOutcome`, a row of the
outcomes file. Nothing here holds a hash or a secret: the rows name users,
lines, outcomes, password paths and the report's notes.
"""

from __future__ import annotations

import csv
from typing import Literal

from attrs import frozen

from ._mapping import Note, PasswordSource, PlannedIdentity, Skipped
from ._records import UnreadableRecord


__all__ = ["OUTCOME_COLUMNS", "OutcomeLines", "UserOutcome", "user_outcome"]
# (OutcomeLines is for the package's writer.)

#: The columns of the outcomes file (:meth:`UserOutcome.to_row`), its header row.
OUTCOME_COLUMNS: tuple[str, ...] = (
    "auth0_user_id",
    "line",
    "outcome",
    "password",
    "social_logins",
    "notes",
)


@frozen
class UserOutcome:
    """What became of one Auth0 user (or unreadable record): one row of the outcomes file.

    Attributes:
        user_id: The Auth0 user id (``None``: an unreadable record whose id could not be read).
        line: Its line in the users export.
        kind: ``"identity"`` (imported as its own identity), ``"merged"`` (into
            :attr:`merged_into`'s identity), ``"skipped"`` (see :attr:`reason`) or
            ``"unreadable"``.
        reason: Why it was skipped (a ``SkipReason``) or could not be read.
        merged_into: For ``merged``: the Auth0 user whose identity it joined.
        password: For ``identity``: where the password comes from (``"hash"``,
            ``"hook"`` or ``"none"``).
        social_logins: For ``identity``: the social (OIDC) logins kept.
        notes: Sentences for humans: the report's notes on the user, the
            detail of a skip, the reason of an unreadable record (never a secret).

    .. versionadded:: 0.1.0
    """

    user_id: str | None
    line: int
    kind: Literal["identity", "merged", "skipped", "unreadable"]
    reason: str | None = None
    merged_into: str | None = None
    password: PasswordSource | None = None
    social_logins: int = 0
    notes: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """The outcome column: ``identity``, ``merged into X``, ``skipped: R`` or ``unreadable``."""
        if self.kind == "merged":
            return f"merged into {self.merged_into}"
        if self.kind == "skipped":
            return f"skipped: {self.reason}"
        return self.kind

    def to_row(self) -> tuple[str, ...]:
        """The row of :data:`OUTCOME_COLUMNS`, as strings (empty where a column does not apply)."""
        identity = self.kind == "identity"
        return (
            self.user_id or "",
            str(self.line),
            self.outcome,
            self.password or "",
            str(self.social_logins) if identity else "",
            "; ".join(self.notes),
        )


def _note(note: Note, user_id: str) -> str:
    who = "" if note.user_id == user_id else f" ({note.user_id})"
    return f"{note.code}{who}: {note.detail}"


def user_outcome(item: PlannedIdentity | Skipped | UnreadableRecord) -> UserOutcome:
    """What *item*, one item of a plan, says became of its Auth0 user.

    A plan (:func:`~auth0_ory_migrate.plan_migration`) yields exactly one item
    per record of the users file, so its outcomes account for every user:
    ``write_identities(..., outcomes=...)`` writes them as the rows of a CSV
    file (``convert --outcomes``).

    Example:
        >>> rows = [user_outcome(item).to_row() for item in plan]  # doctest: +SKIP

    .. versionadded:: 0.1.0
    """
    if isinstance(item, PlannedIdentity):
        user_id = item.external_id
        return UserOutcome(
            user_id,
            item.line,
            "identity",
            password=item.password,
            social_logins=item.social_logins,
            notes=tuple(_note(n, user_id) for n in item.notes),
        )
    if isinstance(item, Skipped):
        notes = tuple(_note(n, item.user_id) for n in item.notes)
        if item.reason == "merged":
            return UserOutcome(
                item.user_id, item.line, "merged", item.reason, item.holder, notes=notes
            )
        return UserOutcome(
            item.user_id, item.line, "skipped", item.reason, notes=(item.detail, *notes)
        )
    return UserOutcome(item.user_id, item.line, "unreadable", item.reason, notes=(item.reason,))


class _Rows(list[str]):
    """What a :func:`csv.writer` writes to: each row, one string (it writes a row at once)."""

    write = list.append


class OutcomeLines:
    """Plan items → lines of the outcomes file, UTF-8 encoded (package use: the writer's).

    A CSV of :data:`OUTCOME_COLUMNS`, one line a row (LF), fields quoted
    where needed (:mod:`csv`'s default dialect otherwise).
    """

    #: The header line.
    HEADER = (",".join(OUTCOME_COLUMNS) + "\n").encode()

    def __init__(self) -> None:
        self._rows = _Rows()
        self._writer = csv.writer(self._rows, lineterminator="\n")

    def line(self, item: PlannedIdentity | Skipped | UnreadableRecord) -> bytes:
        """*item*'s row, one line."""
        row = user_outcome(item).to_row()
        try:
            self._writer.writerow(row)
        except csv.Error:  # a NUL character (Python < 3.11 cannot write one): said as \x00
            self._writer.writerow(tuple(field.replace("\0", "\\x00") for field in row))
        # A lone surrogate (from a JSON \ud800 escape) is written as its escape.
        return self._rows.pop().encode("utf-8", "backslashreplace")
