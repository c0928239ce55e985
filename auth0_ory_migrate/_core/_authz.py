"""Roles, permissions and organizations exported from Auth0, and what Ory makes of them (pure).

The export writes four NDJSON files next to the users export (no secrets in them):
``auth0-roles.ndjson`` (``{"id", "name", "description", "permissions":
[{"resource_server_identifier", "permission_name"}]}``), ``auth0-role-members.ndjson``
(``{"role_id", "user_id"}``: direct assignments), ``auth0-organizations.ndjson`` (``{"id",
"name", "display_name", "enabled_connections": [{"connection_id", "name", "strategy",
"assign_membership_on_login"}], "domains"?}``) and ``auth0-organization-members.ndjson``
(``{"organization_id", "user_id", "roles": [{"id", "name"}]}``).

:func:`read_authz` reads them line by line (a lenient raw stage, then validated records; a bad
line is reported, the rest goes on). From the result come the three forms Ory can hold them in:
``metadata_admin.auth0`` (:func:`authz_metadata`, :func:`with_authz_metadata`), Ory Permissions
relation tuples (:func:`relation_tuples`, with :func:`permission_namespaces` for the namespace
file) and Ory organizations (:func:`plan_organizations`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias, cast

from attrs import field, frozen

from ._json import loads
from ._mapping import IdentityBody
from ._providers import ENTERPRISE_LOGINS
from ._records import UnreadableRecord
from ._users import Auth0User


__all__ = [
    "AUTHZ_CLAIMS_JSONNET",
    "AUTHZ_FILES",
    "AUTHZ_PUBLIC_KEY",
    "ORGANIZATION_NAMESPACE",
    "ROLE_NAMESPACE",
    "Auth0Organization",
    "Auth0Role",
    "AuthzData",
    "OrgConnection",
    "OrganizationMapping",
    "OrganizationPlan",
    "RelationTuple",
    "RelationTuples",
    "UnmappedMember",
    "UnmappedOrganization",
    "UserLogins",
    "authz_metadata",
    "permission_namespaces",
    "plan_organizations",
    "read_authz",
    "relation_tuples",
    "role_relation_names",
    "with_authz_metadata",
]

#: The lines of one of the export's authorization files (bytes or text, one JSON object each).
_Lines: TypeAlias = Iterable[bytes | str]

_AuthzSource = Literal["roles", "role_members", "organizations", "organization_members"]

#: The file names of the export's roles and organizations files (``export --roles
#: --organizations`` writes them next to the users export), by :func:`read_authz` argument.
AUTHZ_FILES: Final[Mapping[str, str]] = {
    "roles": "auth0-roles.ndjson",
    "role_members": "auth0-role-members.ndjson",
    "organizations": "auth0-organizations.ndjson",
    "organization_members": "auth0-organization-members.ndjson",
}


def _problem(source: _AuthzSource, line: int, user_id: str | None, reason: str) -> UnreadableRecord:
    return UnreadableRecord(source, line, user_id, reason)


@frozen
class Auth0Role:
    """An Auth0 role and its permissions.

    Attributes:
        id: ``rol_…``.
        name: The role's name (unique in a tenant).
        description: Its description, if any.
        permissions: ``(API audience, permission name)`` pairs, in the export's order.

    .. versionadded:: 0.1.0
    """

    id: str
    name: str
    description: str | None = None
    permissions: tuple[tuple[str, str], ...] = ()


@frozen
class OrgConnection:
    """A connection enabled for an Auth0 organization.

    Attributes:
        connection_id: ``con_…``.
        name: The connection's name (what users' ``identities[].connection`` says).
        strategy: ``samlp``, ``oidc``, ``waad``, ``auth0``, ``google-oauth2``, ...
        assign_membership_on_login: Whether Auth0 made users of the connection members on login.

    .. versionadded:: 0.1.0
    """

    connection_id: str
    name: str
    strategy: str | None = None
    assign_membership_on_login: bool = False

    @property
    def is_enterprise(self) -> bool:
        """Whether it is an enterprise connection Ory can carry (SAML, OIDC, Azure AD, ...)."""
        return self.strategy in ENTERPRISE_LOGINS


@frozen
class Auth0Organization:
    """An Auth0 organization.

    Attributes:
        id: ``org_…``.
        name: Its (URL-safe) name.
        display_name: Its display name, if any.
        connections: The connections enabled for it.
        domains: Its email domains, when the export has them (Ory organizations take domains).

    .. versionadded:: 0.1.0
    """

    id: str
    name: str
    display_name: str | None = None
    connections: tuple[OrgConnection, ...] = ()
    domains: tuple[str, ...] = ()


@frozen
class AuthzData:
    """Everything :func:`read_authz` read, indexed by Auth0 user id.

    Attributes:
        roles: Roles by id.
        organizations: Organizations by id.
        problems: The lines that could not be used (file, line, reason), in file order.

    .. versionadded:: 0.1.0
    """

    roles: Mapping[str, Auth0Role] = field(factory=dict, repr=lambda r: f"<{len(r)} roles>")
    organizations: Mapping[str, Auth0Organization] = field(
        factory=dict, repr=lambda o: f"<{len(o)} organizations>"
    )
    problems: tuple[UnreadableRecord, ...] = ()
    _roles_of: Mapping[str, tuple[str, ...]] = field(factory=dict, repr=False, alias="roles_of")
    _organizations_of: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]] = field(
        factory=dict, repr=False, alias="organizations_of"
    )

    def user_roles(self, user_id: str) -> tuple[str, ...]:
        """The ids of the roles assigned to *user_id* directly, in the file's order."""
        return self._roles_of.get(user_id, ())

    def user_organizations(self, user_id: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(organization id, role ids in it)`` for each organization *user_id* is a member of."""
        return self._organizations_of.get(user_id, ())

    @property
    def users(self) -> tuple[str, ...]:
        """Every user with a role or an organization, in the order first read."""
        return tuple(dict.fromkeys([*self._roles_of, *self._organizations_of]))

    @property
    def assignments(self) -> int:
        """How many assignments were read: role memberships, memberships, roles in organizations."""
        return sum(len(r) for r in self._roles_of.values()) + sum(
            1 + len(roles) for orgs in self._organizations_of.values() for _, roles in orgs
        )


# Reading


def _objects(
    lines: _Lines | None, source: _AuthzSource, problems: list[UnreadableRecord]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The raw stage: ``(line number, JSON object)`` of each non-blank line; the others reported."""
    for n, line in enumerate(lines or (), 1):
        if not line.strip():
            continue
        try:
            value = loads(line)
        except (ValueError, RecursionError):  # (RecursionError: the stdlib parser, nested deep)
            problems.append(_problem(source, n, None, "not JSON"))
            continue
        if type(value) is not dict:
            problems.append(_problem(source, n, None, "not a JSON object"))
            continue
        yield n, value


def _text(value: Any) -> str | None:
    """A string that is not blank and holds no NUL, as it is; else ``None``."""
    if type(value) is not str or "\0" in value or not value.strip():
        return None
    return value


def _optional_text(raw: Mapping[str, Any], key: str) -> tuple[bool, str | None]:
    """``(ok, value)``: a missing or null key is fine; another non-string is not."""
    value = raw.get(key)
    if value is None:
        return True, None
    if type(value) is not str or "\0" in value:
        return False, None
    return True, value if value.strip() else None


def _user_id(raw: Mapping[str, Any]) -> str | None:
    user_id = _text(raw.get("user_id"))
    user_id = user_id.strip() if user_id is not None else None  # as parse_user has it
    return user_id if user_id is not None and "|" in user_id.strip("|") else None


def _parse_role(raw: Mapping[str, Any]) -> Auth0Role | str:
    role_id, name = _text(raw.get("id")), _text(raw.get("name"))
    if role_id is None:
        return "no role id"
    if name is None:
        return f"role {role_id} has no name"
    ok, description = _optional_text(raw, "description")
    if not ok:
        return f"role {role_id}: description is not a string"
    permissions = raw.get("permissions") or []
    if type(permissions) is not list:
        return f"role {role_id}: permissions is not a list"
    pairs: list[tuple[str, str]] = []
    for entry in permissions:
        audience = _text(entry.get("resource_server_identifier")) if type(entry) is dict else None
        permission = _text(entry.get("permission_name")) if type(entry) is dict else None
        if audience is None or permission is None:
            return (
                f"role {role_id}: a permission lacks resource_server_identifier or permission_name"
            )
        if (audience, permission) not in pairs:
            pairs.append((audience, permission))
    return Auth0Role(role_id, name, description, tuple(pairs))


def _parse_organization(raw: Mapping[str, Any]) -> Auth0Organization | str:
    org_id, name = _text(raw.get("id")), _text(raw.get("name"))
    if org_id is None:
        return "no organization id"
    if name is None:
        return f"organization {org_id} has no name"
    ok, display_name = _optional_text(raw, "display_name")
    if not ok:
        return f"organization {org_id}: display_name is not a string"
    entries = raw.get("enabled_connections") or []
    if type(entries) is not list:
        return f"organization {org_id}: enabled_connections is not a list"
    connections: list[OrgConnection] = []
    for entry in entries:
        if type(entry) is not dict:
            return f"organization {org_id}: an enabled_connections entry is not an object"
        # (Auth0's API nests name and strategy in "connection"; the export file has them flat.)
        nested = entry.get("connection")
        connection: dict[str, Any] = nested if type(nested) is dict else {}
        conn_id = _text(entry.get("connection_id"))
        conn_name = _text(entry.get("name", connection.get("name")))
        strategy = _text(entry.get("strategy", connection.get("strategy")))
        if conn_id is None or conn_name is None:
            return f"organization {org_id}: an enabled connection lacks connection_id or name"
        connections.append(
            OrgConnection(
                conn_id, conn_name, strategy, entry.get("assign_membership_on_login") is True
            )
        )
    domains = raw.get("domains") or []
    if type(domains) is not list or any(_text(d) is None for d in domains):
        return f"organization {org_id}: domains is not a list of strings"
    return Auth0Organization(
        org_id,
        name,
        display_name,
        tuple(connections),
        tuple(dict.fromkeys(d.strip() for d in domains)),
    )


class _StrictProblems(list[UnreadableRecord]):
    """Problems of a strict read: the first one is raised."""

    def append(self, problem: UnreadableRecord) -> None:
        raise problem.to_error()


def read_authz(
    roles: _Lines | None = None,
    role_members: _Lines | None = None,
    organizations: _Lines | None = None,
    organization_members: _Lines | None = None,
    *,
    strict: bool = False,
) -> AuthzData:
    """Read the export's roles and organizations files (each one line at a time).

    A line that is not a JSON object of the expected shape, a repeated role, organization,
    assignment or membership (the first one wins), and an assignment to a role or organization
    the files do not hold are reported in :attr:`AuthzData.problems` with the file, line and
    reason; every other line is used. Without a roles file, the roles named in the organization
    members' lines (id and name) are the roles, and role members cannot be read (reported).

    Args:
        roles: ``auth0-roles.ndjson``'s lines (bytes or text), or ``None`` if not exported.
        role_members: ``auth0-role-members.ndjson``'s lines.
        organizations: ``auth0-organizations.ndjson``'s lines.
        organization_members: ``auth0-organization-members.ndjson``'s lines.
        strict: Raise :class:`~auth0_ory_migrate.InvalidRecordError` on the first line that
            cannot be used instead of reporting it.

    .. versionadded:: 0.1.0
    """
    problems: list[UnreadableRecord] = _StrictProblems() if strict else []
    by_id: dict[str, Auth0Role] = {}
    role_lines: dict[str, int] = {}
    name_lines: dict[str, tuple[int, str]] = {}
    for n, raw in _objects(roles, "roles", problems):
        role = _parse_role(raw)
        if isinstance(role, str):
            problems.append(_problem("roles", n, None, role))
        elif role.id in role_lines:
            problems.append(
                _problem(
                    "roles", n, None, f"role {role.id} already read on line {role_lines[role.id]}"
                )
            )
        elif role.name in name_lines:
            line, other = name_lines[role.name]
            problems.append(
                _problem(
                    "roles",
                    n,
                    None,
                    f"role {role.id}: role {other} on line {line} has the name "
                    f"{json.dumps(role.name)} too (Auth0 role names are unique)",
                )
            )
        else:
            by_id[role.id] = role
            role_lines[role.id] = n
            name_lines[role.name] = (n, role.id)

    roles_of: dict[str, list[str]] = {}
    seen: dict[tuple[str, str], int] = {}
    for n, raw in _objects(role_members, "role_members", problems):
        user_id, role_id = _user_id(raw), _text(raw.get("role_id"))
        if user_id is None or role_id is None:
            why = "no user_id of the form provider|id" if user_id is None else "no role_id"
            problems.append(_problem("role_members", n, user_id, why))
        elif role_id not in by_id:
            problems.append(
                _problem("role_members", n, user_id, f"role {role_id} is not in the roles file")
            )
        elif (role_id, user_id) in seen:
            why = f"the assignment of role {role_id} is already on line {seen[role_id, user_id]}"
            problems.append(_problem("role_members", n, user_id, why))
        else:
            seen[role_id, user_id] = n
            roles_of.setdefault(user_id, []).append(role_id)

    orgs: dict[str, Auth0Organization] = {}
    org_lines: dict[str, int] = {}
    for n, raw in _objects(organizations, "organizations", problems):
        org = _parse_organization(raw)
        if isinstance(org, str):
            problems.append(_problem("organizations", n, None, org))
        elif org.id in orgs:
            why = f"organization {org.id} already read on line {org_lines[org.id]}"
            problems.append(_problem("organizations", n, None, why))
        else:
            orgs[org.id] = org
            org_lines[org.id] = n

    synthesised = roles is None
    orgs_of: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    seen.clear()
    for n, raw in _objects(organization_members, "organization_members", problems):
        user_id, org_id = _user_id(raw), _text(raw.get("organization_id"))
        entries = raw.get("roles") or []
        if user_id is None or org_id is None:
            why = "no user_id of the form provider|id" if user_id is None else "no organization_id"
            problems.append(_problem("organization_members", n, user_id, why))
            continue
        if type(entries) is not list or any(
            type(e) is not dict or _text(e.get("id")) is None for e in entries
        ):
            why = "roles is not a list of objects with an id"
            problems.append(_problem("organization_members", n, user_id, why))
            continue
        if org_id not in orgs:
            why = f"organization {org_id} is not in the organizations file"
            problems.append(_problem("organization_members", n, user_id, why))
            continue
        if (org_id, user_id) in seen:
            why = f"the membership of {org_id} is already on line {seen[org_id, user_id]}"
            problems.append(_problem("organization_members", n, user_id, why))
            continue
        seen[org_id, user_id] = n
        role_ids: list[str] = []
        for entry in entries:
            role_id = cast(str, _text(entry["id"]))
            if role_id not in by_id and synthesised:
                name = _text(entry.get("name"))
                if name is not None and name not in name_lines:
                    by_id[role_id] = Auth0Role(role_id, name)
                    name_lines[name] = (0, role_id)
            if role_id not in by_id:
                why = (
                    f"role {role_id} is not in the roles file: the membership of {org_id} is "
                    "kept without it"
                    if not synthesised
                    else f"role {role_id} has no name (or another role's): the membership of "
                    f"{org_id} is kept without it"
                )
                problems.append(_problem("organization_members", n, user_id, why))
            elif role_id not in role_ids:
                role_ids.append(role_id)
        orgs_of.setdefault(user_id, []).append((org_id, tuple(role_ids)))

    return AuthzData(
        roles=by_id,
        organizations=orgs,
        problems=tuple(problems),
        roles_of={u: tuple(r) for u, r in roles_of.items()},
        organizations_of={u: tuple(o) for u, o in orgs_of.items()},
    )


# Metadata


def _permissions(data: AuthzData, role_ids: Iterable[str]) -> dict[str, list[str]]:
    by_audience: dict[str, list[str]] = {}
    for role_id in role_ids:
        for audience, permission in data.roles[role_id].permissions:
            names = by_audience.setdefault(audience, [])
            if permission not in names:
                names.append(permission)
    return {a: sorted(names) for a, names in sorted(by_audience.items())}


def _metadata(data: AuthzData, user_ids: Iterable[str]) -> dict[str, Any] | None:
    direct: list[str] = []
    in_orgs: dict[str, list[str]] = {}
    for user_id in user_ids:
        direct.extend(r for r in data.user_roles(user_id) if r not in direct)
        for org_id, role_ids in data.user_organizations(user_id):
            held = in_orgs.setdefault(org_id, [])
            held.extend(r for r in role_ids if r not in held)
    if not direct and not in_orgs:
        return None
    organizations = []
    for org_id in sorted(in_orgs):
        org = data.organizations[org_id]
        organizations.append(
            {
                "id": org.id,
                "name": org.name,
                "display_name": org.display_name,
                "roles": sorted(data.roles[r].name for r in in_orgs[org_id]),
                "permissions": _permissions(data, in_orgs[org_id]),
            }
        )
    return {
        "roles": sorted(data.roles[r].name for r in direct),
        "permissions": _permissions(data, direct),
        "organizations": organizations,
    }


def authz_metadata(data: AuthzData, user_id: str) -> dict[str, Any] | None:
    """What ``metadata_admin.auth0`` holds about a user's roles and organizations.

    ``{"roles": [names], "permissions": {audience: [names]}, "organizations": [{"id", "name",
    "display_name", "roles": [names], "permissions": {audience: [names]}}]}``: the permissions
    at the top come from the user's direct roles (what Auth0 put in tokens without an
    organization); each organization's from the roles the user holds in it (what Auth0 put in
    tokens for a login to that organization). Lists are sorted, so the result is stable.

    Returns:
        The dict, or ``None`` when the user has no role and no organization.

    .. versionadded:: 0.1.0
    """
    return _metadata(data, (user_id,))


#: The ``metadata_public`` key :func:`with_authz_metadata` copies the metadata to when asked.
AUTHZ_PUBLIC_KEY = "auth0_authz"


def with_authz_metadata(
    body: IdentityBody, data: AuthzData, user_ids: Sequence[str], *, public: bool = False
) -> IdentityBody:
    """*body* with the roles and organizations of its Auth0 users in ``metadata_admin.auth0``.

    Adds ``roles``, ``permissions`` and ``organizations`` (see :func:`authz_metadata`) for all
    of *user_ids* together (the identity's user and the users merged into it); the body is
    otherwise unchanged, and not changed in place. A body whose users have nothing is returned
    as it is.

    Args:
        body: A ``CreateIdentityBody`` dict (e.g. :attr:`PlannedIdentity.body`).
        data: What :func:`read_authz` read.
        user_ids: The identity's Auth0 user ids, its own first.
        public: Also copy them to ``metadata_public.auth0_authz``: Ory's session tokenizer
            sees ``metadata_public`` but never ``metadata_admin`` (Kratos leaves it out of the
            session it gives the claims mapper), so :data:`AUTHZ_CLAIMS_JSONNET` reads this
            copy. The user can read it too (``/sessions/whoami``), not change it. A
            ``user_metadata`` key of that name is left as it is (the copy is then not written).

    .. versionadded:: 0.1.0
    """
    meta = _metadata(data, user_ids)
    if meta is None:
        return body
    out = dict(body)
    admin = dict(out.get("metadata_admin") or {})
    admin["auth0"] = {**(admin.get("auth0") or {}), **meta}
    out["metadata_admin"] = admin
    if public:
        public_meta = dict(out.get("metadata_public") or {})
        if AUTHZ_PUBLIC_KEY not in public_meta:
            public_meta[AUTHZ_PUBLIC_KEY] = json.loads(json.dumps(meta))
            out["metadata_public"] = public_meta
    return out


#: An Ory session-to-JWT tokenizer claims mapper (Jsonnet) that puts the roles and organizations
#: into tokens as Auth0 did: ``roles`` (role names), ``permissions`` (by API audience) and
#: ``organizations``; for a member of exactly one organization, as after a login to it: Auth0's
#: ``org_id`` and ``org_name``, and the roles and permissions held in it added. It reads
#: ``metadata_public.auth0_authz`` (:func:`with_authz_metadata` with ``public=True``): Kratos
#: gives the mapper the session without ``metadata_admin``. Set it as a tokenizer template's
#: ``claims_mapper_url`` (e.g. ``base64://…``).
AUTHZ_CLAIMS_JSONNET = """\
local claims = std.extVar('claims');
local session = std.extVar('session');
local identity = session.identity;
local public =
  if std.objectHas(identity, 'metadata_public') && std.isObject(identity.metadata_public)
  then identity.metadata_public else {};
local authz =
  if std.objectHas(public, 'auth0_authz') && std.isObject(public.auth0_authz)
  then public.auth0_authz else null;
local field(name, default) =
  if authz != null && std.objectHas(authz, name) && authz[name] != null
  then authz[name] else default;
local orgs = field('organizations', []);
local one = if std.length(orgs) == 1 then orgs[0] else null;
local of(obj, name, default) =
  if std.objectHas(obj, name) && obj[name] != null then obj[name] else default;
local union(a, b) = {
  [k]: std.set(of(a, k, []) + of(b, k, []))
  for k in std.setUnion(std.objectFields(a), std.objectFields(b))
};

{
  claims: claims + (
    if authz == null then {} else {
      // a member of one organization: as after Auth0's login to it (its roles added)
      roles: std.set(field('roles', []) + (if one == null then [] else of(one, 'roles', []))),
      permissions: union(
        field('permissions', {}), if one == null then {} else of(one, 'permissions', {})
      ),
      organizations: orgs,
    } + (if one == null then {} else { org_id: one.id, org_name: one.name })
  ),
}
"""


# Relation tuples and the namespace file


@frozen
class RelationTuple:
    """One Ory Permissions relationship: ``namespace:object#relation@subject_id``.

    .. versionadded:: 0.1.0
    """

    namespace: str
    object: str
    relation: str
    subject_id: str

    def to_dict(self) -> dict[str, str]:
        """The ``Relationship`` JSON Ory's API takes."""
        return {
            "namespace": self.namespace,
            "object": self.object,
            "relation": self.relation,
            "subject_id": self.subject_id,
        }

    def __str__(self) -> str:
        return f"{self.namespace}:{self.object}#{self.relation}@{self.subject_id}"


# Namespaces of the tuples and the OPL file.
#: The Ory Permissions namespace of the roles (``Role:<role name>#member@<identity>``).
ROLE_NAMESPACE: Final = "Role"
#: The namespace of the organizations (``Organization:<organization id>#member@<identity>``).
ORGANIZATION_NAMESPACE: Final = "Organization"
USER_NAMESPACE = "User"
MEMBER = "member"

#: Keto's OPL keywords (its lexer's, old and new) and our own relation: never a role's relation.
_RESERVED = frozenset(
    {"class", "implements", "this", "ctx", "related", "permits", "metadata", "id", MEMBER}
)
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]+")


