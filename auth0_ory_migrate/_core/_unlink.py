"""Removing one provider link after cutover, as pure decisions (no SDK, no I/O).

During a dual run every imported identity carries an OIDC link to Auth0 (``{provider:
PROVIDER_ID, subject: <Auth0 user id>}``). After cutover that link goes, and nothing else:
:func:`~auth0_ory_migrate.unlink_credential` (:mod:`auth0_ory_migrate._runtime._unlink`)
looks each imported identity up and deletes the identifiers these functions pick, one
``DELETE /admin/identities/{id}/credentials/{type}?identifier=provider:subject`` each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from attrs import frozen

from ..exceptions import ConfigurationError
from ._importing import UndoTarget, not_this_imports


__all__ = [
    "UNLINKABLE_TYPES",
    "LinkedIdentity",
    "UnlinkableType",
    "check_unlink_request",
    "provider_identifiers",
    "unlink_refusal",
]

UnlinkableType = Literal["oidc", "saml"]
#: The credential types whose single provider links Ory deletes by identifier.
UNLINKABLE_TYPES: Final[tuple[UnlinkableType, ...]] = ("oidc", "saml")


@frozen
class LinkedIdentity:
    """An identity found by its external id, with the identifiers of one credential type.

    Attributes:
        identity_id: The Ory identity id.
        identifiers: The credential's identifiers as Ory lists them, ``provider:subject``
            for ``oidc`` and ``saml`` (empty when the identity has no such credential).

    .. versionadded:: 0.1.0
    """

    identity_id: str
    identifiers: tuple[str, ...] = ()


def check_unlink_request(credential_type: str, provider_id: str) -> None:
    """Refuse a credential type or provider id no link can be removed by.

    Raises:
        ConfigurationError: *credential_type* is not ``oidc`` or ``saml``, or
            *provider_id* is empty, has blanks around it or a ``:`` (Ory splits an
            identifier at its first ``:``).
    """
    if credential_type not in UNLINKABLE_TYPES:
        raise ConfigurationError(
            f"only a provider link can be removed (oidc:PROVIDER_ID or saml:PROVIDER_ID), "
            f"not {credential_type!r}"
        )
    if not provider_id or provider_id.strip() != provider_id or ":" in provider_id:
        raise ConfigurationError(
            f"the provider id must be an Ory provider id such as 'auth0', not {provider_id!r}"
        )


def provider_identifiers(identifiers: Iterable[str], provider_id: str) -> list[str]:
    """The ``provider:subject`` identifiers of *identifiers* whose provider is *provider_id*.

    Split at the first ``:`` as Ory splits them (a subject may hold more); compared exactly,
    as Ory keeps OIDC and SAML identifiers (case-sensitive). Each once, in their order.
    """
    found: dict[str, None] = {}
    for identifier in identifiers:
        provider, colon, subject = identifier.partition(":")
        if colon and subject and provider == provider_id:
            found[identifier] = None
    return list(found)


def unlink_refusal(target: UndoTarget, found: LinkedIdentity) -> str | None:
    """Why the link must not be removed from *target*'s identity, or ``None`` when it may.

    *found* is what Ory has under the target's external id now. Only the identity the
    ledger names is changed (a forged or stale ledger line names an unrelated one
    otherwise), and never one that was in Ory before this tool first sent the user
    (``adopted``): its links are not this import's.
    """
    return not_this_imports(target, found.identity_id)
