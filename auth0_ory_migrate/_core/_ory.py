"""Ory's rules and records that need no SDK (pure): what the adapters and the engine share.

- :func:`normalize_identifier`: how Ory compares identifiers (emails, usernames).
- :func:`error_reason`: the one reader of Ory's error bodies, whole answers and batch items.
- :class:`PreparedBatch` and :func:`batch_request`: a batch import request, serialised once.
- :class:`RemoteIdentity`, :func:`next_page_token` and :func:`iter_pages`: listing identities.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from attrs import field, frozen

from . import _json
from ._redact import Redactor, redact


__all__ = [
    "PreparedBatch",
    "RemoteIdentity",
    "batch_request",
    "error_reason",
    "iter_pages",
    "next_page_token",
    "normalize_identifier",
]


def normalize_identifier(value: str) -> str:
    """Normalise an identifier as Ory does: trimmed, Unicode NFKC, lower-case.

    Two emails (or usernames) that normalise alike are the same identifier to Ory: the
    second identity holding it is refused with 409.

    .. versionadded:: 0.1.0
    """
    if value.isascii():  # NFKC changes no ASCII text: skip it (most identifiers)
        return value.strip().lower()
    return unicodedata.normalize("NFKC", value.strip()).lower()


def error_reason(
    error: object, fallback: str, redactor: Redactor | None = None
) -> tuple[int | None, str]:
    """Ory's error code and reason in an error body, never repeating a secret.

    Ory answers errors as ``{"error": {"code", "status", "reason"?, "message"}}``; a batch
    item's ``error`` is the inner object (sometimes in the envelope as well).

    Args:
        error: The body as JSON text, or decoded: the envelope or the error object.
        fallback: The reason when the body gives none (e.g. the HTTP reason phrase).
        redactor: The secrets of the request the body answers, cut out of the reason
            (by structure: exactly the strings sent); then :func:`redact`'s backstop.

    Returns:
        The error's ``code`` (``None`` when it has none) and its ``reason``, else its
        ``message``, else its ``status``, else *fallback*; redacted.

    .. versionadded:: 0.1.0
    """
    if isinstance(error, (bytes, str)):
        try:
            error = _json.loads(error) if error else None
        except ValueError:
            error = None
    if isinstance(error, Mapping) and isinstance(error.get("error"), Mapping):
        error = error["error"]
    cut = redactor.text if redactor is not None else str
    if not isinstance(error, Mapping):
        return None, redact(cut(fallback))
    code = error.get("code")
    for key in ("reason", "message", "status"):
        if error.get(key):
            return (code if isinstance(code, int) else None), redact(cut(str(error[key])))
    return (code if isinstance(code, int) else None), redact(cut(fallback))


@frozen
class PreparedBatch:
    """A batch request serialised and ready to go (built while another one is in flight).

    Attributes:
        patch_ids: The ``patch_id`` given to each identity, in request order.
        method: ``PATCH``.
        url: The full request URL.
        headers: Request headers (they hold the API key: never shown).
        body: The encoded JSON request body (it holds password hashes: never shown).

    .. versionadded:: 0.1.0
    """

    patch_ids: tuple[str, ...]
    method: str = field(repr=False)
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)


def batch_request(
    bodies: Sequence[Mapping[str, Any]],
    *,
    url: str,
    headers: Mapping[str, str],
    method: str = "PATCH",
) -> PreparedBatch:
    """A ``PATCH /admin/identities`` request creating *bodies*, sent as they are.

    Each identity gets a new random ``patch_id`` (a UUID, as Ory requires), by which the
    answer's items are matched to it (:func:`~auth0_ory_migrate._core._importing.classify_items`).

    Args:
        bodies: ``CreateIdentityBody`` dicts, serialised unchanged.
        url: Where the request goes.
        headers: Its headers.
        method: Its method.

    .. versionadded:: 0.1.0
    """
    patch_ids = tuple(str(uuid.uuid4()) for _ in bodies)
    payload = {
        "identities": [
            {"create": body, "patch_id": pid} for body, pid in zip(bodies, patch_ids, strict=True)
        ]
    }
    return PreparedBatch(patch_ids, method, url, headers, _json.dumps(payload))


@frozen
class RemoteIdentity:
    """What ``verify`` needs to know about an identity in Ory.

    Attributes:
        identity_id: Its Ory id.
        external_id: Its external id (the Auth0 user id for imported users).
        email: Its ``email`` trait, when it has one.

    .. versionadded:: 0.1.0
    """

    identity_id: str
    external_id: str | None
    email: str | None


def next_page_token(link_header: str | None) -> str | None:
    """The ``page_token`` of the ``rel="next"`` link of a ``Link`` header, if any.

    Ory writes relative links (``</admin/identities?page_size=500&page_token=…>``);
    absolute ones work as well.

    .. versionadded:: 0.1.0
    """
    if not link_header:
        return None
    for part in link_header.split(","):
        target, _, params = part.partition(";")
        rels = [p.strip() for p in params.split(";")]
        if not any(r.replace(" ", "") in ('rel="next"', "rel=next") for r in rels):
            continue
        url = target.strip().removeprefix("<").removesuffix(">")
        tokens = parse_qs(urlsplit(url).query).get("page_token")
        return tokens[0] if tokens else None
    return None


def iter_pages(
    list_page: Callable[[str | None], tuple[Sequence[RemoteIdentity], str | None]],
) -> Iterator[RemoteIdentity]:
    """Every identity of the pages *list_page* returns, following each page's next token.

    Stops at the last page, or when a token comes back again (a server looping).

    .. versionadded:: 0.1.0
    """
    token: str | None = None
    seen: set[str] = set()
    while True:
        page, token = list_page(token)
        yield from page
        if token is None or token in seen:
            return
        seen.add(token)
