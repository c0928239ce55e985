"""Public Protocols and type aliases: the shapes the public functions take and return.

The Protocols the import engine depends on, for your own Ory client or state:

:func:`~auth0_ory_migrate.import_identities`, :func:`~auth0_ory_migrate.check_identities`,
:func:`~auth0_ory_migrate.verify_identities` and :func:`~auth0_ory_migrate.undo_import` talk
to Ory through an :class:`IdentityAdmin` (:class:`~auth0_ory_migrate.OryAdmin` over
``ory-client``, or :class:`~auth0_ory_migrate.testing.InMemoryOryAdmin` in tests) and keep
their state in an :class:`ImportState` / :class:`UndoState`
(:class:`~auth0_ory_migrate.Ledger`). Any object with these methods will do::

    from auth0_ory_migrate import Ledger
    from auth0_ory_migrate.typing import ImportState

    def resume(ledger: Ledger) -> ImportState:
        return ledger  # checked by mypy: a Ledger is an ImportState

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from ._core._authz import RelationTuple
from ._core._export import ProgressCallback
from ._core._hook import Auth0Outcome, OutcomeKind, WSGIApp
from ._core._importing import FoundIdentity, ImportOutcome
from ._core._mapping import PasswordSource, SkipReason
from ._core._ory import PreparedBatch, RemoteIdentity
from ._core._password_hashes import UnusedHashReason
from ._core._plan import UserSource
from ._core._records import Source as RecordSource
from ._core._schema import TraitName
from ._core._sync import RemovalAction, SyncSection
from ._core._unlink import LinkedIdentity


__all__ = [
    "AuthzSource",
    "BatchAnswer",
    "Body",
    "CredentialAdmin",
    "IdentityAdmin",
    "IdentityUpdater",
    "ImportState",
    "OrganizationAdmin",
    "OutcomeKind",
    "PasswordChecker",
    "PasswordSource",
    "ProgressCallback",
    "RecordSource",
    "RelationshipAdmin",
    "RemovalAction",
    "SkipReason",
    "SyncSection",
    "TraitName",
    "UndoState",
    "UnusedHashReason",
    "UserSource",
    "WSGIApp",
]

Body: TypeAlias = Mapping[str, Any]
"""An Ory ``CreateIdentityBody`` as a JSON-like mapping (with ``external_id`` for the import).

