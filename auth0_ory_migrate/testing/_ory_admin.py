"""An in-memory implementation of the Ory (Kratos) admin identity API, for tests.

:class:`OryAdminServer` serves ``/admin/identities`` on ``127.0.0.1`` and follows the published
contract closely enough for a client written against Ory Network or a self-hosted Kratos to be
tested against it with the real ``ory-client`` SDK:

* ``POST /admin/identities`` (201), ``PATCH /admin/identities`` (batch import, 200 with per-item
  results), ``GET /admin/identities`` (``page_size``/``page_token`` with a ``Link`` header, filters
  ``credentials_identifier``, ``ids``, ``organization_id``, ``include_credential``),
  ``GET /admin/identities/{id}`` (``include_credential``: the config of those types only),
  ``PUT /admin/identities/{id}`` (replaces traits, metadata and ``external_id``, clearing what
  is not sent; credentials sent are imported on top of the stored ones; addresses derived
  again from the traits, a known one keeping its verification state),
  ``PATCH /admin/identities/{id}`` (JSON Patch: ``add``/``remove``/``replace``, Kratos's
  refused paths), ``GET /admin/identities/by/external/{external_id}``,
  ``DELETE /admin/identities/{id}`` (204), ``DELETE /admin/identities/{id}/credentials/{type}``
  (204; ``?identifier=provider:subject`` removes one OIDC/SAML link, as Kratos's handler does),
  ``GET /schemas/{id}`` and ``GET /health/alive|ready``.
* Ory Permissions (Keto) relationships: ``PATCH /admin/relation-tuples`` (a JSON array of
  ``{"action": "insert"|"delete", "relation_tuple": {...}}``, one transaction, 204) and
  ``GET /relation-tuples`` (filters, ``page_size`` up to 500, ``page_token``,
  ``next_page_token``); see :class:`RelationTupleStore`.
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
  server's own work included), 429 with ``x-ratelimit-*`` headers (every Nth request, or per
  rate-limit bucket as Ory Network counts them), 5xx, 504, "commit, then drop the
  connection", and Ory Network's limit of one import request in flight.

The store and its rules (:class:`IdentityStore`) are shared with
:class:`~auth0_ory_migrate.testing.InMemoryOryAdmin`, the same API without HTTP.

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
import functools
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
from typing import Any, Final, NamedTuple
from urllib.parse import quote, unquote, urlencode

import attrs
from attrs import define, field, frozen

from ..exceptions import Auth0OryMigrateError
from ._http import BackgroundHTTPServer, HttpRequest, HttpResponse


__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS",
    "MAX_PAGE_SIZE",
    "MAX_RELATION_PAGE_SIZE",
    "PRESET_EMAIL_SCHEMA",
    "OryAdminError",
    "OryAdminServer",
    "OryFaults",
    "RecordedRequest",
    "RelationTupleStore",
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


def _bucket(method: str, path: str) -> str | None:
    """The rate-limit bucket Kratos's (or Keto's) handler declares for a request (None: none)."""
    if path == "/admin/relation-tuples":
        return "keto-admin-low"
    if path == "/relation-tuples":
        return "keto-admin-medium"
    if path == "/admin/identities":
        return "kratos-admin-medium" if method == "GET" else "kratos-admin-low"
    if path.startswith("/admin/identities/by/external/"):
        return "kratos-admin-medium"
    if path.startswith("/admin/identities/"):
        if method == "GET" and path.count("/") == 3:
            return "kratos-admin-high"
        return "kratos-admin-low"
    return None


class OryAdminError(Auth0OryMigrateError, ValueError):
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
        echo_request: Error texts quote the request, as error texts built from a request's
            values do (a decoder quoting the value it choked on, a proxy or debug build quoting
            the request): a refused request's reason ends with its body and its
            ``Authorization`` header as received, a batch item's error with its ``create``
            body. A client must cut its secrets out of such answers.
        rate_limits: Ory Network's per-project rate-limit buckets: requests allowed per
            :attr:`rate_limit_window`, by bucket name; a bucket not named is unlimited. Each
            request counts in its endpoint's bucket as Kratos's handlers declare it
            (``x-ory-ratelimit-bucket``): ``kratos-admin-low`` for every identity write
            (``POST``/``PATCH /admin/identities``, the batch import included, and
            ``PUT``/``PATCH``/``DELETE /admin/identities/{id}``, ``DELETE
            .../credentials/{type}``), ``kratos-admin-medium`` for ``GET /admin/identities``
            and ``GET /admin/identities/by/external/{id}``, ``kratos-admin-high`` for
            ``GET /admin/identities/{id}``; Keto's ``keto-admin-low`` for ``PATCH
            /admin/relation-tuples`` and ``keto-admin-medium`` for ``GET /relation-tuples``.
            A request over its bucket's limit answers 429
            with ``x-ratelimit-limit`` (the limit), ``x-ratelimit-remaining: 0`` and
            ``x-ratelimit-reset`` (Unix seconds when the window ends; ``Retry-After`` too
            with :attr:`retry_after`); the others carry the same headers with what remains.
            Ory Network's Production plan allows about 175 identity writes a minute
            (``{"kratos-admin-low": 175}``; more on higher plans).
        rate_limit_window: Seconds a bucket's window lasts, from the first request counted
            in it (Ory's limits are per minute: 60).

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
    echo_request: bool = False
    rate_limits: dict[str, int] = attrs.Factory(dict)
    rate_limit_window: float = 60.0


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
    out of logs. Each read returns a fresh snapshot: changing it changes nothing on the server.

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
    updated_at: datetime | None = None
    """When a ``PUT``/``PATCH`` last changed it (None: never, it is ``created_at``)."""
    state_changed_at: datetime | None = None
    """When a ``PUT``/``PATCH`` last changed its ``state`` (None: never, it is ``created_at``)."""

    @property
    def hashed_password(self) -> str | None:
        """The password hash Ory keeps, or None.

        That is the server's hash of an imported plaintext ``password`` (which wins, as in
        Kratos), else the imported ``hashed_password``.

        .. versionadded:: 0.1.0
        """
        if self.generated_password_hash is not None:
            return self.generated_password_hash
        value = _credential_config(self.credentials, "password").get("hashed_password")
        return value if isinstance(value, str) and value else None

    @property
    def uses_password_migration_hook(self) -> bool:
        """Whether the password credential was imported with ``use_password_migration_hook``.

        .. versionadded:: 0.1.0
        """
        config = _credential_config(self.credentials, "password")
        return config.get("use_password_migration_hook") is True

    @property
    def oidc_identifiers(self) -> tuple[str, ...]:
        """``provider:subject`` of every imported OIDC (social) login.

        .. versionadded:: 0.1.0
        """
        return tuple(_provider_identifiers(self.credentials, "oidc"))

    @property
    def saml_identifiers(self) -> tuple[str, ...]:
        """``provider:subject`` of every imported SAML (enterprise SSO) login.

        .. versionadded:: 0.1.0
        """
        return tuple(_provider_identifiers(self.credentials, "saml"))


# --------------------------------------------------------------------------------------------
# Pure helpers: normalisation, hash formats, JSON Schema subset, strict decoding
# --------------------------------------------------------------------------------------------


def normalize_identifier(value: str) -> str:
    """Normalise an identifier like Ory does: trim, Unicode NFKC, lower-case.

    Kept apart from the library's own normalisation on purpose: the test servers model Ory
    without the library's code, so that they catch its mistakes.

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


_Fits = Callable[[Any], bool]


def _compile_schema(schema: Mapping[str, Any]) -> _Fits:
    """A fast yes/no :func:`validate_json_schema` (true exactly when it finds no problem).

    The server asks this first and :func:`validate_json_schema` only to name the problems.
    """
    try:
        return _compile_schema_node(schema)
    except Exception:  # a schema outside the supported subset: no shortcut
        return lambda value: not validate_json_schema(schema, value)


def _compile_schema_node(schema: Mapping[str, Any]) -> _Fits:
    checks: list[_Fits] = []
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if names == ["object"]:
            checks.append(lambda v: isinstance(v, dict))
        elif names == ["string"]:
            checks.append(lambda v: isinstance(v, str))
        else:
            checks.append(lambda v: any(_is_type(v, n) for n in names))
    if "enum" in schema:
        enum = schema["enum"]
        checks.append(lambda v: v in enum)
    if "const" in schema:
        const = schema["const"]
        checks.append(lambda v: v == const)
    string_checks: list[_Fits] = []
    if "minLength" in schema:
        min_length = schema["minLength"]
        string_checks.append(lambda v: len(v) >= min_length)
    if "maxLength" in schema:
        max_length = schema["maxLength"]
        string_checks.append(lambda v: len(v) <= max_length)
    if "pattern" in schema:
        pattern = schema["pattern"]
        string_checks.append(lambda v: re.search(pattern, v) is not None)
    check_format = _FORMATS.get(str(schema.get("format")))
    if check_format is not None:
        string_checks.append(check_format)
    if string_checks:
        checks.append(lambda v: not isinstance(v, str) or all(c(v) for c in string_checks))
    number_checks: list[_Fits] = []
    if "minimum" in schema:
        minimum = schema["minimum"]
        number_checks.append(lambda v: not v < minimum)
    if "maximum" in schema:
        maximum = schema["maximum"]
        number_checks.append(lambda v: not v > maximum)
    if number_checks:
        checks.append(lambda v: not _is_type(v, "number") or all(c(v) for c in number_checks))
    properties = {k: _compile_schema(sub) for k, sub in (schema.get("properties") or {}).items()}
    required = tuple(schema.get("required") or ())
    additional = schema.get("additionalProperties", True)
    fits_additional = _compile_schema(additional) if isinstance(additional, Mapping) else None

    def fits_object(value: dict[str, Any]) -> bool:
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            fits = properties.get(key)
            if fits is not None:
                if not fits(item):
                    return False
            elif additional is False or (fits_additional is not None and not fits_additional(item)):
                return False
        return True

    checks.append(lambda v: not isinstance(v, dict) or fits_object(v))
    list_checks: list[_Fits] = []
    if "minItems" in schema:
        min_items = schema["minItems"]
        list_checks.append(lambda v: len(v) >= min_items)
    if "maxItems" in schema:
        max_items = schema["maxItems"]
        list_checks.append(lambda v: len(v) <= max_items)
    items = schema.get("items")
    if isinstance(items, Mapping):
        fits_item = _compile_schema(items)
        list_checks.append(lambda v: all(fits_item(item) for item in v))
    if list_checks:
        checks.append(lambda v: not isinstance(v, list) or all(c(v) for c in list_checks))

    def fits(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 (all() over a generator is slower)
            if not check(value):
                return False
        return True

    return fits


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
# Kratos's UpdateIdentityBody (PUT), decoded by a plain json.Decoder: unknown keys are skipped.
_UPDATE_IDENTITY: Final[_Spec] = {
    "schema_id": "string",
    "traits": "any",
    "credentials": _CREDENTIALS,
    "metadata_public": "any",
    "metadata_admin": "any",
    "state": "string",
    "external_id": "string",
    "region": "string",
}
# An identity as a JSON Patch leaves it, read back into Kratos's Identity (unknown keys skipped).
_PATCHED_IDENTITY: Final[_Spec] = {
    "id": "uuid",
    "schema_id": "string",
    "traits": "any",
    "state": "string",
    "external_id": "string",
    "metadata_public": "any",
    "metadata_admin": "any",
    "organization_id": "uuid",
    "verifiable_addresses": [_VERIFIABLE_ADDRESS],
    "recovery_addresses": [_RECOVERY_ADDRESS],
    "credentials": {
        kind: {"type": "string", "identifiers": ["string"], "config": "any"}
        for kind in ("password", "oidc", "saml", "totp", "lookup_secret", "webauthn", "passkey")
    },
}
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")
_REGIONS: Final = frozenset(
    {"eu-central", "asia-northeast", "us-east", "us-west", "eu", "asia", "us", "global"}
)


#: Go's base64.RawURLEncoding alphabet (Kratos decodes schema ids given that way).
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]+")

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


