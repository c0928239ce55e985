"""Roles, permissions and organizations: the pure core (reading, metadata, tuples, OPL, plan)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import _jsonnet
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_ory_migrate import (
    AUTHZ_CLAIMS_JSONNET,
    Auth0Organization,
    Auth0Role,
    Auth0User,
    AuthzData,
    InvalidRecordError,
    OrganizationPlan,
    OrgConnection,
    RelationTuple,
    UnreadableRecord,
    UserLogins,
    authz_metadata,
    parse_user,
    permission_namespaces,
    plan_organizations,
    read_authz,
    relation_tuples,
    role_relation_names,
    with_authz_metadata,
)


ADA = "auth0|ada"
BOB = "samlp|acme|bob"
CY = "google-oauth2|cy"
API = "https://api.example.com"
BILLING = "https://billing.example.com"

ROLES: list[dict[str, Any]] = [
    {
        "id": "rol_admin",
        "name": "Admin",
        "description": "Everything",
        "permissions": [
            {"resource_server_identifier": API, "permission_name": "read:all"},
            {"resource_server_identifier": API, "permission_name": "write:all"},
            {"resource_server_identifier": BILLING, "permission_name": "pay"},
        ],
    },
    {
        "id": "rol_viewer",
        "name": "Viewer",
        "description": None,
        "permissions": [{"resource_server_identifier": API, "permission_name": "read:all"}],
    },
    {"id": "rol_orphan", "name": "Orphan", "description": "nobody", "permissions": []},
]
ROLE_MEMBERS: list[dict[str, Any]] = [
    {"role_id": "rol_admin", "user_id": ADA},
    {"role_id": "rol_viewer", "user_id": ADA},
    {"role_id": "rol_viewer", "user_id": CY},
]
ACME_SAML: dict[str, Any] = {
    "connection_id": "con_saml",
    "name": "acme",
    "strategy": "samlp",
    "assign_membership_on_login": True,
}
ORGS: list[dict[str, Any]] = [
    {
        "id": "org_acme",
        "name": "acme",
        "display_name": "Acme Inc.",
        "enabled_connections": [ACME_SAML],
        "domains": ["acme.example"],
    },
    {
        "id": "org_beta",
        "name": "beta",
        "display_name": None,
        "enabled_connections": [
            {
                "connection_id": "con_db",
                "name": "Username-Password-Authentication",
                "strategy": "auth0",
                "assign_membership_on_login": False,
            }
        ],
    },
]
ORG_MEMBERS: list[dict[str, Any]] = [
    {
        "organization_id": "org_acme",
        "user_id": BOB,
        "roles": [{"id": "rol_admin", "name": "Admin"}],
    },
    {
        "organization_id": "org_beta",
        "user_id": ADA,
        "roles": [{"id": "rol_viewer", "name": "Viewer"}],
    },
]


def _lines(records: Iterable[dict[str, Any] | str], *, text: bool = False) -> list[Any]:
    out = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return out if text else [line.encode() + b"\n" for line in out]


def _data(**overrides: list[Any] | None) -> AuthzData:
    files: dict[str, Any] = {
        "roles": ROLES,
        "role_members": ROLE_MEMBERS,
        "organizations": ORGS,
        "organization_members": ORG_MEMBERS,
    }
    files.update(overrides)
    return _read(files)


def _read(files: dict[str, Any]) -> AuthzData:
    """read_authz over the four files given as lists of records (None: not exported)."""
    lines = {k: None if v is None else _lines(v) for k, v in files.items()}
    return read_authz(
        lines["roles"],
        lines["role_members"],
        lines["organizations"],
        lines["organization_members"],
    )


def _user(user_id: str, *identities: tuple[str, str, str]) -> Auth0User:
    raw: dict[str, Any] = {"user_id": user_id}
    if identities:
        raw["identities"] = [
            {"provider": p, "user_id": u, "connection": c} for p, u, c in identities
        ]
    user = parse_user(raw, 1)
    assert isinstance(user, Auth0User)
    return user


def _reasons(data: AuthzData) -> list[tuple[str, int, str]]:
    return [(p.source, p.line, p.reason) for p in data.problems]


# Reading


def test_read_indexes_roles_and_organizations_by_user() -> None:
    """Good files give the roles, organizations and each user's direct and organization roles."""
    data = _data()
    assert data.problems == ()
    admin = data.roles["rol_admin"]
    assert admin == Auth0Role(
        "rol_admin",
        "Admin",
        "Everything",
        ((API, "read:all"), (API, "write:all"), (BILLING, "pay")),
    )
    assert data.roles["rol_viewer"].description is None
    acme = data.organizations["org_acme"]
    assert acme.display_name == "Acme Inc."
    assert acme.connections == (OrgConnection("con_saml", "acme", "samlp", True),)
    assert acme.domains == ("acme.example",)
    assert data.user_roles(ADA) == ("rol_admin", "rol_viewer")
    assert data.user_roles(CY) == ("rol_viewer",)
    assert data.user_roles(BOB) == ()
    assert data.user_organizations(BOB) == (("org_acme", ("rol_admin",)),)
    assert data.user_organizations(ADA) == (("org_beta", ("rol_viewer",)),)
    assert data.user_organizations(CY) == ()
    assert set(data.users) == {ADA, BOB, CY}


