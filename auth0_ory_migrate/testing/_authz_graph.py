"""Realistic Auth0 roles and organizations over a set of users, and the test server's endpoints.

:func:`authz_graph` builds an :class:`AuthzGraph`: roles with permissions on one or two APIs
(some with no member, some with no permission), users holding a few roles directly, and
organizations with enabled connections and members (users in several organizations, roles held
inside organizations, organizations whose members all sign in through one enterprise
connection). :class:`~auth0_ory_migrate.testing.Auth0ManagementServer` serves it
(``Auth0ManagementServer(users, authz=graph)``) and :meth:`AuthzGraph.write` writes it as the
four files ``export --roles --organizations`` writes, so a test can compare the two.

The endpoints follow Auth0's Management API v2 (paths, query parameters and response shapes as
``auth0-python`` 6.x reads them):

- ``GET /api/v2/roles`` (``read:roles``): offset paging (``page``, ``per_page`` at most 100,
  ``include_totals`` → ``{"start", "limit", "total", "roles"}``, else an array); past the first
  1,000 records, 400 as Auth0 answers.
- ``GET /api/v2/roles/{id}/permissions`` (``read:roles``): offset paging, ``permissions``.
- ``GET /api/v2/roles/{id}/users`` (``read:roles`` and ``read:users``): checkpoint paging when
  ``take`` or ``from`` is given (``{"users", "next"?}``, ``next`` an opaque cursor), else offset.
- ``GET /api/v2/organizations`` (``read:organizations``): checkpoint or offset paging.
- ``GET /api/v2/organizations/{id}/members`` (``read:organization_members``): checkpoint or offset
  paging; ``fields`` / ``include_fields`` pick the member fields; roles only with
  ``fields`` naming ``roles``, which needs ``read:organization_member_roles`` (403
  ``insufficient_scope`` without it).
- ``GET /api/v2/organizations/{id}/enabled_connections`` (``read:organization_connections``):
  offset paging, ``enabled_connections`` with ``connection: {name, strategy}``.

Every answer carries ``x-ratelimit-limit`` / ``-remaining`` / ``-reset`` (a one-second window,
not enforced: 429s come from the server's fault injection). Unknown ids are 404. Error codes
and messages not quoted from Auth0's documentation are *unverified*.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen

from .. import AUTHZ_FILES
from ._auth0 import Auth0ManagementServer, _connection_id_for
from ._auth0 import _management_error as _error
from ._http import HttpRequest, HttpResponse


__all__ = ["AUTHZ_AUDIENCES", "AuthzGraph", "authz_graph"]

#: The two APIs (resource servers) the generated roles hold permissions on.
AUTHZ_AUDIENCES: tuple[str, str] = ("https://api.example.com/", "https://billing.example.com/")

_ROLE_NAMES = (
    "admin",
    "editor",
    "viewer",
    "billing-admin",
    "billing-viewer",
    "support",
    "auditor",
    "developer",
    "Team Lead",
    "read only",
    "owner",
    "member",
)
_ACTIONS = ("read", "create", "update", "delete")
_RESOURCES = ("users", "reports", "invoices", "settings", "projects")
_COMPANIES = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")
_ENTERPRISE = frozenset({"samlp", "waad", "adfs", "okta", "oidc", "google-apps", "pingfederate"})
_ALNUM = string.ascii_letters + string.digits


def _frozen_records(records: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(json.dumps(r)) for r in records)  # deep copies, JSON only


@frozen
class AuthzGraph:
    """Roles, permissions, organizations and memberships, in the export files' shapes.

    Attributes:
        roles: ``{"id", "name", "description", "permissions": [{"resource_server_identifier",
            "permission_name"}]}``, in the tenant's order.
        role_members: ``{"role_id", "user_id"}``: the direct assignments, role by role.
        organizations: ``{"id", "name", "display_name", "enabled_connections":
            [{"connection_id", "name", "strategy", "assign_membership_on_login"}]}``.
        organization_members: ``{"organization_id", "user_id", "roles": [{"id", "name"}]}``,
            organization by organization.

    Build one with :func:`authz_graph`, or by hand from such dicts.

    .. versionadded:: 0.1.0
    """

    roles: tuple[dict[str, Any], ...] = field(converter=_frozen_records, repr=False)
    role_members: tuple[dict[str, Any], ...] = field(converter=_frozen_records, repr=False)
    organizations: tuple[dict[str, Any], ...] = field(converter=_frozen_records, repr=False)
    organization_members: tuple[dict[str, Any], ...] = field(converter=_frozen_records, repr=False)

    def __repr__(self) -> str:
        return (
            f"AuthzGraph(<{len(self.roles)} roles, {len(self.role_members)} role members, "
            f"{len(self.organizations)} organizations, {len(self.organization_members)} "
            "organization members>)"
        )

    @property
    def assignments(self) -> int:
        """Role memberships, organization memberships and roles held in organizations.

        .. versionadded:: 0.1.0
        """
        return (
            len(self.role_members)
            + len(self.organization_members)
            + sum(len(m["roles"]) for m in self.organization_members)
        )

    def files(self) -> dict[str, bytes]:
        """The four NDJSON files' contents by file name (``auth0-roles.ndjson``, ...).

        .. versionadded:: 0.1.0
        """
        return {
            name: b"".join(
                json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                for r in getattr(self, attribute)
            )
            for attribute, name in AUTHZ_FILES.items()
        }

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write the four files into *directory* (as the export does); their paths by name.

        .. versionadded:: 0.1.0
        """
        out = {}
        for name, data in self.files().items():
            path = Path(directory) / name
            path.write_bytes(data)
            out[name] = path
        return out


