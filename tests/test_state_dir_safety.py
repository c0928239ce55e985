"""The state directory cannot be subverted: no symbolic links, no shared directories."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from auth0_ory_migrate import ImportOutcome, Ledger
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.exceptions import LedgerError


@pytest.mark.parametrize("name", ["ledger.ndjson", "state.json", "lock"])
def test_a_symlinked_state_file_is_refused_and_its_target_untouched(
    tmp_path: Path, name: str
) -> None:
    """A state file that is a symbolic link: LedgerError; the link's target is not touched."""
    state = tmp_path / "state"
    Ledger.open(state, input_digest="d").close()
    target = tmp_path / "precious"
    target.write_bytes(b"precious, no newline")
    (state / name).unlink()
    (state / name).symlink_to(target)
    with pytest.raises(LedgerError, match="symbolic link"):
        Ledger.open(state, input_digest="d")
    assert target.read_bytes() == b"precious, no newline"


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o1777])
def test_a_directory_others_can_write_to_is_refused_before_anything_is_written(
    tmp_path: Path, mode: int
) -> None:
    """Group- or world-writable state dir (even sticky): refused, nothing created in it."""
    state = tmp_path / "shared"
    state.mkdir()
    state.chmod(mode)
    with pytest.raises(LedgerError, match=r"writable by others .*chmod 700"):
        Ledger.open(state, input_digest="d")
    assert list(state.iterdir()) == []


def test_a_directory_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state dir owned by someone else (as root in a user's folder): refused."""
    state = tmp_path / "theirs"
    Ledger.open(state, input_digest="d").close()
    before = sorted((p.name, p.stat().st_mtime_ns) for p in state.iterdir())
    monkeypatch.setattr(os, "geteuid", lambda: state.stat().st_uid + 1)
    with pytest.raises(LedgerError, match="belongs to another user"):
        Ledger.open(state, input_digest="d")
    with pytest.raises(LedgerError, match="belongs to another user"):
        Ledger.open_existing(state)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in state.iterdir()) == before


def test_the_lock_and_ledger_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """Lock and ledger.ndjson are made 0600 even under umask 0."""
    old = os.umask(0)
    try:
        Ledger.open(tmp_path / "state", input_digest="d").close()
    finally:
        os.umask(old)
    for name in ("lock", "ledger.ndjson", "state.json"):
        assert stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) == 0o600, name


def test_an_old_lock_file_is_made_private(tmp_path: Path) -> None:
    """A lock file an earlier version left 0644 is tightened to 0600."""
    state = tmp_path / "state"
    Ledger.open(state, input_digest="d").close()
    (state / "lock").chmod(0o644)
    Ledger.open(state, input_digest="d").close()
    assert stat.S_IMODE((state / "lock").stat().st_mode) == 0o600


def test_cli_refuses_a_shared_state_dir_in_one_line_exit_2(tmp_path: Path) -> None:
    """Import with a world-writable --state-dir: one error line, exit 2, nothing written."""
    ids = tmp_path / "ids.ndjson"
    ids.write_text('{"schema_id": "preset://email", "external_id": "a", "traits": {}}\n')
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    args = ["import", "--identities", str(ids), "--ory-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(main, [*args, "--api-key", "k", "--state-dir", str(shared)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: the state directory")
    assert "Traceback" not in result.output
    assert list(shared.iterdir()) == []


def test_undo_refuses_a_symlinked_ledger(tmp_path: Path) -> None:
    """Undo through a symlinked ledger.ndjson: one error line, exit 2."""
    state = tmp_path / "state"
    with Ledger.open(state, input_digest="d") as ledger:
        ledger.record([ImportOutcome("a", "created", "id-a")])
    real = tmp_path / "elsewhere.ndjson"
    (state / "ledger.ndjson").rename(real)
    (state / "ledger.ndjson").symlink_to(real)
    args = ["undo", "--ory-url", "http://127.0.0.1:9", "--api-key", "k", "--yes"]
    result = CliRunner().invoke(main, [*args, "--state-dir", str(state)])
    assert result.exit_code == 2, result.output
    assert "symbolic link" in result.stderr
    assert result.stderr.count("\n") == 1
