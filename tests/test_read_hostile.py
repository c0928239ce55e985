"""Hostile and damaged records never crash a reader: each is reported, reading goes on."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth0_ory_migrate import (
    Auth0User,
    InputFileError,
    PasswordHashRecord,
    UnreadableRecord,
    read_password_hashes,
    read_users,
)
from auth0_ory_migrate._core import _read
from auth0_ory_migrate._core._read import MAX_DEPTH, iter_raw_records, ndjson_blocks


def _user(n: int, **extra: Any) -> dict[str, Any]:
    return {"user_id": f"auth0|{n:024x}", "email": f"user{n}@example.com", **extra}


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode() + b"\n"


def _nested(depth: int) -> Any:
    """A value whose nesting, counted with the record around it, is *depth* levels."""
    value: Any = 1
    for n in range(depth - 1):
        value = [value] if n % 2 else {"k": value}
    return value


def _users(data: bytes, **kwargs: Any) -> list[Auth0User | UnreadableRecord]:
    return list(read_users(io.BytesIO(data), **kwargs))


def _bad(items: list[Any]) -> list[UnreadableRecord]:
    return [i for i in items if isinstance(i, UnreadableRecord)]


def _ids(items: list[Any]) -> list[str]:
    return [i.user_id for i in items if isinstance(i, Auth0User)]


# --- case 1: deep nesting -------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 253, 300, 1100, 100_000])
def test_ndjson_record_nested_too_deep_is_reported_and_the_rest_is_read(depth: int) -> None:
    """A record nested past MAX_DEPTH is reported with its line and user id; the others are read."""
    deep = b'{"user_id": "auth0|deep", "app_metadata": ' + b"[" * depth + b"]" * depth + b"}\n"
    data = _line(_user(1)) + deep + _line(_user(2))
    items = _users(data)
    assert _ids(items) == [_user(1)["user_id"], _user(2)["user_id"]]
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|deep")
    assert f"nested deeper than {MAX_DEPTH} levels" in bad.reason


def test_record_at_the_depth_limit_is_read() -> None:
    """A record exactly MAX_DEPTH levels deep is read, in NDJSON and in a JSON array."""
    record = _user(1, app_metadata=_nested(MAX_DEPTH - 1))
    assert _ids(_users(_line(record))) == [record["user_id"]]
    assert _ids(_users(json.dumps([record]).encode())) == [record["user_id"]]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 100_000])
def test_json_array_item_nested_too_deep_is_reported_and_the_rest_is_read(depth: int) -> None:
    """A JSON-array item nested too deep (even 100,000 levels) is reported; the next ones read."""
    deep = '{"user_id": "auth0|deep", "x": ' + "[" * depth + "]" * depth + "}"
    text = f"[{json.dumps(_user(1))},\n{deep},\n{json.dumps(_user(2))}]"
    items = _users(text.encode())
    assert _ids(items) == [_user(1)["user_id"], _user(2)["user_id"]]
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|deep")
    assert "nested deeper" in bad.reason


def test_json_array_nested_100000_deep_as_a_whole_is_reported() -> None:
    """A JSON array that is only brackets 100,000 deep is reported, not a RecursionError."""
    items = _users(b"[" * 100_000 + b"]" * 100_000)
    [bad] = _bad(items)
    assert "nested deeper" in bad.reason


def test_array_hash_file_nested_deep_is_reported() -> None:
    """An array hash file with a deeply nested item goes through the same reader: reported."""
    good = {
        "_id": {"$oid": "a" * 24},
        "email": "a@example.com",
        "passwordHash": "$2b$10$" + "x" * 53,
    }
    text = "[" + "[" * 100_000 + "]" * 100_000 + "," + json.dumps(good) + "]"
    items = list(read_password_hashes(io.BytesIO(text.encode())))
    assert [type(i) for i in items] == [UnreadableRecord, PasswordHashRecord]
    assert "nested deeper" in items[0].reason  # type: ignore[union-attr]


def test_csv_json_cell_nested_too_deep_is_reported() -> None:
    """A CSV JSON cell nested too deep reports its row; the other rows are read."""
    deep = "[" * 5000 + "]" * 5000
    data = f'user_id,app_metadata\nauth0|a1,"{deep}"\nauth0|a2,{{}}\n'.encode()
    items = _users(data)
    assert _ids(items) == ["auth0|a2"]
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|a1")
    assert "nested deeper" in bad.reason


_INTS = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.integers(-(10**30), 10**30),
    st.sampled_from([2**64, 2**64 - 1, -(2**63), -(2**63) - 1, 10**19, -(10**19), 10**20]),
)


@given(
    number=_INTS,
    where=st.sampled_from(["value", "first", "later", "nested"]),
    separators=st.sampled_from([(", ", ": "), (",", ":"), (" ,  ", " :\t")]),
    padding=st.sampled_from(["", "  ", "\t"]),
)
def test_ndjson_integer_is_read_exactly_or_reported(
    number: int, where: str, separators: tuple[str, str], padding: str
) -> None:
    """An NDJSON integer in the 64-bit range is read exactly, any other one reported, wherever."""
    value: Any = {
        "value": number,
        "first": [number, "1" * 25],
        "later": ["-" + "9" * 25, number],
        "nested": {"a": [{"b": number}]},
    }[where]
    record = {"user_id": "auth0|n", "id": "1" * 30, "app_metadata": value}
    line = json.dumps(record, separators=separators).replace("[", "[" + padding).encode()
    [item] = _users(line + b"\n")
    if number in _read.INT_RANGE:
        assert isinstance(item, Auth0User)
        assert item.raw["app_metadata"] == value
    else:
        assert isinstance(item, UnreadableRecord)
        assert item.user_id == "auth0|n"
        assert item.reason == "holds an integer that does not fit in 64 bits"


# --- case 2: invalid UTF-8 ------------------------------------------------------------------------


def test_invalid_utf8_in_a_json_array_is_reported_and_reading_goes_on() -> None:
    """A JSON-array item with bytes that are not UTF-8 is reported; the other items are read."""
    data = (
        b"[" + json.dumps(_user(1)).encode() + b',\n{"user_id": "auth0|bad", "name": "Ren\xe9"},\n'
        + json.dumps(_user(2)).encode() + b"]"
    )  # fmt: skip
    items = _users(data)
    assert _ids(items) == [_user(1)["user_id"], _user(2)["user_id"]]
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|bad")
    assert "UTF-8" in bad.reason


def test_latin1_csv_reports_the_rows_with_non_utf8_bytes() -> None:
    """A Latin-1 CSV: rows with accented letters are reported (re-save as UTF-8), the rest read."""
    data = "user_id,name\nauth0|a1,René\nauth0|a2,Ken\nauth0|a3,Zoë\n".encode("latin-1")
    items = _users(data)
    assert _ids(items) == ["auth0|a2"]
    assert [(b.line, b.user_id) for b in _bad(items)] == [(2, "auth0|a1"), (4, "auth0|a3")]
    assert all("UTF-8" in b.reason for b in _bad(items))


def test_invalid_utf8_ndjson_line_says_utf8() -> None:
    """An NDJSON line that is not UTF-8 says so (and names the user)."""
    items = _users(_line(_user(1)) + b'{"user_id": "auth0|bad", "name": "Ren\xe9"}\n')
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|bad")
    assert "UTF-8" in bad.reason


# --- case 3: CSV ----------------------------------------------------------------------------------


def test_csv_field_over_the_csv_size_limit_is_reported() -> None:
    """A CSV cell over the csv module's field limit reports its row; the next rows are read."""
    data = f'user_id,app_metadata\nauth0|a1,"{{""x"": ""{"y" * 200_000}""}}"\nauth0|a2,{{}}\n'
    items = _users(data.encode())
    assert _ids(items) == ["auth0|a2"]
    [bad] = _bad(items)
    assert bad.line == 2
    assert "field limit" in bad.reason


