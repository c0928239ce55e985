"""The hash index's fast way through a file gives what the validating way gives, to the record."""

from __future__ import annotations

import gzip
import io
import json
import random
from array import array
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth0_ory_migrate import (
    InvalidRecordError,
    PasswordHashIndex,
    PasswordHashRecord,
    UnreadableRecord,
    index_password_hashes,
    read_password_hashes,
)
from auth0_ory_migrate._core import _password_hashes
from auth0_ory_migrate.testing import fake_bcrypt
from auth0_ory_migrate.testing.strategies import bcrypt_hashes, password_hash_records


OIDS = (
    "60425dc43519d90068f82973",
    "60425dc43519d90068f82974",
    "auth0|60425dc43519d90068f82973",  # the first one's too
    *(f"60425dc43519d90068f8298{n}" for n in range(6)),
)
EMAILS = ("ada@example.com", "ADA@example.com", "bob@example.com")
DATE = "2021-03-05T16:35:16.775Z"
CUSTOM = {"algorithm": "md5", "hash": {"value": "5f4dcc3b5aa765d61d8327deb882cf99"}}


def _state(index: PasswordHashIndex) -> dict[str, Any]:
    """Everything the index holds (arrays as their bytes: NaN dates compare equal then)."""
    state = {}
    for attribute in attrs.fields(PasswordHashIndex):
        value = getattr(index, attribute.name)
        state[attribute.name] = (
            (value.typecode, value.tobytes()) if isinstance(value, array) else value
        )
    return state


def _outcome(data: bytes, *, fast: bool, strict: bool = False) -> object:
    """The index of the hash file *data* (read fast, or record by record), or what it raised."""
    records = read_password_hashes(io.BytesIO(data), strict=strict)
    try:
        return _state(index_password_hashes(records if fast else list(records)))
    except Exception as e:
        return type(e), str(e), getattr(e, "__dict__", None)


_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(
        (
            "",
            "  ",
            " x ",
            "auth0|",
            "auth0| ",
            "auth0|x",
            " auth0|x",
            DATE,
            f" {DATE}\n",
            "1614962116775",
            "not a date",
            "sms",
            "email",
            *OIDS,
            *EMAILS,
            fake_bcrypt(random.Random(3)),
        )
    ),
    st.sampled_from(
        (
            {"$oid": OIDS[0]},
            {"$oid": f" {OIDS[1]} "},
            {"$oid": "auth0|"},
            {"$oid": 5},
            {"$oid": None},
            {"$date": DATE},
            {"$date": 1614962116775},
            {"$date": {"$numberLong": "1614962116775"}},
            {"$date": {"$numberLong": "x"}},
            {"$date": 10**20},
            {"$date": None},
            {},
            [],
            [EMAILS[0]],
            [{"type": "email", "value": EMAILS[1]}],
            [{"type": "phone", "value": "+15550100"}],
            CUSTOM,
            {"algorithm": "nope"},
        )
    ),
)
_KEYS = st.sampled_from(
    (
        "_id",
        "_ID",
        "_Id",
        "alt_id",
        "passwordHash",
        "password_hash",
        "custom_password_hash",
        "password_set_date",
        "email",
        "email_verified",
        "identifiers",
        "connection",
    )
)


def _now_and_then(value: Any, usual: Any = None) -> st.SearchStrategy[Any]:
    """*usual* three times in four, else *value* (drawn when a strategy)."""
    odd = value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.integers(0, 3).flatmap(lambda n: odd if n == 3 else st.just(usual))


@st.composite
def _usual_records(draw: st.DrawFn) -> dict[str, Any]:
    """A record of the usual shape (one id, a hash, maybe a date), now and then a little off."""
    oid = draw(st.sampled_from(OIDS)) if draw(st.integers(0, 5)) else draw(_PADDED_IDS)
    record: dict[str, Any] = {
        draw(st.sampled_from(("_id", "_ID"))): {"$oid": oid} if draw(st.booleans()) else oid,
        draw(_now_and_then("password_hash", "passwordHash")): draw(
            _now_and_then(st.sampled_from((" $2b$10$x ", "$2b$10$y\n", "", "\u00e9")), "$2b$10$x")
        ),
    }
    date = draw(st.sampled_from((None, DATE, f" {DATE} ", "2025-06-07T16:47:09Z", "", "no date")))
    if date is not None:
        record["password_set_date"] = {"$date": date} if draw(st.booleans()) else date
    if draw(st.booleans()):
        record["email"] = draw(st.sampled_from((*EMAILS, "", " ")))
    if draw(st.booleans()):
        record["identifiers"] = draw(st.sampled_from(([], [EMAILS[0]], [{"email": EMAILS[2]}])))
    for key, value in draw(_now_and_then(st.lists(_NEIGHBOURS, max_size=2), ())):
        record.setdefault(key, value)  # keys next to the usual ones
    return record


