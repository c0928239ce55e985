"""What a planned identity was mapped from, as one digest: ``sync``'s fast path (pure).

``sync`` compares a new export with what was imported. Mapping every user again to find
the 99 % who did not change costs most of its time; a user whose inputs did not change
maps to the very body that was written, so comparing the inputs is enough. The inputs of
one user's mapping, when nobody is merged into it and it has no note (then nothing but
these decides its body), are: the Auth0 record, the password-hash entry the join gave it,
its MFA secret and recovery-code count, and the mapping options. :func:`source_digest`
digests them; the ledger keeps a keyed digest of it (never this one: it is not keyed)
with the user's :class:`IdentityCounts`, so that an unchanged user is counted in the
report without being mapped.

A digest that differs proves nothing (a key order, another version): the user is then
mapped and compared as any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from ._json import dumps


if TYPE_CHECKING:
    from ._mapping import MappingOptions, PasswordSource
    from ._password_hashes import IndexedHash

__all__ = ["IdentityCounts", "SourceMark", "options_digest", "source_digest"]


@frozen
class IdentityCounts:
    """What one planned identity adds to a report's counts (nobody merged into it, no note).

    Attributes:
        password: Where its password comes from (``hash``, ``hook`` or ``none``).
        social_logins: Its social logins.
        connections: The connection of each social login (``logins_by_connection``).
        blocked: Imported inactive (blocked in Auth0).
        totp: With a TOTP credential.

    .. versionadded:: 0.1.0
    """

    password: PasswordSource
    social_logins: int = 0
    connections: tuple[str, ...] = ()
    blocked: bool = False
    totp: bool = False

    def to_json(self) -> list[Any]:
        """The counts as the ledger keeps them (``[password, social_logins, [connections], ...]``).

        .. versionadded:: 0.1.0
        """
        return [self.password, self.social_logins, list(self.connections), self.blocked, self.totp]

    @classmethod
    def from_json(cls, value: object) -> IdentityCounts | None:
        """The counts of :meth:`to_json`'s list; None for anything else (a damaged line).

        .. versionadded:: 0.1.0
        """
        if type(value) is not list or len(value) != 5:
            return None
        password, social, connections, blocked, totp = value
        if (
            password not in ("hash", "hook", "none")
            or type(social) is not int
            or social < 0
            or type(connections) is not list
            or not all(type(c) is str for c in connections)
            or type(blocked) is not bool
            or type(totp) is not bool
        ):
            return None
        return cls(password, social, tuple(connections), blocked, totp)


@frozen
class SourceMark:
    """What a planned identity was mapped from (:func:`source_digest`), with its counts.

    A plan made with ``sources=True`` gives one to each planned identity that has no note
    and nobody merged into it; :func:`~auth0_ory_migrate.import_identities` and ``sync``
    record a keyed digest of it, so that the next ``sync`` counts the user as unchanged
    without mapping it again while these inputs stay the same.

    Attributes:
        digest: :func:`source_digest` of the inputs (16 bytes; hidden: it is not keyed).
        counts: What the identity adds to the report.

    .. versionadded:: 0.1.0
    """

    digest: bytes = field(repr=False)
    counts: IdentityCounts


def options_digest(options: MappingOptions) -> bytes | None:
    """A digest of the mapping *options*; None when they cannot say all the mapping does.

    Each option (:func:`attrs.fields` of :class:`~auth0_ory_migrate.MappingOptions`) goes
    in as JSON. None with roles and organizations (``options.authz``: a user's body holds
    data of other files), and when an option is not plain data (dicts, lists, strings,
    numbers): a trait mapping made of code, or a mapping of another type, says nothing of
    what it gives.

    .. versionadded:: 0.1.0
    """
    if options.authz is not None:
        return None
    values: dict[str, Any] = {}
    for a in attrs.fields(type(options)):
        if not a.init or a.name == "authz":
            continue
        value = getattr(options, a.name)
        if a.name == "enterprise" and type(value) is dict:
            value = {k: attrs.asdict(v) if attrs.has(type(v)) else v for k, v in value.items()}
        if not _plain(value):
            return None
        values[a.name] = value
    return hashlib.blake2b(
        json.dumps(values, sort_keys=True, ensure_ascii=False).encode(), digest_size=16
    ).digest()


def _plain(value: object) -> bool:
    """Whether *value* is JSON data made of dicts and lists (of their own types), all through."""
    if value is None or type(value) in (str, int, float, bool):
        return True
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if type(value) in (list, tuple):
        return all(_plain(v) for v in value)  # type: ignore[attr-defined]
    return False


def source_digest(
    options: bytes,
    raw: Mapping[str, Any],
    entry: IndexedHash | None,
    otp: str | None,
    recovery_codes: int,
) -> bytes:
    """A digest (16 bytes, BLAKE2b, not keyed) of what one user's mapping reads.

    Args:
        options: :func:`options_digest` of the mapping options.
        raw: The user's Auth0 record, as read (its keys in the file's order).
        entry: The password-hash entry the join gave the user, if any.
        otp: The user's TOTP secret, if any.
        recovery_codes: How many hashed recovery codes the user has.

    .. versionadded:: 0.1.0
    """
    h = hashlib.blake2b(options, digest_size=16)
    try:
        h.update(dumps(raw))
    except TypeError:  # (orjson: an integer beyond 64 bits)
        h.update(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode())
    h.update(b"\0")
    if entry is not None:
        h.update(dumps([entry.value, entry.set_at, entry.problem]))
    h.update(b"\0")
    if otp is not None:
        h.update(otp.encode())
    h.update(b"\0%d" % recovery_codes)
    return h.digest()
