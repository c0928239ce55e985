"""``auth0-ory-migrate schema``: the identity schema for migrated users (phase 2 of Ory's guide)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click

from .. import (
    DEFAULT_CONSOLE_URL,
    SchemaSuggestion,
    TraitsValidator,
    build_identity_schema,
    open_input,
    ory_patch_identity_config_command,
    read_users,
    suggest_identity_schema,
)
from ..exceptions import InputFileError, SchemaError
from ..typing import TraitName
from ._app import cli, fail_on_library_errors, option_group


_TRAITS = ("email", "name", "username", "phone")


#: Options choosing the schema: built from traits, or read from a file.
_schema_options = option_group(
    click.option(
        "--trait",
        "traits",
        multiple=True,
        type=click.Choice(_TRAITS),
        help="A trait the schema has besides the email (repeat it). Default: email only, "
        "like preset://email.",
    ),
    click.option(
        "--require",
        "required",
        multiple=True,
        type=click.Choice(_TRAITS),
        help="A trait every identity must have (default: the first identifier).",
    ),
    click.option(
        "--code-login/--no-code-login",
        default=False,
        help="Also let users sign in with a one-time code sent by email.",
    ),
    click.option(
        "--schema-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Use this identity schema (JSON) instead of building one.",
    ),
)


def _load_schema(
    traits: tuple[str, ...], required: tuple[str, ...], code_login: bool, schema_file: Path | None
) -> dict[str, Any]:
    if schema_file is not None:
        if traits or required or code_login:
            raise click.UsageError("--schema-file cannot be combined with --trait/--require")
        try:
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SchemaError(f"{schema_file}: cannot read a JSON schema ({e})") from None
        if not isinstance(schema, dict):
            raise SchemaError(f"{schema_file}: an identity schema must be a JSON object")
        TraitsValidator.from_schema(schema)  # is it an identity schema at all?
        return schema
    return build_identity_schema(
        cast("tuple[TraitName, ...]", ("email", *(t for t in traits if t != "email"))),
        required=cast("tuple[TraitName, ...]", required) if required else None,
        code_login=code_login,
    )


_SCHEMA_ID = click.option(
    "--schema-id",
    default="auth0-migration-v1",
    show_default=True,
    help="Id of the schema in the project (schemas are immutable: bump it to change one).",
)
_DEFAULT = click.option(
    "--default/--no-default",
    "make_default",
    default=True,
    show_default=True,
    help="Make it the project's default schema.",
)


@cli.group()
def schema() -> None:
    """The Ory identity schema for the migrated traits (print, command, apply)."""


def _suggest_from_export(path: Path) -> SchemaSuggestion:
    """Read the export at *path* once and suggest the schema covering its users."""
    try:
        with open_input(path) as f:  # (gzipped or not, as convert opens it)
            return suggest_identity_schema(read_users(f))
    except OSError as e:
        raise InputFileError("users", f"{path}: cannot read the export ({e.strerror})") from None


def _counts_lines(suggestion: SchemaSuggestion) -> list[str]:
    """The counts behind a suggested schema, one fact a line (for stderr)."""
    s = suggestion
    lines = [
        f"{s.users} users read ({s.unreadable} unreadable records)",
        f"  {s.with_email} with an email ({s.email_passwordless} email passwordless)",
        f"  {s.with_phone} with a phone number ({s.phone_verified} verified)",
        f"  {s.with_username} with a username",
        f"  {s.without_identifier} with none of them (no schema can hold them: skipped)",
    ]
    traits = s.schema["properties"]["traits"]
    if traits.get("anyOf"):
        names = " or ".join(r["required"][0] for r in traits["anyOf"])
        lines.append(f"required: at least one of {names} (no identifier is shared by all)")
    else:
        lines.append(f"required: {', '.join(traits['required'])} (every user has it)")
    return lines


@schema.command("print")
@_schema_options
@click.option(
    "--from-export",
    "from_export",
    type=click.Path(path_type=Path),
    help="Suggest the schema covering every user of this Auth0 export (email, username and "
    "phone traits as its users have them); the counts behind it go to stderr.",
)
@fail_on_library_errors
def print_schema(
    *,
    traits: tuple[str, ...],
    required: tuple[str, ...],
    code_login: bool,
    schema_file: Path | None,
    from_export: Path | None,
) -> None:
    """Print the identity schema as JSON."""
    if from_export is not None:
        if traits or required or code_login or schema_file is not None:
            raise click.UsageError(
                "--from-export chooses the traits itself: it cannot be combined with "
                "--trait, --require, --code-login or --schema-file"
            )
        suggestion = _suggest_from_export(from_export)
        click.echo(json.dumps(suggestion.schema, indent=2, ensure_ascii=False))
        for line in _counts_lines(suggestion):
            click.echo(line, err=True)
        return
    built = _load_schema(traits, required, code_login, schema_file)
    click.echo(json.dumps(built, indent=2, ensure_ascii=False))


@schema.command("command")
@click.option(
    "--project",
    envvar="ORY_PROJECT_ID",
    show_envvar=True,
    default="$ORY_PROJECT_ID",
    help="Ory Network project id (default: the literal $ORY_PROJECT_ID, for a script).",
)
@_SCHEMA_ID
@_DEFAULT
@_schema_options
@fail_on_library_errors
def command(
    *,
    project: str,
    schema_id: str,
    make_default: bool,
    traits: tuple[str, ...],
    required: tuple[str, ...],
    code_login: bool,
    schema_file: Path | None,
) -> None:
    """Print the `ory patch identity-config` command of Ory's guide for the schema."""
    built = _load_schema(traits, required, code_login, schema_file)
    from_env = project == "$ORY_PROJECT_ID"  # expanded by the shell, so not single-quoted
    line = ory_patch_identity_config_command(
        "PROJECT" if from_env else project, schema_id, built, make_default=make_default
    )
    if from_env:
        line = line.replace("identity-config PROJECT", 'identity-config "$ORY_PROJECT_ID"', 1)
    click.echo(
        "note: --replace '/identity/schemas=[…]' replaces every schema of the project, as in "
        "Ory's guide; `schema apply` adds this one and keeps the others.",
        err=True,
    )
    click.echo(line)


