"""``check_users_read``: a users file with no readable user is one clear error (issue 11)."""

from __future__ import annotations

import pytest

from auth0_ory_migrate import MigrationReport, UnreadableRecord, check_users_read
from auth0_ory_migrate.exceptions import InputFileError


def _unreadable(n: int) -> MigrationReport:
    records = tuple(
        UnreadableRecord("users", i + 1, None, "not valid JSON (column 1)") for i in range(n)
    )
    return MigrationReport(unreadable={"users": n}, unreadable_records=records)


def test_a_report_with_users_passes() -> None:
    """One readable user is enough: nothing raised."""
    check_users_read(MigrationReport(users_read=1, identities=1), b"")


@pytest.mark.parametrize("head", [b"", b"\n  \n", b"\xef\xbb\xbf\n"])
def test_an_empty_file_is_refused(head: bytes) -> None:
    """Empty (or blank) users file: says so, and names the flag that accepts it."""
    with pytest.raises(InputFileError, match=r"empty.*--allow-no-users"):
        check_users_read(MigrationReport(), head)


def test_a_json_object_is_named_with_its_first_key() -> None:
    """``{"users": [...]}``: said to be one JSON object (key "users"), with the way out."""
    with pytest.raises(InputFileError, match='one JSON object \\(first key "users"\\)') as e:
        check_users_read(_unreadable(1), b'{"users": [{"user_id": "auth0|1"}]}\n')
    assert "jq" in str(e.value)


def test_records_none_readable_names_the_first() -> None:
    """Lines that are all unreadable: how many, and the first one's line and reason."""
    with pytest.raises(
        InputFileError, match="3 records, none readable; the first: line 1: not valid"
    ):
        check_users_read(_unreadable(3), b"garbage\n" * 3)


def test_the_flag_accepts_an_intentionally_empty_input() -> None:
    """allow_no_users: an empty export (a connection without users) passes."""
    check_users_read(MigrationReport(), b"", allow_no_users=True)
