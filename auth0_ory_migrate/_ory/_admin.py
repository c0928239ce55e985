"""A thin adapter over ``ory-client``'s ``IdentityApi``: the only module that talks to Ory.

It turns SDK and transport errors into :class:`~auth0_ory_migrate.exceptions.OryError` at the
boundary, with every secret it sent (its API key, the credential configs of the identities in
the request) cut out of what Ory answers, and decides nothing: batching, retries and the
meaning of results are pure functions in :mod:`auth0_ory_migrate._core._importing` and
:mod:`auth0_ory_migrate._core._ory`. It is an
:class:`~auth0_ory_migrate.typing.IdentityAdmin`, which is all the engine knows of it.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import pydantic
import urllib3
from attrs import define, field, frozen
from ory_client import ApiClient, Configuration, IdentityApi
from ory_client.exceptions import ApiException, NotFoundException
from ory_client.models.create_identity_body import CreateIdentityBody
from ory_client.rest import RESTResponse

from .._core import _json
from .._core._hashes import ory_hash_problem
from .._core._importing import FoundIdentity, has_plaintext_password
from .._core._ory import (
    PreparedBatch,
    RemoteIdentity,
    batch_request,
    error_reason,
    iter_pages,
    next_page_token,
)
from .._core._redact import (
    ConfidentialIdentity,
    Redactor,
    batch_secrets,
    credential_secrets,
)
from .._core._unlink import LinkedIdentity
from ..exceptions import ConfigurationError, OryError
from ..typing import BatchAnswer


__all__ = ["OryAdmin", "body_problem"]

_BATCH_TYPES: dict[str, str | None] = {
    "200": "BatchPatchIdentitiesResponse",
    "400": "ErrorGeneric",
    "409": "ErrorGeneric",
}
_ONE_TYPES: dict[str, str | None] = {
    "200": "Identity",
    "400": "ErrorGeneric",
    "404": "ErrorGeneric",
    "409": "ErrorGeneric",
}
_CONNECT_TIMEOUT = 30.0
_IDS_PER_READ = 100  # identities per GET /admin/identities?ids=… (get_identities)
_LIST = "/admin/identities"
#: Schema ids sent in the path as they are (others go base64url-encoded, as Ory accepts).
_URL_SAFE_ID = re.compile(r"[A-Za-z0-9._~-]+")


def _unknown_keys(model: Any, path: str) -> list[str]:
    found: list[str] = []
    extra = getattr(model, "additional_properties", None) or {}
    found.extend(f"{path}{key}" for key in extra)
    for name in type(model).model_fields:
        if name == "additional_properties":
            continue
        value = getattr(model, name, None)
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            if isinstance(item, pydantic.BaseModel):
                where = f"{path}{name}[{i}]." if isinstance(value, list) else f"{path}{name}."
                found.extend(_unknown_keys(item, where))
    return found


def body_problem(body: Mapping[str, Any]) -> str | None:
    """Why Ory would reject *body*, checked client-side; ``None`` when it looks fine.

    Checks it against ``ory_client.models.CreateIdentityBody`` (types, enums, and keys the
    model does not know: Ory's strict decoding rejects a whole batch for one), and its
    ``hashed_password`` against the formats Ory accepts. Never repeats a value.

    .. versionadded:: 0.1.0
    """
    try:
        model = CreateIdentityBody.from_dict(dict(body))
    except pydantic.ValidationError as e:
        first = e.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        return f"not a CreateIdentityBody ({type(e).__name__})"
    if model is None:
        return "empty body"
    unknown = _unknown_keys(model, "")
    if unknown:
        return f"unknown key(s) Ory would reject: {', '.join(unknown)}"
    credentials = body.get("credentials") or {}
    config = ((credentials.get("password") or {}).get("config")) or {}
    hashed = config.get("hashed_password")
    if isinstance(hashed, str):
        problem = ory_hash_problem(hashed)
        if problem:
            return f"credentials.password.config.hashed_password: {problem}"
    if has_plaintext_password(body) and hashed:
        return "credentials.password.config: both password and hashed_password"
    return None


def _from_api_exception(e: ApiException, redactor: Redactor) -> OryError:
    headers = {str(k): redactor.text(str(v)) for k, v in (e.headers or {}).items()}
    status = e.status if isinstance(e.status, int) and e.status > 0 else None
    fallback = str(e.reason or "error")
    return OryError(status, error_reason(e.body, fallback, redactor)[1], headers=headers)


def _from_transport(e: BaseException) -> OryError:
    cause: BaseException = e
    if isinstance(e, urllib3.exceptions.MaxRetryError) and e.reason is not None:
        cause = e.reason
    sent = not isinstance(
        cause,
        (
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.ConnectTimeoutError,
            urllib3.exceptions.NameResolutionError,
        ),
    )
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        what = "timed out waiting for the answer"
    elif isinstance(cause, urllib3.exceptions.ProtocolError):
        what = "the connection was closed before an answer came"
    elif not sent:
        what = "cannot connect"
    elif isinstance(cause, urllib3.exceptions.SSLError):  # (its moment unknown: counted as sent)
        what = "TLS error (check the URL, and the CA bundle: SSL_CERT_FILE, REQUESTS_CA_BUNDLE)"
    else:
        what = f"request failed ({type(cause).__name__})"
    return OryError(None, what, outcome_unknown=sent)


_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)


@contextlib.contextmanager
def _as_ory_error(redactor: Redactor) -> Iterator[None]:
    """Turn the SDK's and the transport's exceptions raised inside into :class:`OryError`.

    Raised ``from None``: the SDK's exception quotes the whole answer (and so whatever
    secret it echoes) in its text, and would in a traceback.
    """
    try:
        yield
    except ApiException as e:
        raise _from_api_exception(e, redactor) from None
    except _TRANSPORT_ERRORS as e:
        raise _from_transport(e) from None


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


@frozen
class _BatchAnswer:
    """A 2xx answer to a batch, read with the SDK's own models when the engine asks."""

    _api_client: ApiClient = field(repr=False)
    _response: RESTResponse = field(repr=False)
    _batch: PreparedBatch = field(repr=False)
    _keys: frozenset[str] = field(repr=False)

    def read(self) -> list[dict[str, Any]]:
        """The per-item results of the answer, as plain dicts.

        An answer that cannot be read yields no items: every identity of the batch then
        counts as unreported and is looked up by external id. The items' errors come with
        every secret of the request (and the API key) cut out.
        """
        try:
            answer = self._api_client.response_deserialize(self._response, _BATCH_TYPES).data
        except (ApiException, pydantic.ValidationError, ValueError):
            return []
        items = getattr(answer, "identities", None) or []
        redactor: Redactor | None = None
        read = []
        for item in items:
            error = item.error
            if error is not None:
                if redactor is None:  # only when an item failed: the happy path pays nothing
                    redactor = Redactor.of(self._keys, batch_secrets(self._batch.body))
                error = redactor.value(error)
            read.append(
                {
                    "action": item.action,
                    "identity": str(item.identity) if item.identity is not None else None,
                    "patch_id": str(item.patch_id) if item.patch_id is not None else None,
                    "error": error,
                }
            )
        return read


