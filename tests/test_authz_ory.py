"""Landing roles and organizations in Ory: relationships (Ory Permissions) and organizations.

Everything goes over real HTTP through ory-client to the test servers: ``OryAdminServer``
serves Keto's relationship API, ``OryConsoleServer`` the console's organizations.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ory_client
import pytest

from auth0_ory_migrate import (
    AuthzResult,
    Ledger,
    OrganizationPlan,
    OryAdmin,
    OryConsole,
    OryError,
    OryPermissions,
    RelationTuple,
    assign_organization_members,
    create_organizations,
    land_relation_tuples,
    plan_organizations,
    read_authz,
    relation_tuples,
    undo_organizations,
    undo_relation_tuples,
    verify_relation_tuples,
)
from auth0_ory_migrate.exceptions import LedgerError, OryConsoleError
from auth0_ory_migrate.testing import OryAdminServer, OryConsoleServer
from auth0_ory_migrate.typing import OrganizationAdmin, RelationshipAdmin


KEY = "ory_pat_authz_secret_0123456789"
WORKSPACE_KEY = "ory_wak_authz_secret_987654321"
ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("no_backoff")  # no backoff waits in-process


@pytest.fixture
def keto(server: OryAdminServer) -> Iterator[OryPermissions]:
    with OryPermissions.from_url(server.url, KEY) as permissions:
        yield permissions


def identity(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def graph(users: int) -> list[RelationTuple]:
    """Four tuples a user: two roles, one organization membership and a role in it."""
    roles = [json.dumps({"id": f"rol_{r}", "name": f"role {r}"}) for r in range(50)]
    orgs = [json.dumps({"id": f"org_{o}", "name": f"org-{o}"}) for o in range(200)]
    role_members = [
        json.dumps({"role_id": f"rol_{(u + k) % 50}", "user_id": f"auth0|{u}"})
        for u in range(users)
        for k in (0, 7)
    ]
    org_members = [
        json.dumps(
            {
                "organization_id": f"org_{u % 200}",
                "user_id": f"auth0|{u}",
                "roles": [{"id": f"rol_{u % 50}", "name": f"role {u % 50}"}],
            }
        )
        for u in range(users)
    ]
    data = read_authz(roles, role_members, orgs, org_members)
    assert not data.problems
    return list(relation_tuples(data, lambda user: identity(int(user.split("|")[1]))))


def stored(server: OryAdminServer) -> list[tuple[str, str, str, str]]:
    return [
        (t["namespace"], t["object"], t["relation"], t.get("subject_id", ""))
        for t in server.relations.all()
    ]


def org_of(server: OryAdminServer, identity_id: str) -> str | None:
    found = server.identity(identity_id)
    assert found is not None
    return found.organization_id


def keys(tuples: list[RelationTuple]) -> list[tuple[str, str, str, str]]:
    return [(t.namespace, t.object, t.relation, t.subject_id) for t in tuples]


def patched_items(server: OryAdminServer) -> int:
    return sum(
        r.items
        for r in server.requests
        if r.method == "PATCH" and r.path == "/admin/relation-tuples" and r.status == 204
    )


def sigkill_when(
    command: list[str], env: dict[str, str], reached: Callable[[], bool], *, within: float
) -> bytes:
    """Run *command*, SIGKILL it once *reached* (it must get there in *within* s); its stderr."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + within
    while proc.poll() is None and not reached():
        assert time.monotonic() < deadline, "the landing did not progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    return err


# -- the twin and the adapter -------------------------------------------------------------------


def test_adapters_are_the_runtimes_protocols(keto: OryPermissions) -> None:
    """OryPermissions and OryConsole are what the runtime takes."""
    assert isinstance(keto, RelationshipAdmin)
    with OryConsole.connect(WORKSPACE_KEY, url="http://127.0.0.1:1") as console:
        assert isinstance(console, OrganizationAdmin)


