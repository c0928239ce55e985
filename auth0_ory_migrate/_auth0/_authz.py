"""Roles, permissions and organizations read from Auth0's Management API through auth0-python.

:class:`Auth0Authz` is the thin adapter :func:`~auth0_ory_migrate.export_authz` reads through
(it is an :class:`~auth0_ory_migrate.typing.AuthzSource`). It reuses an
:class:`~auth0_ory_migrate.Auth0Exporter`'s client, retry policy (429s wait for
``x-ratelimit-reset``) and secret masking, and pages one request at a time so that a caller
can checkpoint between pages:

- roles: ``roles.list`` (offset paging) and ``roles.permissions.list``;
- role members: ``roles.users.list`` with checkpoint paging (``from`` / ``take`` / ``next``).
  Auth0 answers the *direct* assignments only (roles a user holds through a group are not in
  it). The walk is role → users, never user → roles: these endpoints share Auth0's "all other
  endpoints" rate limit, and one request per user would take days for a million users;
- organizations: ``organizations.list`` (checkpoint paging),
  ``organizations.enabled_connections.list`` and ``organizations.members.list`` with
  ``fields="user_id,roles"`` (the token needs ``read:organization_member_roles``).

SDK errors become :class:`~auth0_ory_migrate.Auth0ApiError` at this boundary; a refused scope
says which scopes the token needs.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define
from auth0.management.client import Auth0
from auth0.management.management_client import ManagementClient

from ..exceptions import Auth0ApiError
from ._exporter import Auth0Exporter


if TYPE_CHECKING:
    from auth0.management.core.request_options import RequestOptions

__all__ = ["AUTHZ_SCOPES", "Auth0Authz"]

T = TypeVar("T")

#: The Management API scopes the roles and organizations export needs.
AUTHZ_SCOPES: tuple[str, ...] = (
    "read:roles",
    "read:users",
    "read:organizations",
    "read:organization_members",
    "read:organization_member_roles",
    "read:organization_connections",
)

_MAX_PAGE = 100  # Auth0's largest per_page / take


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _next(pager: Any) -> str | None:
    """The checkpoint page's ``next`` cursor; ``None`` at the end (or after an empty page)."""
    if not pager.items:
        return None
    return _text(getattr(pager.response, "next", None)) or None


