"""Rules about an input file as a whole, once it has been read (pure: records and bytes).

:func:`check_users_read` is public.
"""

from __future__ import annotations

import re

from ..exceptions import InputFileError
from ._report import MigrationReport


__all__ = ["check_users_read"]

_FIRST_KEY = re.compile(rb'\A\s*\{\s*"((?:[^"\\]|\\.){0,64})"')
_BOM = b"\xef\xbb\xbf"
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
    text = head.removeprefix(_BOM)
    if not text.strip():
        looks = "the file is empty"
    elif key := _FIRST_KEY.match(text):
        name = key.group(1).decode("utf-8", "replace")
        looks = (
            f'the file is one JSON object (first key "{name}"), not Auth0\'s user export '
            "(one user object per line, or a JSON array of users); if the users are a list "
            f"inside it, take them out, e.g. jq -c '.{name}[]' FILE > users.ndjson"
        )
    else:
        records = report.unreadable_records
        count = report.unreadable.get("users", 0)
        first = next((r for r in records if r.source == "users"), None)
        looks = f"{count:,} records, none readable"
        if first is not None:
            looks += f"; the first: line {first.line}: {first.reason}"
    msg = f"no readable user: {looks}; {_ALLOW}"
    raise InputFileError("users", msg)