def test_patch_is_idempotent_and_list_pages_by_token(
    server: OryAdminServer, keto: OryPermissions
) -> None:
    """Insert twice stores once; GET /relation-tuples pages with tokens and filters."""
    tuples = [RelationTuple("Role", f"r{n % 3}", "member", identity(n)) for n in range(7)]
    keto.patch(tuples)
    keto.patch(tuples[:3])
    assert len(server.relations) == 7
    page, token = keto.list("Role", page_size=3)
    assert len(page) == 3
    assert token is not None
    rest: list[RelationTuple] = []
    while token is not None:
        more, token = keto.list("Role", token, page_size=3)
        rest.extend(more)
    assert sorted(keys(page + rest)) == sorted(keys(tuples))
    only, last = keto.list("Role", object="r1")
    assert last is None
    assert {t.object for t in only} == {"r1"}
    assert len(only) == 2
    keto.patch(tuples[:2], "delete")
    keto.patch(tuples[:2], "delete")  # deleting what is gone is no error
    assert len(server.relations) == 5
    assert list(keto.iter_all("Organization")) == []


def test_a_bad_tuple_fails_the_whole_patch_and_an_unknown_namespace_is_404(
    server: OryAdminServer,
) -> None:
    """Keto's answers: 400 for a tuple without subject, 404 for an unknown namespace; atomic."""
    with (
        OryAdminServer(api_key=KEY, namespaces=["Role"]) as strict,
        OryPermissions.from_url(strict.url, KEY) as keto,
    ):
        strict.faults.echo_request = True  # the error texts quote the request
        good = RelationTuple("Role", "admin", "member", identity(1))
        good_model = ory_client.Relationship(
            namespace="Role", object="admin", relation="member", subject_id=identity(1)
        )
        with pytest.raises(OryError) as raised:
            keto.patch([good, RelationTuple("Organization", "org_1", "member", identity(1))])
        assert raised.value.status == 404
        assert "Unknown namespace" in raised.value.reason
        assert KEY not in str(raised.value)
        assert len(strict.relations) == 0  # nothing of the request applied
        api = ory_client.RelationshipApi(keto.api_client)
        no_subject = ory_client.Relationship(namespace="Role", object="admin", relation="member")
        with pytest.raises(ory_client.ApiException) as refused:
            api.patch_relationships(
                [
                    ory_client.RelationshipPatch(action="insert", relation_tuple=good_model),
                    ory_client.RelationshipPatch(action="insert", relation_tuple=no_subject),
                ]
            )
        assert refused.value.status == 400
        assert "subject is not allowed to be nil" in str(refused.value.body)
        assert len(strict.relations) == 0
        # Keto looks a query's namespace up too (FromQuery in uuid_mapping.go): 404 as well.
        with pytest.raises(OryError) as listed:
            keto.list("Organization", page_size=1)
        assert listed.value.status == 404


def test_relationship_writes_count_in_ketos_rate_limit_bucket(
    server: OryAdminServer, keto: OryPermissions
) -> None:
    """PATCH counts in keto-admin-low (429 with x-ratelimit-* over it); reads in their own."""
    server.faults.rate_limits = {"keto-admin-low": 2}
    server.faults.retry_after = True
    tuple_ = RelationTuple("Role", "admin", "member", identity(1))
    keto.patch([tuple_])
    keto.patch([tuple_])
    with pytest.raises(OryError) as raised:
        keto.patch([tuple_])
    assert raised.value.status == 429
    assert raised.value.headers["x-ratelimit-limit"] == "2"
    assert int(raised.value.headers["retry-after"]) >= 1
    assert keto.list("Role")[0] == [tuple_]  # keto-admin-medium: not limited


