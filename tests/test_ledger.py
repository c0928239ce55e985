"""The state directory: ledger, input binding, crash repair, id map, lock."""

from __future__ import annotations

import csv
import hashlib
import json
import stat
from pathlib import Path

import pytest

from auth0_ory_migrate import (
    ImportOutcome,
    Ledger,
    file_digest,
)
from auth0_ory_migrate.exceptions import LedgerError


def outcome(n: int, status: str = "created", reason: str | None = None) -> ImportOutcome:
    identity = None if status == "failed" else f"id-{n}"
    return ImportOutcome(f"auth0|{n}", status, identity, reason)  # type: ignore[arg-type]


def test_new_state_dir_is_private_and_bound_to_the_input(tmp_path: Path) -> None:
    """The directory is created 0700 and remembers the input's digest and name."""
    state = tmp_path / "state"
    with Ledger.open(state, input_digest="a" * 64, input_name="ids.ndjson") as ledger:
        assert ledger.input_name == "ids.ndjson"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    saved = json.loads((state / "state.json").read_text())
    assert saved["input"] == {"sha256": "a" * 64, "name": "ids.ndjson"}


def test_another_input_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """A different input under the same state dir is refused, naming both digests."""
    Ledger.open(tmp_path, input_digest="a" * 64, input_name="one.ndjson").close()
    with pytest.raises(LedgerError, match=r"belongs to another input \(one\.ndjson") as info:
        Ledger.open(tmp_path, input_digest="b" * 64, input_name="two.ndjson")
    assert "aaaaaaaaaaaa" in str(info.value)
    assert "bbbbbbbbbbbb" in str(info.value)
    assert "--state-dir" in str(info.value)


def test_outcomes_survive_reopening(tmp_path: Path) -> None:
    """Created and exists are done after reopening; failed users are not (retried)."""
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        ledger.record([outcome(1), outcome(2, "exists"), outcome(3, "failed", "conflict: x")])
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        assert ledger.is_done("auth0|1")
        assert ledger.is_done("auth0|2")
        assert not ledger.is_done("auth0|3")
        assert ledger.failed == {"auth0|3": "conflict: x"}
        assert ledger.done_count == 2


def test_the_last_outcome_of_a_user_wins(tmp_path: Path) -> None:
    """A user failed once and created later is done."""
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        ledger.record([outcome(1, "failed", "timeout")])
        ledger.record([outcome(1)])
        assert ledger.is_done("auth0|1")
        assert ledger.failed == {}
        assert [o.status for o in ledger.final_outcomes()] == ["created"]


def test_unanswered_attempts_are_known_to_the_next_run(tmp_path: Path) -> None:
    """Users sent without a success outcome are in doubt for the next run, with the first time."""
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        ledger.note_attempt(["auth0|1", "auth0|2", "auth0|3"], at=100.0)
        ledger.note_attempt(["auth0|1"], at=200.0)
        ledger.record([outcome(1, "failed", "no answer"), outcome(3)])
        assert ledger.unanswered_attempt("auth0|2") is None  # this run's own: the engine's
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        assert ledger.unanswered_attempt("auth0|1") == 100.0
        assert ledger.unanswered_attempt("auth0|2") == 100.0
        assert ledger.unanswered_attempt("auth0|3") is None
        ledger.record([outcome(2)])
        assert ledger.unanswered_attempt("auth0|2") is None


def test_a_line_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    """A partial last line (SIGKILL mid-write) is removed; appending goes on cleanly."""
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        ledger.record([outcome(1)])
    with (tmp_path / "ledger.ndjson").open("ab") as f:
        f.write(b'{"external_id": "auth0|2", "sta')
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        assert ledger.is_done("auth0|1")
        assert not ledger.is_done("auth0|2")
        ledger.record([outcome(3)])
    lines = (tmp_path / "ledger.ndjson").read_bytes().splitlines()
    assert [json.loads(line)["external_id"] for line in lines] == ["auth0|1", "auth0|3"]


