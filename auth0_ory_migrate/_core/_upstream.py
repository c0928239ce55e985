"""Auth0 as an upstream OpenID Connect provider of Ory during a dual run (pure).

Until Auth0 is switched off, every migrated identity can carry an OIDC credential
``{provider: PROVIDER_ID, subject: <Auth0 user_id>}``: Ory's ``auth0`` provider
(Kratos ``selfservice/strategy/oidc/provider_auth0.go``) signs the user in at the tenant
and takes the claims, ``sub`` included, from ``<issuer_url>/userinfo``; Auth0's ``sub`` is
the user's ``user_id``, so the credential matches whatever connection the user signs in
with at Auth0 (database, social, enterprise, passwordless, with or without MFA).

:func:`auth0_upstream_provider` gives the provider entry of Ory's configuration
(``selfservice.methods.oidc.config.providers[]``), with the Jsonnet mapper of
:func:`auth0_upstream_mapper`; :func:`ory_patch_oidc_provider_command` the ``ory patch
identity-config`` command that adds it. The client secret is always a placeholder.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from ..exceptions import ConfigurationError
from ._auth0 import parse_domain
from ._schema import _DEFAULT_TRAITS, TraitName, _is_hostname, _shell_quote


__all__ = [
    "AUTH0_UPSTREAM_MAPPER",
    "auth0_upstream_mapper",
    "auth0_upstream_provider",
    "ory_patch_oidc_provider_command",
]

# What the entry holds instead of the Auth0 application's client id (when none is given)
# and, always, instead of its client secret.
_CLIENT_ID_PLACEHOLDER = "<AUTH0_CLIENT_ID>"
_CLIENT_SECRET_PLACEHOLDER = "<AUTH0_CLIENT_SECRET>"

_TRAITS: tuple[TraitName, ...] = ("email", "username", "phone", "name")

_HEAD = """\
// Auth0 as an upstream OpenID Connect provider of Ory (auth0-ory-migrate).
// Ory's auth0 provider reads these claims from the tenant's /userinfo; a claim
// Auth0 does not send is absent, and a false *_verified claim is left out.
// Only verified addresses become traits: an unverified email or phone number
// must not become a login identifier (Ory's advice).
local claims = {
  email_verified: false,
  phone_number_verified: false,
} + std.extVar('claims');

