"""``write_identities``: the mapping spread over forked workers writes what one process writes."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_ory_migrate import (
    Auth0OryMigrateError,
    ConfigurationError,
    InvalidRecordError,
    MappingOptions,
    MigrationReport,
    UsersFile,
    index_mfa_secrets,
    index_password_hashes,
    open_input,
    plan_from_files,
    plan_migration,
    read_mfa_secrets,
    read_password_hashes,
    write_identities,
)
from auth0_ory_migrate._runtime import _parallel
from auth0_ory_migrate.testing import auth0_users, write_export
from auth0_ory_migrate.testing.strategies import Auth0Export, auth0_exports


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


@pytest.fixture(autouse=True)
def _small_blocks(forked_workers: Callable[[int], None]) -> None:
    """Blocks of a few lines, so that every test spreads its users over many blocks and workers."""
    forked_workers(700)


def _ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _write(
    users: bytes, hashes: bytes, mfa: bytes, jobs: int, *, strict: bool = False
) -> tuple[bytes, MigrationReport]:
    plan = plan_migration(
        UsersFile(lambda: io.BytesIO(users), strict=strict),
        password_hashes=index_password_hashes(read_password_hashes(io.BytesIO(hashes))),
        mfa_secrets=index_mfa_secrets(read_mfa_secrets(io.BytesIO(mfa))),
    )
    out = io.BytesIO()
    report = write_identities(plan, out, jobs=jobs)
    assert plan.report is report
    return out.getvalue(), report


@settings(max_examples=25)
@given(auth0_exports(max_users=14, duplicate_records=True), st.integers(2, 3), st.data())
def test_any_export_is_written_the_same_by_workers(
    export: Auth0Export, jobs: int, data: st.DataObject
) -> None:
    """Any export, shared emails and repeated records included: the same bytes, the same report."""
    users = _ndjson(export.users)
    if len(export.users) > 0 and data.draw(st.booleans(), label="garbage lines"):
        lines = users.splitlines(keepends=True)
        at = data.draw(st.integers(0, len(lines)))
        users = b"".join([*lines[:at], b"{not json\n", b"\n", b"[1]\n", *lines[at:]])
    hashes, mfa = _ndjson(export.password_hashes), _ndjson(export.mfa_secrets)
    alone = _write(users, hashes, mfa, jobs=1)
    spread = _write(users, hashes, mfa, jobs=jobs)
    assert spread[0] == alone[0]
    assert spread[1] == alone[1]


def test_a_realistic_export_is_written_the_same_by_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """600 users (merges, duplicates, social logins, TOTP, stale hashes) in 2 or 3 workers."""
    started: list[int] = []
    start = _parallel._start_workers

    def counting(plan: Any, scan: Any, jobs: int) -> Any:
        started.append(jobs)
        return start(plan, scan, jobs)

    monkeypatch.setattr(_parallel, "_start_workers", counting)
    files = write_export(tmp_path, auth0_users(600, seed=8, real_hashes=False, mfa=True))
    assert files.password_hashes is not None
    assert files.mfa_secrets is not None
    users, hashes = files.users.read_bytes(), files.password_hashes.read_bytes()
    mfa = files.mfa_secrets.read_bytes()
    alone = _write(users, hashes, mfa, jobs=1)
    assert alone[1].merged
    assert alone[1].skipped.get("duplicate_email")
    for jobs in (2, 3):
        assert _write(users, hashes, mfa, jobs=jobs) == alone
    assert started == [2, 3]


def test_blocks_and_results_bigger_than_the_pipes_never_deadlock() -> None:
    """Lines of 1.5 MB (blocks and results over a pipe's 1 MiB) in a row: written as in one process.

    Two blocks are in flight per worker; one that cannot wait in the pipe beside another
    goes when none is in flight (else the parent would wait to send to a worker that
    waits to send it a result).
    """
    records: list[dict[str, Any]] = [
        {"user_id": f"auth0|{i:024x}", "email": f"u{i}@example.com"} for i in range(60)
    ]
    for i in range(20, 26):
        records[i]["user_metadata"] = {"bio": "x" * 1_500_000}
    users = _ndjson(records)
    child = multiprocessing.get_context("fork").Process(target=_same_in_workers, args=(users,))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the workers and the parent deadlocked")
    assert child.exitcode == 0


def _same_in_workers(users: bytes) -> None:
    """Exit 0 if the workers write what one process writes (in a child: a deadlock stays there)."""
    os._exit(0 if _write(users, b"", b"", jobs=2) == _write(users, b"", b"", jobs=1) else 1)


def test_strict_raises_on_the_first_unreadable_record_in_file_order() -> None:
    """In strict mode the workers' first unreadable record raises, naming its line."""
    records = [{"user_id": f"auth0|{i:024x}", "email": f"u{i}@example.com"} for i in range(40)]
    lines = _ndjson(records).splitlines(keepends=True)
    users = b"".join([*lines[:25], b'{"no": "user_id"}\n', *lines[25:33], b"[]\n", *lines[33:]])
    with pytest.raises(InvalidRecordError) as caught:
        _write(users, b"", b"", jobs=2, strict=True)
    assert caught.value.line == 26


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_other_formats_are_planned_in_this_process(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON array or the job's CSV is not split into lines: no worker, the same result."""
    files = write_export(tmp_path, auth0_users(40, seed=2, real_hashes=False), fmt=fmt)  # type: ignore[arg-type]
    assert files.password_hashes is not None
    users, hashes = files.users.read_bytes(), files.password_hashes.read_bytes()
    alone = _write(users, hashes, b"", jobs=1)
    monkeypatch.setattr(_parallel, "_start_workers", _no_workers)
    assert _write(users, hashes, b"", jobs=2) == alone


def _no_workers(*args: object) -> None:
    raise AssertionError("no worker should start")


def test_with_other_threads_running_nothing_is_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking a process that runs threads is unsafe: then the plan runs in this process."""
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    monkeypatch.setattr(_parallel, "_start_workers", _no_workers)
    users = _ndjson([{"user_id": "auth0|1", "email": "a@example.com"}])
    body, report = _write(users, b"", b"", jobs=4)
    assert report.identities == 1
    assert json.loads(body)["external_id"] == "auth0|1"


def test_an_error_in_a_worker_is_raised_by_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in a worker reaches the caller; no worker is left behind."""

    def fail(*args: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(_parallel, "_map_block", fail)
    users = _ndjson([{"user_id": f"auth0|{i}", "email": f"{i}@example.com"} for i in range(50)])
    with pytest.raises(ValueError, match="boom"):
        _write(users, b"", b"", jobs=2)


def test_a_worker_that_dies_is_a_library_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-run (say, by the OOM killer) fails the run with a clear error."""

    def die(*args: object) -> None:
        os._exit(1)

    monkeypatch.setattr(_parallel, "_map_block", die)
    users = _ndjson([{"user_id": f"auth0|{i}", "email": f"{i}@example.com"} for i in range(50)])
    with pytest.raises(Auth0OryMigrateError, match="worker process died"):
        _write(users, b"", b"", jobs=2)


_STUCK_PARENT = """
import io, sys, time
from auth0_ory_migrate import UsersFile, plan_migration, write_identities
from auth0_ory_migrate._runtime import _parallel

def stuck(*args, **kwargs):
    print("workers started", flush=True)
    time.sleep(600)

_parallel._write_result = stuck
path = sys.argv[1]
plan = plan_migration(UsersFile(lambda: open(path, "rb")))
write_identities(plan, io.BytesIO(), jobs=2)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_workers_end_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A parent killed with SIGKILL leaves no worker behind: they see their pipe close, and exit."""
    users = tmp_path / "users.ndjson"
    users.write_bytes(
        _ndjson([{"user_id": f"auth0|{i}", "email": f"{i}@x.io"} for i in range(3000)])
    )
    with subprocess.Popen(
        [sys.executable, "-c", _STUCK_PARENT, str(users)], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        assert parent.stdout.readline() == "workers started\n"
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        workers = [int(pid) for pid in children]
        assert len(workers) >= 2
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers)


# --- writing to a path -----------------------------------------------------------------------


def _plan_of(users: bytes) -> Any:
    return plan_migration(UsersFile(lambda: io.BytesIO(users)))


_USERS = _ndjson([{"user_id": f"auth0|{i}", "email": f"{i}@example.com"} for i in range(50)])


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_path_is_written_with_mode_0600(tmp_path: Path, jobs: int) -> None:
    """Given a path, the file is made with mode 0600 and holds what a file object gets."""
    in_memory = io.BytesIO()
    expected = write_identities(_plan_of(_USERS), in_memory, jobs=jobs)
    path = tmp_path / "identities.ndjson"
    path.write_bytes(b"an older file, readable by others")
    path.chmod(0o644)
    plan = _plan_of(_USERS)
    report = write_identities(plan, str(path), jobs=jobs)
    assert report == expected
    assert plan.report is report
    assert path.read_bytes() == in_memory.getvalue()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["identities.ndjson"]


def test_a_symlink_at_the_path_is_refused(tmp_path: Path) -> None:
    """A symbolic link at the path is not written through, nor replaced: a configuration error."""
    target, link = tmp_path / "elsewhere", tmp_path / "identities.ndjson"
    target.write_bytes(b"keep me")
    link.symlink_to(target)
    with pytest.raises(ConfigurationError, match="symbolic link"):
        write_identities(_plan_of(_USERS), link, jobs=2)
    assert link.is_symlink()
    assert target.read_bytes() == b"keep me"


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_error_leaves_no_half_written_file(tmp_path: Path, jobs: int) -> None:
    """A run that fails part-way leaves no identities file (and no temporary file) behind."""
    many = _ndjson([{"user_id": f"auth0|{i}", "email": f"{i}@example.com"} for i in range(3000)])
    users = many + b'{"no": "user_id"}\n' + _USERS
    path = tmp_path / "identities.ndjson"
    plan = plan_migration(UsersFile(lambda: io.BytesIO(users), strict=True))
    with pytest.raises(InvalidRecordError):
        write_identities(plan, path, jobs=jobs)
    assert list(tmp_path.iterdir()) == []


def test_a_file_object_is_written_as_it_is() -> None:
    """A binary file object is written to and left open; jobs=None picks the number itself."""
    out = io.BytesIO()
    report = write_identities(_plan_of(_USERS), out, jobs=None)
    assert report.identities == 50
    assert not out.closed
    assert out.getvalue().count(b"\n") == 50


# --- planning from files ------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
def test_plan_from_files_plans_like_plan_migration(tmp_path: Path, gzipped: bool) -> None:
    """plan_from_files (users scanned as the side files are read) plans like plan_migration."""
    files = write_export(
        tmp_path,
        auth0_users(200, seed=5, real_hashes=False, mfa=True),
        fmt="ndjson.gz" if gzipped else "ndjson",
    )
    assert files.password_hashes is not None
    assert files.mfa_secrets is not None
    options = MappingOptions(without_hash="none")
    expected = plan_migration(
        UsersFile(lambda: open_input(files.users)),
        password_hashes=index_password_hashes(
            read_password_hashes(io.BytesIO(files.password_hashes.read_bytes()))
        ),
        mfa_secrets=index_mfa_secrets(read_mfa_secrets(io.BytesIO(files.mfa_secrets.read_bytes()))),
        options=options,
    )
    plan = plan_from_files(
        files.users,
        password_hashes=files.password_hashes,
        mfa_secrets=files.mfa_secrets,
        options=options,
    )
    assert plan.options is options
    assert list(plan) == list(expected)
    assert plan.report == expected.report
    assert plan.report.totp
    assert plan.report.password_hashes_read


def test_a_worker_whose_parent_stopped_listening_ends_quietly() -> None:
    """A worker whose answer cannot be sent (the parent closed its end) ends, raising nothing."""
    parent, worker = _parallel._links(multiprocessing.get_context("fork"))
    parent.send((1, b'{"user_id": "auth0|1"}\n'))
    # As in a forked worker: the parent's ends are closed (its inbox too: it reads no more).
    _parallel._work(worker, None, None, [parent], mapper=lambda *_: "mapped")  # type: ignore[arg-type]
