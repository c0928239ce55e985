"""`import --dry-run` checks the bodies' schema ids and traits against the Ory project's schemas."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_client
import pytest
from click.testing import CliRunner, Result
from ory_client.exceptions import NotFoundException

from auth0_ory_migrate import OryAdmin, RetryPolicy, UnknownSchema, check_identities
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import InMemoryOryAdmin, OryAdminServer


KEY = "ory_pat_dry_run_schemas_0123456789"
BCRYPT = "$2b$10$0nfDrwOT.zJxjGWJfOhkxuaXk.OResX5NSyIrYnT5bstE7rgvTngq"
FAST = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.001)

#: A project schema that differs from what `convert` assumed: a required username.
CUSTOMER: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "username": {"type": "string", "minLength": 3},
            },
            "required": ["email", "username"],
            "additionalProperties": False,
        }
    },
}


@pytest.fixture
def server() -> Iterator[OryAdminServer]:
    with OryAdminServer(api_key=KEY, schemas={"customer/v1": CUSTOMER}) as s:
        yield s


@pytest.fixture
def ory(server: OryAdminServer) -> Iterator[OryAdmin]:
    with OryAdmin.from_url(server.url, KEY, request_timeout=10.0) as admin:
        yield admin


def body(n: int, schema_id: str = "preset://email", **traits: Any) -> dict[str, Any]:
    email = f"user{n}@example.com"
    return {
        "schema_id": schema_id,
        "external_id": f"auth0|{n:06d}",
        "traits": {"email": email, **traits},
        "verifiable_addresses": [
            {"value": email, "verified": True, "via": "email", "status": "completed"}
        ],
        "recovery_addresses": [{"value": email, "via": "email"}],
        "credentials": {"password": {"config": {"hashed_password": BCRYPT}}},
    }


def schema_gets(server: OryAdminServer) -> list[str]:
    return [r.path for r in server.requests if r.path.startswith("/schemas/")]


# -- the test server's GET /schemas/{id}, through the SDK ------------------------------------


def test_server_serves_a_schema_by_raw_and_base64url_id(server: OryAdminServer) -> None:
    """GET /schemas/{id} answers the schema for the id as given or base64url-encoded (Kratos)."""
    api = ory_client.IdentityApi(ory_client.ApiClient(ory_client.Configuration(host=server.url)))
    assert api.get_identity_schema("customer/v1") == CUSTOMER
    encoded = base64.urlsafe_b64encode(b"preset://email").decode().rstrip("=")
    preset = api.get_identity_schema(encoded)
    assert isinstance(preset, dict)
    assert preset["properties"]["traits"]["properties"]["email"]["format"] == "email"


def test_server_answers_404_with_orys_error_for_an_unknown_schema(server: OryAdminServer) -> None:
    """An unknown schema id is a 404 with Ory's error body and Kratos's reason."""
    api = ory_client.IdentityApi(ory_client.ApiClient(ory_client.Configuration(host=server.url)))
    with pytest.raises(NotFoundException) as caught:
        api.get_identity_schema("nope")
    error = json.loads(caught.value.body or "{}")["error"]
    assert error["code"] == 404
    assert error["reason"] == "Identity schema `nope` could not be found."


def test_server_serves_a_bare_traits_schema_as_an_identity_schema() -> None:
    """A bare traits schema is served as Ory serves schemas: with properties.traits."""
    traits = CUSTOMER["properties"]["traits"]
    with OryAdminServer(schemas={"bare": traits}) as s:
        api = ory_client.IdentityApi(ory_client.ApiClient(ory_client.Configuration(host=s.url)))
        served = api.get_identity_schema("bare")
    assert isinstance(served, dict)
    assert served["properties"]["traits"] == traits


# -- the adapters ---------------------------------------------------------------------------


def test_ory_admin_fetches_a_schema_or_none(ory: OryAdmin, server: OryAdminServer) -> None:
    """OryAdmin.identity_schema: the schema Ory serves, None for an unknown id."""
    assert ory.identity_schema("customer/v1") == CUSTOMER
    preset = ory.identity_schema("preset://email")
    assert preset is not None
    assert "email" in preset["properties"]["traits"]["properties"]
    assert ory.identity_schema("customer/v2") is None
    assert len(schema_gets(server)) == 3


def test_in_memory_admin_answers_schemas_as_the_server() -> None:
    """InMemoryOryAdmin.identity_schema answers as the server, and records the GET."""
    memory = InMemoryOryAdmin(schemas={"customer/v1": CUSTOMER})
    assert memory.identity_schema("customer/v1") == CUSTOMER
    assert memory.identity_schema("customer/v2") is None
    assert [(r.method, r.status) for r in memory.requests] == [("GET", 200), ("GET", 404)]


# -- check_identities -----------------------------------------------------------------------


def test_check_reports_an_unknown_schema_id_with_its_users(
    ory: OryAdmin, server: OryAdminServer
) -> None:
    """Bodies whose schema id the project lacks are not valid; the id and its users are named."""
    wanted = [body(i) for i in range(3)] + [body(i, "customer/v2") for i in range(3, 10)]
    result = check_identities(wanted, ory, retry=FAST)
    assert result.valid == 3
    assert result.invalid == ()
    assert not result.ok
    [unknown] = result.unknown_schemas
    assert isinstance(unknown, UnknownSchema)
    assert (unknown.schema_id, unknown.users) == ("customer/v2", 7)
    assert unknown.examples[0] == "auth0|000003"
    assert len(schema_gets(server)) == 2  # once per schema id


def test_check_validates_traits_against_the_schema_ory_serves(
    ory: OryAdmin, server: OryAdminServer
) -> None:
    """Traits are checked against the project's schema (not convert's), each schema fetched once."""
    wanted = [body(0, "customer/v1", username="ada"), body(1, "customer/v1")]
    wanted += [body(2, "customer/v1", username="al"), body(3, "customer/v1", username="bob")]
    result = check_identities(wanted, ory, batch_size=10, retry=FAST)
    assert (result.valid, result.requests) == (2, 1)
    reasons = {o.external_id: o.reason for o in result.invalid}
    assert set(reasons) == {"auth0|000001", "auth0|000002"}
    assert "traits.username: is required" in (reasons["auth0|000001"] or "")
    assert "customer/v1" in (reasons["auth0|000001"] or "")
    assert "traits.username: is shorter than 3 characters" in (reasons["auth0|000002"] or "")
    assert "user1@example.com" not in repr(result)
    assert schema_gets(server) == [schema_gets(server)[0]]


def test_check_without_count_existing_asks_ory_nothing(
    ory: OryAdmin, server: OryAdminServer
) -> None:
    """count_existing=False: no schema is fetched, as no identity is listed."""
    result = check_identities([body(1, "customer/v2")], ory, count_existing=False)
    assert (result.valid, result.unknown_schemas) == (1, ())
    assert server.requests == []


def test_check_in_memory_names_unknown_schemas_and_bad_traits() -> None:
    """The same findings with InMemoryOryAdmin, no socket."""
    memory = InMemoryOryAdmin(schemas={"customer/v1": CUSTOMER})
    wanted = [body(0, "customer/v1", username="ada"), body(1, "customer/v1"), body(2, "x")]
    result = check_identities(wanted, memory, retry=FAST)
    assert result.valid == 1
    assert [o.external_id for o in result.invalid] == ["auth0|000001"]
    assert "traits.username: is required" in (result.invalid[0].reason or "")
    assert [(u.schema_id, u.users, u.examples) for u in result.unknown_schemas] == [
        ("x", 1, ("auth0|000002",))
    ]


# -- the CLI --------------------------------------------------------------------------------


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"ORY_API_KEY": KEY})


def write(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(b) + "\n" for b in items))
    return path


def test_cli_dry_run_with_an_unknown_schema_for_everyone_exits_2(
    server: OryAdminServer, in_tmp_path: Path
) -> None:
    """The issue's case: 17 bodies with an unknown schema id, once '17 valid' and exit 0."""
    ids = write(in_tmp_path / "ids.ndjson", [body(i, "customer/v2") for i in range(17)])
    result = cli("import", "--identities", str(ids), "--ory-url", server.url, "--dry-run")
    assert result.exit_code == 2, result.output
    assert "17 identities valid" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "customer/v2" in lines[0]
    assert "17 users" in lines[0]
    assert "Traceback" not in result.output
    assert KEY not in result.output