@pytest.mark.parametrize(
    "data",
    [
        'user_id,identities,identities[0].connection\nauth0|a1,"{""a"": 1}",c\n',
        "user_id,blocked,blocked.x\nauth0|a1,true,x\n",
        "user_id,a,a[0]\nauth0|a1,text,x\n",
        "user_id,a[0],a.b\nauth0|a1,x,y\n",
    ],
    ids=["json-cell-and-column", "boolean-and-column", "text-and-index", "index-and-key"],
)
def test_csv_cell_type_clash_is_reported(data: str) -> None:
    """Two columns that give one field two shapes report the row, naming the column."""
    items = _users((data + "auth0|a2,,\n").encode())
    assert _ids(items) == ["auth0|a2"]
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|a1")
    assert "column" in bad.reason


def test_csv_huge_index_in_a_header_is_bounded() -> None:
    """``identities[100000000].connection`` is refused per row, fast, not a 100M-item list."""
    data = b"user_id,identities[100000000].connection\nauth0|a1,Username\nauth0|a2,\n"
    t = time.perf_counter()
    items = _users(data)
    assert time.perf_counter() - t < 1
    assert _ids(items) == ["auth0|a2"]
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|a1")
    assert "index" in bad.reason


# --- case 5: a very long line ---------------------------------------------------------------------


