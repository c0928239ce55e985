"""``import``, ``verify``, ``undo`` and ``migrate``: the commands that talk to Ory."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

# OryAdmin and the engine (CheckResult ... verify_identities) load the Ory SDK (about a second):
# they are imported where a command uses them, so that --help and usage errors answer at once.
from .. import (
    AUTHZ_FILES,
    DEFAULT_STATE_DIR,
    MIN_HASH_JOIN_SHARE,
    ImportProgress,
    Ledger,
    PlannedIdentity,
    check_password_hash_join,
    file_digest,
    format_summary,
    open_input,
    read_identities,
)
from ..exceptions import Auth0OryMigrateError, ConfigurationError, InputFileError, OryError
from ._app import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, cli, fail_on_library_errors, option_group
from .convert import (
    allow_no_users_option,
    allow_unmatched_hashes_option,
    authz_folder,
    check_authz_forms,
    check_output_files,
    check_some_users,
    input_options,
    open_plan,
    read_authz_option,
    report_option,
    warn_unused_mappings,
    write_report,
)


if TYPE_CHECKING:
    from .. import CheckResult, ImportResult, OryAdmin, UndoTarget, UnknownSchema


_PLAIN_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal
_UNEXPECTED_SHOWN = 50


_ory_options = option_group(
    click.option(
        "--ory-url",
        envvar="ORY_SDK_URL",
        show_envvar=True,
        required=True,
        metavar="URL",
        help="Ory project URL (https://<slug>.projects.oryapis.com) or Kratos admin URL.",
    ),
    click.option(
        "--api-key",
        envvar="ORY_API_KEY",
        show_envvar=True,
        metavar="KEY",
        help="Ory project API key; prefer the environment variable. None for a "
        "Kratos admin port without authentication.",
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress display."),
)


_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help="Where the ledger of outcomes and the id map are kept.",
)


_import_options = option_group(
    _state_dir_option,
    click.option(
        "--batch-size",
        type=click.IntRange(1, 1000),
        help="Identities per request (default: Ory's limit, 1,000; 200 with plaintext passwords).",
    ),
    click.option(
        "--concurrency",
        type=click.IntRange(1, 64),
        default=1,
        show_default=True,
        help="Import requests in flight. Ory Network allows one per project; more only "
        "for a self-hosted Kratos.",
    ),
    click.option(
        "--dry-run",
        is_flag=True,
        help="Validate every identity and count who is already in Ory; change nothing.",
    ),
)


@functools.cache  # one handler per process, however many commands run in it
def _open_ory(url: str, api_key: str | None, connections: int) -> OryAdmin:
    from .. import OryAdmin  # noqa: PLC0415 - ory-client loads in ~1 s: not for --help

    return OryAdmin.from_url(url, api_key, connections=connections)


def answering_ory(url: str, api_key: str | None, connections: int) -> OryAdmin:
    """:func:`_open_ory`, asked once (no retry) before a command reads or writes anything.

    Commands that go user by user (``undo``, ``undo --credential``, ``sync``) would otherwise
    meet an unreachable Ory, or a refused key, once per user, each after its retries: one
    error and exit status 2 instead (``OryError``, through ``fail_on_library_errors``).
    """
    ory = _open_ory(url, api_key, connections)
    try:
        ory.list_page(page_size=1)
    except OryError as e:
        if e.status != 429:  # (a 429 is an answer: the command's own retries wait for it)
            raise
    return ory


class _Display:
    """Progress on stderr: a bar on a terminal, a line every few seconds otherwise."""

    def __init__(self, quiet: bool, *, total: int | None, unit: str, what: str) -> None:
        self.quiet = quiet
        self.total = total
        self.what = what
        self.started = time.monotonic()
        self._last_line = 0.0
        self._bar: tqdm[Any] | None = None
        if not quiet and sys.stderr.isatty():
            self._bar = tqdm(total=total, unit=f" {unit}", file=sys.stderr, dynamic_ncols=True)

    def update(self, done: int, detail: str = "") -> None:
        if self.quiet:
            return
        if self._bar is not None:
            if detail:
                self._bar.set_postfix_str(detail, refresh=False)
            self._bar.update(done - self._bar.n)
            return
        now = time.monotonic()
        if now - self._last_line < _PLAIN_EVERY:
            return
        self._last_line = now
        rate = done / max(now - self.started, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        extra = f" ({detail})" if detail else ""
        eta = ""
        if self.total and rate > 0 and done < self.total:
            eta = f", {time.strftime('%H:%M:%S', time.gmtime((self.total - done) / rate))} left"
        click.echo(f"{self.what} {done:,}{of}{extra}, {rate:,.0f}/s{eta}", err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def import_progress(self, p: ImportProgress) -> None:
        self.update(
            p.done,
            f"created {p.created:,}, "
            f"present {p.exists + p.adopted + p.uncertain + p.skipped:,}, failed {p.failed:,}",
        )


def _count_records(path: Path) -> int:
    """Non-blank lines of an NDJSON file, gzipped or not (the progress bar's total)."""
    count = 0
    last = b"\n"
    with open_input(path) as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _refuse_an_auth0_export(path: Path) -> None:
    """Refuse an empty file, or Auth0's user export given as an identities file (first record)."""
    with open_input(path) as f:
        for line in f:  # the first line that is not blank
            if line.strip():
                break
        else:
            msg = f"{path}: the file is empty (convert writes the identities file)"
            raise InputFileError("identities", msg)
    try:
        first = json.loads(line)
    except ValueError:
        return  # the reader reports it, with its line number
    if isinstance(first, dict) and "user_id" in first and "external_id" not in first:
        msg = f"{path}: this looks like an Auth0 export: run convert first"
        raise InputFileError("identities", msg)


@contextlib.contextmanager
def _identities(path: Path) -> Iterator[Iterator[Any]]:
    with path.open("rb") as f:
        yield read_identities(f)


def _unknown_schema_text(unknown: UnknownSchema) -> str:
    users = "user" if unknown.users == 1 else "users"
    more = ", ..." if unknown.users > len(unknown.examples) else ""
    return (
        f"unknown schema id {unknown.schema_id!r} (not in the Ory project): "
        f"{unknown.users:,} {users} ({', '.join(unknown.examples)}{more})"
    )


def _echo_check(result: CheckResult, ory_url: str) -> int:
    if result.server_error:
        # Neither who exists nor the schemas were checked: the dry run cannot say "valid".
        click.echo(
            f"error: could not ask Ory ({ory_url}): {result.server_error}; nothing was checked "
            "against it (check --ory-url and the key)",
            err=True,
        )
        return EXIT_USAGE
    unknown_users = sum(u.users for u in result.unknown_schemas)
    if unknown_users and not (result.valid or result.invalid or result.unreadable):
        # Nobody could be imported: the input as a whole is wrong for this project.
        texts = "; ".join(_unknown_schema_text(u) for u in result.unknown_schemas)
        click.echo(f"error: every identity uses a schema id Ory does not know: {texts}", err=True)
        return EXIT_USAGE
    unknown = f", {unknown_users:,} with an unknown schema id" if unknown_users else ""
    click.echo(
        f"dry run: {result.valid:,} identities valid, {len(result.invalid):,} invalid, "
        f"{len(result.unreadable):,} unreadable{unknown}; {result.requests:,} import requests"
    )
    if result.existing is not None:
        click.echo(f"already in Ory ({ory_url}): {result.existing:,}")
    for u in result.unknown_schemas:
        click.echo(_unknown_schema_text(u))
    for text in result.schema_errors:
        click.echo(f"traits not checked: {text}")
    for outcome in result.invalid:
        click.echo(f"invalid: {outcome.external_id}: {outcome.reason}")
    for record in result.unreadable:
        click.echo(f"unreadable: line {record.line}: {record.reason}")
    for external_id in result.duplicates:
        click.echo(f"duplicate external_id (would be imported once): {external_id}")
    click.echo("nothing was written or sent")
    return EXIT_OK if result.ok else EXIT_SOME_FAILED


def _echo_import(result: ImportResult, ledger: Ledger | None) -> int:
    click.echo(
        f"created {result.created:,}, already in Ory {result.exists:,}, "
        f"imported by an earlier run {result.skipped:,}, failed {len(result.failed):,}"
        f" ({result.requests:,} import requests)"
    )
    if result.adopted or result.uncertain:
        click.echo(
            f"found after a lost answer: {result.adopted:,} already in Ory before the import "
            f"(adopted), {result.uncertain:,} not known to be created by it (uncertain); "
            "undo leaves them alone"
        )
    for outcome in result.failed:
        click.echo(f"failed: {outcome.external_id}: {outcome.reason}")
    for record in result.unreadable:
        who = f" ({record.user_id})" if record.user_id else ""
        click.echo(f"unreadable: line {record.line}{who}: {record.reason}")
    for external_id in result.duplicates:
        click.echo(f"duplicate external_id (imported once): {external_id}")
    if ledger is not None:
        click.echo(f"ledger: {ledger.ledger_path}; id map: {ledger.mapping_path}")
    if result.failed:
        click.echo("run the same command again to retry the failed users")
    return EXIT_OK if result.ok else EXIT_SOME_FAILED


def _run_check(
    bodies: Iterator[Any], *, ory_url: str, api_key: str | None, batch_size: int | None
) -> int:
    from .. import check_identities  # noqa: PLC0415 - the engine: not for --help

    with _open_ory(ory_url, api_key, 4) as ory:
        return _echo_check(check_identities(bodies, ory, batch_size=batch_size), ory_url)


def _run_import(
    bodies: Iterator[Any],
    *,
    ory_url: str,
    api_key: str | None,
    state_dir: Path,
    digest: str,
    input_name: str,
    batch_size: int | None,
    concurrency: int,
    quiet: bool,
    total: int | None,
) -> int:
    from .. import import_identities  # noqa: PLC0415 - the engine: not for --help

    with (
        _open_ory(ory_url, api_key, concurrency + 4) as ory,
        Ledger.open(state_dir, input_digest=digest, input_name=input_name) as ledger,
    ):
        display = _Display(quiet, total=total, unit="user", what="users")
        with _then_write_mapping(ledger, display):
            result = import_identities(
                bodies,
                ory,
                ledger=ledger,
                batch_size=batch_size,
                concurrency=concurrency,
                progress=display.import_progress,
            )
        return _echo_import(result, ledger)


@contextlib.contextmanager
def _then_write_mapping(ledger: Ledger, display: _Display) -> Iterator[None]:
    """Close the display and rewrite the id map after the block, even when it failed.

    When the block failed, its error is the one told: a failure to write the map as well
    (on a full disk, most likely) is not.
    """
    try:
        yield
    except BaseException:
        display.close()
        with contextlib.suppress(Auth0OryMigrateError):
            ledger.write_mapping()
        raise
    display.close()
    ledger.write_mapping()


@cli.command("import")
@click.option(
    "--identities",
    "identities_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Identities file written by `convert` (one CreateIdentityBody per line).",
)
@_ory_options
@_import_options
@fail_on_library_errors
def import_(
    *,
    identities_path: Path,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    state_dir: Path,
    batch_size: int | None,
    concurrency: int,
    dry_run: bool,
) -> None:
    """Import an identities file into Ory, exactly once per user.

    Batches of up to 1,000, one request in flight, retries with backoff on rate limits and
    server errors. Every outcome goes to a ledger in the state directory: run the same
    command again after any interruption and it carries on; users already in Ory count as
    imported. Exit status 0 when everyone is in Ory, 1 when some failed (each is listed).
    """
    _refuse_an_auth0_export(identities_path)
    with _identities(identities_path) as bodies:
        if dry_run:
            sys.exit(_run_check(bodies, ory_url=ory_url, api_key=api_key, batch_size=batch_size))
        status = _run_import(
            bodies,
            ory_url=ory_url,
            api_key=api_key,
            state_dir=state_dir,
            digest=file_digest(identities_path),
            input_name=identities_path.name,
            batch_size=batch_size,
            concurrency=concurrency,
            quiet=quiet,
            total=_count_records(identities_path),
        )
    sys.exit(status)


@cli.command()
@click.option(
    "--identities",
    "identities_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The identities file that was imported.",
)
@_ory_options
@click.option(
    "--authz",
    is_flag=True,
    help="Also check the roles and organizations landed as relationships (`authz verify`): "
    "needs --authz-files and --state-dir.",
)
@click.option(
    "--authz-files",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="With --authz: the folder of the roles and organizations files.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --authz: the state directory of the import.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --authz: the convert/migrate report (users merged into another's identity).",
)
@fail_on_library_errors
def verify(
    *,
    identities_path: Path,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    authz: bool,
    authz_files: Path | None,
    state_dir: Path | None,
    report_path: Path | None,
) -> None:
    """Check that every identity of the file is in Ory.

    Lists Ory's identities and reports the users missing, the identities Ory has that the
    file does not, and those whose email differs. Exit status 1 when anyone is missing.
    With --authz, also every relationship of the roles and organizations (`authz verify`).
    """
    from .. import verify_identities  # noqa: PLC0415 - the engine: not for --help

    if authz and (authz_files is None or state_dir is None):
        msg = "verify --authz needs --authz-files and --state-dir (the import's)"
        raise ConfigurationError(msg)
    if not authz and (authz_files or state_dir or report_path):
        msg = "--authz-files, --state-dir and --report are for verify --authz"
        raise ConfigurationError(msg)
    _refuse_an_auth0_export(identities_path)
    display = _Display(quiet, total=None, unit="identity", what="identities read from Ory:")
    try:
        with _open_ory(ory_url, api_key, 2) as ory, _identities(identities_path) as bodies:
            result = verify_identities(bodies, ory, progress=display.update)
    finally:
        display.close()
    click.echo(
        f"in the file {result.expected:,}, found in Ory {result.found:,}, "
        f"missing {len(result.missing):,}, not in the file {len(result.unexpected):,}, "
        f"email differs {len(result.email_differs):,}"
    )
    for external_id in result.missing:
        click.echo(f"missing: {external_id}")
    for m in result.email_differs:
        click.echo(
            f"email differs: {m.external_id} ({m.identity_id}): "
            f"file {m.expected!r}, Ory {m.actual!r}"
        )
    for remote in result.unexpected[:_UNEXPECTED_SHOWN]:
        click.echo(f"not in the file: {remote.identity_id} (external_id {remote.external_id!r})")
    if len(result.unexpected) > _UNEXPECTED_SHOWN:
        click.echo(f"... and {len(result.unexpected) - _UNEXPECTED_SHOWN:,} more not in the file")
    for record in result.unreadable:
        click.echo(f"unreadable: line {record.line}: {record.reason}")
    ok = result.ok
    if authz and authz_files is not None and state_dir is not None:
        from .authz import verify_authz  # noqa: PLC0415

        ok = (
            verify_authz(
                authz_files,
                ory_url=ory_url,
                api_key=api_key,
                state_dir=state_dir,
                report_path=report_path,
            )
            and ok
        )
    sys.exit(EXIT_OK if ok else EXIT_SOME_FAILED)


_LINK_TYPES = ("oidc", "saml")


def _credential_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, str] | None:
    """``oidc:PROVIDER_ID`` as ``("oidc", "PROVIDER_ID")``; anything else is a usage error."""
    if value is None:
        return None
    kind, colon, provider = value.partition(":")
    if kind not in _LINK_TYPES or not colon:
        msg = f"expected oidc:PROVIDER_ID (or saml:PROVIDER_ID), not {value!r}"
        raise click.BadParameter(msg, ctx, param)
    if not provider or provider.strip() != provider or ":" in provider:
        msg = f"{provider!r} is not an Ory provider id (such as auth0 in oidc:auth0)"
        raise click.BadParameter(msg, ctx, param)
    return kind, provider


