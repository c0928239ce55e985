"""Realistic Auth0 test data: export records, password-hash records with real bcrypt hashes, files.

Standalone (no pytest, no library internals): the files it writes are what
Auth0 delivers, so the library reads them like any user's export.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import random
import string
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import bcrypt
from attrs import field, frozen

from ._auth0 import PasswordUser


__all__ = [
    "DATABASE_CONNECTION",
    "ENTERPRISE_STRATEGIES",
    "TEST_PGP_PASSPHRASE",
    "ExportFiles",
    "FakeAuth0User",
    "HashIdForm",
    "PgpKeyPair",
    "UserKind",
    "auth0_users",
    "fake_bcrypt",
    "hash_record",
    "password_users",
    "pgp_encrypt_file",
    "pgp_key_pair",
    "write_export",
]

UserKind = Literal[
    "database", "social", "linked", "passwordless", "sms", "enterprise", "username_only"
]
"""What sort of Auth0 account a generated user is.

.. versionadded:: 0.1.0
"""

HashIdForm = Literal["_id", "_ID", "plain", "alt_id"]
"""How a password-hash record names its user.

``_id``: ``{"_id": {"$oid": ...}}``; ``_ID``: ``{"_ID": {"$oid": ...}}``; ``plain``:
``{"_id": "..."}``; ``alt_id``: an ``alt_id`` key (with an unrelated ``_id``).

.. versionadded:: 0.1.0
"""

DATABASE_CONNECTION = "Username-Password-Authentication"
"""Auth0's default database connection.

.. versionadded:: 0.1.0
"""

ENTERPRISE_STRATEGIES: tuple[str, ...] = (
    "samlp",
    "waad",
    "adfs",
    "okta",
    "oidc",
    "google-apps",
    "pingfederate",
    "ad",
)
"""Auth0's enterprise connection strategies: ``auth0_users(every_kind=True)`` makes users of each.

