"""The identities file: one Ory ``CreateIdentityBody`` per line (NDJSON).

It is exactly what is sent to ``POST``/``PATCH /admin/identities``, so it holds
password hashes: whoever writes it to disk uses mode 0600
(:func:`auth0_ory_migrate._runtime._files.private_file` does).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, Any

from . import _json
from ._read import iter_raw_records
from ._records import UnreadableRecord


__all__ = ["dump_identity", "read_identities"]


def dump_identity(body: Mapping[str, Any]) -> bytes:
    """One line of the identities file (compact JSON and a newline).

    .. versionadded:: 0.1.0
    """
    return _json.dumps(body) + b"\n"


def read_identities(
    f: IO[bytes], *, strict: bool = False
) -> Iterator[dict[str, Any] | UnreadableRecord]:
    """Read an identities file written by ``convert``, body by body.

    A line is unreadable when it is not a JSON object or lacks a string
    ``external_id`` (the import's idempotency key) or ``schema_id``.

    .. versionadded:: 0.1.0
    """
    for item in iter_raw_records(f, "identities"):
        if not isinstance(item, UnreadableRecord):
            line, body = item
            external_id = body.get("external_id")
            if not isinstance(external_id, str) or not external_id:
                item = UnreadableRecord("identities", line, None, "no external_id")
            elif not isinstance(body.get("schema_id"), str):
                item = UnreadableRecord("identities", line, external_id, "no schema_id")
            else:
                yield body
                continue
        if strict:
            raise item.to_error()
        yield item