def test_read_accepts_text_lines_blank_lines_and_missing_files() -> None:
    """Lines may be str or bytes; blank lines are skipped; a file not given is empty."""
    data = read_authz(roles=[*_lines(ROLES, text=True), "", "   \n"])
    assert sorted(data.roles) == ["rol_admin", "rol_orphan", "rol_viewer"]
    assert data.problems == ()
    assert data.users == ()
    empty = read_authz()
    assert empty.roles == {}
    assert empty.organizations == {}
    assert empty.problems == ()


def test_bad_lines_are_reported_with_file_line_and_reason_and_the_rest_is_read() -> None:
    """A bad line is an UnreadableRecord (file, line, reason); the lines around it are read."""
    data = _data(
        roles=[ROLES[0], "{not json", "[1, 2]", {"id": "rol_x"}, ROLES[1]],
        role_members=[{"role_id": "rol_admin"}, ROLE_MEMBERS[0], {"role_id": 3, "user_id": ADA}],
        organizations=[{"id": "org_bad", "name": "bad", "enabled_connections": "no"}, *ORGS],
        organization_members=[{"organization_id": "org_acme", "user_id": BOB, "roles": [1]}],
    )
    assert sorted(data.roles) == ["rol_admin", "rol_viewer"]
    assert sorted(data.organizations) == ["org_acme", "org_beta"]
    problems = _reasons(data)
    assert [(s, n) for s, n, _ in problems] == [
        ("roles", 2),
        ("roles", 3),
        ("roles", 4),
        ("role_members", 1),
        ("role_members", 3),
        ("organizations", 1),
        ("organization_members", 1),
    ]
    assert "not JSON" in problems[0][2]
    assert "not a JSON object" in problems[1][2]
    assert "name" in problems[2][2]
    assert "user_id" in problems[3][2]
    assert "enabled_connections" in problems[5][2]
    assert all(isinstance(p, UnreadableRecord) for p in data.problems)
    assert data.problems[3].to_dict()["source"] == "role_members"
    assert data.user_roles(ADA) == ("rol_admin",)


def test_strict_reading_raises_on_the_first_bad_line() -> None:
    """strict=True: the first unusable line is an InvalidRecordError naming file and line."""
    with pytest.raises(InvalidRecordError, match="role_members line 2"):
        read_authz(
            roles=_lines(ROLES),
            role_members=_lines([ROLE_MEMBERS[0], {"role_id": "rol_gone", "user_id": ADA}]),
            strict=True,
        )
    assert read_authz(roles=_lines(ROLES), strict=True).problems == ()


def test_hostile_lines_are_reported_not_raised() -> None:
    """Deep nesting, invalid UTF-8 and a NUL are reported; a blank description is no description."""
    data = read_authz(
        roles=[
            b"[" * 100_000 + b"]" * 100_000,
            b'{"id": "rol_\xff", "name": "x"}',
            json.dumps({"id": "rol_nul", "name": "a\u0000b"}).encode(),
            json.dumps({**ROLES[1], "description": "  "}).encode(),
        ]
    )
    assert [p.line for p in data.problems] == [1, 2, 3]
    assert data.roles["rol_viewer"].description is None


def test_a_bad_permission_rejects_its_role() -> None:
    """A role with a permission lacking its audience or name is reported."""
    bad = {**ROLES[1], "permissions": [{"resource_server_identifier": API}]}
    data = _data(roles=[bad], role_members=[], organization_members=[])
    assert data.roles == {}
    assert "permission" in data.problems[0].reason


