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
    auth0_upstream_mapper,
    auth0_upstream_provider,
    build_identity_schema,
    open_input,
    ory_patch_identity_config_command,
    ory_patch_oidc_provider_command,
    read_users,
    suggest_identity_schema,
)
from ..exceptions import ConfigurationError, InputFileError, SchemaError
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


_FROM_EXPORT = click.option(
    "--from-export",
    "from_export",
    type=click.Path(path_type=Path),
    help="Suggest the schema covering every user of this Auth0 export (email, username and "
    "phone traits as its users have them); the counts behind it go to stderr.",
)


def _the_schema(
    traits: tuple[str, ...],
    required: tuple[str, ...],
    code_login: bool,
    schema_file: Path | None,
    from_export: Path | None,
) -> dict[str, Any]:
    """The schema the options choose: suggested from an export (counts to stderr), or built."""
    if from_export is None:
        return _load_schema(traits, required, code_login, schema_file)
    if traits or required or code_login or schema_file is not None:
        raise click.UsageError(
            "--from-export chooses the traits itself: it cannot be combined with "
            "--trait, --require, --code-login or --schema-file"
        )
    suggestion = _suggest_from_export(from_export)
    for line in _counts_lines(suggestion):
        click.echo(line, err=True)
    return dict(suggestion.schema)


@schema.command("print")
@_schema_options
@_FROM_EXPORT
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
    built = _the_schema(traits, required, code_login, schema_file, from_export)
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
@_FROM_EXPORT
@click.option(
    "--auth0-upstream",
    "upstream_id",
    metavar="PROVIDER_ID",
    help="Also print the Ory provider configuration (and the command adding it) that signs "
    "users in at the Auth0 tenant during a dual run, with this provider id: the one given "
    "to `convert --auth0-upstream`.",
)
@click.option(
    "--auth0-domain",
    "auth0_domain",
    envvar="AUTH0_DOMAIN",
    show_envvar=True,
    help="With --auth0-upstream: the Auth0 tenant domain (acme.eu.auth0.com) or custom domain.",
)
@click.option(
    "--auth0-client-id",
    "auth0_client_id",
    metavar="CLIENT_ID",
    help="With --auth0-upstream: the client id of the Auth0 application Ory signs in with "
    "(a placeholder otherwise; the client secret is always one).",
)
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
    from_export: Path | None,
    upstream_id: str | None,
    auth0_domain: str | None,
    auth0_client_id: str | None,
) -> None:
    """Print the `ory patch identity-config` command of Ory's guide for the schema.

    With --auth0-upstream, a second command follows: the one adding Auth0 as an upstream
    OpenID Connect provider (the provider entry and its Jsonnet mapper go to stderr).
    """
    if upstream_id is None:
        if auth0_client_id is not None:
            raise click.UsageError("--auth0-client-id goes with --auth0-upstream PROVIDER_ID")
    elif auth0_domain is None or not auth0_domain.strip():
        raise ConfigurationError(
            "--auth0-upstream needs the tenant's domain: give --auth0-domain or set AUTH0_DOMAIN"
        )
    else:  # checked before an export is read
        auth0_upstream_provider(
            provider_id=upstream_id, domain=auth0_domain, client_id=auth0_client_id
        )
    built = _the_schema(traits, required, code_login, schema_file, from_export)
    from_env = project == "$ORY_PROJECT_ID"  # expanded by the shell, so not single-quoted
    line = ory_patch_identity_config_command(
        "PROJECT" if from_env else project, schema_id, built, make_default=make_default
    )
    click.echo(
        "note: --replace '/identity/schemas=[…]' replaces every schema of the project, as in "
        "Ory's guide; `schema apply` adds this one and keeps the others.",
        err=True,
    )
    click.echo(_for_project(line, from_env))
    if upstream_id is not None and auth0_domain is not None:
        schema_traits = cast(
            "tuple[TraitName, ...]",
            tuple(t for t in built["properties"]["traits"].get("properties", {}) if t in _TRAITS),
        )
        provider = auth0_upstream_provider(
            provider_id=upstream_id,
            domain=auth0_domain,
            client_id=auth0_client_id,
            traits=schema_traits,
        )
        _echo_upstream_notes(provider, auth0_upstream_mapper(schema_traits))
        line = ory_patch_oidc_provider_command("PROJECT" if from_env else project, provider)
        click.echo(_for_project(line, from_env))


def _for_project(line: str, from_env: bool) -> str:
    """*line* with its PROJECT placeholder as "$ORY_PROJECT_ID" when the id comes from there."""
    if not from_env:
        return line
    return line.replace("identity-config PROJECT", 'identity-config "$ORY_PROJECT_ID"', 1)


def _echo_upstream_notes(provider: dict[str, Any], mapper: str) -> None:
    """What the operator must know about the Auth0 upstream provider (on stderr)."""
    for note in (
        f"note: the second command adds Auth0 as the OIDC provider {provider['id']!r} "
        f"(issuer {provider['issuer_url']}, scopes {' '.join(provider['scope'])}).",
        "note: in the Auth0 application (a Regular Web Application), allow the callback URL "
        "https://<your Ory project slug>.projects.oryapis.com/self-service/methods/oidc/"
        f"callback/{provider['id']} (or your custom domain's).",
        f"note: client_secret is the placeholder {provider['client_secret']}: replace it in "
        "the command before running it, or set it in the Ory Console afterwards.",
        "note: the provider's Jsonnet mapper (mapper_url, base64):",
    ):
        click.echo(note, err=True)
    click.echo(mapper, err=True, nl=False)


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
@_FROM_EXPORT
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
    from_export: Path | None,
) -> None:
    """Add the schema to an Ory Network project (through the console API)."""
    built = _the_schema(traits, required, code_login, schema_file, from_export)
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