_PADDED_IDS = st.sampled_from((f" {OIDS[1]} ", f"auth0|{OIDS[1]}", "auth0|", "  ", "\u00e9"))
_NEIGHBOURS = st.sampled_from(
    (
        ("_id", None),
        ("_ID", OIDS[1]),
        ("_Id", OIDS[1]),
        ("passwordHash", None),
        ("password_hash", "$2b$10$z"),
        ("alt_id", None),
        ("alt_id", OIDS[1]),
        ("alt_id", {"$oid": None}),
        ("custom_password_hash", CUSTOM),
    )
)


@st.composite
def _wild_records(draw: st.DrawFn) -> dict[str, Any]:
    """A record in any form seen in the wild (``testing.strategies``)."""
    with_id = draw(st.booleans())
    return draw(
        password_hash_records(
            oid=draw(st.sampled_from(OIDS)) if with_id else None,
            email=draw(st.sampled_from((*EMAILS, None) if with_id else EMAILS)),
            password_hash=draw(st.none() | st.sampled_from((" $2b$10$x ", "$argon2id$v=19$x"))),
            with_id=with_id,
        )
    )


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    """A usual or wild record, now and then bent out of shape (keys given odd values, or gone)."""
    record = draw(_usual_records() | _wild_records())
    for key in draw(_now_and_then(st.lists(_KEYS, min_size=1, max_size=2), ())):
        if draw(st.booleans()):
            record.pop(key, None)
        elif key != "identifiers" or draw(st.integers(0, 9)) == 0:  # (not iterable: TypeError)
            record[key] = draw(_ODD_VALUES)
    return record


_LINES = st.one_of(
    _records().map(lambda r: json.dumps(r).encode()),
    _usual_records().map(lambda r: json.dumps(r).encode()),
    _records().map(lambda r: b" \t" + json.dumps(r).encode() + b"\r"),
    _records().map(lambda r: b"\x0c" + json.dumps(r).encode()),
    st.sampled_from((b"", b"  ", b"[]", b"null", b'"x"', b"{", b"not json", b"{}", b"\xff{}")),
)


@st.composite
def _files(draw: st.DrawFn) -> bytes:
    """A hash file of NDJSON lines (maybe a BOM, CRLF, or no newline at the end)."""
    lines = draw(st.lists(_LINES, min_size=1, max_size=16))
    data = draw(st.sampled_from((b"\n", b"\r\n"))).join(lines)
    if draw(st.booleans()):
        data += b"\n"
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + data


@given(_files(), st.booleans())
def test_fast_path_builds_the_same_index_as_the_validating_path(data: bytes, strict: bool) -> None:
    """Any hash file: the same entries, numbers, lines, duplicates, notes and errors both ways."""
    assert _outcome(data, fast=True, strict=strict) == _outcome(data, fast=False, strict=strict)


@given(st.lists(bcrypt_hashes(), min_size=1, max_size=5), st.data())
def test_fast_path_keeps_what_the_records_say(hashes: list[str], data: st.DataObject) -> None:
    """Usual records read fast: each id finds its own hash, date and line, as parsed records say."""
    raw = [
        data.draw(password_hash_records(oid=f"{n:024x}", password_hash=h))
        for n, h in enumerate(hashes)
    ]
    text = "".join(json.dumps(r) + "\n" for r in raw).encode()
    records = [r for r in read_password_hashes(io.BytesIO(text)) if type(r) is PasswordHashRecord]
    index = index_password_hashes(read_password_hashes(io.BytesIO(text)))
    assert len(records) == len(hashes)
    for record in records:
        n = index.find(record.ids, None)
        assert index.line(n) == record.line
        assert index.entry(n).value == record.password_hash
        assert index.entry(n).set_at == _password_hashes.to_epoch(record.password_set_date)