@define
class Auth0Authz:
    """Reads an Auth0 tenant's roles and organizations, one page per request.

    Build it with :meth:`of` from an :class:`~auth0_ory_migrate.Auth0Exporter` (its client,
    retries and masking are reused) or from an auth0-python client.

    Attributes:
        exporter: The exporter whose client and retry policy are used.
        page_size: Items per request (at most 100, Auth0's maximum).

    .. versionadded:: 0.1.0
    """

    exporter: Auth0Exporter
    page_size: int = _MAX_PAGE

    @classmethod
    def of(cls, source: Auth0Exporter | ManagementClient | Auth0, **options: Any) -> Auth0Authz:
        """An adapter over an exporter or an auth0-python Management API client.

        .. versionadded:: 0.1.0
        """
        exporter = source if isinstance(source, Auth0Exporter) else Auth0Exporter(source)
        return cls(exporter, **options)

    def _call(self, action: str, scopes: str, call: Callable[[RequestOptions], T]) -> T:
        try:
            return self.exporter._call(action, call, idempotent=True)
        except Auth0ApiError as e:
            if e.status == 403 and e.error_code == "insufficient_scope":
                raise Auth0ApiError(
                    e.action, e.status, e.error_code, e.auth0_message, scopes=scopes
                ) from None
            raise

    @property
    def _take(self) -> int:
        return max(1, min(self.page_size, _MAX_PAGE))

    # -- roles -------------------------------------------------------------------------------

    def _offset_pages(self, what: str, scope: str, listing: Callable[..., Any]) -> Iterator[Any]:
        """Every item of an offset-paged listing (``page``, ``per_page``, ``include_totals``).

        *listing* is the SDK method with its positional arguments bound; the walk ends at a
        short or empty page, or once Auth0's ``total`` items were read.
        """
        page = seen = 0
        while True:
            number = page

            def get(options: RequestOptions, number: int = number) -> Any:
                return listing(
                    page=number, per_page=self._take, include_totals=True, request_options=options
                )

            pager = self._call(f"{what} (page {page})", scope, get)
            items = list(pager.items or [])
            yield from items
            seen += len(items)
            total = getattr(pager.response, "total", None)
            if not items or len(items) < self._take or (total is not None and seen >= total):
                return
            page += 1

    def roles(self) -> Iterator[dict[str, Any]]:
        """Every role: ``{"id", "name", "description"}``, in Auth0's order (offset paging).

        .. versionadded:: 0.1.0
        """
        for role in self._offset_pages(
            "listing roles", "read:roles", self.exporter.client.roles.list
        ):
            yield {
                "id": _text(role.id),
                "name": _text(role.name),
                "description": _text(role.description),
            }

    def role_permissions(self, role_id: str) -> list[dict[str, str | None]]:
        """A role's permissions: ``{"resource_server_identifier", "permission_name"}``.

        .. versionadded:: 0.1.0
        """
        listing = functools.partial(self.exporter.client.roles.permissions.list, role_id)
        return [
            {
                "resource_server_identifier": _text(p.resource_server_identifier),
                "permission_name": _text(p.permission_name),
            }
            for p in self._offset_pages(
                f"listing the permissions of role {role_id}", "read:roles", listing
            )
        ]

    def role_members(self, role_id: str, cursor: str | None) -> tuple[list[str], str | None]:
        """One page of a role's direct members: their user ids and the next page's cursor.

        Start with ``cursor=None``; the walk is over when the returned cursor is ``None``.

        .. versionadded:: 0.1.0
        """
        client = self.exporter.client

        def get(options: RequestOptions) -> Any:
            return client.roles.users.list(
                role_id, from_=cursor, take=self._take, request_options=options
            )

        pager = self._call(f"listing the users of role {role_id}", "read:roles and read:users", get)
        users = [u for u in (_text(x.user_id) for x in pager.items or []) if u is not None]
        return users, _next(pager)

    # -- organizations -----------------------------------------------------------------------

    def organizations(self) -> Iterator[dict[str, Any]]:
        """Every organization: ``{"id", "name", "display_name"}`` (checkpoint paging).

        .. versionadded:: 0.1.0
        """
        client = self.exporter.client
        cursor: str | None = None
        while True:
            start = cursor

            def get(options: RequestOptions, start: str | None = start) -> Any:
                return client.organizations.list(
                    from_=start, take=self._take, request_options=options
                )

            pager = self._call("listing organizations", "read:organizations", get)
            for org in pager.items or []:
                yield {
                    "id": _text(org.id),
                    "name": _text(org.name),
                    "display_name": _text(org.display_name),
                }
            cursor = _next(pager)
            if cursor is None:
                return

    def organization_connections(self, organization_id: str) -> list[dict[str, Any]]:
        """An organization's enabled connections, as the export file has them.

        ``{"connection_id", "name", "strategy", "assign_membership_on_login"}``.

        .. versionadded:: 0.1.0
        """
        listing = functools.partial(
            self.exporter.client.organizations.enabled_connections.list, organization_id
        )
        out: list[dict[str, Any]] = []
        for c in self._offset_pages(
            f"listing the connections of organization {organization_id}",
            "read:organization_connections",
            listing,
        ):
            info = c.connection
            out.append(
                {
                    "connection_id": _text(c.connection_id),
                    "name": _text(info.name) if info is not None else None,
                    "strategy": _text(info.strategy) if info is not None else None,
                    "assign_membership_on_login": c.assign_membership_on_login is True,
                }
            )
        return out

    def organization_members(
        self, organization_id: str, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of an organization's members with their roles, and the next cursor.

        Each member is ``{"user_id", "roles": [{"id", "name"}]}``. Start with
        ``cursor=None``; the walk is over when the returned cursor is ``None``.

        .. versionadded:: 0.1.0
        """
        client = self.exporter.client

        def get(options: RequestOptions) -> Any:
            return client.organizations.members.list(
                organization_id,
                from_=cursor,
                take=self._take,
                fields="user_id,roles",
                include_fields=True,
                request_options=options,
            )

        pager = self._call(
            f"listing the members of organization {organization_id} with their roles",
            "read:organization_members and read:organization_member_roles",
            get,
        )
        members = [
            {
                "user_id": _text(m.user_id),
                "roles": [{"id": _text(r.id), "name": _text(r.name)} for r in m.roles or []],
            }
            for m in pager.items or []
        ]
        return members, _next(pager)
