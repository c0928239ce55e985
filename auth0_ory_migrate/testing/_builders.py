"""Realistic Auth0 test data: export records, password-hash records with real bcrypt hashes, files.

Standalone (no pytest, no library internals): the files it writes are what
Auth0 delivers, so the library reads them like any user's export.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import copy
import csv
import functools
import gc
import gzip
import io
import json
import random
import string
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, get_args

import attrs
import bcrypt
from attrs import field, frozen

from ._auth0 import PasswordUser


if TYPE_CHECKING:
    from .strategies import Auth0Export


__all__ = [
    "DATABASE_CONNECTION",
    "ENTERPRISE_STRATEGIES",
    "TEST_PGP_PASSPHRASE",
    "ExportFiles",
    "FakeAuth0User",
    "HashIdForm",
    "LaterTenant",
    "PgpKeyPair",
    "UserKind",
    "auth0_users",
    "fake_bcrypt",
    "hash_record",
    "password_users",
    "pgp_encrypt_file",
    "pgp_key_pair",
    "tenant_a_week_later",
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
_P = ParamSpec("_P")
_T = TypeVar("_T")
_FIRST_LOWER = [name.lower() for name in _FIRST]
_SOCIAL = ("google-oauth2", "github", "windowslive")
_ID_FORMS: tuple[HashIdForm, ...] = ("_id", "_id", "_ID", "plain")
_TOP_7_BITS = bytes(ord(_B64[b >> 1]) if b < 128 else 0 for b in range(256))
_OVER_63 = bytes(range(128, 256))  # a word's top byte whose 7 bits are 64 or more


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


def _below(bits: Callable[[int], int], n: int) -> int:
    """``rng.randrange(n)`` for ``bits = rng.getrandbits``: the same draws, a third of the cost.

    ``random.Random`` picks a number below *n* by drawing ``n.bit_length()`` bits until they
    are below *n* (``Random._randbelow``, unchanged since Python 3.2; a test pins that this
    agrees with ``randrange``, ``randint`` and ``choice``), so the data for a seed stays the same.
    """
    k = n.bit_length()
    r = bits(k)
    while r >= n:
        r = bits(k)
    return r


def fake_bcrypt(rng: random.Random, cost: int = 10) -> str:
    """A well-formed bcrypt string that matches no password (fast, for volume tests).

    .. versionadded:: 0.1.0
    """
    if type(rng) is not random.Random:  # a subclass may draw its own way
        return f"$2b${cost:02d}$" + "".join(rng.choice(_B64) for _ in range(53))
    # rng.choice(_B64) 53 times, without 53 calls: each choice takes the top 7 bits of the
    # generator's next 32-bit word until they are below 64. getrandbits(32 * n) returns the
    # next n words, the first least significant, so the byte holding a word's top bits is
    # every fourth from the fourth; as many words are taken as are sure to be used.
    need, parts, bits = 53, [], rng.getrandbits
    while need:
        got = bits(32 * need).to_bytes(4 * need, "little")[3::4].translate(_TOP_7_BITS, _OVER_63)
        parts.append(got)
        need -= len(got)
    return f"$2b${cost:02d}$" + b"".join(parts).decode()


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


_Spec = tuple[int, int]  # (draw below this, shift of the 32-bit word)


def _specs(widths: Sequence[int]) -> tuple[_Spec, ...]:
    """What :func:`_draws` needs of each width (0: a whole 32-bit word)."""
    return tuple((n, 32 - n.bit_length()) if n else (1 << 32, 0) for n in widths)


_UNPACK = [struct.Struct(f"<{m}I").unpack for m in range(64)]


def _collector_paused(function: Callable[_P, _T]) -> Callable[_P, _T]:
    """Run *function* with Python's cyclic garbage collector paused.

    A builder makes many small dicts and lists and keeps them all: the collector would walk
    them again and again as they pile up (a third of the time of 50,000 users) and free none.
    """

    @functools.wraps(function)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


def _draws(rng: random.Random, specs: Sequence[_Spec]) -> list[int]:
    """``rng.randrange(n)`` for each *n* of :func:`_specs` (0: ``rng.getrandbits(32)``).

    The same numbers as those calls, leaving *rng* where they would, in a third of the time:
    ``random.Random`` draws a number below *n* by taking the top ``n.bit_length()`` bits of its
    next 32-bit words until they are below *n* (``Random._randbelow``, unchanged since Python
    3.2; tests pin the data made with it). ``getrandbits(32 * m)`` returns the next *m* words,
    the first least significant, and no more are taken at once than the draws left, each of
    which takes one word at least.
    """
    out: list[int] = []
    left = len(specs)
    words: Iterator[int] = iter(())
    bits = rng.getrandbits
    for n, shift in specs:
        while True:
            for word in words:
                r = word >> shift
                if r < n:
                    break
            else:  # the words drawn are used up: draw as many as draws are left
                words = iter(_UNPACK[left](bits(32 * left).to_bytes(4 * left, "little")))
                continue
            break
        out.append(r)
        left -= 1
    return out


def _timestamp_widths(year_from: int) -> list[int]:
    """``rng.randint`` of each field of a time: year from *year_from* to 2024, month, ..."""
    return [2025 - year_from, 12, 28, 24, 60, 60, 1000]


# What _base draws, in order, as random.Random would: choice(_FIRST), choice(_LAST),
# getrandbits(64) (two words), three timestamps, randint(1, 254), randint(0, 500), randint(0, 2)
# (how many roles); then the roles (random.sample's draws below 3, then 2), a choice of 2, a
# choice of 3 and random() (two words).
_BASE_SPECS = _specs(
    [
        len(_FIRST),
        len(_LAST),
        0,
        0,
        *_timestamp_widths(2018),
        *_timestamp_widths(2024),
        *_timestamp_widths(2024),
        254,
        501,
        3,
    ]
)
_ROLE_SPECS = [_specs([*[3, 2][:k], 2, 3, 0, 0]) for k in range(3)]
_ROLES = ("admin", "editor", "viewer")
_TIME = "%d-%02d-%02dT%02d:%02d:%02d.%03dZ"


def _base(rng: random.Random, user_id: str, email: str | None, verified: bool) -> dict[str, Any]:
    d = _draws(rng, _BASE_SPECS)
    first, last = _FIRST[d[0]], _LAST[d[1]]
    d[4] += 2018  # the years and days, months and IPs that randint() counts from 1
    d[11] += 2024
    d[18] += 2024
    for i in (5, 6, 12, 13, 19, 20, 25):
        d[i] += 1
    roles = d[27]
    e = _draws(rng, _ROLE_SPECS[roles])
    pool = list(_ROLES)
    picked = []
    for i, j in enumerate(e[:roles]):  # random.sample's pool method
        picked.append(pool[j])
        pool[j] = pool[2 - i]
    plan, locale, high, low = e[roles:]
    # random() makes 53 bits of two words: the top 27 of the first, 26 of the second
    newsletter = ((high >> 5) * 67108864.0 + (low >> 6)) * (1.0 / 9007199254740992.0) < 0.5
    record: dict[str, Any] = {
        "user_id": user_id,
        "name": f"{first} {last}",
        "given_name": first,
        "family_name": last,
        "nickname": first.lower(),
        "picture": f"https://s.gravatar.com/avatar/{d[2] | d[3] << 32:016x}.png",
        "created_at": _TIME % tuple(d[4:11]),
        "updated_at": _TIME % tuple(d[11:18]),
        "last_login": _TIME % tuple(d[18:25]),
        "last_ip": f"192.0.2.{d[25]}",
        "logins_count": d[26],
        "app_metadata": {"roles": picked, "plan": ("free", "pro")[plan]},
        "user_metadata": {"locale": ("en", "de", "fr")[locale], "newsletter": newsletter},
    }
    if email is not None:
        record["email"] = email
        record["email_verified"] = verified
    return record


@_collector_paused
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
    taken: set[str] = set()  # the same addresses, to look up in O(1)
    phones: set[int] = set()  # an SMS connection's numbers are unique in Auth0
    bits, below = rng.getrandbits, _below  # rng.choice(x) is x[below(bits, len(x))]
    for index in range(n):
        kind = mix[index % len(mix)] if kinds or every_kind else mix[below(bits, len(mix))]
        oid = f"{rng.getrandbits(96):024x}"
        local = f"{_FIRST_LOWER[below(bits, len(_FIRST))]}.{index}"
        email = f"{local}@{_DOMAINS[below(bits, len(_DOMAINS))]}"
        if duplicate_emails and emails and kind in ("social", "linked") and rng.random() < 0.3:
            # the same address, in another case, in another connection
            email = emails[below(bits, len(emails))][0].upper()
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
                gh = 1 + below(bits, 10**8)
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
                id_form: HashIdForm = _ID_FORMS[below(bits, 4)]
                hrec = hash_record(oid, record.get("email"), value, id_form=id_form)
                if rng.random() < 0.1:
                    record["last_password_reset"] = "2025-01-01T00:00:00.000Z"  # hash goes stale
            if rng.random() < 0.05:
                record["blocked"] = True
        elif kind == "social":
            provider = conn = _SOCIAL[below(bits, len(_SOCIAL))]
            sub = str(10**17 + below(bits, 10**18 - 10**17 + 1))
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
            number = 10**6 + below(bits, 10**7 - 10**6)
            while number in phones:  # the next free number: the same draws as ever
                number = number + 1 if number < 10**7 - 1 else 10**6
            phones.add(number)
            record["phone_number"] = f"+1555{number}"
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
        if "email" in record and (address := record["email"].lower()) not in taken:
            taken.add(address)
            emails.append((address, kind))
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


ChangeKind = Literal[
    "new",
    "email_changed",
    "email_verified",
    "blocked",
    "unblocked",
    "social_linked",
    "password_reset_new_hash",
    "password_reset_no_hash",
    "deleted",
]
_CHANGE_KINDS: tuple[ChangeKind, ...] = get_args(ChangeKind)

# The order in which the kinds choose their users: the scarce ones first, so that a common
# one does not take their only candidates.
_SCARCE_FIRST: tuple[ChangeKind, ...] = (
    "unblocked",
    "email_verified",
    "password_reset_new_hash",
    "password_reset_no_hash",
    "social_linked",
    "email_changed",
    "blocked",
    "deleted",
)


def _ids_repr(ids: tuple[str, ...]) -> str:
    return f"<{len(ids)} users>"


@frozen
class LaterTenant:
    """The same Auth0 tenant a week later (:func:`tenant_a_week_later`), and what changed.

    Each change is a tuple of Auth0 user ids, in export order; a user has at most one kind of
    change. Write the later export with ``write_export(directory, later.users)``: its hash
    file carries the new hashes.

    Attributes:
        users: The tenant's users a week later, in export order (the earlier users but the
            deleted ones, then the new ones).
        new: Users who signed up since (fresh ids and addresses).
        email_changed: Users whose email changed (same user id, the new address unverified,
            their hash record's email too).
        email_verified: Users who verified their email.
        blocked: Users an administrator blocked.
        unblocked: Blocked users who were unblocked.
        social_linked: Database users who linked a social login (a GitHub identity).
        password_reset_new_hash: Users who reset their password; the later hash file has
            the new hash (a newer ``password_set_date``, equal to ``last_password_reset``).
        password_reset_no_hash: Users who reset their password; the hash file still has
            the old hash, older than ``last_password_reset`` (a stale hash).
        deleted: Users deleted from Auth0 (absent from :attr:`users`).
        unchanged: The other users (the earlier users whose record did not change).

    .. versionadded:: 0.1.0
    """

    users: tuple[FakeAuth0User, ...] = field(repr=_ids_repr)
    new: tuple[str, ...] = field(repr=_ids_repr)
    email_changed: tuple[str, ...] = field(repr=_ids_repr)
    email_verified: tuple[str, ...] = field(repr=_ids_repr)
    blocked: tuple[str, ...] = field(repr=_ids_repr)
    unblocked: tuple[str, ...] = field(repr=_ids_repr)
    social_linked: tuple[str, ...] = field(repr=_ids_repr)
    password_reset_new_hash: tuple[str, ...] = field(repr=_ids_repr)
    password_reset_no_hash: tuple[str, ...] = field(repr=_ids_repr)
    deleted: tuple[str, ...] = field(repr=_ids_repr)
    unchanged: tuple[str, ...] = field(repr=_ids_repr)

    @property
    def changes(self) -> dict[str, tuple[str, ...]]:
        """Every kind of change (not ``unchanged``) and its user ids.

        .. versionadded:: 0.1.0
        """
        return {kind: getattr(self, kind) for kind in _CHANGE_KINDS}

    def counts(self) -> dict[str, int]:
        """How many users of each kind of change, and ``unchanged``.

        .. versionadded:: 0.1.0
        """
        counts = {kind: len(ids) for kind, ids in self.changes.items()}
        counts["unchanged"] = len(self.unchanged)
        return counts


_LATER_DAY = "2025-06-0"  # a week of June 2025: later than every generated date


def _later_stamp(rng: random.Random) -> str:
    return (
        f"{_LATER_DAY}{rng.randint(1, 7)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        f":{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
    )


def _eligible(user: FakeAuth0User, kind: ChangeKind) -> bool:
    record = user.record
    database = user.kind in ("database", "linked", "username_only")
    if kind == "email_changed":
        return database and user.email is not None
    if kind == "email_verified":
        return user.email is not None and record.get("email_verified") is False
    if kind == "blocked":
        return record.get("blocked") is not True
    if kind == "unblocked":
        return record.get("blocked") is True
    if kind == "social_linked":
        return user.kind == "database" and user.email is not None
    if kind in ("password_reset_new_hash", "password_reset_no_hash"):
        hrec = user.hash_record
        return (
            database
            and hrec is not None
            and "last_password_reset" not in record  # its hash is not stale already
        )
    return kind == "deleted"


def _changed(  # noqa: PLR0917 (one function per change, all its inputs)
    user: FakeAuth0User,
    kind: ChangeKind,
    rng: random.Random,
    serial: int,
    real_hashes: bool,
    bcrypt_cost: int,
) -> FakeAuth0User:
    """*user* after a change of *kind* (records copied, never changed in place)."""
    record = copy.deepcopy(user.record)
    hrec = copy.deepcopy(user.hash_record)
    password, user_kind = user.password, user.kind
    stamp = _later_stamp(rng)
    record["updated_at"] = stamp
    if kind == "email_changed":
        local, _, domain = (user.email or "").partition("@")
        email = f"{local}.moved{serial}@{domain or 'example.com'}".lower()
        record["email"] = email
        record["email_verified"] = False
        if hrec is not None and "email" in hrec:
            hrec["email"] = email
    elif kind == "email_verified":
        record["email_verified"] = True
    elif kind == "blocked":
        record["blocked"] = True
    elif kind == "unblocked":
        record["blocked"] = False
    elif kind == "social_linked":
        local = (user.email or "user").partition("@")[0]
        record["identities"] = [
            *record.get("identities", []),
            {
                "provider": "github",
                "user_id": rng.randint(10**8, 10**9),
                "connection": "github",
                "isSocial": True,
                "profileData": {"email": user.email, "nickname": local},
            },
        ]
        user_kind = "linked"
    elif kind in ("password_reset_new_hash", "password_reset_no_hash"):
        password = f"pw-later-{serial}-{rng.getrandbits(32):08x}"
        record["last_password_reset"] = stamp
        if kind == "password_reset_new_hash" and hrec is not None:
            hrec["passwordHash"] = (
                bcrypt.hashpw(password.encode(), bcrypt.gensalt(bcrypt_cost)).decode()
                if real_hashes
                else fake_bcrypt(rng)
            )
            hrec["password_set_date"] = {"$date": stamp}
    return attrs.evolve(user, kind=user_kind, record=record, password=password, hash_record=hrec)


def tenant_a_week_later(
    users: Sequence[FakeAuth0User],
    *,
    seed: int = 1,
    new: int | None = None,
    email_changed: int | None = None,
    email_verified: int | None = None,
    blocked: int | None = None,
    unblocked: int | None = None,
    social_linked: int | None = None,
    password_reset_new_hash: int | None = None,
    password_reset_no_hash: int | None = None,
    deleted: int | None = None,
    real_hashes: bool = True,
    bcrypt_cost: int = 4,
) -> LaterTenant:
    """The same tenant a week later: what ``sync`` has to carry into Ory before cutover.

    Users sign up, change or verify their email, are blocked or unblocked, link a social
    login, reset their password (with a new hash in the later hash export, or without) or
    are deleted. Each count says how many users get that change (``None``: the default, about
    1 % of the users in all: ``max(1, len(users) // 900)`` of each kind); a user changes in one
    way at most, and a kind gets fewer than asked when fewer users can have it (only a
    blocked user can be unblocked, only a database user with a hash resets a password...).
    What changes is what Auth0 would write: a changed email keeps the user id and starts
    unverified, new users get fresh ids and addresses and later ``created_at`` dates, every
    changed user a later ``updated_at``, a password reset a later ``last_password_reset``
    (and, with a new hash, a hash record with that ``password_set_date``).

    Args:
        users: The tenant as exported earlier (e.g. :func:`auth0_users`).
        seed: Random seed (the same changes for the same users and seed).
        new: How many users signed up.
        email_changed: How many changed their email.
        email_verified: How many verified an unverified email.
        blocked: How many were blocked.
        unblocked: How many blocked users were unblocked.
        social_linked: How many database users linked a social login.
        password_reset_new_hash: How many reset their password, with a new hash exported.
        password_reset_no_hash: How many reset their password, without a new hash.
        deleted: How many were deleted.
        real_hashes: Real bcrypt hashes of the new passwords (new users' too), or fakes.
        bcrypt_cost: Cost of the real bcrypt hashes.

    Returns:
        The later tenant and, by kind, the ids of the users that changed.

    .. versionadded:: 0.1.0
    """
    rng = random.Random(f"later-{seed}")  # noqa: S311 (test data, not secrets)
    default = max(1, len(users) // 900)
    wanted: Mapping[ChangeKind, int | None] = {
        "new": new,
        "email_changed": email_changed,
        "email_verified": email_verified,
        "blocked": blocked,
        "unblocked": unblocked,
        "social_linked": social_linked,
        "password_reset_new_hash": password_reset_new_hash,
        "password_reset_no_hash": password_reset_no_hash,
        "deleted": deleted,
    }
    order = list(range(len(users)))
    rng.shuffle(order)
    taken: dict[int, ChangeKind] = {}
    for kind in _SCARCE_FIRST:
        count = wanted[kind]
        count = default if count is None else count
        for index in order:
            if count <= 0:
                break
            if index not in taken and _eligible(users[index], kind):
                taken[index] = kind
                count -= 1
    by_kind: dict[ChangeKind, list[str]] = {kind: [] for kind in _CHANGE_KINDS}
    later_users: list[FakeAuth0User] = []
    unchanged: list[str] = []
    for index, user in enumerate(users):
        change = taken.get(index)
        if change is None:
            later_users.append(user)
            unchanged.append(user.user_id)
            continue
        by_kind[change].append(user.user_id)
        if change != "deleted":
            later_users.append(_changed(user, change, rng, index, real_hashes, bcrypt_cost))
    count = default if new is None else new
    if count > 0:
        old_ids = {u.user_id for u in users}
        old_emails = {u.email.lower() for u in users if u.email}
        fresh = auth0_users(
            count,
            seed=rng.randrange(1 << 30),
            bcrypt_cost=bcrypt_cost,
            real_hashes=real_hashes,
            kinds=("database", "database", "social"),
            duplicate_emails=False,
        )
        for number, user in enumerate(fresh):
            record = copy.deepcopy(user.record)
            hrec = copy.deepcopy(user.hash_record)
            if user.email is not None:
                local, _, domain = user.email.partition("@")
                email = f"{local}.new{seed}x{number}@{domain}"
                if email.lower() in old_emails:
                    email = f"new.{seed}.{number}.{rng.getrandbits(32):08x}@example.net"
                record["email"] = email
                if hrec is not None and "email" in hrec:
                    hrec["email"] = email
            signed_up = _later_stamp(rng)
            record["created_at"] = record["updated_at"] = record["last_login"] = signed_up
            record["logins_count"] = 1
            record.pop("last_password_reset", None)
            record.pop("blocked", None)
            if user.user_id in old_ids:  # (96 random bits: never seen, but be sure)
                continue
            later_users.append(attrs.evolve(user, record=record, hash_record=hrec))
            by_kind["new"].append(user.user_id)
    return LaterTenant(
        users=tuple(later_users),
        unchanged=tuple(unchanged),
        **{kind: tuple(ids) for kind, ids in by_kind.items()},
    )


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
    users: Iterable[FakeAuth0User] | Auth0Export,
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
        users: The users: generated ones (:func:`auth0_users`), or the records a Hypothesis
            strategy drew (:class:`~auth0_ory_migrate.testing.strategies.Auth0Export`, from
            :func:`~auth0_ory_migrate.testing.strategies.auth0_exports`), written as they are.
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

    Raises:
        ValueError: *hash_id_form* with drawn records (they name their users in every form).

    .. versionadded:: 0.1.0
    """
    if not isinstance(users, Iterable):  # drawn records: written as drawn
        return _write_drawn(
            directory,
            users,
            hashes=hashes,
            fmt=fmt,
            hash_fmt=hash_fmt,
            hash_id_form=hash_id_form,
            mfa_secrets=mfa_secrets,
        )
    users = list(users)
    users_path = _write_users(directory, [u.record for u in users], fmt)
    hashes_path = None
    if hashes:
        records = [r for u in users if (r := _reformed(u, hash_id_form)) is not None]
        hashes_path = _write_hashes(directory, records, hash_fmt)
    mfa_path = None
    if mfa_secrets and any(u.mfa_secret is not None for u in users):
        mfa_path = _write_mfa(directory, (r for u in users for r in u.mfa_records))
    return ExportFiles(users_path, hashes_path, mfa_path, tuple(users))


def _write_users(directory: Path, records: Sequence[dict[str, Any]], fmt: str) -> Path:
    path = directory / f"auth0-users.{fmt}"
    path.write_bytes(_users_bytes(records, fmt))
    return path


def _write_mfa(directory: Path, records: Iterable[dict[str, Any]]) -> Path:
    path = directory / "auth0-mfa-secrets.json"
    _private_file(path, _ndjson(records))
    return path


def _write_hashes(directory: Path, records: Sequence[dict[str, Any]], hash_fmt: str) -> Path:
    path = directory / "auth0-password-hashes.json"
    data = json.dumps(records, indent=1).encode() if hash_fmt == "json" else _ndjson(records)
    _private_file(path, gzip.compress(data) if hash_fmt == "ndjson.gz" else data)
    return path


def _write_drawn(
    directory: Path,
    export: Auth0Export,
    *,
    hashes: bool,
    fmt: str,
    hash_fmt: str,
    hash_id_form: HashIdForm | None,
    mfa_secrets: bool,
) -> ExportFiles:
    """:func:`write_export` of a strategy's :class:`Auth0Export`: its records as they are."""
    if hash_id_form is not None:
        msg = "hash_id_form applies to generated users only: drawn records keep their own forms"
        raise ValueError(msg)
    users_path = _write_users(directory, export.users, fmt)
    hashes_path = _write_hashes(directory, export.password_hashes, hash_fmt) if hashes else None
    mfa_path = None
    if mfa_secrets and export.mfa_secrets:
        mfa_path = _write_mfa(directory, export.mfa_secrets)
    return ExportFiles(users_path, hashes_path, mfa_path)


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
