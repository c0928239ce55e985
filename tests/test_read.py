"""Reading Auth0's files: gzip, encodings, NDJSON, JSON arrays, CSV, encryption, bad lines."""

from __future__ import annotations

import codecs
import gc
import gzip
import io
import json
import random
from pathlib import Path
from typing import IO, Any, cast

import pytest

from auth0_ory_migrate import (
    Auth0OryMigrateError,
    Auth0User,
    InputFileError,
    InvalidRecordError,
    MfaSecret,
    PasswordHashRecord,
    UnreadableRecord,
    read_mfa_secrets,
    read_password_hashes,
    read_users,
)
from auth0_ory_migrate.testing import auth0_users, fake_bcrypt, write_export


HASH = "$2b$10$" + "Q" * 22 + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS"


def _user(n: int, **extra: Any) -> dict[str, Any]:
    return {"user_id": f"auth0|{n:024x}", "email": f"user{n}@example.com", **extra}


def _ndjson(records: list[dict[str, Any]], newline: str = "\n") -> bytes:
    return "".join(json.dumps(r) + newline for r in records).encode()


def _users(data: bytes, **kwargs: Any) -> list[Auth0User | UnreadableRecord]:
    return list(read_users(io.BytesIO(data), **kwargs))


def _ok(items: list[Any]) -> list[Any]:
    return [i for i in items if not isinstance(i, UnreadableRecord)]


def _bad(items: list[Any]) -> list[UnreadableRecord]:
    return [i for i in items if isinstance(i, UnreadableRecord)]


def _pretty_array(objs: list[dict[str, Any]], indent: int) -> tuple[str, list[int]]:
    """*objs* as an indented JSON array (no final newline), and the line each item starts on."""
    starts, line = [], 2
    for o in objs:
        starts.append(line)
        line += json.dumps(o, indent=indent).count("\n") + 1
    return "[\n" + ",\n".join(json.dumps(o, indent=indent) for o in objs) + "\n]", starts