def test_duplicates_are_reported_and_the_first_one_wins() -> None:
    """A repeated role id, role name, organization id, assignment or membership is reported."""
    data = _data(
        roles=[*ROLES, {**ROLES[0], "name": "Other"}, {**ROLES[1], "id": "rol_v2"}],
        role_members=[*ROLE_MEMBERS, ROLE_MEMBERS[0]],
        organizations=[*ORGS, {**ORGS[0], "name": "again"}],
        organization_members=[*ORG_MEMBERS, {**ORG_MEMBERS[0], "roles": []}],
    )
    assert data.roles["rol_admin"].name == "Admin"
    assert "rol_v2" not in data.roles
    assert data.organizations["org_acme"].name == "acme"
    assert data.user_roles(ADA) == ("rol_admin", "rol_viewer")
    assert data.user_organizations(BOB) == (("org_acme", ("rol_admin",)),)
    reasons = _reasons(data)
    assert [(s, n) for s, n, _ in reasons] == [
        ("roles", 4),
        ("roles", 5),
        ("role_members", 4),
        ("organizations", 3),
        ("organization_members", 3),
    ]
    assert "line 1" in reasons[0][2]
    assert "rol_admin" in reasons[0][2]
    assert "Viewer" in reasons[1][2]
    assert "line 2" in reasons[1][2]
    assert "line 1" in reasons[2][2]


def test_members_of_unknown_roles_and_organizations_are_reported() -> None:
    """An assignment to a role or organization the files do not hold is reported, not kept."""
    data = _data(
        role_members=[*ROLE_MEMBERS, {"role_id": "rol_gone", "user_id": BOB}],
        organization_members=[
            *ORG_MEMBERS,
            {"organization_id": "org_gone", "user_id": CY, "roles": []},
            {
                "organization_id": "org_acme",
                "user_id": CY,
                "roles": [
                    {"id": "rol_gone", "name": "Gone"},
                    {"id": "rol_viewer", "name": "Viewer"},
                ],
            },
        ],
    )
    reasons = _reasons(data)
    assert reasons[0][:2] == ("role_members", 4)
    assert "rol_gone" in reasons[0][2]
    assert reasons[1][:2] == ("organization_members", 3)
    assert "org_gone" in reasons[1][2]
    assert reasons[2][:2] == ("organization_members", 4)
    assert "rol_gone" in reasons[2][2]
    assert data.problems[0].user_id == BOB
    assert data.user_roles(BOB) == ()
    # the membership itself is kept, without the unknown role
    assert data.user_organizations(CY) == (("org_acme", ("rol_viewer",)),)


def test_without_a_roles_file_organization_roles_come_from_the_member_lines() -> None:
    """Exported with --organizations only: a member line's roles (id, name) make the roles."""
    data = _data(roles=None, role_members=None)
    assert data.problems == ()
    assert data.roles["rol_admin"] == Auth0Role("rol_admin", "Admin", None, ())
    assert data.user_organizations(BOB) == (("org_acme", ("rol_admin",)),)


def test_role_members_without_a_roles_file_are_reported() -> None:
    """Role members cannot be read without the roles they belong to."""
    data = _data(roles=None, organization_members=[])
    assert len(data.problems) == len(ROLE_MEMBERS)
    assert all("roles file" in p.reason for p in data.problems)


# Metadata


def test_authz_metadata_has_names_permissions_by_audience_and_organizations() -> None:
    """A user's metadata: role names, permissions by audience, organizations with their roles."""
    data = _data()
    assert authz_metadata(data, ADA) == {
        "roles": ["Admin", "Viewer"],
        "permissions": {API: ["read:all", "write:all"], BILLING: ["pay"]},
        "organizations": [
            {
                "id": "org_beta",
                "name": "beta",
                "display_name": None,
                "roles": ["Viewer"],
                "permissions": {API: ["read:all"]},
            }
        ],
    }
    assert authz_metadata(data, BOB) == {
        "roles": [],
        "permissions": {},
        "organizations": [
            {
                "id": "org_acme",
                "name": "acme",
                "display_name": "Acme Inc.",
                "roles": ["Admin"],
                "permissions": {API: ["read:all", "write:all"], BILLING: ["pay"]},
            }
        ],
    }


def test_authz_metadata_is_none_for_a_user_with_nothing() -> None:
    """A user with no role and no organization gets no metadata at all."""
    assert authz_metadata(_data(), "auth0|nobody") is None


