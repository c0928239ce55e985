"""Realistic Auth0 test data: export records, password-hash records with real bcrypt hashes, files.

Standalone (no pytest, no library internals): the files it writes are what
Auth0 delivers, so the library reads them like any user's export.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import bcrypt
from attrs import field, frozen


__all__ = [
    "ExportFiles",
    "FakeAuth0User",
    "UserKind",
    "auth0_users",
    "fake_bcrypt",
    "hash_record",
    "write_export",
]

UserKind = Literal[
    "database", "social", "linked", "passwordless", "sms", "enterprise", "username_only"
]

_FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
_LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
_DOMAINS = ["example.com", "example.org", "acme.test", "Mail.Example.NET"]
_B64 = "./" + string.ascii_uppercase + string.ascii_lowercase + string.digits
_DB = "Username-Password-Authentication"


@frozen
class FakeAuth0User:
    """A generated Auth0 user and what a test needs to know about it.

    Attributes:
        user_id: The Auth0 user id.
        kind: What sort of account it is.
        record: The record as the export job writes it.
        password: The plaintext password behind :attr:`hash_record` (database users).
        hash_record: Its line in the password-hash export, or ``None``.
    """

    user_id: str
    kind: UserKind
    record: dict[str, Any] = field(repr=False)
    password: str | None = field(default=None, repr=False)
    hash_record: dict[str, Any] | None = field(default=None, repr=False)


def fake_bcrypt(rng: random.Random, cost: int = 10) -> str:
    """A well-formed bcrypt string that matches no password (fast, for volume tests)."""
    return f"$2b${cost:02d}$" + "".join(rng.choice(_B64) for _ in range(53))


def hash_record(
    oid: str,
    email: str | None,
    password_hash: str,
    *,
    set_date: str = "2021-03-05T16:35:16.775Z",
    id_form: Literal["_id", "_ID", "plain", "alt_id"] = "_id",
) -> dict[str, Any]:
    """One line of Auth0's password-hash export, in one of the forms seen in the wild."""
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
) -> list[FakeAuth0User]:
    """Generate *n* realistic Auth0 users (deterministic for a seed).

    Mixes database users (most, with password hashes), social and linked
    accounts, passwordless, enterprise (SAML), username-only users, blocked and
    unverified users, users with metadata, and (when *duplicate_emails*) the
    same email in different connections, verified and not.

    Args:
        n: How many users.
        seed: Random seed.
        bcrypt_cost: Cost of the real bcrypt hashes (4 keeps tests fast).
        real_hashes: Real bcrypt hashes of known passwords, or well-formed
            fakes (for volume).
        kinds: Restrict the mix to these kinds.
        duplicate_emails: Give some users the email of an earlier user.
    """
    rng = random.Random(seed)
    mix: list[UserKind] = list(kinds) if kinds else [
        "database", "database", "database", "database", "database", "database",
        "social", "social", "linked", "passwordless", "sms", "enterprise", "username_only",
    ]  # fmt: skip
    users: list[FakeAuth0User] = []
    emails: list[tuple[str, str]] = []  # (email, kind of its first owner)
    for index in range(n):
        kind = mix[index % len(mix)] if kinds else rng.choice(mix)
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
                record = _base(rng, user_id, None, False)
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
                id_form: Literal["_id", "_ID", "plain", "alt_id"] = rng.choice(
                    ["_id", "_id", "_ID", "plain"]
                )
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
        users.append(FakeAuth0User(user_id, kind, record, password, hrec))
    return users


@frozen
class ExportFiles:
    """Paths of the files :func:`write_export` wrote."""

    users: Path
    password_hashes: Path | None = None


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = str(value)
    return "'" + text if isinstance(value, str) else text


def _users_bytes(records: Sequence[dict[str, Any]], fmt: str) -> bytes:
    if fmt in ("ndjson", "ndjson.gz"):
        data = "".join(json.dumps(r) + "\n" for r in records).encode()
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


def write_export(
    directory: Path,
    users: Iterable[FakeAuth0User],
    *,
    hashes: bool = True,
    fmt: Literal["ndjson", "ndjson.gz", "json", "csv"] = "ndjson.gz",
    hash_fmt: Literal["ndjson", "json"] = "ndjson",
) -> ExportFiles:
    """Write the users (and their hashes) as Auth0 delivers them.

    Args:
        directory: Where to write (``auth0-users.<fmt>``, ``auth0-password-hashes.json``).
        users: The users.
        hashes: Also write the password-hash file (mode 0600).
        fmt: The user export's format.
        hash_fmt: One object per line (Auth0's usual) or a JSON array.
    """
    users = list(users)
    users_path = directory / f"auth0-users.{fmt}"
    users_path.write_bytes(_users_bytes([u.record for u in users], fmt))
    hashes_path = None
    if hashes:
        records = [u.hash_record for u in users if u.hash_record is not None]
        hashes_path = directory / "auth0-password-hashes.json"
        text = (
            json.dumps(records, indent=1)
            if hash_fmt == "json"
            else "".join(json.dumps(r) + "\n" for r in records)
        )
        hashes_path.touch(mode=0o600)
        hashes_path.write_text(text)
    return ExportFiles(users_path, hashes_path)