def _confirm(question: str, nothing: str) -> None:
    """Ask *question*; on no or a closed stdin say *nothing* and exit 2; Ctrl-C exits 130."""
    try:
        confirmed = click.confirm(question)
    except click.Abort as e:  # click's answer to Ctrl-C, or to stdin closed (EOF)
        click.echo(nothing, err=True)
        if isinstance(e.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None  # exit 130, as every Ctrl-C (_app.py)
        sys.exit(EXIT_USAGE)
    if not confirmed:
        click.echo(nothing, err=True)
        sys.exit(EXIT_USAGE)


def _unlink(
    targets: list[UndoTarget],
    credential: tuple[str, str],
    *,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    concurrency: int,
) -> int:
    """``undo --credential``: remove one provider's links; the exit status."""
    from .. import unlink_credential  # noqa: PLC0415 - the engine: not for --help

    kind, provider = credential
    display = _Display(quiet, total=len(targets), unit="identity", what="dealt with")
    try:
        with answering_ory(ory_url, api_key, concurrency + 2) as ory:
            result = unlink_credential(
                targets, ory, kind, provider, concurrency=concurrency, progress=display.update
            )
    finally:
        display.close()
    click.echo(
        f"removed {result.removed:,} {kind} links of provider {provider} from "
        f"{result.identities:,} identities, not present {result.not_present:,}, "
        f"not found {len(result.not_found):,}, failed {len(result.failed):,}, "
        f"left alone {len(result.left_alone):,}"
    )
    for outcome in result.not_found:
        click.echo(f"not found: {outcome.external_id} ({outcome.identity_id}): {outcome.reason}")
    for outcome in result.left_alone:
        click.echo(
            f"left alone: {outcome.external_id} ({outcome.identity_id}, {outcome.status}): "
            f"{outcome.reason}"
        )
    for outcome in result.failed:
        click.echo(f"failed: {outcome.external_id} ({outcome.identity_id}): {outcome.reason}")
    if any("last first factor" in (o.reason or "") for o in result.failed):
        click.echo(
            "Ory keeps an identity's last way to sign in: give those users another one "
            "(a password, another social login, or code login enabled in the project), "
            "then run the same command again"
        )
    return EXIT_OK if result.ok else EXIT_SOME_FAILED


@cli.command()
@_ory_options
@_state_dir_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Deletions in flight.",
)
@click.option(
    "--include-uncertain",
    is_flag=True,
    help="Also delete identities of which it cannot be told whether the import created them "
    "(found after a lost answer), when they still carry the user's external id.",
)
@click.option(
    "--credential",
    metavar="oidc:PROVIDER_ID",
    callback=_credential_option,
    help="Delete no identity: remove only this provider's links from the identities the "
    "imports put in Ory (after cutover: --credential oidc:auth0).",
)
@fail_on_library_errors
def undo(
    *,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    state_dir: Path,
    yes: bool,
    concurrency: int,
    include_uncertain: bool,
    credential: tuple[str, str] | None,
) -> None:
    """Delete the identities the imports of a state directory created.

    Only identities the ledger records as created are deleted, and only when each still
    carries its user's external id and was not created before the import first sent the
    user: anything else is left alone and listed. Users found already in Ory are left
    alone, and so are those found after a lost answer that may have been there before
    (unless --include-uncertain). Each deletion is recorded, so a later import creates
    them again.

    With --credential oidc:PROVIDER_ID it deletes no identity: it removes that provider's
    links (e.g. the Auth0 upstream login of a dual run, after cutover) from the identities
    the ledger records, and nothing else; running it again removes nothing more.
    """
    from .. import undo_import  # noqa: PLC0415 - the engine: not for --help

    if credential is not None and include_uncertain:
        raise click.UsageError("--include-uncertain is for deleting identities, not --credential")
    with Ledger.open_existing(state_dir) as ledger:
        targets = ledger.undo_targets()
        if not targets:
            click.echo(f"nothing to undo: the ledger in {state_dir} records no created identity")
            sys.exit(EXIT_OK)
        input_name = ledger.input_name or "unnamed input"
        if credential is not None:
            if not yes:
                _confirm(
                    f"Remove the {credential[0]} links of provider {credential[1]} from "
                    f"{len(targets):,} identities imported ({input_name}) in {ory_url}? "
                    "(no identity is deleted)",
                    "nothing removed",
                )
            sys.exit(
                _unlink(
                    targets,
                    credential,
                    ory_url=ory_url,
                    api_key=api_key,
                    quiet=quiet,
                    concurrency=concurrency,
                )
            )
        if not yes:
            _confirm(
                f"Delete {len(targets):,} identities created by the import "
                f"({input_name}) from {ory_url}?",
                "nothing deleted",
            )
        display = _Display(quiet, total=len(targets), unit="identity", what="dealt with")
        with (
            _then_write_mapping(ledger, display),
            answering_ory(ory_url, api_key, concurrency + 2) as ory,
        ):
            from .authz import undo_landed_relationships  # noqa: PLC0415

            undo_landed_relationships(ledger, ory_url=ory_url, api_key=api_key)
            result = undo_import(
                targets,
                ory,
                ledger,
                concurrency=concurrency,
                progress=display.update,
                include_uncertain=include_uncertain,
            )
    click.echo(
        f"deleted {result.deleted:,}, already gone {result.already_gone:,}, "
        f"failed {len(result.failed):,}, left alone {len(result.left_alone):,}"
    )
    for outcome in result.not_found:
        click.echo(f"already gone: {outcome.external_id} ({outcome.identity_id}): {outcome.reason}")
    for outcome in result.left_alone:
        click.echo(
            f"left alone: {outcome.external_id} ({outcome.identity_id}, {outcome.status}): "
            f"{outcome.reason}"
        )
    if not include_uncertain and any(o.status == "uncertain" for o in result.left_alone):
        click.echo("--include-uncertain deletes the uncertain ones that still carry their user id")
    for outcome in result.failed:
        click.echo(f"failed: {outcome.external_id} ({outcome.identity_id}): {outcome.reason}")
    sys.exit(EXIT_OK if result.ok else EXIT_SOME_FAILED)


