"""An in-memory implementation of the Ory (Kratos) admin identity API, for tests.

:class:`OryAdminServer` serves ``/admin/identities`` on ``127.0.0.1`` and follows the published
contract closely enough for a client written against Ory Network or a self-hosted Kratos to be
tested against it with the real ``ory-client`` SDK:

* ``POST /admin/identities`` (201), ``PATCH /admin/identities`` (batch import, 200 with per-item
  results), ``GET /admin/identities`` (``page_size``/``page_token`` with a ``Link`` header, filters
  ``credentials_identifier``, ``ids``, ``organization_id``, ``include_credential``),
  ``GET /admin/identities/{id}``, ``GET /admin/identities/by/external/{external_id}``,
  ``DELETE /admin/identities/{id}`` (204), ``GET /schemas/{id}`` and ``GET /health/alive|ready``.
* Ory's error body everywhere: ``{"error": {"code", "status", "message", "reason"?, "id"?}}``.
* Strict JSON decoding: an unknown key anywhere in a body, a value of the wrong JSON type, malformed
  JSON, an invalid ``state`` or an unrecognised ``hashed_password`` format reject the whole request
  (400; for a batch nothing is imported).
* Per identity (a 400/409 for ``POST``, a per-item ``error`` in a batch): traits validated against
  the identity schema (``preset://email`` built in, more via ``schemas=``; a subset of JSON Schema
  is supported, see :func:`validate_json_schema`), metadata must be objects, and uniqueness of the
  normalised (trimmed, NFKC, lower-cased) password identifier, OIDC/SAML ``provider:subject``,
  verifiable and recovery addresses and ``external_id``, also between items of one batch.
* Batch limits: at most 1,000 identities, at most 200 when any carries a plaintext password.
* Switchable faults (:class:`OryFaults`): latency (the least time every request takes, the
  server's own work included), 429 with ``x-ratelimit-*`` headers, 5xx, 504, "commit, then drop
  the connection", and Ory Network's limit of one import request in flight.

Everything stored can be read back directly (:meth:`OryAdminServer.identities`), credentials
included, so a test can check that a password hash or a social login arrived. To keep the
server's CPU time away from a client's (benchmarks), run it in its own process:
``python -m auth0_ory_migrate.testing._ory_admin --latency 0.1`` prints its URL and serves until
terminated.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, unquote, urlencode

import attrs
from attrs import define, field, frozen

from ._http import BackgroundHTTPServer, HttpRequest, HttpResponse


__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS",
    "MAX_PAGE_SIZE",
    "PRESET_EMAIL_SCHEMA",
    "OryAdminError",
    "OryAdminServer",
    "OryFaults",
    "RecordedRequest",
    "StoredIdentity",
    "is_supported_password_hash",
    "normalize_identifier",
    "validate_json_schema",
]

MAX_BATCH_SIZE: Final = 1000
"""Most identities one ``PATCH /admin/identities`` may carry.

.. versionadded:: 0.1.0
"""
MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS: Final = 200
"""Most identities one batch may carry when any of them has a plaintext ``password``.

.. versionadded:: 0.1.0
"""
MAX_PAGE_SIZE: Final = 500
"""Largest ``page_size`` honoured by ``GET /admin/identities`` (larger values are capped).

.. versionadded:: 0.1.0
"""
DEFAULT_PAGE_SIZE: Final = 250

_ORY_EXTENSION: Final = "ory.sh/kratos"

PRESET_EMAIL_SCHEMA: Final[Mapping[str, Any]] = {
    "$id": "https://schemas.ory.sh/presets/kratos/identity.email.schema.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Person",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {
                    "type": "string",
                    "format": "email",
                    "title": "E-Mail",
                    "maxLength": 320,
                    _ORY_EXTENSION: {
                        "credentials": {
                            "password": {"identifier": True},
                            "webauthn": {"identifier": True},
                            "totp": {"account_name": True},
                            "code": {"identifier": True, "via": "email"},
                            "passkey": {"display_name": True},
                        },
                        "recovery": {"via": "email"},
                        "verification": {"via": "email"},
                    },
                }
            },
            "required": ["email"],
            "additionalProperties": False,
        }
    },
}
"""The identity schema Ory Network serves as ``preset://email``: exactly one trait, ``email``.

