"""The click group every command hangs on, and what the commands share."""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..exceptions import Auth0OryMigrateError


F = TypeVar("F", bound=Callable[..., Any])

#: Exit status: everything worked.
EXIT_OK = 0
#: Exit status: the run finished but some users failed (each one is reported).
EXIT_SOME_FAILED = 1
#: Exit status: usage or configuration error (click uses 2 for usage errors too).
EXIT_USAGE = 2
#: Exit status: interrupted (Ctrl-C, SIGINT): 128 + the signal's number, as shells report it.
EXIT_INTERRUPTED = 130

# stamina logs every scheduled retry; the progress display is the command line's voice.
logging.getLogger("stamina").addHandler(logging.NullHandler())


#: Command name → the module under ``auth0_ory_migrate._cli`` that defines it, in the order a
#: migration uses them (``--help`` lists them so). Modules are imported on first use, so
#: ``convert`` never loads the Auth0 or Ory SDKs (~1 s, ~80 MB).
_COMMAND_MODULES = {
    "export": "export",
    "schema": "schema",
    "convert": "convert",
    "hook": "hook",
    "import": "ory",
    "migrate": "ory",
    "verify": "ory",
    "sync": "sync",
    "authz": "authz",
    "undo": "ory",
}

#: Each command's short help, for ``--help`` without importing the commands (and the SDKs
#: some of them use). A test checks it against the commands' own.
_SHORT_HELP = {
    "export": "Export users from Auth0 with the Management API's bulk export job.",
    "schema": "The Ory identity schema for the migrated traits (print, command, apply).",
    "convert": "Turn Auth0 exports into an Ory identities file (no network).",
    "hook": "The password-migration hook: Ory asks it, it asks Auth0.",
    "import": "Import an identities file into Ory, exactly once per user.",
    "migrate": "Convert Auth0 exports and import them into Ory in one stream (no identities file).",
    "verify": "Check that every identity of the file is in Ory.",
    "sync": "Carry Auth0's changes since the import into Ory (new, changed, removed users).",
    "authz": "Roles, permissions and organizations from Auth0 in Ory (after the import).",
    "undo": "Delete the identities the imports of a state directory created.",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported when they are first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        others = sorted(set(super().list_commands(ctx)) - set(_COMMAND_MODULES))
        return [*_COMMAND_MODULES, *others]

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; Ctrl-C (SIGINT) ends every command the same way: exit 130, one line.

        click would say "Aborted!" and exit 1, which here means "finished, some users failed".
        What the interrupted command was writing is left as its own cleanup leaves it: files
        under a temporary name are removed, a ledger keeps what it recorded (run again).
        """
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMAND_MODULES.get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            importlib.import_module(f"{__package__}.{module}")
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their short help, importing none of them."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None and name in _SHORT_HELP:
                stub = click.Command(name, help=_SHORT_HELP[name])  # click's own shortening
                rows.append((name, stub.get_short_help_str(limit)))
                continue
            command = command or self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="auth0-ory-migrate")
def cli() -> None:
    """Move user accounts from Auth0 to Ory (Ory Network or self-hosted Kratos).

    Phases: `export` (Auth0 bulk export), `convert` (Auth0 records to Ory identities),
    `import` / `migrate` (into Ory), `verify`, `undo`.
    """


def fail_on_library_errors(func: F) -> F:
    """Turn the library's own exceptions into a one-line message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Auth0OryMigrateError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def option_group(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Bundle click options into one decorator (first option first in ``--help``)."""

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply
