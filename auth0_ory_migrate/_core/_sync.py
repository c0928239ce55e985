"""Plan a ``sync``: what changed in Auth0 since the import, and the writes to Ory it needs (pure).

An export is a snapshot; ``sync`` compares a new export with what was imported and plans
the writes that bring Ory up to date, nothing else. The rules, each applied per user:

- **What was imported** is known from the ledger as an :class:`ImportedRecord`: the Ory
  identity id, and a keyed digest of each *section* of the body sent (:func:`identity_sections`,
  :func:`section_digests`: never a hash or a TOTP secret in clear). A record without digests
  (imported before ``sync`` existed) is compared with Ory's identity instead (*remote*).
- **Create**: a planned user of the new export without a record (or whose record has no
  identity id) is created, as ``import`` creates it.
- **Unchanged**: every section's digest equals the record's: no write at all. (Fast path:
  the new body's :func:`body_fingerprint` equals the record's, the very body written;
  :func:`~auth0_ory_migrate.sync_plan_items` finds those in forked workers and hands them
  over as :class:`SeenUsers`, counted as unchanged.)
- **Update**: each section whose digest differs is a field of the update; the PUT body
  (:func:`update_request`) sends every field Ory's PUT would otherwise clear, so nothing that
  did not change is lost; a section Ory already holds as Auth0 has it is not written.
  Verification state and the organization go by JSON Patch after the PUT (PUT has no
  addresses: Ory derives them from the traits, and a new address starts unverified).
- **Password**: a new hash in the new hash file replaces the old one (``password="hash"``);
  a password reset in Auth0 after the hash we have (the mapping's ``stale_password_hash``
  note), or after our last write when the new run has no hash for the user
  (``last_password_reset`` later than :attr:`ImportedRecord.written_at`), switches the
  credential to the password-migration hook (``password="hook"``). A user mapped to the
  hook only because the new run has no hash for them, with no reset since our write, keeps
  the password Ory has (no write, the record keeps its digest). A user on the hook still,
  reset in Auth0 after our write, is sent the hook again (Ory may hold the old password:
  with *remote*, that is a conflict, below). A user now without any password keeps the one
  Ory has. A TOTP credential Auth0 no longer has goes (:attr:`SyncOp.unlink`).
- **Changed in Ory too** (only when Ory's identity is given as *remote*): a section that
  changed in Auth0 *and* in Ory since our write (Ory's digest differs from the record's)
  is a conflict: Ory wins for the credentials it now holds (``password``, ``totp``: the user
  logged in through the hook and Ory stored the password, or enrolled again), Auth0 wins
  for the rest; the user is reported as a ``conflict`` op naming the sections, still
  updated for the sections Auth0 wins. A section that changed only in Ory is kept (PUT
  sends Ory's value back); a section already as Auth0 has it is not written.
- **OIDC and SAML links** are only added, each at most once (Ory's PUT appends the links it
  is sent: one sent twice would be stored twice). A link is dropped only when the user
  unlinked it in Auth0: present in the record (the digest of these sections is one digest
  per link) and absent from the new export; dropping needs Ory's identity to name it
  (:attr:`SyncOp.unlink`, Ory's ``DELETE .../credentials/{type}?identifier=``).
- **Removed**: a user of the record absent from a complete new export is a ``remove`` op
  (the action is ``removed``: ``keep``, ``deactivate`` or ``delete``). A partial export
  (``complete_export=False``), or an unreadable record without a user id (it could be any
  user), plans no removal and says why (:attr:`SyncPlan.removals_refused`). A user the new
  export skips, or cannot read, is still in Auth0: never removed.
- **Imported before sync** (no digests): with Ory's identity, a section that differs is
  updated as Auth0 has it, but for the password Ory holds (kept unless the user's Auth0
  reset is later than Ory's credential), a TOTP credential Auth0 lacks (kept) and links
  (only added); without it, the user is counted as ``unchecked`` and has no op.

Without *remote*, changes made in Ory are not seen (Auth0 wins every section it changed)
and an unlinked link cannot be named: an engine that wants the conflict rule hands
:func:`plan_sync` a mapping that fetches Ory's identity on ``get`` (asked only for users
that changed in Auth0 or have no digests).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, Final, Literal, Protocol, TypeAlias, get_args

from attrs import field, frozen

from ..exceptions import ConfigurationError
from ._json import HAVE_ORJSON, dumps
from ._mapping import IdentityBody, PlannedIdentity, Skipped
from ._ory import normalize_identifier
from ._password_hashes import to_epoch
from ._plan import PlanItem
from ._source import SourceMark


__all__ = [
    "SYNC_SECTIONS",
    "ImportedRecord",
    "RemovalAction",
    "SeenUsers",
    "SyncKind",
    "SyncOp",
    "SyncPlan",
    "SyncSection",
    "body_fingerprint",
    "identity_sections",
    "plan_sync",
    "section_digests",
    "update_request",
]

#: A part of an identity that ``sync`` compares, digests and updates on its own.
SyncSection: TypeAlias = Literal[
    "traits",
    "state",
    "addresses",
    "metadata_public",
    "metadata_admin",
    "oidc",
    "saml",
    "password",
    "totp",
    "organization",
]

#: Every :data:`SyncSection`, in the order plans list them.
SYNC_SECTIONS: Final[tuple[SyncSection, ...]] = get_args(SyncSection)

#: What a :class:`SyncOp` does.
SyncKind: TypeAlias = Literal["create", "update", "remove", "conflict"]

#: What ``sync`` does with an identity whose Auth0 user is gone.
RemovalAction: TypeAlias = Literal["keep", "deactivate", "delete"]

_LINK_SECTIONS: Final = ("oidc", "saml")
_CREDENTIAL_SECTIONS: Final = frozenset({"password", "totp"})  # Ory wins these on a conflict
_PUT_SECTIONS: Final = frozenset(
    {"traits", "state", "metadata_public", "metadata_admin", "password", "totp"}
)

Link: TypeAlias = tuple[str, str, str | None]  # (provider, subject, organization)

_HOOK: Final = {"hook": True}
_BEFORE_PASSWORD: Final = frozenset(SYNC_SECTIONS[: SYNC_SECTIONS.index("password")])


# -- the normalised view ------------------------------------------------------------------------


def _object(value: Any) -> Any:
    """A JSON object as is; an empty object or none at all is None (Ory shows both as null)."""
    return value if value else None


def _config(credentials: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    credential = credentials.get(kind)
    if not isinstance(credential, Mapping):
        return None
    config = credential.get("config")
    return config if isinstance(config, Mapping) else {}


def _links(credentials: Mapping[str, Any], kind: str) -> tuple[Link, ...]:
    config = _config(credentials, kind)
    providers = config.get("providers") if config else None
    if not providers:
        return ()
    return tuple(
        sorted(
            {
                (str(p.get("provider")), str(p.get("subject")), p.get("organization") or None)
                for p in providers
                if isinstance(p, Mapping)
            },
            key=lambda link: (link[0], link[1], link[2] or ""),
        )
    )


def _password_view(credentials: Mapping[str, Any]) -> dict[str, Any] | None:
    credential = credentials.get("password")
    if not isinstance(credential, Mapping):
        return None
    config = credential.get("config")
    if not isinstance(config, Mapping):  # listed without its configuration (no include_credential)
        return {"unknown": True}
    hashed = config.get("hashed_password")
    if hashed:
        return {"hash": hashed}
    if config.get("use_password_migration_hook") is True:
        return {"hook": True}
    return None  # the email's identifier only (an identity with social logins only)


def identity_sections(identity: Mapping[str, Any]) -> dict[SyncSection, Any]:
    """The normalised view of an identity, section by section, that ``sync`` compares.

    The same user gives the same view whether *identity* is the ``CreateIdentityBody`` that
    was sent or the identity as Ory returns it from ``GET /admin/identities/{id}`` with
    ``include_credential=password``, ``oidc`` and ``totp`` (credentials' configs, addresses
    with ids, statuses and timestamps):

    - ``traits``, ``metadata_public``, ``metadata_admin``: the objects (an empty one is None);
    - ``state``: ``"active"`` or ``"inactive"``;
    - ``addresses``: the verifiable addresses as sorted ``(via, value, verified)``, the value
      normalised as Ory stores it (trimmed, NFKC, lower-case);
    - ``oidc``, ``saml``: the links as sorted ``(provider, subject, organization)``;
    - ``password``: ``{"hash": ...}``, ``{"hook": True}`` or None (``{"unknown": True}`` for
      a credential Ory listed without its configuration);
    - ``totp``: the ``totp_url`` or None; ``organization``: the organization id or None.

    It holds the password hash and TOTP secret in clear: keep it in memory, digest it with
    :func:`section_digests` before it goes anywhere.

    .. versionadded:: 0.1.0
    """
    credentials = identity.get("credentials")
    if not isinstance(credentials, Mapping):
        credentials = {}
    addresses = identity.get("verifiable_addresses")
    totp = _config(credentials, "totp")
    return {
        "traits": _object(identity.get("traits")),
        "state": identity.get("state") or "active",
        "addresses": tuple(
            sorted(
                (
                    str(a.get("via")),
                    normalize_identifier(str(a.get("value"))),
                    a.get("verified") is True,
                )
                for a in addresses
                if isinstance(a, Mapping)
            )
        )
        if addresses
        else (),
        "metadata_public": _object(identity.get("metadata_public")),
        "metadata_admin": _object(identity.get("metadata_admin")),
        "oidc": _links(credentials, "oidc"),
        "saml": _links(credentials, "saml"),
        "password": _password_view(credentials),
        "totp": (totp.get("totp_url") or None) if totp else None,
        "organization": identity.get("organization_id") or None,
    }


# -- digests ------------------------------------------------------------------------------------

if HAVE_ORJSON:
    import orjson

    def _canonical(value: Any) -> bytes:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # an integer beyond 64 bits, a key that is not a string: rare
            return _canonical_json(value)

else:  # pragma: no cover - depends on the environment

    def _canonical(value: Any) -> bytes:
        return _canonical_json(value)


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


_MACS: dict[bytes, Any] = {}


_NULL_DIGESTS: dict[bytes, str] = {}


def _mac(key: bytes) -> Any:
    """A keyed BLAKE2b object for *key*, made once (copied for each digest: a third the cost)."""
    mac = _MACS.get(key)
    if mac is None:
        if not key:
            msg = "the digest key is empty: the digests would be guessable"
            raise ConfigurationError(msg)
        if len(_MACS) > 8:
            _MACS.clear()
            _NULL_DIGESTS.clear()
        material = key if len(key) <= hashlib.blake2b.MAX_KEY_SIZE else hashlib.sha256(key).digest()
        mac = _MACS[key] = hashlib.blake2b(key=material, digest_size=16)
        _NULL_DIGESTS[key] = _digest(mac, b"null")
    return mac


def _digest(mac: Any, data: bytes) -> str:
    h = mac.copy()
    h.update(data)
    return str(h.hexdigest())


def _link_digests(mac: Any, links: Iterable[Link]) -> list[str]:
    return [_digest(mac, _canonical(link)) for link in links]


def section_digests(sections: Mapping[SyncSection, Any], key: bytes) -> dict[SyncSection, str]:
    """A keyed digest of each section of :func:`identity_sections`: never a secret in clear.

    Each digest is keyed BLAKE2b (a MAC, from :mod:`hashlib`) with *key* over the section's
    canonical JSON (sorted keys, compact), 32 hex characters. The ``oidc`` and ``saml``
    digests are one such digest per link, sorted and joined with ``,`` (empty without
    links), so that ``sync`` can tell which link the user unlinked in Auth0.

    Args:
        sections: What :func:`identity_sections` returned.
        key: The state directory's secret digest key (keep it apart from the digests).

    Raises:
        ConfigurationError: *key* is empty.

    .. versionadded:: 0.1.0
    """
    mac = _mac(key)
    null = _NULL_DIGESTS[key]
    digests: dict[SyncSection, str] = {}
    for name in SYNC_SECTIONS:
        value = sections.get(name)
        if name in _LINK_SECTIONS:
            digests[name] = ",".join(sorted(_link_digests(mac, value))) if value else ""
        elif value is None:
            digests[name] = null
        else:
            digests[name] = _digest(mac, _canonical(value))
    return digests


def keyed_digest(data: bytes, key: bytes) -> bytes:
    """The keyed digest (16 bytes) of *data*, as :func:`section_digests` makes them."""
    h = _mac(key).copy()
    h.update(data)
    return bytes(h.digest())


def line_fingerprint(line: bytes, key: bytes) -> bytes:
    """:func:`body_fingerprint` of the body whose compact JSON is *line*, as 16 bytes.

    *line* is what :func:`~auth0_ory_migrate.dump_identity` wrote (its newline left out or
    not): the workers of a sync's planning compare it with the record's without parsing.
    """
    return keyed_digest(line[:-1] if line.endswith(b"\n") else line, key)


def body_fingerprint(body: Mapping[str, Any], key: bytes) -> str:
    """A keyed digest of a body exactly as it is (its JSON, key order included).

    :func:`plan_sync`'s fast path: the body planned from an unchanged Auth0 record is the
    same, byte for byte, as the one written for it, and one digest of it costs a fraction
    of :func:`identity_sections` and :func:`section_digests`. A different fingerprint
    proves nothing (keys in another order, another version of the mapping): the sections
    are compared then. 32 hex characters, keyed BLAKE2b as :func:`section_digests`.

    .. versionadded:: 0.1.0
    """
    try:
        data = dumps(body)
    except TypeError:  # (orjson: an integer beyond 64 bits)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return _digest(_mac(key), data)


# -- records and plans --------------------------------------------------------------------------


@frozen
class ImportedRecord:
    """What was imported for one Auth0 user, as the ledger knows it.

    Attributes:
        external_id: The Auth0 user id.
        identity_id: The Ory identity id (None: the import did not finish for this user).
        digests: :func:`section_digests` of the body last written; None for users imported
            before ``sync`` existed (``sync`` then compares with Ory's identity).
        written_at: When Ory answered our last write (epoch seconds), if known.
        fingerprint: :func:`body_fingerprint` of the body last written, if recorded: a
            user whose new body has the same fingerprint is unchanged (a fast path; with
            *digests* only).

    .. versionadded:: 0.1.0
    """

    external_id: str
    identity_id: str | None
    digests: Mapping[SyncSection, str] | None = field(default=None, repr=False)
    written_at: float | None = None
    fingerprint: str | None = field(default=None, repr=False)


@frozen
class SeenUsers:
    """Users of a new export that need no op, found so before :func:`plan_sync` (a batch).

    :func:`~auth0_ory_migrate.sync_plan_items` hands these to :func:`plan_sync` among the
    plan items: planned users whose body's :func:`body_fingerprint` is the record's (the
    very body last written: unchanged), and users the new export skips. Their user ids
    (the merged ones included) tell :func:`plan_sync` that they are still in Auth0.

    Attributes:
        user_ids: The users' Auth0 ids.
        unchanged: How many of them are planned users found unchanged.

    .. versionadded:: 0.1.0
    """

    user_ids: tuple[str | None, ...] = field(repr=False)
    unchanged: int = 0


@frozen
class SyncOp:
    """One write (or report) of a sync, for one user.

    Attributes:
        external_id: The Auth0 user id.
        kind: ``create``, ``update``, ``remove``, or ``conflict`` (changed in Auth0 and in
            Ory: updated for the sections Auth0 wins, see the module's rules).
        identity_id: The Ory identity (None for a create).
        fields: The sections written (an update's or a conflict's); ``()`` for a create or
            a remove.
        body: The planned ``CreateIdentityBody`` (a create sends it; hidden: it may hold a hash).
        put: The ``PUT /admin/identities/{id}`` body (:func:`update_request`), None when no
            PUT is needed (hidden: it may hold a hash).
        patch: JSON Patch operations to send after the PUT (verification state, the
            organization, a deactivation), maybe none.
        password: The password change this op carries: ``"hash"`` (a new hash) or
            ``"hook"`` (switched to the password-migration hook), or None.
        detail: What changed and why, for humans (never a secret).
        line: The user's line in the new export (0 for a remove).
        unlink: Links to delete after the PUT, ``(credential type, identifier)`` as Ory's
            ``DELETE /admin/identities/{id}/credentials/{type}?identifier=`` takes them
            (``provider:subject``; ``("totp", "")`` for the TOTP credential).
        conflicts: The sections that changed in Auth0 and in Ory.
        digests: The digests to record once the op is done (what Auth0 had, but for a
            password left as it was); None for a remove.
        fingerprint: :func:`body_fingerprint` of :attr:`body`, to record with the digests
            once the op is done; None for a remove.
        source: What :attr:`body` was mapped from (the planned identity's
            :attr:`~auth0_ory_migrate.PlannedIdentity.source`), to record with the
            fingerprint, if known.

    .. versionadded:: 0.1.0
    """

    external_id: str
    kind: SyncKind
    identity_id: str | None
    fields: tuple[SyncSection, ...] = ()
    body: IdentityBody = field(factory=dict, repr=False, eq=False)
    put: IdentityBody | None = field(default=None, repr=False)
    patch: tuple[Mapping[str, Any], ...] = ()
    password: Literal["hash", "hook"] | None = None
    detail: str = ""
    line: int = 0
    unlink: tuple[tuple[str, str], ...] = ()
    conflicts: tuple[SyncSection, ...] = ()
    digests: Mapping[SyncSection, str] | None = field(default=None, repr=False)
    fingerprint: str | None = field(default=None, repr=False)
    source: SourceMark | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The op for a plan file: no body, no digest (nothing secret).

        .. versionadded:: 0.1.0
        """
        return {
            "external_id": self.external_id,
            "kind": self.kind,
            "identity_id": self.identity_id,
            "fields": list(self.fields),
            "password": self.password,
            "conflicts": list(self.conflicts),
            "detail": self.detail,
            "line": self.line,
        }


@frozen
class SyncPlan:
    """What a sync will do: the ops, and their counts.

    Attributes:
        ops: The ops, in export order; removes last.
        unchanged: Users whose record matches the new export: no write.
        creates: Users to create.
        updates: Users to update, by section (a user counts once in each section it changes).
        password_to_hook: Users whose password switches to the hook.
        password_new_hash: Users who get a new hash.
        conflicts: Users changed in Auth0 and in Ory (``conflict`` ops).
        removed: Imported users absent from the new export (``remove`` ops).
        removal_action: What is done with them.
        removals_refused: Why no removal was planned (a partial export), or None.
        compared_with_ory: Users imported before ``sync`` existed, compared with Ory's identity.
        unchecked: Users imported before ``sync`` existed whose Ory identity was not given:
            not compared, no op.

    .. versionadded:: 0.1.0
    """

    ops: tuple[SyncOp, ...]
    unchanged: int = 0
    creates: int = 0
    updates: Mapping[SyncSection, int] = field(factory=dict)
    password_to_hook: int = 0
    password_new_hash: int = 0
    conflicts: int = 0
    removed: int = 0
    removal_action: RemovalAction = "keep"
    removals_refused: str | None = None
    compared_with_ory: int = 0
    unchecked: int = 0

    def counts(self) -> dict[str, Any]:
        """The counts, for ``sync --dry-run``'s summary (JSON-ready).

        .. versionadded:: 0.1.0
        """
        return {
            "create": self.creates,
            "update": sum(1 for op in self.ops if op.kind == "update"),
            "update_by_field": {s: self.updates[s] for s in SYNC_SECTIONS if s in self.updates},
            "unchanged": self.unchanged,
            "password_to_hook": self.password_to_hook,
            "password_new_hash": self.password_new_hash,
            "conflicts": self.conflicts,
            "removed": self.removed,
            "removal_action": self.removal_action,
            "removals_refused": self.removals_refused,
            "compared_with_ory": self.compared_with_ory,
            "unchecked": self.unchecked,
        }

    def iter_json(self) -> Iterator[bytes]:
        """One JSON line per op (:meth:`SyncOp.to_json`: no body, nothing secret).

        .. versionadded:: 0.1.0
        """
        for op in self.ops:
            yield dumps(op.to_json()) + b"\n"


# -- the PUT and the PATCH ----------------------------------------------------------------------


def _link_key(link: Mapping[str, Any]) -> tuple[str, str]:
    return (str(link.get("provider")), str(link.get("subject")))


def _providers(identity: Mapping[str, Any] | None, kind: str) -> list[Mapping[str, Any]]:
    credentials = identity.get("credentials") if identity else None
    config = _config(credentials, kind) if isinstance(credentials, Mapping) else None
    providers = config.get("providers") if config else None
    return [p for p in providers or () if isinstance(p, Mapping)]


def _links_unseen(identity: Mapping[str, Any] | None, kind: str) -> bool:
    """Whether *identity* has *kind* links that it lists without their configuration.

    (Read without ``include_credential=<kind>``: which links Ory has is not known, and
    sending any could store one twice.)
    """
    credentials = identity.get("credentials") if identity else None
    credential = credentials.get(kind) if isinstance(credentials, Mapping) else None
    return isinstance(credential, Mapping) and not isinstance(credential.get("config"), Mapping)


def _addresses(identity: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    addresses = identity.get("verifiable_addresses") if identity else None
    return [a for a in addresses or () if isinstance(a, Mapping)]


def _status(verified: bool) -> str:
    return "completed" if verified else "pending"


def _address_patch(
    planned: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The JSON Patch that gives Ory's addresses the verification state of *planned*.

    One ``replace`` of the whole ``/verifiable_addresses`` list, so that no index is
    guessed (Kratos's PATCH has no ``test``): Ory keeps, of the list it is sent, the
    entries of the addresses its schema derives from the traits, matched by channel and
    normalised value (``SchemaExtensionVerification``), whatever their order, and ignores
    the rest. The list is *stored*'s addresses as they are (ids, timestamps), those whose
    state changes with the new state, and *planned*'s addresses *stored* lacks. Empty when
    *stored* already has that state (a new address after a PUT starts unverified). With
    *stored* unknown (None), *planned*'s addresses, always.
    """
    wanted = {
        (str(a.get("via")), normalize_identifier(str(a.get("value")))): a.get("verified") is True
        for a in _addresses(planned)
    }
    entries: list[dict[str, Any]] = []
    changed = stored is None or "verifiable_addresses" not in stored
    present: set[tuple[str, str]] = set()
    for address in _addresses(stored):
        key = (str(address.get("via")), normalize_identifier(str(address.get("value"))))
        present.add(key)
        entry = dict(address)
        target = wanted.get(key)
        if target is not None and target != (address.get("verified") is True):
            changed = True
            entry["verified"] = target
            entry["status"] = _status(target)
            entry.pop("verified_at", None)
        entries.append(entry)
    for (via, value), target in wanted.items():
        if (via, value) not in present:
            changed = changed or target
            entries.append(
                {"value": value, "via": via, "verified": target, "status": _status(target)}
            )
    if not changed:
        return []
    return [{"op": "replace", "path": "/verifiable_addresses", "value": entries}]


def update_request(
    planned: Mapping[str, Any],
    remote: Mapping[str, Any] | None,
    fields: Collection[SyncSection],
) -> tuple[IdentityBody, tuple[Mapping[str, Any], ...]]:
    """The ``PUT /admin/identities/{id}`` body and the JSON Patch that follows it.

    Ory's PUT (Kratos ``identity/handler.go``, ``update``) replaces ``traits``,
    ``metadata_public``, ``metadata_admin`` and ``external_id`` with what it is sent
    (left out: wiped), keeps ``schema_id`` and ``state`` when they are empty, keeps the
    credentials when none are sent; a credential sent replaces the ``password`` and ``totp``
    credentials and is *appended* to the ``oidc`` and ``saml`` links. It has no addresses
    (Ory derives them from the traits; a new address starts unverified) and no organization.
    So the body carries every replaced field: the sections in *fields* as *planned* has
    them, the others as *remote* (Ory's identity) has them; credentials only for the
    sections in *fields*, and of the links only those Ory does not have yet (none when
    *remote* lists a link credential without its configuration: read it with
    ``include_credential=oidc`` and ``saml``). The
    verification state and the organization follow as JSON Patch (Ory's PATCH refuses
    ``/id``, ``/stateChangedAt`` and ``/credentials`` with its OIDC and SAML subtrees, not
    these, and takes only ``add``, ``remove`` and ``replace``): one ``replace`` of the whole
    ``/verifiable_addresses`` list (Ory matches its entries to the addresses it derives by
    value, not by index) and an ``add`` of ``/organization_id``.

    Args:
        planned: The new ``CreateIdentityBody`` (the user as Auth0 has it now).
        remote: Ory's identity (``GET`` with credentials), or None: then every section not in
            *fields* is taken from *planned* (per the record's digests, it is what we wrote),
            and *planned*'s links are all sent (the caller passes only the new ones).
        fields: The sections to write.

    Returns:
        The PUT body, and the JSON Patch operations to send after it (maybe none).

    .. versionadded:: 0.1.0
    """
    base = remote if remote is not None else planned

    def pick(section: SyncSection, key: str) -> Any:
        source = planned if section in fields else base
        return source.get(key)

    schema_id = planned.get("schema_id") if "traits" in fields else base.get("schema_id")
    body: IdentityBody = {
        "schema_id": schema_id or planned.get("schema_id"),
        "traits": pick("traits", "traits") or {},
        "state": pick("state", "state") or "active",
    }
    external_id = planned.get("external_id") or base.get("external_id")
    if external_id:
        body["external_id"] = external_id
    for section in ("metadata_public", "metadata_admin"):
        value = pick(section, section)
        if value is not None:
            body[section] = value
    planned_credentials = planned.get("credentials") or {}
    credentials: dict[str, Any] = {}
    if "password" in fields and planned_credentials.get("password"):
        credentials["password"] = planned_credentials["password"]
    if "totp" in fields and planned_credentials.get("totp"):
        credentials["totp"] = planned_credentials["totp"]
    for kind in _LINK_SECTIONS:
        if kind not in fields or _links_unseen(remote, kind):
            continue
        have = {_link_key(p) for p in _providers(remote, kind)} if remote is not None else set()
        new: list[Mapping[str, Any]] = []
        for link in _providers(planned, kind):
            if _link_key(link) not in have:
                have.add(_link_key(link))
                new.append(dict(link))
        if new:
            credentials[kind] = {"config": {"providers": new}}
    if credentials:
        body["credentials"] = credentials

    patch: list[dict[str, Any]] = []
    if "addresses" in fields:
        patch.extend(_address_patch(planned, remote))
    if "organization" in fields:
        patch.append(
            {"op": "add", "path": "/organization_id", "value": planned.get("organization_id")}
        )
    return body, tuple(patch)


# -- the plan -----------------------------------------------------------------------------------


def _last_password_reset(body: Mapping[str, Any]) -> float | None:
    admin = body.get("metadata_admin")
    auth0 = admin.get("auth0") if isinstance(admin, Mapping) else None
    value = auth0.get("last_password_reset") if isinstance(auth0, Mapping) else None
    return to_epoch(value) if isinstance(value, str) else None


def _ory_password_time(remote: Mapping[str, Any]) -> float | None:
    credentials = remote.get("credentials")
    password = credentials.get("password") if isinstance(credentials, Mapping) else None
    value = password.get("updated_at") if isinstance(password, Mapping) else None
    return to_epoch(value) if isinstance(value, str) else None


def _later(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and a > b


def _identifier(link: Link) -> str:
    return f"{link[0]}:{link[1]}"


@frozen
class _Decision:
    fields: tuple[SyncSection, ...]
    password: Literal["hash", "hook"] | None
    conflicts: tuple[SyncSection, ...]
    unlink: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    keep_password: bool  # the record keeps its password digest


class _Seen(Protocol):
    """The users of the new export seen so far (what :func:`plan_sync` keeps of each).

    Only whether a user of *previous* was seen is ever asked: an implementation may keep
    nothing of the others. *previous* may bring its own (a ``seen_marks()`` method, as
    :class:`~auth0_ory_migrate.ImportedRecords` has: a bit per record); otherwise
    :class:`_HashSeen`.
    """

    def add(self, user_id: str | None) -> None: ...

    def update(self, user_ids: Iterable[str | None]) -> None: ...

    def __contains__(self, external_id: object) -> bool: ...

    def unseen(self, previous: Iterable[str]) -> Iterator[str]:
        """The users of *previous* not seen, in its order."""
        ...


class _HashSeen:
    """The users seen, as their ``hash()``: a machine word each.

    (A ``hash()`` collision can only hide a removal: the safe side.)
    """

    def __init__(self) -> None:
        self._hashes: set[int] = set()

    def add(self, user_id: str | None) -> None:
        self._hashes.add(hash(user_id))

    def update(self, user_ids: Iterable[str | None]) -> None:
        self._hashes.update(map(hash, user_ids))

    def __contains__(self, external_id: object) -> bool:
        return hash(external_id) in self._hashes

    def unseen(self, previous: Iterable[str]) -> Iterator[str]:
        hashes = self._hashes
        return (external_id for external_id in previous if hash(external_id) not in hashes)


class _Planner:
    """The state of one :func:`plan_sync` run."""

    def __init__(
        self,
        previous: Mapping[str, ImportedRecord],
        key: bytes,
        remote: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        self.previous = previous
        self.key = key
        self.remote = remote
        self.mac = _mac(key)
        self.ops: list[SyncOp] = []
        marks = getattr(previous, "seen_marks", None)
        self.seen: _Seen = marks() if callable(marks) else _HashSeen()
        self.unchanged = 0
        self.creates = 0
        self.updates: Counter[SyncSection] = Counter()
        self.to_hook = 0
        self.new_hash = 0
        self.conflicts = 0
        self.compared = 0
        self.unchecked = 0
        self.anonymous_unreadable = 0

    def planned(self, item: PlannedIdentity) -> None:
        self.seen.add(item.external_id)
        self.seen.update(item.merged_user_ids)
        record = self.previous.get(item.external_id)
        body = item.body
        takeover = None
        if record is None or record.identity_id is None:
            takeover = self._merged_record(item)
            record = takeover or record
        fingerprint = body_fingerprint(body, self.key)  # (once: it serialises the whole body)
        if record is None or record.identity_id is None:
            self.creates += 1
            self.ops.append(
                SyncOp(
                    item.external_id,
                    "create",
                    None,
                    body=body,
                    detail="new in Auth0" if record is None else "not imported yet",
                    line=item.line,
                    digests=section_digests(identity_sections(body), self.key),
                    fingerprint=fingerprint,
                    source=item.source,
                )
            )
            return
        if (
            takeover is None
            and record.fingerprint is not None
            and record.digests is not None
            and fingerprint == record.fingerprint
        ):
            self.unchanged += 1  # the very body written: no section can differ
            return
        sections = identity_sections(body)
        digests = section_digests(sections, self.key)
        if record.digests is None:
            remote = self.remote.get(record.external_id) if self.remote is not None else None
            if remote is None:
                self.unchecked += 1
                return
            self.compared += 1
            decision = self._against_ory(item, sections, digests, remote)
        else:
            before = record.digests
            changed = [s for s in SYNC_SECTIONS if digests[s] != before.get(s)]
            if (
                "password" not in changed
                and sections["password"] == _HOOK
                and _later(_last_password_reset(body), record.written_at)
            ):  # on the hook still, but reset in Auth0 since: Ory may hold the old password
                changed.insert(sum(1 for s in changed if s in _BEFORE_PASSWORD), "password")
            if not changed and takeover is None:
                self.unchanged += 1
                return
            remote = None
            if self.remote is not None:
                remote = self.remote.get(record.external_id)
            decision = self._against_record(
                item, record, sections, digests, changed=changed, remote=remote
            )
        self._add_update(
            item,
            record,
            digests,
            decision,
            remote,
            fingerprint=fingerprint,
            takeover=takeover is not None,
        )

    def _merged_record(self, item: PlannedIdentity) -> ImportedRecord | None:
        """The record of an imported user merged into *item* now (its identity is *item*'s).

        A user skipped at import (the same email as an imported user, unverified) who has
        verified it since is merged with that user, and may be the new holder (the first
        line): the identity holding the email is updated (its external id becomes the
        holder's), never a second one created (Ory would refuse it: 409).
        """
        for user_id in item.merged_user_ids:
            record = self.previous.get(user_id)
            if record is not None and record.identity_id is not None:
                return record
        return None

    def _password_change(
        self,
        item: PlannedIdentity,
        new: Mapping[str, Any] | None,
        since: float | None,
    ) -> Literal["hash", "hook"] | None:
        """Auth0's password change for *item*, or None: the password Ory has stays."""
        if new is None:
            return None
        if "hash" in new:
            return "hash"
        stale = any(note.code == "stale_password_hash" for note in item.notes)
        if stale or _later(_last_password_reset(item.body), since):
            return "hook"
        return None

    def _against_record(
        self,
        item: PlannedIdentity,
        record: ImportedRecord,
        sections: Mapping[SyncSection, Any],
        digests: Mapping[SyncSection, str],
        *,
        changed: list[SyncSection],
        remote: Mapping[str, Any] | None,
    ) -> _Decision:
        before = record.digests or {}
        notes: list[str] = []
        password: Literal["hash", "hook"] | None = None
        keep_password = False
        if "password" in changed:
            password = self._password_change(item, sections["password"], record.written_at)
            if password is None:
                changed.remove("password")
                keep_password = True
        fields = list(changed)
        conflicts: list[SyncSection] = []
        unlink: list[tuple[str, str]] = []
        if remote is not None:
            remote_sections = identity_sections(remote)
            remote_digests = section_digests(remote_sections, self.key)
            for section in changed:
                if section in _LINK_SECTIONS and _links_unseen(remote, section):
                    fields.remove(section)
                    notes.append(
                        f"Ory's identity was read without its {section} links: none is sent"
                    )
                    continue
                if section in _LINK_SECTIONS:
                    known = set(before.get(section, "").split(","))
                    planned_links = set(sections[section])
                    add = [
                        link for link in sections[section] if link not in remote_sections[section]
                    ]
                    for link, digest in zip(
                        remote_sections[section],
                        _link_digests(self.mac, remote_sections[section]),
                        strict=True,
                    ):
                        if link not in planned_links and digest in known:
                            unlink.append((section, _identifier(link)))
                    if not add:
                        fields.remove(section)
                    continue
                if remote_digests[section] == digests[section]:
                    fields.remove(section)  # Ory has it already
                    if section == "password":
                        password = None
                elif remote_digests[section] != before.get(section):
                    conflicts.append(section)
                    if section in _CREDENTIAL_SECTIONS:
                        fields.remove(section)
                        if section == "password":
                            password = None
                        notes.append(f"{section}: Ory's kept")
        else:
            for section in _LINK_SECTIONS:
                if section in changed:
                    known = set(before.get(section, "").split(","))
                    current = _link_digests(self.mac, sections[section])
                    if not known.issubset({"", *current}):
                        notes.append(
                            f"a {section} link was unlinked in Auth0: removing it needs "
                            "Ory's identity"
                        )
        if (
            "totp" in fields
            and sections["totp"] is None
            and (remote is None or identity_sections(remote)["totp"] is not None)
        ):
            fields.remove("totp")
            unlink.append(("totp", ""))
            notes.append("MFA removed in Auth0: the TOTP credential goes")
        return _Decision(
            tuple(fields), password, tuple(conflicts), tuple(unlink), tuple(notes), keep_password
        )

    def _against_ory(
        self,
        item: PlannedIdentity,
        sections: Mapping[SyncSection, Any],
        digests: Mapping[SyncSection, str],
        remote: Mapping[str, Any],
    ) -> _Decision:
        """A user imported before ``sync`` existed: Ory's identity is what we compare with.

        With no record of what was written, a difference cannot be told apart from a change
        in Ory: Auth0 wins, but for the password Ory holds (kept unless Auth0's reset is
        later than Ory's credential), a TOTP credential Auth0 no longer has (kept), and the
        links (only added, never dropped).
        """
        remote_sections = identity_sections(remote)
        remote_digests = section_digests(remote_sections, self.key)
        fields = [s for s in SYNC_SECTIONS if digests[s] != remote_digests[s]]
        notes = ["imported before sync: compared with Ory's identity"]
        password: Literal["hash", "hook"] | None = None
        keep_password = False
        if "password" in fields:
            held = remote_sections["password"]
            new = sections["password"]
            if new is not None and (
                held is None
                or "hook" in held
                or any(n.code == "stale_password_hash" for n in item.notes)
                or _later(_last_password_reset(item.body), _ory_password_time(remote))
            ):
                password = "hash" if "hash" in new else "hook"
            else:  # Ory holds a password Auth0 has no newer one than: it stays
                fields.remove("password")
                keep_password = True
        if "totp" in fields and sections["totp"] is None:
            fields.remove("totp")
        for section in _LINK_SECTIONS:
            if section in fields and (
                _links_unseen(remote, section)
                or set(sections[section]) <= set(remote_sections[section])
            ):
                fields.remove(section)
        return _Decision(tuple(fields), password, (), (), tuple(notes), keep_password)

    def _add_update(
        self,
        item: PlannedIdentity,
        record: ImportedRecord,
        digests: Mapping[SyncSection, str],
        decision: _Decision,
        remote: Mapping[str, Any] | None,
        *,
        fingerprint: str,
        takeover: bool = False,
    ) -> None:
        fields = decision.fields
        if not fields and not decision.conflicts and not decision.unlink and not takeover:
            self.unchanged += 1
            return
        kept = dict(digests)
        if decision.keep_password and record.digests is not None:
            kept["password"] = record.digests.get("password", kept["password"])
        put: IdentityBody | None = None
        patch: tuple[Mapping[str, Any], ...] = ()
        if fields:
            base = remote
            if base is None:
                base = self._as_written(item.body, record)
            body, patch = update_request(item.body, base, fields)
            if _PUT_SECTIONS.intersection(fields) or "credentials" in body:
                put = body
        if takeover and put is None:  # the new holder's external id: a PUT of it alone
            put, _ = update_request(
                item.body, remote if remote is not None else self._as_written(item.body, record), ()
            )
        for section in fields:
            self.updates[section] += 1
        if decision.password == "hook":
            self.to_hook += 1
        elif decision.password == "hash":
            self.new_hash += 1
        kind: SyncKind = "conflict" if decision.conflicts else "update"
        if decision.conflicts:
            self.conflicts += 1
        parts = []
        if fields:
            parts.append("changed in Auth0: " + ", ".join(fields))
        if decision.password == "hook":
            parts.append("password reset in Auth0: switched to the password-migration hook")
        elif decision.password == "hash":
            parts.append("password: the new hash")
        if decision.conflicts:
            parts.append("changed in Auth0 and in Ory: " + ", ".join(decision.conflicts))
        if decision.unlink:
            parts.append("removed in Auth0: " + ", ".join(t for t, _ in decision.unlink))
        if takeover:
            parts.append(
                f"merged with {record.external_id} (imported): its identity is this user's now"
            )
        parts.extend(decision.notes)
        self.ops.append(
            SyncOp(
                item.external_id,
                kind,
                record.identity_id,
                fields=fields,
                body=item.body,
                put=put,
                patch=patch,
                password=decision.password,
                detail="; ".join(parts),
                line=item.line,
                unlink=decision.unlink,
                conflicts=decision.conflicts,
                digests=kept,
                fingerprint=fingerprint,
                source=item.source,
            )
        )

    def _as_written(self, body: Mapping[str, Any], record: ImportedRecord) -> dict[str, Any]:
        """What Ory holds as far as the record knows: *body*, with only the links it has."""
        known = {
            kind: set((record.digests or {}).get(kind, "").split(",")) for kind in _LINK_SECTIONS
        }
        written = dict(body)
        written.pop("verifiable_addresses", None)  # their state before is not known
        credentials = dict(body.get("credentials") or {})
        for kind in _LINK_SECTIONS:
            providers = _providers(body, kind)
            have = [
                p
                for p, digest in zip(
                    providers,
                    _link_digests(
                        self.mac,
                        (
                            (
                                str(p.get("provider")),
                                str(p.get("subject")),
                                p.get("organization") or None,
                            )
                            for p in providers
                        ),
                    ),
                    strict=True,
                )
                if digest in known[kind]
            ]
            credentials[kind] = {"config": {"providers": have}}
        written["credentials"] = credentials
        return written


def plan_sync(
    previous: Mapping[str, ImportedRecord],
    current: Iterable[PlanItem | SeenUsers],
    *,
    key: bytes,
    remote: Mapping[str, Mapping[str, Any]] | None = None,
    removed: RemovalAction = "keep",
    complete_export: bool = True,
) -> SyncPlan:
    """Plan a sync: the ops that bring Ory up to date with a new export (the module's rules).

    Streams *current*: what it keeps is *previous* (the caller's), the ops of the users that
    changed, and a machine word per user seen (a bit per record when *previous* keeps its
    own marks, as :class:`~auth0_ory_migrate.ImportedRecords` does).

    Args:
        previous: What was imported, by external id (``Ledger.imported_records()``).
        current: The new export's plan items (:func:`plan_migration`'s output), in order;
            or :func:`~auth0_ory_migrate.sync_plan_items`'s, with :class:`SeenUsers`
            batches for the users found unchanged without planning them again.
        key: The digest key the records' digests were made with.
        remote: Ory's identities (``GET`` with the ``password``, ``oidc`` and ``totp``
            credentials) by external id. Looked up (``get``) only for users without digests
            and users that changed in Auth0: a mapping that fetches on ``get`` costs one read
            per changed user. Without it, changes made in Ory cannot be seen, an unlinked
            link cannot be named, and users without digests are counted as ``unchecked``.
        removed: What to do with imported users absent from the new export.
        complete_export: False for a partial export (one connection, a limit): no removal.

    Raises:
        ConfigurationError: *removed* is not one of ``keep``, ``deactivate``, ``delete``, or
            *key* is empty.

    .. versionadded:: 0.1.0
    """
    if removed not in _REMOVAL_DETAIL:
        msg = f"removed must be 'keep', 'deactivate' or 'delete', not {removed!r}"
        raise ConfigurationError(msg)
    planner = _Planner(previous, key, remote)
    for item in current:
        if isinstance(item, PlannedIdentity):
            planner.planned(item)
        elif isinstance(item, SeenUsers):
            planner.seen.update(item.user_ids)
            planner.unchanged += item.unchanged
        elif isinstance(item, Skipped):
            planner.seen.add(item.user_id)
        elif item.user_id is None:
            planner.anonymous_unreadable += 1
        else:
            planner.seen.add(item.user_id)
    refused: str | None = None
    if not complete_export:
        refused = (
            "the new export is partial (one connection, or a limit): a user absent from it "
            "may still be in Auth0"
        )
    elif planner.anonymous_unreadable:
        refused = (
            f"{planner.anonymous_unreadable} record(s) of the new export could not be read "
            "and name no user: any absent user may be one of them"
        )
    removes: list[SyncOp] = []
    if refused is None:
        for external_id in planner.seen.unseen(previous):
            record = previous[external_id]  # (read only now: a record may be read on demand)
            if record.identity_id is None:
                continue
            removes.append(
                SyncOp(
                    external_id,
                    "remove",
                    record.identity_id,
                    patch=({"op": "replace", "path": "/state", "value": "inactive"},)
                    if removed == "deactivate"
                    else (),
                    detail=f"not in the new export: {_REMOVAL_DETAIL[removed]}",
                )
            )
    return SyncPlan(
        ops=(*planner.ops, *removes),
        unchanged=planner.unchanged,
        creates=planner.creates,
        updates=dict(planner.updates),
        password_to_hook=planner.to_hook,
        password_new_hash=planner.new_hash,
        conflicts=planner.conflicts,
        removed=len(removes),
        removal_action=removed,
        removals_refused=refused,
        compared_with_ory=planner.compared,
        unchecked=planner.unchecked,
    )


_REMOVAL_DETAIL: Final[Mapping[RemovalAction, str]] = {
    "keep": "kept in Ory (--removed keep)",
    "deactivate": "deactivated in Ory (state inactive)",
    "delete": "deleted from Ory",
}
