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

from attrs import frozen

from ..exceptions import InputFileError
from . import _json
from ._records import Source, UnreadableRecord


__all__ = [
    "INT_RANGE",
    "MAX_CSV_INDEX",
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "RawRecord",
    "decode_ndjson_line",
    "iter_raw_records",
    "iter_records",
    "ndjson_blocks",
    "ndjson_lines",
    "ndjson_objects",
]

#: ``(line number, the record as parsed)``.
RawRecord = tuple[int, dict[str, Any]]

T = TypeVar("T")

#: The first two bytes of every gzip stream.
GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8
_CHUNK = 1 << 20
_BLOCK = 256 << 10

#: How deep a record may nest objects and arrays (the record itself is level 1). A deeper
#: record is reported as unreadable: the identity body that carries it must stay within what
#: JSON libraries (orjson: 255 levels) and Ory accept.
MAX_DEPTH = 128
#: The longest line (NDJSON) or item (JSON array) read, in bytes. A longer one is reported as
#: unreadable, and is never held in memory whole.
MAX_LINE_BYTES = 64 << 20
#: The most entries a CSV column index may address (``identities[999].connection``).
MAX_CSV_INDEX = 1000
#: JSON integers outside this range do not survive a round trip through orjson (it reads them as
#: floats, and writes none): a record holding one is reported as unreadable.
INT_RANGE = range(-(1 << 63), 1 << 64)

_ENCRYPTED = (
    "the file is OpenPGP-encrypted (Auth0 support encrypts password-hash exports): give your "
    "private key with --pgp-key KEY (pip install 'auth0-ory-migrate[pgp]'), or decrypt it first "
    "(gpg --output hashes.json --decrypt hashes.json.gpg)"
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
    """Undo gzip (recognised by its magic bytes, not the name); refuse what is not UTF-8 text."""
    buffered: io.BufferedReader = io.BufferedReader(_Borrowed(f), buffer_size=_CHUNK)
    head = buffered.peek(64)[:64]
    if head.startswith(GZIP_MAGIC):
        buffered = io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), buffer_size=_CHUNK)
        head = buffered.peek(64)[:64]
    stripped = head.removeprefix(_BOM).lstrip()
    if stripped.startswith(b"-----BEGIN PGP"):
        raise InputFileError(source, _ENCRYPTED)
    problem = _not_text(head)
    if problem is not None:
        raise InputFileError(source, problem)
    return buffered


#: Magic bytes of files people attach by mistake, and what to call them.
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (a spreadsheet? export it as CSV)"),
)
_UTF16 = "the file is UTF-16 text; re-save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8 in > out`)"
#: Control characters that no JSON or CSV text holds (all below 0x20 but tab, LF, FF, CR).
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13})


def _not_text(head: bytes) -> str | None:
    """What the first bytes of a file say it is, when that is not JSON or CSV text (rare path)."""
    if not head or (head.isascii() and not any(c in head for c in _CONTROL)):
        return None  # the usual case, decided at once
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _UTF16
    for text, zeros in ((head[::2], head[1::2]), (head[1::2], head[::2])):
        ascii_text = text.strip(b"\0").isascii() and not any(c in text for c in _CONTROL)
        if len(zeros) >= 2 and not zeros.strip(b"\0") and ascii_text:
            return _UTF16  # ASCII text with every other byte NUL: UTF-16 without a BOM
    if _is_openpgp(head):
        return _ENCRYPTED
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return f"the file is {name}, not JSON or CSV text"
    if head.startswith(_BOM) or not any(c in head for c in _CONTROL):
        return None  # text, maybe not UTF-8: the records say which
    if any(line.lstrip()[:1] == b"{" for line in head.splitlines()):
        return None  # NDJSON with damaged lines (the first one included): each is reported
    return "the file is binary data, not JSON or CSV text"


def _is_openpgp(head: bytes) -> bool:
    """Whether *head* starts an OpenPGP encrypted message (RFC 4880 and 9580 packet headers).

    An encrypted message starts with a session-key packet (public-key: tag 1, symmetric: tag 3)
    or, rarely, the encrypted data itself (tags 18, 20); its body starts with a version number.
    """
    first = head[0]
    if not first & 0x80:
        return False
    if first & 0x40:  # new format: the tag, then a length of 1, 2 or 5 octets
        tag, length = first & 0x3F, head[1] if len(head) > 1 else 0
        at = 2 if length < 192 or 224 <= length < 255 else 3 if length < 224 else 6
    else:  # old format: the tag, then a length of 1, 2, 4 or no octets
        tag, at = (first >> 2) & 0x0F, 1 + (1, 2, 4, 0)[first & 0x03]
    versions = {1: (3, 6), 3: (4, 5, 6), 18: (1, 2), 20: (1,)}.get(tag)
    return versions is not None and len(head) > at and head[at] in versions


