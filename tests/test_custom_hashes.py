"""Auth0 ``custom_password_hash`` → Ory hash strings.

Every converted string is checked by :func:`ory_verify`, an implementation of Ory's verification
rule for each format written here from kratos' ``hash/hash_comparator.go`` (not from the code under
test): the right password must pass, a wrong one must fail. The inputs are made the way the legacy
system made them, with hashlib / hmac / bcrypt / argon2-cffi.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from typing import Any

import argon2.low_level
import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_ory_migrate import (
    HashConversion,
    convert_custom_password_hash,
    ory_hash_problem,
)
from auth0_ory_migrate._core._password_hashes import parse_password_hash
from auth0_ory_migrate.exceptions import Auth0OryMigrateError, CustomHashError


PASSWORD = "correct horse ✓ battery"
WRONG = "correct horse ✗ battery"
PW = PASSWORD.encode()


# --- an independent MD4 (RFC 1320); OpenSSL 3 no longer ships it ---------------------------------


def _md4(data: bytes) -> bytes:
    def f(x: int, y: int, z: int) -> int:
        return (x & y) | (~x & z)

    def g(x: int, y: int, z: int) -> int:
        return (x & y) | (x & z) | (y & z)

    def h(x: int, y: int, z: int) -> int:
        return x ^ y ^ z

    def rotl(v: int, s: int) -> int:
        v &= 0xFFFFFFFF
        return ((v << s) | (v >> (32 - s))) & 0xFFFFFFFF

    msg = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off : off + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            a, b, c, d = d, rotl(a + f(b, c, d) + x[k], s), b, c
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            a, b, c, d = d, rotl(a + g(b, c, d) + x[k] + 0x5A827999, s), b, c
        for i in range(16):
            k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
            s = (3, 9, 11, 15)[i % 4]
            a, b, c, d = d, rotl(a + h(b, c, d) + x[k] + 0x6ED9EBA1, s), b, c
        a, b, c, d = (
            (a + aa) & 0xFFFFFFFF,
            (b + bb) & 0xFFFFFFFF,
            (c + cc) & 0xFFFFFFFF,
            (d + dd) & 0xFFFFFFFF,
        )
    return struct.pack("<4I", a, b, c, d)


class _MD4:
    """Just enough of hashlib's interface for :func:`hmac.new`."""

    digest_size = 16
    block_size = 64

    def __init__(self, data: bytes = b"") -> None:
        self._data = bytearray(data)

    def update(self, data: bytes) -> None:
        self._data += data

    def copy(self) -> _MD4:
        return _MD4(bytes(self._data))

    def digest(self) -> bytes:
        return _md4(bytes(self._data))

    def hexdigest(self) -> str:
        return self.digest().hex()


def _digest(alg: str, data: bytes) -> bytes:
    return hashlib.new(alg, data).digest()


def _digestmod(name: str) -> Any:
    return _MD4 if name == "md4" else name


def test_md4_helper_matches_rfc1320_vectors() -> None:
    """The test-only MD4 reproduces RFC 1320's test suite."""
    assert _md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert _md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert _md4(b"message digest").hex() == "d9130a8164549fe818874806e1c7014b"
    assert _md4(b"1234567890" * 8).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"


# --- Ory's verification rules, re-implemented from the Kratos source -----------------------------

_B64_ALPHABET = re.compile(r"\A[A-Za-z0-9+/]*=*\Z")


def _std_b64(text: str, *, padded: bool) -> bytes:
    """Go's base64.StdEncoding / RawStdEncoding with .Strict(): canonical input only."""
    assert _B64_ALPHABET.match(text), "not standard base64"
    assert ("=" in text) is False or padded, "padding in an unpadded field"
    data = base64.b64decode(text + ("" if padded else "=" * (-len(text) % 4)), validate=True)
    expected = base64.b64encode(data).decode()
    assert text == (expected if padded else expected.rstrip("=")), "not canonical base64"
    return data


def _go_replace(template: bytes, salt: bytes, password: bytes) -> bytes:
    """strings.NewReplacer("{SALT}", salt, "{PASSWORD}", password).Replace(template)."""
    return re.sub(
        rb"\{SALT\}|\{PASSWORD\}",
        lambda m: salt if m.group(0) == b"{SALT}" else password,
        template,
    )