def _check_shape(value: Any, spec: _Spec, path: str, *, strict: bool = True) -> None:
    """Reject wrong JSON types like Go's decoder (null is always fine), and unknown keys if strict.

    ``strict=False`` is Go's plain ``json.Decoder``, which skips unknown keys.
    """
    if value is None or spec == "any":
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {path}")
        for key, item in value.items():
            sub = spec.get(key)
            if sub is None:
                if not strict:
                    continue
                raise OryAdminError(400, f'json: unknown field "{key}" in {path}')
            if item is None or sub == "any" or (sub == "string" and isinstance(item, str)):
                continue
            _check_shape(item, sub, f"{path}.{key}", strict=strict)
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {path}")
        for i, item in enumerate(value):
            _check_shape(item, spec[0], f"{path}[{i}]", strict=strict)
        return
    if not _SCALARS[spec](value):
        raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {path} ({spec})")


_SCALAR_TYPES: Final[Mapping[str, type]] = {"string": str, "bool": bool, "object": dict}


def _compile_shape(spec: _Spec) -> _Fits:
    """A fast yes/no version of :func:`_check_shape` (which then names the problem)."""
    if spec == "any":
        return lambda value: True
    if isinstance(spec, dict):
        allowed = frozenset(spec)
        # Per member: the type its value must have, or a check; "any" members are absent.
        kinds: dict[str, type | _Fits] = {
            key: _SCALAR_TYPES[sub] if sub in ("string", "bool", "object") else _compile_shape(sub)
            for key, sub in spec.items()
            if sub != "any"
        }

        def fits_object(value: Any) -> bool:
            if value is None:
                return True
            if not isinstance(value, dict) or not value.keys() <= allowed:
                return False
            for key, item in value.items():
                kind = kinds.get(key)
                if kind is None or item is None:
                    continue
                if isinstance(kind, type):
                    if not isinstance(item, kind):
                        return False
                elif not kind(item):
                    return False
            return True

        return fits_object
    if isinstance(spec, list):
        fits_item = _compile_shape(spec[0])

        def fits_array(value: Any) -> bool:
            if value is None:
                return True
            if not isinstance(value, list):
                return False
            for item in value:  # noqa: SIM110 (all() over a generator is slower)
                if not fits_item(item):
                    return False
            return True

        return fits_array
    scalar = _SCALARS[spec]
    return lambda value: value is None or scalar(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
# json's own scanners: the value at an index -> (value, end); a string's rest -> (str, end).
_Scan = Callable[[str, int], tuple[Any, int]]
_ScanString = Callable[[str, int, bool], tuple[str, int]]
_SCAN: Final[_Scan] = _DECODER.scan_once  # type: ignore[attr-defined]
_SCAN_STRING: Final[_ScanString] = json.decoder.scanstring  # type: ignore[attr-defined]
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")  # JSON's
_WS_CHARS: Final = " \t\n\r"


def _skip_ws(text: str, i: int) -> int:
    if text[i : i + 1] not in _WS_CHARS:
        return i
    match = _WHITESPACE.match(text, i)
    return match.end() if match else i


class _LeaveToLoads(Exception):
    """The batch reader met something it leaves to :func:`json.loads` to read or reject."""


def _read_object(
    text: str, i: int, keep: str, read_kept: _Scan | None = None
) -> tuple[dict[str, Any], int, str | None]:
    """Read the JSON object at ``text[i]`` (``{``) exactly like json does.

    Returns the object, the index after it and the JSON text of its member ``keep`` (the
    last one, as json keeps the last of repeated keys), or reads that member's value with
    ``read_kept`` (then no text). Whatever json would not read raises :class:`_LeaveToLoads`.
    """
    result: dict[str, Any] = {}
    kept: str | None = None
    i = _skip_ws(text, i + 1)
    if text[i] == "}":
        return result, i + 1, kept
    while True:
        if text[i] != '"':
            raise _LeaveToLoads
        key, i = _SCAN_STRING(text, i + 1, True)
        i = _skip_ws(text, i)
        if text[i] != ":":
            raise _LeaveToLoads
        start = _skip_ws(text, i + 1)
        if key != keep:
            result[key], i = _SCAN(text, start)
        elif read_kept is not None:
            result[key], i = read_kept(text, start)
        else:
            result[key], i = _SCAN(text, start)
            kept = text[start:i]
        i = _skip_ws(text, i)
        if text[i] == "}":
            return result, i + 1, kept
        if text[i] != ",":
            raise _LeaveToLoads
        i = _skip_ws(text, i + 1)


def _read_batch(text: str) -> tuple[dict[str, Any], list[str | None]]:
    """Decode a PatchIdentitiesBody exactly like json.loads, plus each ``create``'s JSON text.

    Used to read back an identity stored from a batch (see :class:`_Record`). Anything
    unusual (including every syntax error) raises :class:`_LeaveToLoads`.
    """
    creates: list[str | None] = []

    def read_identities(text: str, i: int) -> tuple[Any, int]:
        creates.clear()  # a repeated "identities": the last one wins
        if text[i] != "[":
            return _SCAN(text, i)
        items: list[Any] = []
        i = _skip_ws(text, i + 1)
        if text[i] == "]":
            return items, i + 1
        while True:
            if text[i] == "{":
                value, i, create = _read_object(text, i, "create")
            else:
                (value, i), create = _SCAN(text, i), None
            items.append(value)
            creates.append(create)
            i = _skip_ws(text, i)
            if text[i] == "]":
                return items, i + 1
            if text[i] != ",":
                raise _LeaveToLoads
            i = _skip_ws(text, i + 1)

    i = _skip_ws(text, 0)
    if text[i] != "{":
        raise _LeaveToLoads
    value, i, _ = _read_object(text, i, "identities", read_identities)
    if _skip_ws(text, i) != len(text):
        raise _LeaveToLoads
    return value, creates


class _PatchError(Exception):
    """A JSON Patch Kratos refuses (the text is what its patch library says)."""


_ALLOWED_OPS: Final = ("add", "remove", "replace")
_DENIED_PATHS: Final = frozenset(
    {"/id", "/statechangedat", "/credentials", "/credentials/oidc", "/credentials/saml"}
)


def _denied(path: str) -> bool:
    """Kratos's ``patchIdentity`` deny-list (globs, compared in lower case).

    ``/id``, ``/stateChangedAt``, ``/credentials``, ``/credentials/oidc``,
    ``/credentials/oidc/**``, ``/credentials/saml`` and ``/credentials/saml/**``.
    """
    lowered = path.lower()
    return lowered in _DENIED_PATHS or lowered.startswith(
        ("/credentials/oidc/", "/credentials/saml/")
    )


def _element_access(path: str) -> bool:
    last = path.rsplit("/", 1)[-1]
    return bool(path) and (last == "-" or last.lstrip("-").isdigit())


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchError(f"JSON pointer must start with /: {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(token: str, size: int, *, end_ok: bool) -> int:
    if token == "-" and end_ok:
        return size
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _PatchError(f"invalid array index: {token}")
    index = int(token)
    if index > size or (index == size and not end_ok):
        raise _PatchError(f"index out of bounds: {index}")
    return index


def _apply_json_patch(document: Any, ops: list[Any]) -> Any:
    """Apply a JSON Patch as Kratos's ``jsonx.ApplyJSONPatch`` does.

    Only ``add``, ``remove`` and ``replace``; a denied path refuses the whole patch; a
    ``replace`` of an object member becomes an ``add`` (Kratos is tolerant there), and an
    ``add`` creates missing parents (``EnsurePathExistsOnAdd``). Nothing is applied unless
    every operation is.

    Raises:
        _PatchError: The patch is refused.
    """
    prepared: list[tuple[str, list[str], Any, bool]] = []
    for op in ops:
        if not isinstance(op, dict):
            raise _PatchError("error parsing patch operations: not an object")
        kind = op.get("op")
        if kind not in _ALLOWED_OPS:
            raise _PatchError(
                f"unsupported operation: {kind if isinstance(kind, str) else 'unknown'}"
            )
        path = op.get("path")
        if not isinstance(path, str):
            raise _PatchError("error parsing patch operations: missing path")
        if _denied(path):
            raise _PatchError(f"patch includes denied path: {path}")
        if kind == "replace" and not _element_access(path):
            kind = "add"
        prepared.append((kind, _pointer(path), op.get("value"), "value" in op))
    result = json.loads(json.dumps(document))
    for kind, tokens, value, has_value in prepared:
        path = "/" + "/".join(tokens)
        if kind != "remove" and not has_value:
            raise _PatchError(f"{kind} operation has no value: {path}")
        if not tokens:
            if kind == "remove":
                raise _PatchError("remove operation does not apply: the whole document")
            result = json.loads(json.dumps(value))
            continue
        parent = result
        for depth, token in enumerate(tokens[:-1]):
            if isinstance(parent, dict):
                if token not in parent or parent[token] is None:
                    if kind != "add":
                        raise _PatchError(
                            f"{kind} operation does not apply: doc is missing path: {path}"
                        )
                    following = tokens[depth + 1]
                    parent[token] = [] if following == "-" or following.isdigit() else {}
                parent = parent[token]
            elif isinstance(parent, list):
                parent = parent[_index(token, len(parent), end_ok=False)]
            else:
                raise _PatchError(f"{kind} operation does not apply: doc is missing path: {path}")
        last = tokens[-1]
        copied = json.loads(json.dumps(value))
        if isinstance(parent, dict):
            if kind in {"remove", "replace"} and last not in parent:
                raise _PatchError(f"Unable to {kind} nonexistent key: {last}: missing value")
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = copied
        elif isinstance(parent, list):
            if kind == "add":
                parent.insert(_index(last, len(parent), end_ok=True), copied)
            elif kind == "remove":
                parent.pop(_index(last, len(parent), end_ok=False))
            else:
                parent[_index(last, len(parent), end_ok=False)] = copied
        else:
            raise _PatchError(f"{kind} operation does not apply: doc is missing path: {path}")
    return result


_CREATE_FITS: Final = _compile_shape(_CREATE_IDENTITY)
_PATCH_FITS: Final = _compile_shape(_PATCH_IDENTITIES)


def _decode_body(body: bytes, spec: _Spec, fits: _Fits, name: str) -> tuple[dict[str, Any], str]:
    """The request body decoded and its JSON text, or the 400 Go's strict decoder would answer.

    Args:
        body: The raw request body.
        spec: The shape it must have (``_CREATE_IDENTITY`` or ``_PATCH_IDENTITIES``).
        fits: ``spec`` compiled by :func:`_compile_shape`.
        name: The Go type, for the error message.
    """
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:  # UnicodeDecodeError is one
        raise OryAdminError(400, f"Unable to decode JSON payload: {e}") from None
    if not isinstance(value, dict):
        raise OryAdminError(400, f"json: cannot unmarshal {_json_type(value)} into {name}")
    if not fits(value):
        _check_shape(value, spec, name)  # raises, naming the first problem
    return value, text


@functools.lru_cache(maxsize=16)
def _creates_of(batch: str) -> tuple[str | None, ...]:
    """The JSON text of each item's ``create`` in a PatchIdentitiesBody (recent ones cached)."""
    return tuple(_read_batch(batch)[1])


def _check_request_level(body: Mapping[str, Any], where: str) -> None:
    """The checks that reject a whole request: state and hashed_password format."""
    state = body.get("state")
    if state not in (None, "", "active", "inactive"):
        raise OryAdminError(400, f"{where}: identity state is not valid: {state!r}")
    region = body.get("region")
    if region not in (None, "") and region not in _REGIONS:
        raise OryAdminError(400, f"{where}: region is not valid: {region!r}")
    hashed = _credential_config(body.get("credentials"), "password").get("hashed_password")
    if hashed and not is_supported_password_hash(hashed):
        raise OryAdminError(
            400, f"{where}: unable to import hashed password: the hash format is not recognised"
        )


def _echoed(error: OryAdminError, quoted: str) -> OryAdminError:
    """*error* with *quoted* (request text) appended to its reason and message."""
    return OryAdminError(
        error.code, f"{error.reason} (request: {quoted})", f"{error.message} (request: {quoted})"
    )


def _echo_items(results: list[dict[str, Any]], creates: list[Mapping[str, Any]]) -> None:
    """Append each failed item's ``create`` body to its error (``OryFaults.echo_request``)."""
    for item, create in zip(results, creates, strict=False):
        if item.get("action") == "error":
            quoted = json.dumps(create)
            error = item["error"]
            error["reason"] = f"{error.get('reason', '')} (identity: {quoted})"
            error["message"] = f"{error.get('message', '')} (identity: {quoted})"


def _batch_creates(patches: list[Any]) -> list[Mapping[str, Any]]:
    """The ``create`` bodies of a batch's items, or the 400 that refuses the whole batch.

    At most :data:`MAX_BATCH_SIZE` items, each a ``create`` passing
    :func:`_check_request_level`, and at most :data:`MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS`
    when any carries a plaintext password.
    """
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
    return creates


def _has_plaintext_password(body: Mapping[str, Any]) -> bool:
    return bool(_credential_config(body.get("credentials"), "password").get("password"))


def _credential_config(credentials: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any]:
    """The ``config`` of one type of credential in a ``credentials`` object (empty: none)."""
    config = ((credentials or {}).get(kind) or {}).get("config")
    return config if isinstance(config, Mapping) else {}


def _provider_identifiers(credentials: Mapping[str, Any] | None, kind: str) -> list[str]:
    """``provider:subject`` of every OIDC or SAML (*kind*) provider in a ``credentials`` object."""
    providers = _credential_config(credentials, kind).get("providers") or []
    return [f"{p['provider']}:{p['subject']}" for p in providers if p]


def _provider_id(provider: Any) -> str | None:
    """``provider:subject`` of one OIDC/SAML provider entry (``None``: not an entry)."""
    if not isinstance(provider, Mapping):
        return None
    return f"{provider.get('provider')}:{provider.get('subject')}"


_NEED_IDENTIFIER: Final = "You must provide an identifier to delete this credential."


def _credential_kinds(identity: StoredIdentity) -> set[str]:
    """The credential types Ory lists for *identity* (its ``credentials`` keys)."""
    return set(OryAdminServer._credentials_json(identity, frozenset()))


def _credential_identifiers(identity: StoredIdentity, kind: str) -> tuple[str, ...]:
    """The identifiers Ory lists for *identity*'s *kind* credential (none: no such credential)."""
    listed = OryAdminServer._credentials_json(identity, frozenset()).get(kind) or {}
    return tuple(listed.get("identifiers") or ())


def _first_factors(identity: StoredIdentity, *, passwordless_code: bool) -> int:
    """How many first factors Kratos counts for *identity* (``CountActiveFirstFactorCredentials``).

    As Kratos's strategies count them: a password with identifiers and a hash (or the
    migration hook, taken as enabled), each OIDC link outside an organization, each passkey,
    each passwordless WebAuthn key, and one for everyone when code login is enabled. SAML
    links and TOTP or lookup codes count nothing (Kratos has no SAML counter).
    """
    count = 1 if passwordless_code else 0
    credentials = identity.credentials
    if identity.password_identifiers and "password" in credentials:
        count += bool(identity.hashed_password or identity.uses_password_migration_hook)
    for provider in _credential_config(credentials, "oidc").get("providers") or ():
        if (
            isinstance(provider, Mapping)
            and provider.get("provider")
            and provider.get("subject")
            and not provider.get("organization")
        ):
            count += 1
    count += len(_credential_config(credentials, "passkey").get("credentials") or ())
    for key in _credential_config(credentials, "webauthn").get("credentials") or ():
        count += isinstance(key, Mapping) and key.get("is_passwordless") is True
    return count


_UUID_RNG = random.Random(secrets.randbits(128))  # noqa: S311 (ids, not secrets)


_UUID_V4_CLEAR: Final = ~((0xF << 76) | (0x3 << 62))  # the version and variant bits
_UUID_V4_SET: Final = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


def _check_organization(organizations: frozenset[str], organization_id: str) -> None:
    """400 (as Ory answers) unless ``organization_id`` is one of the configured organizations."""
    if organization_id.lower() not in organizations:
        raise OryAdminError(
            400,
            f"organization {organization_id} does not exist",
            "The request was malformed or contained invalid parameters",
        )


def _new_uuid() -> str:
    """A random (version 4) UUID; faster than uuid.uuid4(), which asks the OS every time."""
    h = "%032x" % (_UUID_RNG.getrandbits(128) & _UUID_V4_CLEAR | _UUID_V4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(value: datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Derived(NamedTuple):
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
    if len(path) == 1 and (key := path[0]) is not None:  # a top-level trait: the usual case
        return [value[key]] if isinstance(value, dict) and key in value else []
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
        tuple(dict.fromkeys(password)),
        tuple(dict.fromkeys(verifiable)),
        tuple(dict.fromkeys(recovery)),
    )


def _identity_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema as Ory serves it: a bare traits schema becomes an identity schema."""
    props = schema.get("properties")
    if isinstance(props, Mapping) and isinstance(props.get("traits"), Mapping):
        return schema
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"traits": schema},
    }


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


_VERIFIABLE_FIELDS: Final = (
    "id",
    "value",
    "verified",
    "via",
    "status",
    "verified_at",
    "created_at",
    "updated_at",
)
_RECOVERY_FIELDS: Final = ("id", "value", "via", "created_at", "updated_at")


class _Record(NamedTuple):
    """An identity as stored: strings and tuples only.

    The store keeps it as a plain ``tuple`` (``_Record._make`` reads it back): a tuple of
    strings and such tuples is soon untracked by the garbage collector, so 100,000 stored
    identities cost a full collection nothing (a NamedTuple instance stays tracked; a dict
    tree per identity cost tens of milliseconds per collection). Traits, metadata and
    credentials stay in ``body``, the JSON text the identity arrived in: its
    CreateIdentityBody, or the whole PatchIdentitiesBody of its batch (shared by the batch's
    identities) with ``batch_index``. :meth:`create_body` decodes them when someone asks, so
    a batch is decoded once, by json.loads, when it arrives.
    """

    id: str
    schema_id: str
    state: str
    external_id: str | None
    organization_id: str | None
    created_at: datetime
    password_identifiers: tuple[str, ...]
    generated_password_hash: str | None
    verifiable_addresses: tuple[tuple[Any, ...], ...]
    """Values in the order of :data:`_VERIFIABLE_FIELDS`."""
    recovery_addresses: tuple[tuple[Any, ...], ...]
    """Values in the order of :data:`_RECOVERY_FIELDS`."""
    keys: tuple[str, ...]
    """Uniqueness keys (``kind:value``) the identity owns."""
    body: str
    """JSON text: the identity's CreateIdentityBody, or a whole PatchIdentitiesBody."""
    batch_index: int = -1
    """Which item of the PatchIdentitiesBody in :attr:`body` it was (-1: not a batch)."""
    updated_at: datetime | None = None
    """When an update (PUT/PATCH) last changed it (None: never)."""
    state_changed_at: datetime | None = None
    """When an update last changed its state (None: never)."""

    def create_body(self) -> dict[str, Any]:
        """The CreateIdentityBody the identity was created from, decoded."""
        text: str | None = self.body
        if self.batch_index >= 0:
            try:
                text = _creates_of(self.body)[self.batch_index]
            except (_LeaveToLoads, ValueError, StopIteration, IndexError):
                text = None  # not met for a body json reads; json has the last word then
        if text is None:
            body: dict[str, Any] = json.loads(self.body)["identities"][self.batch_index]["create"]
        else:
            body = json.loads(text)
        return body

    def stored(self, body: Mapping[str, Any] | None = None) -> StoredIdentity:
        """The public view (``body``: :meth:`create_body`, when at hand)."""
        if body is None:
            body = self.create_body()
        return StoredIdentity(
            id=self.id,
            schema_id=self.schema_id,
            traits=body["traits"],
            state=self.state,
            external_id=self.external_id,
            metadata_public=body.get("metadata_public"),
            metadata_admin=body.get("metadata_admin"),
            verifiable_addresses=tuple(
                dict(zip(_VERIFIABLE_FIELDS, a, strict=True)) for a in self.verifiable_addresses
            ),
            recovery_addresses=tuple(
                dict(zip(_RECOVERY_FIELDS, a, strict=True)) for a in self.recovery_addresses
            ),
            credentials={k: v for k, v in (body.get("credentials") or {}).items() if v is not None},
            created_at=self.created_at,
            organization_id=self.organization_id,
            password_identifiers=self.password_identifiers,
            generated_password_hash=self.generated_password_hash,
            updated_at=self.updated_at,
            state_changed_at=self.state_changed_at,
        )


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


def _not_found() -> OryAdminError:
    """Ory's 404 for an identity id it does not know (``sqlcon.ErrNoRows``; no reason)."""
    return OryAdminError(404, "", "Unable to locate the resource")


def _unique_keys(
    derived: _Derived, credentials: Mapping[str, Any], external_id: str | None
) -> tuple[str, ...]:
    """The uniqueness keys (``kind:value``) an identity owns."""
    keys = [f"password:{identifier}" for identifier in derived.password]
    for kind in ("oidc", "saml"):
        if kind in credentials:
            keys.extend([f"{kind}:{i}" for i in _provider_identifiers(credentials, kind)])
    keys.extend([f"verifiable:{via}:{value}" for via, value in derived.verifiable])
    keys.extend([f"recovery:{via}:{value}" for via, value in derived.recovery])
    if external_id is not None:
        keys.append(f"external_id:{external_id}")
    return tuple(dict.fromkeys(keys))


def _import_credentials(
    credentials: dict[str, Any], generated: str | None, sent: Mapping[str, Any]
) -> str | None:
    """Import *sent* on top of *credentials* (in place) as Kratos's ``importCredentials``.

    Returns the server's hash of a plaintext password (or None). Password and TOTP are
    replaced (the migration hook drops any hash), OIDC/SAML providers and lookup codes are
    appended (an existing provider sent again is stored twice, as Kratos does), WebAuthn and
    passkey keys are merged by id.
    """
    password = sent.get("password")
    if password is not None:
        config = (password or {}).get("config") or {}
        if config.get("use_password_migration_hook") is True:
            credentials["password"] = {"config": {"use_password_migration_hook": True}}
            generated = None
        elif config.get("password"):
            generated = _pbkdf2(config["password"])
            credentials["password"] = {"config": {"hashed_password": generated}}
        else:
            hashed = config.get("hashed_password") or ""
            if not is_supported_password_hash(hashed):
                raise OryAdminError(
                    400, "The imported password does not match any known hash format."
                )
            credentials["password"] = {"config": {"hashed_password": hashed}}
            generated = None
    for kind in ("oidc", "saml"):
        if sent.get(kind) is None:
            continue
        providers = list(_credential_config(credentials, kind).get("providers") or [])
        for provider in _credential_config(sent, kind).get("providers") or ():
            entry: dict[str, Any] = {
                "subject": (provider or {}).get("subject") or "",
                "provider": (provider or {}).get("provider") or "",
            }
            if kind == "oidc" and (provider or {}).get("use_auto_link") is True:
                entry["use_auto_link"] = True
            if (provider or {}).get("organization"):
                entry["organization"] = provider["organization"]
            providers.append(entry)
        credentials[kind] = {"config": {"providers": providers}}
    if sent.get("totp") is not None:
        url = _credential_config(sent, "totp").get("totp_url") or ""
        credentials["totp"] = {"config": {"totp_url": url}}
    if sent.get("lookup_secret") is not None:
        codes = list(_credential_config(credentials, "lookup_secret").get("codes") or [])
        codes.extend(_credential_config(sent, "lookup_secret").get("codes") or [])
        credentials["lookup_secret"] = {"config": {"codes": codes}}
    for kind in ("webauthn", "passkey"):
        if sent.get(kind) is None:
            continue
        old = _credential_config(credentials, kind)
        new = _credential_config(sent, kind)
        merged = list(old.get("credentials") or [])
        for key in new.get("credentials") or ():
            ids = [isinstance(k, Mapping) and k.get("id") for k in merged]
            key_id = isinstance(key, Mapping) and key.get("id")
            if key_id and key_id in ids:
                merged[ids.index(key_id)] = key
            else:
                merged.append(key)
        handle = new.get("user_handle") or old.get("user_handle")
        if kind == "passkey" and not handle:
            raise OryAdminError(
                400,
                "Passkey credential import requires a non-empty user_handle. "
                "It must match the WebAuthn user handle stored on the authenticator.",
            )
        if kind == "passkey" and not merged:
            raise OryAdminError(
                400,
                "Passkey credential import requires at least one entry in "
                "credentials.passkey.config.credentials.",
            )
        credentials[kind] = {"config": {"credentials": merged, "user_handle": handle}}
    return generated


class IdentityStore:
    """Ory's identity store and its import rules, in memory and thread-safe.

    The one implementation of those rules: :class:`OryAdminServer` serves it over HTTP and
    :class:`~auth0_ory_migrate.testing.InMemoryOryAdmin` calls it directly. A whole batch
    is refused (400) by ``_decode_body`` (strict JSON) and ``_batch_creates`` (limits, hash
    formats); each identity is then checked against its schema and stored, unless one of
    its unique keys (normalised password identifier, ``provider:subject``, address,
    ``external_id``) is taken (409).

    Args:
        schemas: Extra identity schemas by id (``preset://email`` always exists).
        default_schema_id: Schema used when a body has no ``schema_id``.
        organizations: The ids of the project's Ory organizations: an identity's
            ``organization_id`` (and an OIDC/SAML provider's ``organization``) must be one of
            them (400 otherwise). None = any is accepted.
        passwordless_code: The project allows login with a one-time code
            (``selfservice.methods.code.passwordless_enabled``): Kratos then counts a first
            factor for every identity, so that its last password or social link can go.
    """

    def __init__(
        self,
        *,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
        default_schema_id: str = "preset://email",
        organizations: Iterable[str] | None = None,
        passwordless_code: bool = False,
    ) -> None:
        self.passwordless_code = passwordless_code
        self.organizations: frozenset[str] | None = (
            None if organizations is None else frozenset(str(o).lower() for o in organizations)
        )
        self.schemas: dict[str, Mapping[str, Any]] = {"preset://email": PRESET_EMAIL_SCHEMA}
        self.schemas.update(schemas or {})
        self._traits_schemas = {k: _traits_schema(v) for k, v in self.schemas.items()}
        self._traits_fit = {k: _compile_schema(v) for k, v in self._traits_schemas.items()}
        self._rules = {k: _extension_rules(v) for k, v in self._traits_schemas.items()}
        self.default_schema_id = default_schema_id
        self._lock = threading.RLock()
        # Records as plain tuples (see _Record): the garbage collector soon stops tracking them.
        self._store: dict[str, tuple[Any, ...]] = {}
        self._seq: dict[str, int] = {}
        self._owners: dict[str, str] = {}  # uniqueness key -> identity id
        self._next_seq = 0

    def served_schema(self, raw_id: str) -> tuple[str, Mapping[str, Any] | None]:
        """The schema ``GET /schemas/{raw_id}`` answers, with the id it was looked up as.

        As Kratos: the id as given, else its unpadded base64url decoding (how identities'
        ``schema_url`` write it); ``None`` when neither is a schema of the project.
        """
        schema_id = raw_id
        schema = self.schemas.get(raw_id)
        if schema is None and _BASE64URL_RE.fullmatch(raw_id):
            try:
                padded = raw_id + "=" * (-len(raw_id) % 4)
                schema_id = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
            except (binascii.Error, ValueError, UnicodeDecodeError):
                pass
            schema = self.schemas.get(schema_id)
        return schema_id, _identity_schema(schema) if schema is not None else None

    def __len__(self) -> int:
        return len(self._store)

    def clear(self) -> None:
        """Forget every identity."""
        with self._lock:
            self._store.clear()
            self._seq.clear()
            self._owners.clear()

    # -- reading ---------------------------------------------------------------------------

    def identities(self) -> list[StoredIdentity]:
        """A snapshot of every stored identity, in creation order."""
        with self._lock:
            records = list(self._store.values())
        return [_Record._make(record).stored() for record in records]

    def identity(self, identity_id: str) -> StoredIdentity | None:
        """The identity with this id, or None."""
        with self._lock:
            record = self._record(identity_id)
        return record.stored() if record is not None else None

    def identity_by_external_id(self, external_id: str) -> StoredIdentity | None:
        """The identity with this ``external_id``, or None."""
        with self._lock:
            owner = self._owners.get(f"external_id:{external_id}")
            record = self._record(owner)
        return record.stored() if record is not None else None

    def identity_by_identifier(self, identifier: str) -> StoredIdentity | None:
        """The identity owning a credential identifier (an email, or ``provider:subject``)."""
        with self._lock:
            owner = self._owner_of_identifier(identifier)
            record = self._record(owner)
        return record.stored() if record is not None else None

    def page(
        self,
        start: int,
        page_size: int,
        *,
        ids: Iterable[str] = (),
        identifier: str | None = None,
        organization_id: str | None = None,
    ) -> list[tuple[_Record, int]]:
        """Up to ``page_size + 1`` identities from place ``start`` on, in creation order.

        Each with its place in creation order (the next page starts after the last one
        kept); one more than asked tells that there is a next page.
        """
        wanted = set(ids)
        page: list[tuple[_Record, int]] = []
        with self._lock:
            store, seq = self._store, self._seq
            in_order: Iterable[str] = store  # creation order
            if identifier:
                owner = self._owner_of_identifier(identifier)
                in_order = [owner] if owner is not None and owner in store else []
            for identity_id in in_order:
                place = seq[identity_id]
                if place < start or (wanted and identity_id not in wanted):
                    continue
                record = _Record._make(store[identity_id])
                if organization_id and record.organization_id != organization_id:
                    continue
                page.append((record, place))
                if len(page) > page_size:
                    break
        return page

    # -- writing ---------------------------------------------------------------------------

    def add_identity(self, body: Mapping[str, Any]) -> StoredIdentity:
        """Store an identity, under the same rules as ``POST /admin/identities``.

        Raises:
            OryAdminError: The body breaks a rule (400) or clashes with a stored identity (409).
        """
        text = json.dumps(body)
        payload = json.loads(text)
        _check_shape(payload, _CREATE_IDENTITY, "CreateIdentityBody")
        return self.create(payload, text)

    def problem(self, body: Mapping[str, Any]) -> str | None:
        """Why a ``POST`` of ``body`` would be refused with 400, or None (nothing is stored).

        Clashes with stored identities (409) are not looked for.
        """
        try:
            text = json.dumps(body)
            payload = json.loads(text)
            if not isinstance(payload, dict):
                return f"json: cannot unmarshal {_json_type(payload)} into CreateIdentityBody"
            _check_shape(payload, _CREATE_IDENTITY, "CreateIdentityBody")
            _check_request_level(payload, "identity")
            self._prepare(payload, text)
        except OryAdminError as e:
            return e.reason
        except (TypeError, ValueError) as e:
            return f"not a JSON object ({type(e).__name__})"
        return None

    def delete(self, identity_id: str) -> bool:
        """Delete an identity; False when there is none with this id."""
        with self._lock:
            return self._delete_locked(identity_id)

    def delete_credential(self, identity_id: str, kind: str, identifier: str | None) -> None:
        """Remove a credential, or one provider link of it, as Kratos's handler does.

        ``DELETE /admin/identities/{id}/credentials/{type}?identifier=``: ``lookup_secret``
        and ``totp`` go whole, ``webauthn`` keeps its passwordless keys, ``password`` is
        emptied, ``oidc``/``saml`` lose the provider whose ``provider:subject`` is
        *identifier*; the last three only while the identity keeps another first factor.

        Raises:
            OryAdminError: 404: no such identity, credential type on it, or identifier;
                400: no identifier for ``oidc``/``saml``, the identity's last first factor,
                or a type that cannot be deleted (``passkey``, ``code``...).
        """
        if kind == "deviceauthn":  # (Kratos revokes a device key; the twin stores none)
            if not identifier:
                raise OryAdminError(400, _NEED_IDENTIFIER)
            raise OryAdminError(404, f"no identity with id {identity_id!r}")
        with self._lock:
            record = self._record(identity_id)
            if record is None:
                raise OryAdminError(404, f"no identity with id {identity_id!r}")
            body = record.create_body()
            stored = record.stored(body)
            if kind not in _credential_kinds(stored):
                raise OryAdminError(
                    404, f"You tried to remove a {kind} but this user have no {kind} set up."
                )
            credentials = dict(stored.credentials)
            keys = record.keys
            generated = record.generated_password_hash
            if kind in ("lookup_secret", "totp"):
                del credentials[kind]
            elif kind == "webauthn":
                kept = [
                    c
                    for c in _credential_config(credentials, kind).get("credentials") or ()
                    if isinstance(c, Mapping) and c.get("is_passwordless") is True
                ]
                if kept:
                    config = {**_credential_config(credentials, kind), "credentials": kept}
                    credentials[kind] = {**credentials[kind], "config": config}
                else:
                    del credentials[kind]
            elif kind in ("password", "oidc", "saml"):
                if _first_factors(stored, passwordless_code=self.passwordless_code) < 2:
                    raise OryAdminError(400, "You cannot remove the last first factor credential.")
                if kind == "password":
                    credentials[kind] = {"config": {}}
                    generated = None
                else:
                    if not identifier:
                        raise OryAdminError(400, _NEED_IDENTIFIER)
                    providers = _credential_config(credentials, kind).get("providers") or []
                    kept = [p for p in providers if _provider_id(p) != identifier]
                    if len(kept) == len(providers):
                        raise OryAdminError(
                            404,
                            f"The identifier `{identifier}` was not found among OIDC credentials.",
                        )
                    credentials[kind] = {**credentials[kind], "config": {"providers": kept}}
                    keys = tuple(k for k in keys if k != f"{kind}:{identifier}")
                    if self._owners.get(f"{kind}:{identifier}") == identity_id:
                        del self._owners[f"{kind}:{identifier}"]
            else:
                raise OryAdminError(400, f"Credentials type {kind} cannot be deleted.")
            body["credentials"] = credentials
            changed = record._replace(
                body=json.dumps(body), batch_index=-1, keys=keys, generated_password_hash=generated
            )
            self._store[identity_id] = tuple(changed)

    def import_batch(
        self, patches: list[Any], creates: list[Mapping[str, Any]], text: str
    ) -> list[dict[str, Any]]:
        """Create the identities of a batch ``_batch_creates`` accepted; Ory's per-item answers.

        Args:
            patches: The request's ``identities``.
            creates: Their ``create`` bodies.
            text: The request body's JSON text (kept for the traits, metadata, credentials).
        """
        results: list[dict[str, Any]] = []
        prepared: list[_Record | OryAdminError] = []
        now = _now()
        stamp = _timestamp(now)
        for index, create in enumerate(creates):
            try:
                prepared.append(self._prepare(create, text, now, stamp, index))
            except OryAdminError as e:
                prepared.append(e)
        with self._lock:
            for patch, ready in zip(patches, prepared, strict=True):
                item: dict[str, Any] = {}
                try:
                    if isinstance(ready, OryAdminError):
                        raise ready
                    self._commit_locked(ready)
                except OryAdminError as e:
                    item["action"] = "error"
                    item["error"] = e.to_json()
                else:
                    item["action"] = "create"
                    item["identity"] = ready.id
                if patch.get("patch_id"):
                    item["patch_id"] = patch["patch_id"]
                results.append(item)
        return results

    # -- creation rules -------------------------------------------------------------------

    def create(self, body: Mapping[str, Any], text: str) -> StoredIdentity:
        """Check and store one well-formed CreateIdentityBody (``text``: its JSON text)."""
        _check_request_level(body, "identity")
        record = self._prepare(body, text)
        with self._lock:
            self._commit_locked(record)
        return record.stored(body)

    def _owner_of_identifier(self, identifier: str) -> str | None:
        for key in (
            f"password:{normalize_identifier(identifier)}",
            f"oidc:{identifier}",
            f"saml:{identifier}",
        ):
            if key in self._owners:
                return self._owners[key]
        return None

    def _prepare(
        self,
        body: Mapping[str, Any],
        text: str,
        now: datetime | None = None,
        stamp: str | None = None,
        batch_index: int = -1,
    ) -> _Record:
        """Check one CreateIdentityBody against the per-identity rules (no lock needed).

        ``text`` is the body as JSON text (kept for its traits, metadata and credentials), or
        the whole PatchIdentitiesBody with the item's ``batch_index``; ``now`` and its
        ``stamp`` are the creation time (default: now).
        """
        get = body.get
        schema_id = get("schema_id") or self.default_schema_id
        traits = get("traits")
        self._check_identity(schema_id, traits, body)  # the rules a PUT meets too
        organization_id = get("organization_id") or None
        credentials = {k: v for k, v in (get("credentials") or {}).items() if v is not None}
        plaintext = (
            _credential_config(credentials, "password").get("password") if credentials else None
        )

        derived = _derive(self._rules[schema_id], traits)
        if now is None:
            now = _now()
        if stamp is None:
            stamp = _timestamp(now)
        verifiable = self._verifiable_addresses(body, derived, stamp)
        recovery = tuple((_new_uuid(), value, via, stamp, stamp) for via, value in derived.recovery)
        external_id = get("external_id") or None
        keys = _unique_keys(derived, credentials, external_id)
        return _Record(
            _new_uuid(),
            schema_id,
            get("state") or "active",
            external_id,
            organization_id,
            now,
            derived.password,
            _pbkdf2(plaintext) if plaintext else None,
            verifiable,
            recovery,
            tuple(dict.fromkeys(keys)),
            text,
            batch_index,
        )

    # -- updates (PUT / PATCH /admin/identities/{id}) -------------------------------------------

    def json_of(self, identity_id: str, include: Iterable[str] | None) -> dict[str, Any]:
        """``GET /admin/identities/{id}``'s body (404 as Ory answers it when there is none)."""
        identity = self.identity(identity_id)
        if identity is None:
            raise _not_found()
        return identity_json(identity, include)

    def update(self, identity_id: str, body: Mapping[str, Any]) -> StoredIdentity:
        """Replace an identity as Kratos's ``PUT /admin/identities/{id}`` does.

        ``body`` is a decoded UpdateIdentityBody. ``traits``, ``metadata_public``,
        ``metadata_admin`` and ``external_id`` are replaced, cleared when left out; an empty
        ``schema_id``, ``state`` or ``region`` keeps the current one; ``credentials``, when
        sent, are imported on top of the stored ones (password and TOTP replaced, OIDC/SAML
        links and lookup codes added, WebAuthn/passkey keys merged by id). Verifiable and
        recovery addresses are derived again from the traits: an address already there keeps
        its id and verification state, a new one starts unverified.

        Raises:
            OryAdminError: 404 (no such identity), 400 (a rule broken), 409 (an identifier,
                address or ``external_id`` another identity owns).
        """
        _check_shape(body, _UPDATE_IDENTITY, "UpdateIdentityBody", strict=False)
        now = _now()
        with self._lock:
            record = self._record(identity_id)
            if record is None:
                raise _not_found()
            current = record.create_body()
            state, state_changed = record.state, record.state_changed_at
            wanted = body.get("state") or ""
            if wanted and wanted != state:
                if wanted not in ("active", "inactive"):
                    raise OryAdminError(400, f"identity state is not valid: {wanted!r}")
                state, state_changed = wanted, now
            region = body.get("region")
            if region not in (None, "") and region not in _REGIONS:
                raise OryAdminError(400, f"region is not valid: {region!r}")
            credentials = {
                k: v for k, v in (current.get("credentials") or {}).items() if v is not None
            }
            generated = record.generated_password_hash
            if body.get("credentials") is not None:
                generated = _import_credentials(credentials, generated, body["credentials"])
            new_body = {
                "schema_id": body.get("schema_id") or record.schema_id,
                "traits": body.get("traits"),
                "state": state,
                "external_id": body.get("external_id") or None,
                "metadata_public": body.get("metadata_public"),
                "metadata_admin": body.get("metadata_admin"),
                "organization_id": record.organization_id,
                "credentials": credentials,
            }
            stored = record.stored(current)
            return self._replace_locked(
                record,
                new_body,
                generated,
                state_changed,
                list(stored.verifiable_addresses),
                list(stored.recovery_addresses),
                now,
            )

    def patch(self, identity_id: str, ops: list[Any]) -> StoredIdentity:
        """Change an identity with a JSON Patch as Kratos's ``PATCH /admin/identities/{id}`` does.

        The patch applies to the identity as ``GET ?include_credential=`` shows it (credentials
        with their config, ``metadata_admin``); see :func:`_apply_json_patch` for the operations
        and the refused paths. The result is read back as Kratos reads it (unknown members
        skipped, wrong types refused), each credential's ``type`` must stay its key, the state
        must be valid, and the identity is validated and stored as by :meth:`update`; patched
        verifiable addresses keep their state when the traits still derive them.

        Raises:
            OryAdminError: 404, 400 (``failed to apply JSON patch`` or a rule broken), 409.
        """
        now = _now()
        with self._lock:
            record = self._record(identity_id)
            if record is None:
                raise _not_found()
            current = record.create_body()
            stored = record.stored(current)
            document = identity_json(stored, _CREDENTIAL_TYPES)
            try:
                patched = _apply_json_patch(document, ops)
                if not isinstance(patched, dict):
                    raise _PatchError(f"json: cannot unmarshal {_json_type(patched)} into Identity")
                _check_shape(patched, _PATCHED_IDENTITY, "Identity", strict=False)
            except _PatchError as e:
                raise OryAdminError(400, "failed to apply JSON patch", str(e)) from None
            except OryAdminError as e:
                raise OryAdminError(400, "failed to apply JSON patch", e.reason) from None
            patched_credentials = patched.get("credentials") or {}
            for kind, entry in patched_credentials.items():
                got = (entry or {}).get("type")
                if got != kind:
                    raise OryAdminError(
                        400, f'credentials.{kind}.type must equal "{kind}", got "{got or ""}"'
                    )
            state, state_changed = record.state, record.state_changed_at
            if patched.get("state") != state:
                wanted = patched.get("state")
                if wanted not in ("active", "inactive"):
                    raise OryAdminError(
                        400,
                        f"The supplied state ('{wanted or ''}') was not valid. "
                        "Valid states are ('active', 'inactive').",
                    )
                state, state_changed = wanted, now
            kept = {k: v for k, v in (current.get("credentials") or {}).items() if v is not None}
            listed = document.get("credentials") or {}
            credentials: dict[str, Any] = {}
            generated = record.generated_password_hash
            for kind, entry in patched_credentials.items():
                if kind in ("oidc", "saml"):  # never patched (denied paths)
                    if kind in kept:
                        credentials[kind] = kept[kind]
                elif kind in kept or entry != listed.get(kind):
                    credentials[kind] = {"config": (entry or {}).get("config") or {}}
            if credentials.get("password") != kept.get("password"):
                password = _credential_config(credentials, "password")
                if password.get("hashed_password") != generated:
                    generated = None
            new_body = {
                "schema_id": patched.get("schema_id") or record.schema_id,
                "traits": patched.get("traits"),
                "state": state,
                "external_id": patched.get("external_id") or None,
                "metadata_public": patched.get("metadata_public"),
                "metadata_admin": patched.get("metadata_admin"),
                "organization_id": patched.get("organization_id") or None,
                "credentials": credentials,
            }
            return self._replace_locked(
                record,
                new_body,
                generated,
                state_changed,
                [a for a in patched.get("verifiable_addresses") or () if isinstance(a, dict)],
                [a for a in patched.get("recovery_addresses") or () if isinstance(a, dict)],
                now,
            )

    def _replace_locked(  # noqa: PLR0917 (one caller per request kind, all positional)
        self,
        record: _Record,
        body: dict[str, Any],
        generated: str | None,
        state_changed_at: datetime | None,
        verifiable: list[Mapping[str, Any]],
        recovery: list[Mapping[str, Any]],
        now: datetime,
    ) -> StoredIdentity:
        """Validate and store an identity's new body as Kratos's ``Manager.Update`` does.

        *verifiable* and *recovery* are the addresses it had (or as patched): an address the
        new traits derive keeps the state of the one with the same ``via`` and normalised
        value, as Kratos's schema extensions merge them. Caller holds the lock.
        """
        schema_id = body["schema_id"]
        traits = body["traits"]
        self._check_identity(schema_id, traits, body)
        credentials = body["credentials"]
        derived = _derive(self._rules[schema_id], traits)
        stamp = _timestamp(now)

        def same(address: Mapping[str, Any], via: str, value: str) -> bool:
            found = address.get("value")
            return (
                address.get("via") == via
                and isinstance(found, str)
                and (normalize_identifier(found) == value)
            )

        addresses = []
        for via, value in derived.verifiable:
            old = next((a for a in verifiable if same(a, via, value)), None)
            if old is None:
                addresses.append((_new_uuid(), value, False, via, "pending", None, stamp, stamp))
            else:
                addresses.append(
                    (
                        old.get("id") or _new_uuid(),
                        value,
                        old.get("verified") is True,
                        via,
                        old.get("status") or "pending",
                        old.get("verified_at"),
                        old.get("created_at") or stamp,
                        old.get("updated_at") or stamp,
                    )
                )
        recovered = []
        for via, value in derived.recovery:
            old = next((a for a in recovery if same(a, via, value)), None)
            if old is None:
                recovered.append((_new_uuid(), value, via, stamp, stamp))
            else:
                recovered.append(
                    (
                        old.get("id") or _new_uuid(),
                        value,
                        via,
                        old.get("created_at") or stamp,
                        old.get("updated_at") or stamp,
                    )
                )
        external_id = body["external_id"]
        keys = _unique_keys(derived, credentials, external_id)
        identity_id = record.id
        owners = self._owners
        for key in keys:
            owner = owners.get(key)
            if owner is not None and owner != identity_id:
                raise OryAdminError(409, "")
        changed = record._replace(
            schema_id=schema_id,
            state=body["state"],
            external_id=external_id,
            organization_id=body["organization_id"],
            password_identifiers=derived.password,
            generated_password_hash=generated,
            verifiable_addresses=tuple(addresses),
            recovery_addresses=tuple(recovered),
            keys=keys,
            body=json.dumps(body),
            batch_index=-1,
            updated_at=now,
            state_changed_at=state_changed_at,
        )
        for key in record.keys:
            if owners.get(key) == identity_id:
                del owners[key]
        for key in keys:
            owners[key] = identity_id
        self._store[identity_id] = tuple(changed)
        return changed.stored(body)

    def _check_identity(self, schema_id: str, traits: Any, body: Mapping[str, Any]) -> None:
        """The per-identity rules of a create and a PUT (schema, metadata, organizations, links)."""
        traits_schema = self._traits_schemas.get(schema_id)
        if traits_schema is None:
            raise OryAdminError(400, f"identity schema {schema_id!r} does not exist")
        if not self._traits_fit[schema_id](traits) and (
            problems := validate_json_schema(traits_schema, traits, "#/traits")
        ):
            raise OryAdminError(
                400, "traits do not match the identity schema: " + "; ".join(problems)
            )
        if not isinstance(traits, dict):
            raise OryAdminError(400, "traits must be a JSON object")
        for name in ("metadata_public", "metadata_admin"):
            value = body.get(name)
            if value is not None and not isinstance(value, dict):
                raise OryAdminError(400, f"{name} must be a JSON object, got {_json_type(value)}")
        organizations = self.organizations
        if organizations is not None and body.get("organization_id"):
            _check_organization(organizations, body["organization_id"])
        credentials = body.get("credentials") or {}
        for kind in ("oidc", "saml"):
            for provider in _credential_config(credentials, kind).get("providers") or ():
                if not provider or not provider.get("provider") or not provider.get("subject"):
                    raise OryAdminError(400, f"{kind} credentials need a provider and a subject")
                if organizations is not None and provider.get("organization"):
                    _check_organization(organizations, provider["organization"])
        totp_url = _credential_config(credentials, "totp").get("totp_url")
        if totp_url is not None and not str(totp_url).startswith("otpauth://"):
            raise OryAdminError(400, "totp_url is not a valid otpauth:// URL")

    def _commit_locked(self, record: _Record) -> None:
        """Check uniqueness and store (caller holds the lock)."""
        owners = self._owners
        keys = record.keys
        for key in keys:
            if key in owners:
                raise OryAdminError(409, _clash_reason(key))
        identity_id = record.id
        self._store[identity_id] = tuple(record)  # a plain tuple: see _Record
        self._seq[identity_id] = self._next_seq
        self._next_seq += 1
        for key in keys:
            owners[key] = identity_id

    @staticmethod
    def _verifiable_addresses(
        body: Mapping[str, Any], derived: _Derived, stamp: str
    ) -> tuple[tuple[Any, ...], ...]:
        """The verifiable addresses (as :data:`_VERIFIABLE_FIELDS`) the traits derive.

        Verification state comes from the imported address with the same normalised value.
        """
        imported: dict[tuple[str, str], Mapping[str, Any]] = {}
        for address in body.get("verifiable_addresses") or ():
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
            source = imported.get((via, value))
            if source is None:
                verified, status, verified_at = False, "pending", None
            else:
                verified = source.get("verified") is True
                status = source.get("status") or ("completed" if verified else "pending")
                verified_at = (source.get("verified_at") or stamp) if verified else None
            result.append((_new_uuid(), value, verified, via, status, verified_at, stamp, stamp))
        return tuple(result)

    def _record(self, identity_id: str | None) -> _Record | None:
        """The stored record of an identity, or None (caller holds the lock)."""
        record = self._store.get(identity_id) if identity_id else None
        return _Record._make(record) if record is not None else None

    def _delete_locked(self, identity_id: str) -> bool:
        record = self._record(identity_id)
        if record is None:
            return False
        del self._store[identity_id]
        self._seq.pop(identity_id, None)
        for key in record.keys:
            if self._owners.get(key) == identity_id:
                del self._owners[key]
        return True


def _schema_path(schema_id: str) -> str:
    encoded = base64.urlsafe_b64encode(schema_id.encode()).decode().rstrip("=")
    return f"/schemas/{encoded}"


def identity_json(
    identity: StoredIdentity, include: Iterable[str] | None, schema_url: str | None = None
) -> dict[str, Any]:
    """The identity as Ory's admin API shows it.

    Args:
        identity: The stored identity.
        include: ``None``: no ``credentials`` (as a create's answer); else the credential types
            whose ``config`` is shown (``include_credential``); the others are listed without it.
        schema_url: Its ``schema_url`` (default: the path ``/schemas/<id>``).
    """
    created = _timestamp(identity.created_at)
    payload: dict[str, Any] = {
        "id": identity.id,
        "schema_id": identity.schema_id,
        "schema_url": schema_url or _schema_path(identity.schema_id),
        "state": identity.state,
        "state_changed_at": _timestamp(identity.state_changed_at or identity.created_at),
        "traits": identity.traits,
        "verifiable_addresses": [dict(a) for a in identity.verifiable_addresses],
        "recovery_addresses": [dict(a) for a in identity.recovery_addresses],
        "metadata_public": identity.metadata_public,
        "metadata_admin": identity.metadata_admin,
        "created_at": created,
        "updated_at": _timestamp(identity.updated_at or identity.created_at),
        "organization_id": identity.organization_id,
    }
    if identity.external_id is not None:
        payload["external_id"] = identity.external_id
    if include is not None:
        payload["credentials"] = credentials_json(identity, frozenset(include))
    return payload


def _declassified_providers(kind: str, providers: Any) -> list[dict[str, Any]]:
    """OIDC/SAML providers as Kratos's ``WithDeclassifiedCredentials`` shows them.

    Subject, provider, ``organization`` when set and (OIDC) ``use_auto_link`` when true.
    Kratos also writes OIDC links' initial tokens, decrypted: empty strings for an imported
    link, which has none; the twin leaves them out.
    """
    shown: list[dict[str, Any]] = []
    for provider in providers or ():
        if not isinstance(provider, Mapping):
            continue
        entry: dict[str, Any] = {}
        entry["subject"] = str(provider.get("subject") or "")
        entry["provider"] = str(provider.get("provider") or "")
        if provider.get("organization"):
            entry["organization"] = provider["organization"]
        if kind == "oidc" and provider.get("use_auto_link") is True:
            entry["use_auto_link"] = True
        shown.append(entry)
    return shown


def credentials_json(identity: StoredIdentity, include: frozenset[str]) -> dict[str, Any]:
    """The identity's ``credentials`` as Ory lists them (``config`` only for *include*)."""
    created = _timestamp(identity.created_at)
    updated = _timestamp(identity.updated_at or identity.created_at)
    imported = identity.credentials
    result: dict[str, Any] = {}

    def add(kind: str, identifiers: list[str], config: Mapping[str, Any]) -> None:
        entry: dict[str, Any] = {
            "type": kind,
            "identifiers": identifiers,
            "version": 0,
            "created_at": created,
            "updated_at": updated,
        }
        if kind in include:
            entry["config"] = dict(config)
        result[kind] = entry

    password_config = _credential_config(imported, "password")
    if identity.password_identifiers or imported.get("password"):
        config: dict[str, Any] = {}
        if identity.hashed_password is not None:
            config["hashed_password"] = identity.hashed_password
        if password_config.get("use_password_migration_hook") is not None:
            config["use_password_migration_hook"] = password_config["use_password_migration_hook"]
        add("password", list(identity.password_identifiers), config)
    for kind in ("oidc", "saml"):
        if imported.get(kind):
            providers = _credential_config(imported, kind).get("providers") or []
            shown = {"providers": _declassified_providers(kind, providers)}
            add(kind, _provider_identifiers(imported, kind), shown)
    for kind in ("totp", "lookup_secret", "webauthn", "passkey"):
        if imported.get(kind):
            add(kind, [identity.id], _credential_config(imported, kind))
    return result


class StoreViews:
    """Direct access to a test twin's :class:`IdentityStore` (over HTTP and in memory).

    .. versionadded:: 0.1.0
    """

    _store: IdentityStore

    def identities(self) -> list[StoredIdentity]:
        """A snapshot of every stored identity, in creation order.

        .. versionadded:: 0.1.0
        """
        return self._store.identities()

    def identity(self, identity_id: str) -> StoredIdentity | None:
        """The identity with this id, or None.

        .. versionadded:: 0.1.0
        """
        return self._store.identity(identity_id)

    def identity_by_external_id(self, external_id: str) -> StoredIdentity | None:
        """The identity with this ``external_id``, or None.

        .. versionadded:: 0.1.0
        """
        return self._store.identity_by_external_id(external_id)

    def identity_by_identifier(self, identifier: str) -> StoredIdentity | None:
        """The identity owning a credential identifier (an email, or ``provider:subject``).

        .. versionadded:: 0.1.0
        """
        return self._store.identity_by_identifier(identifier)

    def add_identity(self, body: Mapping[str, Any]) -> StoredIdentity:
        """Store an identity directly, under the same rules as ``POST /admin/identities``.

        Raises:
            OryAdminError: The body breaks a rule (400) or clashes with a stored identity (409).

        .. versionadded:: 0.1.0
        """
        return self._store.add_identity(body)


class OryAdminServer(StoreViews):
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
        organizations: The ids of the project's Ory organizations; an identity with another
            ``organization_id`` (or an OIDC/SAML provider with another ``organization``) is
            refused with 400. None (default) accepts any, as without organizations configured.
        passwordless_code: The project allows login with a one-time code: every identity
            then has a first factor besides its password and links, so that
            ``DELETE /admin/identities/{id}/credentials/oidc`` may remove its last link
            (without it, Ory answers 400 "You cannot remove the last first factor
            credential."). The password-migration hook counts as enabled.
        namespaces: The Ory Permissions namespaces configured: a relationship in another
            one is refused (404, as Keto answers). None (default) accepts any.

    Attributes:
        faults: The faults to inject (:class:`OryFaults`); change them at any time.
        relations: Ory Permissions' relationships (:class:`RelationTupleStore`), served at
            ``PATCH /admin/relation-tuples`` and ``GET /relation-tuples``.
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
        organizations: Iterable[str] | None = None,
        passwordless_code: bool = False,
        namespaces: Iterable[str] | None = None,
    ) -> None:
        self._api_key = api_key
        self.relations = RelationTupleStore(namespaces)
        self._store = IdentityStore(
            schemas=schemas,
            default_schema_id=default_schema_id,
            organizations=organizations,
            passwordless_code=passwordless_code,
        )
        self.max_inflight_imports = max_inflight_imports
        self.faults: OryFaults = faults if faults is not None else OryFaults()
        self.absolute_links = absolute_links
        self._lock = threading.RLock()
        self._http = BackgroundHTTPServer(self._app)
        self._inflight = 0
        self._admin_requests = 0
        self._windows: dict[str, tuple[float, int]] = {}  # bucket -> (window start, count)
        self.requests: list[RecordedRequest] = []
        self.max_concurrent_seen = 0

    def __repr__(self) -> str:
        return f"OryAdminServer(url={self.url!r}, identities={len(self._store)})"

    @property
    def default_schema_id(self) -> str:
        """Schema used when a body has no ``schema_id``; may be changed while running.

        .. versionadded:: 0.1.0
        """
        return self._store.default_schema_id

    @default_schema_id.setter
    def default_schema_id(self, value: str) -> None:
        self._store.default_schema_id = value

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

    def reset(self, *, keep_faults: bool = False) -> None:
        """Forget every identity and recorded request, and switch all faults off.

        Cheap (no restart): a module- or session-scoped server reset at the start of each
        Hypothesis example is as good as a new one.

        Args:
            keep_faults: Leave :attr:`faults` as they are (the rate-limit windows and the
                request count of ``rate_limit_every`` still start again).

        .. versionadded:: 0.1.0
        """
        self._store.clear()
        self.relations.clear()
        with self._lock:
            self._admin_requests = 0
            self._windows.clear()
            self.requests.clear()
            self.max_concurrent_seen = 0
            if keep_faults:
                return
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

    # -- JSON views -----------------------------------------------------------------------

    def _schema_url(self, schema_id: str) -> str:
        return f"{self.url}{_schema_path(schema_id)}"

    def _identity_json(
        self, identity: StoredIdentity, include: Iterable[str] | None
    ) -> dict[str, Any]:
        return identity_json(identity, include, self._schema_url(identity.schema_id))

    @staticmethod
    def _credentials_json(identity: StoredIdentity, include: frozenset[str]) -> dict[str, Any]:
        return credentials_json(identity, include)

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

    def _count_in_bucket(
        self, method: str, path: str
    ) -> tuple[dict[str, str], HttpResponse | None]:
        """Count a request in its rate-limit bucket: its headers, and the 429 if over the limit."""
        bucket = _bucket(method, path)
        limit = self.faults.rate_limits.get(bucket) if bucket is not None else None
        if bucket is None or limit is None:
            return {}, None
        now = time.time()
        window = max(0.0, self.faults.rate_limit_window)
        with self._lock:
            start, count = self._windows.get(bucket, (now, 0))
            if now - start >= window:
                start, count = now, 0
            count += 1
            self._windows[bucket] = (start, count)
        ends = start + window
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - count, 0)),
            "x-ratelimit-reset": str(math.ceil(ends)),
        }
        if count <= limit:
            return headers, None
        if self.faults.retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(ends - now)))
        reason = f"rate limit of the {bucket} bucket exceeded"
        return headers, self._error(OryAdminError(429, reason), headers)

    def _respond(
        self, request: HttpRequest, path: str, creating: bool, over_limit: bool, ctx: _Ctx
    ) -> HttpResponse:
        if path in ("/health/alive", "/health/ready"):
            return HttpResponse.json(200, {"status": "ok"})
        if path.startswith("/schemas/"):
            return self._get_schema(unquote(path.removeprefix("/schemas/")))
        if not path.startswith("/admin/") and path != "/relation-tuples":
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
        bucket_headers, over_bucket = self._count_in_bucket(request.method, path)
        if over_bucket is not None:
            return over_bucket
        extra_headers.update(bucket_headers)
        if fail_status:
            return self._error(OryAdminError(fail_status, "injected failure"))
        if self._api_key is not None:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), self._api_key.encode()
            ):
                refused = OryAdminError(401, "The provided API key is missing, invalid or expired")
                if self.faults.echo_request:
                    refused = _echoed(refused, f"API key {token.strip()}")
                return self._error(refused)
        if creating:
            with self._lock:
                drop_now = self.faults.drop_before_commit_next > 0
                if drop_now:
                    self.faults.drop_before_commit_next -= 1
            if drop_now:
                return HttpResponse.drop()
        try:
            response = self._route(request, path, creating, ctx)
        except OryAdminError as e:
            if self.faults.echo_request:
                auth = request.headers.get("authorization", "")
                body = request.body.decode("utf-8", "replace")
                e = _echoed(e, f"{body}; Authorization: {auth}")
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
        if path == "/admin/relation-tuples" and method == "PATCH":
            try:
                deltas = json.loads(request.body)
            except ValueError as e:
                raise OryAdminError(400, f"the body is not JSON: {e}") from None
            ctx.items = len(deltas) if isinstance(deltas, list) else 0
            self.relations.patch(deltas)
            return HttpResponse.empty(204)
        if path == "/relation-tuples" and method == "GET":
            return self._list_relations(request)
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
            identity = self.identity_by_external_id(external_id)
            if identity is None:
                raise OryAdminError(404, f"no identity with external_id {external_id!r}")
            include = _include_credential(request) or []
            return HttpResponse.json(200, self._identity_json(identity, include))
        if path.startswith("/admin/identities/") and path.count("/") == 3:
            identity_id = unquote(path.rsplit("/", 1)[1])
            if method == "GET":
                identity = self.identity(identity_id)
                if identity is None:
                    raise _not_found()
                include = _declassify(request.query.get("include_credential") or [])
                return HttpResponse.json(200, self._identity_json(identity, include))
            if method == "PUT":
                ctx.items = 1
                update = _decode_update(request)
                return HttpResponse.json(
                    200, self._identity_json(self._store.update(identity_id, update), ())
                )
            if method == "PATCH":
                ctx.items = 1
                if self.identity(identity_id) is None:
                    raise _not_found()
                ops = _decode_json_patch(request.body)
                return HttpResponse.json(
                    200, self._identity_json(self._store.patch(identity_id, ops), ())
                )
            if method == "DELETE":
                if not self._store.delete(identity_id):
                    raise OryAdminError(404, f"no identity with id {identity_id!r}")
                return HttpResponse.empty(204)
            raise OryAdminError(405, f"{method} is not allowed on {path}")
        parts = path.split("/")
        if len(parts) == 6 and parts[4] == "credentials" and method == "DELETE":
            # Kratos reads the id as a UUID (anything else finds no one) and the first
            # ``identifier`` value of the query; other query parameters are ignored.
            identity_id, kind = unquote(parts[3]), unquote(parts[5])
            self._store.delete_credential(identity_id, kind, request.query_one("identifier"))
            return HttpResponse.empty(204)
        raise OryAdminError(404, f"no route for {method} {path}")

    def _list_relations(self, request: HttpRequest) -> HttpResponse:
        page_size = _page_size(request, DEFAULT_RELATION_PAGE_SIZE)
        if page_size < 1:
            page_size = DEFAULT_RELATION_PAGE_SIZE
        page_size = min(page_size, MAX_RELATION_PAGE_SIZE)
        after = -1
        if token := request.query_one("page_token"):
            after = _relation_page_key(token)
        query = {
            k: v[0] for k, v in request.query.items() if v and k not in ("page_size", "page_token")
        }
        found, last = self.relations.page(query, page_size, after)
        token = _relation_page_token(last) if last is not None else ""
        return HttpResponse.json(200, {"relation_tuples": found, "next_page_token": token})

    def _get_schema(self, raw_id: str) -> HttpResponse:
        schema_id, schema = self._store.served_schema(raw_id)
        if schema is None:
            reason = f"Identity schema `{schema_id}` could not be found."
            return self._error(OryAdminError(404, reason))
        return HttpResponse.json(200, schema)

    def _post_identity(self, request: HttpRequest, ctx: _Ctx) -> HttpResponse:
        body, text = _decode_body(
            request.body, _CREATE_IDENTITY, _CREATE_FITS, "CreateIdentityBody"
        )
        ctx.items = 1
        identity = self._store.create(body, text)
        return HttpResponse.json(
            201,
            self._identity_json(identity, ()),
            {"Location": f"{self.url}/admin/identities/{identity.id}"},
        )

    def _patch_identities(self, request: HttpRequest, ctx: _Ctx) -> HttpResponse:
        body, text = _decode_body(
            request.body, _PATCH_IDENTITIES, _PATCH_FITS, "PatchIdentitiesBody"
        )
        patches = body.get("identities") or []
        ctx.items = len(patches)
        creates = _batch_creates(patches)
        above = self.faults.gateway_timeout_above
        if above > 0 and len(creates) > above:
            raise OryAdminError(504, f"the batch of {len(creates)} identities timed out")
        results = self._store.import_batch(patches, creates, text)
        if self.faults.echo_request:
            _echo_items(results, creates)
        errors = [r["error"] for r in results if r["action"] == "error"]
        if results and len(errors) == len(results) and self.faults.batch_all_failed_error:
            code = 409 if all(e["code"] == 409 for e in errors) else 400
            raise OryAdminError(code, f"all {len(results)} identities of the batch failed")
        return HttpResponse.json(200, {"identities": results})

    def _list_identities(self, request: HttpRequest) -> HttpResponse:
        query = request.query
        page_size = _page_size(request, DEFAULT_PAGE_SIZE)
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
        page = self._store.page(
            start,
            page_size,
            ids=ids,
            identifier=request.query_one("credentials_identifier"),
            organization_id=request.query_one("organization_id"),
        )
        has_next = len(page) > page_size and not ids
        page = page[:page_size]
        links = [f'<{self._page_link(request, page_size, None)}>; rel="first"']
        if has_next:
            token = _encode_page_token(page[-1][1] + 1)
            links.append(f'<{self._page_link(request, page_size, token)}>; rel="next"')
        body = [self._identity_json(record.stored(), include) for record, _ in page]
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