class _RawStream(io.RawIOBase):
    """A non-seekable, non-peekable byte stream that counts what has been read."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data[self.pos : self.pos + min(len(buffer), 64 * 1024)]
        buffer[: len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


# --- compression and encodings -------------------------------------------------------------------


def test_gzip_is_recognised_by_magic_bytes_not_name(tmp_path: Path) -> None:
    """A gzipped export named .json and a plain one named .gz both read the same."""
    records = [_user(1), _user(2)]
    gz_named_json = tmp_path / "users.json"
    gz_named_json.write_bytes(gzip.compress(_ndjson(records)))
    plain_named_gz = tmp_path / "users.ndjson.gz"
    plain_named_gz.write_bytes(_ndjson(records))
    for path in (gz_named_json, plain_named_gz):
        with path.open("rb") as f:
            users = list(read_users(f))
        assert [u.user_id for u in users if isinstance(u, Auth0User)] == [
            r["user_id"] for r in records
        ]


def test_gzipped_json_array_and_hash_file() -> None:
    """Gzip is undone for a JSON array of users and for the password-hash file too."""
    users = _users(gzip.compress(json.dumps([_user(1), _user(2)]).encode()))
    assert [u.line for u in users] == [1, 1]
    hashes = list(
        read_password_hashes(
            io.BytesIO(gzip.compress(_ndjson([{"_id": {"$oid": "a" * 24}, "passwordHash": HASH}])))
        )
    )
    assert isinstance(hashes[0], PasswordHashRecord)
    assert hashes[0].ids == ("a" * 24,)


def test_utf8_bom_crlf_and_blank_lines() -> None:
    """A BOM, CRLF line ends and blank lines are tolerated; line numbers stay true."""
    data = codecs.BOM_UTF8 + b"\r\n".join(
        [
            json.dumps(_user(1)).encode(),
            b"",
            b"   ",
            json.dumps(_user(2, name="Zo\u00eb")).encode(),
            b"\t",
            json.dumps(_user(3)).encode(),
            b"",
        ]
    )
    users = _ok(_users(data))
    assert len(users) == 3
    assert [(u.line, u.user_id) for u in users] == [
        (1, _user(1)["user_id"]),
        (4, _user(2)["user_id"]),
        (6, _user(3)["user_id"]),
    ]
    assert users[1].raw["name"] == "Zo\u00eb"
    assert users[0].email == "user1@example.com"  # no trailing \r left over


def test_bom_before_a_json_array() -> None:
    """A JSON array behind a UTF-8 BOM is read."""
    users = _users(codecs.BOM_UTF8 + json.dumps([_user(1)], indent=2).encode())
    assert [u.user_id for u in _ok(users)] == [_user(1)["user_id"]]


def test_empty_files_yield_nothing() -> None:
    """An empty file, or one of blank lines, holds no records and is not an error."""
    assert _users(b"") == []
    assert _users(b"\n\r\n  \n") == []
    assert _users(codecs.BOM_UTF8) == []
    assert _users(gzip.compress(b"")) == []
    assert _users(b"[]") == []


@pytest.mark.parametrize(
    "data",
    [
        _ndjson([_user(1)]),
        gzip.compress(_ndjson([_user(1)])),
        json.dumps([_user(1)]).encode(),
        gzip.compress(json.dumps([_user(1)]).encode()),
        b"user_id,email\n'auth0|a,'a@example.com\n",
    ],
    ids=["ndjson", "ndjson.gz", "array", "array.gz", "csv"],
)
def test_readers_leave_the_callers_file_open(data: bytes, tmp_path: Path) -> None:
    """Reading never closes the file object it was handed (in memory or on disk)."""
    path = tmp_path / "users"
    path.write_bytes(data)
    in_memory = io.BytesIO(data)
    with path.open("rb") as on_disk:
        for f in (in_memory, on_disk):
            assert len(_ok(list(read_users(f)))) == 1
            gc.collect()  # a wrapper that closes its file on collection would do it now
            assert not f.closed


def test_reads_from_unbuffered_non_seekable_stream() -> None:
    """A raw stream without peek() or seek() (a pipe, a socket) is read like a file."""
    data = gzip.compress(_ndjson([_user(n) for n in range(50)]))
    users = list(read_users(cast("IO[bytes]", _RawStream(data))))
    assert len(_ok(users)) == 50


# --- JSON arrays ---------------------------------------------------------------------------------


def test_json_array_items_carry_the_line_where_they_start() -> None:
    """Items of a pretty-printed JSON array get the line their object starts on."""
    objs = [_user(1), _user(2, app_metadata={"a": [1, 2]}), _user(3)]
    text, expected = _pretty_array(objs, indent=2)
    users = _users((text + "\n").encode())
    assert [u.line for u in users] == expected
    assert [u.user_id for u in _ok(users)] == [o["user_id"] for o in objs]


def test_json_array_across_read_chunks() -> None:
    """A multi-megabyte JSON array is read whole, items split across read chunks included."""
    objs = [_user(n, padding="x" * (3000 + n)) for n in range(1200)]
    text, expected = _pretty_array(objs, indent=1)
    users = _users(text.encode())
    assert len(text) > 3 * (1 << 20)
    assert [u.line for u in users] == expected
    assert all(isinstance(u, Auth0User) for u in users)


def test_json_array_is_streamed_not_loaded_whole() -> None:
    """The first item of a big JSON array comes out after reading only part of the file."""
    objs = [_user(n, padding="y" * 4000) for n in range(3000)]
    data = json.dumps(objs).encode()
    stream = _RawStream(data)
    first = next(read_users(cast("IO[bytes]", stream)))
    assert isinstance(first, Auth0User)
    assert first.user_id == objs[0]["user_id"]
    assert stream.pos < len(data) // 2


def test_json_array_non_object_item_is_reported_and_reading_goes_on() -> None:
    """An array item that is not an object is one unreadable record; the next ones are read."""
    text = '[\n{"user_id": "auth0|a"},\n42,\n"text",\n{"user_id": "auth0|b"}\n]'
    users = _users(text.encode())
    assert [(type(u).__name__, u.line) for u in users] == [
        ("Auth0User", 2),
        ("UnreadableRecord", 3),
        ("UnreadableRecord", 4),
        ("Auth0User", 5),
    ]
    assert all(u.reason == "not a JSON object" for u in _bad(users))


def test_json_array_broken_item_is_reported_with_its_line() -> None:
    """Invalid JSON inside an array is reported at its line, without its content."""
    text = (
        f'[\n{{"user_id": "auth0|a"}},\n{{"user_id": "auth0|b", "passwordHash": "{HASH}" oops}}\n]'
    )
    users = _users(text.encode())
    assert isinstance(users[0], Auth0User)
    (bad,) = _bad(users)
    assert bad.line == 3
    assert "not valid JSON" in bad.reason
    assert HASH not in repr(bad)
    assert "oops" not in repr(bad)


def test_unclosed_json_array_is_reported() -> None:
    """A truncated JSON array yields what it holds, then one unreadable record."""
    text = '[\n{"user_id": "auth0|a"},\n{"user_id": "auth0|b"},\n'
    users = _users(text.encode())
    assert [u.user_id for u in _ok(users)] == ["auth0|a", "auth0|b"]
    (bad,) = _bad(users)
    assert bad.line >= 3
    assert "not closed" in bad.reason


@pytest.mark.parametrize(
    "tail",
    [b'[{"user_id": "auth0|b"}]\n', b'{"user_id": "auth0|b"}\n', b"garbage\n"],
    ids=["second-array", "ndjson-line", "garbage"],
)
def test_data_after_a_json_array_is_not_silently_dropped(tail: bytes) -> None:
    """Anything after the closing ] (two arrays concatenated, stray lines) is read or reported."""
    users = _users(b'[{"user_id": "auth0|a"}]\n' + tail)
    assert [u.user_id for u in _ok(users)][:1] == ["auth0|a"]
    assert len(users) >= 2
    assert all(u.line >= 2 for u in users[1:])


def test_password_hashes_as_json_array(tmp_path: Path) -> None:
    """The password-hash export as one JSON array is read record by record."""
    users = auth0_users(20, seed=7, real_hashes=False, kinds=["database"])
    files = write_export(tmp_path, users, fmt="ndjson", hash_fmt="json")
    assert files.password_hashes is not None
    with files.password_hashes.open("rb") as f:
        records = list(read_password_hashes(f))
    expected = [u.hash_record for u in users if u.hash_record is not None]
    assert len(records) == len(expected) > 0
    assert all(isinstance(r, PasswordHashRecord) for r in records)
    assert [r.password_hash for r in records if isinstance(r, PasswordHashRecord)] == [
        h["passwordHash"] for h in expected
    ]


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_export_from_the_job_strips_the_injection_quote(tmp_path: Path) -> None:
    """The job's CSV is read: the leading ' of strings is removed and types are restored."""
    users = auth0_users(12, seed=5, real_hashes=False, kinds=["database", "social"])
    files = write_export(tmp_path, users, fmt="csv", hashes=False)
    with files.users.open("rb") as f:
        read = list(read_users(f))
    assert _bad(read) == []
    assert [u.user_id for u in read if isinstance(u, Auth0User)] == [u.user_id for u in users]
    for got, want in zip(read, users, strict=True):
        assert isinstance(got, Auth0User)
        assert got.email == want.record.get("email")
        assert got.email_verified is want.record.get("email_verified", False)
        assert got.raw["logins_count"] == want.record["logins_count"]
        assert got.raw["name"] == want.record["name"]
        assert not any(isinstance(v, str) and v.startswith("'") for v in got.raw.values())


def test_csv_nested_identity_columns_become_identities() -> None:
    """Columns like identities[0].connection build the nested identities list."""
    text = (
        "user_id,email,email_verified,blocked,logins_count,identities[0].provider,"
        "identities[0].user_id,identities[0].connection,identities[0].isSocial,app_metadata\n"
        "'github|5812309,'ken@example.com,true,false,7,'github,5812309,'github,true,"
        '"{""plan"": ""pro""}"\n'
        "'samlp|acme|ken@acme.test,'=HYPERLINK(x),false,,,'samlp,'acme|ken@acme.test,'acme,false,\n"
    )
    users = _users(text.encode())
    first, second = users
    assert isinstance(first, Auth0User)
    assert isinstance(second, Auth0User)
    assert first.identities[0].provider == "github"
    assert first.identities[0].user_id == "5812309"
    assert first.identities[0].connection == "github"
    assert first.identities[0].is_social is True
    assert first.email_verified is True
    assert first.raw["logins_count"] == 7
    assert first.raw["app_metadata"] == {"plan": "pro"}
    assert first.line == 2
    assert second.user_id == "samlp|acme|ken@acme.test"
    assert second.email == "=HYPERLINK(x)"  # only the one protective quote is removed
    assert second.connections == ("acme",)
    assert second.line == 3


def test_csv_with_only_a_connection_column_keeps_every_user(tmp_path: Path) -> None:
    """A CSV whose only identity column is identities[0].connection loses no user."""
    text = (
        "user_id,email,identities[0].connection\n"
        "'auth0|60425dc43519d90068f82973,'ada@example.com,'Username-Password-Authentication\n"
        "'google-oauth2|1043,'frances@example.com,'google-oauth2\n"
    )
    users = _users(text.encode())
    assert _bad(users) == []
    ada, frances = users
    assert isinstance(ada, Auth0User)
    assert isinstance(frances, Auth0User)
    assert ada.database_ids == ("60425dc43519d90068f82973",)
    assert "Username-Password-Authentication" in ada.connections
    assert frances.provider == "google-oauth2"


def test_csv_bom_crlf_quoted_newlines_and_bad_rows() -> None:
    """CSV with a BOM, CRLF, a quoted newline, a blank row and a short row is read row by row."""
    text = (
        "user_id,email,name\r\n"
        "'auth0|a,'a@example.com,\"'Multi\nline\"\r\n"
        "\r\n"
        "'auth0|b,'b@example.com\r\n"
        "'auth0|c,'c@example.com,'C\r\n"
    )
    users = _users(codecs.BOM_UTF8 + text.encode())
    assert [(type(u).__name__, u.line) for u in users] == [
        ("Auth0User", 2),
        ("UnreadableRecord", 5),
        ("Auth0User", 6),
    ]
    first = users[0]
    assert isinstance(first, Auth0User)
    assert first.raw["name"] == "Multi\nline"
    assert "columns" in _bad(users)[0].reason


def test_csv_is_only_accepted_for_the_user_export() -> None:
    """The password-hash and MFA files must be JSON: anything else is an InputFileError."""
    with pytest.raises(InputFileError, match="password_hashes"):
        list(read_password_hashes(io.BytesIO(b"_id,passwordHash\nabc,def\n")))
    with pytest.raises(InputFileError, match="mfa_secrets"):
        list(read_mfa_secrets(io.BytesIO(b"user_id,type\nauth0|a,otp\n")))


# --- encrypted and damaged files -----------------------------------------------------------------

ARMORED = (
    b"-----BEGIN PGP MESSAGE-----\n\nhQIMA1VwJwVJv7b6AQ/+Kq0k\n=abcd\n-----END PGP MESSAGE-----\n"
)
BINARY_OLD_FORMAT = bytes([0x85, 0x02, 0x0C, 0x03]) + random.Random(1).randbytes(600)
BINARY_NEW_FORMAT = bytes([0xC1, 0xC0, 0x4C, 0x03]) + random.Random(2).randbytes(600)


@pytest.mark.parametrize(
    "data",
    [ARMORED, codecs.BOM_UTF8 + ARMORED, b"\n" + ARMORED, BINARY_OLD_FORMAT, BINARY_NEW_FORMAT],
    ids=["armored", "armored-bom", "armored-blank-line", "binary-old", "binary-new"],
)
def test_pgp_encrypted_hash_file_says_decrypt_it(data: bytes) -> None:
    """An OpenPGP-encrypted hash export (armored or binary) fails clearly, telling to decrypt."""
    with pytest.raises(InputFileError, match="decrypt") as info:
        list(read_password_hashes(io.BytesIO(data)))
    assert info.value.source == "password_hashes"
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, Auth0OryMigrateError)
    assert "gpg" in info.value.reason


@pytest.mark.parametrize("data", [ARMORED, BINARY_OLD_FORMAT, gzip.compress(ARMORED)])
def test_pgp_encrypted_user_and_mfa_files_say_decrypt_it(data: bytes) -> None:
    """The same clear error comes for encrypted user and MFA exports, gzipped or not."""
    with pytest.raises(InputFileError, match="decrypt"):
        list(read_users(io.BytesIO(data)))
    with pytest.raises(InputFileError, match="decrypt"):
        list(read_mfa_secrets(io.BytesIO(data)))


def test_truncated_gzip_is_an_input_file_error() -> None:
    """A gzip file cut short fails with InputFileError (after the records it holds)."""
    data = gzip.compress(_ndjson([_user(n, padding="z" * 200) for n in range(20000)]))
    items: list[Any] = []
    with pytest.raises(InputFileError, match="gzip") as info:
        items.extend(read_users(io.BytesIO(data[: len(data) // 2])))
    assert info.value.source == "users"
    assert len(items) > 0


@pytest.mark.parametrize("keep", [12, 40, 200])
def test_short_truncated_gzip_is_an_input_file_error(keep: int) -> None:
    """A small gzip file cut short (damaged in the first read) is an InputFileError too."""
    data = gzip.compress(_ndjson([_user(n) for n in range(40)]))
    assert len(data) > keep
    with pytest.raises(InputFileError, match="gzip"):
        list(read_users(io.BytesIO(data[:keep])))


def test_file_that_is_not_json_is_an_input_file_error() -> None:
    """A hash file that starts with neither { nor [ is rejected as a whole."""
    with pytest.raises(InputFileError, match="not newline-delimited JSON"):
        list(read_password_hashes(io.BytesIO(b"<html>not json</html>")))


# --- malformed records ---------------------------------------------------------------------------


def test_malformed_lines_are_reported_by_line_and_reading_goes_on() -> None:
    """Bad lines become UnreadableRecords with their line numbers; the good ones are read."""
    lines = [
        json.dumps(_user(1)),
        '{"user_id": "auth0|broken", "email": "x@example.com", ',  # truncated
        "[1, 2, 3]",
        '"just a string"',
        json.dumps(_user(2)),
        "null",
        json.dumps({"email": "no-id@example.com"}),
        json.dumps(_user(3)),
    ]
    users = _users(("\n".join(lines) + "\n").encode())
    assert [(type(u).__name__, u.line) for u in users] == [
        ("Auth0User", 1),
        ("UnreadableRecord", 2),
        ("UnreadableRecord", 3),
        ("UnreadableRecord", 4),
        ("Auth0User", 5),
        ("UnreadableRecord", 6),
        ("UnreadableRecord", 7),
        ("Auth0User", 8),
    ]
    bad = _bad(users)
    assert all(b.source == "users" for b in bad)
    assert "not valid JSON" in bad[0].reason
    assert bad[1].reason == bad[2].reason == bad[3].reason == "not a JSON object"
    assert bad[4].reason == "no user_id"


@pytest.mark.parametrize(
    "first_line",
    [b'"user_id": "auth0|cut", "email": "cut@example.com"}', b"\x00\x00\x00\x00", b"42"],
    ids=["cut-at-the-front", "nul-bytes", "number"],
)
def test_damaged_first_line_does_not_turn_ndjson_into_csv(first_line: bytes) -> None:
    """A broken first line is one unreadable record; the JSON lines after it are still users."""
    users = _users(first_line + b"\n" + _ndjson([_user(1), _user(2)]))
    assert [(type(u).__name__, u.line) for u in users] == [
        ("UnreadableRecord", 1),
        ("Auth0User", 2),
        ("Auth0User", 3),
    ]


def test_invalid_utf8_line_is_reported_and_reading_goes_on() -> None:
    """A line that is not UTF-8 is one unreadable record; the lines around it are read."""
    data = _ndjson([_user(1)]) + b'{"user_id": "auth0|\xff\xfe"}\n' + _ndjson([_user(2)])
    users = _users(data)
    assert [(type(u).__name__, u.line) for u in users] == [
        ("Auth0User", 1),
        ("UnreadableRecord", 2),
        ("Auth0User", 3),
    ]


def test_malformed_line_report_holds_no_raw_content() -> None:
    """The reason for a malformed hash line never quotes the line (it could hold a hash)."""
    lines = [
        f'{{"_id": {{"$oid": "{"a" * 24}"}}, "passwordHash": "{HASH}", ',
        f'{{"_id": "{"b" * 24}", "passwordHash": "{HASH}" "email": "x@example.com"}}',
        f'["{HASH}"]',
        f'{{"_id": "{"c" * 24}", "passwordHash": 42}}',
    ]
    records = list(read_password_hashes(io.BytesIO("\n".join(lines).encode())))
    assert [r.line for r in records] == [1, 2, 3, 4]
    assert all(isinstance(r, UnreadableRecord) for r in records)
    for record in records:
        assert isinstance(record, UnreadableRecord)
        for text in (
            repr(record),
            record.reason,
            json.dumps(record.to_dict()),
            str(record.to_error()),
        ):
            assert HASH not in text
            assert "S3cr3t" not in text
            assert "x@example.com" not in text


def test_strict_mode_raises_on_the_first_bad_record_with_line_and_user_id() -> None:
    """strict=True raises InvalidRecordError naming the line (and user id when readable)."""
    data = _ndjson([_user(1)]) + b'{"user_id": "auth0|x", "identities": "not a list"}\n'
    reader = read_users(io.BytesIO(data), strict=True)
    assert isinstance(next(reader), Auth0User)
    with pytest.raises(InvalidRecordError) as info:
        next(reader)
    error = info.value
    assert (error.source, error.line, error.user_id) == ("users", 2, "auth0|x")
    assert isinstance(error, ValueError)
    assert isinstance(error, Auth0OryMigrateError)
    assert "line 2" in str(error)
    assert "auth0|x" in str(error)


def test_strict_mode_on_unparseable_line_has_no_user_id() -> None:
    """strict=True on invalid JSON raises with the line and no user id."""
    with pytest.raises(InvalidRecordError) as info:
        list(read_users(io.BytesIO(_ndjson([_user(1)]) + b"{oops\n"), strict=True))
    assert (info.value.line, info.value.user_id) == (2, None)


def test_strict_mode_for_hashes_and_mfa_secrets() -> None:
    """The hash and MFA readers are strict on request too, without quoting secrets."""
    with pytest.raises(InvalidRecordError) as info:
        list(
            read_password_hashes(
                # issue 11: a record without passwordHash is "no password" now; a non-string is bad
                io.BytesIO(b'{"_id": {"$oid": "' + b"a" * 24 + b'"}, "passwordHash": 5}\n'),
                strict=True,
            )
        )
    assert (info.value.source, info.value.line, info.value.user_id) == (
        "password_hashes",
        1,
        "auth0|" + "a" * 24,
    )
    with pytest.raises(InvalidRecordError) as mfa_info:
        list(
            read_mfa_secrets(
                io.BytesIO(
                    b'{"user_id": "auth0|a", "type": "otp", "otp_secret": "JBSWY3DPEHPK3PXP"}\n'
                    b'{"user_id": "auth0|b", "type": "otp", "otp_secret": "not base32!"}\n'
                ),
                strict=True,
            )
        )
    assert (mfa_info.value.line, mfa_info.value.user_id) == (2, "auth0|b")
    assert "not base32!" not in str(mfa_info.value)


def test_lenient_readers_yield_every_record_in_order() -> None:
    """Without strict, every line yields exactly one item, in file order."""
    rng = random.Random(3)
    lines = []
    for n in range(200):
        if rng.random() < 0.2:
            lines.append(rng.choice(["{", "[]", "1", '{"no": "id"}', '{"_id": 5}']))
        else:
            lines.append(
                json.dumps({"_id": {"$oid": f"{n:024x}"}, "passwordHash": fake_bcrypt(rng)})
            )
    records = list(read_password_hashes(io.BytesIO("\n".join(lines).encode())))
    assert [r.line for r in records] == list(range(1, 201))
    assert sum(isinstance(r, PasswordHashRecord) for r in records) == sum(
        1 for line in lines if line.startswith('{"_id": {')
    )


def test_mfa_reader_reads_ndjson_records() -> None:
    """The MFA reader yields MfaSecret records with their line numbers."""
    data = b'\n{"user_id": "auth0|a", "type": "otp", "otp_secret": "JBSWY3DPEHPK3PXP"}\r\n'
    (secret,) = list(read_mfa_secrets(io.BytesIO(codecs.BOM_UTF8 + data)))
    assert isinstance(secret, MfaSecret)
    assert (secret.line, secret.user_id, secret.kind) == (2, "auth0|a", "otp")
