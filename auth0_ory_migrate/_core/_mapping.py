"""Map Auth0 users to Ory ``CreateIdentityBody`` dicts (pure).

Every rule here is a default a caller can change through :class:`MappingOptions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from attrs import evolve, field, frozen

from ..exceptions import ConfigurationError, CustomHashError
from ._custom_hashes import convert_custom_password_hash
from ._hashes import ory_hash_problem
from ._mfa import totp_url
from ._password_hashes import IndexedHash, to_epoch
from ._providers import login_facts
from ._schema import (
    TraitsValidator,
    droppable_trait,
    is_email,
    preset_schema,
    trait_mapping_for_schema,
)
from ._source import SourceMark
from ._upstream import check_provider_id
from ._users import DATABASE_PROVIDER, PASSWORDLESS_PROVIDERS, Auth0User, json_text


if TYPE_CHECKING:
    from ._authz import AuthzData


__all__ = [
    "DEFAULT_PROVIDERS",
    "DEFAULT_TRAITS",
    "EnterpriseProvider",
    "IdentityBody",
    "MappingOptions",
    "Note",
    "PasswordSource",
    "PlannedIdentity",
    "Skipped",
    "SkipReason",
    "TraitMapping",
    "map_user",
]

#: A JSON object in the shape of Ory's ``CreateIdentityBody``.
IdentityBody: TypeAlias = dict[str, Any]

#: A caller's trait mapping: a function of the user (``None``: the user has no
#: traits for the schema), or a declarative map of trait path → Auth0 field path
#: (dotted, e.g. ``{"email": "email", "name.first": "given_name"}``).
TraitMapping: TypeAlias = Callable[[Auth0User], Mapping[str, Any] | None] | Mapping[str, str]

#: The traits of ``preset://email``: exactly one, the email.
DEFAULT_TRAITS: Mapping[str, str] = {"email": "email"}

#: Auth0 social providers (or connection names) → Ory's provider ids.
DEFAULT_PROVIDERS: Mapping[str, str] = {
    "google-oauth2": "google",
    "windowslive": "microsoft",
    "github": "github",
    "gitlab": "gitlab",
    "facebook": "facebook",
    "apple": "apple",
    "linkedin": "linkedin",
    "twitter": "x",
    "discord": "discord",
    "slack": "slack",
    "spotify": "spotify",
    "twitch": "twitch",
    "amazon": "amazon",
    "yandex": "yandex",
    "vkontakte": "vk",
    "dingtalk": "dingtalk",
    "line": "line",
    "patreon": "patreon",
}


_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@frozen
class EnterpriseProvider:
    """Where an Auth0 enterprise connection's users sign in to Ory.

    Attributes:
        provider: The Ory SAML or OIDC provider id.
        organization_id: The Ory organization (UUID) the provider belongs to, if any:
            its users become members (``organization_id``) and the provider entry
            names it (``organization``).
        credential: ``"saml"`` or ``"oidc"``; None: by the Auth0 strategy (SAML for
            ``samlp``, ``adfs``, ``pingfederate`` and ``ad``; OIDC for ``waad``,
            ``okta``, ``oidc``, ``google-apps`` and any other).

    Raises:
        ConfigurationError: An empty provider id, or an organization id that is not a UUID.

    .. versionadded:: 0.1.0
    """

    provider: str
    organization_id: str | None = None
    credential: Literal["oidc", "saml"] | None = None

    def __attrs_post_init__(self) -> None:
        if not self.provider.strip():
            msg = "an enterprise connection needs an Ory provider id"
            raise ConfigurationError(msg)
        if self.organization_id is not None and not _UUID_RE.fullmatch(self.organization_id):
            msg = (
                f"Ory organization id {self.organization_id!r} is not a UUID (Ory's "
                "organization ids look like 3fa85f64-5717-4562-b3fc-2c963f66afa6)"
            )
            raise ConfigurationError(msg)

    @classmethod
    def parse(cls, value: str) -> EnterpriseProvider:
        """``[saml:|oidc:]PROVIDER[@ORGANIZATION_ID]`` (the value of ``--enterprise``).

        Raises:
            ConfigurationError: The text does not have that shape.

        .. versionadded:: 0.1.0
        """
        kind, sep, rest = value.partition(":")
        credential: Literal["oidc", "saml"] | None = None
        if sep and kind in ("saml", "oidc"):
            credential = "saml" if kind == "saml" else "oidc"
        else:
            rest = value
        provider, at, organization = (part.strip() for part in rest.partition("@"))
        if at and not organization:
            msg = f"{value!r}: give the organization id after @, or no @"
            raise ConfigurationError(msg)
        return cls(provider, organization or None, credential)


#: How a user's password reaches Ory.
PasswordSource = Literal["hash", "hook", "none"]

#: Why an Auth0 user did not become an identity of its own.
SkipReason = Literal[
    "merged",
    "duplicate_email",
    "duplicate_user_id",
    "no_email",
    "invalid_email",
    "invalid_traits",
    "no_traits",
]

_MAX_EMAIL = 320
_TOKEN_KEYS = frozenset({"access_token", "refresh_token", "access_token_secret"})
_SECRET_KEYS = ("user_metadata", "custom_password_hash", "password_hash", "passwordHash")


@frozen
class MappingOptions:
    """How Auth0 users become Ory identities.

    Attributes:
        schema_id: The Ory identity schema (``preset://email`` by default).
        traits: The trait mapping (see :data:`TraitMapping`).
        address_trait: Dotted path of the trait that holds the email used for
            verifiable and recovery addresses (``None``: import none).
        without_hash: For database users without a usable hash: ``"hook"``
            (Ory's password-migration hook) or ``"none"`` (no password: users reset it).
        ignore_hashes: Use the hook for every database user, even with a hash
            (``RESERVE_ONLY=true`` in Ory's guide); needs ``without_hash="hook"``.
        providers: Auth0 connection or provider → Ory OIDC provider id; merged
            over :data:`DEFAULT_PROVIDERS` by :meth:`with_providers`.
        totp_issuer: Issuer shown in authenticator apps for imported TOTP secrets.
        schema: The identity schema (JSON) the traits must fit; by default the
            schema of a known preset (``preset://email``), else none is checked.
            A user whose traits do not fit is skipped as ``invalid_traits``,
            naming the field. With the default *traits*, the schema's identifier
            traits are filled as :func:`trait_mapping_for_schema` says (``phone`` from
            ``phone_number``, ``username`` from ``username``).
        sms_address_trait: Dotted path of the trait that holds the phone number
            given a verifiable SMS address (verified when Auth0's ``phone_verified``
            is true); ``None``: none.
        enterprise: Auth0 enterprise connection name → the Ory provider its users
            sign in with (see :class:`EnterpriseProvider`). A user of a connection
            not listed keeps the ``enterprise_login_not_imported`` note.
        auth0_upstream: An Ory OIDC provider id for Auth0 itself (a dual run): every
            identity gets an OIDC login ``{provider: auth0_upstream, subject: <Auth0
            user_id>}``, one per Auth0 user it holds.
        authz: The roles and organizations exported from Auth0 (:func:`read_authz`): each
            identity gets its users' roles, permissions and organizations in
            ``metadata_admin.auth0`` (see :func:`with_authz_metadata`).
        authz_public: Copy them to ``metadata_public.auth0_authz`` too, where Ory's session
            tokenizer can put them into tokens (:data:`AUTHZ_CLAIMS_JSONNET`).

    Raises:
        ConfigurationError: *ignore_hashes* with ``without_hash="none"`` (it
            would leave every database user without a password).

    .. versionadded:: 0.1.0
    """

    schema_id: str = "preset://email"
    traits: TraitMapping = field(default=DEFAULT_TRAITS)
    address_trait: str | None = "email"
    without_hash: Literal["hook", "none"] = "hook"
    ignore_hashes: bool = field(default=False)
    providers: Mapping[str, str] = field(default=DEFAULT_PROVIDERS)
    totp_issuer: str = "Ory"
    schema: Mapping[str, Any] | None = field(default=None, repr=False)
    sms_address_trait: str | None = "phone"
    enterprise: Mapping[str, EnterpriseProvider] = field(factory=dict)
    auth0_upstream: str | None = field(default=None)
    authz: AuthzData | None = field(default=None, repr=False)
    authz_public: bool = False
    _validator: TraitsValidator | None = field(init=False, repr=False, eq=False)
    _trait_mapping: TraitMapping = field(init=False, repr=False, eq=False)
    _sms_trait: str | None = field(init=False, repr=False, eq=False)

    @ignore_hashes.validator
    def _check_ignore_hashes(self, _attribute: object, ignore_hashes: bool) -> None:
        if ignore_hashes and self.without_hash != "hook":
            msg = (
                "ignore_hashes (--ignore-hashes, RESERVE_ONLY=true) gives every database user "
                "the password-migration hook: it needs without_hash='hook' "
                f"(--without-hash hook), not {self.without_hash!r}"
            )
            raise ConfigurationError(msg)

    @auth0_upstream.validator
    def _check_upstream(self, _attribute: object, provider: str | None) -> None:
        if provider is not None:
            check_provider_id(provider)  # Ory's rule for provider ids

    @_validator.default
    def _compile_schema(self) -> TraitsValidator | None:
        schema = self.schema if self.schema is not None else preset_schema(self.schema_id)
        return TraitsValidator.from_schema(schema) if schema is not None else None

    @_sms_trait.default
    def _sms_trait_path(self) -> str | None:
        """:attr:`sms_address_trait` when the trait mapping may fill it, else None."""
        path = self.sms_address_trait
        if not path:
            return None
        mapping = self._trait_mapping
        if callable(mapping) or path in mapping or any(p.startswith(f"{path}.") for p in mapping):
            return path
        return None

    @_trait_mapping.default
    def _default_traits(self) -> TraitMapping:
        if self.traits is not DEFAULT_TRAITS or self.schema is None:
            return self.traits
        mapping = trait_mapping_for_schema(self.schema)
        return DEFAULT_TRAITS if mapping == DEFAULT_TRAITS else mapping

    def with_providers(self, extra: Mapping[str, str]) -> MappingOptions:
        """A copy whose provider map adds (or overrides) *extra*."""
        return evolve(self, providers={**self.providers, **extra})

    @property
    def unfilled_traits(self) -> tuple[str, ...]:
        """The schema's traits that the declarative trait mapping never fills, dotted.

        ``("name",)`` for a schema with ``email`` and ``name`` and the default mapping
        (the email only); ``("name.last",)`` when only ``name.first`` is mapped. Empty
        when no schema is known or the mapping is a function (it cannot be read ahead).

        .. versionadded:: 0.1.0
        """
        validator = self._validator
        mapping = self._trait_mapping
        if validator is None or callable(mapping):
            return ()
        props = validator.schema.get("properties")
        traits = props.get("traits") if isinstance(props, Mapping) else None
        return tuple(_unfilled(traits, "", tuple(mapping)))


def _unfilled(node: object, prefix: str, filled: tuple[str, ...]) -> Iterator[str]:
    """The dotted paths under *node* (a schema) that no path of *filled* reaches."""
    children = node.get("properties") if isinstance(node, Mapping) else None
    if not isinstance(children, Mapping):
        return
    for name, sub in children.items():
        path = f"{prefix}{name}"
        if any(p == path or path.startswith(f"{p}.") for p in filled):
            continue
        if any(p.startswith(f"{path}.") for p in filled):
            yield from _unfilled(sub, f"{path}.", filled)
        else:
            yield path


@frozen
class Note:
    """Something a user should know about one Auth0 user, who was still imported.

    Attributes:
        user_id: The Auth0 user id.
        code: Stable machine-readable code (``stale_password_hash``,
            ``invalid_password_hash``, ``enterprise_login_not_imported``, ...).
        detail: A sentence for humans (never a secret).
        connection: For notes about one Auth0 connection (a login not imported):
            the connection's name (or the provider's, when the record names no
            connection), so that a report can count the users of each.

    .. versionadded:: 0.1.0
    """

    user_id: str
    code: str
    detail: str
    connection: str | None = None


@frozen
class PlannedIdentity:
    """One Ory identity to create.

    Attributes:
        external_id: The Auth0 ``user_id`` (the idempotency key of the import).
        line: Line of the primary user in the export.
        body: The ``CreateIdentityBody`` (hidden from ``repr``: it may hold a hash).
        merged_user_ids: Other Auth0 users merged into this identity.
        password: Where the password comes from.
        social_logins: The users' own social and enterprise logins in the body (OIDC
            and SAML; not the Auth0 upstream login).
        notes: What the report should say about it.
        connections: The keys of :attr:`MappingOptions.providers` and
            :attr:`MappingOptions.enterprise` that gave those logins (connection or
            provider names), once per login.
        source: What it was mapped from, as one digest, with its counts: given by a
            plan made with ``sources=True`` (:func:`~auth0_ory_migrate.plan_from_files`)
            when the identity has no note and nobody merged into it; ``sync`` records it
            to skip users whose inputs did not change. It describes :attr:`body` as
            planned: give ``source=None`` with another body (``attrs.evolve`` keeps it).

    .. versionadded:: 0.1.0
    """

    external_id: str
    line: int
    body: IdentityBody = field(repr=False, eq=False, hash=False)
    merged_user_ids: tuple[str, ...] = ()
    password: PasswordSource = "none"
    social_logins: int = 0
    notes: tuple[Note, ...] = ()
    connections: tuple[str, ...] = ()
    source: SourceMark | None = field(default=None, repr=False, eq=False, hash=False)

    @property
    def blocked(self) -> bool:
        """Whether the identity is imported as ``inactive``."""
        return self.body.get("state") == "inactive"


@frozen
class Skipped:
    """An Auth0 user that did not become an identity of its own.

    Attributes:
        user_id: The Auth0 user id.
        line: Its line in the export.
        reason: Why (see :data:`SkipReason`).
        detail: A sentence for humans.
        holder: For ``merged`` and ``duplicate_email``: the Auth0 user whose
            identity has the email.

    .. versionadded:: 0.1.0
    """

    user_id: str
    line: int
    reason: SkipReason
    detail: str
    holder: str | None = None
    notes: tuple[Note, ...] = ()


def _get_path(data: Mapping[str, Any], path: str) -> Any:
    if "." not in path:
        return data.get(path)
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _traits(user: Auth0User, mapping: TraitMapping) -> Mapping[str, Any] | None:
    if mapping is DEFAULT_TRAITS:
        return {"email": user.email} if user.email else None
    if callable(mapping):
        return mapping(user)
    traits: dict[str, Any] = {}
    for trait_path, source_path in mapping.items():
        value = user.email if source_path == "email" else _get_path(user.raw, source_path)
        if value is not None and value != "":
            _set_path(traits, trait_path, value)
    return traits or None


def _without_bad_optional_traits(
    validator: TraitsValidator, traits: Mapping[str, Any], user_id: str, notes: list[Note]
) -> Mapping[str, Any] | None:
    """*traits* less the optional traits that do not fit (a note each).

    None when a required trait does not fit, or nothing is left.
    """
    kept: dict[str, Any] = _copy_objects(traits)
    for _ in range(8):  # each round drops at least one trait; traits are shallow
        problems = validator.problems(kept)
        if not problems:
            return kept or None
        for problem in problems:
            path = droppable_trait(validator.schema, problem)
            if path is None:
                return None
            *parents, last = path.split(".")
            node: Any = kept
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict) or node.pop(last, _MISSING) is _MISSING:
                continue  # already gone with another problem
            notes.append(
                Note(
                    user_id,
                    "invalid_trait_dropped",
                    f"{problem}: the optional trait traits.{path} is not imported",
                )
            )
    return None


_MISSING = object()


def _copy_objects(value: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the nested objects of *value* (leaves shared), safe to remove keys from."""
    return {k: _copy_objects(v) if isinstance(v, Mapping) else v for k, v in value.items()}


def _admin_metadata(user: Auth0User) -> dict[str, Any]:
    """The whole exported record but for what goes elsewhere or must not be stored."""
    meta = dict(user.raw)
    for key in _SECRET_KEYS:
        meta.pop(key, None)
    identities = meta.get("identities")
    if type(identities) is list:
        for i in identities:
            if type(i) is dict and not _TOKEN_KEYS.isdisjoint(i):
                meta["identities"] = [
                    {k: v for k, v in i.items() if k not in _TOKEN_KEYS} if type(i) is dict else i
                    for i in identities
                ]
                break
    return meta


def _custom_hash(user: Auth0User, notes: list[Note]) -> IndexedHash | None:
    """A ``custom_password_hash`` carried by the user record itself (Auth0's bulk-import schema)."""
    custom = user.raw.get("custom_password_hash")
    if custom is None:
        return None
    try:
        conversion = convert_custom_password_hash(custom)
    except CustomHashError as e:
        notes.append(Note(user.user_id, "invalid_password_hash", str(e)))
        return None
    return IndexedHash(conversion.ory_hash or "", None, conversion.reason)


def _password(
    user: Auth0User,
    password_hash: IndexedHash | None,
    options: MappingOptions,
    notes: list[Note],
) -> tuple[PasswordSource, dict[str, Any] | None]:
    if not user.database_ids:
        return "none", None
    if password_hash is None and not options.ignore_hashes and "custom_password_hash" in user.raw:
        password_hash = _custom_hash(user, notes)
    if password_hash is not None and not options.ignore_hashes:
        reset_at = to_epoch(user.last_password_reset)
        set_at = password_hash.set_at
        problem = password_hash.problem or ory_hash_problem(password_hash.value)
        if reset_at is not None and set_at is not None and reset_at > set_at:
            notes.append(
                Note(
                    user.user_id,
                    "stale_password_hash",
                    "the password was reset after the hash export was made; "
                    "the hash is not imported",
                )
            )
        elif problem is not None:
            notes.append(Note(user.user_id, "invalid_password_hash", problem))
        else:
            return "hash", {"hashed_password": password_hash.value}
    if options.ignore_hashes or options.without_hash == "hook":
        return "hook", {"use_password_migration_hook": True}
    return "none", None


#: The federated logins of an identity's Auth0 users, as Ory credentials: OIDC providers,
#: SAML providers, the organization, how many of the users' own social and enterprise
#: logins (not the Auth0 upstream), and the option keys that mapped them. A plain tuple:
#: this is made for every user.
_Logins: TypeAlias = tuple[
    list[dict[str, Any]], list[dict[str, Any]], str | None, int, tuple[str, ...]
]

_NO_LOGINS: _Logins = ([], [], None, 0, ())


def _federated_logins(
    users: Sequence[Auth0User], options: MappingOptions, notes: list[Note]
) -> _Logins:
    oidc: dict[tuple[str, str], dict[str, Any]] = {}
    saml: dict[tuple[str, str], dict[str, Any]] = {}
    organizations: list[str] = []
    keys: list[str] = []
    enterprise = options.enterprise
    for user in users:
        # Straight from the raw record: this runs for every user, Auth0Identity objects cost.
        entries = user.raw.get("identities") or [{"provider": user.provider}]
        if len(entries) == 1 and entries[0].get("provider") == DATABASE_PROVIDER:
            continue  # the common case: a database user with no linked account
        for n, entry in enumerate(entries):
            provider = json_text(entry.get("provider"))
            if provider is None:
                if n:
                    continue
                provider = user.provider
            if provider == DATABASE_PROVIDER or provider in PASSWORDLESS_PROVIDERS:
                continue
            connection = json_text(entry.get("connection"))
            subject = json_text(entry.get("user_id"))
            if subject is None:
                if n:
                    continue
                subject = user.local_id
            social = entry.get("isSocial") in (True, "true")
            if not social and connection is not None and subject.startswith(f"{connection}|"):
                subject = subject[len(connection) + 1 :]  # Auth0's enterprise ids: CONNECTION|ID
            facts = (login_facts(connection) if connection else None) or login_facts(provider)
            mapped = enterprise.get(connection) if connection is not None else None
            if mapped is not None:
                credential = mapped.credential or (facts.credential if facts else "oidc")
                entry_out: dict[str, Any] = {"provider": mapped.provider, "subject": subject}
                if mapped.organization_id is not None:
                    entry_out["organization"] = mapped.organization_id
                    if mapped.organization_id not in organizations:
                        organizations.append(mapped.organization_id)
                target = saml if credential == "saml" else oidc
                if target.setdefault((mapped.provider, subject), entry_out) is entry_out:
                    keys.append(connection or provider)
                    if facts is None or not facts.matches:
                        _unsure_subject(
                            user, connection or provider, entry_out, notes, saml=target is saml
                        )
                continue
            key = connection or provider
            ory_provider = options.providers.get(key)
            if ory_provider is None:
                key = provider
                ory_provider = options.providers.get(provider)
            if ory_provider is None:
                kind = "social" if social else "enterprise"
                option = "--provider" if social else "--enterprise"
                notes.append(
                    Note(
                        user.user_id,
                        f"{kind}_login_not_imported",
                        f"no Ory provider is mapped for {kind} connection "
                        f"{connection or provider!r} (use {option} "
                        f"{connection or provider}=ORY_PROVIDER)",
                        connection or provider,
                    )
                )
                continue
            login: dict[str, Any] = {"provider": ory_provider, "subject": subject}
            if oidc.setdefault((ory_provider, subject), login) is login:
                keys.append(key)
                if facts is None or not facts.matches:
                    _unsure_subject(user, connection or provider, login, notes, saml=False)
    kept = len(oidc) + len(saml)
    if options.auth0_upstream is not None:
        for user in users:
            oidc.setdefault(
                (options.auth0_upstream, user.user_id),
                {"provider": options.auth0_upstream, "subject": user.user_id},
            )
    if len(organizations) > 1:
        notes.append(
            Note(
                users[0].user_id,
                "several_organizations",
                f"its logins belong to {len(organizations)} Ory organizations; an identity "
                f"belongs to one: imported into {organizations[0]}",
            )
        )
    return (
        list(oidc.values()),
        list(saml.values()),
        organizations[0] if organizations else None,
        kept,
        tuple(keys),
    )


def _unsure_subject(
    user: Auth0User, connection: str, login: dict[str, Any], notes: list[Note], *, saml: bool
) -> None:
    """A login whose subject Ory may not see at sign-in: noted, and auto-linked if OIDC.

    Ory's SAML import has no ``use_auto_link``: such a login stays as it is.
    """
    if saml:
        notes.append(
            Note(
                user.user_id,
                "saml_subject_not_guaranteed",
                f"the subject Ory's SAML provider {login['provider']!r} sees at sign-in "
                f"(the NameID) may differ from the id Auth0 kept for {connection!r} (see the "
                "guide page 'Every kind of user')",
                connection,
            )
        )
        return
    login["use_auto_link"] = True
    notes.append(
        Note(
            user.user_id,
            "login_auto_link",
            f"the subject Ory's provider {login['provider']!r} sees at sign-in may differ "
            f"from the id Auth0 kept for {connection!r}: imported with use_auto_link "
            "(see the guide page 'Every kind of user')",
            connection,
        )
    )


def _no_traits_detail(mapping: TraitMapping) -> str:
    """Why a user got no traits: the fields the mapping reads, when it says."""
    if callable(mapping):
        return "the trait mapping returned no traits"
    fields = ", ".join(dict.fromkeys(mapping.values()))
    return f"none of the fields the traits come from is set ({fields})"


def map_user(
    user: Auth0User,
    options: MappingOptions | None = None,
    *,
    password_hash: IndexedHash | tuple[str, float | None] | None = None,
    otp_secret: str | None = None,
    recovery_codes: int = 0,
    merge: Sequence[Auth0User] = (),
) -> PlannedIdentity | Skipped:
    """Build the Ory identity for one Auth0 user.

    Args:
        user: The Auth0 user (the primary one when merging).
        options: The mapping rules (defaults: ``preset://email``, hook without hash).
        password_hash: The user's hash from :meth:`PasswordHashIndex.lookup`
            (or a ``(hash, set-at epoch seconds)`` pair), if any. A
            ``custom_password_hash`` object in the user record is used when
            there is none.
        otp_secret: The user's TOTP secret (base32), if any.
        recovery_codes: How many hashed MFA recovery codes the user has (not importable).
        merge: Other Auth0 users with the same verified email whose social
            logins join this identity.

    Returns:
        The planned identity, or why the user cannot become one.

    .. versionadded:: 0.1.0
    """
    options = options or MappingOptions()
    notes: list[Note] = []
    mapping = options._trait_mapping
    try:
        traits = _traits(user, mapping)
    except Exception as e:
        return Skipped(user.user_id, user.line, "no_traits", f"trait mapping failed: {e!r}")
    if not traits:
        reason: SkipReason = "no_email" if mapping is DEFAULT_TRAITS else "no_traits"
        return Skipped(
            user.user_id,
            user.line,
            reason,
            "no email address: preset://email needs one (map the user with a custom schema)"
            if reason == "no_email"
            else _no_traits_detail(mapping),
        )
    address = _get_path(traits, options.address_trait) if options.address_trait else None
    if isinstance(address, str) and not (len(address) <= _MAX_EMAIL and is_email(address)):
        return Skipped(user.user_id, user.line, "invalid_email", "the email address is malformed")

    validator = options._validator
    if validator is not None and not (mapping is DEFAULT_TRAITS and options.schema is None):
        # (preset://email with the default traits has one trait, the email checked above)
        problem = validator.first_problem(traits)
        if problem is not None:  # the rare path: leave out bad optional traits, if that helps
            fixed = _without_bad_optional_traits(validator, traits, user.user_id, notes)
            if fixed is None:
                return Skipped(
                    user.user_id,
                    user.line,
                    "invalid_traits",
                    f"the traits do not fit schema {options.schema_id}: {problem}",
                )
            traits = fixed

    body: IdentityBody = {
        "schema_id": options.schema_id,
        "external_id": user.user_id,
        "traits": dict(traits),
        "state": "inactive" if user.blocked else "active",
    }
    if isinstance(address, str):
        verified = user.email_verified and (not merge or all(m.email_verified for m in merge))
        body["verifiable_addresses"] = [
            {
                "value": address,
                "verified": verified,
                "via": "email",
                "status": "completed" if verified else "pending",
            }
        ]
        body["recovery_addresses"] = [{"value": address, "via": "email"}]
    sms_trait = options._sms_trait  # None when the traits cannot hold a phone (preset://email)
    phone = None if sms_trait is None else _get_path(traits, sms_trait)
    if isinstance(phone, str):
        verified = (  # JSON or CSV; only Auth0's own phone number has a verified flag
            user.raw.get("phone_verified") in (True, "true")
            and phone == user.raw.get("phone_number")
        )
        body.setdefault("verifiable_addresses", []).append(
            {
                "value": phone,
                "verified": verified,
                "via": "sms",
                "status": "completed" if verified else "pending",
            }
        )

    user_metadata = user.raw.get("user_metadata")
    if user_metadata and (type(user_metadata) is dict or isinstance(user_metadata, Mapping)):
        body["metadata_public"] = dict(user_metadata)
    admin = _admin_metadata(user)
    if merge:
        admin["merged_user_ids"] = [m.user_id for m in merge]
        admin["merged_users"] = [
            {**_admin_metadata(m), "user_metadata": m.raw.get("user_metadata")} for m in merge
        ]
    body["metadata_admin"] = {"auth0": admin}

    credentials: dict[str, Any] = {}
    if isinstance(password_hash, tuple):
        password_hash = IndexedHash(*password_hash)
    source, config = _password(user, password_hash, options, notes)
    if config is not None:
        credentials["password"] = {"config": config}
    if merge:
        notes.extend(
            Note(
                m.user_id,
                "password_not_merged",
                f"its password is not kept: {user.user_id} holds the identity",
            )
            for m in merge
            if m.database_ids
        )
    entries = user.raw.get("identities")
    if (  # the common case, without a call: a database user with no linked account
        not merge
        and options.auth0_upstream is None
        and entries
        and len(entries) == 1
        and entries[0].get("provider") == DATABASE_PROVIDER
    ):
        oidc, saml, organization_id, kept, connections = _NO_LOGINS
    else:
        oidc, saml, organization_id, kept, connections = _federated_logins(
            (user, *merge) if merge else (user,), options, notes
        )
    if oidc:
        credentials["oidc"] = {"config": {"providers": oidc}}
    if saml:
        credentials["saml"] = {"config": {"providers": saml}}
    if organization_id is not None:
        body["organization_id"] = organization_id
        if config is not None:
            notes.append(
                Note(
                    user.user_id,
                    "organization_member_with_password",
                    "imported into Ory organization "
                    f"{organization_id} with its password as well: Ory may ask "
                    "members of an organization to sign in through its SSO",
                )
            )
    if otp_secret:
        account = address if isinstance(address, str) else user.user_id
        credentials["totp"] = {
            "config": {"totp_url": totp_url(otp_secret, account, options.totp_issuer)}
        }
    if recovery_codes:
        notes.append(
            Note(
                user.user_id,
                "mfa_recovery_codes_not_imported",
                f"{recovery_codes} hashed recovery code(s) cannot be imported into Ory",
            )
        )
    if credentials:
        body["credentials"] = credentials
    if options.authz is not None:
        from ._authz import with_authz_metadata  # noqa: PLC0415 (it imports this module)

        body = with_authz_metadata(
            body,
            options.authz,
            (user.user_id, *(m.user_id for m in merge)) if merge else (user.user_id,),
            public=options.authz_public,
        )

    return PlannedIdentity(
        external_id=user.user_id,
        line=user.line,
        body=body,
        merged_user_ids=tuple(m.user_id for m in merge) if merge else (),
        password=source,
        social_logins=kept,
        connections=connections,
        notes=tuple(notes),
    )