#: The credential types Kratos's ``ParseCredentialsType`` knows (``include_credential``).
_DECLASSIFIABLE: Final = (
    "password", "oidc", "saml", "totp", "lookup_secret", "webauthn", "code",
    "link_recovery", "code_recovery", "deviceauthn", "passkey",
)  # fmt: skip


def _declassify(values: Iterable[str]) -> list[str]:
    """``include_credential`` as Kratos's ``getIdentity`` reads it (each value one type).

    An unknown type is 400, naming (as Kratos's message does, by a slip) the types read before it.
    """
    kinds: list[str] = []
    for value in values:
        if value not in _DECLASSIFIABLE:
            raise OryAdminError(
                400, f"Invalid value `[{' '.join(kinds)}]` for parameter `include_credential`."
            )
        kinds.append(value)
    return kinds


def _decode_update(request: HttpRequest) -> dict[str, Any]:
    """A ``PUT`` body as Kratos's ``decoderx.Decode`` reads it (JSON only, not strict).

    Unknown keys are skipped (a plain ``json.Decoder``); an empty body, another content type,
    malformed JSON or a value of the wrong type is 400.
    """
    if not request.body:
        raise OryAdminError(
            400,
            'Unable to decode HTTP Request Body because its HTTP Header "Content-Length" is zero.',
        )
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise OryAdminError(
            400,
            f'HTTP PUT Request used unknown HTTP Header "Content-Type: {content_type}", '
            "only [application/json] are supported.",
        )
    try:
        value = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
        if not isinstance(value, dict):
            raise OryAdminError(
                400, f"json: cannot unmarshal {_json_type(value)} into UpdateIdentityBody"
            )
        _check_shape(value, _UPDATE_IDENTITY, "UpdateIdentityBody", strict=False)
    except ValueError as e:
        raise OryAdminError(400, f"Unable to decode JSON payload: {e}") from None
    except OryAdminError as e:
        raise OryAdminError(400, f"Unable to decode JSON payload: {e.reason}") from None
    return value