def iter_raw_records(
    f: IO[bytes], source: Source, *, allow_csv: bool = False, check: bool = True
) -> Iterator[RawRecord | UnreadableRecord]:
    """Yield each JSON object of *f* with its 1-based line number.

    Args:
        f: A binary file object (gzip, BOM, CRLF and blank lines are handled).
        source: Which input this is, for error reports.
        allow_csv: Read a file that is neither NDJSON nor a JSON array as the
            CSV flavour of Auth0's export job.
        check: Report an NDJSON record nested deeper than :data:`MAX_DEPTH` or
            holding an integer outside :data:`INT_RANGE`. ``False`` for a file
            whose records are only looked into (a side file), never written out.

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
            for start, block in _blocks(binary, source):
                for number, line in ndjson_lines(block.split(b"\n"), start):
                    yield decode_ndjson_line(number, line, source, check=check)
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

    return _blocks(binary, source)


def _blocks(binary: io.BufferedReader, source: Source) -> Iterator[tuple[int, bytes]]:
    """Whole lines in blocks of about ``_BLOCK`` bytes; a line over the limit becomes a marker.

    A line is put together once from its pieces (linear time), and one longer than
    :data:`MAX_LINE_BYTES` is dropped piece by piece as it is read (bounded memory): only its
    first bytes are kept, in a marker line that :func:`decode_ndjson_line` reports.
    """
    limit = MAX_LINE_BYTES
    number, pieces, size = 1, list[bytes](), 0
    head: bytes | None = None  # the first bytes of a line over the limit, while it is skipped
    with _file_errors(source):
        while chunk := binary.read(_BLOCK):
            end = chunk.rfind(b"\n") + 1
            if not end:
                if head is None:
                    pieces.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        head, pieces, size = b"".join(pieces)[:_HEAD], [], 0
                continue
            if head is not None:  # the long line ends in this chunk
                cut = chunk.find(b"\n") + 1
                yield number, _overlong(head, limit) + b"\n"
                number, head, block = number + 1, None, chunk[cut:end]
            else:
                block = b"".join((*pieces, chunk[:end])) if pieces else chunk[:end]
            pieces, size = ([chunk[end:]], len(chunk) - end) if end < len(chunk) else ([], 0)
            if len(block) > limit:
                block = _mark_long_lines(block, limit)
            if block:
                yield number, block
                number += block.count(b"\n")
        if head is not None:
            yield number, _overlong(head, limit)
        elif pieces:
            tail = b"".join(pieces)
            yield number, tail if len(tail) <= limit else _overlong(tail[:_HEAD], limit)


#: How a line over the limit is passed on: this marker, the limit, then the line's first bytes.
_OVERLONG = b"\0auth0-ory-migrate:line-over-limit\0"
#: How much of a line over the limit is kept (to name its user).
_HEAD = 64 << 10


def _overlong(head: bytes, limit: int) -> bytes:
    return _OVERLONG + b"%d\0" % limit + head.replace(b"\n", b" ").replace(b"\r", b" ")


def _mark_long_lines(block: bytes, limit: int) -> bytes:
    """*block* with each line longer than *limit* replaced by its marker (rare path)."""
    lines = block.split(b"\n")
    return b"\n".join(
        line if len(line) <= limit else _overlong(line[:_HEAD], limit) for line in lines
    )


def iter_records(
    f: IO[bytes],
    source: Source,
    parse: Callable[[dict[str, Any], int], T | UnreadableRecord],
    *,
    strict: bool = False,
    allow_csv: bool = False,
    check: bool = True,
) -> Iterator[T | UnreadableRecord]:
    """The validated stage of every reader: *parse* each raw record of *f*.

    In *strict* mode the first unreadable record raises its
    :class:`~auth0_ory_migrate.InvalidRecordError` instead of being yielded.
    *check* is :func:`iter_raw_records`'s.
    """
    for item in iter_raw_records(f, source, allow_csv=allow_csv, check=check):
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


def ndjson_objects(blocks: Iterable[tuple[int, bytes]]) -> Iterator[dict[str, Any]]:
    """Every line of *blocks* (:func:`ndjson_blocks`) that is a JSON object, fast.

    For a pass that only looks records up: no line numbers, no checks, and nothing
    said of the other lines (the pass that reads the records reports them).
    """
    loads = _json.loads
    for start, block in blocks:
        lines = block.split(b"\n")
        if start == 1:
            lines[0] = lines[0].removeprefix(_BOM)
        for line in lines:
            if line:  # (JSON's whitespace around a record: the parser takes it)
                try:
                    obj = loads(line)
                except (ValueError, RecursionError):
                    try:  # rare: whitespace JSON does not know, which ndjson_lines strips too
                        obj = loads(line.strip())
                    except (ValueError, RecursionError):
                        continue
                if type(obj) is dict:
                    yield obj


def decode_ndjson_line(
    number: int,
    line: bytes,
    source: Source,
    loads: Callable[[bytes], Any] = _json.loads,
    *,
    check: bool = True,
) -> RawRecord | UnreadableRecord:
    """One line of an NDJSON file as a raw record, or why it is unreadable.

    A record nested deeper than :data:`MAX_DEPTH` or holding an integer outside
    :data:`INT_RANGE` is unreadable; *check* ``False`` skips finding out (for a pass
    that only looks up ids and emails).
    """
    try:
        obj = loads(line)
    except (ValueError, RecursionError):  # JSONDecodeError (orjson's too), bad UTF-8, too deep
        return _undecodable(number, line, source)
    if type(obj) is not dict:
        return UnreadableRecord(source, number, None, "not a JSON object")
    if not check:
        return number, obj
    # Cheap upper bounds first (one pass over the line, then C searches), the exact answer
    # only past them: the nesting cannot be deeper than the number of brackets, and a number
    # out of the 64-bit range is a run of 20 digits after a : , [ or whitespace (all : here),
    # or of 19 after a minus sign. Most lines stop at the run of 19.
    shape = line.translate(_SHAPE)
    if shape.count(b"{") > MAX_DEPTH or (
        _DIGITS19 in shape
        and (_AFTER_COLON in shape or _AFTER_BRACKET in shape or _AFTER_MINUS in shape)
    ):
        problem = _shape_problem(line)
        if problem is not None:
            return UnreadableRecord(source, number, _user_id_of(obj), problem)
    return number, obj


#: Digits become 0, ``[`` becomes ``{``, and ``,`` and whitespace become ``:``
#: (see :func:`decode_ndjson_line`).
_SHAPE = bytes.maketrans(b"0123456789[, \t\r\n", b"0000000000{:::::")
_DIGITS19 = b"0" * 19
_AFTER_COLON = b":" + b"0" * 20
_AFTER_BRACKET = b"{" + b"0" * 20
_AFTER_MINUS = b"-" + _DIGITS19


def _user_id_of(obj: dict[str, Any]) -> str | None:
    user_id = obj.get("user_id")
    return user_id if type(user_id) is str and user_id else None


def _undecodable(number: int, line: bytes, source: Source) -> UnreadableRecord:
    """Why *line* cannot be parsed, naming its user where its top-level user_id is readable."""
    if line.startswith(_OVERLONG):
        limit, _, head = line.removeprefix(_OVERLONG).partition(b"\0")
        user_id = _scan(head).user_id
        return UnreadableRecord(
            source, number, user_id, f"the line is longer than {int(limit):,} bytes (the limit)"
        )
    shape = _scan(line)
    if shape.depth > MAX_DEPTH:
        problem = _too_deep()
    else:
        try:
            line.decode()
        except UnicodeDecodeError:
            problem = _NOT_UTF8
        else:
            try:
                json.loads(line)
            except (ValueError, RecursionError) as e:
                problem = _json_problem(e) if isinstance(e, ValueError) else _too_deep()
            else:  # orjson refuses what the standard library reads: a number out of range
                problem = _shape_problem(line) or "not valid JSON"
    return UnreadableRecord(source, number, shape.user_id, problem)


_NOT_UTF8 = "holds bytes that are not UTF-8 (re-save the file as UTF-8)"


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels"


@frozen
class _Shape:
    """What a tolerant scan of a record's JSON text finds."""

    depth: int
    user_id: str | None
    big_int: bool