_SHA = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def ory_verify(encoded: str, password: str) -> bool:
    """Whether Ory would accept *password* for the stored hash *encoded*."""
    pw = password.encode()
    if re.match(r"\$2[abzy]?\$", encoded):
        return bcrypt.checkpw(pw, encoded.encode())
    if encoded.startswith(("$argon2id$", "$argon2i$")):
        parts = encoded.split("$")
        assert len(parts) == 6
        assert parts[2] == "v=19"
        m = re.fullmatch(r"m=(\d+),t=(\d+),p=(\d+)", parts[3])
        assert m is not None
        salt, want = _std_b64(parts[4], padded=False), _std_b64(parts[5], padded=False)
        got = argon2.low_level.hash_secret_raw(
            pw,
            salt,
            time_cost=int(m.group(2)),
            memory_cost=int(m.group(1)),
            parallelism=int(m.group(3)),
            hash_len=len(want),
            type=argon2.low_level.Type.ID if parts[1] == "argon2id" else argon2.low_level.Type.I,
            version=19,
        )
        return hmac.compare_digest(got, want)
    if re.match(r"\$pbkdf2-sha[0-9]{1,3}\$", encoded):
        parts = encoded.split("$")
        assert len(parts) == 5
        prf = {"sha1": "sha1", "sha224": "sha3_224", "sha256": "sha256", "sha384": "sha3_384"}.get(
            parts[1].split("-", 1)[1], "sha512" if parts[1].endswith("sha512") else "sha256"
        )
        m = re.fullmatch(r"i=(\d+),l=(\d+)", parts[2])
        assert m is not None
        salt, want = _std_b64(parts[3], padded=False), _std_b64(parts[4], padded=False)
        got = hashlib.pbkdf2_hmac(prf, pw, salt, int(m.group(1)), len(want))
        return hmac.compare_digest(got, want)
    if encoded.startswith("$scrypt$"):
        parts = encoded.split("$")
        assert len(parts) == 5
        m = re.fullmatch(r"ln=(\d+),r=(\d+),p=(\d+)", parts[2])
        assert m is not None
        salt, want = _std_b64(parts[3], padded=True), _std_b64(parts[4], padded=True)
        n, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
        got = hashlib.scrypt(pw, salt=salt, n=n, r=r, p=p, dklen=len(want), maxmem=2**27)
        return hmac.compare_digest(got, want)
    ssha = re.match(r"\{(SSHA|SSHA256|SSHA512)\}", encoded)
    if ssha:
        alg, size = {"SSHA": ("sha1", 20), "SSHA256": ("sha256", 32), "SSHA512": ("sha512", 64)}[
            ssha.group(1)
        ]
        decoded = base64.b64decode(encoded[ssha.end() :], validate=True)
        assert len(decoded) >= size + 1
        want, salt = decoded[:size], decoded[size:]
        return hmac.compare_digest(_SHA[alg](pw + salt).digest(), want)
    sha = re.match(r"\$(sha1|sha256|sha512)\$", encoded)
    if sha:
        parts = encoded.split("$")
        assert len(parts) == 5
        assert parts[2].startswith("pf=")
        template = _std_b64(parts[2][3:], padded=True)
        salt, want = _std_b64(parts[3], padded=True), _std_b64(parts[4], padded=True)
        raw = _go_replace(template, salt, pw)
        return hmac.compare_digest(_SHA[sha.group(1)](raw).digest(), want)
    if encoded.startswith("$md5$"):
        parts = encoded.split("$")
        if len(parts) == 3:
            raw = pw
            want = _std_b64(parts[2], padded=True)
        else:
            assert len(parts) == 5
            assert parts[2].startswith("pf=")
            template = _std_b64(parts[2][3:], padded=True)
            salt, want = _std_b64(parts[3], padded=True), _std_b64(parts[4], padded=True)
            raw = _go_replace(template, salt, pw)
        return hmac.compare_digest(_digest("md5", raw), want)
    hm = re.match(r"\$hmac-(md4|md5|sha1|sha224|sha256|sha384|sha512)\$", encoded)
    if hm:
        parts = encoded.split("$")
        assert len(parts) == 4
        want, key = _std_b64(parts[2], padded=True), _std_b64(parts[3], padded=True)
        got = hmac.new(key, pw, _digestmod(hm.group(1))).hexdigest().encode()
        return hmac.compare_digest(got, want)
    raise AssertionError("Ory would not recognise this hash")


def assert_verifies(conversion: HashConversion, password: str = PASSWORD) -> str:
    """The conversion gives an Ory hash that takes *password* and refuses another one."""
    assert conversion.reason is None
    assert conversion.ory_hash is not None
    assert not conversion.needs_hook
    assert ory_hash_problem(conversion.ory_hash) is None
    assert ory_verify(conversion.ory_hash, password)
    assert not ory_verify(conversion.ory_hash, password + "x")
    return conversion.ory_hash


def assert_hook(conversion: HashConversion, reason_part: str) -> None:
    """The conversion says "use the hook" with a reason mentioning *reason_part*."""
    assert conversion.ory_hash is None
    assert conversion.needs_hook
    assert conversion.reason is not None
    assert reason_part in conversion.reason


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64_raw(data: bytes) -> str:
    return b64(data).rstrip("=")


# --- the verifier itself -------------------------------------------------------------------------


def test_verifier_accepts_known_kratos_style_strings() -> None:
    """The test verifier checks strings built straight from the documented formats."""
    salt = b"NaCl"
    digest = _digest("sha256", salt + PW)
    sha = f"$sha256$pf={b64(b'{SALT}{PASSWORD}')}${b64(salt)}${b64(digest)}"
    assert ory_verify(sha, PASSWORD)
    assert not ory_verify(sha, WRONG)
    md5 = "$md5$" + b64(_digest("md5", PW))
    assert ory_verify(md5, PASSWORD)
    assert not ory_verify(md5, WRONG)


# --- bcrypt and argon2 pass through --------------------------------------------------------------


def test_bcrypt_passes_through() -> None:
    """A $2b$ hash is imported as it is."""
    stored = bcrypt.hashpw(PW, bcrypt.gensalt(rounds=4)).decode()
    conv = convert_custom_password_hash({"algorithm": "bcrypt", "hash": {"value": stored}})
    assert assert_verifies(conv) == stored
    assert conv.algorithm == "bcrypt"


def test_bcrypt_2y_passes_through() -> None:
    """A PHP-style $2y$ hash is imported as it is (Ory reads $2y$)."""
    stored = "$2y$" + bcrypt.hashpw(PW, bcrypt.gensalt(rounds=4)).decode()[4:]
    conv = convert_custom_password_hash(
        {"algorithm": "bcrypt", "hash": {"value": stored, "encoding": "utf8"}}
    )
    assert assert_verifies(conv) == stored


