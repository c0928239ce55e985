"""After cutover: remove one provider link from every identity an import put in Ory.

It knows Ory only as a :class:`~auth0_ory_migrate.typing.CredentialAdmin`; which identifiers
go and which identities are left alone is decided in :mod:`auth0_ory_migrate._core._unlink`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from attrs import frozen

from .._core._importing import ImportOutcome, UndoTarget
from .._core._retry import RetryPolicy
from .._core._unlink import (
    LinkedIdentity,
    check_unlink_request,
    provider_identifiers,
    unlink_refusal,
)
from ..exceptions import ConfigurationError, OryError
from ..typing import CredentialAdmin
from ._engine import _as_target, _call_with_retries


__all__ = ["UnlinkResult", "unlink_credential"]

_CHUNK = 100


@frozen
class UnlinkResult:
    """What removing a provider link did.

    Attributes:
        removed: Links removed (an identity merged from several Auth0 users may carry more
            than one of the provider's links).
        identities: Identities that lost at least one link.
        not_present: Identities that had no link of the provider (any more): removed by an
            earlier run, by someone else, or never there.
        not_found: Identities no identity carries the user's external id of any more
            (deleted, or given another external id): nothing to remove.
        failed: Identities a link could not be removed from, with Ory's reason (run the
            same command again for them; Ory refuses to remove an identity's last way to
            sign in: ``You cannot remove the last first factor credential``).
        left_alone: Identities not changed, each with why: one that no longer carries the
            user's external id (another identity does), and ``adopted`` ones (in Ory
            before this tool first sent the user).

    .. versionadded:: 0.1.0
    """

    removed: int = 0
    identities: int = 0
    not_present: int = 0
    not_found: tuple[ImportOutcome, ...] = ()
    failed: tuple[ImportOutcome, ...] = ()
    left_alone: tuple[ImportOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every link that was to go went (or was gone already).

        .. versionadded:: 0.1.0
        """
        return not self.failed


@frozen
class _Done:
    """What became of one target: links removed, or why nothing was, or what failed."""

    target: UndoTarget
    removed: int = 0
    found: bool = True
    refusal: str | None = None
    error: str | None = None


def unlink_credential(
    targets: Iterable[UndoTarget | tuple[str, str]],
    ory: CredentialAdmin,
    credential_type: str,
    provider_id: str,
    *,
    concurrency: int = 1,
    retry: RetryPolicy | None = None,
    progress: Callable[[int], None] | None = None,
) -> UnlinkResult:
    """Remove the *provider_id* links of *credential_type* from the identities an import created.

    For each target, the identity is looked up by the user's external id (its credential
    identifiers, never their configs: no token is fetched); when it is the one the ledger
    names and not ``adopted``, each of its ``provider_id:subject`` identifiers is deleted
    with ``DELETE /admin/identities/{id}/credentials/{type}?identifier=…``. Nothing else
    changes: no identity is deleted, no other credential is touched, the ledger is not
    written. Running it again removes nothing more (those identities count as
    :attr:`~UnlinkResult.not_present`). Each request is retried as *retry* says (429s
    and 5xx); a link gone between the lookup and its deletion (404) counts as not present.

    Ory counts these deletions in its "admin low" rate-limit bucket (on Ory Network about
    175 requests a minute on a Production plan: 100,000 links take about ten hours), besides
    one lookup per user.

    Args:
        targets: What the ledger says was imported, normally
            :meth:`Ledger.undo_targets() <auth0_ory_migrate.Ledger.undo_targets>` (bare
            ``(external_id, identity_id)`` pairs count as ``created``).
        ory: Ory's identity admin API (:class:`~auth0_ory_migrate.OryAdmin`, or any
            :class:`~auth0_ory_migrate.typing.CredentialAdmin`).
        credential_type: ``oidc`` (or ``saml``).
        provider_id: The Ory provider id of the links to remove, e.g. ``auth0``.
        concurrency: Identities dealt with at once.
        retry: The retry policy for each lookup and deletion.
        progress: Called with the number of identities dealt with so far.

    Raises:
        ConfigurationError: *credential_type* is not ``oidc`` or ``saml``, *provider_id*
            is not a provider id, or *concurrency* is below 1 (before any request).

    .. versionadded:: 0.1.0
    """
    check_unlink_request(credential_type, provider_id)
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, not {concurrency}")
    policy = retry or RetryPolicy()

    def one(target: UndoTarget) -> _Done:
        try:
            found: LinkedIdentity | None = _call_with_retries(
                lambda: ory.credential_identifiers(target.external_id, credential_type), policy
            )
        except OryError as e:
            return _Done(target, error=str(e))
        if found is None:
            return _Done(target, found=False)
        refusal = unlink_refusal(target, found)
        if refusal is not None:
            return _Done(target, refusal=refusal)
        removed = 0
        for identifier in provider_identifiers(found.identifiers, provider_id):
            try:
                delete = functools.partial(
                    ory.delete_credential, found.identity_id, credential_type, identifier
                )
                gone = _call_with_retries(delete, policy)
            except OryError as e:
                return _Done(target, removed=removed, error=str(e))
            removed += bool(gone)
        return _Done(target, removed=removed)

    def chunks() -> Iterator[list[UndoTarget]]:
        chunk: list[UndoTarget] = []
        for target in targets:
            chunk.append(_as_target(target)[0])
            if len(chunk) >= _CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    removed = changed = not_present = 0
    not_found: list[ImportOutcome] = []
    failed: list[ImportOutcome] = []
    left_alone: list[ImportOutcome] = []
    done = 0
    with ThreadPoolExecutor(concurrency, thread_name_prefix="ory-unlink") as pool:
        for chunk in chunks():
            for result in pool.map(one, chunk):
                target = result.target
                removed += result.removed
                changed += result.removed > 0
                if result.error is not None:
                    failed.append(
                        ImportOutcome(
                            target.external_id, "failed", target.identity_id, result.error
                        )
                    )
                elif not result.found:
                    not_found.append(
                        ImportOutcome(
                            target.external_id,
                            target.status,
                            target.identity_id,
                            f"no identity has external_id {target.external_id} any more",
                        )
                    )
                elif result.refusal is not None:
                    left_alone.append(
                        ImportOutcome(
                            target.external_id, target.status, target.identity_id, result.refusal
                        )
                    )
                elif result.removed == 0:
                    not_present += 1
            done += len(chunk)
            if progress is not None:
                progress(done)
    return UnlinkResult(
        removed=removed,
        identities=changed,
        not_present=not_present,
        not_found=tuple(not_found),
        failed=tuple(failed),
        left_alone=tuple(left_alone),
    )
