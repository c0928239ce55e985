"""The identity schema: building it, checking traits against it, and applying it to a project."""

from __future__ import annotations

import base64
import json
import shlex
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from auth0_ory_migrate import (
    OryConsole,
    TraitsProblem,
    TraitsValidator,
    apply_identity_schema,
    build_identity_schema,
    ory_patch_identity_config_command,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._core._schema import (
    PRESET_EMAIL,
    is_email,
    is_tel,
    plan_schema_patch,
    preset_schema,
    schema_url,
    trait_mapping_for,
)
from auth0_ory_migrate.exceptions import Auth0OryMigrateError, OryConsoleError, SchemaError
from auth0_ory_migrate.testing import OryConsoleServer


API_KEY = "ory_wak_schema_test_key"

# --- Ory's extension vocabulary (embedx/identity_extension.schema.json), restated for the test ---

_EXTENSION_SHAPE: dict[str, Any] = {
    "credentials": {
        "password": {"identifier": bool},
        "webauthn": {"identifier": bool},
        "totp": {"account_name": bool},
        "code": {"identifier": bool, "via": ("email", "sms")},
    },
    "verification": {"via": ("email", "sms")},
    "recovery": {"via": ("email",)},
}


def _check_extension(value: Any, shape: Mapping[str, Any], where: str) -> None:
    assert isinstance(value, dict), where
    for key, item in value.items():
        assert key in shape, f"{where}.{key} is not an Ory extension key"
        rule = shape[key]
        if isinstance(rule, dict):
            _check_extension(item, rule, f"{where}.{key}")
        elif rule is bool:
            assert isinstance(item, bool), f"{where}.{key}"
        else:
            assert item in rule, f"{where}.{key}"


def assert_ory_identity_schema(schema: Mapping[str, Any]) -> None:
    """A draft-07 schema with object traits whose ``ory.sh/kratos`` blocks use Ory's vocabulary."""
    jsonschema.Draft7Validator.check_schema(schema)
    traits = schema["properties"]["traits"]
    assert traits["type"] == "object"
    assert traits["properties"]

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key == "ory.sh/kratos":
                    _check_extension(item, _EXTENSION_SHAPE, where)
                    if "verification" in item:  # Ory's meta-schema: only these formats verify
                        assert node.get("format") in {"email", "tel"}
                else:
                    walk(item, f"{where}.{key}")

    walk(schema, "schema")


def extensions(schema: Mapping[str, Any], trait: str) -> dict[str, Any]:
    ext: dict[str, Any] = schema["properties"]["traits"]["properties"][trait]["ory.sh/kratos"]
    return ext


# --- building ------------------------------------------------------------------------------------


def test_default_schema_is_the_email_preset_equivalent() -> None:
    """The default schema has one required email trait with the preset's extensions."""
    schema = build_identity_schema()
    assert_ory_identity_schema(schema)
    traits = schema["properties"]["traits"]
    assert list(traits["properties"]) == ["email"]
    assert traits["required"] == ["email"]
    assert traits["additionalProperties"] is False
    email = traits["properties"]["email"]
    assert email["type"] == "string"
    assert email["format"] == "email"
    assert email["maxLength"] == 320
    assert extensions(schema, "email") == {
        "credentials": {
            "password": {"identifier": True},
            "webauthn": {"identifier": True},
            "totp": {"account_name": True},
        },
        "recovery": {"via": "email"},
        "verification": {"via": "email"},
    }
    assert preset_schema(PRESET_EMAIL) == schema
    assert preset_schema("preset://username") is None


def test_email_and_name_variant() -> None:
    """Email + name adds an optional {first, last} object without extensions."""
    schema = build_identity_schema(["email", "name"])
    assert_ory_identity_schema(schema)
    traits = schema["properties"]["traits"]
    assert traits["required"] == ["email"]
    name = traits["properties"]["name"]
    assert name["type"] == "object"
    assert set(name["properties"]) == {"first", "last"}
    assert name["additionalProperties"] is False
    assert "ory.sh/kratos" not in name


def test_username_only_variant() -> None:
    """A username-only schema makes the username the identifier and TOTP account name."""
    schema = build_identity_schema(["username"])
    assert_ory_identity_schema(schema)
    assert schema["properties"]["traits"]["required"] == ["username"]
    assert extensions(schema, "username")["credentials"] == {
        "password": {"identifier": True},
        "webauthn": {"identifier": True},
        "totp": {"account_name": True},
    }


def test_phone_variant_with_email() -> None:
    """Email + phone: email keeps TOTP, the phone is an SMS code identifier verified by SMS."""
    schema = build_identity_schema(["phone", "email"], required=["email", "phone"])
    assert_ory_identity_schema(schema)
    assert schema["properties"]["traits"]["required"] == ["email", "phone"]
    phone = extensions(schema, "phone")
    assert phone == {
        "credentials": {"code": {"identifier": True, "via": "sms"}},
        "verification": {"via": "sms"},
    }
    assert "totp" in extensions(schema, "email")["credentials"]


def test_phone_only_variant_and_code_login() -> None:
    """Phone only: TOTP moves to the phone; code_login adds an email code identifier."""
    phone_only = build_identity_schema(["phone"])
    assert extensions(phone_only, "phone")["credentials"]["totp"] == {"account_name": True}
    with_code = build_identity_schema(code_login=True)
    assert_ory_identity_schema(with_code)
    assert extensions(with_code, "email")["credentials"]["code"] == {
        "identifier": True,
        "via": "email",
    }


def test_title_and_id() -> None:
    """The title and $id can be set."""
    schema = build_identity_schema(title="Customer", schema_uri="https://example.com/c.json")
    assert schema["title"] == "Customer"
    assert schema["$id"] == "https://example.com/c.json"


@pytest.mark.parametrize(
    ("traits", "required", "message"),
    [
        (["email", "age"], None, "unknown trait"),
        (["name"], None, "needs an identifier"),
        (["email"], ["username"], "not in the schema"),
    ],
)
def test_invalid_builds(traits: list[Any], required: list[Any] | None, message: str) -> None:
    """Unknown traits, no identifier, or a required trait that is absent raise SchemaError."""
    with pytest.raises(SchemaError, match=message) as info:
        build_identity_schema(traits, required=required)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, Auth0OryMigrateError)


