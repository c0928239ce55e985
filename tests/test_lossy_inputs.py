"""Lossy inputs are said out loud: the job's CSV, unfilled schema traits, bad optional traits."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import check_users_format, users_export_format
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.exceptions import ConfigurationError


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The export job's CSV for two database users (only the asked-for columns).
CSV = (
    "user_id,email,email_verified,given_name\n"
    "'auth0|60425dc43519d90068f82973,ada@example.com,true,Ada\n"
    "'auth0|60425dc43519d90068f82974,alan@example.com,true,Alan\n"
)


def _convert(tmp_path: Path, users: Path, *extra: str) -> Result:
    """Run ``convert`` of *users* into *tmp_path*."""
    args = ["convert", "--users", str(users), "--out", str(tmp_path / "identities.ndjson")]
    args += ["--report", str(tmp_path / "report.json"), *extra]
    return CliRunner().invoke(main, args)


def test_users_export_format_tells_ndjson_array_and_csv() -> None:
    """The users file's kind is read from its first bytes."""
    assert users_export_format(io.BytesIO(b'{"user_id": "auth0|1"}\n')) == "ndjson"
    assert users_export_format(io.BytesIO(b'[{"user_id": "auth0|1"}]')) == "json"
    assert users_export_format(io.BytesIO(CSV.encode())) == "csv"


def test_check_users_format_refuses_csv_with_hashes_unless_accepted() -> None:
    """CSV + hash file is refused, naming the flag and format: json; accepted, it warns."""
    with pytest.raises(ConfigurationError, match="format: json") as e:
        check_users_format("csv", password_hashes=True)
    assert "--accept-csv-losses" in str(e.value)
    warnings = check_users_format("csv", password_hashes=True, accept_csv_losses=True)
    assert any("last_password_reset" in w for w in warnings)
    assert any("identities" in w for w in check_users_format("csv", password_hashes=False))
    assert check_users_format("ndjson", password_hashes=True) == ()


def test_convert_refuses_csv_with_a_hash_file(tmp_path: Path) -> None:
    """CSV + --password-hashes: exit 2, nothing written, the way out named."""
    users = tmp_path / "users.csv"
    users.write_text(CSV)
    result = _convert(
        tmp_path, users, "--password-hashes", str(EXAMPLES / "auth0-password-hashes.json")
    )
    assert result.exit_code == 2, result.output
    assert "format: json" in result.stderr
    assert "--accept-csv-losses" in result.stderr
    assert not (tmp_path / "identities.ndjson").exists()
    assert not (tmp_path / "report.json").exists()


def test_convert_csv_with_hashes_accepted_warns(tmp_path: Path) -> None:
    """With --accept-csv-losses the CSV is converted, with a warning on stderr."""
    users = tmp_path / "users.csv"
    users.write_text(CSV)
    hashes = tmp_path / "hashes.json"  # the hashes of the CSV's two users
    lines = (EXAMPLES / "auth0-password-hashes.json").read_text().splitlines(keepends=True)
    hashes.write_text("".join(lines[:2]))
    result = _convert(tmp_path, users, "--password-hashes", str(hashes), "--accept-csv-losses")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr
    assert "last_password_reset" in result.stderr
    assert (tmp_path / "identities.ndjson").exists()


def test_convert_csv_without_hashes_warns_about_social_logins(tmp_path: Path) -> None:
    """A CSV alone is converted, with a warning that linked logins are not in it."""
    users = tmp_path / "users.csv"
    users.write_text(CSV)
    result = _convert(tmp_path, users)
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr
    assert "identities" in result.stderr
    assert "format: json" in result.stderr


def test_convert_ndjson_says_nothing_about_csv(tmp_path: Path) -> None:
    """The export job's NDJSON gets no CSV warning."""
    result = _convert(tmp_path, EXAMPLES / "auth0-users.ndjson")
    assert result.exit_code == 0, result.output
    assert "csv" not in result.stderr.lower()


def _schema_file(tmp_path: Path, traits: dict[str, object], required: list[str]) -> Path:
    """An identity schema with *traits* (JSON schemas of each) written to *tmp_path*."""
    schema = {
        "type": "object",
        "properties": {
            "traits": {
                "type": "object",
                "properties": traits,
                "required": required,
                "additionalProperties": False,
            }
        },
    }
    path = tmp_path / "identity.schema.json"
    path.write_text(json.dumps(schema))
    return path


