"""``auth0-ory-migrate convert``: Auth0 exports → Ory identities file + report.

The input options and :func:`open_plan` are shared with ``migrate``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from .. import (
    AUTHZ_FILES,
    DEFAULT_TRAITS,
    MIN_HASH_JOIN_SHARE,
    AuthzData,
    EnterpriseProvider,
    MappingOptions,
    MigrationPlan,
    MigrationReport,
    PgpDecryption,
    UsersFormat,
    check_outputs,
    check_password_hash_join,
    check_users_format,
    check_users_read,
    format_summary,
    open_input,
    plan_from_files,
    private_file,
    read_authz_files,
    trait_mapping_for_schema,
    users_export_format,
    write_identities,
)
from ..exceptions import ConfigurationError, InputFileError, OutputFileError
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


def _parse_enterprise(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, EnterpriseProvider]:
    """``--enterprise CONNECTION=[saml:|oidc:]PROVIDER[@ORGANIZATION_ID]`` into a map."""
    mapping: dict[str, EnterpriseProvider] = {}
    for value in values:
        connection, sep, target = (part.strip() for part in value.partition("="))
        if not sep or not connection or not target:
            msg = f"{value!r} is not CONNECTION=PROVIDER[@ORGANIZATION_ID]"
            raise click.BadParameter(msg)
        try:
            mapping[connection] = EnterpriseProvider.parse(target)
        except ConfigurationError as e:
            raise click.BadParameter(f"{value!r}: {e}") from None
    return mapping


def _parse_traits(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """``--trait TRAIT=FIELD`` (dotted paths, as a declarative ``TraitMapping``) into a map."""
    mapping: dict[str, str] = {}
    for value in values:
        trait, sep, source = (part.strip() for part in value.partition("="))
        paths = [trait, source] if source else [trait]
        if not sep or not all(all(paths_part for paths_part in p.split(".")) for p in paths):
            msg = (
                f"{value!r} is not TRAIT=FIELD (dotted paths, e.g. name.first=given_name; "
                "an empty FIELD leaves the trait out)"
            )
            raise click.BadParameter(msg)
        mapping[trait] = source
    return mapping


def _trait_mapping(traits: dict[str, str], schema: dict[str, Any] | None) -> dict[str, str]:
    """The schema's identifiers mapped as by default, plus (or without) the ``--trait`` options."""
    default = trait_mapping_for_schema(schema or {})
    merged = {**default, **traits}
    return {trait: source for trait, source in merged.items() if source}


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
        help="Password-hash export from Auth0 support: decrypted, or OpenPGP-encrypted as "
        "support sends it (then give --pgp-key).",
    ),
    click.option(
        "--pgp-key",
        type=_File,
        help="The private key (armored or binary, e.g. `gpg --export-secret-keys ID`) to "
        "decrypt --password-hashes with, as it is read: no plaintext copy is written. Needs "
        'the pgp extra: pip install "auth0-ory-migrate[pgp]".',
    ),
    click.option(
        "--pgp-passphrase-env",
        metavar="VARIABLE",
        help="The environment variable that holds --pgp-key's passphrase (never on the "
        "command line, where every user of the machine could see it).",
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
    # Every kind of user (issue 13): enterprise SSO and Auth0 as an upstream login.
    click.option(
        "--enterprise",
        multiple=True,
        callback=_parse_enterprise,
        metavar="CONNECTION=PROVIDER[@ORGANIZATION_ID]",
        help="Map an Auth0 enterprise connection to the Ory SAML or OIDC provider its users "
        "sign in with (SAML for samlp, adfs, pingfederate, ad; OIDC for waad, okta, oidc, "
        "google-apps; force one with saml:PROVIDER or oidc:PROVIDER), optionally inside an Ory "
        "organization (UUID); repeatable.",
    ),
    click.option(
        "--auth0-upstream",
        metavar="PROVIDER_ID",
        help="The Ory OIDC provider id of Auth0 itself, for a dual run: every identity also "
        "gets an OIDC login {provider: PROVIDER_ID, subject: <Auth0 user_id>}, so every user "
        "can sign in through Auth0 until cutover (see `schema command --auth0-upstream`).",
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
    # Custom traits (issue 11): the declarative trait mapping, from the command line.
    click.option(
        "--trait",
        "traits",
        multiple=True,
        callback=_parse_traits,
        metavar="TRAIT=FIELD",
        help="Fill a trait (dotted path) from an Auth0 field (dotted path), e.g. "
        "name.first=given_name or phone=user_metadata.phone; repeatable. The email is "
        "mapped as ever (email= leaves it out). Use with --schema-id/--schema-file.",
    ),
    # Lossy inputs (issue 11): the export job's CSV cannot carry everything.
    click.option(
        "--accept-csv-losses",
        is_flag=True,
        help="Convert the export job's CSV with a hash file all the same (it has no "
        "last_password_reset: stale hashes would be imported). Better: export format: json.",
    ),
    # Roles and organizations (issue 15): the files `export --roles --organizations` wrote.
    click.option(
        "--authz",
        multiple=True,
        type=click.Choice(["metadata", "permissions", "organizations"]),
        help="Bring Auth0's roles, permissions and organizations along: metadata "
        "(metadata_admin.auth0 of each identity; every Ory plan), permissions (Ory Permissions "
        "relationships; migrate only) or organizations (Ory organizations; migrate only); "
        "repeatable. See the guide page 'Roles and organizations'.",
    ),
    click.option(
        "--authz-files",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="The folder of the roles and organizations files (auth0-roles.ndjson, ...) "
        "[default: the --users file's folder].",
    ),
    click.option(
        "--authz-public",
        is_flag=True,
        help="With --authz metadata: copy them to metadata_public.auth0_authz too, where Ory's "
        "session tokenizer can put them into tokens (the user can read them, not change them).",
    ),
    # Side files wrong as a whole (issue 11): a hash file without a hash is refused.
    click.option(
        "--allow-empty-hashes",
        is_flag=True,
        help="Accept a --password-hashes file from which no hash can be read although the "
        "users include database users (refused otherwise, as a sign of the wrong file).",
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


#: ``convert`` and ``migrate``: accept a users file without a readable user.
allow_no_users_option = click.option(
    "--allow-no-users",
    is_flag=True,
    help="Accept a users file in which no user can be read (e.g. a connection without users); "
    "refused otherwise, as a sign of the wrong file.",
)


def check_some_users(report: MigrationReport, users_path: Path, allow_no_users: bool) -> None:
    """Refuse a run in which no user was read, saying what the users file looks like."""
    if report.users_read or allow_no_users:
        return
    with open_input(users_path) as f:
        head = f.read(1 << 16)
    check_users_read(report, head, allow_no_users=allow_no_users)


#: The input files of :func:`input_options`: keyword → the option that names it.
_INPUT_FILES = {
    "users_path": "--users",
    "hashes_path": "--password-hashes",
    "pgp_key": "--pgp-key",
    "mfa_path": "--mfa-secrets",
    "schema_file": "--schema-file",
}


def check_output_files(inputs: dict[str, Any], **outputs: Path | None) -> None:
    """Refuse outputs (option → path) that clash with an input or cannot be written."""
    check_outputs(outputs, {option: inputs.get(key) for key, option in _INPUT_FILES.items()})


#: ``convert`` and ``migrate``: accept a hash file whose records do not find their users.
allow_unmatched_hashes_option = click.option(
    "--allow-unmatched-hashes",
    is_flag=True,
    help="Go on when fewer than half the password-hash records find their user (refused "
    "otherwise, as a sign of a hash file from another tenant or export).",
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
    enterprise: dict[str, EnterpriseProvider] | None = None,
    auth0_upstream: str | None = None,
    accept_csv_losses: bool = False,
    traits: dict[str, str] | None = None,
    allow_empty_hashes: bool = False,
    pgp_key: Path | None = None,
    pgp_passphrase_env: str | None = None,
    authz: tuple[str, ...] = (),
    authz_files: Path | None = None,
    authz_public: bool = False,
    authz_data: AuthzData | None = None,
    meanwhile: Callable[[], object] | None = None,
    sources: bool = False,
) -> Iterator[MigrationPlan]:
    """Read the side files and return the plan for the options of :func:`input_options`.

    *authz_data*: the roles and organizations files, read already (``migrate`` reads them
    once for the mapping and the relationships); by default read here when ``--authz`` asks.
    *meanwhile*: as for :func:`plan_from_files` (work done while the users' first pass runs).
    *sources*: as for :func:`plan_from_files` (``migrate`` and ``sync`` record them).
    """
    if authz_data is None:
        authz_data = read_authz_option(
            authz, authz_files=authz_files, authz_public=authz_public, users_path=users_path
        )
    # The encrypted hash export: the key and passphrase checked before anything else is read.
    decryption = _pgp_decryption(
        pgp_key, pgp_passphrase_env, hashes_path=hashes_path, ignore_hashes=ignore_hashes
    )
    # Lossy inputs: what the users file's kind cannot carry, refused or said before any writing.
    try:
        with open_input(users_path) as f:
            users_format: UsersFormat = users_export_format(f)
    except InputFileError:
        users_format = "ndjson"  # unreadable as a whole: reading it says why, as ever
    for warning in check_users_format(
        users_format,
        password_hashes=hashes_path is not None and not ignore_hashes,
        accept_csv_losses=accept_csv_losses,
    ):
        click.echo(f"warning: {warning}", err=True)
    schema = None
    if schema_file is not None:
        try:
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
        except ValueError as e:
            msg = f"--schema-file {schema_file}: not JSON ({e})"
            raise ConfigurationError(msg) from e
    trait_mapping = (
        _trait_mapping(traits, schema if isinstance(schema, dict) else None)
        if traits
        else DEFAULT_TRAITS  # the schema's identifiers, as MappingOptions fills them
    )
    options = MappingOptions(  # checks itself: --ignore-hashes needs --without-hash hook
        schema_id=schema_id,
        schema=schema,
        traits=trait_mapping,
        without_hash="hook" if without_hash == "hook" else "none",
        ignore_hashes=ignore_hashes,
        totp_issuer=totp_issuer,
        enterprise=enterprise or {},
        auth0_upstream=auth0_upstream,
        authz=authz_data if "metadata" in authz else None,
        authz_public=authz_public,
    ).with_providers(providers)
    if options.unfilled_traits:  # a lossy mapping, said out loud
        click.echo(
            f"warning: the schema's trait(s) {', '.join(options.unfilled_traits)} are never "
            "filled by the trait mapping (map them with --trait TRAIT=FIELD)",
            err=True,
        )
    yield plan_from_files(
        users_path,
        password_hashes=None if ignore_hashes else hashes_path,
        mfa_secrets=mfa_path,
        options=options,
        strict=strict,
        allow_empty_password_hashes=allow_empty_hashes,
        password_hashes_decryption=decryption,
        meanwhile=meanwhile,
        sources=sources,
    )


def check_authz_forms(authz: tuple[str, ...], command: str, allowed: tuple[str, ...]) -> None:
    """Refuse an ``--authz`` form *command* cannot land (before anything is read or written)."""
    refused = [form for form in authz if form not in allowed]
    if refused:
        msg = (
            f"{command} --authz {refused[0]}: {command} lands only "
            f"{' and '.join(allowed)}; land {refused[0]} with `authz land --as {refused[0]}` "
            "once the identities are in Ory"
        )
        raise ConfigurationError(msg)


def authz_folder(authz_files: Path | None, users_path: Path) -> Path:
    """Where the roles and organizations files are: ``--authz-files``, else the users export's."""
    return authz_files if authz_files is not None else users_path.parent


def read_authz_option(
    authz: tuple[str, ...],
    *,
    authz_files: Path | None,
    authz_public: bool,
    users_path: Path,
) -> AuthzData | None:
    """The roles and organizations ``--authz`` asks for (None: not asked), said on stderr."""
    if not authz:
        if authz_files is not None or authz_public:
            option = "--authz-files" if authz_files is not None else "--authz-public"
            msg = f"{option} needs --authz (metadata, permissions or organizations)"
            raise ConfigurationError(msg)
        return None
    if authz_public and "metadata" not in authz:
        msg = "--authz-public copies the metadata: it needs --authz metadata"
        raise ConfigurationError(msg)
    data = read_authz_files(authz_folder(authz_files, users_path))
    click.echo(
        f"roles and organizations: {len(data.roles):,} roles, {len(data.organizations):,} "
        f"organizations, {data.assignments:,} assignments of {len(data.users):,} users"
        + (f"; {len(data.problems):,} line(s) not used:" if data.problems else ""),
        err=True,
    )
    for problem in data.problems[:_SHOWN_PROBLEMS]:
        user = f" ({problem.user_id})" if problem.user_id else ""
        name = AUTHZ_FILES.get(problem.source, problem.source)
        click.echo(f"  {name} line {problem.line}{user}: {problem.reason}", err=True)
    if len(data.problems) > _SHOWN_PROBLEMS:
        click.echo(f"  ... and {len(data.problems) - _SHOWN_PROBLEMS:,} more", err=True)
    return data


#: How many unusable lines of the roles and organizations files are listed.
_SHOWN_PROBLEMS = 20


def _pgp_decryption(
    pgp_key: Path | None,
    passphrase_env: str | None,
    *,
    hashes_path: Path | None,
    ignore_hashes: bool,
) -> PgpDecryption | None:
    """``--pgp-key`` and ``--pgp-passphrase-env``, checked: the key read, the passphrase tried."""
    if pgp_key is None:
        if passphrase_env is not None:
            msg = "--pgp-passphrase-env: give the key it unlocks with --pgp-key"
            raise ConfigurationError(msg)
        return None
    if hashes_path is None:
        msg = "--pgp-key: give the encrypted hash export it decrypts with --password-hashes"
        raise ConfigurationError(msg)
    passphrase = None
    if passphrase_env is not None:
        passphrase = os.environ.get(passphrase_env)
        if passphrase is None:
            msg = f"--pgp-passphrase-env {passphrase_env}: no such environment variable is set"
            raise ConfigurationError(msg)
    if ignore_hashes:
        return None  # the hash file is not read
    return PgpDecryption.from_key_file(pgp_key, passphrase=passphrase)


#: The outcomes file's mode: it names no secret (user ids, outcomes, password paths, notes).
OUTCOMES_MODE = 0o644

#: ``convert``: one row per Auth0 user, in one file (issue 11).
outcomes_option = click.option(
    "--outcomes",
    "outcomes_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a CSV with one row per Auth0 user: user id, line, outcome (identity, "
    "merged into X, skipped: reason, unreadable), password (hash, hook, none), social logins "
    "kept, notes. Mode 0644: it names no secret.",
)


@contextlib.contextmanager
def outcomes_file(path: Path | None) -> Iterator[IO[bytes] | None]:
    """The outcomes file, if asked for: made as :func:`private_file` makes it, but mode 0644."""
    if path is None:
        yield None
        return
    if str(path) == "-":
        msg = "--outcomes -: give a file (stdout carries the summary)"
        raise ConfigurationError(msg)
    with private_file(path) as f:
        os.fchmod(f.fileno(), OUTCOMES_MODE)
        yield f


def warn_unused_mappings(report: MigrationReport, inputs: dict[str, Any]) -> None:
    """Warn of each ``--provider``/``--enterprise`` connection that gave no user a login.

    A typo, or another tenant's connection name: the users it meant are then in the
    summary's list of connections without a provider.
    """
    for option, key in (("--enterprise", "enterprise"), ("--provider", "providers")):
        for connection in inputs.get(key) or {}:
            if not report.logins_by_connection.get(connection):
                click.echo(
                    f"warning: {option} {connection}=...: no user of the export has a login "
                    "through this connection",
                    err=True,
                )


def write_report(path: Path, report: MigrationReport) -> None:
    """Write *report* as indented JSON (mode 0600: it names users)."""
    with private_file(path) as f:
        f.writelines(report.iter_json())


@cli.command()
@input_options
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default="identities.ndjson",
    show_default=True,
    help="Identities file to write (mode 0600: it holds password hashes; so never `-`, stdout).",
)
@report_option
@allow_no_users_option
@allow_unmatched_hashes_option
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    show_default="the CPUs this process may use, at most 8",
    help="Processes that map users (1: all in this one). The output is the same for any number.",
)
@outcomes_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but warnings and errors.")
@fail_on_library_errors
def convert(
    *,
    out: Path,
    report_path: Path,
    outcomes_path: Path | None,
    jobs: int | None,
    quiet: bool,
    allow_no_users: bool,
    allow_unmatched_hashes: bool,
    **inputs: Any,
) -> None:
    """Turn Auth0 exports into an Ory identities file (no network).

    Every input user ends up an identity, merged into one, or skipped with a
    reason in the report; unreadable records are reported by line number.
    """
    if str(out) == "-":
        # stdout cannot be made mode 0600, nor written whole or not at all, and carries the summary.
        msg = "--out -: the identities file holds password hashes: give a file (made mode 0600)"
        raise ConfigurationError(msg)
    check_authz_forms(inputs.get("authz", ()), "convert", ("metadata",))
    outputs = {"--out": out, "--report": report_path, "--outcomes": outcomes_path}
    check_output_files(inputs, **outputs)
    # The identities file gets its name last: after the report and the outcomes file.
    with open_plan(**inputs) as plan:
        try:
            report = _write_outputs(
                plan,
                out=out,
                report_path=report_path,
                outcomes_path=outcomes_path,
                jobs=jobs,
                users_path=inputs["users_path"],
                allow_no_users=allow_no_users,
                allow_unmatched_hashes=allow_unmatched_hashes,
            )
        except OutputFileError:
            click.echo("the run so far:", err=True)
            click.echo(format_summary(plan.report_so_far()), err=True)
            raise
    warn_unused_mappings(report, inputs)
    if not quiet:
        click.echo(format_summary(report))
        also = f", {outcomes_path}" if outcomes_path is not None else ""
        click.echo(f"wrote {out} ({report.identities:,} identities){also} and {report_path}")


def _write_outputs(
    plan: MigrationPlan,
    *,
    out: Path,
    report_path: Path,
    outcomes_path: Path | None,
    jobs: int | None,
    users_path: Path,
    allow_no_users: bool,
    allow_unmatched_hashes: bool,
) -> MigrationReport:
    """Write the identities, the report and the outcomes: all of them under their names, or none."""
    with private_file(out) as f, outcomes_file(outcomes_path) as outcomes:
        report = write_identities(plan, f, jobs=jobs, outcomes=outcomes)
        if report.identities == 0 and report.skipped.get("invalid_traits"):
            # Nothing fits: a mapping/schema mismatch, not bad records. Write nothing.
            problem = next(s.detail for s in report.users if s.reason == "invalid_traits")
            msg = f"no user's traits fit the schema; the first: {problem}"
            raise ConfigurationError(msg)
        check_some_users(report, users_path, allow_no_users)
        # A hash file that does not join its users: refused before the files get their names.
        share = -1 if allow_unmatched_hashes else MIN_HASH_JOIN_SHARE
        check_password_hash_join(plan, min_share=share)
        # The report first: if it cannot be written, neither is the identities file (both or
        # neither, under their final names).
        write_report(report_path, report)
    return report