.. versionadded:: 0.1.0
"""

_ENTERPRISE_CONNECTIONS = {
    "samlp": "acme-saml",
    "waad": "acme-azure-ad",
    "adfs": "acme-adfs",
    "okta": "acme-okta",
    "oidc": "acme-oidc",
    "google-apps": "acme-test",
    "pingfederate": "acme-ping",
    "ad": "acme-ad",
}

_FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
_LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
_DOMAINS = ["example.com", "example.org", "acme.test", "Mail.Example.NET"]
_B64 = "./" + string.ascii_uppercase + string.ascii_lowercase + string.digits
_DB = DATABASE_CONNECTION


@frozen
class FakeAuth0User:
    """A generated Auth0 user and what a test needs to know about it.

    Attributes:
        user_id: The Auth0 user id.
        kind: What sort of account it is.
        record: The record as the export job writes it.
        password: The plaintext password behind :attr:`hash_record` (database users).
        hash_record: Its line in the password-hash export, or ``None``.
        mfa_secret: Its TOTP secret (base32) in the MFA-secrets export, or ``None``.

    .. versionadded:: 0.1.0
    """

    user_id: str
    kind: UserKind
    record: dict[str, Any] = field(repr=False)
    password: str | None = field(default=None, repr=False)
    hash_record: dict[str, Any] | None = field(default=None, repr=False)
    mfa_secret: str | None = field(default=None, repr=False)

    @property
    def email(self) -> str | None:
        """The exported email address (as Auth0 stores it), or ``None``.

        .. versionadded:: 0.1.0
        """
        value = self.record.get("email")
        return value if isinstance(value, str) else None

    @property
    def mfa_records(self) -> list[dict[str, Any]]:
        """Its lines in the MFA-secrets export: the TOTP secret and one hashed recovery code.

        .. versionadded:: 0.1.0
        """
        if self.mfa_secret is None:
            return []
        rng = random.Random(self.user_id)  # noqa: S311 (test data, not secrets)
        return [
            {"user_id": self.user_id, "type": "otp", "otp_secret": self.mfa_secret},
            {"user_id": self.user_id, "type": "recovery-code", "recovery_code": fake_bcrypt(rng)},
        ]


def fake_bcrypt(rng: random.Random, cost: int = 10) -> str:
    """A well-formed bcrypt string that matches no password (fast, for volume tests).

    .. versionadded:: 0.1.0
    """
    return f"$2b${cost:02d}$" + "".join(rng.choice(_B64) for _ in range(53))


def hash_record(
    oid: str,
    email: str | None,
    password_hash: str,
    *,
    set_date: str = "2021-03-05T16:35:16.775Z",
    id_form: HashIdForm = "_id",
) -> dict[str, Any]:
    """One line of Auth0's password-hash export, in one of the forms seen in the wild.

    Args:
        oid: The database user's id (``user_id`` without ``auth0|``).
        email: The root ``email`` (``None``: left out, as in some exports).
        password_hash: The ``passwordHash`` (e.g. ``$2b$10$...``).
        set_date: ``password_set_date`` (``{"$date": ...}``).
        id_form: How the record names its user (see :data:`HashIdForm`).

    .. versionadded:: 0.1.0
    """
    record: dict[str, Any]
    if id_form == "plain":
        record = {"_id": oid}
    elif id_form == "alt_id":
        record = {"_id": {"$oid": "0" * 24}, "alt_id": oid}
    else:
        record = {id_form: {"$oid": oid}}
    if email is not None:
        record["email"] = email
    record.update(
        {
            "email_verified": True,
            "tenant": "acme",
            "connection": _DB,
            "passwordHash": password_hash,
            "password_set_date": {"$date": set_date},
            "_tmp_is_unique": True,
        }
    )
    return record


def _timestamp(rng: random.Random, year_from: int = 2018) -> str:
    return (
        f"{rng.randint(year_from, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        f".{rng.randint(0, 999):03d}Z"
    )


def _base(rng: random.Random, user_id: str, email: str | None, verified: bool) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    record: dict[str, Any] = {
        "user_id": user_id,
        "name": f"{first} {last}",
        "given_name": first,
        "family_name": last,
        "nickname": first.lower(),
        "picture": f"https://s.gravatar.com/avatar/{rng.getrandbits(64):016x}.png",
        "created_at": _timestamp(rng),
        "updated_at": _timestamp(rng, 2024),
        "last_login": _timestamp(rng, 2024),
        "last_ip": f"192.0.2.{rng.randint(1, 254)}",
        "logins_count": rng.randint(0, 500),
        "app_metadata": {
            "roles": rng.sample(["admin", "editor", "viewer"], rng.randint(0, 2)),
            "plan": rng.choice(["free", "pro"]),
        },
        "user_metadata": {
            "locale": rng.choice(["en", "de", "fr"]),
            "newsletter": rng.random() < 0.5,
        },
    }
    if email is not None:
        record["email"] = email
        record["email_verified"] = verified
    return record


def auth0_users(
    n: int = 50,
    *,
    seed: int = 1,
    bcrypt_cost: int = 4,
    real_hashes: bool = True,
    kinds: Sequence[UserKind] | None = None,
    duplicate_emails: bool = True,
    mfa: bool = False,
    every_kind: bool = False,
) -> list[FakeAuth0User]:
    """Generate *n* realistic Auth0 users (the same for a seed, but for bcrypt's random salts).

    Mixes database users (most, with password hashes in every id form of the
    hash file), social and linked accounts, passwordless (email and SMS),
    enterprise (SAML), username-only users, blocked and unverified users, users
    with metadata, users whose password was reset after the hash export, and
    (when *duplicate_emails*) the same email in different connections, in
    another case, verified and not.

    Args:
        n: How many users.
        seed: Random seed.
        bcrypt_cost: Cost of the real bcrypt hashes (4 keeps tests fast).
        real_hashes: Real bcrypt hashes of known passwords, or well-formed
            fakes (for volume).
        kinds: Restrict the mix to these kinds (taken in turn).
        duplicate_emails: Give some users the email of an earlier user.
        mfa: Give about a third of the database users a TOTP secret (and a
            hashed recovery code) for the MFA-secrets export. The other data
            does not change with this flag.
        every_kind: Take the kinds in turn (or *kinds* in turn), enterprise users of each
            strategy of :data:`ENTERPRISE_STRATEGIES` in turn (with their Auth0 user ids,
            connections and ``identities[]``), and give about half of the ``username_only``
            users an email too. Without it (the default) the output is what it always was.

    Returns:
        The users, in export order.

    .. versionadded:: 0.1.0
    """
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    mfa_rng = random.Random(f"mfa-{seed}")  # noqa: S311 (a stream apart: the rest stays the same)
    mix: list[UserKind] = list(kinds) if kinds else [
        "database", "database", "database", "database", "database", "database",
        "social", "social", "linked", "passwordless", "sms", "enterprise", "username_only",
    ]  # fmt: skip
    if every_kind and not kinds:
        mix = list(dict.fromkeys(mix))
    extra = random.Random(f"every-kind-{seed}")  # noqa: S311 (test data, not secrets)
    enterprise_count = 0
    users: list[FakeAuth0User] = []
    emails: list[tuple[str, str]] = []  # (email, kind of its first owner)
    for index in range(n):
        kind = mix[index % len(mix)] if kinds or every_kind else rng.choice(mix)
        oid = f"{rng.getrandbits(96):024x}"
        local = f"{rng.choice(_FIRST).lower()}.{index}"
        email = f"{local}@{rng.choice(_DOMAINS)}"
        if duplicate_emails and emails and kind in ("social", "linked") and rng.random() < 0.3:
            email = rng.choice(emails)[0].upper()  # same address, other case, other connection
        verified = rng.random() < 0.85
        password: str | None = None
        hrec: dict[str, Any] | None = None
        if kind in ("database", "linked", "username_only"):
            user_id = f"auth0|{oid}"
            if kind == "username_only":
                with_email = every_kind and extra.random() < 0.5
                record = _base(rng, user_id, email.lower() if with_email else None, verified)
                record["username"] = local.replace(".", "_")
            else:
                record = _base(rng, user_id, email.lower(), verified)
            identities = [
                {"provider": "auth0", "user_id": oid, "connection": _DB, "isSocial": False}
            ]
            if kind == "linked":
                gh = rng.randint(1, 10**8)
                identities.append(
                    {
                        "provider": "github",
                        "user_id": gh,  # GitHub ids are numbers
                        "connection": "github",
                        "isSocial": True,
                        "profileData": {"email": email.lower(), "nickname": local},
                    }
                )
            record["identities"] = identities
            if rng.random() < 0.9:
                password = f"pw-{index}-{rng.getrandbits(32):08x}"
                value = (
                    bcrypt.hashpw(password.encode(), bcrypt.gensalt(bcrypt_cost)).decode()
                    if real_hashes
                    else fake_bcrypt(rng)
                )
                id_form: HashIdForm = rng.choice(["_id", "_id", "_ID", "plain"])
                hrec = hash_record(oid, record.get("email"), value, id_form=id_form)
                if rng.random() < 0.1:
                    record["last_password_reset"] = "2025-01-01T00:00:00.000Z"  # hash goes stale
            if rng.random() < 0.05:
                record["blocked"] = True
        elif kind == "social":
            provider, conn = rng.choice(
                [
                    ("google-oauth2", "google-oauth2"),
                    ("github", "github"),
                    ("windowslive", "windowslive"),
                ]
            )
            sub = str(rng.randint(10**17, 10**18))
            user_id = f"{provider}|{sub}"
            record = _base(rng, user_id, email, verified or provider == "google-oauth2")
            record["identities"] = [
                {"provider": provider, "user_id": sub, "connection": conn, "isSocial": True}
            ]
        elif kind == "passwordless":
            user_id = f"email|{oid}"
            record = _base(rng, user_id, email.lower(), True)
            record["identities"] = [
                {"provider": "email", "user_id": oid, "connection": "email", "isSocial": False}
            ]
        elif kind == "sms":
            user_id = f"sms|{oid}"
            record = _base(rng, user_id, None, False)
            record["phone_number"] = f"+1555{rng.randint(10**6, 10**7 - 1)}"
            record["phone_verified"] = True
            record["identities"] = [
                {"provider": "sms", "user_id": oid, "connection": "sms", "isSocial": False}
            ]
        elif every_kind:  # enterprise, of each strategy in turn
            strategy = ENTERPRISE_STRATEGIES[enterprise_count % len(ENTERPRISE_STRATEGIES)]
            enterprise_count += 1
            user_id, record = _enterprise_user(extra, rng, strategy, local)
        else:  # enterprise
            user_id = f"samlp|acme-saml|{local}@acme.test"
            record = _base(rng, user_id, f"{local}@acme.test", True)
            record["identities"] = [
                {
                    "provider": "samlp",
                    "user_id": f"acme-saml|{local}@acme.test",
                    "connection": "acme-saml",
                    "isSocial": False,
                }
            ]
        if "email" in record and not any(e == record["email"].lower() for e, _ in emails):
            emails.append((record["email"].lower(), kind))
        secret = None
        if mfa and kind in ("database", "linked", "username_only") and mfa_rng.random() < 0.35:
            secret = base64.b32encode(mfa_rng.randbytes(20)).decode()
        users.append(FakeAuth0User(user_id, kind, record, password, hrec, secret))
    return users


def _enterprise_user(
    extra: random.Random, rng: random.Random, strategy: str, local: str
) -> tuple[str, dict[str, Any]]:
    """An enterprise user of *strategy*: ``<strategy>|<connection>|<subject>`` as Auth0 writes it.

    Google Workspace users are ``google-apps|<email>``; SAML, ADFS and PingFederate subjects are
    the NameID/UPN (an email), Azure AD's the object id, Okta's its ``00u...`` id, OIDC's the
    ``sub``, AD/LDAP's the account name.
    """
    connection = _ENTERPRISE_CONNECTIONS[strategy]
    address = f"{local}@acme.test"
    subject: str
    if strategy in ("samlp", "adfs", "pingfederate"):
        subject = address
    elif strategy == "waad":
        subject = f"{extra.getrandbits(128):032x}"
        subject = str(uuid.UUID(subject))
    elif strategy == "okta":
        subject = "00u" + "".join(
            extra.choice(string.ascii_letters + string.digits) for _ in range(17)
        )
    elif strategy == "oidc":
        subject = str(extra.randint(10**17, 10**18))
    elif strategy == "ad":
        subject = local.replace(".", "_")
    else:  # google-apps
        subject = address
    identity_user_id = subject if strategy == "google-apps" else f"{connection}|{subject}"
    user_id = f"{strategy}|{identity_user_id}"
    record = _base(rng, user_id, address, True)
    record["identities"] = [
        {
            "provider": strategy,
            "user_id": identity_user_id,
            "connection": connection,
            "isSocial": False,
        }
    ]
    return user_id, record


def password_users(users: Iterable[FakeAuth0User]) -> list[PasswordUser]:
    """The users with a known password, for the token endpoint of :class:`Auth0ManagementServer`.

    Each logs in with its email (or username) and :attr:`FakeAuth0User.password`; blocked users
    are blocked, users with an MFA secret must pass MFA (as on a real tenant). When two users
    have the same login name, the first one keeps it.

    .. versionadded:: 0.1.0
    """
    result = []
    taken: set[str] = set()
    for user in users:
        name = user.record.get("email") or user.record.get("username")
        if user.password is None or not isinstance(name, str) or name.lower() in taken:
            continue
        taken.add(name.lower())
        result.append(
            PasswordUser(
                name,
                user.password,
                mfa=user.mfa_secret is not None,
                blocked=user.record.get("blocked") is True,
            )
        )
    return result


@frozen
class ExportFiles:
    """The files of one Auth0 export: what :func:`write_export` wrote, or your own.

    Attributes:
        users: The user export.
        password_hashes: The password-hash export, if any.
        mfa_secrets: The MFA-secrets export, if any.
        fake_users: The generated users written (empty for files of your own).

    .. versionadded:: 0.1.0
    """

    users: Path
    password_hashes: Path | None = None
    mfa_secrets: Path | None = None
    fake_users: tuple[FakeAuth0User, ...] = field(default=(), repr=False)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = str(value)
    return "'" + text if isinstance(value, str) else text


def _ndjson(records: Iterable[dict[str, Any]]) -> bytes:
    """One JSON object per line."""
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _users_bytes(records: Sequence[dict[str, Any]], fmt: str) -> bytes:
    if fmt in ("ndjson", "ndjson.gz"):
        data = _ndjson(records)
        return gzip.compress(data) if fmt == "ndjson.gz" else data
    if fmt == "json":
        return json.dumps(list(records), indent=2).encode()
    if fmt == "csv":
        columns = [
            "user_id",
            "email",
            "email_verified",
            "name",
            "given_name",
            "family_name",
            "created_at",
            "blocked",
            "logins_count",
            "identities[0].connection",
        ]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        for r in records:
            ident = (r.get("identities") or [{}])[0]
            row = [r.get(c) if "[" not in c else ident.get("connection") for c in columns]
            writer.writerow([_csv_cell(v) for v in row])
        return out.getvalue().encode()
    msg = f"unknown format {fmt!r}"
    raise ValueError(msg)


def _reformed(user: FakeAuth0User, id_form: HashIdForm | None) -> dict[str, Any] | None:
    """The user's hash record, with its user named in *id_form* (None: as generated)."""
    record = user.hash_record
    if record is None or id_form is None:
        return record
    oid = user.user_id.split("|", 1)[1]
    rest = {k: v for k, v in record.items() if k not in ("_id", "_ID", "alt_id", "email")}
    reformed = hash_record(oid, record.get("email"), rest.pop("passwordHash"), id_form=id_form)
    reformed.update(rest)
    return reformed


def _private_file(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_bytes(data)


def write_export(
    directory: Path,
    users: Iterable[FakeAuth0User],
    *,
    hashes: bool = True,
    fmt: Literal["ndjson", "ndjson.gz", "json", "csv"] = "ndjson.gz",
    hash_fmt: Literal["ndjson", "ndjson.gz", "json"] = "ndjson",
    hash_id_form: HashIdForm | None = None,
    mfa_secrets: bool = True,
) -> ExportFiles:
    """Write the users (and their hashes and MFA secrets) as Auth0 delivers them.

    Args:
        directory: Where to write: ``auth0-users.<fmt>``, ``auth0-password-hashes.json``
            and ``auth0-mfa-secrets.json`` (the last two mode 0600).
        users: The users.
        hashes: Also write the password-hash file.
        fmt: The user export's format: newline-delimited JSON (what the export job
            writes, gzip-compressed: ``ndjson.gz``), a JSON array, or CSV.
        hash_fmt: The hash file: one object per line (Auth0's usual), the same
            gzip-compressed, or a JSON array.
        hash_id_form: Write every hash record's user id in this form (see
            :data:`HashIdForm`); ``None`` keeps each record's own, a mix of
            ``_id``, ``_ID`` and plain-string ids.
        mfa_secrets: Also write the MFA-secrets file, when any user has a
            secret (see ``auth0_users(mfa=True)``).

    Returns:
        The paths written, and the users.

    .. versionadded:: 0.1.0
    """
    users = list(users)
    users_path = directory / f"auth0-users.{fmt}"
    users_path.write_bytes(_users_bytes([u.record for u in users], fmt))
    hashes_path = None
    if hashes:
        records = [r for u in users if (r := _reformed(u, hash_id_form)) is not None]
        hashes_path = directory / "auth0-password-hashes.json"
        data = json.dumps(records, indent=1).encode() if hash_fmt == "json" else _ndjson(records)
        _private_file(hashes_path, gzip.compress(data) if hash_fmt == "ndjson.gz" else data)
    mfa_path = None
    if mfa_secrets and any(u.mfa_secret is not None for u in users):
        mfa_path = directory / "auth0-mfa-secrets.json"
        _private_file(mfa_path, _ndjson(r for u in users for r in u.mfa_records))
    return ExportFiles(users_path, hashes_path, mfa_path, tuple(users))


#: The passphrase of the protected test key of :func:`pgp_key_pair` (``protected=True``).
#:
#: .. versionadded:: 0.1.0
TEST_PGP_PASSPHRASE = "test passphrase, not a secret"

# A passphrase-protected key (Ed25519 + Cv25519, made once with gpg: the OpenPGP library makes
# no protected keys). It protects nothing but test data: never encrypt anything real to it.
_PROTECTED_TEST_KEY = """\
-----BEGIN PGP PRIVATE KEY BLOCK-----

lIYEaw+iqhYJKwYBBAHaRw8BAQdAGc9xWHXPKhfYzvpfKDkhluvuEj0L2NSnwgGh
vxoFNqP+BwMCbO+eteJyayb/MieV2vWWqhSrpxntmGcoLTIFDfyu8/uyG42dxR9r
Kouf7CH11p7EizfeuyYDoTvmjTedGwfEPftiJpMuqcAZrZt/unwRg7QxYXV0aDAt
b3J5LW1pZ3JhdGUgdGVzdCBrZXkgPHRlc3RAZXhhbXBsZS5pbnZhbGlkPoiQBBMW
CAA4FiEEK+ANJ9mLA8rIA9pliiL2iEMzw48FAmsPoqoCGwEFCwkIBwIGFQoJCAsC
BBYCAwECHgECF4AACgkQiiL2iEMzw4/SSAD7BMGZIPXeAp0wpdgvdqSUP9VRVPo6
W1AM7QFCPSH+rJUA/jj0cn3zKmhVncCpjKY8TgYmYN18KG/ToR/bBUmEdn4KnIsE
aw+irRIKKwYBBAGXVQEFAQEHQMxWA5t9eNYZmbKhRe3I3iBgpE7JOtrwA1DSXIDb
fvcgAwEIB/4HAwK/a0GfO9DkBP+prlLjAMJRwapRqTSRiipeVLodjm4cu2GVTTJQ
CCthN0+czdgKIcGCWg3sxsKs1Fs40cz8usMae8H4l730yYDC+aX1UVv6iHgEGBYI
ACAWIQQr4A0n2YsDysgD2mWKIvaIQzPDjwUCaw+irQIbDAAKCRCKIvaIQzPDjyzV
AQCz60gJ1DE4FX0hzKBT0lwwVF4zLeFv8Lh5ORDFOd9AZAD8CRA0FmsOVcYPVB5x
epDPWusqNfxp2LHtafiXRSCmeAY=
=8jeA
-----END PGP PRIVATE KEY BLOCK-----
"""


def _pysequoia() -> Any:
    try:
        import pysequoia  # noqa: PLC0415 - the pgp extra, loaded when used
    except ImportError as e:
        msg = 'the OpenPGP builders need the pgp extra: pip install "auth0-ory-migrate[pgp]"'
        raise ImportError(msg) from e
    return pysequoia


@frozen
class PgpKeyPair:
    """An OpenPGP test key pair, as a customer gives Auth0 support the public half.

    Attributes:
        private_key: The private key, binary (as ``gpg --export-secret-keys``);
            not shown by ``repr``.
        public_key: The public key (certificate), binary: what Auth0 encrypts to.
        passphrase: The private key's passphrase, or ``None``; not shown by ``repr``.
        fingerprint: The key's fingerprint (upper-case hex).

    .. versionadded:: 0.1.0
    """

    private_key: bytes = field(repr=False)
    public_key: bytes
    passphrase: str | None = field(repr=False)
    fingerprint: str

    @property
    def armored_private_key(self) -> str:
        """The private key, ASCII-armored (``gpg --armor --export-secret-keys``)."""
        return str(_pysequoia().Tsk.from_bytes(self.private_key))


def pgp_key_pair(*, protected: bool = False) -> PgpKeyPair:
    """An OpenPGP key pair to encrypt test hash files to (needs the ``pgp`` extra).

    Args:
        protected: A fixed passphrase-protected key
            (:data:`TEST_PGP_PASSPHRASE`); otherwise a new key without a
            passphrase (Ed25519/Cv25519: made in milliseconds, unlike the
            RSA-4096 keys customers give Auth0; both are read the same way).

    Returns:
        The key pair.

    Example:
        >>> keys = pgp_key_pair()  # doctest: +SKIP
        >>> pgp_encrypt_file(export.password_hashes, keys.public_key)  # doctest: +SKIP

    .. versionadded:: 0.1.0
    """
    pgp = _pysequoia()
    if protected:
        tsk = pgp.Tsk.from_bytes(_PROTECTED_TEST_KEY.encode())
        passphrase: str | None = TEST_PGP_PASSPHRASE
    else:
        tsk, passphrase = pgp.Tsk.generate("auth0-ory-migrate test key"), None
    cert = tsk.extract_certificate()
    return PgpKeyPair(bytes(tsk), bytes(cert), passphrase, cert.fingerprint.upper())


def pgp_encrypt_file(
    path: Path, public_key: bytes, out: Path | None = None, *, armor: bool = False
) -> Path:
    """Encrypt a file to *public_key*, as Auth0 support encrypts the password-hash export.

    Args:
        path: The file to encrypt, e.g. ``write_export(...).password_hashes``.
        public_key: The recipient's public key (e.g. :attr:`PgpKeyPair.public_key`),
            binary or ASCII-armored.
        out: Where to write; by default *path* with ``.pgp`` (``.asc`` armored) added.
        armor: Write an ASCII-armored message instead of a binary one.

    Returns:
        The encrypted file (mode 0600).

    .. versionadded:: 0.1.0
    """
    pgp = _pysequoia()
    if out is None:
        out = path.with_name(path.name + (".asc" if armor else ".pgp"))
    data = pgp.encrypt(path.read_bytes(), recipients=[pgp.Cert.from_bytes(public_key)], armor=armor)
    _private_file(out, data.encode() if isinstance(data, str) else data)
    return out
