"""Which password-hash strings Ory can verify (pure).

Ory rejects a whole import request — up to 1,000 identities — for one
``hashed_password`` it does not recognise, so every hash is checked here,
before anything is sent. The rules follow Kratos' ``hash/hash_comparator.go``.
"""

from __future__ import annotations

import re


__all__ = ["BCRYPT_MAX_COST", "BCRYPT_MIN_COST", "ory_hash_problem"]

#: The lowest bcrypt cost the bcrypt format allows.
BCRYPT_MIN_COST = 4
#: The highest bcrypt cost current Kratos verifies.
BCRYPT_MAX_COST = 15

_B64 = r"[A-Za-z0-9+/]"
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_FORMATS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    (
        "argon2",
        ("$argon2",),
        re.compile(rf"\$argon2(?:id|i)\$v=\d+\$m=\d+,t=\d+,p=\d+\${_B64}+\${_B64}+"),
    ),
    (
        "pbkdf2",
        ("$pbkdf2-",),
        re.compile(rf"\$pbkdf2-(?:sha1|sha256|sha512)\$i=\d+,l=\d+\${_B64}+\${_B64}+"),
    ),
    ("scrypt", ("$scrypt$",), re.compile(rf"\$scrypt\$ln=\d+,r=\d+,p=\d+\${_B64}+=*\${_B64}+=*")),
    ("firescrypt", ("$firescrypt$",), re.compile(r"\$firescrypt\$\S+")),
    ("md5", ("$md5$",), re.compile(rf"\$md5\$(?:pf={_B64}+=*\${_B64}*=*\$)?{_B64}+=*")),
    (
        "sha",
        ("$sha1$", "$sha256$", "$sha512$"),
        re.compile(rf"\$sha(?:1|256|512)\$pf={_B64}+=*\${_B64}*=*\${_B64}+=*"),
    ),
    ("ssha", ("{SSHA",), re.compile(rf"\{{SSHA(?:256|512)?\}}{_B64}+=*")),
    (
        "hmac",
        ("$hmac-",),
        re.compile(rf"\$hmac-(?:md4|md5|sha1|sha224|sha256|sha384|sha512)\${_B64}+=*\${_B64}+=*"),
    ),
    (
        "crypt",
        ("$md5-crypt$", "$sha256-crypt$", "$sha512-crypt$"),
        re.compile(r"\$(?:md5|sha256|sha512)-crypt\$\S+"),
    ),
)


def ory_hash_problem(value: str) -> str | None:
    """Tell why Ory would reject *value* as ``hashed_password``.

    Args:
        value: A password hash string.

    Returns:
        ``None`` when Ory can verify the hash, else a short reason that never
        repeats the hash.

    .. versionadded:: 0.1.0
    """
    if value.startswith("$2"):
        m = _BCRYPT.fullmatch(value)
        if m is None:
            return "malformed bcrypt hash (want $2a$, $2b$ or $2y$, a 2-digit cost, 53 characters)"
        cost = int(m.group(1))
        if not BCRYPT_MIN_COST <= cost <= BCRYPT_MAX_COST:
            return (
                f"bcrypt cost {cost} is outside {BCRYPT_MIN_COST}-{BCRYPT_MAX_COST}, "
                "which Ory accepts"
            )
        return None
    for name, prefixes, pattern in _FORMATS:
        if value.startswith(prefixes):
            return None if pattern.fullmatch(value) else f"malformed {name} hash"
    return "unrecognised hash format (Ory would reject the whole import batch)"
