"""``auth0-ory-migrate convert``: Auth0 exports → Ory identities file + report.

The input options and :func:`open_plan` are shared with ``migrate``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .. import (
    MappingOptions,
    MigrationPlan,
    MigrationReport,
    format_summary,
    plan_from_files,
    private_file,
    write_identities,
)
from ..exceptions import ConfigurationError
from ._app import cli, fail_on_library_errors, option_group


_File = click.Path(exists=True, dir_okay=False, path_type=Path)


def _parse_providers(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        connection, sep, provider = value.partition("=")
        if not sep or not connection.strip() or not provider.strip():
            msg = f"{value!r} is not CONNECTION=ORY_PROVIDER"
            raise click.BadParameter(msg)
        mapping[connection.strip()] = provider.strip()
    return mapping


#: The options that say what to read and how to map it (``convert`` and ``migrate``).
input_options = option_group(
    click.option(
        "--users",
        "users_path",
        type=_File,
        required=True,
        envvar="AUTH0_USERDATA",
        show_envvar=True,
        help="Auth0 user export (NDJSON, gzipped or not, JSON array or the job's CSV).",
    ),
    click.option(
        "--password-hashes",
        "hashes_path",
        type=_File,
        envvar="AUTH0_PWEXPORT",
        show_envvar=True,
        help="Password-hash export from Auth0 support (decrypted).",
    ),
    click.option(
        "--mfa-secrets", "mfa_path", type=_File, help="MFA-secrets export (TOTP secrets)."
    ),
    click.option(
        "--schema-id",
        default="preset://email",
        show_default=True,
        help="Ory identity schema id.",
    ),
    click.option(
        "--schema-file",
        type=_File,
        help="The identity schema (JSON) of --schema-id, to check every identity's traits "
        "against (preset://email is known and checked without it).",
    ),
    click.option(
        "--without-hash",
        type=click.Choice(["hook", "none"]),
        default="hook",
        show_default=True,
        help="Database users without a usable hash: Ory's password-migration hook, or no "
        "password (users reset it).",
    ),
    click.option(
        "--ignore-hashes",
        is_flag=True,
        envvar="RESERVE_ONLY",
        show_envvar=True,
        help="Use the password-migration hook for every database user, even with a hash.",
    ),
    click.option(
        "--provider",
        "providers",
        multiple=True,
        callback=_parse_providers,
        metavar="CONNECTION=ORY_PROVIDER",
        help="Map an Auth0 connection (or provider) to an Ory OIDC provider id; repeatable.",
    ),
    click.option(
        "--totp-issuer",
        default="Ory",
        show_default=True,
        help="Issuer of imported TOTP secrets.",
    ),
    click.option(
        "--strict",
        is_flag=True,
        help="Stop at the first unreadable record instead of reporting it.",
    ),
)


#: Where ``convert`` and ``migrate`` write their report.
report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="report.json",
    show_default=True,
    help="Report of every user not imported as their own identity, and every unreadable record.",
)


@contextlib.contextmanager
def open_plan(
    *,
    users_path: Path,
    hashes_path: Path | None,
    mfa_path: Path | None,
    schema_id: str,
    schema_file: Path | None,
    without_hash: str,
    ignore_hashes: bool,
    providers: dict[str, str],
    totp_issuer: str,
    strict: bool,
) -> Iterator[MigrationPlan]:
    """Read the side files and return the plan for the options of :func:`input_options`."""
    schema = None
    if schema_file is not None:
        try:
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
        except ValueError as e:
            msg = f"--schema-file {schema_file}: not JSON ({e})"
            raise ConfigurationError(msg) from e
    options = MappingOptions(  # checks itself: --ignore-hashes needs --without-hash hook
        schema_id=schema_id,
        schema=schema,
        without_hash="hook" if without_hash == "hook" else "none",
        ignore_hashes=ignore_hashes,
        totp_issuer=totp_issuer,
    ).with_providers(providers)
    yield plan_from_files(
        users_path,
        password_hashes=None if ignore_hashes else hashes_path,
        mfa_secrets=mfa_path,
        options=options,
        strict=strict,
    )


def write_report(path: Path, report: MigrationReport) -> None:
    """Write *report* as indented JSON (mode 0600: it names users)."""
    with private_file(path) as f:
        f.writelines(report.iter_json())


@cli.command()
@input_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="identities.ndjson",
    show_default=True,
    help="Identities file to write (mode 0600: it holds password hashes).",
)
@report_option
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    show_default="the CPUs this process may use, at most 8",
    help="Processes that map users (1: all in this one). The output is the same for any number.",
)
@fail_on_library_errors
def convert(out: Path, report_path: Path, jobs: int | None, **inputs: Any) -> None:
    """Turn Auth0 exports into an Ory identities file (no network).

    Every input user ends up an identity, merged into one, or skipped with a
    reason in the report; unreadable records are reported by line number.
    """
    with open_plan(**inputs) as plan, private_file(out) as f:
        report = write_identities(plan, f, jobs=jobs)
        if report.identities == 0 and report.skipped.get("invalid_traits"):
            # Nothing fits: a mapping/schema mismatch, not bad records. Write nothing.
            problem = next(s.detail for s in report.users if s.reason == "invalid_traits")
            msg = f"no user's traits fit the schema; the first: {problem}"
            raise ConfigurationError(msg)
    write_report(report_path, report)
    click.echo(format_summary(report))
    click.echo(f"wrote {out} ({report.identities:,} identities) and {report_path}")