def test_with_authz_metadata_adds_the_merged_users_and_leaves_the_rest() -> None:
    """The identity's Auth0 users (merged ones too) are folded into metadata_admin.auth0."""
    data = _data()
    body = {
        "schema_id": "preset://email",
        "traits": {"email": "ada@example.com"},
        "metadata_public": {"plan": "pro"},
        "metadata_admin": {"auth0": {"user_id": ADA, "merged_user_ids": [BOB]}},
    }
    before = copy.deepcopy(body)
    out = with_authz_metadata(body, data, [ADA, BOB])
    assert body == before  # not changed in place
    auth0 = out["metadata_admin"]["auth0"]
    assert auth0["user_id"] == ADA
    assert auth0["merged_user_ids"] == [BOB]
    assert auth0["roles"] == ["Admin", "Viewer"]
    assert auth0["permissions"] == {API: ["read:all", "write:all"], BILLING: ["pay"]}
    assert [o["id"] for o in auth0["organizations"]] == ["org_acme", "org_beta"]
    assert {k: v for k, v in out.items() if k != "metadata_admin"} == {
        k: v for k, v in before.items() if k != "metadata_admin"
    }
    assert "auth0_authz" not in out["metadata_public"]


def test_with_authz_metadata_leaves_a_user_with_nothing_alone() -> None:
    """No role and no organization: the body is returned as it was."""
    body = {"schema_id": "s", "traits": {}, "metadata_admin": {"auth0": {"user_id": "auth0|x"}}}
    assert with_authz_metadata(body, _data(), ["auth0|x"]) == body


def test_with_authz_metadata_can_copy_it_into_metadata_public_for_tokens() -> None:
    """public=True also writes metadata_public.auth0_authz (what the tokenizer can read)."""
    out = with_authz_metadata({"schema_id": "s", "traits": {}}, _data(), [CY], public=True)
    assert out["metadata_public"]["auth0_authz"] == out["metadata_admin"]["auth0"]
    assert out["metadata_admin"]["auth0"]["roles"] == ["Viewer"]


def test_with_authz_metadata_keeps_a_user_metadata_key_of_the_same_name() -> None:
    """A user_metadata key auth0_authz is not overwritten by the public copy."""
    body = {"schema_id": "s", "traits": {}, "metadata_public": {"auth0_authz": "mine"}}
    out = with_authz_metadata(body, _data(), [CY], public=True)
    assert out["metadata_public"]["auth0_authz"] == "mine"
    assert out["metadata_admin"]["auth0"]["roles"] == ["Viewer"]


def _session(identity_id: str, metadata_public: Any) -> dict[str, Any]:
    """A session as Kratos gives it to the tokenizer: the identity without metadata_admin."""
    return {
        "id": "5a1d3b8e-0000-4000-8000-000000000001",
        "identity": {
            "id": identity_id,
            "schema_id": "preset://email",
            "traits": {"email": "ada@example.com"},
            "metadata_public": metadata_public,
        },
    }


def _tokenize(session: dict[str, Any]) -> dict[str, Any]:
    claims = {"sub": session["identity"]["id"], "iss": "https://ory.example", "sid": session["id"]}
    out = json.loads(
        _jsonnet.evaluate_snippet(
            "claims.jsonnet",
            AUTHZ_CLAIMS_JSONNET,
            ext_codes={"session": json.dumps(session), "claims": json.dumps(claims)},
        )
    )
    assert set(out) == {"claims"}
    result: dict[str, Any] = out["claims"]
    return result


def test_claims_template_puts_roles_permissions_and_organization_into_the_token() -> None:
    """The tokenizer template gives Auth0's claims: roles, permissions, org_id/org_name."""
    data = _data(role_members=[*ROLE_MEMBERS, {"role_id": "rol_viewer", "user_id": BOB}])
    body = with_authz_metadata({"schema_id": "s", "traits": {}}, data, [BOB], public=True)
    claims = _tokenize(_session("0c7f", body["metadata_public"]))
    assert claims["roles"] == ["Admin", "Viewer"]  # direct and in its organization
    assert claims["permissions"] == {API: ["read:all", "write:all"], BILLING: ["pay"]}
    body = with_authz_metadata({"schema_id": "s", "traits": {}}, _data(), [BOB], public=True)
    claims = _tokenize(_session("0c7f", body["metadata_public"]))
    assert claims["sub"] == "0c7f"
    assert claims["iss"] == "https://ory.example"
    assert claims["roles"] == ["Admin"]  # held in its one organization, as in Auth0's org login
    assert claims["org_id"] == "org_acme"
    assert claims["org_name"] == "acme"
    assert claims["organizations"][0]["roles"] == ["Admin"]
    assert claims["permissions"] == {API: ["read:all", "write:all"], BILLING: ["pay"]}


