"""Auth0 ``custom_password_hash`` objects → hash strings Ory verifies.

Auth0 tenants that once bulk-imported users with a ``custom_password_hash``
(Auth0's import schema: ``algorithm``, ``hash {value, encoding, digest?, key?}``,
``salt {value, encoding, position}?``, ``password {encoding}?``, and for scrypt
``keylen``, ``cost``, ``blockSize``, ``parallelization``) keep those hashes until
the user logs in once. :func:`convert_custom_password_hash` turns such an object
into the string Ory's ``hashed_password`` accepts, or says why Ory cannot check
it, in which case the user needs the password-migration hook.

The formats written are the ones Ory's hash comparator reads (kratos
``hash/hash_comparator.go``):

==========  ===============================================================
argon2      ``$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`` (unpadded base64)
bcrypt      passed through (with a separate salt: the hook, Ory checks the password alone)
pbkdf2      ``$pbkdf2-<sha1|sha256|sha512>$i=…,l=…$<salt>$<hash>`` (unpadded)
md5         ``$md5$<digest>`` or ``$md5$pf=<format>$<salt>$<digest>``
sha*        ``$sha256$pf=<format>$<salt>$<digest>`` (format ``{SALT}{PASSWORD}``…)
ldap        ``{SSHA}``, ``{SSHA256}``, ``{SSHA512}`` as they are; ``{SHA}``,
            ``{SHA256}``, ``{SHA512}``, ``{MD5}``, ``{SMD5}`` rewritten as above
hmac        ``$hmac-<digest>$<base64 of the lower-case hex MAC>$<base64 key>``
scrypt      ``$scrypt$ln=<N>,r=…,p=…$<salt>$<hash>`` (padded base64)
==========  ===============================================================

A salt without ``position`` is a prefix, Auth0's documented default. No
message (error or reason) repeats text of the object other than names the
converter knows: never the hash, the salt, a key or an unknown variant.

Everything else (MD4, salted HMAC, bcrypt with a separate salt, HMAC or PBKDF2
with digests Ory lacks, argon2d, ``{SSHA384}``, passwords hashed in another
encoding than UTF-8…) is returned as "use the migration hook" with the reason.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from ..exceptions import CustomHashError
from ._hashes import ory_hash_problem


__all__ = ["HashConversion", "convert_custom_password_hash"]

#: Digest sizes, in bytes, of the plain hash algorithms Auth0 imports.
_DIGEST_SIZES = {
    "md4": 16,
    "md5": 16,
    "sha1": 20,
    "sha224": 28,
    "sha256": 32,
    "sha384": 48,
    "sha512": 64,
    "ripemd160": 20,
    "whirlpool": 64,
}

#: HMAC digests Ory's ``$hmac-…$`` format knows (its sha224/sha384 are SHA-2 here).
_ORY_HMAC_DIGESTS = frozenset({"md4", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"})

#: Auth0's PBKDF2 digest names (Node's) mapped to the three Ory reads as SHA-1/SHA-2.
#: Ory reads ``pbkdf2-sha224``/``pbkdf2-sha384`` as SHA-3, so those must not be used.
_PBKDF2_DIGESTS = {
    "sha1": "sha1",
    "rsa-sha1": "sha1",
    "rsa-sha1-2": "sha1",
    "sha1withrsaencryption": "sha1",
    "ssl3-sha1": "sha1",
    "sha256": "sha256",
    "rsa-sha256": "sha256",
    "sha256withrsaencryption": "sha256",
    "sha512": "sha512",
    "rsa-sha512": "sha512",
    "sha512withrsaencryption": "sha512",
}

_PBKDF2_DEFAULT_ITERATIONS = 100_000
_PBKDF2_DEFAULT_KEYLEN = 64
_SCRYPT_DEFAULTS = {"cost": 16384, "blockSize": 8, "parallelization": 1}

_FORMAT_PREFIX = b"{SALT}{PASSWORD}"
_FORMAT_SUFFIX = b"{PASSWORD}{SALT}"
_FORMAT_PLAIN = b"{PASSWORD}"

_UTF8_NAMES = frozenset({"utf8", "utf-8"})
_LDAP_RE = re.compile(r"\A\{([A-Za-z0-9-]+)\}(.*)\Z", re.DOTALL)
_PHC_PARAM_RE = re.compile(r"\A[a-z0-9-]+=[^,$]*(,[a-z0-9-]+=[^,$]*)*\Z")


@frozen
class HashConversion:
    """What became of one ``custom_password_hash``.

    Exactly one of :attr:`ory_hash` and :attr:`reason` is set.

    Attributes:
        algorithm: The Auth0 ``algorithm`` (``"pbkdf2"``, ``"md4"``…), for reports.
        ory_hash: The string for Ory's ``credentials.password.config.hashed_password``,
            or ``None`` when Ory cannot verify this hash. Hidden from ``repr``.
        reason: Why the user needs the password-migration hook instead, or ``None``.

    .. versionadded:: 0.1.0
    """

    algorithm: str
    ory_hash: str | None = field(repr=lambda v: "None" if v is None else "'<hidden>'")
    reason: str | None = None

    @property
    def needs_hook(self) -> bool:
        """True when Ory cannot check this hash: import with the migration hook."""
        return self.ory_hash is None


def convert_custom_password_hash(obj: Mapping[str, Any]) -> HashConversion:
    """Convert an Auth0 ``custom_password_hash`` object into a hash Ory verifies.

    The object is read liberally: ``salt`` may sit at the root (Auth0's schema) or
    inside ``hash``; base64 may be standard or URL-safe, padded or not; hex may be
    upper or lower case; a missing ``hash.encoding`` is inferred from the length.

    Args:
        obj: The ``custom_password_hash`` object, as parsed from JSON.

    Returns:
        A :class:`HashConversion` with either the Ory hash string or the reason
        why the password-migration hook is needed.

    Raises:
        CustomHashError: The object is malformed (unknown algorithm, missing or
            undecodable value, a digest of the wrong length, contradictory
            parameters). The message holds no secret.

    .. versionadded:: 0.1.0
    """
    if not isinstance(obj, Mapping):
        raise CustomHashError("custom_password_hash must be a JSON object")
    algorithm = obj.get("algorithm")
    if not isinstance(algorithm, str) or not algorithm:
        raise CustomHashError("custom_password_hash.algorithm is missing")
    algorithm = algorithm.strip().lower()
    converter = _CONVERTERS.get(algorithm)
    if converter is None:
        known = ", ".join(sorted(_CONVERTERS))
        raise CustomHashError(f"unknown custom_password_hash algorithm (want one of {known})")
    hash_obj = obj.get("hash")
    if not isinstance(hash_obj, Mapping):
        raise CustomHashError(f"{algorithm}: custom_password_hash.hash must be an object")
    value = hash_obj.get("value")
    if not isinstance(value, str) or not value.strip():
        raise CustomHashError(f"{algorithm}: hash.value is missing")

    password = obj.get("password")
    if password is not None:
        if not isinstance(password, Mapping):
            raise CustomHashError(f"{algorithm}: password must be an object")
        pw_encoding = password.get("encoding")
        if pw_encoding is not None and str(pw_encoding).strip().lower() not in _UTF8_NAMES:
            return _hook(
                algorithm,
                "the password was hashed in another encoding than UTF-8 (password.encoding); "
                "Ory hashes the UTF-8 bytes of the password",
            )

    result = converter(algorithm, obj, hash_obj, value.strip())
    if isinstance(result, str):
        return _hook(algorithm, result)
    ory_hash = result.decode("ascii")
    problem = ory_hash_problem(ory_hash)
    if problem is not None:
        return _hook(algorithm, f"Ory cannot verify this {algorithm} hash: {problem}")
    return HashConversion(algorithm=algorithm, ory_hash=ory_hash)


# -- helpers --------------------------------------------------------------------------------


class _Hook(str):
    """A converter's answer meaning "use the hook": the string is the reason."""

    __slots__ = ()


def _hook(algorithm: str, reason: str) -> HashConversion:
    return HashConversion(algorithm=algorithm, ory_hash=None, reason=reason)


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def _b64_raw(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _decode_b64(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padded or not."""
    cleaned = "".join(text.split()).replace("-", "+").replace("_", "/").rstrip("=")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise CustomHashError(f"{what} is not valid base64") from None


def _decode_hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        raise CustomHashError(f"{what} is not valid hex") from None


def _decode(value: str, encoding: object, what: str) -> bytes:
    enc = str(encoding).strip().lower()
    if enc == "base64":
        return _decode_b64(value, what)
    if enc == "hex":
        return _decode_hex(value, what)
    if enc in _UTF8_NAMES:
        return value.encode("utf-8")
    raise CustomHashError(f"{what}: unknown encoding (want base64, hex or utf8)")


_HEX_RE = re.compile(r"\A[0-9a-fA-F]+\Z")


def _decode_digest(algorithm: str, hash_obj: Mapping[str, Any], value: str, size: int) -> bytes:
    """Decode a raw digest of *size* bytes given as hex or base64."""
    what = f"{algorithm}: hash.value"
    encoding = hash_obj.get("encoding")
    if encoding is None:
        # Auth0 requires hex or base64 here; infer which from the length.
        if len(value) == 2 * size and _HEX_RE.match(value):
            digest = _decode_hex(value, what)
        else:
            digest = _decode_b64(value, what)
    else:
        enc = str(encoding).strip().lower()
        if enc not in {"hex", "base64"}:
            raise CustomHashError(f"{what}: encoding must be hex or base64")
        digest = _decode(value, enc, what)
    if len(digest) != size:
        raise CustomHashError(f"{what} holds {len(digest)} bytes; {algorithm} gives {size}")
    return digest


def _salt(algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any]) -> tuple[bytes, str]:
    """The salt bytes and position (``""`` when there is no salt; ``prefix`` when not given)."""
    salt = obj.get("salt", hash_obj.get("salt"))
    if salt is None:
        return b"", ""
    if not isinstance(salt, Mapping):
        raise CustomHashError(f"{algorithm}: salt must be an object")
    value = salt.get("value")
    if value is None or value == "":
        return b"", ""
    if not isinstance(value, str):
        raise CustomHashError(f"{algorithm}: salt.value must be a string")
    data = _decode(value, salt.get("encoding") or "utf8", f"{algorithm}: salt.value")
    position = salt.get("position")
    if position is None:
        return data, "prefix"  # Auth0's documented default
    pos = str(position).strip().lower()
    if pos not in {"prefix", "suffix"}:
        raise CustomHashError(f"{algorithm}: salt.position must be prefix or suffix")
    return data, pos


def _int_param(algorithm: str, name: str, raw: object, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise CustomHashError(f"{algorithm}: {name} must be an integer")
    try:
        number = int(raw)
    except ValueError:
        raise CustomHashError(f"{algorithm}: {name} must be an integer") from None
    if number < 1:
        raise CustomHashError(f"{algorithm}: {name} must be positive")
    return number


def _salted_digest(alg: str, digest: bytes, salt: bytes, position: str) -> bytes:
    """Ory's ``$<alg>$pf=<format>$<salt>$<digest>`` (md5 may drop the salt part)."""
    if not salt:
        if alg == "md5":
            return b"$md5$" + _b64(digest)
        fmt = _FORMAT_PLAIN
    else:
        fmt = _FORMAT_PREFIX if position == "prefix" else _FORMAT_SUFFIX
    return b"$%s$pf=%s$%s$%s" % (alg.encode(), _b64(fmt), _b64(salt), _b64(digest))


# -- one converter per algorithm --------------------------------------------------------------
# Each returns the Ory hash as bytes, or a _Hook whose text is the reason.


def _bcrypt(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    if not value.startswith("$2") or not value.isascii():
        raise CustomHashError("bcrypt: hash.value is not a bcrypt hash ($2a$, $2b$ or $2y$)")
    salt, _position = _salt(algorithm, obj, hash_obj)
    if salt:  # bcrypt over salt + password: Ory's bcrypt takes the password alone
        return _Hook("bcrypt with a separate salt: Ory's bcrypt checks the password alone")
    # Whether Ory takes it (variant, cost, length) is ory_hash_problem's call, below.
    return value.encode("ascii")


def _argon2(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    parts = value.split("$")
    if len(parts) not in (5, 6) or parts[0] != "":
        raise CustomHashError("argon2: hash.value is not a PHC string ($argon2id$v=19$m=…)")
    variant = parts[1]
    if variant not in {"argon2id", "argon2i", "argon2d"}:
        raise CustomHashError("argon2: unknown variant (want argon2id, argon2i or argon2d)")
    if len(parts) == 6:
        version_part, params_part, salt_part, hash_part = parts[2:]
        if not version_part.startswith("v=") or not version_part[2:].isdigit():
            raise CustomHashError("argon2: the version field must be v=<number>")
        version = int(version_part[2:])
    else:
        params_part, salt_part, hash_part = parts[2:]
        version = 0x10  # PHC strings without v= are Argon2 1.0
    if variant == "argon2d":
        return _Hook("Ory verifies argon2id and argon2i, not argon2d")
    if version != 0x13:
        return _Hook(f"argon2 version {version}: Ory verifies only v=19")
    params = _phc_params("argon2", params_part)
    if set(params) - {"m", "t", "p"}:
        return _Hook("argon2 with keyid/data parameters: Ory does not read them")
    if not {"m", "t", "p"} <= set(params):
        raise CustomHashError("argon2: the m, t and p parameters are required")
    m = _int_param("argon2", "m", params["m"], 0)
    t = _int_param("argon2", "t", params["t"], 0)
    p = _int_param("argon2", "p", params["p"], 0)
    if p > 255:
        return _Hook("argon2 with p > 255: Ory's argon2 takes at most 255 lanes")
    salt = _decode_b64(salt_part, "argon2: the salt")
    digest = _decode_b64(hash_part, "argon2: the hash")
    if not digest:
        raise CustomHashError("argon2: the hash is empty")
    return b"$%s$v=19$m=%d,t=%d,p=%d$%s$%s" % (
        variant.encode(),
        m,
        t,
        p,
        _b64_raw(salt),
        _b64_raw(digest),
    )


def _phc_params(algorithm: str, text: str) -> dict[str, str]:
    if not text:
        return {}
    if not _PHC_PARAM_RE.match(text):
        raise CustomHashError(f"{algorithm}: malformed parameters in hash.value")
    return dict(item.split("=", 1) for item in text.split(","))


def _pbkdf2(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    parts = value.split("$")
    if parts[0] != "" or len(parts) not in (4, 5) or not parts[1].lower().startswith("pbkdf2-"):
        raise CustomHashError("pbkdf2: hash.value is not a PHC string ($pbkdf2-<digest>$i=…)")
    digest_name = parts[1][len("pbkdf2-") :].lower()
    if len(parts) == 5:
        params = _phc_params("pbkdf2", parts[2])
        salt_part, hash_part = parts[3], parts[4]
    else:
        params = {}
        salt_part, hash_part = parts[2], parts[3]
    if set(params) - {"i", "l"}:
        raise CustomHashError("pbkdf2: unknown parameters (only i and l are read)")
    iterations = _int_param("pbkdf2", "i", params.get("i"), _PBKDF2_DEFAULT_ITERATIONS)
    keylen = _int_param("pbkdf2", "l", params.get("l"), _PBKDF2_DEFAULT_KEYLEN)
    salt = _decode_b64(salt_part, "pbkdf2: the salt")
    digest = _decode_b64(hash_part, "pbkdf2: the hash")
    if len(digest) != keylen:
        raise CustomHashError(f"pbkdf2: l={keylen} but the hash holds {len(digest)} bytes")
    ory_digest = _PBKDF2_DIGESTS.get(digest_name)
    if ory_digest is None:
        # Named only when it is a digest's name (Node's, as Auth0 writes them), never other text.
        known = digest_name.removeprefix("rsa-") in _DIGEST_SIZES
        named = digest_name if known else "another digest"
        return _Hook(f"pbkdf2 with {named}: Ory's pbkdf2 verifies sha1, sha256 and sha512 only")
    if iterations >= 2**32:
        return _Hook("pbkdf2 with 2^32 iterations or more: Ory cannot read that")
    return b"$pbkdf2-%s$i=%d,l=%d$%s$%s" % (
        ory_digest.encode(),
        iterations,
        len(digest),
        _b64_raw(salt),
        _b64_raw(digest),
    )


def _md4(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    _decode_digest(algorithm, hash_obj, value, _DIGEST_SIZES["md4"])
    _salt(algorithm, obj, hash_obj)
    return _Hook("Ory has no MD4 password hash (only HMAC-MD4)")


def _plain_digest(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    digest = _decode_digest(algorithm, hash_obj, value, _DIGEST_SIZES[algorithm])
    salt, position = _salt(algorithm, obj, hash_obj)  # no position: prefix, Auth0's default
    return _salted_digest(algorithm, digest, salt, position)


def _hmac(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    raw_digest = hash_obj.get("digest")
    if not isinstance(raw_digest, str) or not raw_digest.strip():
        raise CustomHashError("hmac: hash.digest is missing")
    digest_name = raw_digest.strip().lower()
    size = _DIGEST_SIZES.get(digest_name)
    if size is None:
        raise CustomHashError("hmac: unknown hash.digest")
    key_obj = hash_obj.get("key")
    if not isinstance(key_obj, Mapping) or not isinstance(key_obj.get("value"), str):
        raise CustomHashError("hmac: hash.key.value is missing")
    key = _decode(key_obj["value"], key_obj.get("encoding") or "utf8", "hmac: hash.key.value")
    mac = _decode_digest("hmac", hash_obj, value, size)
    salt, _position = _salt(algorithm, obj, hash_obj)
    if salt:
        return _Hook("salted HMAC: Ory's HMAC format takes the password alone")
    if digest_name not in _ORY_HMAC_DIGESTS:
        return _Hook(f"HMAC with {digest_name}: Ory's HMAC has no such digest")
    return b"$hmac-%s$%s$%s" % (digest_name.encode(), _b64(mac.hex().encode()), _b64(key))


#: LDAP schemes: name → (hash, salted, digest size).
_LDAP_SCHEMES = {
    "SHA": ("sha1", False, 20),
    "SHA256": ("sha256", False, 32),
    "SHA384": ("sha384", False, 48),
    "SHA512": ("sha512", False, 64),
    "SSHA": ("sha1", True, 20),
    "SSHA256": ("sha256", True, 32),
    "SSHA384": ("sha384", True, 48),
    "SSHA512": ("sha512", True, 64),
    "MD5": ("md5", False, 16),
    "SMD5": ("md5", True, 16),
}


def _ldap(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    match = _LDAP_RE.match(value)
    if match is None:
        raise CustomHashError("ldap: hash.value is not an RFC 2307 {SCHEME}… value")
    scheme = match.group(1).upper()
    if scheme == "CRYPT":
        return _Hook("ldap {CRYPT}: system-dependent, Auth0 does not support it either")
    known = _LDAP_SCHEMES.get(scheme)
    if known is None:
        raise CustomHashError("ldap: unknown {SCHEME} (want one Auth0 imports, e.g. {SSHA})")
    alg, salted, size = known
    decoded = _decode_b64(match.group(2), f"ldap {{{scheme}}}: the value")
    if salted:
        if len(decoded) < size:
            raise CustomHashError(f"ldap {{{scheme}}}: the value is shorter than a {alg} digest")
        digest, salt = decoded[:size], decoded[size:]
    else:
        if len(decoded) != size:
            raise CustomHashError(f"ldap {{{scheme}}}: the value is not a {alg} digest")
        digest, salt = decoded, b""
    if alg == "sha384":
        return _Hook(f"ldap {{{scheme}}}: Ory has no SHA-384 password hash")
    if salt and scheme.startswith("SSHA"):
        # Ory reads {SSHA}, {SSHA256} and {SSHA512} itself (password then salt).
        return b"{%s}%s" % (scheme.encode(), _b64(digest + salt))
    return _salted_digest(alg, digest, salt, "suffix")


def _scrypt(
    algorithm: str, obj: Mapping[str, Any], hash_obj: Mapping[str, Any], value: str
) -> bytes | _Hook:
    encoding = hash_obj.get("encoding")
    if encoding is None:
        digest = (
            _decode_hex(value, "scrypt: hash.value")
            if _HEX_RE.match(value) and len(value) % 2 == 0
            else _decode_b64(value, "scrypt: hash.value")
        )
    else:
        digest = _decode(value, encoding, "scrypt: hash.value")
    if not digest:
        raise CustomHashError("scrypt: hash.value is empty")
    keylen = _int_param("scrypt", "keylen", obj.get("keylen"), len(digest))
    if keylen != len(digest):
        raise CustomHashError(f"scrypt: keylen={keylen} but the hash holds {len(digest)} bytes")
    n = _int_param("scrypt", "cost", obj.get("cost"), _SCRYPT_DEFAULTS["cost"])
    r = _int_param("scrypt", "blockSize", obj.get("blockSize"), _SCRYPT_DEFAULTS["blockSize"])
    p = _int_param(
        "scrypt", "parallelization", obj.get("parallelization"), _SCRYPT_DEFAULTS["parallelization"]
    )
    # The salt is scrypt's own salt input; a position, if any, has no meaning here.
    salt, _position = _salt(algorithm, obj, hash_obj)
    if n < 2 or n & (n - 1):
        return _Hook(f"scrypt with cost {n}: Ory's scrypt needs a power of two above 1")
    if r * p >= 2**30:
        return _Hook("scrypt with blockSize * parallelization >= 2^30: Ory's scrypt refuses it")
    return b"$scrypt$ln=%d,r=%d,p=%d$%s$%s" % (n, r, p, _b64(salt), _b64(digest))


_CONVERTERS = {
    "argon2": _argon2,
    "bcrypt": _bcrypt,
    "hmac": _hmac,
    "ldap": _ldap,
    "md4": _md4,
    "md5": _plain_digest,
    "sha1": _plain_digest,
    "sha256": _plain_digest,
    "sha512": _plain_digest,
    "pbkdf2": _pbkdf2,
    "scrypt": _scrypt,
}
