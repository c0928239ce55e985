"""The lenient first stage of every reader: bytes in, raw JSON objects out.

Auth0 hands over files in several shapes: gzipped or plain, newline-delimited
JSON or one JSON array, CSV from the export job, with or without a UTF-8 BOM
and CRLF line ends. :func:`iter_raw_records` turns any of them into a stream
of ``(line, dict)`` pairs, or :class:`UnreadableRecord` for a line that is not
a JSON object, in bounded memory. It reads only the file object it is handed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

from ..exceptions import InputFileError
from . import _json
from ._records import Source, UnreadableRecord


__all__ = [
    "RawRecord",
    "decode_ndjson_line",
    "iter_raw_records",
    "iter_records",
    "ndjson_blocks",
    "ndjson_lines",
]

#: ``(line number, the record as parsed)``.
RawRecord = tuple[int, dict[str, Any]]

T = TypeVar("T")

#: The first two bytes of every gzip stream.
GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8
_CHUNK = 1 << 20
_BLOCK = 256 << 10
_MAX_ARRAY_ITEM = 64 << 20

_ENCRYPTED = (
    "the file is OpenPGP-encrypted (Auth0 support encrypts password-hash exports): decrypt it "
    "first, e.g. `gpg --output hashes.json --decrypt hashes.json.gpg`, and pass the decrypted file"
)


class _Borrowed(io.RawIOBase):
    """A raw view of the caller's file that never closes it.

    Our buffering and text wrappers close what they wrap when they are closed or
    collected; the caller's file object must stay open and the caller's.
    """

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if isinstance(self._f, io.BufferedIOBase | io.RawIOBase):
            return self._f.readinto(buffer) or 0  # one copy, not two
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open_binary(f: IO[bytes], source: Source) -> io.BufferedReader:
    """Undo gzip (recognised by its magic bytes, not the name) and check for encryption."""
    buffered: io.BufferedReader = io.BufferedReader(_Borrowed(f), buffer_size=_CHUNK)
    head = buffered.peek(64)[:64]
    if head.startswith(GZIP_MAGIC):
        buffered = io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), buffer_size=_CHUNK)
        head = buffered.peek(64)[:64]
    stripped = head.removeprefix(_BOM).lstrip()
    if stripped.startswith(b"-----BEGIN PGP"):
        raise InputFileError(source, _ENCRYPTED)
    if head[:1] and head[0] >= 0x80 and not head.startswith(_BOM):
        # An OpenPGP binary packet starts with a byte whose top bit is set; no JSON or CSV does.
        raise InputFileError(source, _ENCRYPTED)
    return buffered


def iter_raw_records(
    f: IO[bytes], source: Source, *, allow_csv: bool = False
) -> Iterator[RawRecord | UnreadableRecord]:
    """Yield each JSON object of *f* with its 1-based line number.

    Args:
        f: A binary file object (gzip, BOM, CRLF and blank lines are handled).
        source: Which input this is, for error reports.
        allow_csv: Read a file that is neither NDJSON nor a JSON array as the
            CSV flavour of Auth0's export job.

    Raises:
        InputFileError: The file as a whole cannot be read (encrypted,
            truncated gzip, not JSON).

    .. versionadded:: 0.1.0
    """
    with _file_errors(source):
        binary = _open_binary(f, source)
        kind = _detect(binary, allow_csv=allow_csv)
        if kind == "json":
            yield from _iter_json_stream(binary, source)
        elif kind == "ndjson":
            for number, line in ndjson_lines(binary):
                yield decode_ndjson_line(number, line, source)
        elif kind == "csv":
            yield from _iter_csv(binary)
        else:
            raise InputFileError(
                source, "not newline-delimited JSON or a JSON array (first character is not { or [)"
            )


@contextlib.contextmanager
def _file_errors(source: Source) -> Iterator[None]:
    """Turn what a damaged gzip stream raises into an :class:`InputFileError`."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputFileError(source, f"the gzip stream is damaged or truncated ({e})") from e


