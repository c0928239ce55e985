"""A stand-in for Ory Network's console API: reading and patching a project's configuration.

Implements what ``ory_client.ProjectApi.get_project`` and ``patch_project`` talk to:

* ``GET /projects/{id}`` → 200 with the project (``id``, ``name``, ``slug``, ``state``,
  ``environment``, ``home_region``, ``organizations``, ``revision_id``, ``workspace_id``,
  ``services.identity.config``), 404 for an unknown project;
* ``PATCH /projects/{id}`` with an RFC 6902 JSON patch (``add``, ``remove``, ``replace``,
  ``test``; ``-`` appends to an array) → 200 ``{"project": …, "warnings": []}``; a patch
  that cannot apply → 400 and nothing changes (patches are atomic); a new ``revision_id``
  after every applied patch;
* ``POST /projects/{id}/organizations`` with ``{"label", "domains"?}`` → 201 with the
  organization (``id``, ``label``, ``domains``, ``created_at``); 400 without a label or for a
  domain that is not a lower-case host name; 409 when a domain is another organization's;
  ``GET /projects/{id}/organizations`` (``page_size``, ``page_token``, ``domain``) → 200
  ``{"organizations", "has_next_page", "next_page_token"}``; ``GET`` and ``DELETE
  /projects/{id}/organizations/{org}`` (200 ``{"organization"}``, 204; 404 for an unknown one).

Every call needs ``Authorization: Bearer <workspace API key>`` (401 otherwise). Errors are
``{"error": {"code", "status", "message"}}``. Thread-safe. Standalone: it does not import the
library under test.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ._http import BackgroundHTTPServer, HttpRequest, HttpResponse


__all__ = ["OryConsoleServer"]


_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class PatchError(ValueError):
    """A JSON patch operation cannot be applied."""


def _error(status: int, reason: str, message: str) -> HttpResponse:
    return HttpResponse.json(
        status, {"error": {"code": status, "status": reason, "message": message}}
    )


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (not for_add and index == len(container)):
        raise PatchError(f"array index {index} out of range")
    return index


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"path member {token!r} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise PatchError("path goes through a scalar")
    return node


def apply_json_patch(doc: Any, ops: list[Any]) -> Any:
    """Apply RFC 6902 *ops* to a copy of *doc*; raise PatchError when one fails."""
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise PatchError("each operation needs an op and a path")
        kind = op.get("op")
        tokens = _tokens(op["path"])
        if not tokens:
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op.get("value"))
                continue
            raise PatchError(f"cannot {kind} the whole document")
        parent = _parent(doc, tokens[:-1])
        last = tokens[-1]
        if kind == "add":
            value = copy.deepcopy(op.get("value"))
            if isinstance(parent, dict):
                parent[last] = value
            elif isinstance(parent, list):
                parent.insert(_index(parent, last, for_add=True), value)
            else:
                raise PatchError("cannot add into a scalar")
        elif kind in ("remove", "replace", "test"):
            if isinstance(parent, dict):
                if last not in parent:
                    raise PatchError(f"path member {last!r} does not exist")
                key: Any = last
            elif isinstance(parent, list):
                key = _index(parent, last, for_add=False)
            else:
                raise PatchError("path goes through a scalar")
            if kind == "remove":
                del parent[key]
            elif kind == "replace":
                parent[key] = copy.deepcopy(op.get("value"))
            elif parent[key] != op.get("value"):
                raise PatchError("test operation failed")
        else:
            raise PatchError(f"unsupported op {kind!r}")
    return doc


class OryConsoleServer(BackgroundHTTPServer):
    """The console API's project endpoints on ``127.0.0.1``.

    ``with OryConsoleServer(api_key="k") as console: pid = console.add_project(...)``;
    point ``ory_client`` at :attr:`url` (with ``ignore_operation_servers=True``).

    Attributes:
        patches: Every JSON patch received for an existing project, in order (applied or not).
        requests: ``(method, path)`` of every request answered, in order.

    .. versionadded:: 0.1.0
    """

    def __init__(self, api_key: str = "ory_wak_test") -> None:
        super().__init__(self._handle)
        self._api_key = api_key
        self._lock = threading.Lock()
        self._projects: dict[str, dict[str, Any]] = {}
        self._organizations: dict[str, dict[str, dict[str, Any]]] = {}
        self.patches: list[list[Any]] = []
        self.requests: list[tuple[str, str]] = []

    def __enter__(self) -> OryConsoleServer:
        self.start()
        return self

    def add_project(
        self,
        *,
        workspace_id: str | None = None,
        identity_config: Mapping[str, Any] | None = None,
        name: str = "migration",
    ) -> str:
        """Create a project and return its id.

        .. versionadded:: 0.1.0
        """
        project_id = str(uuid.uuid4())
        config = (
            copy.deepcopy(dict(identity_config))
            if identity_config is not None
            else {
                "identity": {
                    "default_schema_id": "preset://email",
                    "schemas": [{"id": "preset://email", "url": "base64://e30="}],
                }
            }
        )
        project = {
            "id": project_id,
            "name": name,
            "slug": f"slug-{project_id[:8]}",
            "state": "running",
            "environment": "prod",
            "home_region": "eu-central",
            "organizations": [],
            "revision_id": str(uuid.uuid4()),
            "workspace_id": workspace_id or str(uuid.uuid4()),
            "services": {"identity": {"config": config}},
        }
        with self._lock:
            self._projects[project_id] = project
            self._organizations[project_id] = {}
        return project_id

    def organizations(self, project_id: str) -> list[dict[str, Any]]:
        """A copy of a project's organizations, in creation order.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return copy.deepcopy(list(self._organizations[project_id].values()))

    def project(self, project_id: str) -> dict[str, Any]:
        """A copy of a project as stored now.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            return copy.deepcopy(self._projects[project_id])

    def _handle(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.requests.append((request.method, request.path))
        parts = request.path.strip("/").split("/")
        organizations = (
            len(parts) in (3, 4) and parts[0] == "projects" and parts[2] == "organizations"
        )
        if not organizations and (len(parts) != 2 or parts[0] != "projects"):
            return _error(404, "Not Found", "no such route")
        if request.headers.get("authorization") != f"Bearer {self._api_key}":
            return _error(401, "Unauthorized", "missing or invalid workspace API key")
        if organizations:
            with self._lock:
                orgs = self._organizations.get(parts[1])
                if orgs is None:
                    return _error(404, "Not Found", "project not found")
                if len(parts) == 4:
                    return self._one_organization(request, orgs, parts[3])
                if request.method == "POST":
                    return self._create_organization(request, orgs)
                if request.method == "GET":
                    return self._list_organizations(request, orgs)
                return _error(405, "Method Not Allowed", "use GET or POST")
        project_id = parts[1]
        with self._lock:
            project = self._projects.get(project_id)
            if project is None:
                return _error(404, "Not Found", "project not found")
            if request.method == "GET":
                return HttpResponse.json(200, project)
            if request.method != "PATCH":
                return _error(405, "Method Not Allowed", "use GET or PATCH")
            try:
                ops = json.loads(request.body)
            except ValueError:
                return _error(400, "Bad Request", "the body is not JSON")
            if not isinstance(ops, list):
                return _error(400, "Bad Request", "the body must be a JSON patch array")
            self.patches.append(ops)
            try:
                patched = apply_json_patch(project, ops)
            except PatchError as e:
                return _error(400, "Bad Request", f"invalid patch: {e}")
            patched["revision_id"] = str(uuid.uuid4())
            self._projects[project_id] = patched
            return HttpResponse.json(200, {"project": patched, "warnings": []})

    @staticmethod
    def _create_organization(request: HttpRequest, orgs: dict[str, dict[str, Any]]) -> HttpResponse:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "Bad Request", "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "Bad Request", "the body must be an OrganizationBody object")
        label, domains = body.get("label"), body.get("domains") or []
        if not isinstance(label, str) or not label.strip():
            return _error(400, "Bad Request", "label is required")
        if not isinstance(domains, list) or not all(
            isinstance(d, str) and _DOMAIN.fullmatch(d) for d in domains
        ):
            return _error(400, "Bad Request", "domains must be lower-case host names")
        taken = {d for org in orgs.values() for d in org["domains"]}
        clash = sorted(taken.intersection(domains))
        if clash:
            return _error(409, "Conflict", f"domain {clash[0]} belongs to another organization")
        org_id = str(uuid.uuid4())
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        orgs[org_id] = {
            "id": org_id,
            "label": label,
            "domains": list(dict.fromkeys(domains)),
            "created_at": now,
            "updated_at": now,
        }
        return HttpResponse.json(201, orgs[org_id])

    @staticmethod
    def _list_organizations(request: HttpRequest, orgs: dict[str, dict[str, Any]]) -> HttpResponse:
        listed = list(orgs.values())
        if (domain := request.query_one("domain")) is not None:
            listed = [o for o in listed if domain in o["domains"]]
        try:
            size = int(request.query_one("page_size") or 250)
            start = int(request.query_one("page_token") or 0)
        except ValueError:
            return _error(400, "Bad Request", "page_size and page_token must be numbers")
        size = max(1, min(size, 1000))
        page = listed[start : start + size]
        more = start + size < len(listed)
        return HttpResponse.json(
            200,
            {
                "organizations": page,
                "has_next_page": more,
                "next_page_token": str(start + size) if more else "",
            },
        )

    @staticmethod
    def _one_organization(
        request: HttpRequest, orgs: dict[str, dict[str, Any]], org_id: str
    ) -> HttpResponse:
        if org_id not in orgs:
            return _error(404, "Not Found", "organization not found")
        if request.method == "GET":
            return HttpResponse.json(200, {"organization": orgs[org_id]})
        if request.method == "DELETE":
            del orgs[org_id]
            return HttpResponse.empty(204)
        return _error(405, "Method Not Allowed", "use GET or DELETE")