def test_a_refused_api_key_is_an_ory_error_without_the_key(server: OryAdminServer) -> None:
    """401 becomes OryError at the boundary; the key appears nowhere."""
    wrong = "ory_pat_wrong_key_00000000000000"
    with OryPermissions.from_url(server.url, wrong) as keto, pytest.raises(OryError) as raised:
        keto.list("Role")
    assert raised.value.status == 401
    assert wrong not in str(raised.value)
    assert wrong not in repr(keto)


# -- landing exactly once -----------------------------------------------------------------------


def test_ten_thousand_tuples_land_exactly_once_under_429s(
    server: OryAdminServer, keto: OryPermissions, tmp_path: Path
) -> None:
    """Every tuple is sent in exactly one answered request, with every 7th request a 429."""
    tuples = graph(2500)
    assert len(tuples) == 10_000
    server.faults.rate_limit_every = 7
    server.faults.retry_after = True
    server.faults.rate_limit_reset_after = 0.0
    result = land_relation_tuples(tuples, keto, state_dir=tmp_path / "state", chunk_size=40)
    assert result.sent == 10_000
    assert result.already == result.existing == result.resent == 0
    assert sorted(stored(server)) == sorted(keys(tuples))
    assert patched_items(server) == 10_000  # no tuple in two answered requests
    limited = sum(r.status == 429 for r in server.requests)
    assert limited > 0
    assert result.requests == 250 + sum(
        r.status == 429 for r in server.requests if r.method == "PATCH"
    )
    ledger = tmp_path / "state" / "authz.ndjson"
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
    assert KEY not in ledger.read_text()
    server.requests.clear()
    again = land_relation_tuples(tuples, keto, state_dir=tmp_path / "state")
    assert again == AuthzResult(already=10_000)
    assert server.requests == []  # nothing sent, nothing read


def test_tuples_ory_held_before_are_not_sent_and_not_undone(
    server: OryAdminServer, keto: OryPermissions, tmp_path: Path
) -> None:
    """Undo removes exactly the tuples this tool made: a foreign and a pre-existing one stay."""
    tuples = graph(20)
    foreign = RelationTuple("Role", "auditor", "member", "someone-else")
    keto.patch([foreign, tuples[5]])  # tuples[5] was there before the migration
    result = land_relation_tuples(tuples, keto, state_dir=tmp_path, chunk_size=7)
    assert result.existing == 1
    assert result.sent == len(tuples) - 1
    assert patched_items(server) == 2 + len(tuples) - 1
    undone = undo_relation_tuples(keto, state_dir=tmp_path, chunk_size=7)
    assert undone.sent == len(tuples) - 1
    assert sorted(stored(server)) == sorted(keys([foreign, tuples[5]]))
    server.requests.clear()
    assert undo_relation_tuples(keto, state_dir=tmp_path).sent == 0  # nothing left to undo
    assert server.requests == []


def test_verify_finds_a_missing_and_an_extra_tuple(
    server: OryAdminServer, keto: OryPermissions, tmp_path: Path
) -> None:
    """Reconcile: a tuple deleted behind our back is missing, one about our identity is extra."""
    tuples = graph(30)
    land_relation_tuples(tuples, keto, state_dir=tmp_path)
    assert verify_relation_tuples(tuples, keto).ok
    extra = RelationTuple("Role", "role 49", "member", identity(3))
    keto.patch([tuples[10]], "delete")
    keto.patch([extra, RelationTuple("Role", "role 1", "member", "not-ours")])
    check = verify_relation_tuples(tuples, keto)
    assert not check.ok
    assert check.missing == (tuples[10],)
    assert check.extra == (extra,)
    assert check.present == len(tuples) - 1
    assert len(verify_relation_tuples(tuples, keto, every_subject=True).extra) == 2
    assert check.to_dict()["missing"] == [str(tuples[10])]


