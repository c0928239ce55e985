"""Cutting secrets out of texts that a server sends back (pure).

Redaction is by structure: an adapter knows which secrets it sent (its API key, the
credential configs of the identities in its request), so it cuts exactly those strings, in
every spelling a server may echo them in (raw, JSON-escaped, URL-encoded, quoted), out of
whatever the server answers before the answer leaves it. :class:`Redactor` does the cutting,
:func:`credential_secrets` and :func:`batch_secrets` find a request's secrets.

:func:`redact` is a last line of defence for texts whose request is not known: it masks only
what is certainly a password hash or an Ory API key, character class by character class,
never the text after it. :class:`ConfidentialIdentity` is an identity Ory answered whose
``repr`` leaves its credentials out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from attrs import field, frozen

from . import _json


__all__ = [
    "REDACTED",
    "ConfidentialIdentity",
    "Redactor",
    "batch_secrets",
    "credential_secrets",
    "redact",
]

REDACTED = "[redacted]"


class ConfidentialIdentity(dict[str, Any]):
    """An identity as Ory answered it, whose ``repr`` leaves its credentials out.

    (Here, not in the Ory adapter: an identity read in another process is unpickled without
    loading ory-client.)
    """

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.items() if k != "credentials"}
        if "credentials" in self:
            shown["credentials"] = REDACTED
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


_SECRETISH = re.compile(
    r"\$(?:2[aby]|argon2id|argon2i|pbkdf2-[a-z0-9]+|scrypt|firescrypt|md5|sha1|sha256|sha512"
    r"|hmac-[a-z0-9]+|md5-crypt|sha256-crypt|sha512-crypt)\$[A-Za-z0-9./+=,$-]*"
    r"|\{S?SHA(?:256|512)?\}[A-Za-z0-9+/=]*"
    r"|\bory_[a-z]+_[A-Za-z0-9._-]+"
    r"|\bBearer\s+[A-Za-z0-9._~+/=-]+",
    re.IGNORECASE,
)

# Keys of a credential config that name who a credential belongs to, not a secret: kept so
# that a clash ("provider:subject exists") stays readable. Every other string is a secret.
_NOT_SECRET = frozenset(
    {"provider", "subject", "organization", "use_auto_link", "use_password_migration_hook"}
)


def redact(text: str) -> str:
    """Mask what is certainly a password hash or an Ory API key in *text* (a backstop).

    Only the hash or key itself is masked (its own characters), never the text after it.
    Adapters cut the exact secrets of their requests with :class:`Redactor` first.

    .. versionadded:: 0.1.0
    """
    return _SECRETISH.sub(REDACTED, text)


def _strings(value: object, key: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if key not in _NOT_SECRET:
            yield value
            if value.startswith("otpauth://"):
                yield from _totp_parts(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v, key)


def _totp_parts(url: str) -> Iterator[str]:
    """The ``secret`` of an ``otpauth://`` URL, as sent and decoded."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return
    for raw in query.split("&"):
        name, _, value = raw.partition("=")
        if name.lower() == "secret" and value:
            yield value
    for name, value in parse_qsl(query, keep_blank_values=False):
        if name.lower() == "secret" and value:
            yield value


def credential_secrets(body: object) -> set[str]:
    """Every secret string in the ``credentials`` of a ``CreateIdentityBody`` *body*.

    That is every string of every credential config (``hashed_password``, ``password``,
    ``totp_url`` and its ``secret``, lookup codes, OIDC tokens, ...) except the ones that
    name the owner (``provider``, ``subject``, ``organization``).

    .. versionadded:: 0.1.0
    """
    if not isinstance(body, Mapping):
        return set()
    return {s for s in _strings(body.get("credentials")) if s}


def batch_secrets(request: object) -> set[str]:
    """Every credential secret of a ``PatchIdentitiesBody`` (decoded, or its JSON bytes).

    .. versionadded:: 0.1.0
    """
    if isinstance(request, (bytes, str)):
        try:
            request = _json.loads(request)
        except ValueError:
            return set()
    found: set[str] = set()
    items = request.get("identities") if isinstance(request, Mapping) else None
    for item in items if isinstance(items, list) else ():
        if isinstance(item, Mapping):
            found |= credential_secrets(item.get("create"))
    return found


def _spellings(secret: str) -> Iterator[str]:
    """*secret* as a server may echo it.

    Raw, JSON-escaped (ASCII or not, Go's HTML-safe escapes), escaped twice, URL-encoded,
    Python-quoted.
    """
    yield secret
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        yield escaped
        yield escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        yield json.dumps(escaped, ensure_ascii=ascii_only)[1:-1]
    yield quote(secret, safe="")
    yield quote_plus(secret, safe="")
    yield quote(secret)
    yield repr(secret)[1:-1]


def _frozen(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


_KEY = 8  # forms at least this long are found through an index of their first characters


@frozen
class Redactor:
    """Cuts a known set of secrets, in every spelling, out of texts and decoded JSON.

    Finding thousands of secrets (a batch of 1,000 identities) in a text costs one dictionary
    look-up per character of the text, not a scan per secret.

    Args:
        secrets: The secret strings (empty ones are ignored).

    .. versionadded:: 0.1.0
    """

    secrets: frozenset[str] = field(converter=_frozen, repr=False)
    _index: dict[str, list[str]] = field(init=False, repr=False, eq=False)
    _short: re.Pattern[str] | None = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        forms = {form for secret in self.secrets if secret for form in _spellings(secret)}
        forms.discard("")
        index: dict[str, list[str]] = {}
        short = []
        for form in sorted(forms, key=len, reverse=True):  # longest first: no partial cuts
            if len(form) >= _KEY:
                index.setdefault(form[:_KEY], []).append(form)
            else:
                short.append(re.escape(form))
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_short", re.compile("|".join(short)) if short else None)

    @classmethod
    def of(cls, *groups: Iterable[str | None]) -> Redactor:
        """A redactor for the secrets of all *groups* (``None`` entries are skipped).

        .. versionadded:: 0.1.0
        """
        return cls(frozenset(s for group in groups for s in group if s))

    def __bool__(self) -> bool:
        return bool(self._index) or self._short is not None

    def text(self, text: str) -> str:
        """*text* with every secret cut out (replaced by ``[redacted]``).

        .. versionadded:: 0.1.0
        """
        index = self._index
        if index:
            parts: list[str] = []
            start = i = 0
            end = len(text) - _KEY
            while i <= end:
                for form in index.get(text[i : i + _KEY], ()):
                    if text.startswith(form, i):
                        parts += (text[start:i], REDACTED)
                        i = start = i + len(form)
                        break
                else:
                    i += 1
            if parts:
                text = "".join(parts) + text[start:]
        if self._short is not None:
            text = self._short.sub(REDACTED, text)
        return text

    def value(self, value: Any) -> Any:
        """A copy of decoded JSON *value* with every secret cut out of its keys and strings.

        .. versionadded:: 0.1.0
        """
        if not self:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value