#: JSON tokens: a string (maybe cut short), a bracket or separator, a number.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|$)|[\[\]{}:,]|-?[0-9][0-9.eE+-]*', re.DOTALL)


def _scan(data: bytes) -> _Shape:
    """Depth, top-level ``user_id`` and out-of-range integers of JSON text, even if cut short."""
    depth = deepest = 0
    user_id: str | None = None
    big = False
    previous, key = b"", b""
    for match in _TOKEN.finditer(data):
        token = match.group()
        first = token[:1]
        if first in (b"{", b"["):
            depth += 1
            deepest = max(deepest, depth)
        elif first in (b"}", b"]"):
            depth -= 1
        elif first == b'"':
            if depth == 1 and previous in (b"{", b","):
                key = token
            elif depth == 1 and previous == b":" and key == b'"user_id"' and user_id is None:
                with contextlib.suppress(ValueError):
                    value = json.loads(token)
                    user_id = value if type(value) is str and value else None
        elif first not in (b":", b","):
            with contextlib.suppress(ValueError):
                if not any(c in token for c in b".eE") and int(token) not in INT_RANGE:
                    big = True
        previous = first
    return _Shape(deepest, user_id, big)


def _shape_problem(data: bytes) -> str | None:
    """Why the JSON text *data* (known to parse) cannot be used, or ``None`` (rare path)."""
    shape = _scan(data)
    if shape.depth > MAX_DEPTH:
        return _too_deep()
    if shape.big_int:
        return _BIG_INT
    return None


