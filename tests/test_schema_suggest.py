"""suggest_identity_schema and ``schema print --from-export``: a schema that covers every user."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from auth0_ory_migrate import (
    Auth0User,
    SchemaSuggestion,
    TraitsValidator,
    UnreadableRecord,
    build_identity_schema,
    parse_user,
    suggest_identity_schema,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.exceptions import SchemaError


EMAIL = {"user_id": "auth0|1", "email": "ada@example.com", "email_verified": True}
PASSWORDLESS = {"user_id": "email|2", "email": "grace@example.com"}
SMS = {"user_id": "sms|3", "phone_number": "+15555550123", "phone_verified": True}
USERNAME = {"user_id": "auth0|4", "username": "just_a_username"}


def users(*raws: Mapping[str, Any]) -> list[Auth0User | UnreadableRecord]:
    """Parse plain dicts as the export reader would."""
    return [parse_user(raw, line) for line, raw in enumerate(raws, start=1)]


def traits_of(raw: Mapping[str, Any]) -> dict[str, str]:
    """The identifier traits the convert mapping writes for a record."""
    sources = {"email": "email", "phone": "phone_number", "username": "username"}
    return {
        trait: raw[field].strip()
        for trait, field in sources.items()
        if isinstance(raw.get(field), str) and raw[field].strip()
    }


def test_an_email_only_export_gives_the_email_schema_of_today() -> None:
    """Database users with emails get exactly build_identity_schema()'s email schema."""
    result = suggest_identity_schema(users(EMAIL, {**EMAIL, "user_id": "auth0|5"}))
    assert isinstance(result, SchemaSuggestion)
    assert result.schema == build_identity_schema()
    assert result.users == 2
    assert result.with_email == 2
    assert (result.with_phone, result.with_username, result.without_identifier) == (0, 0, 0)


def test_email_passwordless_users_add_code_login_by_email() -> None:
    """An ``email|`` user makes the email a one-time-code identifier (via email)."""
    result = suggest_identity_schema(users(EMAIL, PASSWORDLESS))
    assert result.schema == build_identity_schema(code_login=True)
    email = result.schema["properties"]["traits"]["properties"]["email"]["ory.sh/kratos"]
    assert email["credentials"]["code"] == {"identifier": True, "via": "email"}
    assert email["recovery"] == {"via": "email"}
    assert email["verification"] == {"via": "email"}
    assert result.email_passwordless == 1


def test_sms_and_username_users_get_their_traits_and_an_any_of_rule() -> None:
    """Email, SMS and username users: three traits, required through anyOf, a valid schema."""
    result = suggest_identity_schema(users(EMAIL, SMS, USERNAME))
    schema = result.schema
    jsonschema.Draft7Validator.check_schema(schema)
    traits = schema["properties"]["traits"]
    assert list(traits["properties"]) == ["email", "username", "phone"]
    assert traits["required"] == []
    assert traits["anyOf"] == [
        {"required": ["email"]},
        {"required": ["username"]},
        {"required": ["phone"]},
    ]
    phone = traits["properties"]["phone"]
    assert phone["format"] == "tel"
    assert phone["ory.sh/kratos"]["credentials"]["code"] == {"identifier": True, "via": "sms"}
    assert phone["ory.sh/kratos"]["verification"] == {"via": "sms"}
    username = traits["properties"]["username"]["ory.sh/kratos"]["credentials"]
    assert username["password"] == {"identifier": True}
    assert (result.with_email, result.with_phone, result.with_username) == (1, 1, 1)
    assert result.phone_verified == 1
    validator = TraitsValidator.from_schema(schema)
    assert validator.problems({}) != ()
    for raw in (EMAIL, SMS, USERNAME):
        assert validator.problems(traits_of(raw)) == ()


def test_an_identifier_every_user_has_is_simply_required() -> None:
    """When every user has a phone (some also an email), the phone is required, no anyOf."""
    result = suggest_identity_schema(users(SMS, {**EMAIL, "phone_number": "+15555550124"}))
    traits = result.schema["properties"]["traits"]
    assert traits["required"] == ["phone"]
    assert "anyOf" not in traits
    assert set(traits["properties"]) == {"email", "phone"}


