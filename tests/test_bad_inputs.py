"""Bad inputs, as a tired operator gives them: every case ends as documented, never a traceback.

One row per case. Each runs ``auth0-ory-migrate`` on files made in a fresh directory and checks
the exit status (0: done, 1: finished but some users failed, 2: the input as a whole is wrong,
nothing written, 130: interrupted), that no Python traceback reaches the user, that the one
line the user needs is said, and that on exit 2 no file is left under a final output name.

Add a row for every bad input a change handles; keep the ``says`` text short but specific.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click
import pytest
from attrs import frozen
from click.testing import CliRunner

from auth0_ory_migrate import ImportOutcome, Ledger
from auth0_ory_migrate._cli import main

from .test_files import full_disk


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
    #: What the machine does to the run (e.g. a disk that fills up), through pytest's monkeypatch.
    setup: Callable[[pytest.MonkeyPatch], None] | None = None


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


def hash_file_with(
    edit: Callable[[bytes], bytes], *extra: str, command: str = "convert"
) -> Callable[[Path], list[str]]:
    """``convert`` of the examples with their hash file changed by *edit* (as hashes.json)."""

    def args(d: Path) -> list[str]:
        (d / "hashes.json").write_bytes(edit((d / "auth0-password-hashes.json").read_bytes()))
        return convert("--password-hashes", str(d / "hashes.json"), *extra)(d)

    return args


def _interrupt(*_args: object, **_kwargs: object) -> NoReturn:
    """What Ctrl-C does to whatever is running: raise KeyboardInterrupt."""
    raise KeyboardInterrupt


def _ctrl_c_at_prompt(*_args: object, **_kwargs: object) -> NoReturn:
    """What Ctrl-C at a click prompt does: click turns the KeyboardInterrupt into Abort."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise click.Abort from None


def undo_of_two_created(d: Path) -> list[str]:
    """``undo`` of a state directory (``d/state``) whose ledger records two created identities."""
    with Ledger.open(d / "state", input_digest="d") as ledger:
        ledger.record([ImportOutcome(f"auth0|{n}", "created", f"id-{n}") for n in (1, 2)])
    ory = ["--ory-url", "http://127.0.0.1:9", "--api-key", "k"]
    return ["undo", *ory, "--state-dir", str(d / "state")]


def side_files(*args: str) -> Callable[[Path], list[str]]:
    """``convert`` of the examples plus *args*, each that names a file taken in the directory."""
    return lambda d: convert(*(str(d / a) if "." in a else a for a in args))(d)


