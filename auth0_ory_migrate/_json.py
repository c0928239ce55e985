"""JSON in and out, with orjson when it is installed (the ``fast`` extra)."""

from __future__ import annotations

import json
from typing import Any


try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

__all__ = ["HAVE_ORJSON", "JSONDecodeError", "dumps", "loads"]

HAVE_ORJSON = orjson is not None
JSONDecodeError = ValueError  # both json.JSONDecodeError and orjson's error are ValueErrors


if orjson is not None:

    def loads(data: bytes | str) -> Any:
        """Parse one JSON document."""
        return orjson.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise *obj* to compact UTF-8 JSON (no trailing newline)."""
        return orjson.dumps(obj)  # type: ignore[no-any-return]

else:  # pragma: no cover - depends on the environment

    def loads(data: bytes | str) -> Any:
        """Parse one JSON document."""
        return json.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise *obj* to compact UTF-8 JSON (no trailing newline)."""
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
