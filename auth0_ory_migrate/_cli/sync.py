"""``auth0-ory-migrate sync``: carry the Auth0 changes since the import into Ory, exactly once."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias, cast

import click

from .. import (
    ExportScope,
    ForkedIdentityReader,
    ImportedRecord,
    ImportedRecords,
    Ledger,
    MigrationReport,
    PlanItem,
    PlannedIdentity,
    SeenUsers,
    SyncPlan,
    export_scope_path,
    format_summary,
    plan_sync,
    private_file,
    sync_plan_items,
)
from ..exceptions import ConfigurationError, InputFileError
from ..typing import RemovalAction
from ._app import EXIT_OK, EXIT_SOME_FAILED, cli, fail_on_library_errors
from .convert import (
    allow_no_users_option,
    check_authz_forms,
    check_output_files,
    check_some_users,
    input_options,
    open_plan,
    report_option,
    warn_unused_mappings,
    write_report,
)
from .ory import (
    _Display,
    _open_ory,
    _ory_options,
    _state_dir_option,
    answering_ory,
)


#: Reads Ory's identities by id (those Ory has): ``ForkedIdentityReader.get_identities``.
_Read: TypeAlias = Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]]


class _RemoteIdentities(Mapping[str, Mapping[str, Any]]):
    """Ory's identities by external id, each read (with its credentials) when first asked for.

    :func:`plan_sync` asks only for the users it must compare with Ory (the users that
    changed): read ahead, 100 a request, once the workers are done (:meth:`read_ahead`).
    """

    def __init__(self, read: _Read, records: Mapping[str, ImportedRecord]) -> None:
        self._read = read
        self._records = records
        self._seen: dict[str, Mapping[str, Any] | None] = {}

    def __getitem__(self, external_id: str) -> Mapping[str, Any]:
        if external_id not in self._seen:
            self.read_ahead([external_id])
        identity = self._seen.get(external_id)
        if identity is None:
            raise KeyError(external_id)
        return identity

    def read_next(self, external_ids: Iterable[str]) -> None:
        """Read these users' identities in place of those read so far (their users are planned).

        What :func:`_planned_last` calls for each chunk of the users that changed: the
        identities of one chunk are kept, not all (each holds the user's whole metadata).
        """
        self._seen = {}
        self.read_ahead(external_ids)

    def read_ahead(self, external_ids: Iterable[str]) -> None:
        """Read the identities of these users now, before :func:`plan_sync` asks for them."""
        wanted: list[tuple[str, str]] = []
        for external_id in dict.fromkeys(external_ids):
            if external_id in self._seen:
                continue
            record = self._records.get(external_id)  # (a record may be read on demand)
            if record is None or not record.identity_id:
                self._seen[external_id] = None
                continue
            wanted.append((external_id, record.identity_id))
        if not wanted:
            return
        found = self._read([identity_id for _, identity_id in wanted])
        for external_id, identity_id in wanted:
            self._seen[external_id] = found.get(identity_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


#: Users that changed whose identities are read from Ory (and kept) at once, then planned.
_READ_CHUNK = 1000


def _planned_last(
    items: Iterable[PlanItem | SeenUsers],
    read_ahead: Callable[[list[str]], None] | None = None,
) -> Iterator[PlanItem | SeenUsers]:
    """*items*, the planned users (the few that changed) held back until the others are read.

    :func:`plan_sync` reads Ory's identity of each user that changed: those reads wait
    until the workers are done, not to share the CPU with them (reads meanwhile, even from
    a thread, slow this process down, which feeds the workers). The plan is the same: the
    planned users keep their order, the others only say who is still in Auth0. Once the
    workers are done, *read_ahead* is given the planned users' ids (read 100 a request),
    :data:`_READ_CHUNK` at a time, each chunk before its users.
    """
    held: list[PlanItem | SeenUsers] = []
    for item in items:
        if isinstance(item, PlannedIdentity):
            held.append(item)
        else:
            yield item
    for start in range(0, len(held), _READ_CHUNK):
        chunk = held[start : start + _READ_CHUNK]
        if read_ahead is not None:
            read_ahead(
                [
                    user_id
                    for item in chunk
                    if isinstance(item, PlannedIdentity)
                    for user_id in (item.external_id, *item.merged_user_ids)
                ]
            )
        yield from chunk


def _complete_export(users_path: Path, export_complete: bool) -> tuple[bool, str | None]:
    """Whether the new export holds every user (so that absent users were deleted), and why not."""
    if export_complete:
        return True, None
    path = export_scope_path(users_path)
    if not path.exists():
        return False, (
            f"no scope file ({path.name}) next to the export: it was not made by "
            "`auth0-ory-migrate export`, so it may hold part of the tenant only"
        )
    try:
        scope = ExportScope.from_json(path.read_text(encoding="utf-8"), source=str(path))
    except OSError as e:
        raise InputFileError(str(path), f"cannot be read ({e.strerror})") from None
    if scope.complete:
        return True, None
    if not scope.known:
        return False, "the export job was taken over (--job-id): its scope is not known"
    if scope.limit is not None:
        return False, f"the export was limited to {scope.limit:,} users (--limit)"
    return False, f"the export holds one connection only ({scope.connection_id})"


def _echo_plan(plan: SyncPlan, why_partial: str | None) -> None:
    counts = plan.counts()
    by_field = counts["update_by_field"]
    fields = ", ".join(f"{k}: {v:,}" for k, v in by_field.items()) if by_field else "none"
    lines = [
        f"create:              {counts['create']:>9,}",
        f"update:              {counts['update']:>9,}  (by field: {fields})",
        f"password → hook:     {counts['password_to_hook']:>9,}",
        f"password → new hash: {counts['password_new_hash']:>9,}",
        f"conflicts:           {counts['conflicts']:>9,}  (changed in Ory too)",
        f"removed in Auth0:    {counts['removed']:>9,}  (action: {counts['removal_action']})",
        f"unchanged:           {counts['unchanged']:>9,}",
        f"compared with Ory:   {counts['compared_with_ory']:>9,}",
    ]
    if counts["unchecked"]:
        lines.append(
            f"unchecked:           {counts['unchecked']:>9,}  (imported before digests were "
            "kept, and not in Ory)"
        )
    click.echo("\n".join(lines))
    if plan.removals_refused is not None:
        why = f" ({why_partial})" if why_partial is not None else ""
        click.echo(f"warning: no removal planned: {plan.removals_refused}{why}", err=True)


@cli.command()
@input_options
@_ory_options
@_state_dir_option
@report_option
@allow_no_users_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (counts) and write it per user to --plan-out; change nothing in Ory "
    "(it is read: users imported before digests were kept, and users to compare with Ory).",
)
@click.option(
    "--plan-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="sync-plan.ndjson",
    show_default=True,
    help="Where the per-user plan goes (one JSON line per user to change: no secret).",
)
@click.option(
    "--removed",
    type=click.Choice(["keep", "deactivate", "delete"]),
    default="keep",
    show_default=True,
    help="What to do with imported users absent from a complete new export (deleted in Auth0).",
)
@click.option(
    "--export-complete",
    is_flag=True,
    help="Take the new export for a complete one (every user of the tenant) although it has "
    "no scope file from `auth0-ory-migrate export`. Without it, such an export removes nobody.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Write requests in flight. Ory Network's single-identity writes share a small "
    "bucket: more only for a self-hosted Kratos.",
)
@fail_on_library_errors
def sync(
    *,
    ory_url: str,
    api_key: str | None,
    quiet: bool,
    state_dir: Path,
    report_path: Path,
    allow_no_users: bool,
    dry_run: bool,
    plan_out: Path,
    removed: str,
    export_complete: bool,
    concurrency: int,
    **inputs: Any,
) -> None:
    """Carry Auth0's changes since the import into Ory (new, changed, removed users).

    Give the new export (and hash file) with the mapping options of the import, and the
    import's state directory. Exit status 0 when every change went through, 1 when some
    failed (run it again: it finishes the plan exactly once).
    """
    outputs: dict[str, Path | None] = {"--plan-out": plan_out, "--report": report_path}
    check_authz_forms(inputs.get("authz", ()), "sync", ("metadata",))
    check_output_files(inputs, **outputs)
    if str(plan_out) == "-":
        raise ConfigurationError("--plan-out -: give a file (stdout carries the summary)")
    complete, why_partial = _complete_export(inputs["users_path"], export_complete)
    with contextlib.ExitStack() as stack:
        opened: list[tuple[Ledger, ImportedRecords, ForkedIdentityReader]] = []

        def open_ledger() -> None:
            """The ledger, read while the users' first pass runs (a child of open_plan)."""
            ledger = stack.enter_context(Ledger.open_existing(state_dir, index_records=True))
            records = ledger.imported_records()
            if not records:
                raise ConfigurationError(
                    f"the state directory {state_dir} records no imported user: sync carries "
                    "changes into an earlier import (run migrate or import with --state-dir "
                    "first)"
                )
            # Ory must answer (and take the key) before anything is planned or written: a
            # sync with nothing to change would otherwise never ask, and say all is well. A
            # child asks, and reads the changed users later: ory-client is not loaded here.
            reader = stack.enter_context(
                ForkedIdentityReader(lambda: answering_ory(ory_url, api_key, concurrency))
            )
            opened.append((ledger, records, reader))

        with open_plan(**inputs, meanwhile=open_ledger, sources=True) as users:
            ((ledger, records, reader),) = opened
            del opened[:]  # (see below: records)
            key = ledger.sync_key()
            remote = _RemoteIdentities(reader.get_identities, records)
            reader.answered()
            plan = plan_sync(
                records,
                # (the unchanged users are found by forked workers: before any thread starts)
                _planned_last(sync_plan_items(users, records, key=key), remote.read_next),
                key=key,
                remote=remote,
                removed=cast("RemovalAction", removed),  # one of click's choices
                complete_export=complete,
            )
            reader.close()
            del records, remote  # (the index of a million users: not kept beside the report)
            report: MigrationReport = users.report
        check_some_users(report, inputs["users_path"], allow_no_users)
        warn_unused_mappings(report, inputs)
        with private_file(plan_out) as f:
            f.writelines(plan.iter_json())
        write_report(report_path, report)
        if not quiet:
            click.echo(format_summary(report))
        _echo_plan(plan, why_partial)
        click.echo(f"wrote {plan_out} (the plan, per user) and {report_path}")
        if dry_run:
            click.echo("dry run: nothing was changed in Ory")
            sys.exit(EXIT_OK)
        from .. import sync_identities  # noqa: PLC0415 - the engine: not for --help

        display = _Display(quiet, total=len(plan.ops), unit="changes", what="synced")
        try:
            result = sync_identities(
                plan,
                _open_ory(ory_url, api_key, concurrency),  # (Ory answered the child)
                ledger=ledger,
                concurrency=concurrency,
                progress=display.update,
            )
        finally:
            display.close()
    click.echo(
        f"created {result.created:,}, updated {result.updated:,} "
        f"(password {result.password_changed:,}, conflicts {result.conflicts:,}), "
        f"removed {result.removed:,}, kept {result.kept:,}, unchanged {result.unchanged:,}, "
        f"failed {len(result.failed):,}"
    )
    for failure in result.failed[:50]:
        click.echo(f"  {failure.external_id}: {failure.reason}", err=True)
    if len(result.failed) > 50:
        click.echo(f"  ... and {len(result.failed) - 50:,} more", err=True)
    sys.exit(EXIT_OK if result.ok else EXIT_SOME_FAILED)
