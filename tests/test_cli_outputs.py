"""Whole inputs and outputs: a wrong one is refused before anything is written (issue 11)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import OryAdminServer

from .test_files import full_disk


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_guide_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own AUTH0_USERDATA / AUTH0_PWEXPORT / RESERVE_ONLY out of the tests."""
    for name in ("AUTH0_USERDATA", "AUTH0_PWEXPORT", "RESERVE_ONLY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def inputs(examples: Path, tmp_path: Path) -> Path:
    """A copy of the example exports in a directory of their own."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("auth0-users.ndjson", "auth0-password-hashes.json", "auth0-mfa-secrets.ndjson"):
        shutil.copy(examples / name, d / name)
    return d


def _convert(inputs: Path, out: Path | str, report: Path | str, *extra: str) -> Result:
    args = ["convert", "--users", str(inputs / "auth0-users.ndjson")]
    args += ["--password-hashes", str(inputs / "auth0-password-hashes.json")]
    args += ["--out", str(out), "--report", str(report), *extra]
    return CliRunner().invoke(main, args)


def _untouched(inputs: Path, examples: Path) -> None:
    for f in inputs.iterdir():
        assert f.read_bytes() == (examples / f.name).read_bytes(), f.name


# --- 1. an output that is also an input ------------------------------------------------------


def test_report_naming_the_hash_export_is_refused(
    inputs: Path, examples: Path, tmp_path: Path
) -> None:
    """--report naming the hash export: exit 2, the export untouched, nothing written."""
    result = _convert(inputs, tmp_path / "ids.ndjson", inputs / "auth0-password-hashes.json")
    assert result.exit_code == 2, result.output
    assert "--report" in result.stderr
    assert "--password-hashes" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    _untouched(inputs, examples)
    assert not (tmp_path / "ids.ndjson").exists()


def test_out_naming_the_users_file_by_another_name_is_refused(
    inputs: Path, examples: Path, tmp_path: Path
) -> None:
    """--out a hard link to the users file (same inode, other name): exit 2, nothing written."""
    link = tmp_path / "link.ndjson"
    os.link(inputs / "auth0-users.ndjson", link)
    result = _convert(inputs, link, tmp_path / "r.json")
    assert result.exit_code == 2, result.output
    assert "--out" in result.stderr
    assert "--users" in result.stderr
    _untouched(inputs, examples)
    assert not (tmp_path / "r.json").exists()


def test_out_and_report_the_same_file_is_refused(inputs: Path, tmp_path: Path) -> None:
    """--out and --report naming one file: exit 2 before either is written."""
    result = _convert(inputs, tmp_path / "x.json", tmp_path / "x.json")
    assert result.exit_code == 2, result.output
    assert "--out" in result.stderr
    assert "--report" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_migrate_report_naming_the_users_file_is_refused(inputs: Path, examples: Path) -> None:
    """Migrate --report naming the users export: exit 2 before Ory is asked anything."""
    args = ["migrate", "--users", str(inputs / "auth0-users.ndjson")]
    args += ["--report", str(inputs / "auth0-users.ndjson"), "--ory-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(main, args, env={"ORY_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert "--report" in result.stderr
    assert "--users" in result.stderr
    _untouched(inputs, examples)


# --- 3. an output folder that does not exist or is not writable -------------------------------


def test_report_in_a_missing_folder_is_refused_before_the_identities_are_written(
    inputs: Path, tmp_path: Path
) -> None:
    """--report in a missing folder: exit 2, one line, and the hash-bearing file not written."""
    result = _convert(inputs, tmp_path / "ids.ndjson", tmp_path / "missing" / "r.json")
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.stderr
    assert "--report" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert list(tmp_path.iterdir()) == [inputs]


def test_out_in_a_missing_folder_is_refused(inputs: Path, tmp_path: Path) -> None:
    """--out in a missing folder: exit 2 naming it, no traceback."""
    result = _convert(inputs, tmp_path / "nope" / "ids.ndjson", tmp_path / "r.json")
    assert result.exit_code == 2, result.output
    assert f"the folder {tmp_path / 'nope'} does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == [inputs]


def test_out_in_a_folder_not_writable_is_refused(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--out in a folder this process may not write to: exit 2 before the report is written."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:
        if Path(str(path)) == locked and mode & os.W_OK:
            return False  # as for a read-only folder (root may write anywhere else)
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    result = _convert(inputs, locked / "ids.ndjson", tmp_path / "r.json")
    assert result.exit_code == 2, result.output
    assert "cannot make files in" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_out_naming_a_directory_is_refused(inputs: Path, tmp_path: Path) -> None:
    """--report naming an existing directory: exit 2 before the identities file is written."""
    (tmp_path / "r").mkdir()
    result = _convert(inputs, tmp_path / "ids.ndjson", tmp_path / "r")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "ids.ndjson").exists()


# --- 2. a users file with no readable user --------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "the file is empty"), (b'{"users": [{"user_id": "auth0|1"}]}\n', "one JSON object")],
)
def test_users_file_without_a_readable_user_is_refused(
    tmp_path: Path, content: bytes, says: str
) -> None:
    """Empty file, or one JSON object: exit 2 naming what it looks like, nothing written."""
    users = tmp_path / "users.json"
    users.write_bytes(content)
    args = ["convert", "--users", str(users), "--out", str(tmp_path / "o"), "--report"]
    result = CliRunner().invoke(main, [*args, str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert "--allow-no-users" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.json"]


def test_allow_no_users_converts_an_empty_export(tmp_path: Path) -> None:
    """--allow-no-users: an empty export converts to an empty file, exit 0."""
    users = tmp_path / "users.ndjson"
    users.write_bytes(b"")
    args = ["convert", "--users", str(users), "--out", str(tmp_path / "o"), "--report"]
    result = CliRunner().invoke(main, [*args, str(tmp_path / "r"), "--allow-no-users"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o").read_bytes() == b""


def test_migrate_of_an_empty_users_file_is_refused(tmp_path: Path) -> None:
    """Migrate of an empty users file: exit 2, no report written."""
    users = tmp_path / "users.ndjson"
    users.write_bytes(b"")
    with OryAdminServer(api_key="k") as server:
        args = ["migrate", "--users", str(users), "--report", str(tmp_path / "r.json")]
        args += ["--ory-url", server.url, "--state-dir", str(tmp_path / "state")]
        result = CliRunner().invoke(main, args, env={"ORY_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert "the file is empty" in result.stderr
    assert not (tmp_path / "r.json").exists()


# --- 4. disk full or read-only mid-run ------------------------------------------------------


@pytest.mark.parametrize("name", ["ids.ndjson", "r.json"])
def test_disk_full_mid_run_exits_2_naming_the_file_leaving_nothing(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """ENOSPC writing the identities (or the report): exit 2, the file named, no output left."""
    out = tmp_path / "out"
    out.mkdir()
    full_disk(monkeypatch, room=1000, name=name)
    result = _convert(inputs, out / "ids.ndjson", out / "r.json", "--jobs", "1")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output + result.stderr
    assert "no space left on device; nothing written under that name" in result.stderr.lower()
    assert f"{out / name}: " in result.stderr
    assert "the run so far:" in result.stderr  # the summary of what was planned before the error
    assert "users read:" in result.stderr
    assert list(out.iterdir()) == []


# --- 5. Ctrl-C ---------------------------------------------------------------------------------


def test_ctrl_c_during_convert_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """SIGINT while convert waits for its users (a named pipe): exit 130, no traceback, no file."""
    users = tmp_path / "users.ndjson"
    os.mkfifo(users)
    command = [sys.executable, "-m", "auth0_ory_migrate", "convert", "--users", str(users)]
    command += ["--out", str(tmp_path / "o.ndjson"), "--report", str(tmp_path / "r.json")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)  # started, and blocked opening the pipe
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out.decode() + err.decode()
    assert "Traceback" not in err.decode()
    assert err.decode().strip().splitlines() == ["interrupted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.ndjson"]


# --- 6. -q/--quiet, -o, --out - ---------------------------------------------------------------


def test_quiet_and_short_o(inputs: Path, tmp_path: Path) -> None:
    """-q prints nothing (errors only); -o is --out."""
    args = ["convert", "-q", "--users", str(inputs / "auth0-users.ndjson")]
    args += ["-o", str(tmp_path / "ids.ndjson"), "--report", str(tmp_path / "r.json")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert (tmp_path / "ids.ndjson").stat().st_size > 0


def test_out_dash_is_refused(inputs: Path, in_tmp_path: Path) -> None:
    """--out - (stdout) is refused: the file holds password hashes and must be a 0600 file."""
    result = _convert(inputs, "-", in_tmp_path / "r.json")
    assert result.exit_code == 2, result.output
    assert "--out -" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert sorted(p.name for p in in_tmp_path.iterdir()) == ["in"]