@schema.command("apply")
@click.option(
    "--project",
    envvar="ORY_PROJECT_ID",
    show_envvar=True,
    required=True,
    help="Ory Network project id.",
)
@click.option(
    "--workspace",
    envvar="ORY_WORKSPACE_ID",
    show_envvar=True,
    help="Ory Network workspace id; when given, the project must belong to it.",
)
@click.option(
    "--workspace-api-key",
    envvar="ORY_WORKSPACE_API_KEY",
    show_envvar=True,
    required=True,
    help="Workspace API key (prefer the environment variable).",
)
@click.option(
    "--console-url",
    envvar="ORY_CONSOLE_URL",
    show_envvar=True,
    default=DEFAULT_CONSOLE_URL,
    show_default=True,
    help="Ory console API base URL.",
)
@_SCHEMA_ID
@_DEFAULT
@_schema_options
@fail_on_library_errors
def apply(
    *,
    project: str,
    workspace: str | None,
    workspace_api_key: str,
    console_url: str,
    schema_id: str,
    make_default: bool,
    traits: tuple[str, ...],
    required: tuple[str, ...],
    code_login: bool,
    schema_file: Path | None,
) -> None:
    """Add the schema to an Ory Network project (through the console API)."""
    built = _load_schema(traits, required, code_login, schema_file)
    from .. import OryConsole, apply_identity_schema  # noqa: PLC0415 - ory-client: ~1 s

    with OryConsole.connect(workspace_api_key, url=console_url) as console:
        result = apply_identity_schema(
            console,
            project,
            schema_id,
            built,
            workspace_id=workspace,
            make_default=make_default,
        )
    if result.schema_added:
        click.echo(f"added schema {schema_id!r} to project {project}")
    else:
        click.echo(f"schema {schema_id!r} is already in project {project}")
    if result.default_changed:
        click.echo(f"{schema_id!r} is now the project's default schema")
    for warning in result.warnings:
        click.echo(f"warning from Ory: {warning}", err=True)
