"""``undo``'s confirmation: Ctrl-C there ends like every other Ctrl-C; a "no" deletes nothing."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import ImportOutcome, Ledger
from auth0_ory_migrate._cli import main


class _CtrlC(io.BytesIO):
    """A terminal on which the user presses Ctrl-C: reading raises KeyboardInterrupt."""

    def read(self, size: int | None = -1) -> bytes:
        if size == 0:  # (click checks that the stream is binary)
            return b""
        raise KeyboardInterrupt

    def read1(self, size: int | None = -1) -> bytes:
        raise KeyboardInterrupt


def _undo(state: Path, answer: str | io.BytesIO) -> Result:
    """``undo`` of a state directory that records two created identities, answering *answer*."""
    with Ledger.open(state, input_digest="d", input_name="ids.ndjson") as ledger:
        ledger.record([ImportOutcome(f"auth0|{n}", "created", f"id-{n}") for n in (1, 2)])
    args = ["undo", "--ory-url", "http://127.0.0.1:9", "--api-key", "k", "--state-dir", str(state)]
    return CliRunner().invoke(main, args, input=answer)


def test_ctrl_c_at_the_confirmation_exits_130(tmp_path: Path) -> None:
    """Ctrl-C at the prompt: exit 130 and "interrupted" as everywhere; nothing deleted."""
    result = _undo(tmp_path / "state", _CtrlC())
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.stderr
    assert "nothing deleted" in result.stderr
    assert "Traceback" not in result.output
    with Ledger.open_existing(tmp_path / "state") as ledger:
        assert len(ledger.created_identities()) == 2


@pytest.mark.parametrize("answer", ["n\n", ""], ids=["no", "stdin closed"])
def test_a_no_or_closed_stdin_at_the_confirmation_exits_2(tmp_path: Path, answer: str) -> None:
    """Answering no, or no answer at all (stdin closed): exit 2, nothing deleted."""
    result = _undo(tmp_path / "state", answer)
    assert result.exit_code == 2, result.output
    assert "nothing deleted" in result.stderr
    assert "interrupted" not in result.stderr


@pytest.mark.parametrize("extra", [[], ["--credential", "oidc:auth0"]])
def test_an_unreachable_ory_stops_undo_at_once(tmp_path: Path, extra: list[str]) -> None:
    """Ory down: one error line, exit 2, in seconds (not one long retry per recorded user)."""
    state = tmp_path / "state"
    with Ledger.open(state, input_digest="d", input_name="ids.ndjson") as ledger:
        ledger.record([ImportOutcome(f"auth0|{n}", "created", f"id-{n}") for n in range(20)])
    args = ["undo", "--ory-url", "http://127.0.0.1:9", "--state-dir", str(state), "--yes", *extra]
    done = subprocess.run(
        [sys.executable, "-m", "auth0_ory_migrate", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no answer from Ory" in done.stderr
    assert "Traceback" not in done.stderr
