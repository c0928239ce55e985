"""Auth0 as an upstream OIDC provider of Ory in a dual run: the provider entry and its command."""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import _jsonnet
import jsonschema
import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import (
    AUTH0_UPSTREAM_MAPPER,
    auth0_upstream_mapper,
    auth0_upstream_provider,
    build_identity_schema,
    ory_patch_oidc_provider_command,
    suggest_identity_schema,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.exceptions import ConfigurationError
from auth0_ory_migrate.testing import OryConsoleServer


HERE = Path(__file__).resolve().parent
#: The provider item of Kratos's configuration schema (its source commit is in the file).
PROVIDER_SCHEMA = json.loads((HERE / "kratos_oidc_provider.schema.json").read_text("utf-8"))
API_KEY = "ory_wak_upstream_test_key"


def _provider(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("provider_id", "auth0-upstream")
    kwargs.setdefault("domain", "acme.eu.auth0.com")
    return auth0_upstream_provider(**kwargs)


def _mapper_source(provider: Mapping[str, Any]) -> str:
    url = provider["mapper_url"]
    assert url.startswith("base64://")
    return base64.b64decode(url.removeprefix("base64://")).decode("utf-8")


def _map(source: str, claims: Mapping[str, Any]) -> Any:
    """Run a mapper as Kratos does: the claims (``omitempty``) as the ext code ``claims``."""
    out = _jsonnet.evaluate_snippet(
        "mapper.jsonnet",
        source,
        ext_codes={
            "claims": json.dumps(claims),
            "identity": '{"traits": {}, "metadata_public": {}, "metadata_admin": {}}',
        },
    )
    return json.loads(out)


# --- the provider entry --------------------------------------------------------------------------


def test_the_entry_validates_against_kratos_provider_schema() -> None:
    """The entry has every field Kratos's configuration schema requires of an auth0 provider."""
    entry = _provider()
    jsonschema.Draft7Validator(PROVIDER_SCHEMA).validate(entry)
    required = set(PROVIDER_SCHEMA["definitions"]["selfServiceOIDCProvider"]["required"])
    assert required <= set(entry)
    assert entry["provider"] == "auth0"
    assert entry["id"] == "auth0-upstream"


def test_the_entry_names_the_tenant_and_no_secret() -> None:
    """The issuer is the tenant's https URL; the client secret is a placeholder, never a value."""
    entry = _provider(client_id="AbCdEf123")
    assert entry["issuer_url"] == "https://acme.eu.auth0.com/"
    assert entry["client_id"] == "AbCdEf123"
    assert entry["client_secret"] == "<AUTH0_CLIENT_SECRET>"
    assert _provider()["client_id"] == "<AUTH0_CLIENT_ID>"
    assert entry["scope"][:3] == ["openid", "profile", "email"]


@pytest.mark.parametrize(
    "domain",
    [
        "acme.eu.auth0.com",
        "https://acme.eu.auth0.com",
        "https://acme.eu.auth0.com/",
        " ACME.eu.auth0.com ",
        "login.example.com",
    ],
)
def test_a_domain_or_its_https_url_gives_the_issuer(domain: str) -> None:
    """A tenant or custom domain, bare or as an https URL, gives ``https://HOST/``."""
    host = domain.strip().lower().removeprefix("https://").rstrip("/")
    assert _provider(domain=domain)["issuer_url"] == f"https://{host}/"


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "http://acme.eu.auth0.com",
        "https://acme.eu.auth0.com/authorize",
        "acme eu.auth0.com",
        "acme.eu.auth0.com'",
        "https://user:pw@acme.eu.auth0.com",
        "localhost",
        "ftp://acme.eu.auth0.com",
    ],
)
def test_a_bad_domain_is_a_configuration_error(domain: str) -> None:
    """Anything but a host name (or its https URL) is refused, naming the option."""
    with pytest.raises(ConfigurationError, match="domain") as info:
        _provider(domain=domain)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "provider_id", ["", "auth0 upstream", "auth0/upstream", "auth0:x", "-auth0", "auth0?x", "é"]
)
def test_a_bad_provider_id_is_a_configuration_error(provider_id: str) -> None:
    """A provider id must be one path segment of Ory's callback URL: letters, digits, . _ -."""
    with pytest.raises(ConfigurationError, match="--auth0-upstream"):
        _provider(provider_id=provider_id)


