"""Masking secrets out of texts that a server sends back."""

from __future__ import annotations

import re


__all__ = ["redact"]

_SECRETISH = re.compile(
    r"\$(?:2[aby]|argon2id|argon2i|pbkdf2-[a-z0-9]+|scrypt|firescrypt|md5|sha1|sha256|sha512"
    r"|hmac-[a-z0-9]+|md5-crypt|sha256-crypt|sha512-crypt)\$\S*"
    r"|\{S?SHA(?:256|512)?\}\S*"
    r"|\bory_[a-z]+_[A-Za-z0-9._-]+"
    r"|\bBearer\s+\S+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Mask anything in *text* that looks like a password hash or an Ory API key.

    Error texts from a server can echo parts of the request; they pass through here
    before they reach a log, a report or an exception.

    .. versionadded:: 0.1.0
    """
    return _SECRETISH.sub("[redacted]", text)