#: A clean user line, so that the user file of a row is not wholly unreadable.
GOOD_USER = b'{"user_id": "auth0|good1", "email": "good1@example.com"}\n'


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
    Case(
        "hash file: password_set_date 1e20 (one record reported, run goes on)",
        hash_file_with(
            lambda b: b.replace(b'{"$date": "2023-01-01T00:00:00.000Z"}', b'{"$date": 1e20}', 1)
        ),
        0,
        "(password_hashes: 1, users: 1)",
    ),
    Case(
        "hash file: password_set_date $numberLong 'abc' (one record reported, run goes on)",
        hash_file_with(
            lambda b: b.replace(
                b'{"$date": "2023-01-01T00:00:00.000Z"}', b'{"$date": {"$numberLong": "abc"}}', 1
            )
        ),
        0,
        "(password_hashes: 1, users: 1)",
    ),
    Case(
        "users file is the job's CSV, with a hash file (stale hashes, lost logins)",
        with_file(
            "users.csv",
            b"user_id,email\n'auth0|60425dc43519d90068f82973,ada@example.com\n",
            lambda d: convert(
                "--password-hashes", str(d / "auth0-password-hashes.json"), users="users.csv"
            )(d),
        ),
        2,
        "format: json",
    ),
    Case(
        "--report naming the hash export",
        lambda d: convert(
            "--password-hashes",
            str(d / "auth0-password-hashes.json"),
            "--report",
            str(d / "auth0-password-hashes.json"),
        )(d),
        2,
        "is the same file as --password-hashes",
    ),
    Case(
        "--out naming the users file",
        lambda d: [*convert()(d), "--out", str(d / "auth0-users.ndjson")],
        2,
        "is the same file as --users",
    ),
    Case(
        "--report in a folder that does not exist",
        lambda d: [*convert()(d), "--report", str(d / "missing" / REPORT)],
        2,
        "does not exist (create it, or write elsewhere)",
    ),
    Case(
        "users file that is empty",
        with_file("empty.ndjson", b"", convert(users="empty.ndjson")),
        2,
        "the file is empty",
    ),
    Case(
        'users file that is {"users": [...]}',
        with_file(
            "users.json",
            b'{"users": [{"user_id": "auth0|1", "email": "a@example.com"}]}\n',
            convert(users="users.json"),
        ),
        2,
        'one JSON object (first key "users")',
    ),
    Case(
        "one bad optional trait (phone not E.164 under format: tel): trait dropped, user imported",
        with_file(
            "tel.schema.json",
            b'{"type": "object", "properties": {"traits": {"type": "object", "properties": '
            b'{"email": {"type": "string", "format": "email"}, "phone": {"type": "string", '
            b'"format": "tel"}}, "required": ["email"]}}}',
            with_file(
                "phone-users.ndjson",
                b'{"user_id": "auth0|alan", "email": "alan@example.com", '
                b'"user_metadata": {"phone": "020 7123 4567"}}\n',
                lambda d: convert(
                    "--schema-id",
                    "customer",
                    "--schema-file",
                    str(d / "tel.schema.json"),
                    "--trait",
                    "phone=user_metadata.phone",
                    users="phone-users.ndjson",
                )(d),
            ),
        ),
        0,
        "invalid_trait_dropped: 1",
    ),
    Case(
        "--trait that is not TRAIT=FIELD",
        convert("--trait", "name"),
        2,
        "TRAIT=FIELD",
    ),
    Case(
        "hash file from another tenant: no record finds its user",
        hash_file_with(lambda b: b.replace(b'"60425dc43519d9006', b'"7777777777777777')),
        2,
        "hash records found their user",
    ),
    Case(
        "hash file from another tenant, accepted with --allow-unmatched-hashes",
        hash_file_with(
            lambda b: b.replace(b'"60425dc43519d9006', b'"7777777777777777'),
            "--allow-unmatched-hashes",
        ),
        0,
        "password hook:",
    ),
    Case(
        "hash file whose $oid carries auth0| joins as ever",
        hash_file_with(lambda b: b.replace(b'{"$oid": "', b'{"$oid": "auth0|')),
        0,
        "with password hash:          9",
    ),
    Case(
        "disk full while the report is written",
        convert(),
        2,
        "no space left on device; nothing written under that name",
        setup=lambda mp: full_disk(mp, name=REPORT),
    ),
    Case(
        "file system turned read-only while the identities are written",
        convert(),
        2,
        "read-only file system; nothing written under that name",
        setup=lambda mp: full_disk(mp, errno_=errno.EROFS, name=OUT),
    ),
    Case(
        "Ctrl-C during convert",
        convert(),
        130,
        "interrupted",
        setup=lambda mp: mp.setattr(
            "auth0_ory_migrate._cli.convert.write_identities", _interrupt, raising=True
        ),
    ),
    Case(
        "export with an option it does not have (answered without the SDKs)",
        lambda d: ["export", "--no-such-option"],
        2,
        "no such option",
    ),
    Case(
        "--out - (stdout)",
        lambda d: [*convert()(d), "--out", "-"],
        2,
        "--out -: the identities file holds password hashes",
    ),
    Case(
        "import given the Auth0 export instead of an identities file",
        lambda d: [
            *["import", "--identities", str(d / "auth0-users.ndjson")],
            *["--ory-url", "http://127.0.0.1:9", "--api-key", "k", "--state-dir", str(d / "state")],
        ],
        2,
        "this looks like an Auth0 export: run convert first",
        not_written=("state",),
    ),
    # Engineer 1 (issue 11): records that never crash the reader, files that are what they say.
    *(
        Case(
            f"users: {name} (reported, the run goes on)",
            with_file("users.x", GOOD_USER + bad, convert(users="users.x")),
            0,
            "unreadable records:          1  (users: 1)",
        )
        for name, bad in [
            (
                "record nested 300 deep",
                b'{"user_id": "auth0|d", "a": ' + b"[" * 300 + b"]" * 300 + b"}\n",
            ),
            (
                "record nested 100,000 deep",
                b'{"user_id": "auth0|d", "a": ' + b"[" * 10**5 + b"]" * 10**5 + b"}\n",
            ),
            ("blocked: 1", b'{"user_id": "auth0|b", "blocked": 1}\n'),
            ('email_verified: "yes"', b'{"user_id": "auth0|b", "email_verified": "yes"}\n'),
            ("user_metadata not an object", b'{"user_id": "auth0|b", "user_metadata": "x"}\n'),
            (
                "integer of 2^64",
                b'{"user_id": "auth0|b", "app_metadata": {"n": 18446744073709551616}}\n',
            ),
            ("NUL in the email", b'{"user_id": "auth0|b", "email": "a\\u0000@example.com"}\n'),
            ("truncated line", b'{"user_id": "auth0|cut", "email": "cut@exa\n'),
            ("invalid UTF-8", b'{"user_id": "auth0|b", "name": "Ren\xe9"}\n'),
        ]
    ),
    *(
        Case(
            f"users: {name} (reported, the run goes on)",
            with_file("users.x", data, convert(users="users.x")),
            0,
            "unreadable records:          1  (users: 1)",
        )
        for name, data in [
            (
                "JSON array nested 100,000 deep",
                b"[" + GOOD_USER + b"," + b"[" * 10**5 + b"]" * 10**5 + b"]",
            ),
            (
                "JSON array with invalid UTF-8",
                b"[" + GOOD_USER + b',{"user_id": "auth0|b", "n": "\xe9"}]',
            ),
            ("Latin-1 CSV", "user_id,name\nauth0|a1,Ren\u00e9\nauth0|a2,Ken\n".encode("latin-1")),
            (
                "CSV cell over the csv field limit",
                b'user_id,app_metadata\nauth0|a1,"' + b"y" * 200_000 + b'"\nauth0|a2,{}\n',
            ),
            (
                "CSV JSON cell nested too deep",
                b"user_id,app_metadata\nauth0|a1," + b"[" * 5000 + b"]" * 5000 + b"\nauth0|a2,{}\n",
            ),
            ("CSV column type clash", b"user_id,blocked,blocked.x\nauth0|a1,true,x\nauth0|a2,,\n"),
            (
                "CSV header identities[100000000]",
                b"user_id,identities[100000000].connection\nauth0|a1,c\nauth0|a2,\n",
            ),
        ]
    ),
    *(
        Case(
            f"users: {name} (exit 2, named for what it is)",
            with_file("users.x", data, convert(users="users.x")),
            2,
            says,
        )
        for name, data, says in [
            ("random bytes", bytes([0x93, 0x00, 0x17, 0xFE, 0x01, 0x02]) * 100, "binary data"),
            ("a PNG image", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "PNG image"),
            (
                "a UTF-16 CSV",
                "\ufeffuser_id,email\nauth0|a,a@b.c\n".encode("utf-16-le"),
                "re-save it as UTF-8",
            ),
        ]
    ),
    # Engineer 6 (issue 11): every user accounted for (convert --outcomes).
    Case(
        "--outcomes naming the hash export",
        lambda d: convert(
            "--password-hashes",
            str(d / "auth0-password-hashes.json"),
            "--outcomes",
            str(d / "auth0-password-hashes.json"),
        )(d),
        2,
        "is the same file as --password-hashes",
    ),
    Case(
        "--outcomes with a users file that is empty",
        with_file(
            "empty.ndjson",
            b"",
            lambda d: convert("--outcomes", str(d / "outcomes.csv"), users="empty.ndjson")(d),
        ),
        2,
        "the file is empty",
        not_written=(OUT, REPORT, "outcomes.csv"),
    ),
    Case(
        "Ctrl-C at undo's confirmation prompt",
        undo_of_two_created,
        130,
        "interrupted",
        setup=lambda mp: mp.setattr(click, "confirm", _ctrl_c_at_prompt),
    ),
    # Engineer 7 (issue 11): a hash file with no hash, or another export given as a side file.
    *(
        Case(
            f"{name} (exit 2, named for what it is)",
            with_file("side.json", data, side_files(opts, "side.json")),
            2,
            says,
        )
        for name, data, opts, says in [
            (
                "hash file that is empty",
                b"",
                "--password-hashes",
                "no password hash read from --password-hashes, yet the users file has database",
            ),
            (
                'hash file that is {"users": [...]}',
                b'{"users": [{"_id": "60425dc43519d90068f82973", "passwordHash": "x"}]}\n',
                "--password-hashes",
                'one JSON object (first key "users")',
            ),
        ]
    ),
    *(
        Case(
            f"{name} (exit 2, named for what it is)",
            side_files(*opts),
            2,
            says,
        )
        for name, opts, says in [
            (
                "users export as --password-hashes",
                ("--password-hashes", "auth0-users.ndjson"),
                "this looks like an Auth0 users export (user_id, identities): give it as --users",
            ),
            (
                "MFA file as --password-hashes",
                ("--password-hashes", "auth0-mfa-secrets.ndjson"),
                "this looks like the MFA-secrets export (user_id, type): give it as --mfa-secrets",
            ),
            (
                "hash file as --mfa-secrets",
                ("--mfa-secrets", "auth0-password-hashes.json"),
                "password-hash export (_id, passwordHash): give it as --password-hashes",
            ),
            (
                "users export as --mfa-secrets",
                ("--mfa-secrets", "auth0-users.ndjson"),
                "no MFA secret read from --mfa-secrets: this looks like an Auth0 users export",
            ),
            (
                "users export as --password-hashes, with --strict",
                ("--password-hashes", "auth0-users.ndjson", "--strict"),
                "give it as --users",
            ),
        ]
    ),
    Case(
        "hash file that is empty, accepted with --allow-empty-hashes",
        with_file(
            "side.json",
            b"",
            lambda d: convert("--password-hashes", str(d / "side.json"), "--allow-empty-hashes")(d),
        ),
        0,
        "password hook:",
    ),
    Case(
        "migrate: hash file that is empty (refused before anything is imported)",
        with_file(
            "side.json",
            b"",
            lambda d: [
                *["migrate", "--users", str(d / "auth0-users.ndjson")],
                *["--password-hashes", str(d / "side.json"), "--report", str(d / REPORT)],
                *["--ory-url", "http://127.0.0.1:9", "--api-key", "k"],
                *["--state-dir", str(d / "state")],
            ],
        ),
        2,
        "no password hash read from --password-hashes",
        not_written=(REPORT, "state"),
    ),
    Case(
        "migrate: hash file from another tenant (refused before anything is imported)",
        lambda d: [
            *["migrate", "--users", str(d / "auth0-users.ndjson")],
            *["--password-hashes", str(_other_tenant(d)), "--report", str(d / REPORT)],
            *["--ory-url", "http://127.0.0.1:9", "--api-key", "k"],
            *["--state-dir", str(d / "state")],
        ],
        2,
        "hash records found their user",
        not_written=(REPORT, "state"),
    ),
]


def _other_tenant(d: Path) -> Path:
    """The examples' hash file with ids that no user has (as from another tenant)."""
    other = d / "other-tenant-hashes.json"
    content = (d / "auth0-password-hashes.json").read_bytes()
    other.write_bytes(content.replace(b'"60425dc43519d9006', b'"7777777777777777'))
    return other


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_ends_as_documented(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No traceback, the documented exit status and message, nothing left behind on exit 2."""
    for example in EXAMPLES.iterdir():
        if example.is_file() and example.suffix in (".json", ".ndjson"):
            shutil.copy(example, tmp_path / example.name)
    if case.setup is not None:
        case.setup(monkeypatch)
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