def test_claims_template_handles_identities_without_authz_or_metadata() -> None:
    """An identity with no metadata_public (null) or none of ours keeps the default claims."""
    for public in (None, {}, {"plan": "pro"}):
        claims = _tokenize(_session("0c7f", public))
        assert claims == {
            "sub": "0c7f",
            "iss": "https://ory.example",
            "sid": _session("x", 0)["id"],
        }


def test_claims_template_without_organization_claims_when_in_several() -> None:
    """org_id is set only when the user is in exactly one organization (Auth0 sets the one used)."""
    data = _data(
        organization_members=[
            *ORG_MEMBERS,
            {"organization_id": "org_acme", "user_id": ADA, "roles": []},
        ]
    )
    body = with_authz_metadata({"schema_id": "s", "traits": {}}, data, [ADA], public=True)
    claims = _tokenize(_session("i", body["metadata_public"]))
    assert "org_id" not in claims
    assert [o["id"] for o in claims["organizations"]] == ["org_acme", "org_beta"]
    assert claims["roles"] == ["Admin", "Viewer"]


# Relation tuples


def test_relation_tuples_cover_every_assignment_once() -> None:
    """Role membership, organization membership and organization roles, one tuple each."""
    data = _data()
    ids = {ADA: "id-ada", BOB: "id-bob", CY: "id-cy"}
    tuples = relation_tuples(data, ids.get)
    got = list(tuples)
    assert sorted((t.namespace, t.object, t.relation, t.subject_id) for t in got) == sorted(
        [
            ("Role", "Admin", "member", "id-ada"),
            ("Role", "Viewer", "member", "id-ada"),
            ("Role", "Viewer", "member", "id-cy"),
            ("Organization", "org_acme", "member", "id-bob"),
            ("Organization", "org_acme", "Admin", "id-bob"),
            ("Organization", "org_beta", "member", "id-ada"),
            ("Organization", "org_beta", "Viewer", "id-ada"),
        ]
    )
    assert tuples.users_not_in_ory == 0
    assert tuples.assignments_skipped == 0
    assert got[0].to_dict() == {
        "namespace": got[0].namespace,
        "object": got[0].object,
        "relation": got[0].relation,
        "subject_id": got[0].subject_id,
    }


def test_relation_tuples_skip_and_count_users_not_in_ory() -> None:
    """A user without an Ory identity gives no tuple; users and assignments skipped are counted."""
    tuples = relation_tuples(_data(), {CY: "id-cy"}.get)
    assert [t.subject_id for t in tuples] == ["id-cy"]
    assert tuples.users_not_in_ory == 2  # ada (2 roles, 1 org + 1 org role), bob (1 org + 1 role)
    assert tuples.assignments_skipped == 6


def test_relation_tuples_of_merged_users_are_not_repeated() -> None:
    """Two Auth0 users merged into one identity give each tuple once."""
    data = _data(role_members=[*ROLE_MEMBERS, {"role_id": "rol_viewer", "user_id": BOB}])
    tuples = list(relation_tuples(data, {ADA: "one", BOB: "one", CY: "cy"}.get))
    assert len(tuples) == len(set(tuples))
    assert RelationTuple("Role", "Viewer", "member", "one") in tuples


def test_relation_tuples_use_the_relation_names_of_the_namespace_file() -> None:
    """Organization roles use the sanitised relation names that permission_namespaces declares."""
    roles = [{**ROLES[0], "name": "Billing Admin"}]
    members = [{"organization_id": "org_acme", "user_id": BOB, "roles": [{"id": "rol_admin"}]}]
    data = _data(roles=roles, role_members=[], organization_members=members)
    assert data.problems == ()
    tuples = list(relation_tuples(data, lambda _: "id-bob"))
    assert RelationTuple("Organization", "org_acme", "Billing_Admin", "id-bob") in tuples
    assert RelationTuple("Role", "Billing Admin", "member", "id-bob") not in tuples
    assert "Billing_Admin: User[]" in permission_namespaces(data)


# The Ory Permission Language file

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KETO_KEYWORDS = {"class", "implements", "this", "ctx", "related", "permits", "metadata", "id"}