def test_bcrypt_cost_above_kratos_limit_needs_the_hook() -> None:
    """A bcrypt cost Ory refuses sends the user to the hook, with the reason."""
    stored = bcrypt.hashpw(PW, bcrypt.gensalt(rounds=4)).decode()
    too_costly = stored[:4] + "16" + stored[6:]
    assert_hook(
        convert_custom_password_hash({"algorithm": "bcrypt", "hash": {"value": too_costly}}),
        "cost 16",
    )


def test_bcrypt_that_is_not_bcrypt_is_an_error() -> None:
    """A bcrypt object whose value is no bcrypt hash is malformed."""
    with pytest.raises(CustomHashError, match="not a bcrypt hash"):
        convert_custom_password_hash({"algorithm": "bcrypt", "hash": {"value": "plain"}})


@pytest.mark.parametrize("variant", [argon2.low_level.Type.ID, argon2.low_level.Type.I])
def test_argon2_passes_through(variant: argon2.low_level.Type) -> None:
    """argon2id and argon2i PHC strings are imported as they are."""
    stored = argon2.low_level.hash_secret(
        PW, b"saltsaltsalt", time_cost=1, memory_cost=8, parallelism=1, hash_len=32, type=variant
    ).decode()
    conv = convert_custom_password_hash({"algorithm": "argon2", "hash": {"value": stored}})
    assert assert_verifies(conv) == stored


def test_argon2_padded_base64_is_reencoded() -> None:
    """Padded salt/hash fields are rewritten unpadded, as Ory's strict decoder wants."""
    salt = b"0123456789abcdef!"
    raw = argon2.low_level.hash_secret_raw(
        PW,
        salt,
        time_cost=2,
        memory_cost=16,
        parallelism=2,
        hash_len=20,
        type=argon2.low_level.Type.ID,
    )
    stored = f"$argon2id$v=19$t=2,p=2,m=16${b64(salt)}${b64(raw)}"
    ory_hash = assert_verifies(
        convert_custom_password_hash({"algorithm": "argon2", "hash": {"value": stored}})
    )
    assert ory_hash == f"$argon2id$v=19$m=16,t=2,p=2${b64_raw(salt)}${b64_raw(raw)}"


def test_argon2d_needs_the_hook() -> None:
    """Ory does not verify argon2d."""
    stored = argon2.low_level.hash_secret(
        PW,
        b"saltsaltsalt",
        time_cost=1,
        memory_cost=8,
        parallelism=1,
        hash_len=32,
        type=argon2.low_level.Type.D,
    ).decode()
    assert_hook(
        convert_custom_password_hash({"algorithm": "argon2", "hash": {"value": stored}}),
        "argon2d",
    )


def test_argon2_version_16_needs_the_hook() -> None:
    """An Argon2 1.0 string (no v=, or v=16) cannot be verified by Ory."""
    raw = b64_raw(b"x" * 32)
    for stored in (f"$argon2i$m=8,t=1,p=1${raw}${raw}", f"$argon2i$v=16$m=8,t=1,p=1${raw}${raw}"):
        assert_hook(
            convert_custom_password_hash({"algorithm": "argon2", "hash": {"value": stored}}),
            "version 16",
        )


def test_argon2_with_associated_data_needs_the_hook() -> None:
    """Ory ignores argon2's data/keyid parameters, so such hashes go to the hook."""
    raw = b64_raw(b"x" * 32)
    stored = f"$argon2id$v=19$m=8,t=1,p=1,data=YWJj${raw}${raw}"
    assert_hook(
        convert_custom_password_hash({"algorithm": "argon2", "hash": {"value": stored}}), "data"
    )


@pytest.mark.parametrize(
    "value",
    ["argon2id$v=19", "$argon2x$v=19$m=1,t=1,p=1$aaaa$aaaa", "$argon2id$v=19$m=8,t=1$aaaa$aaaa"],
)
def test_malformed_argon2_is_an_error(value: str) -> None:
    """A broken argon2 PHC string raises CustomHashError."""
    with pytest.raises(CustomHashError, match="argon2"):
        convert_custom_password_hash({"algorithm": "argon2", "hash": {"value": value}})


# --- pbkdf2 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth0_digest", "hashlib_digest", "ory_digest"),
    [
        ("sha1", "sha1", "sha1"),
        ("sha256", "sha256", "sha256"),
        ("sha512", "sha512", "sha512"),
        ("RSA-SHA256", "sha256", "sha256"),
        ("sha512WithRSAEncryption", "sha512", "sha512"),
    ],
)
def test_pbkdf2_is_reencoded(auth0_digest: str, hashlib_digest: str, ory_digest: str) -> None:
    """Auth0's PHC pbkdf2 becomes $pbkdf2-<sha1|sha256|sha512>$i=…,l=…$salt$hash."""
    salt = b"\x00salt\xffpepper"
    raw = hashlib.pbkdf2_hmac(hashlib_digest, PW, salt, 1000, 32)
    stored = f"$pbkdf2-{auth0_digest}$i=1000,l=32${b64_raw(salt)}${b64_raw(raw)}"
    ory_hash = assert_verifies(
        convert_custom_password_hash(
            {"algorithm": "pbkdf2", "hash": {"value": stored, "encoding": "utf8"}}
        )
    )
    assert ory_hash == f"$pbkdf2-{ory_digest}$i=1000,l=32${b64_raw(salt)}${b64_raw(raw)}"