def test_a_damaged_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    """Damage that no crash can cause is reported, not skipped."""
    Ledger.open(tmp_path, input_digest="d").close()
    (tmp_path / "ledger.ndjson").write_bytes(b"garbage\n{}\n")
    with pytest.raises(LedgerError, match="line 1 is damaged"):
        Ledger.open(tmp_path, input_digest="d")


def test_two_runs_cannot_share_a_state_dir(tmp_path: Path) -> None:
    """A second run on the same state dir is refused while the first holds it."""
    with (
        Ledger.open(tmp_path, input_digest="d"),
        pytest.raises(LedgerError, match="in use by another run"),
    ):
        Ledger.open(tmp_path, input_digest="d")
    Ledger.open(tmp_path, input_digest="d").close()


def test_mapping_csv_lists_every_user_in_ory(tmp_path: Path) -> None:
    """identity-ids.csv maps created and existing users, not failed or deleted ones."""
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        ledger.record([outcome(1), outcome(2, "exists"), outcome(3, "failed", "x"), outcome(4)])
        ledger.record_deletions([("auth0|4", "id-4")])
        path = ledger.write_mapping()
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["auth0_user_id", "ory_identity_id"],
        ["auth0|1", "id-1"],
        ["auth0|2", "id-2"],
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_undo_targets_and_deletions(tmp_path: Path) -> None:
    """Only created identities are undo targets; deleted users are imported again later."""
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        ledger.record([outcome(1), outcome(2, "exists"), outcome(3)])
    with Ledger.open_existing(tmp_path) as ledger:
        assert ledger.created_identities() == [("auth0|1", "id-1"), ("auth0|3", "id-3")]
        ledger.record_deletions([("auth0|1", "id-1")])
        assert ledger.created_identities() == [("auth0|3", "id-3")]
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        assert not ledger.is_done("auth0|1")
        assert ledger.is_done("auth0|2")


def test_undo_needs_an_existing_state(tmp_path: Path) -> None:
    """open_existing on a directory without import state says so."""
    with pytest.raises(LedgerError, match="no import state"):
        Ledger.open_existing(tmp_path / "nothing")


def test_file_digest_is_the_sha256_of_the_content(tmp_path: Path) -> None:
    """The input is identified by its content, not its name."""
    path = tmp_path / "x"
    path.write_bytes(b"hello\n" * 1000)
    assert file_digest(path) == hashlib.sha256(b"hello\n" * 1000).hexdigest()


def test_undo_targets_carry_the_first_attempt_and_the_status(tmp_path: Path) -> None:
    """created/adopted/uncertain are undo targets with the earliest attempt since deletion."""
    with Ledger.open(tmp_path, input_digest="d") as ledger:
        ledger.note_attempt(["auth0|1", "auth0|2", "auth0|3"], at=100.0)
        ledger.note_attempt(["auth0|1"], at=200.0)
        ledger.record([outcome(1), outcome(2, "adopted"), outcome(3, "uncertain")])
        ledger.record([outcome(4, "exists")])
        assert all(ledger.is_done(f"auth0|{n}") for n in (1, 2, 3, 4))
        targets = ledger.undo_targets()
        assert [(t.external_id, t.status, t.first_attempt) for t in targets] == [
            ("auth0|1", "created", 100.0),
            ("auth0|2", "adopted", 100.0),
            ("auth0|3", "uncertain", 100.0),
        ]
        assert ledger.created_identities() == [("auth0|1", "id-1")]
        ledger.record_deletions([("auth0|1", "id-1")])
        ledger.note_attempt(["auth0|1"], at=300.0)
        ledger.record([outcome(1)])
        again = {t.external_id: t.first_attempt for t in ledger.undo_targets()}
        assert again["auth0|1"] == 300.0
        path = ledger.write_mapping()
    assert len(path.read_text().splitlines()) == 5  # header + 4 users in Ory