def _record_of(user: Any) -> Mapping[str, Any]:
    record = getattr(user, "record", user)
    if not isinstance(record, Mapping):
        raise TypeError(f"not a user record: {type(user).__name__}")
    return record


def _login(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(connection, strategy)`` of the user's primary identity."""
    identities = record.get("identities")
    if not isinstance(identities, list) or not identities:
        return None
    first = identities[0]
    if not isinstance(first, Mapping) or not isinstance(first.get("connection"), str):
        return None
    provider = first.get("provider")
    return first["connection"], provider if isinstance(provider, str) else "auth0"


def _random_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(_ALNUM) for _ in range(16))


def authz_graph(
    users: Iterable[Any], *, roles: int = 50, organizations: int = 200, seed: int = 1
) -> AuthzGraph:
    """A realistic role and organization graph over *users* (the same for the same arguments).

    Roles: names like ``admin``, ``billing-viewer``, ``Team Lead`` (numbered past the first
    dozen), each with up to five permissions on :data:`AUTHZ_AUDIENCES`' first API, every third
    on the second API too, every tenth with none; every seventh role has no member at all.
    About 60 % of the users hold one to three roles directly. Organizations: about a quarter
    are enterprise organizations (one enterprise connection enabled, members only users who sign
    in through it and belong to no other organization); the others enable the database and
    social connections and take members from all users (so many users are in two or three
    organizations). Members hold up to two roles in each organization.

    Args:
        users: The tenant's users: :class:`~auth0_ory_migrate.testing.FakeAuth0User` objects or
            user dicts (``user_id`` and ``identities``).
        roles: How many roles.
        organizations: How many organizations.
        seed: Random seed.

    .. versionadded:: 0.1.0
    """
    rng = random.Random(seed)  # noqa: S311 - test data
    records = [_record_of(u) for u in users]
    user_ids = [str(r["user_id"]) for r in records if isinstance(r.get("user_id"), str)]
    logins = {str(r["user_id"]): _login(r) for r in records if isinstance(r.get("user_id"), str)}
    single = {  # users with one login only (no linked identities)
        str(r["user_id"])
        for r in records
        if isinstance(r.get("identities"), list) and len(r["identities"]) == 1
    }

    role_records: list[dict[str, Any]] = []
    for i in range(roles):
        base = _ROLE_NAMES[i % len(_ROLE_NAMES)]
        name = base if i < len(_ROLE_NAMES) else f"{base}-{i // len(_ROLE_NAMES) + 1}"
        permissions: list[dict[str, str]] = []
        if i % 10 != 9:
            pairs = [(a, r) for a in _ACTIONS for r in _RESOURCES]
            for action, resource in rng.sample(pairs, rng.randint(1, 5)):
                permissions.append(
                    {
                        "resource_server_identifier": AUTHZ_AUDIENCES[0],
                        "permission_name": f"{action}:{resource}",
                    }
                )
            if i % 3 == 0:
                permissions.append(
                    {
                        "resource_server_identifier": AUTHZ_AUDIENCES[1],
                        "permission_name": f"{rng.choice(_ACTIONS)}:invoices",
                    }
                )
        description = None if i % 4 == 3 else f"{base.capitalize()} access"
        role_records.append(
            {
                "id": _random_id(rng, "rol_"),
                "name": name,
                "description": description,
                "permissions": permissions,
            }
        )
    used_roles = [r for i, r in enumerate(role_records) if i % 7 != 6]

    members_of: dict[str, list[str]] = {r["id"]: [] for r in role_records}
    for user_id in user_ids:
        count = rng.choices((0, 1, 2, 3), weights=(40, 35, 18, 7))[0]
        for role in rng.sample(used_roles, min(count, len(used_roles))):
            members_of[role["id"]].append(user_id)
    order = {u: n for n, u in enumerate(user_ids)}
    role_members = [
        {"role_id": role["id"], "user_id": u}
        for role in role_records
        for u in sorted(members_of[role["id"]], key=order.__getitem__)
    ]

    connections: dict[str, str] = {}
    for login in logins.values():
        if login is not None:
            connections.setdefault(*login)
    enterprise = sorted(c for c, s in connections.items() if s in _ENTERPRISE)
    common = sorted(c for c, s in connections.items() if s not in _ENTERPRISE)
    taken: set[str] = set()  # users in an enterprise organization (one organization only)
    joined: set[str] = set()  # users in any organization

    def enabled(name: str) -> dict[str, Any]:

        return {
            "connection_id": _connection_id_for(name),
            "name": name,
            "strategy": connections[name],
            "assign_membership_on_login": rng.random() < 0.3,
        }

    org_records: list[dict[str, Any]] = []
    org_members: list[dict[str, Any]] = []
    typical = max(1, (len(user_ids) * 2) // max(1, organizations))
    for i in range(organizations):
        company = _COMPANIES[i % len(_COMPANIES)]
        org_id = _random_id(rng, "org_")
        sso = enterprise[i % len(enterprise)] if enterprise and i % 4 == 0 else None
        if sso is not None:
            pool = [
                u
                for u in user_ids
                if logins[u] == (sso, connections[sso]) and u in single and u not in joined
            ]
            chosen = pool[: rng.randint(1, max(1, min(len(pool), typical)))] if pool else []
            taken.update(chosen)
            enabled_connections = [enabled(sso)]
        else:
            free = [u for u in user_ids if u not in taken]
            size = min(len(free), rng.randint(1, typical)) if free else 0
            chosen = sorted(rng.sample(free, size), key=order.__getitem__)
            picks = common[:1] + rng.sample(common[1:], min(len(common) - 1, 2)) if common else []
            enabled_connections = [enabled(c) for c in picks]
        org_records.append(
            {
                "id": org_id,
                "name": f"{company}-{i + 1:04d}",
                "display_name": None if i % 9 == 8 else f"{company.capitalize()} {i + 1}",
                "enabled_connections": enabled_connections,
            }
        )
        joined.update(chosen)
        for user_id in chosen:
            count = rng.choices((0, 1, 2), weights=(45, 40, 15))[0]
            held = rng.sample(used_roles, min(count, len(used_roles)))
            held.sort(key=role_records.index)
            org_members.append(
                {
                    "organization_id": org_id,
                    "user_id": user_id,
                    "roles": [{"id": r["id"], "name": r["name"]} for r in held],
                }
            )
    return AuthzGraph(role_records, role_members, org_records, org_members)


# -- the Management API endpoints ----------------------------------------------------------------

_ROLE = re.compile(r"^/api/v2/roles/([^/]+)/(permissions|users)$")
_ORG = re.compile(r"^/api/v2/organizations/([^/]+)/(members|enabled_connections)$")
_MAX_PER_PAGE = 100
_OFFSET_CAP = 1000  # offset paging stops at 1,000 records


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"ckpt:{index}".encode()).decode().rstrip("=")