def test_pbkdf2_defaults_and_padded_fields() -> None:
    """Without i and l Auth0's defaults (100000, 64) apply; padded base64 is accepted."""
    salt = b"salty"
    raw = hashlib.pbkdf2_hmac("sha512", PW, salt, 100_000, 64)
    stored = f"$pbkdf2-sha512${b64(salt)}${b64(raw)}"
    ory_hash = assert_verifies(
        convert_custom_password_hash({"algorithm": "pbkdf2", "hash": {"value": stored}})
    )
    assert ory_hash.startswith("$pbkdf2-sha512$i=100000,l=64$")


@pytest.mark.parametrize("digest", ["md5", "sha224", "sha384", "RSA-MD4", "whirlpool"])
def test_pbkdf2_with_digests_ory_lacks_needs_the_hook(digest: str) -> None:
    """pbkdf2 over digests Ory cannot use (its sha224/384 are SHA-3) goes to the hook."""
    stored = f"$pbkdf2-{digest}$i=1000,l=16${b64_raw(b'salt')}${b64_raw(b'k' * 16)}"
    assert_hook(
        convert_custom_password_hash({"algorithm": "pbkdf2", "hash": {"value": stored}}),
        digest.lower(),
    )


def test_pbkdf2_keylen_contradicting_the_hash_is_an_error() -> None:
    """l= that does not match the hash length is a malformed record."""
    stored = f"$pbkdf2-sha256$i=1000,l=64${b64_raw(b'salt')}${b64_raw(b'k' * 32)}"
    with pytest.raises(CustomHashError, match="l=64"):
        convert_custom_password_hash({"algorithm": "pbkdf2", "hash": {"value": stored}})