def _identifier(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ident = _NOT_IDENT.sub("_", ascii_name).strip("_")
    if not ident or ident[0].isdigit() or ident in _RESERVED:
        ident = f"role_{ident}" if ident else "role"
    return ident


def role_relation_names(data: AuthzData) -> dict[str, str]:
    """Each role's relation name in the ``Organization`` namespace: role id → identifier.

    Ory Permission Language relation names are identifiers (``[A-Za-z_][A-Za-z0-9_]*``, not a
    keyword), so a role name is sanitised: accents dropped, other characters become ``_``, a
    leading digit or a keyword gets ``role_`` in front; names that collide get ``_2``, ``_3``,
    ... (roles taken by name, then id, so the result does not depend on the files' order).
    :func:`permission_namespaces` says which names were changed.

    .. versionadded:: 0.1.0
    """
    taken: set[str] = set()
    out: dict[str, str] = {}
    for role in sorted(data.roles.values(), key=lambda r: (r.name, r.id)):
        base = _identifier(role.name)
        ident, n = base, 1
        while ident in taken:
            n += 1
            ident = f"{base}_{n}"
        taken.add(ident)
        out[role.id] = ident
    return out


class RelationTuples(Iterator[RelationTuple]):
    """The tuples of :func:`relation_tuples`, counting what it skips as it goes.

    Attributes:
        users_not_in_ory: Users with assignments but no Ory identity (final once exhausted).
        assignments_skipped: Their assignments (role memberships, memberships and roles in
            organizations).

    .. versionadded:: 0.1.0
    """

    def __init__(self, data: AuthzData, identity_of: Callable[[str], str | None]) -> None:
        self.users_not_in_ory = 0
        self.assignments_skipped = 0
        self._tuples = self._generate(data, identity_of)

    def __next__(self) -> RelationTuple:
        return next(self._tuples)

    def _generate(
        self, data: AuthzData, identity_of: Callable[[str], str | None]
    ) -> Iterator[RelationTuple]:
        relations = role_relation_names(data)
        first_user: dict[str, str] = {}  # identity → its first user (merged users share one)
        more_users: dict[str, list[str]] = {}
        for user_id in data.users:
            tuples = _user_tuples(data, relations, user_id, "")
            identity = identity_of(user_id)
            if identity is None:
                self.users_not_in_ory += 1
                self.assignments_skipped += len(tuples)
                continue
            earlier = first_user.setdefault(identity, user_id)
            done: set[RelationTuple] = set()
            if earlier != user_id:  # a merged user: what its identity got already is not repeated
                others = [earlier, *more_users.setdefault(identity, [])]
                done = {t for u in others for t in _user_tuples(data, relations, u, identity)}
                more_users[identity].append(user_id)
            for t in tuples:
                full = RelationTuple(t.namespace, t.object, t.relation, identity)
                if full not in done:
                    yield full


def _user_tuples(
    data: AuthzData, relations: Mapping[str, str], user_id: str, subject: str
) -> list[RelationTuple]:
    out = [
        RelationTuple(ROLE_NAMESPACE, data.roles[r].name, MEMBER, subject)
        for r in data.user_roles(user_id)
    ]
    for org_id, role_ids in data.user_organizations(user_id):
        out.append(RelationTuple(ORGANIZATION_NAMESPACE, org_id, MEMBER, subject))
        out.extend(
            RelationTuple(ORGANIZATION_NAMESPACE, org_id, relations[r], subject) for r in role_ids
        )
    return out


def relation_tuples(data: AuthzData, identity_of: Callable[[str], str | None]) -> RelationTuples:
    """Every assignment as an Ory Permissions relation tuple, exactly once.

    ``Role:<role name>#member@<identity>`` for a direct role,
    ``Organization:<organization id>#member@<identity>`` for a membership and
    ``Organization:<organization id>#<role relation>@<identity>`` for a role held in an
    organization (the relation as :func:`role_relation_names` names it). The subject is the Ory
    identity id; users merged into one identity give each tuple once. The order is stable (the
    files' order), so a run that stops can be resumed by position.

    Args:
        data: What :func:`read_authz` read.
        identity_of: The Ory identity id of an Auth0 user id, ``None`` when the user is not in
            Ory (its assignments are skipped and counted).

    .. versionadded:: 0.1.0
    """
    return RelationTuples(data, identity_of)


def _comment(text: str) -> str:
    """*text* safe inside a ``//`` comment: a JSON string literal, ASCII only (no line breaks)."""
    return json.dumps(text, ensure_ascii=True)


def permission_namespaces(data: AuthzData) -> str:
    """An Ory Permission Language file declaring the namespaces of :func:`relation_tuples`.

    ``User``; ``Role`` with ``member: User[]``; ``Organization`` with ``member: User[]`` and
    one ``User[]`` relation per role (see :func:`role_relation_names`; comments say which
    Auth0 role each renamed relation stands for). Add ``permits`` to it for your application.

    .. versionadded:: 0.1.0
    """
    relations = role_relation_names(data)
    renamed = [
        f"//   Auth0 role {_comment(data.roles[r].name)} ({_comment(r)[1:-1]}) is relation {rel}"
        for r, rel in sorted(relations.items(), key=lambda item: item[1])
        if rel != data.roles[r].name
    ]
    lines = [
        "// Ory Permission Language namespaces for the roles and organizations exported from",
        "// Auth0 (written by auth0-ory-migrate). Subjects are Ory identity ids.",
        'import { Namespace, Context } from "@ory/keto-namespace-types"',
        "",
        f"class {USER_NAMESPACE} implements Namespace {{}}",
        "",
        f"// {ROLE_NAMESPACE}:<Auth0 role name>#member@<identity id>: the user has the role.",
        f"class {ROLE_NAMESPACE} implements Namespace {{",
        "  related: {",
        f"    {MEMBER}: {USER_NAMESPACE}[]",
        "  }",
        "}",
        "",
        f"// {ORGANIZATION_NAMESPACE}:<Auth0 organization id>#member@<identity id>: a member;",
        "// #<role>@<identity id>: a role the member holds in the organization.",
    ]
    if renamed:
        lines.append("// Role names that are not identifiers were renamed:")
        lines.extend(renamed)
    lines += [
        f"class {ORGANIZATION_NAMESPACE} implements Namespace {{",
        "  related: {",
        f"    {MEMBER}: {USER_NAMESPACE}[]",
        *(f"    {rel}: {USER_NAMESPACE}[]" for rel in sorted(relations.values())),
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)


# Organizations


@frozen
class UserLogins:
    """What :func:`plan_organizations` needs of a user: how the user signs in.

    Attributes:
        user_id: The Auth0 user id.
        connections: The connection of each of the user's identities (primary and linked);
            ``None`` where the export does not say.

    .. versionadded:: 0.1.0
    """

    user_id: str
    connections: tuple[str | None, ...]

    @classmethod
    def from_user(cls, user: Auth0User) -> UserLogins:
        """The logins of an exported user (its ``identities``)."""
        return cls(user.user_id, tuple(i.connection for i in user.identities))


@frozen
class OrganizationMapping:
    """An Auth0 organization that can become an Ory organization.

    Attributes:
        organization: The Auth0 organization.
        members: Its members' Auth0 user ids (each signs in only through its SSO).
        connections: Its enterprise connections (the Ory organization's SSO providers).

    .. versionadded:: 0.1.0
    """

    organization: Auth0Organization
    members: tuple[str, ...]
    connections: tuple[OrgConnection, ...]


@frozen
class UnmappedOrganization:
    """An Auth0 organization that cannot become an Ory organization, and why.

    .. versionadded:: 0.1.0
    """

    organization_id: str
    name: str
    reason: str


@frozen
class UnmappedMember:
    """A member who cannot join an Ory organization, and why.

    .. versionadded:: 0.1.0
    """

    organization_id: str
    user_id: str
    reason: str


@frozen
class OrganizationPlan:
    """Which Auth0 organizations become Ory organizations, and why the others do not.

    Those that cannot (and their members) keep their roles and organizations in metadata or
    relation tuples.

    Attributes:
        mapped: The organizations that map, with their members.
        unmapped: Those that do not, with the reason.
        members_unmapped: Every member of an organization that does not map, with the
            member's own reason or the organization's.

    .. versionadded:: 0.1.0
    """

    mapped: tuple[OrganizationMapping, ...] = ()
    unmapped: tuple[UnmappedOrganization, ...] = ()
    members_unmapped: tuple[UnmappedMember, ...] = ()
    _by_user: Mapping[str, str] = field(factory=dict, repr=False, alias="by_user")

    def organization_of(self, user_id: str) -> str | None:
        """The Auth0 organization id whose Ory organization *user_id* joins, if any."""
        return self._by_user.get(user_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for reports."""
        return {
            "mapped": [
                {
                    "id": m.organization.id,
                    "name": m.organization.name,
                    "members": len(m.members),
                    "connections": [c.name for c in m.connections],
                }
                for m in self.mapped
            ],
            "unmapped": [
                {"id": u.organization_id, "name": u.name, "reason": u.reason} for u in self.unmapped
            ],
            "members_unmapped": [
                {
                    "organization_id": m.organization_id,
                    "auth0_user_id": m.user_id,
                    "reason": m.reason,
                }
                for m in self.members_unmapped
            ],
        }


def plan_organizations(
    data: AuthzData, users: Mapping[str, UserLogins | Auth0User]
) -> OrganizationPlan:
    """Which Auth0 organizations can become Ory organizations.

    An Ory identity belongs to at most one organization and signs in through its SSO, so an
    organization maps only when it has an enterprise connection Ory can carry and every member
    is in *users*, is a member of no other organization, and signs in only through the
    organization's enterprise connections (no password, social login or other connection
    besides). Every organization or member that cannot map is reported with the reason.

    Args:
        data: What :func:`read_authz` read.
        users: The exported users (or their :class:`UserLogins`) by Auth0 user id; only the
            organizations' members are looked up.

    .. versionadded:: 0.1.0
    """
    members: dict[str, list[str]] = {org_id: [] for org_id in data.organizations}
    for user_id in data.users:
        for org_id, _ in data.user_organizations(user_id):
            members[org_id].append(user_id)
    mapped: list[OrganizationMapping] = []
    unmapped: list[UnmappedOrganization] = []
    members_unmapped: list[UnmappedMember] = []
    by_user: dict[str, str] = {}
    for org_id, org in data.organizations.items():
        enterprise = tuple(c for c in org.connections if c.is_enterprise)
        names = {c.name for c in enterprise}
        reasons = {u: _member_problem(data, users, u, names) for u in members[org_id]}
        failing = [u for u, why in reasons.items() if why is not None]
        if not enterprise:
            reason = (
                "no enterprise connection is enabled for it (Ory organization members sign in "
                "through the organization's SSO)"
            )
        elif failing:
            first = failing[0]
            reason = (
                f"{len(failing)} of its {len(reasons)} members cannot join it "
                f"(first, {first}: {reasons[first]})"
            )
        else:
            mapped.append(OrganizationMapping(org, tuple(members[org_id]), enterprise))
            by_user.update((u, org_id) for u in members[org_id])
            continue
        unmapped.append(UnmappedOrganization(org_id, org.name, reason))
        members_unmapped.extend(
            UnmappedMember(
                org_id,
                u,
                reasons[u] or f"its organization {org_id} cannot become an Ory organization",
            )
            for u in members[org_id]
        )
    return OrganizationPlan(tuple(mapped), tuple(unmapped), tuple(members_unmapped), by_user)


def _member_problem(
    data: AuthzData,
    users: Mapping[str, UserLogins | Auth0User],
    user_id: str,
    sso: set[str],
) -> str | None:
    """Why *user_id* cannot join an Ory organization whose SSO connections are *sso*, if so."""
    orgs = data.user_organizations(user_id)
    if len(orgs) > 1:
        listed = ", ".join(o for o, _ in orgs)
        return f"member of {len(orgs)} organizations ({listed}); an Ory identity belongs to one"
    user = users.get(user_id)
    if user is None:
        return "not in the users export"
    logins = UserLogins.from_user(user) if isinstance(user, Auth0User) else user
    if any(c is None for c in logins.connections):
        return "a login's connection is not in the users export"
    others = [c for c in logins.connections if c not in sso]
    if others:
        return (
            f"signs in through {', '.join(sorted(set(cast(list[str], others))))} too, which is "
            "not one of the organization's enterprise connections"
        )
    if not logins.connections:
        return "signs in through none of the organization's enterprise connections"
    return None