def test_cli_dry_run_names_unknown_schemas_and_traits_problems(
    server: OryAdminServer, in_tmp_path: Path
) -> None:
    """Some bodies fail: exit 1, the unknown id with its user count, and the offending users."""
    items = [body(0), body(1, "customer/v1"), body(2, "customer/v2"), body(3, "customer/v2")]
    ids = write(in_tmp_path / "ids.ndjson", items)
    result = cli("import", "--identities", str(ids), "--ory-url", server.url, "--dry-run")
    assert result.exit_code == 1, result.output
    assert "dry run: 1 identities valid, 1 invalid" in result.output
    assert "unknown schema id 'customer/v2' (not in the Ory project): 2 users" in result.output
    assert "auth0|000002" in result.output
    assert "invalid: auth0|000001: traits.username: is required" in result.output
    assert all(r.method == "GET" for r in server.requests)


def test_check_reports_a_schema_it_cannot_use_and_checks_its_bodies_client_side() -> None:
    """A served schema the validator cannot use is reported; its bodies stay valid."""
    odd = {"type": "object", "properties": {"traits": {"type": "object", "minProperties": "2"}}}
    with (
        OryAdminServer(api_key=KEY, schemas={"odd": odd}) as s,
        OryAdmin.from_url(s.url, KEY, request_timeout=10.0) as ory,
    ):
        result = check_identities([body(1, "odd"), body(2, "odd")], ory, retry=FAST)
    assert (result.valid, result.invalid, result.unknown_schemas) == (2, (), ())
    [error] = result.schema_errors
    assert error.startswith("schema 'odd': cannot check traits against it: invalid JSON schema")
    assert KEY not in error
