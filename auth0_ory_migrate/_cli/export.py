"""``auth0-ory-migrate export``: the Auth0 bulk user export job, downloaded to a file."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import IO, Any

import click
from click.core import ParameterSource
from tqdm import tqdm

from .. import (
    AUTHZ_FILES,
    EXPORT_TIMEOUT,
    AuthzExportProgress,
    ExportProgress,
    ExportScope,
    PollPolicy,
    export_scope_path,
    private_file,
)
from ._app import cli, fail_on_library_errors


@functools.cache  # one handler per process, however many commands run in it
def _explicit(ctx: click.Context, name: str) -> bool:
    """Whether the option was given on the command line (not from the environment/default)."""
    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.PROMPT)


class _Display:
    """What the progress displays share: the stream (stderr), whether a terminal, the bar."""

    def __init__(self, quiet: bool, stream: IO[str] | None = None) -> None:
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: tqdm[Any] | None = None
        self._phase = ""

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _ProgressDisplay(_Display):
    """Shows an :class:`ExportProgress` on stderr: a bar on a terminal, plain lines otherwise."""

    def __init__(self, quiet: bool, stream: IO[str] | None = None) -> None:
        super().__init__(quiet, stream)
        self._last: tuple[str, int | None] | None = None

    def __call__(self, progress: ExportProgress) -> None:
        if self.quiet:
            return
        if self.tty:
            self._show_bar(progress)
        else:
            self._show_line(progress)

    def _show_bar(self, p: ExportProgress) -> None:
        if p.phase != self._phase:
            self.close()
            self._phase = p.phase
            if p.phase == "waiting":
                self._bar = tqdm(
                    total=100, unit="%", desc=f"Auth0 job {p.job_id}", file=self.stream
                )
            elif p.phase == "downloading":
                self._bar = tqdm(
                    total=p.bytes_total,
                    unit="B",
                    unit_scale=True,
                    desc="download",
                    file=self.stream,
                )
        bar = self._bar
        if bar is None:
            return
        if p.phase == "waiting":
            bar.n = p.percentage_done or 0
            left = f", ~{p.time_left_seconds} s left" if p.time_left_seconds else ""
            bar.set_postfix_str(f"{p.status}{left}", refresh=False)
        else:
            bar.n = p.bytes_downloaded
        bar.refresh()

    def _show_line(self, p: ExportProgress) -> None:
        if p.phase == "waiting":
            key = (p.status, p.percentage_done)
            if key == self._last:
                return
            self._last = key
            done = f", {p.percentage_done}% done" if p.percentage_done is not None else ""
            left = f", about {p.time_left_seconds} s left" if p.time_left_seconds else ""
            click.echo(f"Auth0 export job {p.job_id}: {p.status}{done}{left}", file=self.stream)
        elif p.phase == "downloading" and self._phase != "downloading":
            self._phase = "downloading"
            click.echo("downloading the export file...", file=self.stream)


class _AuthzProgressDisplay(_Display):
    """Shows an :class:`AuthzExportProgress` on stderr: a bar on a terminal, lines otherwise."""

    def __init__(self, quiet: bool, stream: IO[str] | None = None) -> None:
        super().__init__(quiet, stream)
        self._tenth = -1

    def __call__(self, p: AuthzExportProgress) -> None:
        if self.quiet:
            return
        if p.phase != self._phase:
            self.close()
            self._phase, self._tenth = p.phase, -1
            if p.phase in ("roles", "organizations"):
                if p.phase == "roles" or not p.roles:
                    click.echo(
                        f"Auth0: {p.roles} roles, {p.organizations} organizations to export",
                        file=self.stream,
                    )
                if self.tty:
                    self._bar = tqdm(
                        total=p.total, unit=p.phase[:-1], desc=p.phase, file=self.stream
                    )
            elif p.phase == "counting":
                click.echo("Auth0: counting roles and organizations...", file=self.stream)
        if self._bar is not None:
            self._bar.n = p.done
            self._bar.set_postfix_str(f"{p.lines} member lines", refresh=False)
            self._bar.refresh()
        elif p.phase in ("roles", "organizations") and p.total:
            tenth = 10 * p.done // p.total
            if tenth != self._tenth:
                self._tenth = tenth
                click.echo(
                    f"{p.phase}: {p.done} of {p.total} done, {p.lines} member lines",
                    file=self.stream,
                )


@cli.command("export")
@click.option(
    "--domain",
    "--auth0-domain",
    "domain",
    envvar="AUTH0_DOMAIN",
    show_envvar=True,
    required=True,
    help="Auth0 tenant domain (acme.eu.auth0.com; https), or a URL. Plain http is accepted "
    "for 127.0.0.1/localhost only.",
)
@click.option(
    "--token",
    envvar="AUTH0_TOKEN",
    show_envvar=True,
    help="Management API token with the read:users scope (and read:connections for --connection; "
    "for --roles: read:roles, read:users; for --organizations: read:organizations, "
    "read:organization_members, read:organization_member_roles, "
    "read:organization_connections).",
)
@click.option(
    "--client-id",
    envvar="AUTH0_CLIENT_ID",
    show_envvar=True,
    help="Instead of --token: a machine-to-machine application authorised for the "
    "Management API (the token is fetched for you).",
)
@click.option(
    "--client-secret", envvar="AUTH0_CLIENT_SECRET", show_envvar=True, help="Its client secret."
)
@click.option(
    "--connection-id",
    envvar="AUTH0_CONNECTION_ID",
    show_envvar=True,
    metavar="CON_ID",
    help="Export the users of this connection (con_...).",
)
@click.option(
    "--connection",
    "connection_name",
    metavar="NAME",
    help="Export the users of the connection with this name "
    "(e.g. Username-Password-Authentication).",
)
@click.option(
    "--all-connections",
    is_flag=True,
    help="Export every user of the tenant: database, social, enterprise and passwordless.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("auth0-users.ndjson.gz"),
    show_default=True,
    help="File to write: the export as Auth0 serves it (gzipped NDJSON), mode 0600, written "
    "to a temporary file and renamed when complete. `convert` reads it directly.",
)
@click.option(
    "--roles",
    "export_roles",
    is_flag=True,
    help="Also export roles, their permissions and their direct members, next to --out "
    f"({AUTHZ_FILES['roles']}, {AUTHZ_FILES['role_members']}). Without a choice of users "
    "(--connection-id, --connection, --all-connections, --job-id), only these are exported.",
)
@click.option(
    "--organizations",
    "export_organizations",
    is_flag=True,
    help="Also export organizations, their enabled connections and their members with "
    f"their roles, next to --out ({AUTHZ_FILES['organizations']}, "
    f"{AUTHZ_FILES['organization_members']}). An interrupted roles or organizations export "
    "continues where it stopped when run again.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Export at most this many users (and roles, and organizations): a trial run.",
)
@click.option(
    "--job-id",
    metavar="JOB_ID",
    help="Resume an export job started earlier (e.g. after --timeout) instead of starting one.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=EXPORT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the job to complete.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds before the first status check while Auth0 gives no estimate; later checks "
    "follow Auth0's time-left estimate or back off, up to 30 s apart.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@fail_on_library_errors
def export(
    *,
    domain: str,
    token: str | None,
    client_id: str | None,
    client_secret: str | None,
    connection_id: str | None,
    connection_name: str | None,
    all_connections: bool,
    out: Path,
    export_roles: bool,
    export_organizations: bool,
    limit: int | None,
    job_id: str | None,
    timeout: float,
    poll_interval: float,
    quiet: bool,
) -> None:
    """Export users from Auth0 with the Management API's bulk export job.

    Creates the export job (once), waits for it while showing its state, progress and time
    left, and downloads the file, checking it is complete. Say which users: --connection-id
    (or AUTH0_CONNECTION_ID), --connection NAME, or --all-connections. --roles and
    --organizations also export roles, role members, organizations and their members (with
    or without the users), next to --out: counted first, then walked page by page (role ->
    users), resumable after an interruption.

    \b
    Examples:
      export AUTH0_DOMAIN=acme.eu.auth0.com AUTH0_TOKEN=...
      auth0-ory-migrate export --connection Username-Password-Authentication
      auth0-ory-migrate export --all-connections --out auth0-users.ndjson.gz
      auth0-ory-migrate export --all-connections --roles --organizations
      auth0-ory-migrate export --roles --organizations --limit 5
    """  # noqa: D301 - \b (backspace) is click's "keep these lines as they are" mark
    ctx = click.get_current_context()
    # Credentials: what the command line says beats the environment; both at once is an error.
    token_explicit = _explicit(ctx, "token")
    credentials_explicit = _explicit(ctx, "client_id") or _explicit(ctx, "client_secret")
    if token and (client_id or client_secret):
        if token_explicit and not credentials_explicit:
            client_id = client_secret = None
        elif credentials_explicit and not token_explicit:
            token = None
        else:
            raise click.UsageError(
                "give --token (AUTH0_TOKEN) or --client-id/--client-secret "
                "(AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET), not both"
            )
    if not token and not (client_id and client_secret):
        raise click.UsageError(
            "Auth0 credentials missing: --token (AUTH0_TOKEN), or --client-id and "
            "--client-secret (AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET)"
        )

    # Which users: one explicit choice, else AUTH0_CONNECTION_ID.
    chosen = [
        name
        for name, given in (
            ("--connection-id", connection_id is not None and _explicit(ctx, "connection_id")),
            ("--connection", connection_name is not None),
            ("--all-connections", all_connections),
        )
        if given
    ]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one of {', '.join(chosen)}")
    if chosen and chosen[0] != "--connection-id":
        connection_id = None
    authz = export_roles or export_organizations
    users = bool(chosen) or job_id is not None or (connection_id is not None and not authz)
    if authz:
        _check_authz_directory(out)
    if not users and not authz:
        raise click.UsageError(
            "say which users to export: --connection-id CON_ID (or AUTH0_CONNECTION_ID), "
            "--connection NAME, or --all-connections"
        )

    from .. import Auth0Exporter  # noqa: PLC0415 - auth0-python loads in ~1 s: not for --help

    exporter = Auth0Exporter.connect(
        domain,
        token=token,
        client_id=client_id,
        client_secret=client_secret,
        timeout=timeout,
        poll=PollPolicy(initial=poll_interval, min_interval=poll_interval),
    )
    with exporter:
        if users:
            _export_users(
                exporter,
                out,
                connection_id=connection_id,
                connection_name=connection_name,
                limit=limit,
                job_id=job_id,
                quiet=quiet,
            )
        if authz:
            _export_authz(
                exporter,
                out,
                roles=export_roles,
                organizations=export_organizations,
                limit=limit,
                quiet=quiet,
            )


def _check_authz_directory(out: Path) -> None:
    if not out.parent.is_dir():
        raise click.UsageError(
            f"the folder {out.parent} (of --out) does not exist: the roles and organizations "
            "files are written there"
        )


def _export_authz(
    exporter: Any,
    out: Path,
    *,
    roles: bool,
    organizations: bool,
    limit: int | None,
    quiet: bool,
) -> None:
    from .. import Auth0Authz, export_authz  # noqa: PLC0415 - auth0-python: not for --help

    display = _AuthzProgressDisplay(quiet)
    try:
        result = export_authz(
            Auth0Authz.of(exporter),
            out.parent,
            roles=roles,
            organizations=organizations,
            limit=limit,
            progress=display,
        )
    finally:
        display.close()
    if not quiet:
        parts = []
        if roles:
            parts.append(f"{result.roles} roles ({result.role_members} direct assignments)")
        if organizations:
            parts.append(
                f"{result.organizations} organizations ({result.organization_members} memberships)"
            )
        resumed = " (resumed)" if result.resumed else ""
        click.echo(f"exported {' and '.join(parts)} to {result.files.directory}{resumed}", err=True)


def _export_users(
    exporter: Any,
    out: Path,
    *,
    connection_id: str | None,
    connection_name: str | None,
    limit: int | None,
    job_id: str | None,
    quiet: bool,
) -> None:
    display = _ProgressDisplay(quiet)
    try:
        result = exporter.export(
            out,
            connection_id=connection_id,
            connection=connection_name,
            limit=limit,
            job_id=job_id,
            progress=display,
        )
    finally:
        display.close()
    # What `sync` needs to tell a deleted user from one outside a partial export.
    scope = ExportScope(
        connection_id=result.connection_id,
        limit=limit,
        job_id=result.job_id,
        users=result.users,
        known=job_id is None,
    )
    with private_file(export_scope_path(result.path)) as f:
        f.write(scope.to_json().encode() + b"\n")
    if not quiet:
        which = f"connection {result.connection_id}" if result.connection_id else "all connections"
        click.echo(
            f"exported {result.users} users ({which}, job {result.job_id}) to {result.path}",
            err=True,
        )