def _uncursor(value: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "ckpt" and number.isdigit() else None


def _int(request: HttpRequest, name: str, default: int) -> int | HttpResponse:
    raw = request.query_one(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        # unverified wording
        return _error(
            400,
            f"Query validation error: 'Expected type integer but found type string' on "
            f"property {name}.",
            "invalid_query_string",
        )
    return int(raw)


class AuthzApi:
    """The roles and organizations endpoints over an :class:`AuthzGraph` (one per server)."""

    #: ``x-ratelimit-limit``: requests per one-second window (reported, not enforced).
    rate_limit = 50

    def __init__(self, graph: AuthzGraph, clock: Callable[[], float]) -> None:
        self.graph = graph
        self.clock = clock
        self._lock = threading.Lock()
        self._window = (0, 0)  # (second, requests in it)
        self.roles = {r["id"]: r for r in graph.roles}
        self.orgs = {o["id"]: o for o in graph.organizations}
        self.role_users: dict[str, list[str]] = {r: [] for r in self.roles}
        for m in graph.role_members:
            self.role_users.setdefault(m["role_id"], []).append(m["user_id"])
        self.org_members: dict[str, list[dict[str, Any]]] = {o: [] for o in self.orgs}
        for m in graph.organization_members:
            self.org_members.setdefault(m["organization_id"], []).append(m)
        self.users: Mapping[str, Mapping[str, Any]] = {}
        #: the list :attr:`users` was made from (held: an id() of a freed list is reused)
        self._users_of: Sequence[Mapping[str, Any]] | None = None

    def answer(
        self, request: HttpRequest, scopes: Sequence[str], users: Sequence[Mapping[str, Any]]
    ) -> HttpResponse | None:
        """The answer to a roles or organizations request; None for another path.

        *users* are the tenant's users (their ``email``, ``name`` and ``picture`` are shown).
        """
        with self._lock:
            if users is not self._users_of:
                self.users = {str(u.get("user_id")): u for u in users}
                self._users_of = users
        response = self._route(request, scopes)
        if response is None:
            return None
        return self._with_rate_headers(response)

    def _with_rate_headers(self, response: HttpResponse) -> HttpResponse:
        now = self.clock()
        with self._lock:
            second, used = self._window
            if int(now) != second:
                second, used = int(now), 0
            used += 1
            self._window = (second, used)
        headers = {
            **dict(response.headers),
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - used)),
            "x-ratelimit-reset": str(second + 1),
        }
        return HttpResponse(response.status, response.body, tuple(headers.items()))

    def _route(self, request: HttpRequest, scopes: Sequence[str]) -> HttpResponse | None:
        path = request.path
        if request.method != "GET":
            return None
        if path == "/api/v2/roles":
            return _needs(scopes, "read:roles") or self._list_roles(request)
        if path == "/api/v2/organizations":
            return _needs(scopes, "read:organizations") or self._list_orgs(request)
        match = _ROLE.match(path)
        if match:
            role_id, what = match.groups()
            if what == "permissions":
                denied = _needs(scopes, "read:roles")
            else:
                denied = _needs(scopes, "read:roles") or _needs(scopes, "read:users")
            if denied:
                return denied
            if role_id not in self.roles:
                return _error(404, "The role does not exist.", "inexistent_role")
            if what == "permissions":
                return self._role_permissions(request, role_id)
            return self._role_users(request, role_id)
        match = _ORG.match(path)
        if match:
            org_id, what = match.groups()
            if what == "members":
                denied = _needs(scopes, "read:organization_members")
                if denied is None and "roles" in _fields(request):
                    denied = _needs(scopes, "read:organization_member_roles")
            else:
                denied = _needs(scopes, "read:organization_connections")
            if denied:
                return denied
            if org_id not in self.orgs:
                # unverified wording
                return _error(404, "No organization found by that id or name", "not_found")
            if what == "members":
                return self._org_members(request, org_id)
            return self._org_connections(request, org_id)
        return None

    # -- paging ------------------------------------------------------------------------------

    @staticmethod
    def _offset(
        request: HttpRequest, key: str, items: Sequence[Any], *, capped: bool = True
    ) -> HttpResponse:
        per_page = _int(request, "per_page", 50)
        if isinstance(per_page, HttpResponse):
            return per_page
        page = _int(request, "page", 0)
        if isinstance(page, HttpResponse):
            return page
        if per_page > _MAX_PER_PAGE:
            # unverified wording
            return _error(
                400,
                f"Query validation error: 'Value {per_page} is greater than maximum "
                f"{_MAX_PER_PAGE}' on property per_page.",
                "invalid_query_string",
            )
        if capped and page * per_page + per_page > _OFFSET_CAP:
            return _error(
                400,
                f"Requesting page {page} exceeds the allowed maximum of {_OFFSET_CAP} records. "
                "To fetch results beyond 1000, use the checkpoint pagination method.",
                "invalid_paging",
            )
        chunk = list(items[page * per_page : (page + 1) * per_page])
        if request.query_one("include_totals") == "true":
            return HttpResponse.json(
                200, {"start": page * per_page, "limit": per_page, "total": len(items), key: chunk}
            )
        return HttpResponse.json(200, chunk)

    @staticmethod
    def _checkpoint(request: HttpRequest, key: str, items: Sequence[Any]) -> HttpResponse | None:
        """A checkpoint page, or None when the request pages by offset."""
        take_raw, start_raw = request.query_one("take"), request.query_one("from")
        if take_raw is None and start_raw is None:
            return None
        take = _int(request, "take", 50)
        if isinstance(take, HttpResponse):
            return take
        if take > _MAX_PER_PAGE or take < 1:
            # unverified wording
            return _error(
                400,
                f"Query validation error: 'Value {take} is out of range' on property take.",
                "invalid_query_string",
            )
        start = 0
        if start_raw:
            found = _uncursor(start_raw)
            if found is None:
                return _error(400, "The from parameter is invalid.", "invalid_paging")  # unverified
            start = found
        page: dict[str, Any] = {key: list(items[start : start + take])}
        if start + take < len(items):
            page["next"] = _cursor(start + take)
        return HttpResponse.json(200, page)

    # -- the endpoints -----------------------------------------------------------------------

    def _list_roles(self, request: HttpRequest) -> HttpResponse:
        views = [
            {"id": r["id"], "name": r["name"], "description": r["description"]}
            for r in self.graph.roles
        ]
        return self._offset(request, "roles", views)

    def _role_permissions(self, request: HttpRequest, role_id: str) -> HttpResponse:
        views = [
            {
                **p,
                "resource_server_name": p["resource_server_identifier"]
                .removeprefix("https://")
                .strip("/"),
                "description": p["permission_name"].replace(":", " "),
            }
            for p in self.roles[role_id]["permissions"]
        ]
        return self._offset(request, "permissions", views)

    def _user_view(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id, {})
        view: dict[str, Any] = {"user_id": user_id}
        for key in ("email", "picture", "name"):
            if isinstance(user.get(key), str):
                view[key] = user[key]
        return view

    def _role_users(self, request: HttpRequest, role_id: str) -> HttpResponse:
        views = [self._user_view(u) for u in self.role_users[role_id]]
        return self._checkpoint(request, "users", views) or self._offset(request, "users", views)

    def _list_orgs(self, request: HttpRequest) -> HttpResponse:
        views = [
            {"id": o["id"], "name": o["name"]}
            | ({"display_name": o["display_name"]} if o.get("display_name") else {})
            for o in self.graph.organizations
        ]
        return self._checkpoint(request, "organizations", views) or self._offset(
            request, "organizations", views
        )

    def _org_connections(self, request: HttpRequest, org_id: str) -> HttpResponse:
        views = [
            {
                "connection_id": c["connection_id"],
                "assign_membership_on_login": c["assign_membership_on_login"],
                "show_as_button": True,
                "is_signup_enabled": False,
                "connection": {"name": c["name"], "strategy": c["strategy"]},
            }
            for c in self.orgs[org_id]["enabled_connections"]
        ]
        return self._offset(request, "enabled_connections", views, capped=False)

    def _org_members(self, request: HttpRequest, org_id: str) -> HttpResponse:
        fields = _fields(request)
        include = request.query_one("include_fields") != "false"
        views = []
        for member in self.org_members[org_id]:
            full = self._user_view(member["user_id"])
            if fields and include:
                view = {k: v for k, v in full.items() if k in fields}
                if "roles" in fields:
                    view["roles"] = member["roles"]
            elif fields:
                view = {k: v for k, v in full.items() if k not in fields}
            else:
                view = full
            views.append(view)
        return self._checkpoint(request, "members", views) or self._offset(
            request, "members", views
        )


def _fields(request: HttpRequest) -> set[str]:
    raw = request.query_one("fields") or ""
    return {f.strip() for f in raw.split(",") if f.strip()}


def _needs(scopes: Sequence[str], scope: str) -> HttpResponse | None:
    return Auth0ManagementServer._needs(scopes, (scope,))