def test_the_state_directory_rules_hold_for_the_authz_ledger(
    server: OryAdminServer, keto: OryPermissions, tmp_path: Path
) -> None:
    """A symlinked authz.ndjson is refused; the directory's lock is shared with the import."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "authz.ndjson").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(LedgerError, match="symbolic link"):
        land_relation_tuples(graph(1), keto, state_dir=state)
    assert not (tmp_path / "elsewhere").exists()
    assert len(server.relations) == 0


def test_the_runs_open_ledger_is_taken_and_its_directory_lock_respected(
    server: OryAdminServer, keto: OryPermissions, tmp_path: Path
) -> None:
    """Given the import's open Ledger, tuples land beside it; given its path, it is in use."""
    tuples = graph(3)
    with Ledger.open(tmp_path, input_digest="0" * 64) as ledger:
        with pytest.raises(LedgerError, match="in use"):
            land_relation_tuples(tuples, keto, state_dir=tmp_path)
        assert len(server.relations) == 0
        assert land_relation_tuples(tuples, keto, state_dir=ledger).sent == len(tuples)
    assert (tmp_path / "ledger.ndjson").exists()
    assert land_relation_tuples(tuples, keto, state_dir=tmp_path).already == len(tuples)


_CHILD = textwrap.dedent(
    """
    import json, sys
    import stamina
    from auth0_ory_migrate import OryPermissions, RelationTuple, land_relation_tuples

    stamina.set_testing(True, attempts=10)  # the 429s' waits are not what is tested here

    url, key, state, tuples_file = sys.argv[1:5]
    tuples = [RelationTuple(*t) for t in json.load(open(tuples_file))]
    with OryPermissions.from_url(url, key) as ory:
        result = land_relation_tuples(tuples, ory, state_dir=state, chunk_size=40)
    print(json.dumps(result.to_dict()))
    """
)


