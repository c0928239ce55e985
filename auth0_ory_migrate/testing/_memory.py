"""Ory's identity admin API in memory: an ``IdentityAdmin`` with Ory's rules, and no sockets.

:class:`InMemoryOryAdmin` is what :func:`~auth0_ory_migrate.import_identities` (and check,
verify, undo) need of Ory, answered by the store :class:`OryAdminServer
<auth0_ory_migrate.testing.OryAdminServer>` serves over HTTP: the same code decides what
Ory accepts, refuses and answers. No thread, no socket, no server to start.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from attrs import frozen

from .._core._importing import FoundIdentity
from .._core._ory import PreparedBatch, RemoteIdentity, batch_request
from .._core._redact import Redactor, batch_secrets
from .._core._unlink import LinkedIdentity
from ..exceptions import OryError
from ..typing import BatchAnswer
from ._ory_admin import (
    _PATCH_FITS,
    _PATCH_IDENTITIES,
    MAX_PAGE_SIZE,
    IdentityStore,
    OryAdminError,
    RecordedRequest,
    StoreViews,
    _batch_creates,
    _credential_identifiers,
    _declassify,
    _decode_body,
    _decode_json_patch,
    _decode_page_token,
    _echo_items,
    _echoed,
    _encode_page_token,
    _not_found,
    identity_json,
)


__all__ = ["InMemoryOryAdmin"]

_PATH = "/admin/identities"


@frozen
class _Answer:
    """A batch's per-item answers, as Ory sends them."""

    items: list[dict[str, Any]]

    def read(self) -> list[dict[str, Any]]:
        return self.items


