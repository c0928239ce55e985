"""Side files that are wrong as a whole: an empty or misshapen hash file, swapped exports."""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from auth0_ory_migrate import (
    index_mfa_secrets,
    index_password_hashes,
    plan_from_files,
    read_mfa_secrets,
    read_password_hashes,
)
from auth0_ory_migrate._core._side_files import (
    check_mfa_secrets_read,
    check_password_hashes_read,
    looks_like,
)
from auth0_ory_migrate.exceptions import InputFileError
from auth0_ory_migrate.testing import fake_bcrypt


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HASH = fake_bcrypt(random.Random(7))
CANARY = "CANARY-SECRET-VALUE"

USERS_LINE = {
    "user_id": "auth0|60425dc43519d90068f82973",
    "email": "ada@example.com",
    "identities": [{"provider": "auth0", "user_id": "60425dc43519d90068f82973"}],
}
HASH_LINE = {"_id": {"$oid": "60425dc43519d90068f82973"}, "passwordHash": HASH}
MFA_LINE = {"user_id": "auth0|60425dc43519d90068f82973", "type": "otp", "otp_secret": CANARY}


def _ndjson(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _hashes(data: bytes) -> Any:
    return index_password_hashes(read_password_hashes(io.BytesIO(data)))


def _mfa(data: bytes) -> Any:
    return index_mfa_secrets(read_mfa_secrets(io.BytesIO(data)))


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (_ndjson(USERS_LINE), "users"),
        (b"[" + json.dumps(USERS_LINE).encode() + b",\n", "users"),
        (b"user_id,email\nauth0|1,a@example.com\n", "users"),
        (_ndjson(HASH_LINE), "password_hashes"),
        (_ndjson(MFA_LINE), "mfa_secrets"),
        (b'{"users": [' + json.dumps(USERS_LINE).encode() + b"]}", "object"),
        (b'{"a": ' + b"[" * 100_000, "other"),
        (b"\x00\x01\x02", "other"),
    ],
)
def test_looks_like_names_each_kind(head: bytes, kind: str) -> None:
    """looks_like tells an empty file, each Auth0 export, one JSON object and anything else."""
    assert looks_like(head)[0] == kind


def test_looks_like_never_quotes_values() -> None:
    """What a file looks like names keys, never a value (it could be a secret)."""
    for head in (_ndjson(MFA_LINE), _ndjson({"_id": CANARY, "passwordHash": CANARY})):
        assert CANARY not in looks_like(head)[1]
    assert CANARY not in looks_like(json.dumps({CANARY * 10: [1]}).encode())[1]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "the file is empty"),
        (b'{"users": [' + json.dumps(HASH_LINE).encode() + b"]}", 'first key "users"'),
        (_ndjson({"x": 1}, {"y": 2}), "2 records, none with a password hash"),
        (_ndjson({"_id": "a1"}), "1 record, none with a password hash"),
    ],
    ids=["empty", "object", "unreadable", "no passwordHash"],
)
def test_a_hash_file_without_a_hash_is_refused_when_users_need_one(data: bytes, says: str) -> None:
    """No readable hash while the users include database users: refused, naming the file's look."""
    with pytest.raises(InputFileError, match="--allow-empty-hashes") as e:
        check_password_hashes_read(_hashes(data), data, has_database_users=lambda: True)
    assert says in str(e.value)
    assert e.value.source == "password_hashes"
    check_password_hashes_read(
        _hashes(data), data, has_database_users=lambda: True, allow_empty=True
    )


def test_a_hash_file_without_a_hash_passes_without_database_users() -> None:
    """Nobody needs a hash (only social users): an empty hash file is no loss."""
    check_password_hashes_read(_hashes(b""), b"", has_database_users=lambda: False)


def test_a_hash_file_with_a_hash_is_not_looked_at() -> None:
    """The usual case costs nothing: the users are not read again."""

    def never() -> bool:
        raise AssertionError

    data = _ndjson(HASH_LINE)
    check_password_hashes_read(_hashes(data), data, has_database_users=never)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            _ndjson(USERS_LINE, USERS_LINE),
            "Auth0 users export (user_id, identities): give it as --users",
        ),
        (_ndjson(MFA_LINE), "MFA-secrets export (user_id, type): give it as --mfa-secrets"),
    ],
    ids=["users export", "MFA export"],
)
def test_another_export_as_the_hash_file_is_refused_always(data: bytes, says: str) -> None:
    """Another Auth0 export given as --password-hashes: refused, even with allow_empty."""
    with pytest.raises(InputFileError, match="--password-hashes") as e:
        check_password_hashes_read(
            _hashes(data), data, has_database_users=lambda: False, allow_empty=True
        )
    assert says in str(e.value)
    assert CANARY not in str(e.value)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            _ndjson(HASH_LINE),
            "password-hash export (_id, passwordHash): give it as --password-hashes",
        ),
        (_ndjson(USERS_LINE), "Auth0 users export (user_id, identities): give it as --users"),
        (b'{"secrets": [' + json.dumps(MFA_LINE).encode() + b"]}", 'first key "secrets"'),
    ],
    ids=["hash file", "users export", "object"],
)
def test_another_file_as_the_mfa_file_is_refused(data: bytes, says: str) -> None:
    """The hash file or the users export given as --mfa-secrets: refused, naming what it is."""
    with pytest.raises(InputFileError, match="--mfa-secrets") as e:
        check_mfa_secrets_read(_mfa(data), data)
    assert says in str(e.value)
    assert HASH not in str(e.value)


@pytest.mark.parametrize(
    "data",
    [b"", _ndjson(MFA_LINE), _ndjson({"user_id": "auth0|1", "type": "webauthn"})],
    ids=["empty", "secrets", "only unknown types"],
)
def test_an_mfa_file_of_mfa_records_passes(data: bytes) -> None:
    """An empty MFA file, or one of MFA records (readable or reported one by one), passes."""
    check_mfa_secrets_read(_mfa(data), data)


def _users_file(tmp_path: Path, *records: Any) -> Path:
    path = tmp_path / "users.ndjson"
    path.write_bytes(_ndjson(*records))
    return path


def test_plan_from_files_refuses_an_empty_hash_file(tmp_path: Path) -> None:
    """plan_from_files (convert, migrate) checks the hash file before anything is planned."""
    users = _users_file(tmp_path, USERS_LINE)
    empty = tmp_path / "hashes.json.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(InputFileError, match="the file is empty"):
        plan_from_files(users, password_hashes=empty)
    plan_from_files(users, password_hashes=empty, allow_empty_password_hashes=True)
    social = _users_file(tmp_path, {"user_id": "google-oauth2|1", "email": "g@example.com"})
    plan_from_files(social, password_hashes=empty)


def test_plan_from_files_refuses_swapped_files(tmp_path: Path) -> None:
    """The users export as the hash file, the hash file as the MFA file: each refused."""
    users = _users_file(tmp_path, USERS_LINE)
    hashes = tmp_path / "hashes.json"
    hashes.write_bytes(_ndjson(HASH_LINE))
    with pytest.raises(InputFileError, match="give it as --users"):
        plan_from_files(users, password_hashes=users)
    with pytest.raises(InputFileError, match="give it as --password-hashes"):
        plan_from_files(users, mfa_secrets=hashes)
    with pytest.raises(InputFileError, match="give it as --users"):
        plan_from_files(users, password_hashes=users, strict=True)