def test_sigkill_mid_landing_then_rerun_lands_every_tuple_once(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """Killed mid-run, run again: every tuple in Ory once, at most one chunk sent twice."""
    tuples = graph(2500)
    data = tmp_path / "tuples.json"
    data.write_text(json.dumps(keys(tuples)))
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    state = tmp_path / "state"
    command = [sys.executable, str(script), server.url, KEY, str(state), str(data)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server.faults.latency = 0.01
    err = sigkill_when(command, env, lambda: patched_items(server) >= 2000, within=60)
    first = patched_items(server)
    assert 2000 <= first < 10_000
    server.faults.latency = 0.0
    server.faults.rate_limit_every = 5
    rerun = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["already"] + summary["sent"] == 10_000  # the in-doubt chunk among "sent"
    assert summary["resent"] <= 40
    assert sorted(stored(server)) == sorted(keys(tuples))  # every tuple, once
    assert patched_items(server) <= 10_000 + 40  # at most the chunk in flight went twice
    patches = [r for r in server.requests if r.method == "PATCH" and r.status == 204]
    assert len(patches) <= 250 + 1
    assert KEY not in rerun.stdout + rerun.stderr + err.decode()


# -- organizations ------------------------------------------------------------------------------

SSO = {"connection_id": "con_1", "name": "acme-saml", "strategy": "samlp"}


def org_plan() -> OrganizationPlan:
    from auth0_ory_migrate import UserLogins

    orgs = [
        json.dumps(
            {
                "id": "org_a",
                "name": "acme",
                "display_name": "Acme",
                "domains": ["acme.test"],
                "enabled_connections": [SSO],
            }
        ),
        json.dumps(
            {
                "id": "org_b",
                "name": "beta",
                "domains": ["beta.test"],
                "enabled_connections": [
                    {**SSO, "connection_id": "con_2", "name": "beta-oidc", "strategy": "oidc"}
                ],
            }
        ),
        json.dumps({"id": "org_c", "name": "gamma", "enabled_connections": []}),
    ]
    members = [
        json.dumps({"organization_id": "org_a", "user_id": f"samlp|acme-saml|{n}", "roles": []})
        for n in range(3)
    ] + [
        json.dumps({"organization_id": "org_b", "user_id": "oidc|beta-oidc|9", "roles": []}),
        json.dumps({"organization_id": "org_c", "user_id": "auth0|1", "roles": []}),
    ]
    data = read_authz(None, None, orgs, members)
    logins = {
        **{
            f"samlp|acme-saml|{n}": UserLogins(f"samlp|acme-saml|{n}", ("acme-saml",))
            for n in range(3)
        },
        "oidc|beta-oidc|9": UserLogins("oidc|beta-oidc|9", ("beta-oidc",)),
        "auth0|1": UserLogins("auth0|1", ("Username-Password-Authentication",)),
    }
    return plan_organizations(data, logins)


@pytest.fixture
def console_server() -> Iterator[OryConsoleServer]:
    with OryConsoleServer(api_key=WORKSPACE_KEY) as console:
        yield console


def test_organizations_are_created_once_members_joined_and_undone(
    server: OryAdminServer, console_server: OryConsoleServer, tmp_path: Path
) -> None:
    """Mapped organizations created with their domains, members' organization_id set; undo."""
    plan = org_plan()
    assert [m.organization.id for m in plan.mapped] == ["org_a", "org_b"]
    project = console_server.add_project()
    with (
        OryAdmin.from_url(server.url, KEY) as ory,
        OryConsole.connect(WORKSPACE_KEY, url=console_server.url) as console,
    ):
        ids = {
            user: server.add_identity(
                {
                    "schema_id": "preset://email",
                    "traits": {"email": f"{user.replace('|', '.')}@x.test"},
                    "external_id": user,
                }
            ).id
            for user in ("samlp|acme-saml|0", "samlp|acme-saml|1", "oidc|beta-oidc|9")
        }
        made = create_organizations(plan, console, project, state_dir=tmp_path)
        assert made.created == 2
        orgs = console_server.organizations(project)
        assert [(o["label"], o["domains"]) for o in orgs] == [
            ("Acme", ["acme.test"]),
            ("beta", ["beta.test"]),
        ]
        assert made.organizations == {"org_a": orgs[0]["id"], "org_b": orgs[1]["id"]}
        joined = assign_organization_members(
            plan, made.organizations, ory, ids.get, state_dir=tmp_path
        )
        assert (joined.members, joined.not_in_ory) == (3, 1)  # samlp|acme-saml|2 is not in Ory
        for user, identity_id in ids.items():
            want = made.organizations["org_b" if "beta" in user else "org_a"]
            assert org_of(server, identity_id) == want
        again = create_organizations(plan, console, project, state_dir=tmp_path)
        assert (again.created, again.already) == (0, 2)
        assert again.organizations == made.organizations
        rejoined = assign_organization_members(
            plan, made.organizations, ory, ids.get, state_dir=tmp_path
        )
        assert (rejoined.members, rejoined.already) == (0, 3)
        undone = undo_organizations(console, project, ory, state_dir=tmp_path)
        assert (undone.created, undone.members) == (2, 3)
        assert console_server.organizations(project) == []
        assert all(org_of(server, i) is None for i in ids.values())
    ledger = (tmp_path / "authz.ndjson").read_text()
    assert WORKSPACE_KEY not in ledger
    assert KEY not in ledger


def test_a_domain_of_another_organization_is_a_409(
    console_server: OryConsoleServer, tmp_path: Path
) -> None:
    """The console twin refuses a taken domain (409); the error carries no key."""
    project = console_server.add_project()
    with OryConsole.connect(WORKSPACE_KEY, url=console_server.url) as console:
        console.create_organization(project, "Acme", ["acme.test"])
        with pytest.raises(OryConsoleError) as raised:
            create_organizations(org_plan(), console, project, state_dir=tmp_path)
        assert raised.value.status == 409
        assert WORKSPACE_KEY not in str(raised.value)
        assert [o["label"] for o in console_server.organizations(project)] == ["Acme"]
        assert len(console.list_organizations(project)) == 1
