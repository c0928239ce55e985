"""Every user accounted for in one place: the outcome rows of a plan and how they are written."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_ory_migrate import (
    OUTCOME_COLUMNS,
    ConfigurationError,
    InvalidRecordError,
    Note,
    PlannedIdentity,
    Skipped,
    UnreadableRecord,
    UserOutcome,
    UsersFile,
    index_password_hashes,
    plan_migration,
    read_password_hashes,
    user_outcome,
    write_identities,
)
from auth0_ory_migrate._runtime import _parallel
from auth0_ory_migrate.testing import auth0_users, write_export
from auth0_ory_migrate.testing.strategies import Auth0Export, auth0_exports


@pytest.fixture(autouse=True)
def _small_blocks(forked_workers: Callable[[int], None]) -> None:
    """Blocks of a few lines and no other thread, so that the workers are forked and busy."""
    forked_workers(700)


def _identity(**kwargs: Any) -> PlannedIdentity:
    return PlannedIdentity(external_id="auth0|a", line=3, body={}, **kwargs)


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


# --- the pure rows ------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["hash", "hook", "none"])
def test_an_identity_row_says_its_password_path(password: Any) -> None:
    """An imported user's row says where its password comes from: hash, hook or none."""
    outcome = user_outcome(_identity(password=password))
    assert outcome == UserOutcome("auth0|a", 3, "identity", password=password)
    assert outcome.to_row() == ("auth0|a", "3", "identity", password, "0", "")


def test_an_identity_row_counts_social_logins_and_lists_notes() -> None:
    """Social logins kept are counted; notes are listed with their code, others' with their id."""
    item = _identity(
        password="hook",
        social_logins=2,
        notes=(
            Note("auth0|a", "stale_password_hash", "the hash is older than the last reset"),
            Note("google-oauth2|1", "totp_not_merged", "auth0|a's TOTP secret is kept"),
        ),
    )
    row = user_outcome(item).to_row()
    assert row[3:] == (
        "hook",
        "2",
        "stale_password_hash: the hash is older than the last reset; "
        "totp_not_merged (google-oauth2|1): auth0|a's TOTP secret is kept",
    )


def test_a_merged_user_row_names_the_identity_it_joined() -> None:
    """A merged user's row says "merged into" the holder; it has no password path of its own."""
    item = Skipped("google-oauth2|1", 7, "merged", "same verified email", holder="auth0|a")
    outcome = user_outcome(item)
    assert outcome.kind == "merged"
    assert outcome.merged_into == "auth0|a"
    assert outcome.to_row() == ("google-oauth2|1", "7", "merged into auth0|a", "", "", "")


def test_a_skipped_user_row_says_why() -> None:
    """A skipped user's row gives the reason code and the detail."""
    item = Skipped("sms|1", 9, "no_email", "no email address: preset://email needs one")
    assert user_outcome(item).to_row() == (
        "sms|1",
        "9",
        "skipped: no_email",
        "",
        "",
        "no email address: preset://email needs one",
    )


def test_an_unreadable_record_row_says_why() -> None:
    """An unreadable record's row has its line, the user id when known, and the reason."""
    assert user_outcome(UnreadableRecord("users", 13, None, "not JSON")).to_row() == (
        "",
        "13",
        "unreadable",
        "",
        "",
        "not JSON",
    )
    named = user_outcome(UnreadableRecord("users", 14, "auth0|cut", "truncated"))
    assert named.to_row()[:3] == ("auth0|cut", "14", "unreadable")


def test_the_columns_are_the_rows_fields() -> None:
    """The header names each column of a row."""
    assert OUTCOME_COLUMNS == (
        "auth0_user_id",
        "line",
        "outcome",
        "password",
        "social_logins",
        "notes",
    )


# --- written with the identities ----------------------------------------------------------------