.. versionadded:: 0.1.0
"""


@runtime_checkable
class BatchAnswer(Protocol):
    """Ory's 2xx answer to one batch import request, not read yet.

    The engine reads it on its own thread (not the one that sent the request), so that
    the next request goes out while this one's answer is decoded.

    .. versionadded:: 0.1.0
    """

    def read(self) -> Sequence[Mapping[str, Any]]:
        """The answer's per-item results, in the shape of Ory's answer.

        Each item has ``action`` (``"create"`` or ``"error"``), ``identity`` (the new
        identity's id), ``patch_id`` and ``error`` (Ory's error object). An answer that
        cannot be read has no items: its identities are then looked up by external id.

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class IdentityAdmin(Protocol):
    """The identity admin API of one Ory project, as the import engine uses it.

    Every method but :meth:`prepare_batch` and :meth:`body_problem` talks to Ory and
    raises :class:`~auth0_ory_migrate.OryError` when that fails (``status`` ``None`` when
    no answer came; ``outcome_unknown`` when the request may have done its work all the
    same): the engine retries as its :class:`~auth0_ory_migrate.RetryPolicy` says.

    .. versionadded:: 0.1.0
    """

    def body_problem(self, body: Body) -> str | None:
        """Why Ory would reject *body*, checked locally; ``None`` when it looks fine.

        Never repeats a secret of the body (a password, its hash, a TOTP secret).

        .. versionadded:: 0.1.0
        """
        ...

    def prepare_batch(self, bodies: Sequence[Body]) -> PreparedBatch:
        """Serialise a ``PATCH /admin/identities`` request creating *bodies*, unchanged.

        Called while the previous request is in flight, so it must not talk to Ory.

        .. versionadded:: 0.1.0
        """
        ...

    def send_batch(self, batch: PreparedBatch) -> BatchAnswer:
        """Send a prepared batch; its 2xx answer, read later.

        Raises:
            OryError: Any other answer (400: the whole batch was refused), or none.

        .. versionadded:: 0.1.0
        """
        ...

    def get_by_external_id(self, external_id: str) -> FoundIdentity | None:
        """The identity whose ``external_id`` is *external_id*, or ``None``.

        .. versionadded:: 0.1.0
        """
        ...

    def find_by_identifier(self, identifier: str) -> str | None:
        """The id of the identity owning a credential *identifier* (email, ``provider:subject``).

        .. versionadded:: 0.1.0
        """
        ...

    def list_page(
        self, page_token: str | None = None, *, page_size: int = 500
    ) -> tuple[Sequence[RemoteIdentity], str | None]:
        """One page of the project's identities and the next page's token (``None``: last).

        .. versionadded:: 0.1.0
        """
        ...

    def delete_identity(self, identity_id: str) -> bool:
        """Delete an identity; ``False`` when it does not exist (any more).

        .. versionadded:: 0.1.0
        """
        ...

    def identity_schema(self, schema_id: str) -> Mapping[str, Any] | None:
        """The identity schema the project serves as *schema_id*; ``None`` for an unknown id.

        Ory's ``GET /schemas/{id}``, the whole schema (with ``properties.traits``).

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class CredentialAdmin(Protocol):
    """What :func:`~auth0_ory_migrate.unlink_credential` needs of Ory: a credential's links.

    Apart from :class:`IdentityAdmin`, so that an admin of your own that only imports need
    not have these methods. :class:`~auth0_ory_migrate.OryAdmin` and
    :class:`~auth0_ory_migrate.testing.InMemoryOryAdmin` have both. Each method raises
    :class:`~auth0_ory_migrate.OryError` when the request fails, as :class:`IdentityAdmin`'s.

    .. versionadded:: 0.1.0
    """

    def credential_identifiers(
        self, external_id: str, credential_type: str
    ) -> LinkedIdentity | None:
        """The identity whose ``external_id`` is *external_id*, with its credential identifiers.

        Those of its *credential_type* credential (``provider:subject`` for ``oidc``);
        ``None`` when no identity has that external id. Only the identifiers: the
        credential's config (an OIDC link's tokens) is not asked for.

        .. versionadded:: 0.1.0
        """
        ...

    def delete_credential(self, identity_id: str, credential_type: str, identifier: str) -> bool:
        """Remove one link (``DELETE /admin/identities/{id}/credentials/{type}?identifier=``).

        Returns:
            ``False`` when Ory answers 404: no such identity, credential or identifier (any
            more).

        Raises:
            OryError: Any other failure (400: e.g. the identity's last way to sign in).

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class IdentityUpdater(IdentityAdmin, CredentialAdmin, Protocol):
    """What :func:`~auth0_ory_migrate.sync_identities` needs of Ory, an ``IdentityAdmin`` and more.

    Reading and writing one identity at a time (Ory Network's lower "admin low" rate-limit
    bucket) besides the import's methods, and removing a link the user unlinked in Auth0
    (:class:`CredentialAdmin`). A Protocol of its own, so that an admin of your own that
    only imports need not have these methods; :class:`~auth0_ory_migrate.OryAdmin` and
    :class:`~auth0_ory_migrate.testing.InMemoryOryAdmin` have them. Each method raises
    :class:`~auth0_ory_migrate.OryError` when the request fails, as :class:`IdentityAdmin`'s
    do, and never with a secret in its text.

    .. versionadded:: 0.1.0
    """

    def get_identity(
        self,
        identity_id: str,
        include_credentials: Sequence[str] = ("password", "oidc", "saml", "totp"),
    ) -> Mapping[str, Any] | None:
        """The identity as Ory stores it, with the configs of *include_credentials*.

        ``GET /admin/identities/{id}?include_credential=…``; ``None`` when Ory has no
        identity with that id (404).

        .. versionadded:: 0.1.0
        """
        ...

    def update_identity(self, identity_id: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Replace the identity with *body* (``PUT /admin/identities/{id}``); Ory's answer.

        .. versionadded:: 0.1.0
        """
        ...

    def patch_identity(
        self, identity_id: str, ops: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """Apply the JSON Patch *ops* (``PATCH /admin/identities/{id}``); Ory's answer.

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class ImportState(Protocol):
    """What the import remembers between runs (:class:`~auth0_ory_migrate.Ledger`).

    .. versionadded:: 0.1.0
    """

    def is_done(self, external_id: str) -> bool:
        """Whether the user is recorded as created or already present: the import skips it.

        .. versionadded:: 0.1.0
        """
        ...

    def unanswered_attempt(self, external_id: str) -> float | None:
        """When an earlier run first sent this user without learning that it arrived.

        ``None`` when no earlier run left the user in doubt. An identity with the user's
        external id created after that time counts as created by this import.

        .. versionadded:: 0.1.0
        """
        ...

    def note_attempt(self, external_ids: Iterable[str], *, at: float | None = None) -> None:
        """Remember that these users are about to be sent (at *at*, Unix time; default: now).

        .. versionadded:: 0.1.0
        """
        ...

    def record(self, outcomes: Iterable[ImportOutcome]) -> None:
        """Remember what became of these users, durably, before the import goes on.

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class UndoState(Protocol):
    """Where :func:`~auth0_ory_migrate.undo_import` records deletions.

    .. versionadded:: 0.1.0
    """

    def record_deletions(self, deleted: Iterable[tuple[str, str | None]]) -> None:
        """Remember that these ``(external_id, identity_id)`` were deleted, durably.

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class PasswordChecker(Protocol):
    """Checks an identifier and password against the old system; what the hook asks.

    :class:`~auth0_ory_migrate.Auth0PasswordChecker` asks Auth0; any object with this
    method will do (e.g. a fake in tests).

    .. versionadded:: 0.1.0
    """

    def check(self, identifier: str, password: str, client_ip: str | None) -> Auth0Outcome:
        """Ask the old system whether the password is right.

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class RelationshipAdmin(Protocol):
    """Ory Permissions' relationship API, as the relation-tuple functions use it.

    :func:`~auth0_ory_migrate.land_relation_tuples`,
    :func:`~auth0_ory_migrate.verify_relation_tuples` and
    :func:`~auth0_ory_migrate.undo_relation_tuples` take one
    (:class:`~auth0_ory_migrate.OryPermissions` is one). Each method raises
    :class:`~auth0_ory_migrate.OryError` when the request fails.

    .. versionadded:: 0.1.0
    """

    def patch(
        self, tuples: Sequence[RelationTuple], action: Literal["insert", "delete"] = "insert"
    ) -> None:
        """Insert (or delete) *tuples* in one request (one transaction).

        .. versionadded:: 0.1.0
        """
        ...

    def list(
        self, namespace: str | None = None, page_token: str | None = None
    ) -> tuple[list[RelationTuple], str | None]:
        """One page of the relationships of *namespace*, and the next page's token (or None).

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class OrganizationAdmin(Protocol):
    """Ory Network's organizations (console API), as the organization functions use them.

    :func:`~auth0_ory_migrate.create_organizations` and
    :func:`~auth0_ory_migrate.undo_organizations` use them
    (:class:`~auth0_ory_migrate.OryConsole` is one). Each method raises
    :class:`~auth0_ory_migrate.OryConsoleError` when the request fails.

    .. versionadded:: 0.1.0
    """

    def create_organization(self, project_id: str, label: str, domains: Sequence[str] = ()) -> str:
        """Create an organization; its id.

        .. versionadded:: 0.1.0
        """
        ...

    def list_organizations(self, project_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every organization: ``(id, label, domains)``.

        .. versionadded:: 0.1.0
        """
        ...

    def delete_organization(self, project_id: str, organization_id: str) -> bool:
        """Delete an organization; ``False`` when it was not there.

        .. versionadded:: 0.1.0
        """
        ...


@runtime_checkable
class AuthzSource(Protocol):
    """Where :func:`~auth0_ory_migrate.export_authz` reads roles and organizations, a page a call.

    :class:`~auth0_ory_migrate.Auth0Authz` reads Auth0's Management API. Each method raises
    :class:`~auth0_ory_migrate.Auth0ApiError` when the request fails (after its retries).

    .. versionadded:: 0.1.0
    """

    def roles(self) -> Iterator[dict[str, Any]]:
        """Every role: ``{"id", "name", "description"}``.

        .. versionadded:: 0.1.0
        """
        ...

    def role_permissions(self, role_id: str) -> list[dict[str, str | None]]:
        """A role's permissions: ``{"resource_server_identifier", "permission_name"}``.

        .. versionadded:: 0.1.0
        """
        ...

    def role_members(self, role_id: str, cursor: str | None) -> tuple[list[str], str | None]:
        """One page of a role's direct members (user ids) and the next cursor (``None``: done).

        .. versionadded:: 0.1.0
        """
        ...

    def organizations(self) -> Iterator[dict[str, Any]]:
        """Every organization: ``{"id", "name", "display_name"}``.

        .. versionadded:: 0.1.0
        """
        ...

    def organization_connections(self, organization_id: str) -> list[dict[str, Any]]:
        """Its enabled connections, each ``{"connection_id", "name", "strategy", ...}``.

        ``...`` is ``assign_membership_on_login``.

        .. versionadded:: 0.1.0
        """
        ...

    def organization_members(
        self, organization_id: str, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of members ``{"user_id", "roles": [{"id", "name"}]}`` and the next cursor.

        .. versionadded:: 0.1.0
        """
        ...