_BIG_INT = "holds an integer that does not fit in 64 bits"


class _Utf8Watch(io.RawIOBase):
    """A raw view of *binary* that notes whether any of the bytes read is not UTF-8.

    The text is decoded with ``surrogateescape``, so that one bad byte cannot stop the reading;
    only when :attr:`dirty` is set do the records need checking for escaped bytes.
    """

    def __init__(self, binary: io.BufferedReader) -> None:
        self._binary, self._carry, self.dirty = binary, b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._binary.readinto(buffer)
        if n and not self.dirty:
            data = self._carry + bytes(buffer[:n]) if self._carry else bytes(buffer[:n])
            if data.isascii():
                self._carry = b""
            else:
                try:
                    _, used = codecs.utf_8_decode(data, "strict", False)
                except UnicodeDecodeError:
                    self.dirty = True
                else:
                    self._carry = data[used:]
        return n


def _text(binary: io.BufferedReader) -> tuple[io.TextIOWrapper, _Utf8Watch]:
    watch = _Utf8Watch(binary)
    text = io.TextIOWrapper(
        io.BufferedReader(watch, buffer_size=_CHUNK),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )
    return text, watch


#: A byte that is not UTF-8, as ``surrogateescape`` decodes it.
_ESCAPED = re.compile("[\udc80-\udcff]")


class _OutOfRange(Exception):
    """An integer outside :data:`INT_RANGE` (raised from the JSON decoder)."""


def _parse_int(text: str) -> int:
    value = int(text)
    if value not in INT_RANGE:
        raise _OutOfRange
    return value


#: JSON strings and brackets, for finding where a value ends.
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _value_end(buf: str, pos: int) -> int | None:
    """Where the JSON value starting at *pos* ends, ``None`` if not within *buf* (rare path)."""
    depth = 0
    for match in _BRACKETS.finditer(buf, pos):
        token = match.group()
        if token in ("{", "["):
            depth += 1
        elif token in ("}", "]"):
            depth -= 1
            if depth == 0:
                return match.end()
    return None


def _iter_json_stream(
    binary: io.BufferedReader, source: Source
) -> Iterator[RawRecord | UnreadableRecord]:
    """Stream the objects of JSON arrays (or bare objects) without loading them whole."""
    text, watch = _text(binary)
    decoder = json.JSONDecoder(parse_int=_parse_int)
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
        except (json.JSONDecodeError, RecursionError, _OutOfRange) as e:
            # Read more (twice as much each time: linear) while the item may be incomplete.
            complete = not isinstance(e, json.JSONDecodeError) and _value_end(buf, pos)
            if not complete and not eof and len(buf) - pos < MAX_LINE_BYTES:
                more = text.read(max(_CHUNK, len(buf) - pos))
                buf, pos, eof = buf[pos:] + more, 0, not more
                continue
            user_id = _scan(buf[pos : pos + _HEAD].encode("utf-8", "surrogateescape")).user_id
            if not complete:
                problem = (
                    f"longer than {MAX_LINE_BYTES:,} bytes (the limit)"
                    if len(buf) - pos >= MAX_LINE_BYTES
                    else _too_deep()
                    if isinstance(e, RecursionError)
                    else _NOT_UTF8
                    if watch.dirty and _ESCAPED.search(buf, pos)
                    else _json_problem(e)  # type: ignore[arg-type]
                )
                yield UnreadableRecord(
                    source, line, user_id, f"{problem}; the rest of the file cannot be read"
                )
                return
            end = complete
            problem = _BIG_INT if isinstance(e, _OutOfRange) else _too_deep()
            yield UnreadableRecord(source, line, user_id, problem)
        else:
            if type(obj) is not dict:
                yield UnreadableRecord(source, line, None, "not a JSON object")
            elif watch.dirty and _ESCAPED.search(buf, pos, end):
                yield UnreadableRecord(source, line, _user_id_of(obj), _NOT_UTF8)
            elif buf.count("{", pos, end) + buf.count("[", pos, end) > MAX_DEPTH and (
                _scan(buf[pos:end].encode("utf-8", "surrogateescape")).depth > MAX_DEPTH
            ):
                yield UnreadableRecord(source, line, _user_id_of(obj), _too_deep())
            else:
                yield line, obj
        line += buf.count("\n", pos, end)
        pos = end