# --- md5 / sha* ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["md5", "sha1", "sha256", "sha512"])
@pytest.mark.parametrize("position", ["prefix", "suffix"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_salted_digests(alg: str, position: str, encoding: str) -> None:
    """Salted md5/sha* become Ory's $<alg>$pf=…$salt$digest with the right format."""
    salt = b"abc123"
    raw = hashlib.new(alg, salt + PW if position == "prefix" else PW + salt).digest()
    value = raw.hex() if encoding == "hex" else b64(raw)
    conv = convert_custom_password_hash(
        {
            "algorithm": alg,
            "hash": {"value": value, "encoding": encoding},
            "salt": {"value": "abc123", "position": position},
        }
    )
    ory_hash = assert_verifies(conv)
    fmt = "{SALT}{PASSWORD}" if position == "prefix" else "{PASSWORD}{SALT}"
    assert ory_hash.startswith(f"${alg}$pf={b64(fmt.encode())}$")


@pytest.mark.parametrize("alg", ["sha1", "sha256", "sha512"])
def test_unsalted_sha(alg: str) -> None:
    """Unsalted sha* use the format {PASSWORD} and an empty salt."""
    raw = hashlib.new(alg, PW).digest()
    ory_hash = assert_verifies(
        convert_custom_password_hash(
            {"algorithm": alg, "hash": {"value": raw.hex().upper(), "encoding": "hex"}}
        )
    )
    assert ory_hash == f"${alg}$pf={b64(b'{PASSWORD}')}$${b64(raw)}"


def test_unsalted_md5_uses_the_short_form() -> None:
    """Unsalted md5 becomes $md5$<base64 digest>."""
    raw = _digest("md5", PW)
    ory_hash = assert_verifies(
        convert_custom_password_hash({"algorithm": "md5", "hash": {"value": raw.hex()}})
    )
    assert ory_hash == f"$md5${b64(raw)}"


@pytest.mark.parametrize("salt_encoding", ["hex", "base64", "utf8"])
def test_salt_encodings(salt_encoding: str) -> None:
    """The salt is decoded by its encoding before it goes into Ory's hash."""
    salt = "sälz".encode() if salt_encoding == "utf8" else b"\x01\x02pepper\xfe"
    given_salt = {"hex": salt.hex(), "base64": b64(salt), "utf8": "sälz"}[salt_encoding]
    raw = _digest("sha256", PW + salt)
    assert_verifies(
        convert_custom_password_hash(
            {
                "algorithm": "sha256",
                "hash": {"value": b64(raw), "encoding": "base64"},
                "salt": {"value": given_salt, "encoding": salt_encoding, "position": "suffix"},
            }
        )
    )


def test_salt_inside_hash_object_and_url_safe_base64() -> None:
    """A salt under hash.salt (older docs) and URL-safe unpadded base64 are read too."""
    salt = b"\xfb\xff\xfe"
    raw = _digest("sha1", salt + PW)
    conv = convert_custom_password_hash(
        {
            "algorithm": "sha1",
            "hash": {
                "value": base64.urlsafe_b64encode(raw).decode().rstrip("="),
                "encoding": "base64",
                "salt": {
                    "value": base64.urlsafe_b64encode(salt).decode(),
                    "encoding": "base64",
                    "position": "prefix",
                },
            },
        }
    )
    assert_verifies(conv)


def test_salt_holding_a_placeholder_is_not_expanded() -> None:
    """A salt that contains "{PASSWORD}" is inserted literally, as Go's Replacer does."""
    salt = b"{PASSWORD}"
    raw = _digest("sha512", salt + PW)
    assert_verifies(
        convert_custom_password_hash(
            {
                "algorithm": "sha512",
                "hash": {"value": raw.hex(), "encoding": "hex"},
                "salt": {"value": "{PASSWORD}", "encoding": "utf8", "position": "prefix"},
            }
        )
    )


def test_missing_hash_encoding_is_inferred() -> None:
    """Without hash.encoding, a digest-sized hex string is hex, anything else base64."""
    raw = _digest("sha256", PW)
    for value in (raw.hex(), b64(raw)):
        assert_verifies(
            convert_custom_password_hash({"algorithm": "sha256", "hash": {"value": value}})
        )


def test_md4_needs_the_hook() -> None:
    """Ory has no MD4 hash: the user goes to the hook."""
    value = _md4(PW).hex()
    assert_hook(
        convert_custom_password_hash(
            {"algorithm": "md4", "hash": {"value": value, "encoding": "hex"}}
        ),
        "MD4",
    )


@pytest.mark.parametrize("encoding", ["utf16le", "ucs2", "latin1", "ascii"])
def test_other_password_encodings_need_the_hook(encoding: str) -> None:
    """Hashes over non-UTF-8 password bytes cannot be checked by Ory."""
    raw = _digest("sha1", PASSWORD.encode("utf-16-le"))
    assert_hook(
        convert_custom_password_hash(
            {
                "algorithm": "sha1",
                "hash": {"value": raw.hex(), "encoding": "hex"},
                "password": {"encoding": encoding},
            }
        ),
        "UTF-8",
    )


def test_utf8_password_encoding_is_fine() -> None:
    """password.encoding utf8 (any spelling) is what Ory does."""
    raw = _digest("sha1", PW)
    assert_verifies(
        convert_custom_password_hash(
            {
                "algorithm": "sha1",
                "hash": {"value": raw.hex(), "encoding": "hex"},
                "password": {"encoding": "UTF-8"},
            }
        )
    )


# --- hmac ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("digest", ["md4", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("key_encoding", ["utf8", "hex", "base64"])
def test_hmac(digest: str, key_encoding: str) -> None:
    """HMAC becomes $hmac-<digest>$<base64 of the hex MAC>$<base64 key>."""
    key = b"k3y\xff\x00" if key_encoding != "utf8" else b"shh-secret"
    key_value = {"utf8": key.decode("utf-8", "replace"), "hex": key.hex(), "base64": b64(key)}[
        key_encoding
    ]
    mac = hmac.new(key, PW, _digestmod(digest)).digest()
    ory_hash = assert_verifies(
        convert_custom_password_hash(
            {
                "algorithm": "hmac",
                "hash": {
                    "value": b64(mac),
                    "encoding": "base64",
                    "digest": digest,
                    "key": {"value": key_value, "encoding": key_encoding},
                },
            }
        )
    )
    assert ory_hash.startswith(f"$hmac-{digest}$")


def test_hmac_with_hex_value_and_default_key_encoding() -> None:
    """A hex MAC and a key without encoding (utf8 by default) convert."""
    mac = hmac.new(b"pepper", PW, "sha256").hexdigest().upper()
    assert_verifies(
        convert_custom_password_hash(
            {
                "algorithm": "hmac",
                "hash": {
                    "value": mac,
                    "encoding": "hex",
                    "digest": "SHA256",
                    "key": {"value": "pepper"},
                },
            }
        )
    )


def test_salted_hmac_needs_the_hook() -> None:
    """Ory's HMAC takes the password alone, so a salted HMAC goes to the hook."""
    assert_hook(
        convert_custom_password_hash(
            {
                "algorithm": "hmac",
                "hash": {
                    "value": "aa" * 32,
                    "encoding": "hex",
                    "digest": "sha256",
                    "key": {"value": "k"},
                },
                "salt": {"value": "s", "position": "prefix"},
            }
        ),
        "salted HMAC",
    )


@pytest.mark.parametrize(("digest", "size"), [("ripemd160", 20), ("whirlpool", 64)])
def test_hmac_with_digests_ory_lacks_needs_the_hook(digest: str, size: int) -> None:
    """HMAC-RIPEMD160 and HMAC-Whirlpool go to the hook."""
    assert_hook(
        convert_custom_password_hash(
            {
                "algorithm": "hmac",
                "hash": {
                    "value": "ab" * size,
                    "encoding": "hex",
                    "digest": digest,
                    "key": {"value": "k"},
                },
            }
        ),
        digest,
    )


# --- ldap ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "alg"), [("SSHA", "sha1"), ("SSHA256", "sha256"), ("SSHA512", "sha512")]
)
def test_ldap_ssha_passes_through(scheme: str, alg: str) -> None:
    """{SSHA}, {SSHA256} and {SSHA512} are imported as they are."""
    salt = b"\x10\x20\x30\x40"
    stored = f"{{{scheme}}}" + b64(hashlib.new(alg, PW + salt).digest() + salt)
    conv = convert_custom_password_hash(
        {"algorithm": "ldap", "hash": {"value": stored, "encoding": "utf8"}}
    )
    assert assert_verifies(conv) == stored


def test_ldap_lower_case_scheme_is_normalised() -> None:
    """RFC 2307 schemes are case-insensitive; Ory wants {SSHA} in upper case."""
    salt = b"salt"
    stored = "{ssha}" + b64(_digest("sha1", PW + salt) + salt)
    assert assert_verifies(
        convert_custom_password_hash({"algorithm": "ldap", "hash": {"value": stored}})
    ).startswith("{SSHA}")


@pytest.mark.parametrize(
    ("scheme", "alg"), [("SHA", "sha1"), ("SHA256", "sha256"), ("SHA512", "sha512"), ("MD5", "md5")]
)
def test_ldap_unsalted_schemes_are_rewritten(scheme: str, alg: str) -> None:
    """{SHA}, {SHA256}, {SHA512} and {MD5}, which Ory does not read, are rewritten."""
    stored = f"{{{scheme}}}" + b64(hashlib.new(alg, PW).digest())
    ory_hash = assert_verifies(
        convert_custom_password_hash({"algorithm": "ldap", "hash": {"value": stored}})
    )
    assert ory_hash.startswith(f"${alg}$")


def test_ldap_smd5_is_rewritten() -> None:
    """{SMD5} (md5 of password then salt) becomes Ory's salted md5."""
    salt = b"\x00\x01\x02"
    stored = "{SMD5}" + b64(_digest("md5", PW + salt) + salt)
    ory_hash = assert_verifies(
        convert_custom_password_hash({"algorithm": "ldap", "hash": {"value": stored}})
    )
    assert ory_hash.startswith(f"$md5$pf={b64(b'{PASSWORD}{SALT}')}$")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("{SSHA384}" + b64(b"x" * 52), "SHA-384"),
        ("{SHA384}" + b64(b"x" * 48), "SHA-384"),
        ("{CRYPT}$1$abc$def", "CRYPT"),
    ],
)
def test_ldap_schemes_ory_lacks_need_the_hook(value: str, reason: str) -> None:
    """{SSHA384}, {SHA384} and {CRYPT} go to the hook."""
    assert_hook(
        convert_custom_password_hash({"algorithm": "ldap", "hash": {"value": value}}), reason
    )