#: Inputs of ``migrate`` that shape no body (see :func:`_inputs_digest`).
_NOT_DIGESTED = frozenset({"pgp_key", "pgp_passphrase_env", "authz", "authz_files", "authz_public"})


def _inputs_digest(inputs: dict[str, Any]) -> str:
    """A digest of every input file's content and every option that shapes the bodies.

    The OpenPGP key and its passphrase's variable shape nothing (the encrypted hash file, which
    is in the digest, does), and no digest of key material is kept in the state directory.
    Roles and organizations shape the bodies only with ``--authz metadata``: then their files'
    contents are in the digest (relationships are landed after the import, with a ledger of
    their own).
    """
    h = hashlib.sha256(b"auth0-ory-migrate migrate v1\n")
    authz = inputs.get("authz") or ()
    if "metadata" in authz:
        folder = authz_folder(inputs.get("authz_files"), Path(inputs["users_path"]))
        for name in sorted(AUTHZ_FILES.values()):
            path = folder / name
            h.update(f"{name}={file_digest(path) if path.is_file() else None}\n".encode())
        h.update(f"authz_public={inputs.get('authz_public')!r}\n".encode())
    for key in sorted(inputs.keys() - _NOT_DIGESTED):
        value = inputs[key]
        if isinstance(value, Path):
            value = file_digest(value)
        elif isinstance(value, dict):
            value = sorted(value.items())
        h.update(f"{key}={value!r}\n".encode())
    return h.hexdigest()


