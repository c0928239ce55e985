"""``auth0-ory-migrate hook serve``: run the password-migration hook on waitress."""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from collections.abc import Mapping
from typing import Any

import click

from .. import DEFAULT_SECRET_HEADER, HookSettings, ory_hook_config
from ._app import cli, fail_on_library_errors


def _yaml(value: Any, indent: int = 0) -> list[str]:
    """A tiny YAML rendering of nested dicts of JSON scalars (JSON strings are YAML strings)."""
    lines: list[str] = []
    pad = "  " * indent
    for key, item in value.items():
        if isinstance(item, Mapping):
            lines.append(f"{pad}{key}:")
            lines.extend(_yaml(item, indent + 1))
        else:
            lines.append(f"{pad}{key}: {json.dumps(item)}")
    return lines


def config_snippet(url: str, secret_header: str, secret: str | None) -> str:
    """The Ory configuration to paste: YAML for kratos.yml and the `ory` CLI line."""
    config = ory_hook_config(url, secret_header=secret_header, secret=secret)
    hook = config["selfservice"]["methods"]["password"]["config"]["migrate_hook"]
    patch = "/selfservice/methods/password/config/migrate_hook=" + json.dumps(
        hook, separators=(",", ":")
    )
    return "\n".join(
        [
            "# Self-hosted Ory Kratos (kratos.yml):",
            *_yaml(config),
            "",
            "# Ory Network:",
            f'ory patch identity-config "$ORY_PROJECT_ID" --replace {shlex.quote(patch)}',
        ]
    )


@cli.group()
def hook() -> None:
    """The password-migration hook: Ory asks it, it asks Auth0."""