.. versionadded:: 0.1.0
"""

_STATUS_TEXT: Final = {
    400: ("Bad Request", "The request was malformed or contained invalid parameters"),
    401: ("Unauthorized", "The request could not be authorized"),
    404: ("Not Found", "The requested resource could not be found"),
    405: ("Method Not Allowed", "The requested method is not allowed on this resource"),
    409: (
        "Conflict",
        "Unable to insert or update resource because a resource with that value exists already",
    ),
    429: ("Too Many Requests", "Too many requests, please slow down"),
    500: (
        "Internal Server Error",
        "An internal server error occurred, please contact the system administrator",
    ),
    502: ("Bad Gateway", "The upstream service returned an invalid response"),
    503: ("Service Unavailable", "The service is temporarily unavailable"),
    504: ("Gateway Timeout", "The request timed out, try smaller batches"),
}
_FAIL_STATUSES: Final = (500, 502, 503)
_GATE_TIMEOUT: Final = 60.0
_CREDENTIAL_TYPES: Final = frozenset(
    {"password", "oidc", "saml", "totp", "lookup_secret", "webauthn", "passkey", "code"}
)


class OryAdminError(ValueError):
    """A request the server rejects, with the Ory error it answers.

    Raised by :meth:`OryAdminServer.add_identity`; inside the server it becomes the HTTP error (or
    a batch item's ``error``).

    Attributes:
        code: HTTP status code (400, 404, 409, ...).
        reason: What exactly was wrong.

    .. versionadded:: 0.1.0
    """

    def __init__(self, code: int, reason: str, message: str | None = None) -> None:
        status, default_message = _STATUS_TEXT.get(code, ("Error", "An error occurred"))
        self.code = code
        self.status = status
        self.message = message or default_message
        self.reason = reason
        super().__init__(f"{code} {status}: {reason}")

    def to_json(self) -> dict[str, Any]:
        """The error object (without the ``{"error": ...}`` envelope).

        .. versionadded:: 0.1.0
        """
        payload: dict[str, Any] = {"code": self.code, "status": self.status}
        if self.reason:
            payload["reason"] = self.reason
        payload["message"] = self.message
        return payload


@define
class OryFaults:
    """Faults the server injects; all off by default, changeable while it runs.

    Attributes:
        latency: Seconds every request takes at least, like a remote service's round trip
            (the server's own processing counts towards it; an import request is in flight
            throughout).
        rate_limit_every: Every Nth admin request answers 429 with ``x-ratelimit-limit``,
            ``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (Unix seconds); 0 = never.
        rate_limit_reset_after: Seconds until ``x-ratelimit-reset`` (rounded up to whole seconds).
        retry_after: Also send ``Retry-After`` (whole seconds) with every 429.
        fail_next: The next N admin requests answer 500, 502, 503 in turn (Ory error body),
            without doing anything.
        drop_after_commit_next: The next N identity-creating requests (POST/PATCH
            ``/admin/identities``) are processed and committed, then the connection is closed
            without an answer.
        drop_before_commit_next: The next N identity-creating requests are dropped (connection
            closed without an answer) before anything is imported.
        gateway_timeout_next: The next N identity-creating requests are processed and committed,
            then answered 504.
        gateway_timeout_above: Batches with more identities than this answer 504 without
            importing anything (0 = off).
        import_gate: When set, identity-creating requests wait (counted as in flight) until
            this event is set, to make concurrency deterministic in tests.
        batch_all_failed_error: When every item of a non-empty batch fails, answer 409 (all
            conflicts) or 400 with Ory's error body instead of 200 with per-item errors (Ory's API
            reference lists these answers; whether the service sends them is unverified).

    .. versionadded:: 0.1.0
    """

    latency: float = 0.0
    rate_limit_every: int = 0
    rate_limit_reset_after: float = 1.0
    retry_after: bool = False
    fail_next: int = 0
    drop_after_commit_next: int = 0
    drop_before_commit_next: int = 0
    gateway_timeout_next: int = 0
    gateway_timeout_above: int = 0
    import_gate: threading.Event | None = None
    batch_all_failed_error: bool = False


@frozen
class RecordedRequest:
    """One request the server answered (or dropped), for assertions.

    Attributes:
        method: HTTP method.
        path: Decoded path, without query string.
        status: Status answered (for a dropped connection: the status it would have had).
        items: Identities in the request body (1 for a POST, the batch size for a PATCH).
        dropped: The connection was closed without an answer.
        query: The raw query string.

    .. versionadded:: 0.1.0
    """

    method: str
    path: str
    status: int
    items: int = 0
    dropped: bool = False
    query: str = ""


@frozen
class StoredIdentity:
    """An identity as the server stores it.

    ``credentials`` is the ``credentials`` object as imported (password ``hashed_password`` or
    ``password``, ``use_password_migration_hook``, ``oidc`` providers, ``totp`` ...), so keep it
    out of logs. Treat every field as read-only (the dicts are shared with the server's store).

    .. versionadded:: 0.1.0
    """

    id: str
    schema_id: str
    traits: dict[str, Any]
    state: str
    external_id: str | None
    metadata_public: dict[str, Any] | None
    metadata_admin: dict[str, Any] | None
    verifiable_addresses: tuple[dict[str, Any], ...]
    recovery_addresses: tuple[dict[str, Any], ...]
    credentials: dict[str, Any] = field(repr=False)
    created_at: datetime
    organization_id: str | None = None
    password_identifiers: tuple[str, ...] = ()
    """Normalised identifiers of the password credential (derived from the traits)."""
    generated_password_hash: str | None = field(default=None, repr=False)
    """The server's own hash of an imported plaintext ``password`` (Ory hashes those)."""

    @property
    def hashed_password(self) -> str | None:
        """The password hash Ory keeps, or None.

        That is the server's hash of an imported plaintext ``password`` (which wins, as in
        Kratos), else the imported ``hashed_password``.

        .. versionadded:: 0.1.0
        """
        if self.generated_password_hash is not None:
            return self.generated_password_hash
        config = (self.credentials.get("password") or {}).get("config") or {}
        value = config.get("hashed_password")
        return value if isinstance(value, str) and value else None

    @property
    def uses_password_migration_hook(self) -> bool:
        """Whether the password credential was imported with ``use_password_migration_hook``.

        .. versionadded:: 0.1.0
        """
        config = (self.credentials.get("password") or {}).get("config") or {}
        return config.get("use_password_migration_hook") is True

    @property
    def oidc_identifiers(self) -> tuple[str, ...]:
        """``provider:subject`` of every imported OIDC (social) login.

        .. versionadded:: 0.1.0
        """
        return tuple(_provider_identifiers(self.credentials, "oidc"))


# --------------------------------------------------------------------------------------------
# Pure helpers: normalisation, hash formats, JSON Schema subset, strict decoding
# --------------------------------------------------------------------------------------------


def normalize_identifier(value: str) -> str:
    """Normalise an identifier like Ory does: trim, Unicode NFKC, lower-case.

    .. versionadded:: 0.1.0
    """
    return unicodedata.normalize("NFKC", value.strip()).lower()


_B64_STD = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _b64(value: str, *, padded: bool | None = None, allow_empty: bool = False) -> bool:
    """Whether ``value`` is standard-alphabet base64 (padding required/forbidden/either)."""
    if not value:
        return allow_empty
    if not _B64_STD.match(value):
        return False
    if padded is False and "=" in value:
        return False
    if padded is True and len(value) % 4:
        return False
    try:
        base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_BCRYPT = re.compile(r"^\$2[abyz]?\$(\d\d)\$")
_ARGON2 = re.compile(r"^\$argon2(?:id|i)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([^$]*)\$([^$]*)$")
_PBKDF2 = re.compile(r"^\$pbkdf2-sha\d{1,3}\$i=(\d+),l=(\d+)\$([^$]*)\$([^$]*)$")
_SCRYPT = re.compile(r"^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([^$]*)\$([^$]*)$")
_FIRESCRYPT = re.compile(
    r"^\$firescrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([^$]*)\$([^$]*)\$([^$]*)\$([^$]*)$"
)
# Formats Kratos accepts on import by their prefix alone (no cost parameters to bound).
_PREFIX_ONLY = re.compile(
    r"^(?:\$(?:md5-crypt|sha256-crypt|sha512-crypt|md5|sha1|sha256|sha512)\$"
    r"|\$hmac-(?:md4|md5|sha1|sha224|sha256|sha384|sha512)\$"
    r"|\{SSHA(?:256|512)?\})"
)


def is_supported_password_hash(value: str) -> bool:
    """Whether Ory accepts ``value`` as an importable ``hashed_password``.

    Follows kratos ``hash/hash_comparator.go`` and ``ValidateImportedHash``: bcrypt
    (``$2a$``/``$2b$``/``$2y$``, at least 59 characters, cost 4..15); argon2id/argon2i (``v=19``,
    ``m`` 1..2^20 KiB, ``t`` 1..10, ``p`` 1..16, unpadded base64); pbkdf2 (``i`` 1..10,000,000,
    unpadded base64); scrypt (``ln`` is N itself, 1..2^17, ``r`` 1..8, ``p`` 1..10, padded
    base64); Firebase scrypt (``ln`` <= 17); and by prefix alone: ``$md5$``, ``$sha1$``,
    ``$sha256$``, ``$sha512$``, ``{SSHA}``/``{SSHA256}``/``{SSHA512}``, ``$hmac-<digest>$``,
    ``$md5-crypt$``, ``$sha256-crypt$``, ``$sha512-crypt$``. Base64 is the standard alphabet.

    .. versionadded:: 0.1.0
    """
    if m := _BCRYPT.match(value):
        return len(value) >= 59 and 4 <= int(m.group(1)) <= 15
    if m := _ARGON2.match(value):
        version, memory, iterations, parallelism = (int(m.group(i)) for i in range(1, 5))
        return (
            version == 19
            and 1 <= memory <= 1 << 20
            and 1 <= iterations <= 10
            and 1 <= parallelism <= 16
            and _b64(m.group(5), padded=False, allow_empty=True)
            and _b64(m.group(6), padded=False, allow_empty=True)
        )
    if m := _PBKDF2.match(value):
        return (
            1 <= int(m.group(1)) <= 10_000_000
            and _b64(m.group(3), padded=False, allow_empty=True)
            and _b64(m.group(4), padded=False, allow_empty=True)
        )
    if m := _SCRYPT.match(value):
        n, r, p = (int(m.group(i)) for i in range(1, 4))
        return (
            1 <= n <= 1 << 17
            and 1 <= r <= 8
            and 1 <= p <= 10
            and _b64(m.group(4), padded=True, allow_empty=True)
            and _b64(m.group(5), padded=True, allow_empty=True)
        )
    if m := _FIRESCRYPT.match(value):
        ln, r, p = (int(m.group(i)) for i in range(1, 4))
        return (
            ln <= 17
            and 1 <= r <= 8
            and 1 <= p <= 10
            and all(_b64(m.group(i), allow_empty=True) for i in (4, 5, 6, 7))
        )
    return _PREFIX_ONLY.match(value) is not None


_JSON_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES.get(name, ()))