def test_trait_mapping_matches_the_schema() -> None:
    """The declarative trait mapping names the Auth0 field of every trait."""
    assert trait_mapping_for() == {"email": "email"}
    assert trait_mapping_for(["email", "name", "username", "phone"]) == {
        "email": "email",
        "username": "username",
        "phone": "phone_number",
        "name.first": "given_name",
        "name.last": "family_name",
    }
    with pytest.raises(SchemaError):
        trait_mapping_for(["age"])  # type: ignore[list-item]


# --- validating traits ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full() -> TraitsValidator:
    return TraitsValidator.from_schema(
        build_identity_schema(["email", "name", "username", "phone"])
    )


def test_valid_traits_have_no_problem(full: TraitsValidator) -> None:
    """Traits that fit give no problem."""
    assert full.compiled
    traits = {
        "email": "ada@example.com",
        "name": {"first": "Ada", "last": "Lovelace"},
        "username": "ada",
        "phone": "+4915112345678",
    }
    assert full.problems(traits) == ()
    assert full.first_problem(traits) is None
    assert full.problems({"email": "ada@example.com"}) == ()


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        ({}, [TraitsProblem("traits.email", "is required")]),
        ({"email": 3}, [TraitsProblem("traits.email", "must be a string")]),
        ({"email": "ada"}, [TraitsProblem("traits.email", "is not a valid email")]),
        (
            {"email": "ada@example.com", "nickname": "a"},
            [TraitsProblem("traits.nickname", "is not allowed by the schema")],
        ),
        (
            {"email": "ada@example.com", "name": {"first": 1}},
            [TraitsProblem("traits.name.first", "must be a string")],
        ),
        (
            {"email": "ada@example.com", "name": {"middle": "x"}},
            [TraitsProblem("traits.name.middle", "is not allowed by the schema")],
        ),
        (
            {"email": "ada@example.com", "username": ""},
            [TraitsProblem("traits.username", "is shorter than 1 characters")],
        ),
        (
            {"email": "ada@example.com", "phone": "015112345678"},
            [TraitsProblem("traits.phone", "is not a valid tel")],
        ),
        ("ada@example.com", [TraitsProblem("traits", "must be an object")]),
    ],
)
def test_problems_name_the_field(
    full: TraitsValidator, traits: Any, expected: list[TraitsProblem]
) -> None:
    """Each problem names the failing field and says why."""
    assert list(full.problems(traits)) == expected
    assert full.first_problem(traits) == expected[0]