def _parsed_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lines parse_password_hash is asked for from now on (it still parses them)."""
    parsed: list[int] = []
    real = _password_hashes.parse_password_hash

    def spy(raw: dict[str, Any], line: int = 0) -> PasswordHashRecord | UnreadableRecord:
        parsed.append(line)
        return real(raw, line)

    monkeypatch.setattr(_password_hashes, "parse_password_hash", spy)
    return parsed


def test_fast_path_is_taken_for_the_usual_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual shapes (``_id``/``_ID``, ``$oid`` or plain, a date or none) build no record."""
    parsed = _parsed_lines(monkeypatch)
    lines = [
        {"_id": {"$oid": "a1"}, "passwordHash": "$2b$x", "password_set_date": {"$date": DATE}},
        {"_ID": {"$oid": "a2"}, "passwordHash": "$2b$x", "email": EMAILS[0]},
        {"_id": "a3", "password_hash": " $2b$x ", "password_set_date": DATE},
        {"_id": "auth0|a4", "passwordHash": "$2b$x", "identifiers": [], "email": EMAILS[1]},
    ]
    data = "".join(json.dumps(r) + "\n" for r in lines).encode()
    index = index_password_hashes(read_password_hashes(io.BytesIO(data)))
    assert parsed == []
    assert [index.find([f"a{n}"], None) for n in range(1, 5)] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "raw",
    [
        {"_Id": {"$oid": "a1"}, "passwordHash": "$2b$x"},  # another case of _id
        {"_id": {"$oid": 5}, "passwordHash": "$2b$x"},
        {"_id": {"$oid": "auth0|"}, "passwordHash": "$2b$x"},
        {"_id": "  ", "passwordHash": "$2b$x", "email": EMAILS[0]},
        {"_id": None, "_ID": "a1", "passwordHash": "$2b$x"},
        {"_id": "a1", "alt_id": "a2", "passwordHash": "$2b$x"},
        {"_id": "a1"},  # no hash
        {"_id": "a1", "passwordHash": None, "password_hash": "$2b$x"},
        {"_id": "a1", "passwordHash": "  "},
        {"_id": "a1", "passwordHash": 5},
        {"_id": "a1", "custom_password_hash": CUSTOM},
        {"_id": "a1", "passwordHash": "$2b$x", "password_set_date": {"$date": 1614962116775}},
        {
            "_id": "a1",
            "passwordHash": "$2b$x",
            "password_set_date": {"$date": {"$numberLong": "1"}},
        },
        {"_id": "a1", "passwordHash": "$2b$x", "password_set_date": 1614962116775},
        {"_id": "a1", "passwordHash": "$2b$x", "identifiers": [EMAILS[0]]},
        {"email": EMAILS[0], "email_verified": True, "passwordHash": "$2b$x"},  # no id
        {"_id": "a0", "passwordHash": "$2b$y"},  # a duplicate of the first line
    ],
)
def test_odd_shapes_take_the_validating_path(
    monkeypatch: pytest.MonkeyPatch, raw: dict[str, Any]
) -> None:
    """Every record outside the usual shape is parsed and indexed as the validating way does."""
    parsed = _parsed_lines(monkeypatch)
    data = (json.dumps({"_id": "a0", "passwordHash": "$2b$x"}) + "\n" + json.dumps(raw)).encode()
    fast = _state(index_password_hashes(read_password_hashes(io.BytesIO(data))))
    assert parsed == [2]
    assert fast == _state(index_password_hashes(list(read_password_hashes(io.BytesIO(data)))))


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1]",
        b"\x0c{}",
        b'{"_id": "a1", "passwordHash": "h"}\x0c',
        b'{"_id": "a1", "passwordHash": "h", "identifiers": 5}',  # (TypeError both ways)
    ],
)
def test_unreadable_lines_are_reported_the_same_way(line: bytes) -> None:
    """A line the parser refuses is an unreadable record with its line number, both ways."""
    data = b'{"_id": "a0", "passwordHash": "h"}\n\n' + line + b"\n"
    assert _outcome(data, fast=True) == _outcome(data, fast=False)
    assert _outcome(data, fast=True, strict=True) == _outcome(data, fast=False, strict=True)


def test_a_json_array_and_a_half_read_file_are_indexed_whole() -> None:
    """A JSON array file, and records partly read before indexing, give the usual index."""
    raw = [{"_id": f"a{n}", "passwordHash": "$2b$x", "password_set_date": DATE} for n in range(3)]
    array_file = json.dumps(raw).encode()
    assert _outcome(array_file, fast=True) == _outcome(array_file, fast=False)
    ndjson = "".join(json.dumps(r) + "\n" for r in raw).encode()
    records = read_password_hashes(io.BytesIO(ndjson))
    first = next(records)
    index = index_password_hashes(records)
    assert isinstance(first, PasswordHashRecord)
    assert index.total == 2
    assert index.find(["a0"], None) == -1
    assert index.find(["a2"], None) == 1


def test_strict_reading_stops_at_the_first_bad_record() -> None:
    """Strict: the first unreadable record raises, and the records after it are not read."""
    data = b'{"_id": "a0", "passwordHash": "h"}\nnot json\n{"_id": "a1", "passwordHash": "h"}\n'
    records = read_password_hashes(io.BytesIO(data), strict=True)
    assert isinstance(next(records), PasswordHashRecord)
    with pytest.raises(InvalidRecordError, match="line 2"):
        next(records)
    assert list(records) == []


_LINE = b'{"_id": "a0", "passwordHash": "$2b$x"}\n'


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xef\xbb\xbf",
        b"\n\n",
        gzip.compress(_LINE * 3),
        gzip.compress(b"[" + _LINE + b"]"),
        gzip.compress(_LINE * 3)[:-9],  # truncated
        gzip.compress(gzip.compress(_LINE)),
        b"-----BEGIN PGP MESSAGE-----\n",
        b"_id,passwordHash\na0,x\n",
        b"[" + _LINE + b"," + _LINE,  # not closed
        _LINE + b"\x00\x01\x02" * 30 + b"\n" + _LINE,
    ],
    ids=[
        "empty",
        "bom",
        "blank",
        "gzip",
        "gzip-array",
        "gzip-cut",
        "gzip-twice",
        "pgp",
        "csv",
        "array-open",
        "binary-line",
    ],
)
def test_whole_files_read_the_same_way(data: bytes) -> None:
    """Gzip, JSON arrays, and files that are no hash file: the same index, or the same error."""
    assert _outcome(data, fast=True) == _outcome(data, fast=False)
    assert _outcome(data, fast=True, strict=True) == _outcome(data, fast=False, strict=True)