_ASCII_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _valid_email(value: str) -> bool:
    if len(value) <= 254 and _ASCII_EMAIL.match(value):
        return True
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64 or not domain or len(domain) > 253:
        return False
    if any(c.isspace() for c in value) or "@" in local.replace('\\"', ""):
        return False
    if domain.startswith("[") and domain.endswith("]"):
        return True
    labels = domain.split(".")
    return all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    )


def _valid_tel(value: str) -> bool:
    return re.fullmatch(r"\+[1-9]\d{6,14}", value) is not None


_FORMATS: Final[Mapping[str, Callable[[str], bool]]] = {"email": _valid_email, "tel": _valid_tel}


def validate_json_schema(schema: Mapping[str, Any], value: Any, path: str = "#") -> list[str]:
    """Validate ``value`` against a subset of JSON Schema; returns the problems found.

    Supported: ``type``, ``enum``, ``const``, ``properties``, ``required``,
    ``additionalProperties`` (bool or schema), ``items``, ``minItems``/``maxItems``,
    ``minLength``/``maxLength``, ``pattern``, ``minimum``/``maximum``, ``format`` ``email`` and
    ``tel``. Other keywords are ignored.

    .. versionadded:: 0.1.0
    """
    problems: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        if isinstance(expected, str):
            ok = _is_type(value, expected)
            names = [expected]
        else:
            names = list(expected)
            ok = any(_is_type(value, n) for n in names)
        if not ok:
            problems.append(f"{path}: expected {' or '.join(names)}, got {_json_type(value)}")
            return problems
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: value must be one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: value must be {schema['const']!r}")
    if isinstance(value, str):
        length = len(value)
        if "minLength" in schema and length < schema["minLength"]:
            problems.append(f"{path}: length must be >= {schema['minLength']}, got {length}")
        if "maxLength" in schema and length > schema["maxLength"]:
            problems.append(f"{path}: length must be <= {schema['maxLength']}, got {length}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{path}: does not match pattern {schema['pattern']!r}")
        check = _FORMATS.get(str(schema.get("format")))
        if check is not None and not check(value):
            problems.append(f"{path}: {value!r} is not valid {schema['format']!r}")
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: must be <= {schema['maximum']}")
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        problems.extend(
            f"{path}: missing properties: {name!r}"
            for name in schema.get("required") or ()
            if name not in value
        )
        additional = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                problems.extend(validate_json_schema(properties[key], item, f"{path}/{key}"))
            elif additional is False:
                problems.append(f"{path}: additionalProperties {key!r} not allowed")
            elif isinstance(additional, Mapping):
                problems.extend(validate_json_schema(additional, item, f"{path}/{key}"))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{path}: must have >= {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{path}: must have <= {schema['maxItems']} items")
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                problems.extend(validate_json_schema(items, item, f"{path}/{i}"))
    return problems


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "unknown"


# The shape of the request bodies (Kratos' Go structs): a dict is an object with exactly those
# keys, a one-element list is an array of that shape, a string names a scalar type.
_Spec = Any
_VERIFIABLE_ADDRESS: Final[_Spec] = {
    "id": "uuid",
    "value": "string",
    "verified": "bool",
    "via": "string",
    "status": "string",
    "verified_at": "time",
    "created_at": "time",
    "updated_at": "time",
}
_RECOVERY_ADDRESS: Final[_Spec] = {
    "id": "uuid",
    "value": "string",
    "via": "string",
    "created_at": "time",
    "updated_at": "time",
    "break_glass_for_organization": "string",
}
_PROVIDERS: Final[_Spec] = {
    "providers": [
        {
            "provider": "string",
            "subject": "string",
            "use_auto_link": "bool",
            "organization": "string",
        }
    ]
}
_WEBAUTHN: Final[_Spec] = {"credentials": ["object"], "user_handle": "any"}
_CREDENTIALS: Final[_Spec] = {
    "password": {
        "config": {
            "hashed_password": "string",
            "password": "string",
            "use_password_migration_hook": "bool",
        }
    },
    "oidc": {"config": _PROVIDERS},
    "saml": {
        "config": {
            "providers": [{"provider": "string", "subject": "string", "organization": "string"}]
        }
    },
    "totp": {"config": {"totp_url": "string"}},
    "lookup_secret": {"config": {"codes": [{"code": "string", "used_at": "time"}]}},
    "webauthn": {"config": _WEBAUTHN},
    "passkey": {"config": _WEBAUTHN},
}
_CREATE_IDENTITY: Final[_Spec] = {
    "schema_id": "string",
    "traits": "any",
    "state": "string",
    "external_id": "string",
    "metadata_public": "any",
    "metadata_admin": "any",
    "organization_id": "uuid",
    "region": "string",
    "credentials": _CREDENTIALS,
    "verifiable_addresses": [_VERIFIABLE_ADDRESS],
    "recovery_addresses": [_RECOVERY_ADDRESS],
}
_PATCH_IDENTITIES: Final[_Spec] = {
    "identities": [{"create": _CREATE_IDENTITY, "patch_id": "uuid"}],
}
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")
_REGIONS: Final = frozenset(
    {"eu-central", "asia-northeast", "us-east", "us-west", "eu", "asia", "us", "global"}
)


_UUID_CANONICAL = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def _is_uuid(value: str) -> bool:
    if _UUID_CANONICAL.match(value):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_SCALARS: Final[Mapping[str, Callable[[Any], bool]]] = {
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "uuid": lambda v: isinstance(v, str) and _is_uuid(v),
    "time": lambda v: isinstance(v, str) and _RFC3339.match(v) is not None,
}


def _check_shape(value: Any, spec: _Spec, path: str) -> None:
    """Reject unknown keys and wrong JSON types like Go's strict decoder (null is always fine)."""
    if value is None or spec == "any":
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {path}")
        for key, item in value.items():
            sub = spec.get(key)
            if sub is None:
                raise OryAdminError(400, f'json: unknown field "{key}" in {path}')
            if item is None or sub == "any" or (sub == "string" and isinstance(item, str)):
                continue
            _check_shape(item, sub, f"{path}.{key}")
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {path}")
        for i, item in enumerate(value):
            _check_shape(item, spec[0], f"{path}[{i}]")
        return
    if not _SCALARS[spec](value):
        raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {path} ({spec})")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _decode_json(body: bytes, spec: _Spec, name: str) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise OryAdminError(400, f"Unable to decode JSON payload: {e}") from None
    if not isinstance(value, dict):
        raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {name}")
    _check_shape(value, spec, name)
    return value


def _check_request_level(body: Mapping[str, Any], where: str) -> None:
    """The checks that reject a whole request: state and hashed_password format."""
    state = body.get("state")
    if state not in (None, "", "active", "inactive"):
        raise OryAdminError(400, f"{where}: identity state is not valid: {state!r}")
    region = body.get("region")
    if region not in (None, "") and region not in _REGIONS:
        raise OryAdminError(400, f"{where}: region is not valid: {region!r}")
    config = ((body.get("credentials") or {}).get("password") or {}).get("config") or {}
    hashed = config.get("hashed_password")
    if hashed and not is_supported_password_hash(hashed):
        raise OryAdminError(
            400, f"{where}: unable to import hashed password: the hash format is not recognised"
        )


def _has_plaintext_password(body: Mapping[str, Any]) -> bool:
    config = ((body.get("credentials") or {}).get("password") or {}).get("config") or {}
    return bool(config.get("password"))


def _provider_identifiers(credentials: Mapping[str, Any], kind: str) -> list[str]:
    providers = ((credentials.get(kind) or {}).get("config") or {}).get("providers") or []
    return [f"{p['provider']}:{p['subject']}" for p in providers if p]


_UUID_RNG = random.Random(secrets.randbits(128))  # noqa: S311 (ids, not secrets)


def _new_uuid() -> str:
    """A random (version 4) UUID; faster than uuid.uuid4(), which asks the OS every time."""
    h = f"{_UUID_RNG.getrandbits(128):032x}"
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(value: datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


@frozen
class _Derived:
    """What the identity schema's ``ory.sh/kratos`` extensions derive from the traits."""

    password: tuple[str, ...]
    verifiable: tuple[tuple[str, str], ...]  # (via, normalised value)
    recovery: tuple[tuple[str, str], ...]


@frozen
class _Rule:
    """Where an ``ory.sh/kratos`` extension sits in a traits schema and what it derives.

    ``path`` names the trait (None steps into array items).
    """

    path: tuple[str | None, ...]
    password: bool
    verification_via: str | None
    recovery_via: str | None


def _extension_rules(schema: Mapping[str, Any]) -> tuple[_Rule, ...]:
    """Collect the extension rules of a traits schema once, so deriving is a few lookups."""
    rules: list[_Rule] = []

    def visit(sub: Mapping[str, Any], path: tuple[str | None, ...]) -> None:
        ext = sub.get(_ORY_EXTENSION)
        if isinstance(ext, Mapping):
            password = ((ext.get("credentials") or {}).get("password") or {}).get("identifier")
            verification = (ext.get("verification") or {}).get("via")
            recovery = (ext.get("recovery") or {}).get("via")
            rules.append(
                _Rule(
                    path=path,
                    password=password is True,
                    verification_via=verification if verification in ("email", "sms") else None,
                    recovery_via=recovery if recovery in ("email", "sms") else None,
                )
            )
        for key, prop in (sub.get("properties") or {}).items():
            if isinstance(prop, Mapping):
                visit(prop, (*path, key))
        items = sub.get("items")
        if isinstance(items, Mapping):
            visit(items, (*path, None))

    visit(schema, ())
    return tuple(rules)


def _values_at(value: Any, path: tuple[str | None, ...]) -> list[Any]:
    values = [value]
    for step in path:
        if step is None:
            values = [item for v in values if isinstance(v, list) for item in v]
        else:
            values = [v[step] for v in values if isinstance(v, dict) and step in v]
    return values


def _derive(rules: tuple[_Rule, ...], traits: Any) -> _Derived:
    password: list[str] = []
    verifiable: list[tuple[str, str]] = []
    recovery: list[tuple[str, str]] = []
    declares_password = False
    for rule in rules:
        declares_password = declares_password or rule.password
        for value in _values_at(traits, rule.path):
            if not isinstance(value, str):
                continue
            normalized = normalize_identifier(value)
            if rule.password:
                password.append(normalized)
            if rule.verification_via is not None:
                verifiable.append((rule.verification_via, normalized))
            if rule.recovery_via is not None:
                recovery.append((rule.recovery_via, normalized))
    if not declares_password and isinstance(traits, dict) and isinstance(traits.get("email"), str):
        password.append(normalize_identifier(traits["email"]))
    return _Derived(
        password=tuple(dict.fromkeys(password)),
        verifiable=tuple(dict.fromkeys(verifiable)),
        recovery=tuple(dict.fromkeys(recovery)),
    )


def _traits_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The traits part of an identity schema (a bare traits schema is accepted too)."""
    traits = (schema.get("properties") or {}).get("traits")
    return traits if isinstance(traits, Mapping) else schema


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@define
class _Ctx:
    items: int = 0


@frozen
class _Prepared:
    """An identity that passed the per-identity rules, with its uniqueness keys."""

    identity: StoredIdentity
    keys: tuple[str, ...]


_CLASH_KINDS: Final = {
    "password": "password identifier",
    "oidc": "oidc identifier",
    "saml": "saml identifier",
    "verifiable": "verifiable address",
    "recovery": "recovery address",
    "external_id": "external_id",
}


def _clash_reason(key: str) -> str:
    kind, _, value = key.partition(":")
    if kind in ("verifiable", "recovery"):
        value = value.partition(":")[2]
    return f"an identity with the same {_CLASH_KINDS[kind]} {value!r} exists already"


class OryAdminServer:
    """The Ory admin identity API on ``127.0.0.1``, in memory, with switchable faults.

    Args:
        api_key: When set, every ``/admin`` request needs ``Authorization: Bearer <api_key>``.
        schemas: Extra identity schemas by id (full identity schemas with
            ``properties.traits``, or bare traits schemas). ``preset://email`` always exists.
        max_inflight_imports: Identity-creating requests (POST/PATCH ``/admin/identities``)
            allowed in flight at once; one more is answered 429 (Ory Network allows one).
            None = unlimited (a self-hosted Kratos).
        faults: Initial faults (default: none).
        default_schema_id: Schema used when a body has no ``schema_id``.
        absolute_links: Write absolute URLs in the ``Link`` header (Ory writes paths).

    Attributes:
        faults: The faults to inject (:class:`OryFaults`); change them at any time.
        requests: Every request answered (or dropped), in order (:class:`RecordedRequest`).
        max_concurrent_seen: The most identity-creating requests seen in flight at once,
            including any answered 429 for exceeding ``max_inflight_imports``.
        max_inflight_imports: See Args; may be changed while running.

    Example::

        with OryAdminServer(api_key="secret") as ory:
            api = ory_client.IdentityApi(ory_client.ApiClient(
                ory_client.Configuration(host=ory.url, access_token="secret")))
            ...
            assert ory.identity_by_external_id("auth0|1") is not None

    In pytest, the ``ory_admin_server`` fixture is a running one (see
    :mod:`auth0_ory_migrate.testing.pytest_plugin`).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
        max_inflight_imports: int | None = 1,
        faults: OryFaults | None = None,
        default_schema_id: str = "preset://email",
        absolute_links: bool = False,
    ) -> None:
        self._api_key = api_key
        self._schemas: dict[str, Mapping[str, Any]] = {"preset://email": PRESET_EMAIL_SCHEMA}
        self._schemas.update(schemas or {})
        self._traits_schemas = {k: _traits_schema(v) for k, v in self._schemas.items()}
        self._rules = {k: _extension_rules(v) for k, v in self._traits_schemas.items()}
        self.max_inflight_imports = max_inflight_imports
        self.faults: OryFaults = faults if faults is not None else OryFaults()
        self.default_schema_id = default_schema_id
        self.absolute_links = absolute_links
        self._lock = threading.RLock()
        self._http = BackgroundHTTPServer(self._app)
        self._store: dict[str, StoredIdentity] = {}
        self._seq: dict[str, int] = {}
        self._owners: dict[str, str] = {}  # uniqueness key -> identity id
        self._keys: dict[str, tuple[str, ...]] = {}  # identity id -> its uniqueness keys
        self._next_seq = 0
        self._inflight = 0
        self._admin_requests = 0
        self.requests: list[RecordedRequest] = []
        self.max_concurrent_seen = 0

    def __repr__(self) -> str:
        return f"OryAdminServer(url={self.url!r}, identities={len(self._store)})"

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>`` (valid once started).

        .. versionadded:: 0.1.0
        """
        return self._http.url

    def start(self) -> OryAdminServer:
        """Start serving; returns self.

        .. versionadded:: 0.1.0
        """
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving (the stored identities are kept).

        .. versionadded:: 0.1.0
        """
        self._http.stop()

    def __enter__(self) -> OryAdminServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every identity and recorded request, and switch all faults off.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._store.clear()
            self._seq.clear()
            self._owners.clear()
            self._keys.clear()
            self._admin_requests = 0
            self.requests.clear()
            self.max_concurrent_seen = 0
            defaults = OryFaults()
            for name in attrs.fields_dict(OryFaults):
                setattr(self.faults, name, getattr(defaults, name))

    # -- direct access --------------------------------------------------------------------

    @property
    def inflight_imports(self) -> int:
        """Identity-creating requests being processed right now.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return self._inflight

    def identities(self) -> list[StoredIdentity]:
        """A snapshot of every stored identity, in creation order.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return list(self._store.values())

    def identity(self, identity_id: str) -> StoredIdentity | None:
        """The identity with this id, or None.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return self._store.get(identity_id)

    def identity_by_external_id(self, external_id: str) -> StoredIdentity | None:
        """The identity with this ``external_id``, or None.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            owner = self._owners.get(f"external_id:{external_id}")
            return self._store.get(owner) if owner else None

    def identity_by_identifier(self, identifier: str) -> StoredIdentity | None:
        """The identity owning a credential identifier (an email, or ``provider:subject``).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            owner = self._owner_of_identifier(identifier)
            return self._store.get(owner) if owner else None

    def add_identity(self, body: Mapping[str, Any]) -> StoredIdentity:
        """Store an identity directly, under the same rules as ``POST /admin/identities``.

        Raises:
            OryAdminError: The body breaks a rule (400) or clashes with a stored identity (409).

        .. versionadded:: 0.1.0
        """
        payload = json.loads(json.dumps(body))
        _check_shape(payload, _CREATE_IDENTITY, "CreateIdentityBody")
        _check_request_level(payload, "identity")
        with self._lock:
            return self._create_locked(payload)

    # -- creation rules -------------------------------------------------------------------

    def _owner_of_identifier(self, identifier: str) -> str | None:
        for key in (
            f"password:{normalize_identifier(identifier)}",
            f"oidc:{identifier}",
            f"saml:{identifier}",
        ):
            if key in self._owners:
                return self._owners[key]
        return None

    def _create_locked(self, body: Mapping[str, Any]) -> StoredIdentity:
        """Validate one CreateIdentityBody and commit it (caller holds the lock)."""
        return self._commit_locked(self._prepare(body))

    def _prepare(self, body: Mapping[str, Any], now: datetime | None = None) -> _Prepared:
        """Check one CreateIdentityBody against the per-identity rules (no lock needed)."""
        schema_id = body.get("schema_id") or self.default_schema_id
        traits_schema = self._traits_schemas.get(schema_id)
        if traits_schema is None:
            raise OryAdminError(400, f"identity schema {schema_id!r} does not exist")
        traits = body.get("traits")
        problems = validate_json_schema(traits_schema, traits, "#/traits")
        if problems:
            raise OryAdminError(
                400, "traits do not match the identity schema: " + "; ".join(problems)
            )
        if not isinstance(traits, dict):
            raise OryAdminError(400, "traits must be a JSON object")
        metadata_public = body.get("metadata_public")
        metadata_admin = body.get("metadata_admin")
        for name, value in (
            ("metadata_public", metadata_public),
            ("metadata_admin", metadata_admin),
        ):
            if value is not None and not isinstance(value, dict):
                raise OryAdminError(400, f"{name} must be a JSON object, got {_json_type(value)}")
        credentials = {k: v for k, v in (body.get("credentials") or {}).items() if v is not None}
        for kind in ("oidc", "saml"):
            if kind in credentials:
                config = credentials[kind].get("config") or {}
                for provider in config.get("providers") or ():
                    if not provider or not provider.get("provider") or not provider.get("subject"):
                        raise OryAdminError(
                            400, f"{kind} credentials need a provider and a subject"
                        )
        plaintext = ((credentials.get("password") or {}).get("config") or {}).get("password")
        if "totp" in credentials:
            totp_url = (credentials["totp"].get("config") or {}).get("totp_url")
            if totp_url is not None and not totp_url.startswith("otpauth://"):
                raise OryAdminError(400, "totp_url is not a valid otpauth:// URL")

        derived = _derive(self._rules[schema_id], traits)
        if now is None:
            now = _now()
        stamp = _timestamp(now)
        verifiable = self._verifiable_addresses(body, derived, stamp)
        recovery = tuple(
            {
                "id": _new_uuid(),
                "value": value,
                "via": via,
                "created_at": stamp,
                "updated_at": stamp,
            }
            for via, value in derived.recovery
        )
        external_id = body.get("external_id") or None
        keys = [f"password:{identifier}" for identifier in derived.password]
        if "oidc" in credentials:
            keys.extend(f"oidc:{i}" for i in _provider_identifiers(credentials, "oidc"))
        if "saml" in credentials:
            keys.extend(f"saml:{i}" for i in _provider_identifiers(credentials, "saml"))
        keys.extend(f"verifiable:{via}:{value}" for via, value in derived.verifiable)
        keys.extend(f"recovery:{via}:{value}" for via, value in derived.recovery)
        if external_id is not None:
            keys.append(f"external_id:{external_id}")
        identity = StoredIdentity(
            id=_new_uuid(),
            schema_id=schema_id,
            traits=traits,
            state=body.get("state") or "active",
            external_id=external_id,
            metadata_public=metadata_public,
            metadata_admin=metadata_admin,
            verifiable_addresses=verifiable,
            recovery_addresses=recovery,
            credentials=credentials,
            created_at=now,
            organization_id=body.get("organization_id") or None,
            password_identifiers=derived.password,
            generated_password_hash=_pbkdf2(plaintext) if plaintext else None,
        )
        return _Prepared(identity=identity, keys=tuple(dict.fromkeys(keys)))

    def _commit_locked(self, prepared: _Prepared) -> StoredIdentity:
        """Check uniqueness and store (caller holds the lock)."""
        owners = self._owners
        for key in prepared.keys:
            if key in owners:
                raise OryAdminError(409, _clash_reason(key))
        identity = prepared.identity
        self._store[identity.id] = identity
        self._seq[identity.id] = self._next_seq
        self._next_seq += 1
        self._keys[identity.id] = prepared.keys
        for key in prepared.keys:
            owners[key] = identity.id
        return identity

    @staticmethod
    def _verifiable_addresses(
        body: Mapping[str, Any], derived: _Derived, stamp: str
    ) -> tuple[dict[str, Any], ...]:
        imported: dict[tuple[str, str], Mapping[str, Any]] = {}
        for address in body.get("verifiable_addresses") or []:
            if not address:
                continue
            via = address.get("via")
            if via not in ("email", "sms"):
                raise OryAdminError(400, f"verifiable address via must be email or sms: {via!r}")
            status = address.get("status")
            if status not in (None, "", "pending", "sent", "completed"):
                raise OryAdminError(400, f"verifiable address status is not valid: {status!r}")
            value = address.get("value")
            if not isinstance(value, str) or not value.strip():
                raise OryAdminError(400, "verifiable address value is required")
            imported[(via, normalize_identifier(value))] = address
        result = []
        for via, value in derived.verifiable:
            source = imported.get((via, value), {})
            verified = source.get("verified") is True
            verified_at = source.get("verified_at") or (stamp if verified else None)
            status = source.get("status") or ("completed" if verified else "pending")
            result.append(
                {
                    "id": _new_uuid(),
                    "value": value,
                    "verified": verified,
                    "via": via,
                    "status": status,
                    "verified_at": verified_at if verified else None,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        return tuple(result)

    def _delete_locked(self, identity_id: str) -> bool:
        if self._store.pop(identity_id, None) is None:
            return False
        self._seq.pop(identity_id, None)
        for key in self._keys.pop(identity_id, ()):
            if self._owners.get(key) == identity_id:
                del self._owners[key]
        return True

    # -- JSON views -----------------------------------------------------------------------

    def _schema_url(self, schema_id: str) -> str:
        encoded = base64.urlsafe_b64encode(schema_id.encode()).decode().rstrip("=")
        return f"{self.url}/schemas/{encoded}"

    def _identity_json(
        self, identity: StoredIdentity, include: Iterable[str] | None
    ) -> dict[str, Any]:
        created = _timestamp(identity.created_at)
        payload: dict[str, Any] = {
            "id": identity.id,
            "schema_id": identity.schema_id,
            "schema_url": self._schema_url(identity.schema_id),
            "state": identity.state,
            "state_changed_at": created,
            "traits": identity.traits,
            "verifiable_addresses": [dict(a) for a in identity.verifiable_addresses],
            "recovery_addresses": [dict(a) for a in identity.recovery_addresses],
            "metadata_public": identity.metadata_public,
            "metadata_admin": identity.metadata_admin,
            "created_at": created,
            "updated_at": created,
            "organization_id": identity.organization_id,
        }
        if identity.external_id is not None:
            payload["external_id"] = identity.external_id
        if include is not None:
            payload["credentials"] = self._credentials_json(identity, frozenset(include))
        return payload

    @staticmethod
    def _credentials_json(identity: StoredIdentity, include: frozenset[str]) -> dict[str, Any]:
        created = _timestamp(identity.created_at)
        imported = identity.credentials
        result: dict[str, Any] = {}

        def add(kind: str, identifiers: list[str], config: Mapping[str, Any]) -> None:
            entry: dict[str, Any] = {
                "type": kind,
                "identifiers": identifiers,
                "version": 0,
                "created_at": created,
                "updated_at": created,
            }
            if kind in include:
                entry["config"] = dict(config)
            result[kind] = entry

        password_config = dict((imported.get("password") or {}).get("config") or {})
        if identity.password_identifiers or imported.get("password"):
            config: dict[str, Any] = {}
            if identity.hashed_password is not None:
                config["hashed_password"] = identity.hashed_password
            if password_config.get("use_password_migration_hook") is not None:
                config["use_password_migration_hook"] = password_config[
                    "use_password_migration_hook"
                ]
            add("password", list(identity.password_identifiers), config)
        for kind in ("oidc", "saml"):
            if imported.get(kind):
                providers = ((imported[kind] or {}).get("config") or {}).get("providers") or []
                add(kind, _provider_identifiers(imported, kind), {"providers": providers})
        for kind in ("totp", "lookup_secret", "webauthn", "passkey"):
            if imported.get(kind):
                add(kind, [identity.id], (imported[kind] or {}).get("config") or {})
        return result

    # -- HTTP -----------------------------------------------------------------------------

    def _app(self, request: HttpRequest) -> HttpResponse:
        # Route on the raw path: an external id may hold an encoded "/" (%2F).
        path = request.raw_path.rstrip("/") or "/"
        creating = request.method in ("POST", "PATCH") and path == "/admin/identities"
        over_limit = False
        if creating:
            with self._lock:
                self._inflight += 1
                self.max_concurrent_seen = max(self.max_concurrent_seen, self._inflight)
                limit = self.max_inflight_imports
                if limit is not None and self._inflight > limit:
                    over_limit = True
                    self._inflight -= 1
        ctx = _Ctx()
        started = time.monotonic()
        try:
            gate = self.faults.import_gate
            if creating and not over_limit and gate is not None:
                gate.wait(timeout=_GATE_TIMEOUT)
            response = self._respond(request, path, creating, over_limit, ctx)
            # The latency is the least time a request takes; the server's own work counts.
            remaining = self.faults.latency - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
        finally:
            if creating and not over_limit:
                with self._lock:
                    self._inflight -= 1
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    status=response.status,
                    items=ctx.items,
                    dropped=response.dropped,
                    query=urlencode(request.query, doseq=True),
                )
            )
        if response.dropped:
            return HttpResponse.drop()
        return response

    def _error(
        self, error: OryAdminError, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        return HttpResponse.json(error.code, {"error": error.to_json()}, headers)

    def _rate_limit_headers(self, remaining: int) -> dict[str, str]:
        faults = self.faults
        reset_after = max(0.0, faults.rate_limit_reset_after)
        return {
            "x-ratelimit-limit": str(max(faults.rate_limit_every, 1)),
            "x-ratelimit-remaining": str(max(remaining, 0)),
            "x-ratelimit-reset": str(math.ceil(time.time() + reset_after)),
        }

    def _too_many(self, reason: str) -> HttpResponse:
        headers = self._rate_limit_headers(0)
        if self.faults.retry_after:
            headers["Retry-After"] = str(math.ceil(max(0.0, self.faults.rate_limit_reset_after)))
        return self._error(OryAdminError(429, reason), headers)

    def _respond(
        self, request: HttpRequest, path: str, creating: bool, over_limit: bool, ctx: _Ctx
    ) -> HttpResponse:
        if path in ("/health/alive", "/health/ready"):
            return HttpResponse.json(200, {"status": "ok"})
        if path.startswith("/schemas/"):
            return self._get_schema(unquote(path.removeprefix("/schemas/")))
        if not path.startswith("/admin/"):
            return self._error(OryAdminError(404, f"no route for {request.method} {path}"))
        if over_limit:
            return self._too_many("too many concurrent import requests for this project")
        extra_headers: dict[str, str] = {}
        with self._lock:
            self._admin_requests += 1
            every = self.faults.rate_limit_every
            limited = every > 0 and self._admin_requests % every == 0
            if every > 0 and not limited:
                extra_headers = self._rate_limit_headers(every - self._admin_requests % every)
            fail_status = 0
            if not limited and self.faults.fail_next > 0:
                self.faults.fail_next -= 1
                fail_status = _FAIL_STATUSES[self._admin_requests % len(_FAIL_STATUSES)]
        if limited:
            return self._too_many("rate limit exceeded")
        if fail_status:
            return self._error(OryAdminError(fail_status, "injected failure"))
        if self._api_key is not None:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), self._api_key.encode()
            ):
                return self._error(
                    OryAdminError(
                        401,
                        "The provided API key is missing, invalid or expired",
                    )
                )
        if creating:
            with self._lock:
                drop_now = self.faults.drop_before_commit_next > 0
                if drop_now:
                    self.faults.drop_before_commit_next -= 1
            if drop_now:
                return HttpResponse(status=0, dropped=True)
        try:
            response = self._route(request, path, creating, ctx)
        except OryAdminError as e:
            response = self._error(e)
        if creating and response.status < 500:
            with self._lock:
                if self.faults.drop_after_commit_next > 0:
                    self.faults.drop_after_commit_next -= 1
                    return HttpResponse(status=response.status, dropped=True)
                if self.faults.gateway_timeout_next > 0:
                    self.faults.gateway_timeout_next -= 1
                    return self._error(OryAdminError(504, "the request timed out"))
        if extra_headers:
            response = HttpResponse(
                status=response.status,
                body=response.body,
                headers=(*response.headers, *extra_headers.items()),
            )
        return response

    def _route(self, request: HttpRequest, path: str, creating: bool, ctx: _Ctx) -> HttpResponse:
        method = request.method
        if path == "/admin/identities":
            if method == "POST":
                return self._post_identity(request, ctx)
            if method == "PATCH":
                return self._patch_identities(request, ctx)
            if method == "GET":
                return self._list_identities(request)
            raise OryAdminError(405, f"{method} is not allowed on {path}")
        prefix = "/admin/identities/by/external/"
        if path.startswith(prefix) and method == "GET":
            external_id = unquote(path[len(prefix) :])
            with self._lock:
                owner = self._owners.get(f"external_id:{external_id}")
                identity = self._store.get(owner) if owner else None
            if identity is None:
                raise OryAdminError(404, f"no identity with external_id {external_id!r}")
            include = _include_credential(request) or []
            return HttpResponse.json(200, self._identity_json(identity, include))
        if path.startswith("/admin/identities/") and path.count("/") == 3:
            identity_id = unquote(path.rsplit("/", 1)[1])
            if method == "GET":
                identity = self.identity(identity_id)
                if identity is None:
                    raise OryAdminError(404, f"no identity with id {identity_id!r}")
                include = _include_credential(request) or []
                return HttpResponse.json(200, self._identity_json(identity, include))
            if method == "DELETE":
                with self._lock:
                    deleted = self._delete_locked(identity_id)
                if not deleted:
                    raise OryAdminError(404, f"no identity with id {identity_id!r}")
                return HttpResponse.empty(204)
            raise OryAdminError(405, f"{method} is not allowed on {path}")
        raise OryAdminError(404, f"no route for {method} {path}")

    def _get_schema(self, encoded: str) -> HttpResponse:
        try:
            schema_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            schema_id = encoded
        schema = self._schemas.get(schema_id) or self._schemas.get(encoded)
        if schema is None:
            return self._error(OryAdminError(404, f"identity schema {schema_id!r} not found"))
        return HttpResponse.json(200, schema)

    def _post_identity(self, request: HttpRequest, ctx: _Ctx) -> HttpResponse:
        body = _decode_json(request.body, _CREATE_IDENTITY, "CreateIdentityBody")
        ctx.items = 1
        _check_request_level(body, "identity")
        prepared = self._prepare(body)
        with self._lock:
            identity = self._commit_locked(prepared)
        return HttpResponse.json(
            201,
            self._identity_json(identity, ()),
            {"Location": f"{self.url}/admin/identities/{identity.id}"},
        )

    def _patch_identities(self, request: HttpRequest, ctx: _Ctx) -> HttpResponse:
        body = _decode_json(request.body, _PATCH_IDENTITIES, "PatchIdentitiesBody")
        patches = body.get("identities") or []
        ctx.items = len(patches)
        if len(patches) > MAX_BATCH_SIZE:
            raise OryAdminError(
                400, f"too many identities in one request: {len(patches)} > {MAX_BATCH_SIZE}"
            )
        creates: list[Mapping[str, Any]] = []
        for i, patch in enumerate(patches):
            create = (patch or {}).get("create")
            if create is None:
                raise OryAdminError(400, f"identities[{i}]: only the create action is supported")
            _check_request_level(create, f"identities[{i}]")
            creates.append(create)
        if len(creates) > MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS and any(
            _has_plaintext_password(c) for c in creates
        ):
            raise OryAdminError(
                400,
                "too many identities with plaintext passwords in one request: "
                f"{len(creates)} > {MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS}",
            )
        above = self.faults.gateway_timeout_above
        if above > 0 and len(creates) > above:
            raise OryAdminError(504, f"the batch of {len(creates)} identities timed out")
        results: list[dict[str, Any]] = []
        prepared: list[_Prepared | OryAdminError] = []
        now = _now()
        for create in creates:
            try:
                prepared.append(self._prepare(create, now))
            except OryAdminError as e:
                prepared.append(e)
        with self._lock:
            for patch, ready in zip(patches, prepared, strict=True):
                item: dict[str, Any] = {}
                try:
                    if isinstance(ready, OryAdminError):
                        raise ready
                    identity = self._commit_locked(ready)
                except OryAdminError as e:
                    item["action"] = "error"
                    item["error"] = e.to_json()
                else:
                    item["action"] = "create"
                    item["identity"] = identity.id
                if patch.get("patch_id"):
                    item["patch_id"] = patch["patch_id"]
                results.append(item)
        errors = [r["error"] for r in results if r["action"] == "error"]
        if results and len(errors) == len(results) and self.faults.batch_all_failed_error:
            code = 409 if all(e["code"] == 409 for e in errors) else 400
            raise OryAdminError(code, f"all {len(results)} identities of the batch failed")
        return HttpResponse.json(200, {"identities": results})

    def _list_identities(self, request: HttpRequest) -> HttpResponse:
        query = request.query
        page_size = DEFAULT_PAGE_SIZE
        if (raw := request.query_one("page_size")) is not None:
            try:
                page_size = int(raw)
            except ValueError:
                raise OryAdminError(400, f"page_size is not a number: {raw!r}") from None
            if page_size < 1:
                raise OryAdminError(400, "page_size must be at least 1")
            page_size = min(page_size, MAX_PAGE_SIZE)
        start = 0
        if token := request.query_one("page_token"):
            start = _decode_page_token(token)
        include = _include_credential(request)
        ids = [i for value in query.get("ids") or () for i in value.split(",") if i]
        for identity_id in ids:
            if not _is_uuid(identity_id):
                raise OryAdminError(400, f"ids contains an invalid UUID: {identity_id!r}")
        identifier = request.query_one("credentials_identifier")
        organization_id = request.query_one("organization_id")
        with self._lock:
            candidates = list(self._store.values())
            if identifier:
                owner = self._owner_of_identifier(identifier)
                candidates = [i for i in candidates if i.id == owner]
            if ids:
                wanted = set(ids)
                candidates = [i for i in candidates if i.id in wanted]
            if organization_id:
                candidates = [i for i in candidates if i.organization_id == organization_id]
            seq = dict(self._seq)
        page = [i for i in candidates if seq[i.id] >= start][: page_size + 1]
        has_next = len(page) > page_size and not ids
        page = page[:page_size]
        links = [f'<{self._page_link(request, page_size, None)}>; rel="first"']
        if has_next:
            token = _encode_page_token(seq[page[-1].id] + 1)
            links.append(f'<{self._page_link(request, page_size, token)}>; rel="next"')
        body = [self._identity_json(i, include) for i in page]
        return HttpResponse.json(200, body, {"Link": ",".join(links)})

    def _page_link(self, request: HttpRequest, page_size: int, token: str | None) -> str:
        params = [
            (k, v)
            for k, values in request.query.items()
            if k not in ("page_size", "page_token", "page", "per_page")
            for v in values
        ]
        params.append(("page_size", str(page_size)))
        if token is not None:
            params.append(("page_token", token))
        link = f"{quote(request.raw_path)}?{urlencode(params)}"
        return f"{self.url}{link}" if self.absolute_links else link


def _include_credential(request: HttpRequest) -> list[str] | None:
    """The ``include_credential`` values (repeated or comma-separated); 400 for unknown types."""
    values = request.query.get("include_credential")
    if values is None:
        return None
    kinds = [kind for value in values for kind in value.split(",") if kind]
    for kind in kinds:
        if kind not in _CREDENTIAL_TYPES:
            raise OryAdminError(400, f"Invalid value {kind!r} for parameter include_credential")
    return kinds


def _encode_page_token(start: int) -> str:
    raw = json.dumps({"k": start, "v": 1}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        start = data["k"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise OryAdminError(400, "page_token is invalid") from None
    if not isinstance(start, int) or start < 0:
        raise OryAdminError(400, "page_token is invalid")
    return start


_PBKDF2_ROUNDS: Final = 100  # a test server: just enough to be a real hash


def _pbkdf2(password: str) -> str:
    """Hash a plaintext password (the server stores hashes, like Ory)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS, 32)

    def enc(b: bytes) -> str:
        return base64.b64encode(b).decode().rstrip("=")

    return f"$pbkdf2-sha256$i={_PBKDF2_ROUNDS},l=32${enc(salt)}${enc(digest)}"


def main(argv: list[str] | None = None) -> int:
    """Serve :class:`OryAdminServer` until terminated.

    Run as ``python -m auth0_ory_migrate.testing._ory_admin``.

    Prints the base URL as the first line on stdout, so a benchmark or another process can run
    the server apart from its client (no shared GIL).

    .. versionadded:: 0.1.0
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--api-key", default=os.environ.get("ORY_API_KEY"))
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument(
        "--max-inflight-imports", default="1", help="an integer, or 'none' for unlimited"
    )
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--fail-next", type=int, default=0)
    args = parser.parse_args(argv)
    limit = args.max_inflight_imports
    server = OryAdminServer(
        api_key=args.api_key,
        max_inflight_imports=None if limit.lower() == "none" else int(limit),
        faults=OryFaults(
            latency=args.latency,
            rate_limit_every=args.rate_limit_every,
            fail_next=args.fail_next,
        ),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        sys.stdout.write(server.url + "\n")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