def test_problems_never_repeat_the_value() -> None:
    """Problem texts hold no trait value (they are personal data)."""
    validator = TraitsValidator.from_schema(build_identity_schema())
    secret = "x" * 400 + "@example.com"
    problems = validator.problems({"email": secret, "secret-key": secret})
    assert problems
    for problem in problems:
        assert secret not in str(problem)
    assert str(problems[0]) == "traits.email: is longer than 320 characters"


def test_custom_schema_outside_the_fast_subset_uses_jsonschema() -> None:
    """A schema with other keywords (enum, $ref…) is checked by jsonschema, worded the same."""
    schema = {
        "definitions": {"plan": {"type": "string", "enum": ["free", "pro"]}},
        "properties": {
            "traits": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "plan": {"$ref": "#/definitions/plan"},
                },
                "required": ["email"],
                "additionalProperties": False,
            }
        },
    }
    validator = TraitsValidator.from_schema(schema)
    assert not validator.compiled
    assert validator.problems({"email": "a@example.com", "plan": "pro"}) == ()
    assert set(validator.problems({"plan": "gold", "extra": 1})) == {
        TraitsProblem("traits.email", "is required"),
        TraitsProblem("traits.plan", "is not one of the allowed values"),
        TraitsProblem("traits.extra", "is not allowed by the schema"),
    }


@pytest.mark.parametrize(
    "schema",
    [
        "x",
        {"type": "object"},
        {"properties": {"traits": "x"}},
    ],
)
def test_not_an_identity_schema(schema: Any) -> None:
    """A schema without properties.traits is refused."""
    with pytest.raises(SchemaError, match="identity schema"):
        TraitsValidator.from_schema(schema)


def test_invalid_json_schema_is_refused() -> None:
    """A schema jsonschema cannot compile is refused with SchemaError."""
    with pytest.raises(SchemaError, match="invalid JSON schema"):
        TraitsValidator.from_schema({"properties": {"traits": {"type": "wat", "minLength": -1}}})


_EXTRA_ENFORCED = {"minProperties": 0}  # any keyword outside the fast subset forces jsonschema


def _forced_fallback(schema: dict[str, Any]) -> dict[str, Any]:
    forced: dict[str, Any] = json.loads(json.dumps(schema))
    forced["properties"]["traits"].update(_EXTRA_ENFORCED)
    return forced


_FULL_SCHEMA = build_identity_schema(["email", "name", "username", "phone"])
_FAST = TraitsValidator.from_schema(_FULL_SCHEMA)
_SLOW = TraitsValidator.from_schema(_forced_fallback(_FULL_SCHEMA))

_values = st.one_of(
    st.text(max_size=12),
    st.emails().map(str),
    st.integers(),
    st.booleans(),
    st.none(),
    st.sampled_from(["+4915112345678", "a@b.co", "x" * 330]),
)
_traits = st.one_of(
    st.dictionaries(
        st.sampled_from(["email", "username", "phone", "name", "nickname"]),
        st.one_of(
            _values,
            st.dictionaries(st.sampled_from(["first", "last", "middle"]), _values, max_size=3),
        ),
        max_size=5,
    ),
    _values,
)


@given(traits=_traits)
def test_fast_checker_agrees_with_jsonschema(traits: Any) -> None:
    """The compiled checker finds exactly the problems jsonschema finds."""
    assert not _SLOW.compiled
    assert set(_FAST.problems(traits)) == set(_SLOW.problems(traits))


# --- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "ada@example.com",
        "user+tag@sub.example.co.uk",
        "o'hara@example.org",
        "a@localhost",
        "a@example.com.",
        "a@[127.0.0.1]",
        "a@[IPv6:2001:db8::1]",
        '"quoted local"@example.com',
        "üñîçødé@example.com",
        "x" * 64 + "@example.com",
    ],
)
def test_valid_emails(value: str) -> None:
    """Addresses Ory's validator takes are valid."""
    assert is_email(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ada",
        "ada@",
        "@example.com",
        ".ada@example.com",
        "ada.@example.com",
        "a..b@example.com",
        "a b@example.com",
        "a@b@example.com",
        "a@-example.com",
        "a@exa_mple.com",
        "a@bücher.de",
        "a@[300.1.1.1]",
        "a@" + "x" * 64 + ".com",
        "x" * 65 + "@example.com",
        "a@" + ".".join(["abcdefghi"] * 26) + ".com",
    ],
)
def test_invalid_emails(value: str) -> None:
    """Addresses Ory's validator refuses are invalid."""
    assert not is_email(value)