@cli.command()
@input_options
@_ory_options
@_import_options
@report_option
@allow_no_users_option
@allow_unmatched_hashes_option
@fail_on_library_errors
def migrate(
    *,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    state_dir: Path,
    batch_size: int | None,
    concurrency: int,
    dry_run: bool,
    report_path: Path,
    allow_no_users: bool,
    allow_unmatched_hashes: bool,
    **inputs: Any,
) -> None:
    """Convert Auth0 exports and import them into Ory in one stream (no identities file).

    Takes `convert`'s inputs and `import`'s options; the ledger is tied to the input files
    and options. Exit status 0 when every converted identity is in Ory, 1 when some failed.
    Users `convert` would skip are in the report, as with `convert`.
    """
    authz = inputs.get("authz", ())
    check_authz_forms(authz, "migrate", ("metadata", "permissions"))
    check_output_files(inputs, **{"--report": None if dry_run else report_path})
    # The roles and organizations files, read once: for the bodies and the relationships.
    authz_data = read_authz_option(
        authz,
        authz_files=inputs.get("authz_files"),
        authz_public=inputs.get("authz_public", False),
        users_path=Path(inputs["users_path"]),
    )
    if "permissions" in authz and not dry_run and authz_data is not None:
        from .authz import check_namespaces  # noqa: PLC0415

        check_namespaces(authz_data, ory_url, api_key)  # Ory must take them: before any send
    with open_plan(**inputs, authz_data=authz_data, sources=not dry_run) as plan:
        if inputs.get("hashes_path") is not None and not allow_unmatched_hashes:
            # Whether the hash file joins its users is known once every user is planned: a
            # first pass that sends nothing, so that a wrong hash file is refused before the
            # import (the users are read once more; the import itself takes far longer).
            for _ in plan:
                pass
            check_password_hash_join(plan, min_share=MIN_HASH_JOIN_SHARE)
        # (the planned identities, not their bodies: the ledger records their sources)
        planned = (item for item in plan if isinstance(item, PlannedIdentity))
        if dry_run:
            status = _run_check(planned, ory_url=ory_url, api_key=api_key, batch_size=batch_size)
        else:
            status = _run_import(
                planned,
                ory_url=ory_url,
                api_key=api_key,
                state_dir=state_dir,
                digest=_inputs_digest(inputs),
                input_name=Path(inputs["users_path"]).name,
                batch_size=batch_size,
                concurrency=concurrency,
                quiet=quiet,
                total=None,
            )
        report = plan.report
    check_some_users(report, inputs["users_path"], allow_no_users)
    warn_unused_mappings(report, inputs)
    click.echo(format_summary(report))
    if not dry_run:
        write_report(report_path, report)
        click.echo(f"conversion report: {report_path}")
    if "permissions" in authz and not dry_run and authz_data is not None:
        # The relationships need the identity ids: after the import, from its ledger.
        from .authz import land_authz  # noqa: PLC0415

        merged = {s.user_id: s.holder for s in report.users if s.reason == "merged" and s.holder}
        with Ledger.open_existing(state_dir) as ledger:
            landed = land_authz(
                ["permissions"],
                authz_data,
                ledger=ledger,
                ory=None,
                ory_url=ory_url,
                api_key=api_key,
                merged=merged,
                users_path=None,
                chunk_size=_AUTHZ_CHUNK,
                quiet=quiet,
            )
        status = max(status, landed)
    sys.exit(status)


#: Relationships per request for ``migrate --authz permissions`` (``authz land --chunk-size``).
_AUTHZ_CHUNK = 40
