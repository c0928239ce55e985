"""Which password-hash strings Ory can verify (pure).

Ory rejects a whole import request — up to 1,000 identities — for one
``hashed_password`` it does not recognise, so every hash is checked here,
before anything is sent. The rules follow Kratos' ``hash/hash_comparator.go`` and its
import-time bounds on cost parameters (``hash/hash_limits.go``).
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


# Kratos's import-time bounds on cost parameters (``hash/hash_limits.go``,
# ``ValidateImportedHash``): a hash outside them is refused, whatever its format.
_ARGON2_PARAMS = re.compile(r"\$argon2(?:id|i)\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$")
_PBKDF2_PARAMS = re.compile(r"\$pbkdf2-\w+\$i=(\d+),")
_SCRYPT_PARAMS = re.compile(r"\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$")
_FIRESCRYPT_PARAMS = re.compile(r"\$firescrypt\$ln=(\d+),r=(\d+),p=(\d+)\$")
#: name -> (parameter, highest value) for each bounded parameter, in the pattern's group order
_BOUNDS: dict[str, tuple[re.Pattern[str], tuple[tuple[str, int], ...]]] = {
    "argon2": (_ARGON2_PARAMS, (("m", 1 << 20), ("t", 10), ("p", 16))),
    "pbkdf2": (_PBKDF2_PARAMS, (("i", 10_000_000),)),
    "scrypt": (_SCRYPT_PARAMS, (("ln (N)", 1 << 17), ("r", 8), ("p", 10))),
    "firescrypt": (_FIRESCRYPT_PARAMS, (("ln", 17), ("r", 8), ("p", 10))),
}


def _bounds_problem(name: str, value: str) -> str | None:
    """A cost parameter of *value* outside what Kratos takes at import, named; else None."""
    bounds = _BOUNDS.get(name)
    if bounds is None:
        return None
    pattern, limits = bounds
    m = pattern.match(value)
    if m is None:
        return f"malformed {name} hash"
    for (param, highest), raw in zip(limits, m.groups(), strict=True):
        number = int(raw)
        # (Firebase scrypt's ln may be 0; every other bounded parameter starts at 1)
        lowest = 0 if (name, param) == ("firescrypt", "ln") else 1
        if not lowest <= number <= highest:
            return (
                f"{name} {param}={number} is outside {lowest}-{highest:,}, which Ory accepts "
                "at import"
            )
    return None


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
            if not pattern.fullmatch(value):
                return f"malformed {name} hash"
            return _bounds_problem(name, value)
    return "unrecognised hash format (Ory would reject the whole import batch)"