def test_tel_format() -> None:
    """Tel is an E.164 number: + and 7 to 15 digits, not starting with 0."""
    assert is_tel("+14155552671")
    assert not is_tel("14155552671")
    assert not is_tel("+0415555267")
    assert not is_tel("+1 415 555 2671")


# --- the Ory configuration helpers ---------------------------------------------------------------


def _decode_url(url: str) -> Any:
    assert url.startswith("base64://")
    return json.loads(base64.b64decode(url[len("base64://") :], validate=True))


def test_schema_url_round_trips() -> None:
    """The base64:// URL decodes to the same schema."""
    schema = build_identity_schema(["email", "name"])
    assert _decode_url(schema_url(schema)) == schema


def test_patch_command_parses_like_the_guide() -> None:
    """The printed command is Ory's guide's two --replace arguments, shell-quoted."""
    schema = build_identity_schema()
    line = ory_patch_identity_config_command("my-project", "auth0-v1", schema)
    args = shlex.split(line.replace("\\\n", " "))
    assert args[:4] == ["ory", "patch", "identity-config", "my-project"]
    assert args[4:6] == ["--replace", '/identity/default_schema_id="auth0-v1"']
    assert args[6] == "--replace"
    path, _, value = args[7].partition("=")
    assert path == "/identity/schemas"
    entries = json.loads(value)
    assert entries[0]["id"] == "auth0-v1"
    assert _decode_url(entries[0]["url"]) == schema
    no_default = ory_patch_identity_config_command("p", "auth0-v1", schema, make_default=False)
    assert "default_schema_id" not in no_default


@pytest.mark.parametrize("schema_id", ["", "preset://email", "has space", "quote'"])
def test_invalid_schema_ids(schema_id: str) -> None:
    """Empty, preset:// or oddly spelled ids are refused."""
    with pytest.raises(SchemaError, match="invalid schema id"):
        ory_patch_identity_config_command("p", schema_id, build_identity_schema())


def _config(*schemas: dict[str, str], default: str = "preset://email") -> dict[str, Any]:
    return {"identity": {"default_schema_id": default, "schemas": list(schemas)}}


PRESET_ENTRY = {"id": "preset://email", "url": "base64://e30="}


def test_plan_appends_and_sets_default() -> None:
    """A new schema is appended (the others stay) and becomes the default."""
    schema = build_identity_schema()
    plan = plan_schema_patch(_config(PRESET_ENTRY), "auth0-v1", schema)
    assert plan.schema_added
    assert plan.default_changed
    assert plan.json_patch == (
        {
            "op": "add",
            "path": "/services/identity/config/identity/schemas/-",
            "value": {"id": "auth0-v1", "url": schema_url(schema)},
        },
        {
            "op": "replace",
            "path": "/services/identity/config/identity/default_schema_id",
            "value": "auth0-v1",
        },
    )


def test_plan_is_idempotent() -> None:
    """The same schema under the same id, already default: nothing to do."""
    schema = build_identity_schema()
    entry = {"id": "auth0-v1", "url": schema_url(schema)}
    plan = plan_schema_patch(_config(PRESET_ENTRY, entry, default="auth0-v1"), "auth0-v1", schema)
    assert plan.json_patch == ()
    assert not plan.schema_added
    assert not plan.default_changed


def test_plan_refuses_to_change_an_existing_schema() -> None:
    """Ory's schemas are immutable: a different schema under a taken id is refused."""
    entry = {"id": "auth0-v1", "url": schema_url(build_identity_schema())}
    with pytest.raises(SchemaError, match="immutable"):
        plan_schema_patch(_config(entry), "auth0-v1", build_identity_schema(["email", "name"]))


def test_plan_without_schemas_or_default() -> None:
    """Missing schema lists are created; --no-default leaves the default alone."""
    schema = build_identity_schema()
    plan = plan_schema_patch(None, "auth0-v1", schema, make_default=False)
    assert plan.json_patch == (
        {
            "op": "add",
            "path": "/services/identity/config/identity",
            "value": {"schemas": [{"id": "auth0-v1", "url": schema_url(schema)}]},
        },
    )
    plan = plan_schema_patch({"identity": {"default_schema_id": "x"}}, "auth0-v1", schema)
    assert plan.json_patch[0]["path"] == "/services/identity/config/identity/schemas"


# --- applying over HTTP --------------------------------------------------------------------------


