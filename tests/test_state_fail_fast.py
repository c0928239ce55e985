"""An Ory that cannot be reached at all stops the import with one error, exit 2."""

from __future__ import annotations

import gc
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from click.testing import CliRunner, Result

from auth0_ory_migrate import Ledger, OryError, import_identities
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._core._importing import decide_answer
from auth0_ory_migrate.testing import InMemoryOryAdmin, OryAdminServer

from .test_state_full_disk import body


KEY = "ory_pat_fail_fast_secret_0123456789"


@pytest.fixture(autouse=True)
def _fast() -> Iterator[None]:
    """No backoff waits, a few attempts."""
    with stamina.set_testing(True, attempts=3):
        yield


def run_import(tmp_path: Path, url: str, key: str = KEY) -> Result:
    ids = tmp_path / "ids.ndjson"
    ids.write_text("".join(json.dumps(body(n)) + "\n" for n in range(30)))
    args = ["import", "--identities", str(ids), "--ory-url", url, "--batch-size", "5"]
    return CliRunner().invoke(
        main, [*args, "--state-dir", str(tmp_path / "state"), "--quiet"], env={"ORY_API_KEY": key}
    )


def test_connection_refused_stops_the_run_with_one_error(tmp_path: Path) -> None:
    """127.0.0.1:9 refuses: exit 2, one line, no per-user failures; the ledger says nothing."""
    result = run_import(tmp_path, "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: no answer from Ory: cannot connect, on the run's first")
    assert "--ory-url" in line
    assert "failed:" not in result.output
    with Ledger.open_existing(tmp_path / "state") as ledger:
        assert list(ledger.final_outcomes()) == []


def test_a_dry_run_that_cannot_reach_ory_is_refused(tmp_path: Path) -> None:
    """A dry run against a refusing Ory: exit 2, one line (it checked nothing against Ory)."""
    ids = tmp_path / "ids.ndjson"
    ids.write_text("".join(json.dumps(body(n)) + "\n" for n in range(3)))
    args = ["import", "--identities", str(ids), "--ory-url", "http://127.0.0.1:9", "--dry-run"]
    result = CliRunner().invoke(
        main, [*args, "--state-dir", str(tmp_path / "state")], env={"ORY_API_KEY": KEY}
    )
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: could not ask Ory")
    assert "cannot connect" in line
    assert KEY not in result.output


def test_a_name_that_does_not_resolve_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unresolvable host: exit 2, one error (resolved here: no DNS query leaves)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "ory.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = run_import(tmp_path, "http://ory.invalid")
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1
    assert "on the run's first request" in result.stderr


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_tls_to_a_plain_http_server_stops_the_run(tmp_path: Path) -> None:
    """https:// to a server that speaks plain HTTP (a TLS failure): exit 2, one error."""
    with OryAdminServer(api_key=KEY) as server:
        result = run_import(tmp_path, server.url.replace("http://", "https://"))
        assert not server.identities()
    code, output, stderr = result.exit_code, result.output, result.stderr
    del result
    gc.collect()  # urllib3 leaves the failed TLS socket to the collector: here, not later
    assert code == 2, output
    assert len(stderr.splitlines()) == 1
    assert "on the run's first request" in stderr
    assert "TLS error" in stderr


def test_a_refused_key_stops_the_run(tmp_path: Path) -> None:
    """A wrong key (401): exit 2, one error, nobody failed (as before: a regression test)."""
    with OryAdminServer(api_key=KEY) as server:
        result = run_import(tmp_path, server.url, key="ory_pat_wrong_key_0123")
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1
    assert "Ory answered 401" in result.stderr
    assert "failed:" not in result.output


def test_no_answer_after_an_answer_is_not_fatal() -> None:
    """Once Ory has answered, a batch without an answer is looked up/failed as before."""
    lost = OryError(None, "cannot connect")
    bodies = [body(1)]
    first = decide_answer(bodies, ["p0"], lost, sent_at=0.0, answered_before=False)
    assert first.fatal is not None
    later = decide_answer(bodies, ["p0"], lost, sent_at=0.0, answered_before=True)
    assert later.fatal is None
    assert [o.status for o in later.outcomes] == ["failed"]


def test_the_engine_stops_on_an_unreachable_first_request() -> None:
    """import_identities raises OryError instead of failing each user."""

    class Down(InMemoryOryAdmin):
        def send_batch(self, batch: Any) -> Any:
            raise OryError(None, "cannot connect")

    with pytest.raises(OryError, match="first request"):
        import_identities([body(n) for n in range(10)], Down(), batch_size=2)
