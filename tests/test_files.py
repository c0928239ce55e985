"""The public file helpers: ``open_input`` (a helper process inflates gzip), ``private_file``."""

from __future__ import annotations

import errno
import gzip
import io
import os
import stat
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from auth0_ory_migrate import (
    ConfigurationError,
    InputFileError,
    OutputFileError,
    UsersFile,
    open_input,
    private_file,
    read_users,
)


LINES = b"".join(b'{"user_id":"auth0|%d","email":"u%d@x.example"}\n' % (i, i) for i in range(3000))


def _helpers() -> list[int]:
    """Pids of this process's children that run the inflating helper (Linux)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == os.getpid() and b"decompressobj" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_plain_file_is_read_as_it_is(tmp_path: Path) -> None:
    """A file that is not gzip is opened directly and read unchanged."""
    path = tmp_path / "users.ndjson"
    path.write_bytes(LINES)
    with open_input(path) as f:
        assert f.read() == LINES


def test_gzip_is_inflated_by_a_helper(tmp_path: Path) -> None:
    """A gzipped file reads as its plain bytes, whatever its name."""
    path = tmp_path / "users.json"
    path.write_bytes(gzip.compress(LINES))
    with open_input(path) as f:
        assert f.read() == LINES


def test_several_gzip_members_and_zero_padding(tmp_path: Path) -> None:
    """Concatenated gzip members read as one stream, as gzip.decompress reads them."""
    data = gzip.compress(LINES) + b"\0\0" + gzip.compress(b'{"user_id":"auth0|x"}\n') + b"\0\0\0"
    path = tmp_path / "users.ndjson.gz"
    path.write_bytes(data)
    with open_input(path) as f:
        assert f.read() == gzip.decompress(data)


def test_empty_gzip_reads_as_empty(tmp_path: Path) -> None:
    """A gzip stream of nothing is an empty file."""
    path = tmp_path / "users.ndjson.gz"
    path.write_bytes(gzip.compress(b""))
    with open_input(path) as f:
        assert list(read_users(f)) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:-8] + b"\0\0\0\0" + data[-4:], id="bad checksum"),
        pytest.param(lambda data: data + b"not gzip", id="trailing garbage"),
    ],
)
def test_damaged_gzip_is_an_input_file_error_after_the_good_records(
    tmp_path: Path, damage: object
) -> None:
    """A damaged stream raises InputFileError (naming the input), after the records before it."""
    path = tmp_path / "users.ndjson.gz"
    path.write_bytes(damage(gzip.compress(LINES * 40)))  # type: ignore[operator]
    read: list[object] = []
    with open_input(path) as f:
        users = read_users(f)
        with pytest.raises(InputFileError) as caught:
            read.extend(users)
    assert str(caught.value).startswith("users: the gzip stream is damaged or truncated")
    assert read  # the records before the damage


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_stopping_early_ends_the_helper(tmp_path: Path) -> None:
    """Leaving the with block before the end kills and reaps the helper: no process is left."""
    path = tmp_path / "users.ndjson.gz"
    path.write_bytes(gzip.compress(LINES * 50))
    with open_input(path) as f:
        assert f.readline().startswith(b'{"user_id":"auth0|0"')
        assert len(_helpers()) == 1
    assert _helpers() == []


def test_without_a_helper_the_file_is_read_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the helper cannot start, the gzipped file is handed over as is (readers inflate it)."""
    path = tmp_path / "users.ndjson.gz"
    path.write_bytes(gzip.compress(LINES))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    users = UsersFile(lambda: open_input(path))
    assert sum(1 for _ in users) == 3000
    with open_input(path) as f:
        assert f.read(2) == b"\x1f\x8b"