@pytest.fixture
def console_server() -> Iterator[OryConsoleServer]:
    with OryConsoleServer(api_key=API_KEY) as server:
        yield server


def test_apply_adds_the_schema_through_the_sdk(console_server: OryConsoleServer) -> None:
    """apply_identity_schema adds the schema, keeps the preset, and is idempotent."""
    project_id = console_server.add_project(workspace_id="ws-1")
    schema = build_identity_schema(["email", "name"])
    with OryConsole.connect(API_KEY, url=console_server.url) as console:
        result = apply_identity_schema(console, project_id, "auth0-v1", schema, workspace_id="ws-1")
        assert result.schema_added
        assert result.default_changed
        assert result.warnings == ()
        identity = console_server.project(project_id)["services"]["identity"]["config"]["identity"]
        assert identity["default_schema_id"] == "auth0-v1"
        assert [s["id"] for s in identity["schemas"]] == ["preset://email", "auth0-v1"]
        assert _decode_url(identity["schemas"][1]["url"]) == schema
        patches = len(console_server.patches)
        again = apply_identity_schema(console, project_id, "auth0-v1", schema)
    assert not again.schema_added
    assert not again.default_changed
    assert len(console_server.patches) == patches


def test_apply_refuses_another_workspace(console_server: OryConsoleServer) -> None:
    """A project outside the given workspace is refused before anything is patched."""
    project_id = console_server.add_project(workspace_id="ws-1")
    with (
        OryConsole.connect(API_KEY, url=console_server.url) as console,
        pytest.raises(SchemaError, match="not in workspace"),
    ):
        apply_identity_schema(
            console, project_id, "a", build_identity_schema(), workspace_id="ws-2"
        )
    assert console_server.patches == []


def test_apply_with_a_wrong_key(console_server: OryConsoleServer) -> None:
    """A refused key gives OryConsoleError 401, without the key in the message."""
    project_id = console_server.add_project()
    wrong = "ory_wak_wrong_secret_value"
    with (
        OryConsole.connect(wrong, url=console_server.url) as console,
        pytest.raises(OryConsoleError, match="refused") as info,
    ):
        apply_identity_schema(console, project_id, "a", build_identity_schema())
    assert info.value.status == 401
    assert wrong not in str(info.value)


def test_apply_to_an_unknown_project(console_server: OryConsoleServer) -> None:
    """An unknown project gives OryConsoleError 404."""
    with (
        OryConsole.connect(API_KEY, url=console_server.url) as console,
        pytest.raises(OryConsoleError, match="not found") as info,
    ):
        apply_identity_schema(
            console, "6f1c2d4e-0000-4000-8000-000000000000", "a", build_identity_schema()
        )
    assert info.value.status == 404


def test_apply_when_the_console_is_unreachable() -> None:
    """No server listening gives OryConsoleError without a status."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    console = OryConsole.connect(API_KEY, url=f"http://127.0.0.1:{port}", timeout=2)
    console.api.api_client.configuration.retries = 0
    with pytest.raises(OryConsoleError, match="cannot reach") as info:
        console.get_project("p")
    assert info.value.status is None


def test_connect_needs_a_key() -> None:
    """An empty workspace key is refused at once."""
    with pytest.raises(OryConsoleError, match="ORY_WORKSPACE_API_KEY"):
        OryConsole.connect("")


def test_console_server_patches_are_atomic(console_server: OryConsoleServer) -> None:
    """The test server applies a failing patch not at all (400)."""
    project_id = console_server.add_project()
    before = console_server.project(project_id)
    with (
        OryConsole.connect(API_KEY, url=console_server.url) as console,
        pytest.raises(OryConsoleError) as info,
    ):
        console.patch_project(
            project_id,
            [
                {"op": "add", "path": "/name", "value": "changed"},
                {"op": "remove", "path": "/services/nope"},
            ],
        )
    assert info.value.status == 400
    assert console_server.project(project_id) == before


# --- the command line ----------------------------------------------------------------------------


def test_cli_schema_print() -> None:
    """`schema print` prints the built schema."""
    result = CliRunner().invoke(main, ["schema", "print", "--trait", "email", "--trait", "name"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == build_identity_schema(["email", "name"])


def test_cli_schema_print_default_is_the_preset() -> None:
    """Without options `schema print` prints the preset://email equivalent."""
    result = CliRunner().invoke(main, ["schema", "print"])
    assert result.exit_code == 0
    assert json.loads(result.output) == preset_schema(PRESET_EMAIL)