def ndjson_blocks(
    f: IO[bytes], source: Source, *, allow_csv: bool = False
) -> Iterator[tuple[int, bytes]] | None:
    """An NDJSON file in blocks of whole lines, each with the number of its first line.

    ``None`` when the file is another format (a JSON array, CSV). Each block
    goes to :func:`ndjson_lines` and :func:`decode_ndjson_line`, which read it as
    :func:`iter_raw_records` reads the file: they let that work happen elsewhere
    (in another process).
    """
    with _file_errors(source):
        binary = _open_binary(f, source)
        if _detect(binary, allow_csv=allow_csv) != "ndjson":
            return None

    def blocks() -> Iterator[tuple[int, bytes]]:
        number, tail = 1, b""
        with _file_errors(source):
            while chunk := binary.read(_BLOCK):
                end = chunk.rfind(b"\n") + 1
                if not end:
                    tail += chunk
                    continue
                block, tail = tail + chunk[:end], chunk[end:]
                yield number, block
                number += block.count(b"\n")
        if tail:
            yield number, tail

    return blocks()


def iter_records(
    f: IO[bytes],
    source: Source,
    parse: Callable[[dict[str, Any], int], T | UnreadableRecord],
    *,
    strict: bool = False,
    allow_csv: bool = False,
) -> Iterator[T | UnreadableRecord]:
    """The validated stage of every reader: *parse* each raw record of *f*.

    In *strict* mode the first unreadable record raises its
    :class:`~auth0_ory_migrate.InvalidRecordError` instead of being yielded.
    """
    for item in iter_raw_records(f, source, allow_csv=allow_csv):
        result = item if isinstance(item, UnreadableRecord) else parse(item[1], item[0])
        if strict and isinstance(result, UnreadableRecord):
            raise result.to_error()
        yield result


def _detect(binary: io.BufferedReader, *, allow_csv: bool) -> str:
    """``json`` (array), ``ndjson``, ``csv`` or ``unknown``, from the first 64 KiB."""
    head = binary.peek(1 << 16).removeprefix(_BOM)
    first = head.lstrip()[:1]
    if first == b"[":
        return "json"
    if first in (b"{", b""):
        return "ndjson"
    # A damaged first line must not turn NDJSON into CSV: look at the lines after it.
    if any(line.lstrip()[:1] == b"{" for line in head.splitlines()[1:]):
        return "ndjson"
    return "csv" if allow_csv else "unknown"


def _json_problem(e: ValueError) -> str:
    # Never echo the offending text: it could hold a hash. Keep the position only.
    column = re.search(r"column (\d+)", str(e))
    return f"not valid JSON (column {column.group(1)})" if column else "not valid JSON"