def test_the_helper_inflates_with_zlib_when_isal_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the ``fast`` extra's isal, the helper uses the standard library's zlib."""
    from auth0_ory_migrate._runtime import _files

    monkeypatch.setattr(
        _files, "_INFLATE", "import sys; sys.modules['isal'] = None\n" + _files._INFLATE
    )
    path = tmp_path / "users.ndjson.gz"
    path.write_bytes(gzip.compress(LINES))
    with open_input(path) as f:
        assert f.read() == LINES
    path.write_bytes(gzip.compress(LINES)[:-8])
    with open_input(path) as f, pytest.raises(zlib.error, match="end-of-stream"):
        f.read()


# --- private_file ------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_private_file_is_made_with_mode_0600(tmp_path: Path) -> None:
    """A new file, or one that was readable by others, ends up mode 0600 with the data written."""
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    old.write_bytes(b"before")
    old.chmod(0o644)
    for path in (new, old):
        with private_file(path) as f:
            f.write(b"secret")
        assert path.read_bytes() == b"secret"
        assert _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "old.json"]


def test_private_file_refuses_a_symlink(tmp_path: Path) -> None:
    """A symbolic link at the path is refused: neither it nor the file it points to changes."""
    target, link = tmp_path / "elsewhere", tmp_path / "identities.ndjson"
    target.write_bytes(b"keep me")
    link.symlink_to(target)
    with pytest.raises(ConfigurationError, match="symbolic link"), private_file(link) as f:
        f.write(b"secret")  # pragma: no cover - never reached
    assert link.is_symlink()
    assert target.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "identities.ndjson"]


def test_private_file_leaves_nothing_half_written(tmp_path: Path) -> None:
    """An error in the with block leaves the path as it was and no temporary file behind."""
    path = tmp_path / "report.json"
    path.write_bytes(b"the old report")

    def write_half() -> None:
        with private_file(path) as f:
            f.write(b"half")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        write_half()
    assert path.read_bytes() == b"the old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


class _FullDisk(io.RawIOBase):
    """A file on a disk that fills up after *room* bytes (``ENOSPC``, as write(2) says)."""

    def __init__(self, fd: int, room: int, errno_: int = errno.ENOSPC) -> None:
        self._fd, self._room, self._errno = fd, room, errno_

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, b: Any) -> int:
        if len(b) > self._room:
            raise OSError(self._errno, os.strerror(self._errno))
        self._room -= len(b)
        return os.write(self._fd, b)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def full_disk(
    monkeypatch: pytest.MonkeyPatch, room: int = 100, errno_: int = errno.ENOSPC, name: str = ""
) -> None:
    """Make the files :func:`private_file` opens (whose path has *name*) fill the disk."""
    real = os.fdopen

    def fdopen(fd: int, mode: str = "r", buffering: int = -1, **kwargs: Any) -> Any:
        if mode != "wb" or name not in os.readlink(f"/proc/self/fd/{fd}"):
            return real(fd, mode, buffering, **kwargs)
        return io.BufferedWriter(_FullDisk(fd, room, errno_), buffer_size=64)

    monkeypatch.setattr(os, "fdopen", fdopen)


@pytest.mark.parametrize("errno_", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
def test_a_full_disk_is_an_output_file_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno_: int
) -> None:
    """Disk full / read-only mid-write: OutputFileError naming the file; nothing left behind."""
    path = tmp_path / "identities.ndjson"
    full_disk(monkeypatch, errno_=errno_)

    def write() -> None:
        with private_file(path) as f:
            for _ in range(100):
                f.write(b"x" * 50)

    with pytest.raises(OutputFileError, match=r"identities\.ndjson") as e:
        write()
    assert os.strerror(errno_).lower() in str(e.value).lower()
    assert "nothing written under that name" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_other_errors_in_the_block_are_not_blamed_on_the_file(tmp_path: Path) -> None:
    """An OSError that is not the file's own (e.g. reading an input) passes through unchanged."""

    def write() -> None:
        with private_file(tmp_path / "out") as f:
            f.write(b"x")
            (tmp_path / "no-such-input").read_bytes()

    with pytest.raises(FileNotFoundError):
        write()
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder_is_an_output_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EROFS making the temporary file: OutputFileError naming the file, not a bare OSError."""

    def mkstemp(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with (
        pytest.raises(OutputFileError, match=r"report\.json: Read-only file system"),
        private_file(tmp_path / "report.json"),
    ):
        pass