def ory_configuration(url: str, api_key: str | None) -> Configuration:
    """The ory-client configuration of the project at *url*, its SDK retries off.

    Retries are the caller's (:class:`~auth0_ory_migrate.RetryPolicy`): urllib3's own would
    sleep a 429's ``Retry-After`` inside a single call, unseen and unbounded by the policy.

    Raises:
        ConfigurationError: *url* is not an ``http(s)://`` URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"the Ory URL must look like https://<slug>.projects.oryapis.com, not {url!r}"
        )
    configuration = Configuration(host=url.rstrip("/"), access_token=api_key or None)
    configuration.retries = 0
    return configuration


def client_secrets(api_client: ApiClient) -> frozenset[str]:
    """The credentials an ory-client sends (API key, basic-auth password, URL password)."""
    configuration = api_client.configuration
    keys: list[object] = [configuration.access_token, configuration.password]
    keys.extend((configuration.api_key or {}).values())
    for name, value in (api_client.default_headers or {}).items():
        if str(name).lower() in ("authorization", "cookie", "x-session-token"):
            keys.extend((value, str(value).partition(" ")[2]))
    with contextlib.suppress(ValueError):
        keys.append(urlsplit(str(configuration.host)).password)
    return frozenset(k for k in keys if isinstance(k, str) and k)


@define(repr=False)
class OryAdmin:
    """The identity admin API of one Ory project (Ory Network or a self-hosted Kratos).

    Build it from a URL and an API key with :meth:`from_url`, or hand in your own
    ``ory_client.ApiClient`` (proxies, TLS settings, other authentication).

    The API key never appears in its ``repr``, in logs or in error messages: it, and every
    credential secret of the request (``hashed_password``, ``password``, the TOTP URL and its
    secret, lookup codes, OIDC tokens), is cut out of every answer's error text before it
    leaves the adapter, whatever its format.

    How a batch is sent: ``IdentityApi.batch_patch_identities`` takes a
    ``PatchIdentitiesBody`` model and serialises it with ``to_dict()``, which adds keys of its
    own (explicit ``null`` for nullable fields such as ``metadata_public``,
    ``organization_id`` and an OIDC provider's ``organization``) and keeps unknown keys;
    Ory's strict decoding rejects a whole batch for such differences. So the request is
    built as the generated method builds it (``ApiClient.param_serialize`` with the same
    method, path, headers and ``oryAccessToken`` auth, so the client's configuration
    applies), with our JSON bodies encoded once, up front, while the previous batch is in
    flight; it goes out through the client's own connection pool
    (``rest_client.pool_manager``: its proxy, TLS and retry settings) as
    ``ApiClient.call_api`` would send it, minus ``call_api``'s ``json.dumps`` of the whole
    batch on the sending thread (15 ms for 1,000 identities, a seventh of a 100 ms round
    trip). Answers are read with ``ApiClient.response_deserialize``, so the SDK's own
    exceptions and models apply, on the engine's thread (:meth:`send_batch` returns the
    answer unread). Lookups, listing and deletion use the generated ``IdentityApi`` methods.

    It is also a :class:`~auth0_ory_migrate.typing.CredentialAdmin`, for
    :func:`~auth0_ory_migrate.unlink_credential`, and an
    :class:`~auth0_ory_migrate.typing.IdentityUpdater` (:meth:`get_identity`,
    :meth:`update_identity`, :meth:`patch_identity`), for
    :func:`~auth0_ory_migrate.sync_identities`: their bodies go as they are (no ``null``
    added for an unset field, which ``PUT`` would read as "clear it").

    Args:
        api_client: The SDK client to use.
        request_timeout: Seconds to wait for an answer.

    .. versionadded:: 0.1.0
    """

    api_client: ApiClient
    request_timeout: float = 120.0
    _api: IdentityApi = field(init=False)
    _key_redactor: Redactor | None = field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._api = IdentityApi(self.api_client)

    @classmethod
    def from_url(
        cls,
        url: str,
        api_key: str | None = None,
        *,
        request_timeout: float = 120.0,
        connections: int = 8,
    ) -> OryAdmin:
        """Connect to the Ory project at *url* with *api_key*.

        Args:
            url: ``https://<slug>.projects.oryapis.com``, or a Kratos admin URL.
            api_key: An Ory project API key (``ory_pat_…``); ``None`` for a Kratos admin
                port without authentication.
            request_timeout: Seconds to wait for an answer.
            connections: Size of the connection pool.

        The SDK's own (urllib3) retries are turned off: the import retries as its
        :class:`~auth0_ory_migrate.RetryPolicy` says.

        Raises:
            ConfigurationError: *url* is not an ``http(s)://`` URL.

        .. versionadded:: 0.1.0
        """
        configuration = ory_configuration(url, api_key)
        configuration.connection_pool_maxsize = max(connections, 1)
        return cls(ApiClient(configuration), request_timeout=request_timeout)

    @property
    def url(self) -> str:
        """The base URL requests go to.

        .. versionadded:: 0.1.0
        """
        return str(self.api_client.configuration.host)

    def __repr__(self) -> str:
        return f"OryAdmin(url={self._redactor().text(self.url)!r})"

    def _keys(self) -> frozenset[str]:
        """The credentials the client sends (API key, basic-auth password, URL password)."""
        return client_secrets(self.api_client)

    def _redactor(self, batch: PreparedBatch | None = None) -> Redactor:
        """Cuts the API key, and *batch*'s credential secrets, out of texts."""
        keys = self._keys()
        if batch is not None:
            return Redactor.of(keys, batch_secrets(batch.body))
        if self._key_redactor is None or self._key_redactor.secrets != keys:
            self._key_redactor = Redactor(keys)
        return self._key_redactor

    def close(self) -> None:
        """Close pooled connections.

        .. versionadded:: 0.1.0
        """
        self.api_client.rest_client.pool_manager.clear()

    def __enter__(self) -> OryAdmin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def _timeout(self) -> tuple[float, float]:
        return (float(min(_CONNECT_TIMEOUT, self.request_timeout)), float(self.request_timeout))

    # -- batch import -------------------------------------------------------------------------

    def body_problem(self, body: Mapping[str, Any]) -> str | None:
        """Why Ory would reject *body*, checked client-side (see :func:`body_problem`).

        .. versionadded:: 0.1.0
        """
        return body_problem(body)

    def prepare_batch(self, bodies: Sequence[Mapping[str, Any]]) -> PreparedBatch:
        """Serialise a ``PATCH /admin/identities`` request creating *bodies*, unchanged.

        .. versionadded:: 0.1.0
        """
        method, url, headers, _, _ = self.api_client.param_serialize(
            method="PATCH",
            resource_path="/admin/identities",
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["oryAccessToken"],
        )
        return batch_request(bodies, url=url, headers=headers, method=method)

    def send_batch(self, batch: PreparedBatch) -> BatchAnswer:
        """Send a prepared batch; its 2xx answer, unread (the caller reads it, on its thread).

        Raises:
            OryError: Any other answer, or none (``status`` ``None``).

        .. versionadded:: 0.1.0
        """
        connect, read = self._timeout
        with _as_ory_error(self._redactor()):
            raw = self.api_client.rest_client.pool_manager.request(
                batch.method,
                batch.url,
                body=batch.body,
                headers=dict(batch.headers),
                timeout=urllib3.Timeout(connect=connect, read=read),
                preload_content=False,
            )
            response = RESTResponse(raw)
            response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            redactor = self._redactor(batch)
            try:
                self.api_client.response_deserialize(response, _BATCH_TYPES)
            except ApiException as e:
                raise _from_api_exception(e, redactor) from None
            except (pydantic.ValidationError, ValueError):
                pass
            reason = error_reason(response.data, str(response.reason), redactor)[1]
            raise OryError(response.status, reason)
        return _BatchAnswer(self.api_client, response, batch, self._keys())

    # -- lookups ------------------------------------------------------------------------------

    def get_by_external_id(self, external_id: str) -> FoundIdentity | None:
        """The identity whose ``external_id`` is *external_id*, or ``None``.

        Raises:
            OryError: The lookup failed.

        .. versionadded:: 0.1.0
        """
        identity = self._by_external_id(external_id)
        if identity is None:
            return None
        return FoundIdentity(str(identity.id), _timestamp(identity.created_at))

    def _by_external_id(self, external_id: str) -> Any:
        """``GET /admin/identities/by/external/{id}``: ory-client's ``Identity``, or None (404)."""
        with _as_ory_error(self._redactor()):
            try:
                answer = self._api.get_identity_by_external_id_with_http_info(
                    external_id, _request_timeout=self._timeout
                )
            except NotFoundException:
                return None
        return answer.data

    def find_by_identifier(self, identifier: str) -> str | None:
        """The id of the identity owning a credential *identifier* (email, ``provider:subject``).

        Raises:
            OryError: The lookup failed.

        .. versionadded:: 0.1.0
        """
        with _as_ory_error(self._redactor()):
            answer = self._api.list_identities_with_http_info(
                credentials_identifier=identifier, _request_timeout=self._timeout
            )
        return str(answer.data[0].id) if answer.data else None

    def list_page(
        self, page_token: str | None = None, *, page_size: int = 500
    ) -> tuple[Sequence[RemoteIdentity], str | None]:
        """One page of ``GET /admin/identities`` and the next page's token (``None``: last).

        Raises:
            OryError: The request failed.

        .. versionadded:: 0.1.0
        """
        with _as_ory_error(self._redactor()):
            answer = self._api.list_identities_with_http_info(
                page_size=page_size, page_token=page_token, _request_timeout=self._timeout
            )
        page = []
        for identity in answer.data:
            traits = identity.traits if isinstance(identity.traits, Mapping) else {}
            email = traits.get("email")
            page.append(
                RemoteIdentity(
                    str(identity.id),
                    identity.external_id,
                    email if isinstance(email, str) else None,
                )
            )
        link = (answer.headers or {}).get("Link") or (answer.headers or {}).get("link")
        return page, next_page_token(link)

    def iter_identities(self, *, page_size: int = 500) -> Iterator[RemoteIdentity]:
        """Every identity of the project, page by page (following ``Link: rel="next"``).

        Raises:
            OryError: A request failed.

        .. versionadded:: 0.1.0
        """
        return iter_pages(lambda token: self.list_page(token, page_size=page_size))

    # -- schemas ------------------------------------------------------------------------------

    def identity_schema(self, schema_id: str) -> Mapping[str, Any] | None:
        """The identity schema the project serves as *schema_id* (``GET /schemas/{id}``).

        An id of URL-safe characters goes as it is; any other (``preset://email``) goes
        base64url-encoded without padding, as Ory writes it in an identity's
        ``schema_url`` and decodes it when the id as given is unknown.

        Returns:
            The schema, or ``None`` when the project has no schema with that id (404).

        Raises:
            OryError: The request failed, or the answer is not a JSON object.

        .. versionadded:: 0.1.0
        """
        path_id = schema_id
        if not _URL_SAFE_ID.fullmatch(schema_id):
            path_id = base64.urlsafe_b64encode(schema_id.encode()).decode("ascii").rstrip("=")
        with _as_ory_error(self._redactor()):
            try:
                answer = self._api.get_identity_schema_with_http_info(
                    path_id, _request_timeout=self._timeout
                )
            except NotFoundException:
                return None
        if not isinstance(answer.data, Mapping):
            raise OryError(answer.status_code, "the identity schema Ory answered is not an object")
        return answer.data

    # -- deletion -----------------------------------------------------------------------------

    def delete_identity(self, identity_id: str) -> bool:
        """Delete an identity; ``False`` when it does not exist (any more).

        Raises:
            OryError: The request failed.

        .. versionadded:: 0.1.0
        """
        with _as_ory_error(self._redactor()):
            try:
                self._api.delete_identity_with_http_info(
                    identity_id, _request_timeout=self._timeout
                )
            except NotFoundException:
                return False
        return True

    # -- single identities (sync) -------------------------------------------------------------

    def _send_one(
        self,
        method: str,
        identity_id: str,
        *,
        body: object = None,
        query: Sequence[tuple[str, str]] = (),
        secrets: Iterable[str] = (),
    ) -> Mapping[str, Any]:
        """One request on ``/admin/identities/{id}``: the identity Ory answered."""
        status, answer = self._send_json(
            method, identity_id, body=body, query=query, secrets=secrets
        )
        if not isinstance(answer, Mapping):
            raise OryError(status, "Ory's answer is not an identity (a JSON object)")
        return ConfidentialIdentity(answer)

    def _send_json(
        self,
        method: str,
        identity_id: str | None,
        *,
        body: object = None,
        query: Sequence[tuple[str, str]] = (),
        secrets: Iterable[str] = (),
    ) -> tuple[int, object]:
        """One request on ``/admin/identities/{id}`` (or the list); its status and JSON answer.

        The body goes as it is (``ApiClient.param_serialize`` leaves a dict alone: no
        ``null`` added for an unset field, which PUT would read as "clear it"), through the
        client's configuration and auth, as the generated methods send theirs. A non-2xx
        answer goes through ``ApiClient.response_deserialize``, so the SDK's exceptions
        apply, and becomes an :class:`OryError` with *secrets* (and the API key) cut out.
        """
        redactor = Redactor.of(self._keys(), secrets)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        with _as_ory_error(redactor):
            params = self.api_client.param_serialize(
                method=method,
                resource_path=_LIST if identity_id is None else f"{_LIST}/{{id}}",
                path_params={} if identity_id is None else {"id": identity_id},
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["oryAccessToken"],
            )
            response = self.api_client.call_api(*params, _request_timeout=self._timeout)
            response.read()  # type: ignore[no-untyped-call]
            if not 200 <= response.status <= 299:
                self.api_client.response_deserialize(response, _ONE_TYPES)
                reason = error_reason(response.data, str(response.reason), redactor)[1]
                raise OryError(response.status, reason)
        try:
            data = cast("bytes | None", response.data)
            answer: object = _json.loads(data) if data else {}
        except ValueError:
            raise OryError(response.status, "Ory's answer is not JSON") from None
        return response.status, answer

    def get_identities(
        self,
        identity_ids: Sequence[str],
        include_credentials: Sequence[str] = ("password", "oidc", "saml", "totp"),
    ) -> dict[str, Mapping[str, Any]]:
        """``GET /admin/identities?ids=…&include_credential=…``: many identities, few requests.

        What :meth:`get_identity` reads, for 100 identities a request (Kratos's ``ids`` filter
        takes up to 500, has no pagination and answers at most a page, 250 by default; 100
        keep the URL short). An id Ory does not have is left out of the answer.

        Returns:
            The identities found, by id (a mapping whose ``repr`` leaves the credentials out).

        Raises:
            OryError: A request failed.

        .. versionadded:: 0.1.0
        """
        found: dict[str, Mapping[str, Any]] = {}
        include = [("include_credential", kind) for kind in include_credentials]
        for start in range(0, len(identity_ids), _IDS_PER_READ):
            chunk = identity_ids[start : start + _IDS_PER_READ]
            status, answer = self._send_json(
                "GET", None, query=[*(("ids", i) for i in chunk), *include]
            )
            if not isinstance(answer, list) or not all(isinstance(a, Mapping) for a in answer):
                raise OryError(status, "Ory's answer is not a list of identities")
            for identity in answer:
                found[str(identity.get("id"))] = ConfidentialIdentity(identity)
        return found

    def get_identity(
        self,
        identity_id: str,
        include_credentials: Sequence[str] = ("password", "oidc", "saml", "totp"),
    ) -> Mapping[str, Any] | None:
        """``GET /admin/identities/{id}?include_credential=…``: the identity as Ory stores it.

        With the configs of the *include_credentials* types (a password's
        ``hashed_password``, the TOTP URL, OIDC providers and their tokens): the answer is
        a mapping whose ``repr`` leaves the credentials out, and no error of this method
        repeats one.

        Returns:
            The identity as Ory answered it (JSON), or ``None`` when Ory has no identity
            with that id (404).

        Raises:
            OryError: The request failed.

        .. versionadded:: 0.1.0
        """
        try:
            return self._send_one(
                "GET",
                identity_id,
                query=[("include_credential", kind) for kind in include_credentials],
            )
        except OryError as e:
            if e.status == 404:
                return None
            raise

    def update_identity(self, identity_id: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """``PUT /admin/identities/{id}`` with *body* (an ``UpdateIdentityBody``), sent as it is.

        PUT replaces what it is not sent (``external_id``, ``metadata_public``,
        ``metadata_admin``, the traits); credentials sent replace only their own type.

        Returns:
            The identity Ory answered (without credential configs).

        Raises:
            OryError: The request failed: 404 (no such identity), 409 (an identifier of
                the new traits belongs to another identity, with Ory's reason), 400, 429...
                Its text never holds a secret of *body*.

        .. versionadded:: 0.1.0
        """
        return self._send_one("PUT", identity_id, body=dict(body), secrets=credential_secrets(body))

    def patch_identity(
        self, identity_id: str, ops: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """``PATCH /admin/identities/{id}`` with the JSON Patch *ops* (RFC 6902).

        Ory refuses (400) a patch of ``/id``, ``/stateChangedAt`` or ``/credentials``;
        ``/state`` and ``/verifiable_addresses/{i}/verified`` are accepted.

        Returns:
            The identity Ory answered (without credential configs).

        Raises:
            OryError: The request failed (404: no such identity).

        .. versionadded:: 0.1.0
        """
        return self._send_one("PATCH", identity_id, body=[dict(op) for op in ops])

    # -- credentials --------------------------------------------------------------------------

    def credential_identifiers(
        self, external_id: str, credential_type: str
    ) -> LinkedIdentity | None:
        """The identity with this ``external_id`` and its *credential_type* identifiers.

        ``GET /admin/identities/by/external/{external_id}`` without ``include_credential``:
        Ory lists each credential's identifiers (``provider:subject`` for ``oidc``) and
        leaves its config out, so no token of an OIDC link is fetched.

        Raises:
            OryError: The lookup failed.

        .. versionadded:: 0.1.0
        """
        identity = self._by_external_id(external_id)
        if identity is None:
            return None
        credential = (identity.credentials or {}).get(credential_type)
        identifiers = tuple(credential.identifiers or ()) if credential is not None else ()
        return LinkedIdentity(str(identity.id), identifiers)

    def delete_credential(self, identity_id: str, credential_type: str, identifier: str) -> bool:
        """Remove one link: ``DELETE /admin/identities/{id}/credentials/{type}?identifier=``.

        Returns:
            ``False`` when Ory answers 404 (no such identity, credential or identifier).

        Raises:
            OryError: Any other failure (400: e.g. the identity's last first factor).

        .. versionadded:: 0.1.0
        """
        with _as_ory_error(self._redactor()):
            try:
                self._api.delete_identity_credentials_with_http_info(
                    identity_id,
                    credential_type,
                    identifier=identifier,
                    _request_timeout=self._timeout,
                )
            except NotFoundException:
                return False
        return True
