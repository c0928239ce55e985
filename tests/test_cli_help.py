"""The command line as a well-kept CLI: help that renders, one name per option, fast answers."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from auth0_ory_migrate._cli import _app, main


#: The SDKs that take seconds to import: help and usage errors must not wait for them.
_HEAVY = ("ory_client", "auth0")


def _loaded_after(*args: str) -> list[str]:
    """The heavy SDK modules loaded by ``auth0-ory-migrate ARGS`` (run in a fresh interpreter)."""
    code = (
        "import json, sys\n"
        "from auth0_ory_migrate._cli import main\n"
        "try:\n"
        f"    main({list(args)!r}, prog_name='auth0-ory-migrate')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {_HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.loads(out.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("convert", "--help"),
        ("convert", "--no-such-option"),
        ("export", "--help"),
        ("export", "--no-such-option"),
        ("hook", "serve", "--help"),
        ("schema", "apply", "--help"),
        ("schema", "print", "--trait", "nope"),
        ("import", "--help"),
        ("import", "--no-such-option"),
        ("migrate", "--help"),
        ("migrate", "--concurrency", "0"),
        ("verify", "--help"),
        ("verify", "--identities"),
        ("undo", "--help"),
        ("undo", "--no-such-option"),
    ],
)
def test_help_and_usage_errors_do_not_load_the_sdks(args: tuple[str, ...]) -> None:
    """``--help`` and argument errors never import ory_client or auth0 (seconds each)."""
    assert _loaded_after(*args) == []


def test_commands_are_listed_in_migration_order() -> None:
    """``--help`` lists the commands in the order a migration uses them."""
    result = CliRunner().invoke(main, ["--help"])
    listed = [
        line.split()[0]
        for line in result.output.split("Commands:", 1)[1].splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == [
        "export", "schema", "convert", "hook", "import", "migrate", "verify", "sync", "authz",
        "undo",
    ]  # fmt: skip


def test_top_level_help_keeps_each_commands_short_help() -> None:
    """The listing says what each command does, as the commands themselves say it."""
    output = CliRunner().invoke(main, ["--help"]).output
    assert "Export users from Auth0" in output
    assert "Turn Auth0 exports into an Ory identities file" in output


def test_export_help_renders_its_examples() -> None:
    """The examples of ``export --help`` are shown as written, without click's mark showing."""
    output = CliRunner().invoke(main, ["export", "--help"]).output
    assert "\\b" not in output
    assert "  auth0-ory-migrate export --all-connections --out auth0-users.ndjson.gz\n" in output


def test_hook_serve_host_and_port_have_help() -> None:
    """``hook serve --help`` says what --host and --port are."""
    output = CliRunner().invoke(main, ["hook", "serve", "--help"]).output
    for option in ("--host", "--port"):
        line = next(line for line in output.splitlines() if line.strip().startswith(option))
        help_text = line.split(option, 1)[1].split("[", 1)[0].split(maxsplit=1)[1:]
        assert help_text, line  # more than the metavar and the [env var; default]


@pytest.mark.parametrize("command", [("export",), ("hook", "serve")])
def test_domain_and_auth0_domain_are_one_option(command: tuple[str, ...]) -> None:
    """``--domain`` and ``--auth0-domain`` are accepted by both export and hook serve."""
    output = CliRunner().invoke(main, [*command, "--help"]).output
    assert "--domain, --auth0-domain" in output or "--auth0-domain, --domain" in output


def test_the_listings_short_help_is_each_commands_own() -> None:
    """The short help ``--help`` shows without importing a command is the command's own."""
    ctx = click.Context(main)
    for name, text in _app._SHORT_HELP.items():
        command = main.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(200) == text, name
