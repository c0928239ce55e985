"""Bad inputs, as a tired operator gives them: every case ends as documented, never a traceback.

One row per case. Each runs ``auth0-ory-migrate`` on files made in a fresh directory and checks
the exit status (0: done, 1: finished but some users failed, 2: the input as a whole is wrong,
nothing written, 130: interrupted), that no Python traceback reaches the user, that the one
line the user needs is said, and that on exit 2 no file is left under a final output name.

Add a row for every bad input a change handles; keep the ``says`` text short but specific.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from attrs import frozen
from click.testing import CliRunner

from auth0_ory_migrate._cli import main


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The final output names a case may write (relative to its directory).
OUT = "identities.ndjson"
REPORT = "report.json"


@frozen
class Case:
    """One bad input and how it must end."""

    name: str
    #: The command line (after ``auth0-ory-migrate``), given the case's directory, in which it
    #: may first write the files it needs (the examples are copied there beforehand).
    args: Callable[[Path], list[str]]
    exit_code: int
    #: Text the user is told (stderr and stdout together, case-insensitive).
    says: str
    #: Files (relative to the directory) that must not exist afterwards when the exit is 2.
    not_written: tuple[str, ...] = (OUT, REPORT)


def convert(*extra: str, users: str = "auth0-users.ndjson") -> Callable[[Path], list[str]]:
    """``convert`` of the examples (or of *users*) into the usual outputs, plus *extra*."""

    def args(d: Path) -> list[str]:
        return [
            "convert",
            "--users",
            str(d / users),
            "--out",
            str(d / OUT),
            "--report",
            str(d / REPORT),
            *extra,
        ]

    return args


def with_file(
    name: str, content: bytes, make: Callable[[Path], list[str]]
) -> Callable[[Path], list[str]]:
    """Write *content* to *name* in the case's directory, then build the command line."""

    def args(d: Path) -> list[str]:
        (d / name).write_bytes(content)
        return make(d)

    return args


CASES: list[Case] = [
    Case(
        "hash file encrypted with OpenPGP",
        with_file(
            "hashes.json.gpg",
            b"-----BEGIN PGP MESSAGE-----\n\nhQIMA1VwJwVJ\n-----END PGP MESSAGE-----\n",
            lambda d: convert("--password-hashes", str(d / "hashes.json.gpg"))(d),
        ),
        2,
        "decrypt",
    ),
    Case(
        "ignore hashes without the hook",
        convert("--ignore-hashes", "--without-hash", "none"),
        2,
        "--without-hash hook",
    ),
    Case(
        "users file that does not exist",
        convert(users="no-such-file.ndjson"),
        2,
        "does not exist",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_ends_as_documented(case: Case, tmp_path: Path) -> None:
    """No traceback, the documented exit status and message, nothing left behind on exit 2."""
    for example in EXAMPLES.iterdir():
        if example.is_file() and example.suffix in (".json", ".ndjson"):
            shutil.copy(example, tmp_path / example.name)
    result = CliRunner().invoke(main, case.args(tmp_path))
    said = result.output + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(f"{type(result.exception).__name__}: {result.exception}\n{said}")
    assert "Traceback" not in said
    assert result.exit_code == case.exit_code, said
    assert case.says.lower() in said.lower(), said
    if case.exit_code == 2:
        left = [name for name in case.not_written if (tmp_path / name).exists()]
        assert left == [], said
