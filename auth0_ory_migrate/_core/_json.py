"""JSON in and out, with orjson when it is installed (the ``fast`` extra)."""

from __future__ import annotations

import importlib.util
import json
from typing import Any


__all__ = ["HAVE_ORJSON", "dumps", "loads"]

HAVE_ORJSON = importlib.util.find_spec("orjson") is not None


if HAVE_ORJSON:
    import orjson

    def loads(data: bytes | str) -> Any:
        """Parse one JSON document (errors are ValueErrors)."""
        return orjson.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise *obj* to compact UTF-8 JSON (no trailing newline)."""
        return orjson.dumps(obj)

else:  # pragma: no cover - depends on the environment

    def loads(data: bytes | str) -> Any:
        """Parse one JSON document (errors are ValueErrors)."""
        return json.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise *obj* to compact UTF-8 JSON (no trailing newline)."""
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
