"""``auth0-ory-migrate authz``: Auth0's roles, permissions and organizations, landed in Ory.

``--authz metadata`` folds them into the identity bodies (``convert``, ``migrate``, ``sync``);
this module lands the two other forms once the identities are in Ory - relationships in Ory
Permissions and Ory organizations - and checks and undoes them. ``migrate --authz
permissions|organizations`` runs the same :func:`land_authz` after its import.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import (
    DEFAULT_CONSOLE_URL,
    ORGANIZATION_NAMESPACE,
    ROLE_NAMESPACE,
    Auth0User,
    AuthzData,
    Ledger,
    OrganizationPlan,
    UserLogins,
    open_input,
    permission_namespaces,
    plan_organizations,
    read_authz_files,
    read_users,
    relation_tuples,
    role_relation_names,
)
from ..exceptions import ConfigurationError, InputFileError, OryError
from ._app import EXIT_OK, EXIT_SOME_FAILED, cli, fail_on_library_errors, option_group
from .ory import _confirm, _Display, _ory_options, _state_dir_option, answering_ory


if TYPE_CHECKING:
    from .. import OryAdmin, OryConsole


#: What ``--as`` can land (``metadata`` goes into the bodies: ``convert``/``migrate``/``sync``).
LANDED_FORMS = ("permissions", "organizations")

_files_option = click.option(
    "--authz-files",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="The folder of the roles and organizations files `export --roles --organizations` "
    "wrote (auth0-roles.ndjson, ...).",
)
_forms_option = click.option(
    "--as",
    "forms",
    multiple=True,
    type=click.Choice(LANDED_FORMS),
    default=("permissions",),
    show_default=True,
    help="What to land them as: Ory Permissions relationships, Ory organizations (Ory "
    "Network B2B); repeatable.",
)
_report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The report of the convert/migrate run: users merged into another user's identity "
    "get their roles on that identity (without it, they are counted as not in Ory).",
)
_console_opts = option_group(
    click.option(
        "--project",
        envvar="ORY_PROJECT_ID",
        show_envvar=True,
        help="Ory Network project id (--as organizations).",
    ),
    click.option(
        "--workspace-api-key",
        envvar="ORY_WORKSPACE_API_KEY",
        show_envvar=True,
        help="Workspace API key, for the organizations (prefer the environment variable).",
    ),
    click.option(
        "--console-url",
        envvar="ORY_CONSOLE_URL",
        show_envvar=True,
        default=DEFAULT_CONSOLE_URL,
        show_default=True,
        help="Ory console API base URL.",
    ),
)


@cli.group()
def authz() -> None:
    """Roles, permissions and organizations from Auth0 in Ory (after the import).

    `--authz metadata` of convert/migrate/sync puts them into each identity's metadata; these
    commands land them as Ory Permissions relationships or Ory organizations, check them and
    remove exactly what they made. See the guide page "Roles and organizations".
    """


def merged_holders(report_path: Path | None) -> dict[str, str]:
    """Merged user → the user holding its identity, from a convert/migrate report file."""
    if report_path is None:
        return {}
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        users = report["users"]
        return {
            u["auth0_user_id"]: u["holder"]
            for u in users
            if u.get("outcome") == "merged" and isinstance(u.get("holder"), str)
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        msg = f"--report {report_path}: not the report of a convert or migrate run ({e!r})"
        raise InputFileError("report", msg) from e


def identity_lookup(ledger: Ledger, merged: Mapping[str, str]) -> Callable[[str], str | None]:
    """The Ory identity id of an Auth0 user (merged users: their holder's), from the ledger."""
    records = ledger.imported_records()

    def identity_of(user_id: str) -> str | None:
        record = records.get(merged.get(user_id, user_id))
        return record.identity_id if record is not None else None

    return identity_of


def _user_logins(users_path: Path | None, wanted: Iterable[str]) -> dict[str, UserLogins]:
    if users_path is None:
        msg = "--as organizations needs --users (the users export: how members sign in)"
        raise ConfigurationError(msg)
    want = set(wanted)
    logins: dict[str, UserLogins] = {}
    with open_input(users_path) as f:
        for user in read_users(f):
            if isinstance(user, Auth0User) and user.user_id in want:
                logins[user.user_id] = UserLogins.from_user(user)
    return logins


def _console(project: str | None, key: str | None, url: str) -> OryConsole:
    if not project or not key:
        msg = (
            "--as organizations needs --project and --workspace-api-key (Ory organizations are "
            "made through the console API)"
        )
        raise ConfigurationError(msg)
    from .. import OryConsole  # noqa: PLC0415 - ory-client: ~1 s

    return OryConsole.connect(key, url=url)


def _say_unmapped(plan: OrganizationPlan, fallback: bool) -> None:
    for org in plan.unmapped:
        click.echo(f"not an Ory organization: {org.organization_id} ({org.name}): {org.reason}")
    shown = plan.members_unmapped[:20]
    for member in shown:
        click.echo(
            f"  member not moved: {member.user_id} of {member.organization_id}: {member.reason}"
        )
    if len(plan.members_unmapped) > len(shown):
        click.echo(f"  ... and {len(plan.members_unmapped) - len(shown):,} more members")
    if plan.unmapped and not fallback:
        click.echo(
            "warning: these organizations' memberships are not landed by this run: add --as "
            "permissions (unless the identities were imported with --authz metadata)",
            err=True,
        )


def check_namespaces(data: AuthzData, ory_url: str, api_key: str | None) -> None:
    """Refuse (exit 2, nothing sent) relationships Ory Permissions has no namespace for."""
    from .. import OryPermissions  # noqa: PLC0415 - ory-client: ~1 s, not for --help

    wanted = [ROLE_NAMESPACE] if data.roles else []
    if data.organizations:
        wanted.append(ORGANIZATION_NAMESPACE)
    with OryPermissions.from_url(ory_url, api_key) as permissions:
        for namespace in wanted:
            try:
                permissions.list(namespace, page_size=1)
            except OryError as e:
                if e.status != 404:
                    raise
                msg = (
                    f"Ory Permissions has no namespace {namespace!r}: deploy the namespaces "
                    "first (`auth0-ory-migrate authz namespaces --authz-files DIR > "
                    "namespaces.ts`, then `ory update opl --file namespaces.ts`)"
                )
                raise ConfigurationError(msg) from e


def land_authz(
    forms: Iterable[str],
    data: AuthzData,
    *,
    ledger: Ledger,
    ory: OryAdmin | None,
    ory_url: str,
    api_key: str | None,
    merged: Mapping[str, str],
    users_path: Path | None,
    chunk_size: int,
    quiet: bool,
    project: str | None = None,
    workspace_api_key: str | None = None,
    console_url: str = DEFAULT_CONSOLE_URL,
) -> int:
    """Land *data* in the chosen forms; print what was done; return the exit status.

    *ory* (the identity API) is needed for ``organizations`` only (the members' identities).
    """
    from .. import (  # noqa: PLC0415 - ory-client: ~1 s, not for --help
        OryPermissions,
        assign_organization_members,
        create_organizations,
        land_relation_tuples,
    )

    forms = tuple(dict.fromkeys(forms))
    status = EXIT_OK
    identity_of = identity_lookup(ledger, merged)
    if "organizations" in forms:
        if ory is None:
            msg = "organizations: the members' identities need Ory's identity API"
            raise ConfigurationError(msg)
        console = _console(project, workspace_api_key, console_url)
        plan = plan_organizations(data, _user_logins(users_path, data.users))
        with console:
            made = create_organizations(plan, console, project or "", state_dir=ledger)
        joined = assign_organization_members(
            plan, made.organizations, ory, identity_of, state_dir=ledger
        )
        click.echo(
            f"organizations: {len(plan.mapped):,} of {len(data.organizations):,} are Ory "
            f"organizations (created {made.created:,}, earlier {made.already:,}); members "
            f"joined {joined.members:,}, earlier {joined.already:,}, not in Ory "
            f"{joined.not_in_ory:,}"
        )
        _say_unmapped(plan, "permissions" in forms)
        if joined.not_in_ory or (plan.unmapped and "permissions" not in forms):
            status = EXIT_SOME_FAILED
    if "permissions" in forms:
        tuples = relation_tuples(data, identity_of)
        display = _Display(quiet, total=None, unit="tuple", what="relationships")
        try:
            with OryPermissions.from_url(ory_url, api_key) as permissions:
                result = land_relation_tuples(
                    tuples,
                    permissions,
                    state_dir=ledger,
                    chunk_size=chunk_size,
                    progress=lambda done, _total: display.update(done),
                )
        finally:
            display.close()
        click.echo(
            f"relationships: sent {result.sent:,} in {result.requests:,} requests (again after "
            f"an interruption: {result.resent:,}), landed earlier {result.already:,}, already "
            f"in Ory {result.existing:,}"
        )
        if tuples.users_not_in_ory:
            click.echo(
                f"not landed: {tuples.assignments_skipped:,} assignments of "
                f"{tuples.users_not_in_ory:,} users with no Ory identity (skipped at import: "
                "see its report"
                + ("" if merged else "; users merged at import need --report")
                + ")"
            )
            status = EXIT_SOME_FAILED
    return status


def undo_landed_relationships(ledger: Ledger, *, ory_url: str, api_key: str | None) -> None:
    """``undo``: the relationships ``authz land`` made go before the identities they name.

    Organizations need the workspace key: ``undo`` names the command that removes them.
    """
    from .. import AUTHZ_LEDGER_FILE, OryPermissions, undo_relation_tuples  # noqa: PLC0415

    path = ledger.state_dir / AUTHZ_LEDGER_FILE
    if not path.exists():
        return
    with OryPermissions.from_url(ory_url, api_key) as permissions:
        result = undo_relation_tuples(permissions, state_dir=ledger)
    if result.sent or result.requests:
        click.echo(
            f"relationships `authz land` made: deleted {result.sent:,} "
            f"in {result.requests:,} requests"
        )
    if result.organizations_left:
        click.echo(
            f"warning: {result.organizations_left:,} Ory organization(s) `authz land --as "
            "organizations` made are left: remove them with `authz undo --project ... "
            "--workspace-api-key ...`",
            err=True,
        )


def _renamed_roles(data: AuthzData) -> None:
    for role_id, relation in role_relation_names(data).items():
        name = data.roles[role_id].name if role_id in data.roles else role_id
        if relation != name:
            click.echo(f"note: role {name!r} is the relation {relation!r}", err=True)


@authz.command()
@_files_option
@fail_on_library_errors
def namespaces(*, authz_files: Path) -> None:
    """Print the Ory Permission Language namespaces of the exported roles (a .ts file)."""
    data = read_authz_files(authz_files)
    _renamed_roles(data)
    click.echo(permission_namespaces(data), nl=False)


@authz.command()
@_files_option
@_forms_option
@_ory_options
@_state_dir_option
@_report_option
@click.option(
    "--users",
    "users_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The users export (--as organizations: how each member signs in).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 1000),
    default=40,
    show_default=True,
    help="Relationships per request (about 40 is what Ory Network takes reliably).",
)
@_console_opts
@fail_on_library_errors
def land(
    *,
    authz_files: Path,
    forms: tuple[str, ...],
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    state_dir: Path,
    report_path: Path | None,
    users_path: Path | None,
    chunk_size: int,
    project: str | None,
    workspace_api_key: str | None,
    console_url: str,
) -> None:
    """Land the roles and organizations on the identities the import put in Ory.

    Exactly once and resumable: every request is recorded in the state directory before it
    is sent and after; run it again after an interruption. Exit status 1 when an assignment
    could not be landed (its user is not in Ory), with the count.
    """
    data = read_authz_files(authz_files)
    merged = merged_holders(report_path)
    if "organizations" in forms:
        _console(project, workspace_api_key, console_url).close()  # (options checked first)
        if users_path is None:
            _user_logins(None, ())
    with Ledger.open_existing(state_dir) as ledger:
        ory = answering_ory(ory_url, api_key, 4)
        if "permissions" in forms:
            check_namespaces(data, ory_url, api_key)
        status = land_authz(
            forms,
            data,
            ledger=ledger,
            ory=ory,
            ory_url=ory_url,
            api_key=api_key,
            merged=merged,
            users_path=users_path,
            chunk_size=chunk_size,
            quiet=quiet,
            project=project,
            workspace_api_key=workspace_api_key,
            console_url=console_url,
        )
    sys.exit(status)


def verify_authz(
    authz_files: Path,
    *,
    ory_url: str,
    api_key: str | None,
    state_dir: Path,
    report_path: Path | None,
) -> bool:
    """Read the relationships back and print what is missing or extra; True when all is well."""
    from .. import OryPermissions, verify_relation_tuples  # noqa: PLC0415

    data = read_authz_files(authz_files)
    merged = merged_holders(report_path)
    with Ledger.open_existing(state_dir) as ledger:
        answering_ory(ory_url, api_key, 4)
        tuples = relation_tuples(data, identity_lookup(ledger, merged))
        with OryPermissions.from_url(ory_url, api_key) as permissions:
            check = verify_relation_tuples(tuples, permissions)
    click.echo(
        f"relationships: expected {check.expected:,}, present {check.present:,}, missing "
        f"{len(check.missing):,}, extra {len(check.extra):,}"
    )
    for t in check.missing[:_SHOWN]:
        click.echo(f"  missing: {t}")
    for t in check.extra[:_SHOWN]:
        click.echo(f"  extra: {t}")
    if tuples.users_not_in_ory:
        click.echo(
            f"not checked: {tuples.assignments_skipped:,} assignments of "
            f"{tuples.users_not_in_ory:,} users with no Ory identity"
        )
    return check.ok and not tuples.users_not_in_ory


#: How many missing or extra relationships are listed.
_SHOWN = 20


@authz.command()
@_files_option
@_ory_options
@_state_dir_option
@_report_option
@fail_on_library_errors
def verify(
    *,
    authz_files: Path,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    state_dir: Path,
    report_path: Path | None,
) -> None:
    """Check the relationships: every exported assignment in Ory, nothing extra (reads only)."""
    del quiet
    ok = verify_authz(
        authz_files,
        ory_url=ory_url,
        api_key=api_key,
        state_dir=state_dir,
        report_path=report_path,
    )
    sys.exit(EXIT_OK if ok else EXIT_SOME_FAILED)


@authz.command()
@_ory_options
@_state_dir_option
@_console_opts
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@fail_on_library_errors
def undo(
    *,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    state_dir: Path,
    project: str | None,
    workspace_api_key: str | None,
    console_url: str,
    yes: bool,
) -> None:
    """Remove exactly the relationships and organizations `authz land` made (nothing else)."""
    from .. import (  # noqa: PLC0415
        OryPermissions,
        undo_organizations,
        undo_relation_tuples,
    )

    del quiet
    if not yes:
        _confirm(
            f"Remove the relationships and organizations recorded in {state_dir}?",
            "nothing removed",
        )
    with Ledger.open_existing(state_dir) as ledger:
        ory = answering_ory(ory_url, api_key, 4)
        if project and workspace_api_key:
            with _console(project, workspace_api_key, console_url) as console:
                orgs = undo_organizations(console, project, ory, state_dir=ledger)
            click.echo(f"organizations: deleted {orgs.created:,}, members cleared {orgs.members:,}")
        else:
            click.echo(
                "organizations: not looked at (give --project and --workspace-api-key to undo "
                "those `authz land --as organizations` made)",
                err=True,
            )
        with OryPermissions.from_url(ory_url, api_key) as permissions:
            result = undo_relation_tuples(permissions, state_dir=ledger)
    click.echo(f"relationships: deleted {result.sent:,} in {result.requests:,} requests")