def test_cli_schema_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """`schema command` prints the ory CLI line for ORY_PROJECT_ID."""
    monkeypatch.setenv("ORY_PROJECT_ID", "proj-123")
    result = CliRunner().invoke(main, ["schema", "command", "--schema-id", "auth0-v2"])
    assert result.exit_code == 0, result.output
    line = result.stdout
    args = shlex.split(line.replace("\\\n", " "))
    assert args[:4] == ["ory", "patch", "identity-config", "proj-123"]
    assert '/identity/default_schema_id="auth0-v2"' in args
    assert "replaces every schema" in result.stderr


def test_cli_schema_command_without_project() -> None:
    """Without a project, the command refers to "$ORY_PROJECT_ID" for a script."""
    result = CliRunner(env={"ORY_PROJECT_ID": None}).invoke(main, ["schema", "command"])
    assert result.exit_code == 0
    assert result.stdout.startswith('ory patch identity-config "$ORY_PROJECT_ID"')


def test_cli_schema_apply(console_server: OryConsoleServer) -> None:
    """`schema apply` adds the schema with the key from the environment and never prints it."""
    project_id = console_server.add_project(workspace_id="ws-9")
    env = {
        "ORY_WORKSPACE_API_KEY": API_KEY,
        "ORY_PROJECT_ID": project_id,
        "ORY_WORKSPACE_ID": "ws-9",
        "ORY_CONSOLE_URL": console_server.url,
    }
    runner = CliRunner(env=env)
    result = runner.invoke(main, ["schema", "apply", "--trait", "email", "--trait", "username"])
    assert result.exit_code == 0, result.output
    assert f"added schema 'auth0-migration-v1' to project {project_id}" in result.output
    assert "default schema" in result.output
    assert API_KEY not in result.output
    again = runner.invoke(main, ["schema", "apply", "--trait", "email", "--trait", "username"])
    assert again.exit_code == 0
    assert "already in project" in again.output
    clash = runner.invoke(main, ["schema", "apply"])
    assert clash.exit_code == 2
    assert "immutable" in clash.output


def test_cli_schema_apply_wrong_key(console_server: OryConsoleServer) -> None:
    """A refused key exits with status 2 and a one-line error."""
    project_id = console_server.add_project()
    result = CliRunner().invoke(
        main,
        ["schema", "apply", "--project", project_id, "--console-url", console_server.url],
        env={"ORY_WORKSPACE_API_KEY": "ory_wak_nope_nope"},
    )
    assert result.exit_code == 2
    assert "refused" in result.output
    assert "ory_wak_nope_nope" not in result.output


def test_cli_schema_file(tmp_path: Any) -> None:
    """--schema-file prints a custom identity schema; a non-identity schema is refused."""
    custom = build_identity_schema(["username"])
    good = tmp_path / "custom.json"
    good.write_text(json.dumps(custom))
    result = CliRunner().invoke(main, ["schema", "print", "--schema-file", str(good)])
    assert result.exit_code == 0
    assert json.loads(result.output) == custom
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "object"}')
    result = CliRunner().invoke(main, ["schema", "print", "--schema-file", str(bad)])
    assert result.exit_code == 2
    assert "identity schema" in result.output
    mixed = CliRunner().invoke(
        main, ["schema", "print", "--schema-file", str(good), "--trait", "email"]
    )
    assert mixed.exit_code == 2


def test_cli_schema_print_trait_adds_to_the_email() -> None:
    """``schema print --trait name`` is email and name, as the guide says."""
    result = CliRunner().invoke(main, ["schema", "print", "--trait", "name"])
    assert result.exit_code == 0, result.output
    traits = json.loads(result.output)["properties"]["traits"]
    assert list(traits["properties"]) == ["email", "name"]
    assert traits["required"] == ["email"]


def test_the_phase2_guide_uses_the_schema_id_schema_apply_adds() -> None:
    """The guide's ``convert --schema-id`` is the id ``schema apply`` adds by default."""
    guide = (Path(__file__).resolve().parent.parent / "docs/guide/phase2-schema.md").read_text()
    from auth0_ory_migrate._cli.schema import apply

    default = next(p.default for p in apply.params if p.name == "schema_id")
    assert f"--schema-id {default}" in guide
    assert 'schema_id="customer"' not in guide
    assert "--schema-id customer" not in guide