def _opl_classes(opl: str) -> dict[str, list[str]]:
    """Parse the OPL as Keto's parser does (classes, related: {name: T[]}): relations by class."""
    code = "\n".join(line.split("//", 1)[0] for line in opl.splitlines())
    code = code.lstrip()
    assert code.startswith("import {")
    code = code.split("\n", 1)[1]  # the import line
    classes: dict[str, list[str]] = {}
    for name, body in re.findall(
        r"class\s+(\w+)\s+implements\s+Namespace\s*(?:\{\}|\{(.*?)\n\})", code, re.S
    ):
        relations: list[str] = []
        related = re.search(r"related:\s*\{(.*?)\}", body, re.S)
        if related:
            for entry in related.group(1).split("\n"):
                if entry.strip():
                    relation, typ = (p.strip() for p in entry.split(":"))
                    assert _IDENT.match(relation), relation
                    assert relation not in _KETO_KEYWORDS, relation
                    assert typ == "User[]"
                    relations.append(relation)
        else:
            assert body.strip() == "", body
        classes[name] = relations
    rest = re.sub(
        r"class\s+(\w+)\s+implements\s+Namespace\s*(?:\{\}|\{(.*?)\n\})", "", code, flags=re.S
    )
    assert rest.strip() == "", rest
    return classes


def test_permission_namespaces_declare_role_and_organization() -> None:
    """The OPL file has User, Role (member) and Organization (member and one relation per role)."""
    opl = permission_namespaces(_data())
    classes = _opl_classes(opl)
    assert classes == {
        "User": [],
        "Role": ["member"],
        "Organization": ["member", "Admin", "Orphan", "Viewer"],
    }


def test_role_names_become_identifiers_collisions_and_keywords_handled_and_reported() -> None:
    """Names are sanitised; ones that collide or are keywords are renamed; comments say so."""
    names = ["Billing Admin", "Billing-Admin", "1st line", "member", "class", "Ünïcode", "!!!"]
    roles: list[dict[str, Any]] = [
        {"id": f"rol_{n}", "name": name, "description": None, "permissions": []}
        for n, name in enumerate(names)
    ]
    data = _data(roles=roles, role_members=[], organization_members=[])
    relations = role_relation_names(data)
    values = [relations[f"rol_{n}"] for n in range(len(names))]
    assert len(set(values)) == len(values)
    assert all(_IDENT.match(v) and v not in _KETO_KEYWORDS | {"member"} for v in values)
    assert values[0] == "Billing_Admin"
    assert values[1] == "Billing_Admin_2"
    assert values[5] == "Unicode"
    opl = permission_namespaces(data)
    classes = _opl_classes(opl)
    assert sorted(classes["Organization"][1:]) == sorted(values)
    assert '"Billing-Admin" (rol_1) is relation Billing_Admin_2' in opl


def test_role_names_cannot_break_out_of_a_comment() -> None:
    """A role name with a line break or comment closer stays inside its comment."""
    roles = [
        {"id": "rol_x", "name": "a\nclass Evil implements Namespace {}\u2028*/", "permissions": []}
    ]
    opl = permission_namespaces(_data(roles=roles, role_members=[], organization_members=[]))
    assert "Evil" not in _opl_classes(opl)
    assert "\u2028" not in opl


# Organizations plan


def _logins(*users: Auth0User) -> dict[str, Auth0User]:
    return {u.user_id: u for u in users}


def test_an_organization_whose_members_all_use_its_sso_maps() -> None:
    """Members signing in only through the organization's enterprise connection: it maps."""
    data = _data(organization_members=[ORG_MEMBERS[0]])
    plan = plan_organizations(data, _logins(_user(BOB, ("samlp", "acme|bob", "acme"))))
    assert isinstance(plan, OrganizationPlan)
    assert [m.organization.id for m in plan.mapped] == ["org_acme"]
    assert plan.mapped[0].members == (BOB,)
    assert plan.mapped[0].connections == (OrgConnection("con_saml", "acme", "samlp", True),)
    assert plan.organization_of(BOB) == "org_acme"
    assert plan.organization_of(ADA) is None
    # org_beta has only a database connection
    assert [(u.organization_id, u.reason) for u in plan.unmapped] == [
        ("org_beta", plan.unmapped[0].reason)
    ]
    assert "enterprise connection" in plan.unmapped[0].reason
    assert plan.members_unmapped == ()
    assert plan.to_dict()["mapped"][0]["id"] == "org_acme"


def test_an_organization_with_a_member_signing_in_otherwise_does_not_map() -> None:
    """A member with a password (or social login) besides the SSO keeps the org from mapping."""
    members = [
        ORG_MEMBERS[0],
        {"organization_id": "org_acme", "user_id": "samlp|acme|dee", "roles": []},
    ]
    data = _data(organization_members=members)
    users = _logins(
        _user(BOB, ("samlp", "acme|bob", "acme")),
        _user(
            "samlp|acme|dee",
            ("samlp", "acme|dee", "acme"),
            ("auth0", "dee", "Username-Password-Authentication"),
        ),
    )
    plan = plan_organizations(data, users)
    assert plan.mapped == ()
    acme = next(u for u in plan.unmapped if u.organization_id == "org_acme")
    assert "1 of its 2 members" in acme.reason
    by_user = {m.user_id: m.reason for m in plan.members_unmapped}
    assert "Username-Password-Authentication" in by_user["samlp|acme|dee"]
    assert "org_acme cannot become" in by_user[BOB]
    assert plan.organization_of(BOB) is None


