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

# stamina logs every scheduled retry; the progress display is the command line's voice.
logging.getLogger("stamina").addHandler(logging.NullHandler())


#: Command name → the module under ``auth0_ory_migrate._cli`` that defines it. Modules are
#: imported on first use, so ``convert`` never loads the Auth0 or Ory SDKs (~1 s, ~80 MB).
_COMMAND_MODULES = {
    "convert": "convert",
    "export": "export",
    "hook": "hook",
    "import": "ory",
    "migrate": "ory",
    "schema": "schema",
    "undo": "ory",
    "verify": "ory",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported when they are first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMAND_MODULES.get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            importlib.import_module(f"{__package__}.{module}")
        return super().get_command(ctx, cmd_name)


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