def _decode_json_patch(body: bytes) -> list[Any]:
    """A ``PATCH /admin/identities/{id}`` body: a JSON array of operations.

    ``/region`` ones are checked and taken out as Kratos's ``applyRegionPatchOps`` does (the
    twin keeps no region).
    """
    try:
        ops = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
            got = _json_type(
                ops
                if not isinstance(ops, list)
                else next(o for o in ops if not isinstance(o, dict))
            )
            raise ValueError(
                f"json: cannot unmarshal {got} into Go value of type []identity.patchOp"
            )
    except ValueError as e:
        raise OryAdminError(400, "failed to unmarshal JSON patch", str(e)) from None
    rest = []
    for op in ops:
        if op.get("path") != "/region":
            rest.append(op)
            continue
        if op.get("op") not in ("add", "replace"):
            raise OryAdminError(400, f'operation "{op.get("op")}" is not supported on /region')
        if op.get("value") not in _REGIONS:
            raise OryAdminError(400, "The region is not valid.")
    return rest


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


def _encode_page_token(start: int, key: str = "k") -> str:
    raw = json.dumps({key: start, "v": 1}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(
    token: str, key: str = "k", minimum: int = 0, invalid: str = "page_token is invalid"
) -> int:
    """The number :func:`_encode_page_token` put in *token* (400 *invalid* for anything else)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        start = data[key]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise OryAdminError(400, invalid) from None
    if not isinstance(start, int) or start < minimum:
        raise OryAdminError(400, invalid)
    return start


def _page_size(request: HttpRequest, default: int) -> int:
    """The ``page_size`` query parameter as asked (*default* without one; 400 if not a number)."""
    raw = request.query_one("page_size")
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise OryAdminError(400, f"page_size is not a number: {raw!r}") from None


# -- Ory Permissions (Keto): relationships ----------------------------------------------------

MAX_RELATION_PAGE_SIZE: Final = 500
"""Largest ``page_size`` ``GET /relation-tuples`` honours (Keto's paginator caps larger ones).

.. versionadded:: 0.1.0
"""
DEFAULT_RELATION_PAGE_SIZE: Final = 100

#: A stored relationship: namespace, object, relation, subject id, subject set (ns, obj, rel).
_Tuple = tuple[str, str, str, str | None, str | None, str | None, str | None]
_SUBJECT_SET_KEYS: Final = ("namespace", "object", "relation")
#: The query parameters of ``GET /relation-tuples`` that filter, by their place in a _Tuple.
_RELATION_QUERY_KEYS: Final = (
    "namespace",
    "object",
    "relation",
    "subject_id",
    "subject_set.namespace",
    "subject_set.object",
    "subject_set.relation",
)


def _relation_tuple(raw: Any) -> _Tuple:
    """A ``relation_tuple`` of a patch, checked as Keto's decoder and ``Validate`` do."""
    if not isinstance(raw, dict):
        raise OryAdminError(400, "relation_tuple is missing")
    for key in ("namespace", "object", "relation"):
        if not isinstance(raw.get(key, ""), str):
            raise OryAdminError(400, f"json: cannot unmarshal {key} into a string")
    subject_id, subject_set = raw.get("subject_id"), raw.get("subject_set")
    if subject_id is not None and not isinstance(subject_id, str):
        raise OryAdminError(400, "json: cannot unmarshal subject_id into a string")
    if subject_id is not None and subject_set is not None:
        raise OryAdminError(400, "exactly one of subject_set or subject_id has to be provided")
    if subject_id is None and subject_set is None:
        raise OryAdminError(400, "subject is not allowed to be nil")
    ss: tuple[str | None, str | None, str | None] = (None, None, None)
    if subject_set is not None:
        if not isinstance(subject_set, dict) or not all(
            isinstance(subject_set.get(k), str) and subject_set.get(k) for k in _SUBJECT_SET_KEYS
        ):
            raise OryAdminError(
                400, 'incomplete subject, provide "subject_id" or a complete "subject_set.*"'
            )
        ss = (subject_set["namespace"], subject_set["object"], subject_set["relation"])
    namespace, obj, relation = raw.get("namespace"), raw.get("object"), raw.get("relation")
    if not namespace or not obj or not relation:
        raise OryAdminError(
            400, 'incomplete tuple, provide "namespace", "object", "relation", and a subject'
        )
    return (namespace, obj, relation, subject_id, *ss)


def _relation_json(t: _Tuple) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": t[0], "object": t[1], "relation": t[2]}
    if t[3] is not None:
        out["subject_id"] = t[3]
    else:
        out["subject_set"] = {"namespace": t[4], "object": t[5], "relation": t[6]}
    return out


class RelationTupleStore:
    """Ory Permissions' relationships, in memory and thread-safe, as Keto's handlers keep them.

    A patch is one transaction: every delta is checked first (a ``relation_tuple``, a subject
    id or a complete subject set, ``insert`` or ``delete``: 400 otherwise; a namespace not
    configured: 404), then all apply or none. Inserting a relationship that exists changes
    nothing; deleting one that does not exist is no error. Listing pages by key (a
    relationship inserted or deleted meanwhile does not shift the pages).

    Args:
        namespaces: The configured namespaces; None (default) accepts any.

    .. versionadded:: 0.1.0
    """

    def __init__(self, namespaces: Iterable[str] | None = None) -> None:
        self.namespaces: frozenset[str] | None = (
            None if namespaces is None else frozenset(namespaces)
        )
        self._lock = threading.Lock()
        self._tuples: dict[_Tuple, int] = {}
        self._next = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._tuples)

    def clear(self) -> None:
        """Forget every relationship."""
        with self._lock:
            self._tuples.clear()

    def all(self) -> list[dict[str, Any]]:
        """Every relationship as Ory's API shows it, in insertion order."""
        with self._lock:
            return [_relation_json(t) for t in self._tuples]

    def patch(self, deltas: Any) -> None:
        """Apply ``PATCH /admin/relation-tuples``'s deltas (all or none).

        Raises:
            OryAdminError: 400 (a bad delta), 404 (a namespace not configured).
        """
        if not isinstance(deltas, list):
            raise OryAdminError(400, "json: cannot unmarshal the body into []PatchDelta")
        checked: list[tuple[str, _Tuple]] = []
        for delta in deltas:
            if not isinstance(delta, dict):
                raise OryAdminError(400, "json: cannot unmarshal a delta into PatchDelta")
            t = _relation_tuple(delta.get("relation_tuple"))
            action = delta.get("action")
            if action not in ("insert", "delete"):
                raise OryAdminError(400, f"unknown action {action}")
            checked.append((action, t))
        for _, t in checked:
            self._check_namespaces(t[0], t[4])
        with self._lock:  # Keto inserts first, then deletes, in one transaction
            for action, t in checked:
                if action == "insert" and t not in self._tuples:
                    self._tuples[t] = self._next
                    self._next += 1
            for action, t in checked:
                if action == "delete":
                    self._tuples.pop(t, None)

    def _check_namespaces(self, *namespaces: str | None) -> None:
        """404 for a namespace not configured, as Keto's namespace manager answers.

        Keto looks every namespace of a write and of a query up (``GetNamespaceByName`` in
        ``internal/relationtuple/uuid_mapping.go``, ``FromQuery`` and ``FromTuple``).
        """
        if self.namespaces is None:
            return
        for namespace in namespaces:
            if namespace is not None and namespace not in self.namespaces:
                raise OryAdminError(404, f'Unknown namespace with name "{namespace}".', "Not Found")

    def page(
        self, query: Mapping[str, str], page_size: int, after: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Relationships matching *query* with a key above *after*: the page and the next key.

        Raises:
            OryAdminError: 404 for a namespace (or subject set namespace) not configured.
        """
        self._check_namespaces(query.get("namespace"), query.get("subject_set.namespace"))
        wanted = [(i, query[k]) for i, k in enumerate(_RELATION_QUERY_KEYS) if k in query]
        found: list[dict[str, Any]] = []
        last = after
        with self._lock:
            for t, key in self._tuples.items():
                if key <= after or any(t[i] != v for i, v in wanted):
                    continue
                if len(found) == page_size:
                    return found, last
                found.append(_relation_json(t))
                last = key
        return found, None


def _relation_page_token(key: int) -> str:
    return _encode_page_token(key, "r")


def _relation_page_key(token: str) -> int:
    return _decode_page_token(token, "r", minimum=-1, invalid="malformed page token")


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
    parser.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="BUCKET=N",
        help="requests a minute allowed in a bucket, e.g. kratos-admin-low=175 (repeatable)",
    )
    args = parser.parse_args(argv)
    rate_limits: dict[str, int] = {}
    for item in args.rate_limit:
        bucket, _, count = item.partition("=")
        rate_limits[bucket.strip()] = int(count)
    limit = args.max_inflight_imports
    server = OryAdminServer(
        api_key=args.api_key,
        max_inflight_imports=None if limit.lower() == "none" else int(limit),
        faults=OryFaults(
            latency=args.latency,
            rate_limit_every=args.rate_limit_every,
            fail_next=args.fail_next,
            rate_limits=rate_limits,
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