class InMemoryOryAdmin(StoreViews):
    """Ory's identity admin API in memory: an :class:`~auth0_ory_migrate.typing.IdentityAdmin`.

    And a :class:`~auth0_ory_migrate.typing.CredentialAdmin`, for
    :func:`~auth0_ory_migrate.unlink_credential`, and it reads and updates single identities
    as Ory does (:meth:`get_identity`, :meth:`update_identity` for ``PUT``,
    :meth:`patch_identity` for a JSON Patch), for ``sync``.

    Hand it to :func:`~auth0_ory_migrate.import_identities`,
    :func:`~auth0_ory_migrate.check_identities`, :func:`~auth0_ory_migrate.verify_identities`
    or :func:`~auth0_ory_migrate.undo_import` in place of an
    :class:`~auth0_ory_migrate.OryAdmin` to unit-test a pipeline with no server and no
    socket. Its rules are :class:`~auth0_ory_migrate.testing.OryAdminServer`'s (one
    implementation): strict decoding and an unrecognised ``hashed_password`` refuse a whole
    batch (400); more than 1,000 identities in one request (200 with plaintext passwords)
    too; per identity, the traits are checked against the identity schema and a taken
    ``external_id`` or normalised identifier (email, ``provider:subject``, address) is a
    per-item 409. Refusals raise :class:`~auth0_ory_migrate.OryError` as the adapter does,
    and, as the adapter does, every credential secret of the request is cut out of the
    error texts it passes on (a refusal's reason, the items' errors).
    It injects no faults and has no rate limit: use ``OryAdminServer`` for those.

    Args:
        schemas: Extra identity schemas by id (full identity schemas with
            ``properties.traits``, or bare traits schemas). ``preset://email`` always exists.
        default_schema_id: Schema used when a body has no ``schema_id``.
        organizations: The ids of the project's Ory organizations, as for
            :class:`~auth0_ory_migrate.testing.OryAdminServer` (None: any is accepted).
        echo_request: Error texts quote the request, as with
            :attr:`OryFaults.echo_request <auth0_ory_migrate.testing.OryFaults>`.
        passwordless_code: The project allows login with a one-time code, as for
            :class:`~auth0_ory_migrate.testing.OryAdminServer`.

    Attributes:
        requests: Every call that Ory would have answered, as the HTTP request it stands
            for (:class:`~auth0_ory_migrate.testing.RecordedRequest`), in order.

    Example::

        ory = testing.InMemoryOryAdmin()
        result = import_identities(bodies, ory)
        assert result.created == len(bodies)
        assert ory.identity_by_external_id("auth0|1") is not None

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
        default_schema_id: str = "preset://email",
        echo_request: bool = False,
        organizations: Iterable[str] | None = None,
        passwordless_code: bool = False,
    ) -> None:
        self._store = IdentityStore(
            schemas=schemas,
            default_schema_id=default_schema_id,
            organizations=organizations,
            passwordless_code=passwordless_code,
        )
        self.echo_request = echo_request
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []

    def __repr__(self) -> str:
        return f"InMemoryOryAdmin(identities={len(self._store)})"

    def _record(
        self, method: str, path: str, status: int, *, items: int = 0, query: str = ""
    ) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, status, items, query=query))

    # -- IdentityAdmin ------------------------------------------------------------------------

    def body_problem(self, body: Mapping[str, Any]) -> str | None:
        """Why a ``POST /admin/identities`` of *body* would be refused (400), or ``None``.

        Nothing is stored, and clashes with stored identities are not looked for.

        .. versionadded:: 0.1.0
        """
        return self._store.problem(body)

    def prepare_batch(self, bodies: Sequence[Mapping[str, Any]]) -> PreparedBatch:
        """Serialise a ``PATCH /admin/identities`` request creating *bodies*, unchanged.

        .. versionadded:: 0.1.0
        """
        return batch_request(bodies, url=_PATH, headers={"Content-Type": "application/json"})

    def send_batch(self, batch: PreparedBatch) -> BatchAnswer:
        """Import a prepared batch as Ory does; its answer.

        Raises:
            OryError: 400: the whole batch was refused, and nothing was imported.

        .. versionadded:: 0.1.0
        """
        items = 0
        try:
            body, text = _decode_body(
                batch.body, _PATCH_IDENTITIES, _PATCH_FITS, "PatchIdentitiesBody"
            )
            patches = body.get("identities") or []
            items = len(patches)
            creates = _batch_creates(patches)
            results = self._store.import_batch(patches, creates, text)
        except OryAdminError as e:
            self._record(batch.method, _PATH, e.code, items=items)
            refused = _echoed(e, batch.body.decode("utf-8", "replace")) if self.echo_request else e
            reason = Redactor(batch_secrets(batch.body)).text(refused.reason)
            raise OryError(e.code, reason) from None
        self._record(batch.method, _PATH, 200, items=items)
        if self.echo_request:
            _echo_items(results, creates)
        if any(item.get("action") == "error" for item in results):
            redactor = Redactor(batch_secrets(batch.body))
            for item in results:
                if "error" in item:
                    item["error"] = redactor.value(item["error"])
        return _Answer(results)

    def get_by_external_id(self, external_id: str) -> FoundIdentity | None:
        """The identity whose ``external_id`` is *external_id*, or ``None``.

        .. versionadded:: 0.1.0
        """
        identity = self._store.identity_by_external_id(external_id)
        self._record("GET", f"{_PATH}/by/external/{external_id}", 404 if identity is None else 200)
        if identity is None:
            return None
        return FoundIdentity(identity.id, identity.created_at.timestamp())

    def find_by_identifier(self, identifier: str) -> str | None:
        """The id of the identity owning a credential *identifier* (email, ``provider:subject``).

        .. versionadded:: 0.1.0
        """
        identity = self._store.identity_by_identifier(identifier)
        self._record("GET", _PATH, 200, query=urlencode({"credentials_identifier": identifier}))
        return identity.id if identity is not None else None

    def list_page(
        self, page_token: str | None = None, *, page_size: int = 500
    ) -> tuple[list[RemoteIdentity], str | None]:
        """One page of the identities, in creation order, and the next page's token.

        *page_size* is capped at 500, as Ory caps it.

        Raises:
            OryError: 400: *page_size* below 1, or an invalid *page_token*.

        .. versionadded:: 0.1.0
        """
        query = urlencode(
            {"page_size": page_size, **({"page_token": page_token} if page_token else {})}
        )
        try:
            if page_size < 1:
                raise OryAdminError(400, "page_size must be at least 1")
            start = _decode_page_token(page_token) if page_token else 0
        except OryAdminError as e:
            self._record("GET", _PATH, e.code, query=query)
            raise OryError(e.code, e.reason) from e
        self._record("GET", _PATH, 200, query=query)
        size = min(page_size, MAX_PAGE_SIZE)
        page = self._store.page(start, size)
        token = _encode_page_token(page[size - 1][1] + 1) if len(page) > size else None
        identities = []
        for record, _ in page[:size]:
            email = record.stored().traits.get("email")
            identities.append(
                RemoteIdentity(
                    record.id, record.external_id, email if isinstance(email, str) else None
                )
            )
        return identities, token

    def identity_schema(self, schema_id: str) -> Mapping[str, Any] | None:
        """The identity schema ``GET /schemas/{schema_id}`` answers, or ``None`` (404).

        .. versionadded:: 0.1.0
        """
        _, schema = self._store.served_schema(schema_id)
        self._record("GET", f"/schemas/{schema_id}", 200 if schema is not None else 404)
        return schema

    def delete_identity(self, identity_id: str) -> bool:
        """Delete an identity; ``False`` when it does not exist (any more).

        .. versionadded:: 0.1.0
        """
        deleted = self._store.delete(identity_id)
        self._record("DELETE", f"{_PATH}/{identity_id}", 204 if deleted else 404)
        return deleted

    # -- IdentityUpdater ----------------------------------------------------------------------

    def get_identity(
        self,
        identity_id: str,
        include_credentials: Sequence[str] = ("password", "oidc", "saml", "totp"),
    ) -> Mapping[str, Any] | None:
        """``GET /admin/identities/{id}?include_credential=...``'s answer, or ``None`` (404).

        The credentials of *include_credentials* carry their ``config`` (password hashes, TOTP
        URLs: keep the answer out of logs); the others are listed without it.

        Raises:
            OryError: 400: a credential type Ory does not know.

        .. versionadded:: 0.1.0
        """
        path = f"{_PATH}/{identity_id}"
        query = urlencode([("include_credential", kind) for kind in include_credentials])
        try:
            include = _declassify(include_credentials)
            answer = self._store.json_of(identity_id, include)
        except OryAdminError as e:
            self._record("GET", path, e.code, query=query)
            if e.code == 404:
                return None
            raise OryError(e.code, e.reason) from None
        self._record("GET", path, 200, query=query)
        return answer

    def update_identity(self, identity_id: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """``PUT /admin/identities/{id}`` with *body* (an UpdateIdentityBody); Ory's answer.

        As Kratos: what is not sent of ``external_id``, ``metadata_public`` and
        ``metadata_admin`` is cleared, credentials sent are imported on top of the stored
        ones, addresses are derived again from the traits (see
        :meth:`OryAdminServer <auth0_ory_migrate.testing.OryAdminServer>`).

        Raises:
            OryError: 404 (no such identity), 400, 409 (an identifier another identity owns).

        .. versionadded:: 0.1.0
        """
        path = f"{_PATH}/{identity_id}"
        try:
            payload = json.loads(json.dumps(body))
            if not isinstance(payload, dict):
                raise OryAdminError(400, "Unable to decode JSON payload: not an object")
            stored = self._store.update(identity_id, payload)  # (it checks the body's shape)
        except OryAdminError as e:
            self._record("PUT", path, e.code, items=1)
            raise OryError(e.code, e.reason or e.message) from None
        except (TypeError, ValueError) as e:
            self._record("PUT", path, 400, items=1)
            raise OryError(400, f"Unable to decode JSON payload: {type(e).__name__}") from None
        self._record("PUT", path, 200, items=1)
        return identity_json(stored, ())

    def patch_identity(
        self, identity_id: str, ops: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """``PATCH /admin/identities/{id}`` with the JSON Patch *ops*; Ory's answer.

        Only ``add``, ``remove`` and ``replace``; Kratos's refused paths (``/id``,
        ``/stateChangedAt``, ``/credentials``, ``/credentials/oidc/**``,
        ``/credentials/saml/**``) are 400, and the patched identity is validated.

        Raises:
            OryError: 404, 400, 409.

        .. versionadded:: 0.1.0
        """
        path = f"{_PATH}/{identity_id}"
        try:
            if self._store.identity(identity_id) is None:
                raise _not_found()
            payload = _decode_json_patch(json.dumps(list(ops)).encode())
            stored = self._store.patch(identity_id, payload)
        except OryAdminError as e:
            self._record("PATCH", path, e.code, items=1)
            reason = e.message if e.reason == "failed to apply JSON patch" else e.reason
            raise OryError(e.code, reason or e.message) from None
        except (TypeError, ValueError) as e:
            self._record("PATCH", path, 400, items=1)
            raise OryError(400, f"failed to unmarshal JSON patch: {type(e).__name__}") from None
        self._record("PATCH", path, 200, items=1)
        return identity_json(stored, ())

    # -- CredentialAdmin ----------------------------------------------------------------------

    def credential_identifiers(
        self, external_id: str, credential_type: str
    ) -> LinkedIdentity | None:
        """The identity with this ``external_id`` and its *credential_type* identifiers.

        As ``GET /admin/identities/by/external/{external_id}`` lists them (no config).

        .. versionadded:: 0.1.0
        """
        identity = self._store.identity_by_external_id(external_id)
        self._record("GET", f"{_PATH}/by/external/{external_id}", 404 if identity is None else 200)
        if identity is None:
            return None
        return LinkedIdentity(identity.id, _credential_identifiers(identity, credential_type))

    def delete_credential(self, identity_id: str, credential_type: str, identifier: str) -> bool:
        """Remove one credential link as Ory does; ``False`` for its 404.

        Raises:
            OryError: 400: e.g. the identity's last first factor.

        .. versionadded:: 0.1.0
        """
        path = f"{_PATH}/{identity_id}/credentials/{credential_type}"
        query = urlencode({"identifier": identifier})
        try:
            self._store.delete_credential(identity_id, credential_type, identifier)
        except OryAdminError as e:
            self._record("DELETE", path, e.code, query=query)
            if e.code == 404:
                return False
            raise OryError(e.code, e.reason) from None
        self._record("DELETE", path, 204, query=query)
        return True

    def reset(self) -> None:
        """Forget every identity and recorded request.

        .. versionadded:: 0.1.0
        """
        self._store.clear()
        with self._lock:
            self.requests.clear()