{
  identity: {
    traits: {
"""

_TAIL = """\
    },
  },
}
"""

#: One Jsonnet field per trait of :func:`~auth0_ory_migrate.build_identity_schema`.
_FIELDS: dict[TraitName, str] = {
    "email": (
        "      [if 'email' in claims && claims.email_verified then 'email' else null]: "
        "claims.email,\n"
    ),
    "username": (
        "      // Auth0's nickname is not unique (an email's local part): not a username.\n"
        "      [if 'preferred_username' in claims then 'username' else null]: "
        "claims.preferred_username,\n"
    ),
    "phone": (
        "      [if 'phone_number' in claims && claims.phone_number_verified "
        "then 'phone' else null]: claims.phone_number,\n"
    ),
    "name": (
        "      [if 'given_name' in claims || 'family_name' in claims then 'name' else null]: {\n"
        "        [if 'given_name' in claims then 'first' else null]: claims.given_name,\n"
        "        [if 'family_name' in claims then 'last' else null]: claims.family_name,\n"
        "      },\n"
    ),
}


def _check_traits(traits: Collection[str]) -> list[TraitName]:
    unknown = sorted(set(traits) - set(_TRAITS))
    if unknown:
        raise ConfigurationError(
            f"the Auth0 upstream mapper knows no trait {', '.join(map(repr, unknown))} "
            f"(it maps {', '.join(_TRAITS)})"
        )
    return [t for t in _TRAITS if t in traits]


def auth0_upstream_mapper(traits: Collection[TraitName] = _DEFAULT_TRAITS) -> str:
    """The Jsonnet mapper of the Auth0 upstream provider for an identity schema's traits.

    Follows the mapper of Ory's Auth0 guide (``local claims = {email_verified: false} +
    std.extVar('claims')``): each trait is filled from its claim when Auth0 sends it —
    ``email`` from ``email`` when ``email_verified``; ``phone`` from ``phone_number``
    when ``phone_number_verified``; ``username`` from ``preferred_username`` (not from
    ``nickname``, which Auth0 derives from the email and which is not unique); ``name``
    (``first``, ``last``) from ``given_name`` and ``family_name``. Traits not in *traits*
    are never written (the schema would refuse them), and neither is metadata: a
    migrated identity's metadata stays as imported.

    Ory runs the mapper when someone registers through the provider (an Auth0 user not
    migrated yet) and, with ``update_identity_on_login: automatic``, at each login.

    Args:
        traits: The traits of the identity schema (``email``, ``username``, ``phone``,
            ``name``), in any order.

    Raises:
        ConfigurationError: A trait the mapper does not know.

    .. versionadded:: 0.1.0
    """
    return _HEAD + "".join(_FIELDS[t] for t in _check_traits(traits)) + _TAIL


#: The mapper of :func:`auth0_upstream_mapper` for ``preset://email``: the verified email.
AUTH0_UPSTREAM_MAPPER = auth0_upstream_mapper()

# The configuration schema sets no rule on a provider id, but Kratos puts it unescaped
# into the callback URL (``/self-service/methods/oidc/callback/<id>``) and into the
# credential identifier ``<id>:<subject>``: one URL path segment without ``:``.
_PROVIDER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_provider_id(provider_id: str) -> None:
    """Refuse an Ory OIDC provider id Ory cannot use (it is a path segment of the callback URL)."""
    if not _PROVIDER_ID_RE.fullmatch(provider_id):
        raise ConfigurationError(
            f"invalid Ory provider id {provider_id!r} (--auth0-upstream): use letters, digits, "
            "'.', '_' and '-', starting with a letter or digit (it is a path segment of Ory's "
            "callback URL)"
        )


def _issuer_url(domain: str) -> str:
    text = domain.strip()
    scheme = text.partition("://")[0].lower() if "://" in text else "https"
    if scheme != "https":
        shown = scheme if re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) else "another scheme"
        raise ConfigurationError(
            f"the Auth0 domain (--auth0-domain) must be https, not {shown}: Ory signs users "
            "in at the tenant over https"
        )
    try:
        endpoint = parse_domain(text)  # the one reading of an Auth0 domain
    except ConfigurationError as e:
        raise ConfigurationError(f"--auth0-domain: {e}") from None
    host = endpoint.host.lower()
    if not _is_hostname(host) or "." not in host.rstrip("."):
        raise ConfigurationError(
            f"the Auth0 domain (--auth0-domain) must be the tenant's public host name, "
            f"e.g. acme.eu.auth0.com or a custom domain, not {domain.strip()!r}: Ory signs "
            "users in there over https"
        )
    netloc = endpoint.netloc.lower()
    return f"https://{netloc}/"


def auth0_upstream_provider(
    *,
    provider_id: str,
    domain: str,
    client_id: str | None = None,
    traits: Collection[TraitName] = _DEFAULT_TRAITS,
) -> dict[str, Any]:
    """The Ory OIDC provider entry that signs users in at an Auth0 tenant.

    An entry of ``selfservice.methods.oidc.config.providers`` in Ory's configuration:
    ``{"id", "provider": "auth0", "client_id", "client_secret", "issuer_url",
    "mapper_url", "scope"}``. The issuer is ``https://DOMAIN/`` (Ory's ``auth0`` provider
    signs in at ``/authorize``, gets tokens from ``/oauth/token`` and the claims from
    ``/userinfo`` below it); the scopes are Ory's guide's ``openid``, ``profile`` and
    ``email`` (and ``phone`` when the schema has a ``phone`` trait); the mapper is
    :func:`auth0_upstream_mapper` for *traits*, as a ``base64://`` URL. The client secret
    is always the placeholder ``<AUTH0_CLIENT_SECRET>``: put the real one in the Ory
    Console, never in a command line or a file.

    Args:
        provider_id: The Ory provider id: the one the identities' OIDC credentials name
            (``convert --auth0-upstream``), also the last segment of the callback URL
            (``/self-service/methods/oidc/callback/<provider_id>``) to allow in the
            Auth0 application. Letters, digits, ``.``, ``_`` and ``-``.
        domain: The tenant's domain (``acme.eu.auth0.com``) or custom domain, bare or as
            ``https://HOST/``.
        client_id: The client id of the Auth0 application ("Regular Web Application")
            Ory signs in with; None for the placeholder ``<AUTH0_CLIENT_ID>``.
        traits: The traits of the identity schema, for the mapper.

    Returns:
        The entry, a JSON-ready dict.

    Raises:
        ConfigurationError: A bad provider id, domain or client id, or an unknown trait;
            the message names the option.

    .. versionadded:: 0.1.0
    """
    check_provider_id(provider_id)
    issuer = _issuer_url(domain)
    if client_id is None:
        client_id = _CLIENT_ID_PLACEHOLDER
    elif not client_id.strip():
        raise ConfigurationError("the Auth0 client id (--auth0-client-id) is empty")
    wanted = _check_traits(traits)
    scope = ["openid", "profile", "email"]
    if "phone" in wanted:
        scope.append("phone")
    mapper = auth0_upstream_mapper(wanted)
    return {
        "id": provider_id,
        "provider": "auth0",
        "client_id": client_id.strip(),
        "client_secret": _CLIENT_SECRET_PLACEHOLDER,
        "issuer_url": issuer,
        "mapper_url": "base64://" + base64.b64encode(mapper.encode("utf-8")).decode("ascii"),
        "scope": scope,
    }


def ory_patch_oidc_provider_command(project_id: str, provider: Mapping[str, Any]) -> str:
    """The ``ory patch identity-config`` command that adds an OIDC provider to a project.

    Turns the OIDC method on (``--add /selfservice/methods/oidc/enabled=true``) and
    appends *provider* to the project's providers
    (``--add '/selfservice/methods/oidc/config/providers/-=…'``), keeping the others.
    Quoted for a POSIX shell as :func:`ory_patch_identity_config_command` is.

    .. versionadded:: 0.1.0
    """
    entry = json.dumps(provider, separators=(",", ":"), ensure_ascii=False)
    return " \\\n  ".join(
        [
            f"ory patch identity-config {_shell_quote(project_id)}",
            "--add " + _shell_quote("/selfservice/methods/oidc/enabled=true"),
            "--add " + _shell_quote(f"/selfservice/methods/oidc/config/providers/-={entry}"),
        ]
    )