def test_users_without_identifier_and_unreadable_records_are_counted_not_covered() -> None:
    """A user with no identifier and an unreadable record are counted; the rule ignores them."""
    result = suggest_identity_schema([*users(EMAIL, {"user_id": "github|6"}), *users({})])
    assert result.users == 2
    assert result.without_identifier == 1
    assert result.unreadable == 1
    assert result.schema["properties"]["traits"]["required"] == ["email"]


def test_no_user_with_an_identifier_is_a_schema_error() -> None:
    """An export in which no user has an email, phone or username cannot give a schema."""
    with pytest.raises(SchemaError, match="no user"):
        suggest_identity_schema(users({"user_id": "github|6"}))
    with pytest.raises(SchemaError, match="no user"):
        suggest_identity_schema([])


_text = st.one_of(st.none(), st.just(""), st.just("  "))
_record = st.fixed_dictionaries(
    {"user_id": st.sampled_from(["auth0|1", "email|2", "sms|3", "github|4"])},
    optional={
        "email": st.one_of(_text, st.just("a@example.com"), st.just(" b@example.org ")),
        "phone_number": st.one_of(_text, st.just("+15555550123")),
        "phone_verified": st.booleans(),
        "username": st.one_of(_text, st.just("user_1")),
    },
)


@given(st.lists(_record, min_size=1, max_size=12))
def test_every_user_with_an_identifier_meets_the_required_rule(
    raws: list[dict[str, Any]],
) -> None:
    """Property: every generated user with an identifier fits the suggested schema's traits."""
    covered = [raw for raw in raws if traits_of(raw)]
    if not covered:
        with pytest.raises(SchemaError):
            suggest_identity_schema(users(*raws))
        return
    result = suggest_identity_schema(users(*raws))
    jsonschema.Draft7Validator.check_schema(result.schema)
    validator = TraitsValidator.from_schema(result.schema)
    for raw in covered:
        assert validator.problems(traits_of(raw)) == (), raw
    assert result.without_identifier == len(raws) - len(covered)


def test_the_suggestion_reads_its_users_once() -> None:
    """The users are read in one pass (an iterator is enough)."""
    result = suggest_identity_schema(iter(users(EMAIL, SMS)))
    assert result.users == 2


# -- CLI -----------------------------------------------------------------------------------------


def _print(*args: str) -> Any:
    return CliRunner().invoke(main, ["schema", "print", *args])


def _write(path: Path, raws: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(raw) + "\n" for raw in raws), encoding="utf-8")
    return path


def test_cli_prints_the_schema_on_stdout_and_the_counts_on_stderr(tmp_path: Path) -> None:
    """``schema print --from-export`` prints the suggested schema and its counts."""
    export = _write(tmp_path / "users.ndjson", [EMAIL, SMS, USERNAME, PASSWORDLESS])
    result = _print("--from-export", str(export))
    assert result.exit_code == 0, result.output
    assert (
        json.loads(result.stdout)
        == suggest_identity_schema(users(EMAIL, SMS, USERNAME, PASSWORDLESS)).schema
    )
    assert "4 users" in result.stderr
    assert "1 with a phone number" in result.stderr


def test_cli_on_the_examples_covers_sms_and_username_users(examples: Path) -> None:
    """The shipped example export gives email, username and phone traits."""
    result = _print("--from-export", str(examples / "auth0-users.ndjson"))
    assert result.exit_code == 0, result.output
    traits = json.loads(result.stdout)["properties"]["traits"]
    assert set(traits["properties"]) == {"email", "username", "phone"}
    assert "anyOf" in traits


@pytest.mark.parametrize("kind", ["missing", "empty", "no identifiers", "directory"])
def test_cli_bad_export_exits_2_with_one_line(tmp_path: Path, kind: str) -> None:
    """A missing, empty or identifier-less export: exit 2, one error line, nothing on stdout."""
    path = tmp_path / "users.ndjson"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "no identifiers":
        _write(path, [{"user_id": "github|6"}])
    elif kind == "directory":
        path.mkdir()
    result = _print("--from-export", str(path))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_cli_from_export_cannot_be_combined_with_traits(tmp_path: Path) -> None:
    """--from-export chooses the traits itself: with --trait it is a usage error."""
    export = _write(tmp_path / "users.ndjson", [EMAIL])
    result = _print("--from-export", str(export), "--trait", "phone")
    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr
    assert result.stdout == ""