def _iter_csv(binary: io.BufferedReader) -> Iterator[RawRecord | UnreadableRecord]:
    """Read the CSV flavour of the export job into the same nested shape as JSON."""
    text, watch = _text(binary)
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise InputFileError("users", f"the CSV header cannot be read ({e})") from e
    if header is None:
        return
    paths = [_csv_path(name) for name in header]
    too_far = {
        n
        for n, path in enumerate(paths)
        if any(type(k) is int and k >= MAX_CSV_INDEX for k in path)
    }
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader, None)
        except (
            csv.Error
        ) as e:  # a cell over csv.field_size_limit(): the rest of its line is skipped
            yield UnreadableRecord("users", start, None, f"not valid CSV ({e})")
            start = reader.line_num + 1
            continue
        if row is None:
            return
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield UnreadableRecord(
                "users", number, None, f"has {len(row)} columns, the header has {len(header)}"
            )
            continue
        yield _csv_record(number, header, paths, row, too_far, dirty=watch.dirty)


def _csv_record(
    number: int,
    header: list[str],
    paths: list[list[str | int]],
    row: list[str],
    too_far: set[int],
    *,
    dirty: bool,
) -> RawRecord | UnreadableRecord:
    """One CSV row as a record, or why it cannot be one."""
    record: dict[str, Any] = {}
    problem = None
    for n, (path, cell) in enumerate(zip(paths, row, strict=True)):
        if dirty and _ESCAPED.search(cell):
            problem = _NOT_UTF8
        elif n in too_far and cell:
            problem = f"column {header[n][:80]!r}: an index of {MAX_CSV_INDEX} or more"
        if problem is not None:
            break
        try:
            value = _csv_value(path[-1], cell, MAX_DEPTH - len(path))
        except _CellProblem as e:
            problem = f"column {header[n][:80]!r}: {e}"
            break
        if value is not None:
            try:
                _set_path(record, path, value)
            except (TypeError, AttributeError, IndexError, KeyError):
                problem = f"column {header[n][:80]!r} does not fit the value of an earlier column"
                break
    if problem is None:
        return number, record
    user_id = row[paths.index(["user_id"])] if ["user_id"] in paths else None
    user_id = user_id.lstrip("'") if user_id and not _ESCAPED.search(user_id) else None
    return UnreadableRecord("users", number, user_id, problem)


class _CellProblem(ValueError):
    """Why a CSV cell cannot be read."""


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


def _csv_value(key: str | int, cell: str, max_depth: int = MAX_DEPTH) -> Any:
    """Undo the export job's CSV-injection quote and restore the JSON types of known fields."""
    if cell.startswith("'"):
        cell = cell[1:]
    if cell == "":
        return None
    if key in _CSV_BOOLEANS and cell in ("true", "false"):
        return cell == "true"
    if key in _CSV_INTEGERS and cell.isdigit():
        if len(cell) > 19 and int(cell) not in INT_RANGE:
            raise _CellProblem(_BIG_INT)
        return int(cell)
    if key in _CSV_JSON and cell[:1] in ("{", "["):
        try:
            value = _CELL_DECODER.decode(cell)
        except ValueError:
            return cell
        except RecursionError:
            raise _CellProblem(_too_deep()) from None
        except _OutOfRange:
            raise _CellProblem(_BIG_INT) from None
        brackets = cell.count("{") + cell.count("[")
        if (
            brackets > max_depth
            and _scan(cell.encode("utf-8", "surrogateescape")).depth > max_depth
        ):
            raise _CellProblem(_too_deep())
        return value
    return cell


_CELL_DECODER = json.JSONDecoder(parse_int=_parse_int)


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