def test_a_member_of_two_organizations_or_missing_from_the_users_does_not_map() -> None:
    """Membership in several organizations, or no user in the export, is a member's reason."""
    saml_b = {**ACME_SAML, "connection_id": "con_b", "name": "b-sso"}
    orgs = [ORGS[0], {**ORGS[1], "enabled_connections": [saml_b]}]
    members = [
        ORG_MEMBERS[0],
        {"organization_id": "org_beta", "user_id": BOB, "roles": []},
        {"organization_id": "org_beta", "user_id": "samlp|b-sso|gone", "roles": []},
    ]
    data = _data(organizations=orgs, organization_members=members)
    plan = plan_organizations(data, _logins(_user(BOB, ("samlp", "acme|bob", "acme"))))
    assert plan.mapped == ()
    reasons = {(m.organization_id, m.user_id): m.reason for m in plan.members_unmapped}
    assert "2 organizations" in reasons["org_acme", BOB]
    assert "not in the users export" in reasons["org_beta", "samlp|b-sso|gone"]


def test_plan_accepts_user_logins_records() -> None:
    """UserLogins (user id and connection names) is enough; from_user builds one."""
    bob = _user(BOB, ("samlp", "acme|bob", "acme"))
    assert UserLogins.from_user(bob) == UserLogins(BOB, ("acme",))
    data = _data(organization_members=[ORG_MEMBERS[0]])
    plan = plan_organizations(data, {BOB: UserLogins(BOB, ("acme",))})
    assert plan.organization_of(BOB) == "org_acme"


# Properties over generated graphs

_names = st.text(
    st.characters(
        codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\0"
    ),
    min_size=1,
    max_size=12,
).filter(str.strip)