def test_a_good_provider_id_is_kept() -> None:
    """Ory's own example ids are accepted as they are."""
    for provider_id in ("auth0", "auth0-legacy", "Auth0_upstream.v2", "ory-GPx1yPH4"):
        assert _provider(provider_id=provider_id)["id"] == provider_id


def test_an_empty_client_id_or_unknown_trait_is_a_configuration_error() -> None:
    """The client id cannot be blank; a trait the mapper does not know is refused."""
    with pytest.raises(ConfigurationError, match="client id"):
        _provider(client_id=" ")
    with pytest.raises(ConfigurationError, match="trait"):
        _provider(traits=("email", "shoe_size"))


def test_the_phone_trait_asks_for_the_phone_scope() -> None:
    """Auth0 sends phone_number only for the ``phone`` scope."""
    assert "phone" not in _provider()["scope"]
    assert "phone" in _provider(traits=("email", "phone"))["scope"]


# --- the mapper ----------------------------------------------------------------------------------


def test_the_default_mapper_is_the_constant_and_the_entry_carries_it() -> None:
    """The default entry's mapper is AUTH0_UPSTREAM_MAPPER, base64-encoded."""
    assert auth0_upstream_mapper() == AUTH0_UPSTREAM_MAPPER
    assert _mapper_source(_provider()) == AUTH0_UPSTREAM_MAPPER
    assert "std.extVar('claims')" in AUTH0_UPSTREAM_MAPPER


def test_the_mapper_keeps_a_verified_email_only() -> None:
    """An email Auth0 has not verified never becomes a trait (Ory's advice)."""
    verified = {"sub": "auth0|1", "email": "ada@example.com", "email_verified": True}
    assert _map(AUTH0_UPSTREAM_MAPPER, verified) == {
        "identity": {"traits": {"email": "ada@example.com"}}
    }
    unverified = {"sub": "auth0|1", "email": "ada@example.com"}  # false is left out (omitempty)
    assert _map(AUTH0_UPSTREAM_MAPPER, unverified) == {"identity": {"traits": {}}}
    assert _map(AUTH0_UPSTREAM_MAPPER, {"sub": "sms|1"}) == {"identity": {"traits": {}}}


def test_the_mapper_fills_each_trait_of_the_schema_and_no_other() -> None:
    """Every trait of the schema is mapped from its claim; traits not in the schema are not."""
    claims = {
        "sub": "auth0|1",
        "email": "ada@example.com",
        "email_verified": True,
        "phone_number": "+442071234567",
        "phone_number_verified": True,
        "preferred_username": "ada",
        "nickname": "ada.l",
        "given_name": "Ada",
        "family_name": "Lovelace",
    }
    every = auth0_upstream_mapper(("email", "username", "phone", "name"))
    traits = _map(every, claims)["identity"]["traits"]
    assert traits == {
        "email": "ada@example.com",
        "username": "ada",
        "phone": "+442071234567",
        "name": {"first": "Ada", "last": "Lovelace"},
    }
    schema = build_identity_schema(["email", "username", "phone", "name"])
    jsonschema.validate({"traits": traits}, schema)
    only_name = _map(auth0_upstream_mapper(("email", "name")), {"sub": "x", "given_name": "Ada"})
    assert only_name == {"identity": {"traits": {"name": {"first": "Ada"}}}}
    unverified_phone = {"sub": "sms|1", "phone_number": "+442071234567"}
    assert _map(every, unverified_phone) == {"identity": {"traits": {}}}


# --- the command ---------------------------------------------------------------------------------


def _args(line: str) -> list[str]:
    return shlex.split(line.replace("\\\n", " "))