def ndjson_lines(lines: Iterable[bytes], start: int = 1) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of NDJSON (or of a block of it), stripped, with their numbers."""
    for number, line in enumerate(lines, start):
        if number == 1:
            line = line.removeprefix(_BOM)
        line = line.strip()
        if line:
            yield number, line


def decode_ndjson_line(
    number: int, line: bytes, source: Source, loads: Callable[[bytes], Any] = _json.loads
) -> RawRecord | UnreadableRecord:
    """One line of an NDJSON file as a raw record, or why it is unreadable."""
    try:
        obj = loads(line)
    except ValueError as e:  # json.JSONDecodeError, orjson.JSONDecodeError, bad UTF-8
        return UnreadableRecord(source, number, None, _json_problem(e))
    if type(obj) is dict:
        return number, obj
    return UnreadableRecord(source, number, None, "not a JSON object")


def _iter_json_stream(binary: IO[bytes], source: Source) -> Iterator[RawRecord | UnreadableRecord]:
    """Stream the objects of JSON arrays (or bare objects) without loading them whole."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    decoder = json.JSONDecoder()
    buf, pos, line, eof, depth = "", 0, 1, False, 0
    while True:
        # Skip white space (and commas inside an array), reading more as needed.
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                if buf[pos] == "\n":
                    line += 1
                pos += 1
            if pos < len(buf) or eof:
                break
            more = text.read(_CHUNK)
            buf, pos, eof = buf[pos:] + more, 0, not more
        if pos >= len(buf):
            if depth:
                yield UnreadableRecord(
                    source, line, None, "the JSON array is not closed (truncated?)"
                )
            return
        char = buf[pos]
        if char == "[" and depth == 0:
            depth, pos = 1, pos + 1
            continue
        if char == "]" and depth == 1:
            depth, pos = 0, pos + 1
            continue
        if char != "{" and depth == 0:
            yield UnreadableRecord(
                source, line, None, "unexpected data in the JSON file; the rest cannot be read"
            )
            return
        try:
            obj, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as e:
            if not eof and len(buf) - pos < _MAX_ARRAY_ITEM:
                more = text.read(_CHUNK)
                buf, pos, eof = buf[pos:] + more, 0, not more
                continue
            yield UnreadableRecord(
                source, line, None, f"{_json_problem(e)}; the rest of the file cannot be read"
            )
            return
        if type(obj) is dict:
            yield line, obj
        else:
            yield UnreadableRecord(source, line, None, "not a JSON object")
        line += buf.count("\n", pos, end)
        pos = end


def _iter_csv(binary: IO[bytes]) -> Iterator[RawRecord | UnreadableRecord]:
    """Read the CSV flavour of the export job into the same nested shape as JSON."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    paths = [_csv_path(name) for name in header]
    start = reader.line_num + 1
    for row in reader:
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield UnreadableRecord(
                "users", number, None, f"has {len(row)} columns, the header has {len(header)}"
            )
            continue
        record: dict[str, Any] = {}
        for path, cell in zip(paths, row, strict=True):
            value = _csv_value(path[-1], cell)
            if value is not None:
                _set_path(record, path, value)
        yield number, record


def _csv_path(name: str) -> list[str | int]:
    """``identities[0].connection`` → ``["identities", 0, "connection"]``."""
    path: list[str | int] = []
    for part in name.strip().lstrip("'").split("."):
        while "[" in part and part.endswith("]"):
            key, _, rest = part.partition("[")
            if key:
                path.append(key)
            index, _, part = rest.partition("]")
            path.append(int(index) if index.isdigit() else index)
            if not part:
                break
        if part:
            path.append(part)
    return path


_CSV_BOOLEANS = frozenset({"email_verified", "phone_verified", "blocked", "isSocial"})
_CSV_INTEGERS = frozenset({"logins_count"})
_CSV_JSON = frozenset({"app_metadata", "user_metadata", "identities", "multifactor", "profileData"})


def _csv_value(key: str | int, cell: str) -> Any:
    """Undo the export job's CSV-injection quote and restore the JSON types of known fields."""
    if cell.startswith("'"):
        cell = cell[1:]
    if cell == "":
        return None
    if key in _CSV_BOOLEANS and cell in ("true", "false"):
        return cell == "true"
    if key in _CSV_INTEGERS and cell.isdigit():
        return int(cell)
    if key in _CSV_JSON and cell[:1] in ("{", "["):
        try:
            return json.loads(cell)
        except ValueError:
            return cell
    return cell


def _set_path(record: dict[str, Any], path: list[str | int], value: Any) -> None:
    node: Any = record
    for key, nxt in itertools.pairwise(path):
        if isinstance(key, int):
            while len(node) <= key:
                node.append(None)
            if node[key] is None:
                node[key] = [] if isinstance(nxt, int) else {}
            node = node[key]
        else:
            node = node.setdefault(key, [] if isinstance(nxt, int) else {})
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = value
    else:
        node[last] = value
