"""A state directory on a full or read-only file system: a clear error, then exactly once."""

from __future__ import annotations

import collections
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import ImportOutcome, Ledger
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.exceptions import LedgerError
from auth0_ory_migrate.testing import OryAdminServer


KEY = "ory_pat_full_disk_secret_0123456789"


pytestmark = pytest.mark.usefixtures("no_backoff")


def body(n: int) -> dict[str, Any]:
    return {
        "schema_id": "preset://email",
        "external_id": f"auth0|{n:06d}",
        "traits": {"email": f"user{n}@example.com"},
    }


def fill_up(monkeypatch: pytest.MonkeyPatch, *, after: int, errno_: int) -> None:
    """Writes to ledger.ndjson fail with *errno_* after *after* of them (half written first)."""
    real = os.write
    count = 0

    def write(fd: int, data: Any) -> int:
        nonlocal count
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("ledger.ndjson"):
            return real(fd, data)
        count += 1
        if count <= after:
            return real(fd, data)
        if len(data) > 1 and count == after + 1 and errno_ == errno.ENOSPC:
            return real(fd, bytes(data[: len(data) // 2]))  # the disk fills mid-line
        raise OSError(errno_, os.strerror(errno_))

    monkeypatch.setattr(os, "write", write)
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> Any:
        if "identity-ids" in str(kwargs.get("prefix")):  # the id map cannot be written either
            raise OSError(errno_, os.strerror(errno_))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORY_API_KEY": KEY})


@pytest.mark.parametrize("errno_", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("after", [0, 1, 4, 5])
def test_a_full_state_disk_stops_the_import_and_the_rerun_is_exactly_once(
    server: OryAdminServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    errno_: int,
    after: int,
) -> None:
    """Disk full / read-only mid-import: exit 2, the ledger named, counts so far; rerun: once."""
    ids = tmp_path / "ids.ndjson"
    ids.write_text("".join(json.dumps(body(n)) + "\n" for n in range(50)))
    state = tmp_path / "state"
    args = ["import", "--identities", str(ids), "--ory-url", server.url, "--batch-size", "10"]
    with monkeypatch.context() as m:
        fill_up(m, after=after, errno_=errno_)
        first = cli(*args, "--state-dir", str(state), "--quiet")
    assert first.exit_code == 2, first.output
    [line] = first.stderr.splitlines()
    assert line.startswith("error: cannot write the state file")
    assert "ledger.ndjson" in line
    assert os.strerror(errno_) in line
    assert "so far: created" in line
    assert "Traceback" not in first.output
    again = cli(*args, "--state-dir", str(state))
    assert again.exit_code == 0, again.output
    counts = collections.Counter(i.external_id for i in server.identities())
    assert len(counts) == 50
    assert set(counts.values()) == {1}
    final: dict[str, str] = {}
    for text in (state / "ledger.ndjson").read_text().splitlines():
        entry = json.loads(text)  # every line whole: nothing half-written is left
        if "status" in entry:
            final[entry["external_id"]] = entry["status"]
    assert final == dict.fromkeys(counts, "created")


def test_a_failed_record_leaves_the_ledger_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record() the disk cannot hold: LedgerError, nothing of it kept, later ones fine."""
    with Ledger.open(tmp_path / "s", input_digest="d") as ledger:
        ledger.record([ImportOutcome("a", "created", "id-a")])
        before = (tmp_path / "s" / "ledger.ndjson").read_bytes()
        with monkeypatch.context() as m:
            fill_up(m, after=0, errno_=errno.ENOSPC)
            with pytest.raises(LedgerError, match=r"ledger\.ndjson.*file system is full"):
                ledger.record([ImportOutcome(f"b{n}", "created", f"id-{n}") for n in range(9)])
        assert (tmp_path / "s" / "ledger.ndjson").read_bytes() == before
        assert not ledger.is_done("b0")
        ledger.record([ImportOutcome("c", "created", "id-c")])
    with Ledger.open(tmp_path / "s", input_digest="d") as ledger:
        assert ledger.is_done("a")
        assert ledger.is_done("c")
        assert not ledger.is_done("b0")


@pytest.mark.parametrize("name", ["lock", "ledger.ndjson", ".state.json."])
def test_a_read_only_state_dir_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """EROFS creating a state file: LedgerError naming it, said as read-only; no traceback."""
    real = os.open

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if name in os.fspath(path) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    with pytest.raises(LedgerError, match="Read-only file system") as e:
        Ledger.open(tmp_path / "s", input_digest="d")
    assert name.strip(".") in str(e.value)