@pytest.mark.parametrize("value", ["SSHA}abc", "{NOPE}abc", "{SHA}" + b64(b"short"), "{SSHA}!!!"])
def test_malformed_ldap_is_an_error(value: str) -> None:
    """Broken LDAP values raise CustomHashError."""
    with pytest.raises(CustomHashError, match="ldap"):
        convert_custom_password_hash({"algorithm": "ldap", "hash": {"value": value}})


# --- scrypt --------------------------------------------------------------------------------------


def test_scrypt_is_reencoded() -> None:
    """Auth0 scrypt becomes $scrypt$ln=<N>,r=…,p=…$salt$hash with padded base64."""
    salt = b"sodium chloride"
    raw = hashlib.scrypt(PW, salt=salt, n=1024, r=4, p=2, dklen=40)
    ory_hash = assert_verifies(
        convert_custom_password_hash(
            {
                "algorithm": "scrypt",
                "hash": {"value": raw.hex(), "encoding": "hex"},
                "salt": {"value": b64(salt), "encoding": "base64"},
                "keylen": 40,
                "cost": 1024,
                "blockSize": 4,
                "parallelization": 2,
            }
        )
    )
    assert ory_hash == f"$scrypt$ln=1024,r=4,p=2${b64(salt)}${b64(raw)}"


def test_scrypt_defaults() -> None:
    """Without parameters Auth0's scrypt defaults (N=16384, r=8, p=1) apply."""
    raw = hashlib.scrypt(PW, salt=b"s", n=16384, r=8, p=1, dklen=32, maxmem=2**26)
    assert_verifies(
        convert_custom_password_hash(
            {
                "algorithm": "scrypt",
                "hash": {"value": b64(raw), "encoding": "base64"},
                "salt": {"value": "s"},
            }
        )
    )


def test_scrypt_cost_not_a_power_of_two_needs_the_hook() -> None:
    """Ory's scrypt needs N to be a power of two."""
    assert_hook(
        convert_custom_password_hash(
            {"algorithm": "scrypt", "hash": {"value": "ab" * 32, "encoding": "hex"}, "cost": 1000}
        ),
        "power of two",
    )


def test_scrypt_keylen_contradicting_the_hash_is_an_error() -> None:
    """A keylen that does not match the hash length is a malformed record."""
    with pytest.raises(CustomHashError, match="keylen=64"):
        convert_custom_password_hash(
            {"algorithm": "scrypt", "hash": {"value": "ab" * 32, "encoding": "hex"}, "keylen": 64}
        )


# --- malformed objects ---------------------------------------------------------------------------