@st.composite
def authz_graphs(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Realistic role and organization graphs: users in several orgs, orphan roles, org roles."""
    role_names = draw(st.lists(_names, min_size=0, max_size=8, unique=True))
    roles = [
        {
            "id": f"rol_{n}",
            "name": name,
            "description": None,
            "permissions": [
                {"resource_server_identifier": f"https://api{a}", "permission_name": p}
                for a, p in draw(
                    st.lists(st.tuples(st.integers(0, 2), _names), max_size=4, unique=True)
                )
            ],
        }
        for n, name in enumerate(role_names)
    ]
    users = [f"auth0|u{n}" for n in range(draw(st.integers(0, 12)))]
    role_ids = [r["id"] for r in roles]
    role_members = (
        [
            {"role_id": r, "user_id": u}
            for r, u in draw(
                st.lists(st.tuples(st.sampled_from(role_ids), st.sampled_from(users)), unique=True)
            )
        ]
        if roles and users
        else []
    )
    orgs: list[dict[str, Any]] = [
        {"id": f"org_{n}", "name": f"o{n}", "display_name": None, "enabled_connections": []}
        for n in range(draw(st.integers(0, 5)))
    ]
    org_members = []
    if orgs and users:
        for org_id, user in draw(
            st.lists(
                st.tuples(st.sampled_from([o["id"] for o in orgs]), st.sampled_from(users)),
                unique=True,
            )
        ):
            in_org = draw(st.lists(st.sampled_from(role_ids), unique=True)) if roles else []
            org_members.append(
                {"organization_id": org_id, "user_id": user, "roles": [{"id": r} for r in in_org]}
            )
    return {
        "roles": roles,
        "role_members": role_members,
        "organizations": orgs,
        "organization_members": org_members,
    }


def _assignments(graph: dict[str, list[dict[str, Any]]]) -> int:
    return (
        len(graph["role_members"])
        + len(graph["organization_members"])
        + sum(len(m["roles"]) for m in graph["organization_members"])
    )


@settings(max_examples=60, deadline=None)
@given(authz_graphs(), st.data())
def test_every_assignment_becomes_exactly_one_tuple_or_is_counted(
    graph: dict[str, list[dict[str, Any]]], pick: st.DataObject
) -> None:
    """Generated graphs: distinct tuples, one per assignment of a user in Ory; the rest counted."""
    data = _read(graph)
    assert data.problems == ()
    in_ory = {u: f"id-{u}" for u in data.users if pick.draw(st.booleans())}
    tuples = relation_tuples(data, in_ory.get)
    got = list(tuples)
    assert len(got) == len(set(got))
    assert len(got) + tuples.assignments_skipped == _assignments(graph)
    assert tuples.users_not_in_ory == len(set(data.users) - set(in_ory))
    relations = set(_opl_classes(permission_namespaces(data))["Organization"])
    assert {t.relation for t in got if t.namespace == "Organization"} <= relations


@settings(max_examples=60, deadline=None)
@given(authz_graphs())
def test_metadata_agrees_with_the_graph(graph: dict[str, list[dict[str, Any]]]) -> None:
    """Generated graphs: each user's metadata names exactly their roles and organizations."""
    data = _read(graph)
    names = {r["id"]: r["name"] for r in graph["roles"]}
    for user in data.users:
        meta = authz_metadata(data, user)
        assert meta is not None
        direct = {names[m["role_id"]] for m in graph["role_members"] if m["user_id"] == user}
        assert set(meta["roles"]) == direct
        orgs = {m["organization_id"] for m in graph["organization_members"] if m["user_id"] == user}
        assert {o["id"] for o in meta["organizations"]} == orgs
        json.dumps(meta)  # JSON-ready
    assert authz_metadata(data, "auth0|not-there") is None


def _iter(lines: Iterator[bytes]) -> Iterator[bytes]:
    yield from lines


def test_read_consumes_iterators_once() -> None:
    """Each file is read in one pass (generators work)."""
    data = read_authz(
        roles=_iter(iter(_lines(ROLES))),
        role_members=_iter(iter(_lines(ROLE_MEMBERS))),
        organizations=_iter(iter(_lines(ORGS))),
        organization_members=_iter(iter(_lines(ORG_MEMBERS))),
    )
    assert data.problems == ()
    assert data.user_roles(ADA) == ("rol_admin", "rol_viewer")
    assert isinstance(data.organizations["org_acme"], Auth0Organization)


@st.composite
def organization_graphs(draw: st.DrawFn) -> tuple[AuthzData, dict[str, UserLogins]]:
    """Organizations with SSO or database connections; members signing in one way or several."""
    sso = [f"sso{n}" for n in range(3)]
    orgs = []
    for n in range(draw(st.integers(1, 4))):
        names = draw(st.lists(st.sampled_from([*sso, "db"]), max_size=2, unique=True))
        orgs.append(
            {
                "id": f"org_{n}",
                "name": f"o{n}",
                "enabled_connections": [
                    {
                        "connection_id": f"con_{c}",
                        "name": c,
                        "strategy": "auth0" if c == "db" else "samlp",
                    }
                    for c in names
                ],
            }
        )
    users = [f"auth0|u{n}" for n in range(draw(st.integers(1, 8)))]
    members = draw(
        st.lists(
            st.tuples(st.sampled_from([o["id"] for o in orgs]), st.sampled_from(users)), unique=True
        )
    )
    logins = {
        u: UserLogins(
            u, tuple(draw(st.lists(st.sampled_from([*sso, "db"]), min_size=1, max_size=2)))
        )
        for u in users
        if draw(st.integers(0, 9))  # some members are not in the users export
    }
    data = read_authz(
        organizations=_lines(orgs),
        organization_members=_lines(
            {"organization_id": o, "user_id": u, "roles": []} for o, u in members
        ),
    )
    return data, logins


@settings(max_examples=80, deadline=None)
@given(organization_graphs())
def test_every_organization_and_member_is_mapped_or_reported(
    graph: tuple[AuthzData, dict[str, UserLogins]],
) -> None:
    """Generated graphs: each organization maps or is reported; a mapped member meets the rule."""
    data, logins = graph
    plan = plan_organizations(data, logins)
    mapped = [m.organization.id for m in plan.mapped]
    unmapped = [u.organization_id for u in plan.unmapped]
    assert sorted(mapped + unmapped) == sorted(data.organizations)
    reported = {(m.organization_id, m.user_id) for m in plan.members_unmapped}
    for user in data.users:
        for org_id, _ in data.user_organizations(user):
            if org_id in mapped:
                sso = {c.name for c in data.organizations[org_id].connections if c.is_enterprise}
                assert len(data.user_organizations(user)) == 1
                assert set(logins[user].connections) <= sso
                assert plan.organization_of(user) == org_id
            else:
                assert (org_id, user) in reported
                assert plan.organization_of(user) is None
