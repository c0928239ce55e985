"""Rules about an input file as a whole, once it has been read (pure: records and bytes).

:func:`check_users_read` is public.
"""

from __future__ import annotations

from ..exceptions import InputFileError
from ._report import MigrationReport
from ._side_files import looks_like


__all__ = ["check_users_read"]

_ALLOW = "pass --allow-no-users if an export without users is what you meant"


def check_users_read(report: MigrationReport, head: bytes, *, allow_no_users: bool = False) -> None:
    """Refuse a users file in which no user could be read, naming what it looks like instead.

    A run whose users file yields no readable user is a wrong input, not an empty
    migration: an empty file (an interrupted download), one JSON object such as
    ``{"users": [...]}`` (an API response saved by hand) or a file of unreadable
    lines would otherwise end "0 identities written", exit status 0.

    Args:
        report: The report of the run over the file.
        head: The file's first bytes (gzip undone; 64 KiB is plenty): what
            the message describes. Only looked at when no user was read.
        allow_no_users: Accept a file without users (a connection that has
            none): nothing is raised.

    Raises:
        InputFileError: ``report.users_read`` is 0 and *allow_no_users* is false.

    Example:
        >>> check_users_read(MigrationReport(users_read=2, identities=2), b"")

    .. versionadded:: 0.1.0
    """
    if report.users_read or allow_no_users:
        return
    kind, looks = looks_like(head)
    if kind not in ("empty", "object", "password_hashes", "mfa_secrets"):
        records = report.unreadable_records
        count = report.unreadable.get("users", 0)
        first = next((r for r in records if r.source == "users"), None)
        looks = f"{count:,} records, none readable"
        if first is not None:
            looks += f"; the first: line {first.line}: {first.reason}"
    msg = f"no readable user: {looks}; {_ALLOW}"
    raise InputFileError("users", msg)