def test_the_command_adds_the_provider_and_enables_oidc() -> None:
    """The command appends the entry to the providers and turns the OIDC method on."""
    entry = _provider()
    args = _args(ory_patch_oidc_provider_command("proj-123", entry))
    assert args[:4] == ["ory", "patch", "identity-config", "proj-123"]
    added = [args[i + 1] for i, a in enumerate(args) if a == "--add"]
    assert "/selfservice/methods/oidc/enabled=true" in added
    provider_add = next(a for a in added if a.startswith("/selfservice/methods/oidc/config/"))
    path, _, value = provider_add.partition("=")
    assert path == "/selfservice/methods/oidc/config/providers/-"
    assert json.loads(value) == entry


def test_the_command_quotes_a_hostile_project_id() -> None:
    """A project id with shell characters stays one argument."""
    args = _args(ory_patch_oidc_provider_command("a'b; rm -rf ~", _provider()))
    assert args[3] == "a'b; rm -rf ~"


# --- the command line ----------------------------------------------------------------------------


def _run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    base: dict[str, str | None] = {"AUTH0_DOMAIN": None, "ORY_PROJECT_ID": None}
    base.update(env or {})
    return CliRunner(env=base).invoke(main, ["schema", *args])


def _commands(stdout: str) -> list[list[str]]:
    """The commands a stdout holds (one per ``ory`` line, continuation lines joined)."""
    text = stdout.replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.startswith("ory ")]


def test_cli_upstream_prints_both_commands_and_the_mapper() -> None:
    """`schema command --auth0-upstream` prints the schema command, then the provider's."""
    result = _run(
        "command",
        "--auth0-upstream",
        "auth0-upstream",
        "--auth0-domain",
        "acme.eu.auth0.com",
        "--auth0-client-id",
        "AbCdEf123",
        "--trait",
        "name",
    )
    assert result.exit_code == 0, result.output
    schema_cmd, provider_cmd = _commands(result.stdout)
    assert schema_cmd[:4] == ["ory", "patch", "identity-config", "$ORY_PROJECT_ID"]
    assert provider_cmd[:4] == ["ory", "patch", "identity-config", "$ORY_PROJECT_ID"]
    value = next(a for a in provider_cmd if a.startswith("/selfservice/methods/oidc/config/"))
    entry = json.loads(value.partition("=")[2])
    assert entry == auth0_upstream_provider(
        provider_id="auth0-upstream",
        domain="acme.eu.auth0.com",
        client_id="AbCdEf123",
        traits=("email", "name"),
    )
    jsonschema.Draft7Validator(PROVIDER_SCHEMA).validate(entry)
    mapper = _mapper_source(entry)
    assert mapper == auth0_upstream_mapper(("email", "name"))
    assert mapper in result.stderr  # the Jsonnet printed is the one configured
    assert "/self-service/methods/oidc/callback/auth0-upstream" in result.stderr
    assert "<AUTH0_CLIENT_SECRET>" in result.stderr


