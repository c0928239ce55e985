"""JSON in and out, with orjson when it is installed (the ``fast`` extra)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from typing import Any


__all__ = ["HAVE_ORJSON", "dumps", "loads"]

HAVE_ORJSON = importlib.util.find_spec("orjson") is not None


if HAVE_ORJSON:
    import orjson

    #: Parse one JSON document (errors are ValueErrors). orjson's own function: this runs
    #: for every line of an export, and a wrapper's call would cost as much as a tenth of it.
    loads: Callable[[bytes | str], Any] = orjson.loads
    #: Serialise an object to compact UTF-8 JSON (no trailing newline).
    dumps: Callable[[Any], bytes] = orjson.dumps

else:  # pragma: no cover - depends on the environment

    def loads(data: bytes | str) -> Any:
        """Parse one JSON document (errors are ValueErrors)."""
        return json.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise *obj* to compact UTF-8 JSON (no trailing newline)."""
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