@hook.command("serve")
@click.option(
    "--host",
    envvar="HOOK_HOST",
    show_envvar=True,
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface; put TLS in front of it).",
)
@click.option(
    "--port",
    envvar="HOOK_PORT",
    show_envvar=True,
    type=click.IntRange(0, 65535),
    default=8085,
    show_default=True,
    help="TCP port to listen on.",
)
@click.option(
    "--auth0-domain",
    "--domain",
    "auth0_domain",
    envvar="AUTH0_DOMAIN",
    show_envvar=True,
    required=True,
    help="Auth0 tenant domain (tenant.eu.auth0.com; https), or a URL. Plain http is accepted "
    "for 127.0.0.1/localhost only.",
)
@click.option(
    "--client-id",
    envvar="AUTH0_CLIENT_ID",
    show_envvar=True,
    required=True,
    help="Auth0 application with the Password grant enabled.",
)
@click.option(
    "--client-secret",
    envvar="AUTH0_CLIENT_SECRET",
    show_envvar=True,
    required=True,
    help="Its client secret (prefer the environment variable).",
)
@click.option(
    "--connection",
    envvar="AUTH0_CONNECTION",
    show_envvar=True,
    default="Username-Password-Authentication",
    show_default=True,
    help="The Auth0 database connection (the password grant's realm).",
)
@click.option(
    "--secret",
    envvar="MIGRATION_HOOK_SECRET",
    show_envvar=True,
    required=True,
    help="Shared secret Ory must send (16+ characters; prefer the environment variable).",
)
@click.option(
    "--secret-header",
    envvar="MIGRATION_HOOK_SECRET_HEADER",
    show_envvar=True,
    default=DEFAULT_SECRET_HEADER,
    show_default=True,
    help="Header carrying the shared secret.",
)
@click.option(
    "--client-ip-header",
    envvar="MIGRATION_HOOK_CLIENT_IP_HEADER",
    show_envvar=True,
    help="Header holding the end user's IP (set by your proxy), forwarded to Auth0.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    envvar="MIGRATION_HOOK_TRUSTED_PROXIES",
    show_envvar=True,
    multiple=True,
    metavar="CIDR",
    help="Your own proxy's address or network (10.0.0.0/8); repeatable (the environment "
    "variable: separated by spaces). The end user's IP is the right-most address of "
    "--client-ip-header that is not one of these.",
)
@click.option(
    "--mfa-required-means",
    envvar="MIGRATION_HOOK_MFA_REQUIRED_MEANS",
    show_envvar=True,
    type=click.Choice(["password_match", "error"]),
    default="password_match",
    show_default=True,
    help="What Auth0's mfa_required (given only after a right password) tells Ory: the "
    "password matches (Ory's own second factor then applies), or an error (409).",
)
@click.option(
    "--log-identifiers",
    envvar="MIGRATION_HOOK_LOG_IDENTIFIERS",
    show_envvar=True,
    is_flag=True,
    help="Log login identifiers in clear (default: a short keyed hash).",
)
@click.option(
    "--threads",
    envvar="HOOK_THREADS",
    show_envvar=True,
    type=click.IntRange(1, 1024),
    default=32,
    show_default=True,
    help="Worker threads: password checks in flight at Auth0 at once.",
)
@click.option(
    "--backlog",
    envvar="HOOK_BACKLOG",
    show_envvar=True,
    type=click.IntRange(1, 65535),
    default=1024,
    show_default=True,
    help="Listen backlog: connections queued before they are accepted.",
)
@click.option(
    "--request-timeout",
    envvar="HOOK_REQUEST_TIMEOUT",
    show_envvar=True,
    type=click.FloatRange(0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds a request may take to arrive whole; slower clients are disconnected.",
)
@click.option(
    "--public-url",
    envvar="MIGRATION_HOOK_PUBLIC_URL",
    show_envvar=True,
    help="The URL Ory calls (for the configuration snippet; default: http://HOST:PORT/).",
)
@click.option(
    "--auth0-timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for Auth0."
)
@click.option(
    "--show-secret", is_flag=True, help="Put the shared secret into the printed configuration."
)
@click.option("--print-config", is_flag=True, help="Print the Ory configuration and exit.")
@fail_on_library_errors
def serve(
    *,
    host: str,
    port: int,
    auth0_domain: str,
    client_id: str,
    client_secret: str,
    connection: str,
    secret: str,
    secret_header: str,
    client_ip_header: str | None,
    trusted_proxies: tuple[str, ...],
    mfa_required_means: str,
    log_identifiers: bool,
    threads: int,
    backlog: int,
    request_timeout: float,
    public_url: str | None,
    auth0_timeout: float,
    show_secret: bool,
    print_config: bool,
) -> None:
    """Serve the hook and print the Ory configuration that points at it.

    The hook answers 200 {"status": "password_match"} when Auth0 accepts the password, 403
    when Auth0 says it is wrong, and an error status for anything else. It serves with
    waitress (pip install 'auth0-ory-migrate[hook]') and logs one JSON line per request to
    stderr.
    """
    settings = HookSettings(
        secret=secret,
        secret_header=secret_header,
        client_ip_header=client_ip_header or None,
        trusted_proxies=trusted_proxies,
        mfa_required_means="error" if mfa_required_means == "error" else "password_match",
        log_identifiers=log_identifiers,
    )
    from .. import (  # noqa: PLC0415 - auth0-python loads in ~1 s: not for --help
        Auth0PasswordChecker,
        make_hook_app,
        make_hook_server,
    )

    checker = Auth0PasswordChecker.connect(
        auth0_domain, client_id, client_secret, connection, timeout=auth0_timeout
    )
    if print_config:
        url = public_url or f"http://{host}:{port}/"
        click.echo(config_snippet(url, secret_header, secret if show_secret else None))
        return
    server = make_hook_server(
        make_hook_app(settings, checker),
        host,
        port,
        threads=threads,
        backlog=backlog,
        request_timeout=request_timeout,
    )
    _log_to_stderr()
    url = public_url or f"http://{host}:{server.server_port}/"
    click.echo(config_snippet(url, secret_header, secret if show_secret else None))
    click.echo(
        f"serving the password-migration hook on http://{host}:{server.server_port}/ "
        "(Ctrl-C stops it)",
        err=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _log_to_stderr() -> None:
    """The hook's request lines (INFO) and waitress's warnings go to stderr, one per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    hook_log = logging.getLogger("auth0_ory_migrate.hook")
    hook_log.setLevel(logging.INFO)
    hook_log.addHandler(handler)
    hook_log.propagate = False
    waitress_handler = logging.StreamHandler(sys.stderr)
    waitress_handler.setFormatter(logging.Formatter("waitress %(levelname)s: %(message)s"))
    waitress_log = logging.getLogger("waitress")
    waitress_log.setLevel(logging.WARNING)
    waitress_log.addHandler(waitress_handler)
    waitress_log.propagate = False
    # "Task queue depth is N" comes once per queued request: in a login storm, hundreds a
    # second. One every 10 s says the same (requests wait for a worker: see --threads).
    logging.getLogger("waitress.queue").addFilter(_EveryNSeconds(10.0))


class _EveryNSeconds(logging.Filter):
    """Let one record through every *seconds* seconds."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.next_at = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self.next_at:
            return False
        self.next_at = now + self.seconds
        return True