SECRET = "c2VjcmV0LXNhbHQtdmFsdWU"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("sha1", "must be a JSON object"),
        ({"hash": {"value": "aa"}}, "algorithm is missing"),
        ({"algorithm": "rot13", "hash": {"value": "aa"}}, "unknown custom_password_hash algorithm"),
        ({"algorithm": "sha1"}, "hash must be an object"),
        ({"algorithm": "sha1", "hash": {"value": ""}}, "hash.value is missing"),
        (
            {"algorithm": "sha1", "hash": {"value": SECRET + "zz", "encoding": "hex"}},
            "not valid hex",
        ),
        (
            {"algorithm": "sha1", "hash": {"value": SECRET + "!", "encoding": "base64"}},
            "not valid base64",
        ),
        ({"algorithm": "sha1", "hash": {"value": "ab" * 16, "encoding": "hex"}}, "holds 16 bytes"),
        ({"algorithm": "sha1", "hash": {"value": "ab" * 20, "encoding": "utf8"}}, "hex or base64"),
        (
            {
                "algorithm": "sha1",
                "hash": {"value": "ab" * 20, "encoding": "hex"},
                "salt": {"value": SECRET, "position": "middle"},
            },
            "prefix or suffix",
        ),
        (
            {
                "algorithm": "sha1",
                "hash": {"value": "ab" * 20, "encoding": "hex"},
                "salt": {"value": SECRET, "encoding": "rot13", "position": "prefix"},
            },
            "unknown encoding",
        ),
        (
            {
                "algorithm": "hmac",
                "hash": {"value": "ab" * 20, "encoding": "hex", "digest": "sha1"},
            },
            "key.value is missing",
        ),
        (
            {
                "algorithm": "hmac",
                "hash": {"value": "ab" * 20, "encoding": "hex", "key": {"value": SECRET}},
            },
            "digest is missing",
        ),
        (
            {
                "algorithm": "hmac",
                "hash": {
                    "value": "ab" * 20,
                    "encoding": "hex",
                    "digest": "crc32",
                    "key": {"value": SECRET},
                },
            },
            "unknown hash.digest",
        ),
        ({"algorithm": "pbkdf2", "hash": {"value": "pbkdf2-sha1$i=1$aa$aa"}}, "not a PHC string"),
        (
            {"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha1$i=x,l=1$YQ$YQ"}},
            "must be an integer",
        ),
        (
            {"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha1$c=1$YQ$YQ"}},
            "unknown parameters",
        ),
        ({"algorithm": "scrypt", "hash": {"value": "ab" * 8}, "cost": True}, "must be an integer"),
        (
            {"algorithm": "sha1", "hash": {"value": "ab" * 20}, "password": "utf8"},
            "password must be",
        ),
    ],
)
def test_malformed_objects_raise_without_secrets(obj: Any, message: str) -> None:
    """Malformed objects raise CustomHashError (a ValueError) naming the problem, not the secret."""
    with pytest.raises(CustomHashError, match=re.escape(message)) as info:
        convert_custom_password_hash(obj)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, Auth0OryMigrateError)
    assert SECRET not in str(info.value)


def test_repr_hides_the_hash() -> None:
    """HashConversion's repr never shows the hash."""
    raw = _digest("md5", PW)
    conv = convert_custom_password_hash({"algorithm": "md5", "hash": {"value": raw.hex()}})
    assert conv.ory_hash is not None
    assert conv.ory_hash not in repr(conv)
    assert b64(raw) not in repr(conv)
    assert "<hidden>" in repr(conv)
    assert "ory_hash=None" in repr(
        convert_custom_password_hash({"algorithm": "md4", "hash": {"value": "aa" * 16}})
    )


def test_algorithm_names_are_case_insensitive() -> None:
    """Algorithm names such as "SHA256" and " sha256 " are read as sha256."""
    raw = _digest("sha256", PW)
    conv = convert_custom_password_hash({"algorithm": " SHA256 ", "hash": {"value": raw.hex()}})
    assert conv.algorithm == "sha256"
    assert_verifies(conv)


# --- properties ----------------------------------------------------------------------------------

passwords = st.text(min_size=0, max_size=24)


@settings(max_examples=60, deadline=None)
@given(
    password=passwords,
    alg=st.sampled_from(["md5", "sha1", "sha256", "sha512"]),
    salt=st.binary(min_size=0, max_size=24),
    position=st.sampled_from(["prefix", "suffix"]),
    hash_encoding=st.sampled_from(["hex", "base64"]),
    salt_encoding=st.sampled_from(["hex", "base64"]),
)
def test_property_salted_digests_round_trip(
    *, password: str, alg: str, salt: bytes, position: str, hash_encoding: str, salt_encoding: str
) -> None:
    """Any salt, position, encodings and password: Ory's rule accepts exactly that password."""
    pw = password.encode()
    raw = hashlib.new(alg, salt + pw if position == "prefix" else pw + salt).digest()
    obj: dict[str, Any] = {
        "algorithm": alg,
        "hash": {
            "value": raw.hex() if hash_encoding == "hex" else b64(raw),
            "encoding": hash_encoding,
        },
    }
    if salt:
        obj["salt"] = {
            "value": salt.hex() if salt_encoding == "hex" else b64(salt),
            "encoding": salt_encoding,
            "position": position,
        }
    assert_verifies(convert_custom_password_hash(obj), password)