_EMAIL = {"type": "string", "format": "email"}
_NAME = {
    "type": "object",
    "properties": {"first": {"type": "string"}, "last": {"type": "string"}},
}


def test_convert_warns_about_schema_traits_never_filled(tmp_path: Path) -> None:
    """A schema with ``name`` and only the email mapped: a warning names ``name``."""
    schema = _schema_file(tmp_path, {"email": _EMAIL, "name": _NAME}, ["email"])
    result = _convert(
        tmp_path,
        EXAMPLES / "auth0-users.ndjson",
        "--schema-id",
        "customer",
        "--schema-file",
        str(schema),
    )
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr
    assert "never filled" in result.stderr
    assert "name" in result.stderr


def _users(tmp_path: Path, *records: dict[str, object]) -> Path:
    """An NDJSON users export of *records*."""
    path = tmp_path / "users.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


_ADA = {
    "user_id": "auth0|ada",
    "email": "ada@example.com",
    "email_verified": True,
    "given_name": "Ada",
    "family_name": "Lovelace",
    "user_metadata": {"phone": "+442071234567"},
    "identities": [{"provider": "auth0", "user_id": "ada", "connection": "db"}],
}
_ALAN = {
    **_ADA,
    "user_id": "auth0|alan",
    "email": "alan@example.com",
    "given_name": "Alan",
    "user_metadata": {"phone": "020 7123 4567"},
    "identities": [{"provider": "auth0", "user_id": "alan", "connection": "db"}],
}


def _identities(tmp_path: Path) -> dict[str, dict[str, object]]:
    lines = (tmp_path / "identities.ndjson").read_text().splitlines()
    return {body["external_id"]: body for body in map(json.loads, lines)}


def test_convert_maps_custom_traits_from_the_command_line(tmp_path: Path) -> None:
    """``--trait name.first=given_name --trait phone=user_metadata.phone`` fills those traits."""
    schema = _schema_file(
        tmp_path, {"email": _EMAIL, "name": _NAME, "phone": {"type": "string"}}, ["email"]
    )
    result = _convert(
        tmp_path,
        _users(tmp_path, _ADA),
        "--schema-id",
        "customer",
        "--schema-file",
        str(schema),
        "--trait",
        "name.first=given_name",
        "--trait",
        "name.last=family_name",
        "--trait",
        "phone=user_metadata.phone",
    )
    assert result.exit_code == 0, result.output
    assert "never filled" not in result.stderr
    assert _identities(tmp_path)["auth0|ada"]["traits"] == {
        "email": "ada@example.com",
        "name": {"first": "Ada", "last": "Lovelace"},
        "phone": "+442071234567",
    }


@pytest.mark.parametrize("bad", ["name", "=given_name", "name..first=given_name", "a=b.", " =x"])
def test_convert_refuses_a_malformed_trait_option(tmp_path: Path, bad: str) -> None:
    """A ``--trait`` that is not TRAIT=FIELD with dotted paths is a usage error (exit 2)."""
    result = _convert(tmp_path, _users(tmp_path, _ADA), "--trait", bad)
    assert result.exit_code == 2, result.output
    assert "TRAIT=FIELD" in result.output + result.stderr
    assert not (tmp_path / "identities.ndjson").exists()


def test_convert_drops_a_bad_optional_trait_and_imports_the_user(tmp_path: Path) -> None:
    """A phone that is not E.164 under ``format: tel`` is left out, with a note; both imported."""
    tel = {"type": "string", "format": "tel"}
    schema = _schema_file(tmp_path, {"email": _EMAIL, "phone": tel}, ["email"])
    result = _convert(
        tmp_path,
        _users(tmp_path, _ADA, _ALAN),
        "--schema-id",
        "customer",
        "--schema-file",
        str(schema),
        "--trait",
        "phone=user_metadata.phone",
    )
    assert result.exit_code == 0, result.output
    bodies = _identities(tmp_path)
    assert bodies["auth0|ada"]["traits"] == {"email": "ada@example.com", "phone": "+442071234567"}
    assert bodies["auth0|alan"]["traits"] == {"email": "alan@example.com"}
    report = (tmp_path / "report.json").read_text()
    assert "invalid_trait_dropped" in report
    assert "7123" not in report