def test_cli_upstream_domain_from_the_environment() -> None:
    """--auth0-domain falls back to AUTH0_DOMAIN, as for `export`."""
    result = _run(
        "command", "--auth0-upstream", "auth0", env={"AUTH0_DOMAIN": "https://login.example.com/"}
    )
    assert result.exit_code == 0, result.output
    provider_cmd = _commands(result.stdout)[1]
    assert any('"issuer_url":"https://login.example.com/"' in a for a in provider_cmd)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--auth0-upstream", "auth0"], "--auth0-domain"),
        (["--auth0-upstream", "auth0", "--auth0-domain", "http://acme.auth0.com"], "domain"),
        (["--auth0-upstream", "au th0", "--auth0-domain", "acme.auth0.com"], "--auth0-upstream"),
        (["--auth0-client-id", "abc"], "--auth0-upstream"),
    ],
)
def test_cli_upstream_bad_input_exits_2_with_one_line(args: list[str], says: str) -> None:
    """A missing or bad domain or provider id: exit status 2, one line, no traceback."""
    result = _run("command", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 or lines[0].startswith("Usage:"), result.stderr  # click's usage error
    if "--auth0-upstream" in args:
        assert len(lines) == 1, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


# --- --from-export on command and apply ----------------------------------------------------------


@pytest.fixture
def console_server() -> Iterator[OryConsoleServer]:
    with OryConsoleServer(api_key=API_KEY) as server:
        yield server


def _export(path: Path, raws: Sequence[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in raws), encoding="utf-8")
    return path


_MIXED = [
    {"user_id": "auth0|1", "email": "ada@example.com", "email_verified": True},
    {"user_id": "sms|2", "phone_number": "+442071234567", "phone_verified": True},
]


def _suggested(path: Path) -> dict[str, Any]:
    from auth0_ory_migrate import read_users

    with path.open("rb") as f:
        return dict(suggest_identity_schema(read_users(f)).schema)


def test_cli_command_from_export_uses_the_suggested_schema(tmp_path: Path) -> None:
    """`schema command --from-export` puts the suggested schema in the command."""
    export = _export(tmp_path / "users.ndjson", _MIXED)
    result = _run("command", "--from-export", str(export), "--project", "proj-1")
    assert result.exit_code == 0, result.output
    (schema_cmd,) = _commands(result.stdout)
    schemas = next(a for a in schema_cmd if a.startswith("/identity/schemas="))
    (entry,) = json.loads(schemas.partition("=")[2])
    url = entry["url"].removeprefix("base64://")
    assert json.loads(base64.b64decode(url)) == _suggested(export)
    assert "2 users read" in result.stderr


def test_cli_command_from_export_maps_the_suggested_traits(tmp_path: Path) -> None:
    """With --auth0-upstream, the mapper fills the traits of the suggested schema."""
    export = _export(tmp_path / "users.ndjson", _MIXED)
    result = _run(
        "command",
        "--from-export",
        str(export),
        "--auth0-upstream",
        "auth0",
        "--auth0-domain",
        "acme.auth0.com",
    )
    assert result.exit_code == 0, result.output
    entry_arg = next(
        a for a in _commands(result.stdout)[1] if a.startswith("/selfservice/methods/oidc/config/")
    )
    entry = json.loads(entry_arg.partition("=")[2])
    assert _mapper_source(entry) == auth0_upstream_mapper(("email", "phone"))
    assert "phone" in entry["scope"]


def test_cli_from_export_cannot_be_combined_with_traits_on_command(tmp_path: Path) -> None:
    """--from-export with --trait is a usage error on `schema command` too."""
    export = _export(tmp_path / "users.ndjson", _MIXED)
    result = _run("command", "--from-export", str(export), "--trait", "name")
    assert result.exit_code == 2
    assert "--from-export" in result.output


def test_cli_command_from_a_missing_export_exits_2(tmp_path: Path) -> None:
    """A missing export is one error line, exit status 2."""
    result = _run("command", "--from-export", str(tmp_path / "nope.ndjson"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_cli_apply_from_export_adds_the_suggested_schema(
    tmp_path: Path, console_server: OryConsoleServer
) -> None:
    """`schema apply --from-export` adds the suggested schema to the project."""
    export = _export(tmp_path / "users.ndjson", _MIXED)
    project_id = console_server.add_project()
    env = {
        "ORY_WORKSPACE_API_KEY": API_KEY,
        "ORY_PROJECT_ID": project_id,
        "ORY_CONSOLE_URL": console_server.url,
        "ORY_WORKSPACE_ID": None,
    }
    result = _run("apply", "--from-export", str(export), env=env)
    assert result.exit_code == 0, result.output
    assert "added schema 'auth0-migration-v1'" in result.stdout
    assert "2 users read" in result.stderr
    identity = console_server.project(project_id)["services"]["identity"]["config"]["identity"]
    (entry,) = [s for s in identity["schemas"] if s["id"] == "auth0-migration-v1"]
    url = entry["url"].removeprefix("base64://")
    assert json.loads(base64.b64decode(url)) == _suggested(export)
