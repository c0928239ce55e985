"""ForkedIdentityReader: Ory asked and read by a forked child, with the same results as here."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from auth0_ory_migrate import Auth0OryMigrateError, ForkedIdentityReader, OryAdmin, OryError
from auth0_ory_migrate._runtime import _reader
from auth0_ory_migrate.testing import OryAdminServer


KEY = "ory_pat_forked_reader_0123456789"


@pytest.fixture(params=["forked", "here"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: read by a forked child, and in this process (where it may not fork).

    (The test server runs in a thread of this process: pretend it does not, so that the child
    is forked; the child runs no thread and talks to the server over HTTP.)
    """
    if request.param == "forked":
        monkeypatch.setattr(threading, "active_count", lambda: 1)
    else:
        monkeypatch.setattr(_reader, "can_fork", lambda: False)
    return str(request.param)


def _identities(server: OryAdminServer, n: int) -> list[str]:
    bodies = [
        {"schema_id": "preset://email", "traits": {"email": f"u{i}@example.com"}} for i in range(n)
    ]
    return [server.add_identity(body).id for body in bodies]


def test_reads_what_ory_has_a_hundred_a_request(server: OryAdminServer, where: str) -> None:
    """Every identity Ory has, by id (an unknown id left out), 100 ids a request."""
    ids = _identities(server, 250)
    server.requests.clear()
    with ForkedIdentityReader(lambda: OryAdmin.from_url(server.url, KEY)) as reader:
        reader.answered()
        found = reader.get_identities([*ids, "00000000-0000-4000-8000-000000000000"])
        assert set(found) == set(ids)
        assert found[ids[7]]["traits"] == {"email": "u7@example.com"}
    reads = [r for r in server.requests if r.method == "GET" and r.path == "/admin/identities"]
    assert len(reads) == 3


def test_credentials_come_along_and_their_repr_hides_them(
    server: OryAdminServer, where: str
) -> None:
    """An identity's credentials are read (sync compares them); its repr never shows the hash."""
    hashed = "$2b$10$" + "x" * 53
    body = {"schema_id": "preset://email", "traits": {"email": "h@example.com"},
            "credentials": {"password": {"config": {"hashed_password": hashed}}}}  # fmt: skip
    identity_id = server.add_identity(body).id
    with ForkedIdentityReader(lambda: OryAdmin.from_url(server.url, KEY)) as reader:
        found = reader.get_identities([identity_id])[identity_id]
    assert "password" in found["credentials"]
    assert hashed not in repr(found)
    assert hashed not in str(found)


def test_a_closed_reader_reads_nothing(server: OryAdminServer, where: str) -> None:
    """Once closed, it neither reads nor opens Ory again in this process: an error says so."""
    reader = ForkedIdentityReader(lambda: OryAdmin.from_url(server.url, KEY))
    reader.answered()
    reader.close()
    with pytest.raises(RuntimeError, match="closed"):
        reader.get_identities(["00000000-0000-4000-8000-000000000000"])


def test_a_refused_key_is_ory_s_error_asked_once(server: OryAdminServer, where: str) -> None:
    """A wrong key: answered() raises Ory's 401, without the key, after one request only."""

    def open_ory() -> OryAdmin:
        ory = OryAdmin.from_url(server.url, "ory_pat_wrong_key_0123456789")
        ory.list_page(page_size=1)
        return ory

    server.requests.clear()
    with pytest.raises(OryError) as e, ForkedIdentityReader(open_ory) as reader:
        reader.answered()
    assert e.value.status == 401
    assert "ory_pat_wrong_key" not in str(e.value)
    assert len(server.requests) == 1


def test_a_read_that_fails_is_ory_s_error(server: OryAdminServer, where: str) -> None:
    """A read Ory fails (500 after the adapter's retries): OryError with its status, here."""
    ids = _identities(server, 3)
    with ForkedIdentityReader(lambda: OryAdmin.from_url(server.url, KEY)) as reader:
        reader.answered()
        server.faults.fail_next = 50
        with pytest.raises(OryError) as e:
            reader.get_identities(ids)
    assert e.value.status is not None
    assert e.value.status >= 500


def test_a_child_gone_reads_here(server: OryAdminServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child killed (say, for memory): the reads are made in this process, the same."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    ids = _identities(server, 5)
    with ForkedIdentityReader(lambda: OryAdmin.from_url(server.url, KEY)) as reader:
        reader.answered()
        assert reader._process is not None
        reader._process.kill()
        reader._process.join()
        assert set(reader.get_identities(ids)) == set(ids)
        assert reader._process is None


def test_the_child_ends_with_its_parent_s_end_of_the_pipe(
    server: OryAdminServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child holds no copy of the parent's end: closing it (as a parent's death) ends it."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    reader = ForkedIdentityReader(lambda: OryAdmin.from_url(server.url, KEY))
    reader.answered()
    process, conn = reader._process, reader._conn
    assert process is not None
    assert conn is not None
    conn.close()  # no "stop" sent: only the end of the pipe tells the child
    process.join(timeout=10)
    assert not process.is_alive()
    reader._conn = None
    reader.close()


_ORPHAN = """
import os, sys, time
from auth0_ory_migrate import ForkedIdentityReader

def waits_on_ory():
    time.sleep(120)  # an Ory that takes the connection and never answers

reader = ForkedIdentityReader(waits_on_ory)
print(reader._process.pid, flush=True)
time.sleep(120)
"""


def test_the_child_dies_with_its_parent_even_while_it_waits_on_ory(tmp_path: Path) -> None:
    """Its parent SIGKILLed while the child waits on Ory: the child is gone too (no orphan)."""
    with subprocess.Popen(
        [sys.executable, "-c", _ORPHAN], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    for _ in range(200):  # (at most ten seconds: it goes at once)
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, os.WNOHANG)
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the reader's child outlived its parent")


class _Broken(OryAdmin):
    """An adapter whose reads fail with something that is not an OryError (a bug, say)."""

    def get_identities(self, *args: object, **kwargs: object) -> dict[str, Any]:
        msg = "ory_pat_secret_in_the_text_0123456789"
        raise ValueError(msg)


def test_an_unexpected_read_error_is_the_library_s_error(
    server: OryAdminServer, where: str
) -> None:
    """A read failing with a non-Ory error: one library error naming its type, not its text."""
    with (
        ForkedIdentityReader(lambda: _Broken.from_url(server.url, KEY)) as reader,
        pytest.raises(Auth0OryMigrateError) as e,
    ):
        reader.get_identities(["00000000-0000-4000-8000-000000000000"])
    assert not isinstance(e.value, OryError)
    assert "reading the identities from Ory failed (ValueError)" in str(e.value)
    assert "ory_pat_secret" not in str(e.value)