@settings(max_examples=60, deadline=None)
@given(
    password=passwords,
    digest=st.sampled_from(["md4", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
    key=st.binary(min_size=1, max_size=70),
)
def test_property_hmac_round_trips(password: str, digest: str, key: bytes) -> None:
    """Any key and digest Ory knows: the converted HMAC verifies exactly that password."""
    mac = hmac.new(key, password.encode(), _digestmod(digest)).digest()
    conv = convert_custom_password_hash(
        {
            "algorithm": "hmac",
            "hash": {
                "value": mac.hex(),
                "encoding": "hex",
                "digest": digest,
                "key": {"value": b64(key), "encoding": "base64"},
            },
        }
    )
    assert_verifies(conv, password)


@settings(max_examples=30, deadline=None)
@given(
    password=passwords,
    digest=st.sampled_from(["sha1", "sha256", "sha512"]),
    salt=st.binary(min_size=1, max_size=32),
    iterations=st.integers(min_value=1, max_value=40),
    keylen=st.integers(min_value=8, max_value=80),  # shorter keys collide by chance
)
def test_property_pbkdf2_round_trips(
    *, password: str, digest: str, salt: bytes, iterations: int, keylen: int
) -> None:
    """Any salt, iteration count and key length: the converted pbkdf2 verifies that password."""
    raw = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations, keylen)
    stored = f"$pbkdf2-{digest}$i={iterations},l={keylen}${b64_raw(salt)}${b64_raw(raw)}"
    assert_verifies(
        convert_custom_password_hash({"algorithm": "pbkdf2", "hash": {"value": stored}}), password
    )


@settings(max_examples=40, deadline=None)
@given(
    password=passwords,
    scheme=st.sampled_from(["SSHA", "SSHA256", "SSHA512", "SMD5"]),
    salt=st.binary(min_size=0, max_size=16),
)
def test_property_ldap_salted_round_trips(password: str, scheme: str, salt: bytes) -> None:
    """Any salt (empty too): the converted LDAP value verifies exactly that password."""
    alg = {"SSHA": "sha1", "SSHA256": "sha256", "SSHA512": "sha512", "SMD5": "md5"}[scheme]
    stored = f"{{{scheme}}}" + b64(hashlib.new(alg, password.encode() + salt).digest() + salt)
    assert_verifies(
        convert_custom_password_hash({"algorithm": "ldap", "hash": {"value": stored}}), password
    )


# --- issue 11: Auth0's defaults, bcrypt with a salt, no secret in any message --------------------


@pytest.mark.parametrize("alg", ["md5", "sha1", "sha256", "sha512"])
def test_salt_without_position_means_prefix(alg: str) -> None:
    """A salt without position is a prefix (Auth0's documented default), not an error."""
    salt = b"NaCl-pepper"
    conv = convert_custom_password_hash(
        {
            "algorithm": alg,
            "hash": {"value": _digest(alg, salt + PW).hex(), "encoding": "hex"},
            "salt": {"value": salt.decode()},  # no position (issue 11: was "missing")
        }
    )
    assert_verifies(conv)
    assert (
        conv.ory_hash
        == convert_custom_password_hash(
            {
                "algorithm": alg,
                "hash": {"value": _digest(alg, salt + PW).hex(), "encoding": "hex"},
                "salt": {"value": salt.decode(), "position": "prefix"},
            }
        ).ory_hash
    )


def test_bcrypt_with_a_salt_needs_the_hook() -> None:
    """Bcrypt over a salted password cannot be checked by Ory: the hook, with the reason."""
    stored = bcrypt.hashpw(b"pepper" + PW, bcrypt.gensalt(rounds=4)).decode()
    for position in ({}, {"position": "prefix"}, {"position": "suffix"}):
        conv = convert_custom_password_hash(
            {
                "algorithm": "bcrypt",
                "hash": {"value": stored},
                "salt": {"value": SECRET, **position},
            }
        )
        assert_hook(conv, "salt")
        assert SECRET not in (conv.reason or "")
        assert stored not in (conv.reason or "")
    # an empty salt is no salt: passed through as ever
    plain = bcrypt.hashpw(PW, bcrypt.gensalt(rounds=4)).decode()
    conv = convert_custom_password_hash(
        {"algorithm": "bcrypt", "hash": {"value": plain}, "salt": {"value": ""}}
    )
    assert assert_verifies(conv) == plain


CANARY = "CANARYzq9"


@pytest.mark.parametrize(
    "obj",
    [
        {"algorithm": CANARY, "hash": {"value": "ab" * 20}},
        {"algorithm": "argon2", "hash": {"value": f"${CANARY}$v=19$m=1,t=1,p=1$YQ$YQ"}},
        {"algorithm": "ldap", "hash": {"value": "{" + CANARY + "}YWJj"}},
        {"algorithm": "sha1", "hash": {"value": "ab" * 20, "encoding": CANARY}},
        {
            "algorithm": "sha1",
            "hash": {"value": "ab" * 20},
            "salt": {"value": "s", "encoding": CANARY},
        },
        {
            "algorithm": "sha1",
            "hash": {"value": "ab" * 20},
            "salt": {"value": "s", "position": CANARY},
        },
        {
            "algorithm": "hmac",
            "hash": {"value": "ab" * 20, "digest": CANARY, "key": {"value": "k"}},
        },
        {"algorithm": "pbkdf2", "hash": {"value": f"$pbkdf2-{CANARY}$i=1,l=1$YQ$YQ"}},
        {"algorithm": "sha1", "hash": {"value": "ab" * 20}, "password": {"encoding": CANARY}},
        {"algorithm": "bcrypt", "hash": {"value": f"$2b$04${CANARY}"}, "salt": {"value": CANARY}},
    ],
    ids=[
        "algorithm",
        "argon2 variant",
        "ldap scheme",
        "hash encoding",
        "salt encoding",
        "salt position",
        "hmac digest",
        "pbkdf2 digest",
        "password encoding",
        "bcrypt salt",
    ],
)
def test_no_message_quotes_hash_salt_or_variant_text(obj: dict[str, Any]) -> None:
    """Whatever text an object carries, neither an error nor a hook reason repeats it."""
    try:
        conv = convert_custom_password_hash(obj)
    except CustomHashError as e:
        said = str(e)
    else:
        assert conv.reason is not None
        said = conv.reason
    assert CANARY.lower() not in said.lower()
    record = parse_password_hash({"_id": "a1", "custom_password_hash": obj}, 3)
    assert CANARY.lower() not in repr(record).lower()