def test_line_over_the_limit_is_reported_and_the_next_lines_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line longer than the per-line limit is reported by line and user id; reading goes on."""
    monkeypatch.setattr(_read, "MAX_LINE_BYTES", 10_000)
    long = b'{"user_id": "auth0|long", "x": "' + b"z" * 50_000 + b'"}\n'
    data = _line(_user(1)) + long + _line(_user(2)) + long
    items = _users(data)
    assert _ids(items) == [_user(1)["user_id"], _user(2)["user_id"]]
    bad = _bad(items)
    assert [(b.line, b.user_id) for b in bad] == [(2, "auth0|long"), (4, "auth0|long")]
    assert all("longer than 10,000 bytes" in b.reason for b in bad)


def test_line_over_the_limit_across_many_blocks_keeps_memory_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line of many read blocks is dropped as it goes (never held whole) and reported."""
    monkeypatch.setattr(_read, "MAX_LINE_BYTES", 300_000)
    long = b'{"user_id": "auth0|long", "x": "' + b"z" * 3_000_000 + b'"}\n'
    blocks = ndjson_blocks(io.BytesIO(long + _line(_user(1))), "users")
    assert blocks is not None
    got = list(blocks)
    assert max(len(b) for _, b in got) < 400_000
    items = _users(long + _line(_user(1)))
    assert _ids(items) == [_user(1)["user_id"]]
    assert [b.line for b in _bad(items)] == [1]


def test_a_long_line_is_read_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line of 16,000 small reads is put together once, not copied again per read."""
    monkeypatch.setattr(_read, "_BLOCK", 1024)
    data = b'{"user_id": "auth0|long", "x": "' + b"z" * 16_000_000 + b'"}\n'
    t = time.perf_counter()
    blocks = ndjson_blocks(io.BytesIO(data), "users")
    assert blocks is not None
    assert [len(b) for _, b in blocks] == [len(data)]
    assert time.perf_counter() - t < 1


# --- case 6: a truncated line names its user ------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b'{"user_id": "auth0|cut", "email": "a@exa',
        b'{"email": "a@b.c", "identities": [{"user_id": "x1"}], "user_id": "auth0|cut", "na',
        b'{"user_id": "auth0|cut", "name": "A", "app_metadata": {"x": [1, 2,',
    ],
)
def test_truncated_line_names_its_user_id(line: bytes) -> None:
    """A line cut short whose top-level user_id is readable names it in the report."""
    items = _users(_line(_user(1)) + line + b"\n" + _line(_user(2)))
    [bad] = _bad(items)
    assert (bad.line, bad.user_id) == (2, "auth0|cut")
    assert "not valid JSON" in bad.reason


def test_truncated_line_does_not_take_a_nested_user_id() -> None:
    """Only the top-level user_id names the record, never one of its identities'."""
    items = _users(b'{"identities": [{"user_id": "x1", "provider": "auth0"}], "ema\n')
    [bad] = _bad(items)
    assert bad.user_id is None


# --- case 7: files that are not what they claim --------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (PNG, "PNG image"),
        (bytes([0x93, 0x00, 0x17, 0xFE, 0x01, 0x02]) * 100, "binary"),
        (b"\x00\x01\x02\x03" * 100, "binary"),
        (codecs.BOM_UTF16_LE + "user_id,email\nauth0|a,a@b.c\n".encode("utf-16-le"), "UTF-16"),
        (codecs.BOM_UTF16_BE + "user_id,email\nauth0|a,a@b.c\n".encode("utf-16-be"), "UTF-16"),
        ('{"user_id": "auth0|a"}\n'.encode("utf-16-le"), "UTF-16"),
        (b"PK\x03\x04" + bytes(100), "ZIP"),
        (gzip.compress(PNG), "PNG image"),
    ],
    ids=["png", "random", "nul-bytes", "utf16-le-bom", "utf16-be-bom", "utf16-no-bom", "zip", "gz"],
)
def test_file_that_is_not_text_is_reported_as_what_it_is(data: bytes, says: str) -> None:
    """Binary data, images and UTF-16 text are named as such, never as OpenPGP-encrypted."""
    for read in (read_users, read_password_hashes):
        with pytest.raises(InputFileError) as info:
            list(read(io.BytesIO(data)))
        assert says in info.value.reason
        assert "OpenPGP" not in info.value.reason
    if says == "UTF-16":
        assert "re-save" in info.value.reason
        assert "UTF-8" in info.value.reason


def test_random_bytes_of_any_first_byte_are_not_called_encrypted() -> None:
    """Whatever the first byte, non-OpenPGP binary data is never called OpenPGP-encrypted."""
    for first in range(0x80, 0x100):
        data = bytes([first]) + b"\xff\x00\xfe\x13" * 50
        with pytest.raises(InputFileError) as info:
            list(iter_raw_records(io.BytesIO(data), "users", allow_csv=True))
        assert "OpenPGP" not in info.value.reason, hex(first)


def test_json_first_line_then_a_nul_line_is_read_line_by_line() -> None:
    """A file that starts like JSON is text: a NUL line in it is one unreadable record."""
    records = list(read_users(io.BytesIO(b"{\n\x00\n")))  # found by Hypothesis
    assert [type(r).__name__ for r in records] == ["UnreadableRecord", "UnreadableRecord"]
    assert [r.line for r in records] == [1, 2]
