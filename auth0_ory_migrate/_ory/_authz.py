"""A thin adapter over ``ory-client``'s ``RelationshipApi``: Ory Permissions (Keto) relationships.

One :meth:`OryPermissions.patch` is one ``PATCH /admin/relation-tuples`` request (Keto applies
it as one transaction); :meth:`OryPermissions.list` is one ``GET /relation-tuples`` page. The
SDK's and the transport's errors become :class:`~auth0_ory_migrate.exceptions.OryError` at
the boundary, with the API key cut out of what Ory answers (as :mod:`._admin` does). Chunking,
ledgering and retries are the runtime's (:mod:`auth0_ory_migrate._runtime._authz`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import pydantic
from attrs import define, field
from ory_client import ApiClient, RelationshipApi
from ory_client.exceptions import OpenApiException
from ory_client.models.relationship import Relationship
from ory_client.models.relationship_patch import RelationshipPatch

from .._core._authz import RelationTuple
from .._core._redact import Redactor
from ..exceptions import OryError
from ._admin import _as_ory_error, client_secrets, ory_configuration


__all__ = ["OryPermissions"]

#: Most relationships one ``GET /relation-tuples`` page holds (Keto caps larger sizes).
LIST_PAGE_SIZE = 500


def _subject(r: Relationship) -> str:
    """The subject of a relationship: its id, or ``Namespace:object#relation`` for a set."""
    if r.subject_id is not None:
        return r.subject_id
    s = r.subject_set
    return f"{s.namespace}:{s.object}#{s.relation}" if s is not None else ""


@define
class OryPermissions:
    """Ory Permissions' relationship API of a project, through ``ory_client.RelationshipApi``.

    Use :meth:`from_url`; close it (or use it as a context manager) when done.

    Args:
        api_client: The SDK client to use.
        request_timeout: Seconds to wait for an answer.

    .. versionadded:: 0.1.0
    """

    api_client: ApiClient = field(repr=False)
    request_timeout: float = 120.0
    _api: RelationshipApi = field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._api = RelationshipApi(self.api_client)

    @classmethod
    def from_url(
        cls, url: str, api_key: str | None = None, *, request_timeout: float = 120.0
    ) -> OryPermissions:
        """Connect to the Ory project at *url* with *api_key*.

        Args:
            url: ``https://<slug>.projects.oryapis.com`` (or a Keto URL serving both the read
                and the write API).
            api_key: An Ory project API key (``ory_pat_…``); ``None`` for a Keto without
                authentication.
            request_timeout: Seconds to wait for an answer.

        The SDK's own retries are off: the caller's :class:`~auth0_ory_migrate.RetryPolicy`
        retries (a 429's ``Retry-After`` included).

        Raises:
            ConfigurationError: *url* is not an ``http(s)://`` URL.

        .. versionadded:: 0.1.0
        """
        return cls(ApiClient(ory_configuration(url, api_key)), request_timeout=request_timeout)

    @property
    def url(self) -> str:
        """The base URL requests go to.

        .. versionadded:: 0.1.0
        """
        return str(self.api_client.configuration.host)

    def __repr__(self) -> str:
        return f"OryPermissions(url={self._redactor().text(self.url)!r})"

    def _redactor(self) -> Redactor:
        return Redactor(client_secrets(self.api_client))

    @contextlib.contextmanager
    def _as_ory_error(self) -> Iterator[None]:
        try:
            with _as_ory_error(self._redactor()):
                yield
        except (OpenApiException, pydantic.ValidationError) as e:
            raise OryError(None, f"unexpected answer from Ory ({type(e).__name__})") from None

    def close(self) -> None:
        """Close pooled connections.

        .. versionadded:: 0.1.0
        """
        self.api_client.rest_client.pool_manager.clear()

    def __enter__(self) -> OryPermissions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def patch(
        self, tuples: Sequence[RelationTuple], action: Literal["insert", "delete"] = "insert"
    ) -> None:
        """Insert (or delete) *tuples* with one ``PATCH /admin/relation-tuples`` request.

        Keto applies the request as one transaction: all of it or nothing. Inserting a
        relationship that exists, or deleting one that does not, is no error.

        Raises:
            OryError: The request failed (400: a bad tuple; 404: a namespace Ory does not
                have; 429...). Its text never holds the API key.

        .. versionadded:: 0.1.0
        """
        if action not in ("insert", "delete"):
            raise ValueError(f"action must be 'insert' or 'delete', not {action!r}")
        deltas = [
            RelationshipPatch(
                action=action,
                relation_tuple=Relationship(
                    namespace=t.namespace,
                    object=t.object,
                    relation=t.relation,
                    subject_id=t.subject_id,
                ),
            )
            for t in tuples
        ]
        if not deltas:
            return
        with self._as_ory_error():
            self._api.patch_relationships(deltas, _request_timeout=self.request_timeout)

    def list(
        self,
        namespace: str | None = None,
        page_token: str | None = None,
        *,
        page_size: int = LIST_PAGE_SIZE,
        object: str | None = None,
        relation: str | None = None,
        subject_id: str | None = None,
    ) -> tuple[list[RelationTuple], str | None]:
        """One page of ``GET /relation-tuples``: the relationships and the next page's token.

        A relationship whose subject is a subject set has ``Namespace:object#relation`` as its
        :attr:`~auth0_ory_migrate.RelationTuple.subject_id`.

        Returns:
            ``(tuples, token)``; ``token`` is ``None`` after the last page.

        Raises:
            OryError: The request failed.

        .. versionadded:: 0.1.0
        """
        with self._as_ory_error():
            page = self._api.get_relationships(
                page_size=page_size,
                page_token=page_token or None,
                namespace=namespace,
                object=object,
                relation=relation,
                subject_id=subject_id,
                _request_timeout=self.request_timeout,
            )
        found = [
            RelationTuple(r.namespace, r.object, r.relation, _subject(r))
            for r in page.relation_tuples or ()
        ]
        return found, page.next_page_token or None

    def iter_all(self, namespace: str | None = None) -> Iterable[RelationTuple]:
        """Every relationship (of *namespace*), page after page (no retries: see the runtime).

        .. versionadded:: 0.1.0
        """
        token: str | None = None
        while True:
            found, token = self.list(namespace, token)
            yield from found
            if token is None:
                return