def _ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _write(users: bytes, hashes: bytes, jobs: int) -> tuple[bytes, bytes, list[Any]]:
    """The identities file, the outcomes file and the plan's items (iterated in one process)."""
    index = index_password_hashes(read_password_hashes(io.BytesIO(hashes)))
    plan = plan_migration(UsersFile(lambda: io.BytesIO(users)), password_hashes=index)
    out, outcomes = io.BytesIO(), io.BytesIO()
    write_identities(plan, out, jobs=jobs, outcomes=outcomes)
    again = plan_migration(UsersFile(lambda: io.BytesIO(users)), password_hashes=index)
    return out.getvalue(), outcomes.getvalue(), list(again)


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
@settings(max_examples=20, deadline=None)
@given(auth0_exports(max_users=14, duplicate_records=True), st.integers(2, 3), st.booleans())
def test_workers_write_the_rows_of_one_process(
    export: Auth0Export, jobs: int, garbage: bool
) -> None:
    """Any export: the same outcomes with 1, 2 or 3 workers: one row per plan item, in order."""
    users = _ndjson(export.users) + (b"{not json\n[1]\n" if garbage else b"")
    hashes = _ndjson(export.password_hashes)
    identities, outcomes, items = _write(users, hashes, jobs=1)
    assert _write(users, hashes, jobs=jobs)[:2] == (identities, outcomes)
    assert _rows(outcomes) == [
        dict(zip(OUTCOME_COLUMNS, user_outcome(item).to_row(), strict=True)) for item in items
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_realistic_export_has_one_row_per_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """600 users (merges, duplicates, social logins): one row each, the same with 2 workers."""
    started: list[bool] = []
    start = _parallel._start_workers

    def counting(context: Any, scan: Any, jobs: int, *, outcomes: bool = False) -> Any:
        started.append(outcomes)
        return start(context, scan, jobs, outcomes=outcomes)

    monkeypatch.setattr(_parallel, "_start_workers", counting)
    files = write_export(tmp_path, auth0_users(600, seed=8, real_hashes=False, mfa=False))
    assert files.password_hashes is not None
    users, hashes = files.users.read_bytes(), files.password_hashes.read_bytes()
    identities, outcomes, items = _write(users, hashes, jobs=1)
    assert _write(users, hashes, jobs=2)[:2] == (identities, outcomes)
    assert started == [True]
    rows = _rows(outcomes)
    assert len(rows) == len(items) == 600
    kinds = {row["outcome"].split(" ")[0].rstrip(":") for row in rows}
    assert {"identity", "merged", "skipped"} <= kinds
    assert {row["password"] for row in rows if row["outcome"] == "identity"} >= {"hash", "hook"}


def test_without_outcomes_nothing_changes() -> None:
    """The identities file is the same with or without outcomes."""
    users = _ndjson([{"user_id": f"auth0|{i}", "email": f"{i}@example.com"} for i in range(20)])
    plain = io.BytesIO()
    write_identities(plan_migration(UsersFile(lambda: io.BytesIO(users))), plain)
    assert _write(users, b"", jobs=1)[0] == plain.getvalue()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_path_is_written_whole_with_mode_0644(tmp_path: Path, jobs: int) -> None:
    """Given a path, the outcomes file (it names no secret) is made new with mode 0644."""
    users = _ndjson([{"user_id": f"auth0|{i}", "email": f"{i}@example.com"} for i in range(20)])
    path = tmp_path / "outcomes.csv"
    previous = os.umask(0o077)
    try:
        write_identities(
            plan_migration(UsersFile(lambda: io.BytesIO(users))),
            io.BytesIO(),
            jobs=jobs,
            outcomes=path,
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert len(_rows(path.read_bytes())) == 20
    assert [p.name for p in tmp_path.iterdir()] == ["outcomes.csv"]


def test_a_symlink_at_the_outcomes_path_is_refused(tmp_path: Path) -> None:
    """The outcomes file is never written through a symbolic link."""
    target, link = tmp_path / "elsewhere", tmp_path / "outcomes.csv"
    target.write_bytes(b"keep me")
    link.symlink_to(target)
    plan = plan_migration(UsersFile(lambda: io.BytesIO(b'{"user_id": "auth0|1"}\n')))
    with pytest.raises(ConfigurationError, match="symbolic link"):
        write_identities(plan, io.BytesIO(), outcomes=link)
    assert target.read_bytes() == b"keep me"


def test_an_error_leaves_no_half_written_outcomes_file(tmp_path: Path) -> None:
    """A run that fails part-way leaves no outcomes file (and no temporary file) behind."""
    users = _ndjson([{"user_id": "auth0|1"}]) + b'{"no": "user_id"}\n'
    plan = plan_migration(UsersFile(lambda: io.BytesIO(users), strict=True))
    with pytest.raises(InvalidRecordError):
        write_identities(plan, io.BytesIO(), outcomes=tmp_path / "outcomes.csv")
    assert list(tmp_path.iterdir()) == []
