"""The roles and organizations export: four NDJSON files, resumable page by page.

:func:`export_authz` reads an :class:`~auth0_ory_migrate.typing.AuthzSource` (such as
:class:`~auth0_ory_migrate.Auth0Authz`) and writes, into one directory (next to the users
export):

- ``auth0-roles.ndjson``: ``{"id", "name", "description", "permissions":
  [{"resource_server_identifier", "permission_name"}]}``, one line per role;
- ``auth0-role-members.ndjson``: ``{"role_id", "user_id"}``, one line per *direct* assignment
  (Auth0's role members; roles held through a group are not in it);
- ``auth0-organizations.ndjson``: ``{"id", "name", "display_name", "enabled_connections":
  [{"connection_id", "name", "strategy", "assign_membership_on_login"}]}``;
- ``auth0-organization-members.ndjson``: ``{"organization_id", "user_id", "roles": [{"id",
  "name"}]}``.

They hold no secret (ids, names, permission names), so they are written with mode 0644; they
are still opened without following a symbolic link.
:func:`~auth0_ory_migrate.read_authz_files` reads them (:meth:`AuthzFiles.read` first checks
that the export is complete).

How it resumes: the roles and organizations are listed first (the dry count, shown as
progress, capped by ``limit``) and kept next to the files (``auth0-authz-export.listing.json``)
with a checkpoint file (``auth0-authz-export.checkpoint.json``). Then each page of members is
*appended* to its file, the file flushed to disk, and only then the checkpoint replaced
(atomically) with the files' new sizes and the page cursor. A run that stops (Ctrl-C, SIGKILL,
a refused request) leaves the checkpoint; the next run with the same options cuts each file
back to the size the checkpoint records (dropping a page written after it) and goes on from
the cursor, so no line is written twice. When everything is written the checkpoint (and the
listing) is removed: the files are complete exactly when there is no checkpoint next to them
(:attr:`AuthzFiles.complete`). A run with other options starts over.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from attrs import evolve, frozen

from .._core._authz import AUTHZ_FILES, AuthzData
from ..exceptions import ConfigurationError, OutputFileError
from ..typing import AuthzSource
from ._authz_files import AUTHZ_CHECKPOINT_FILE, read_authz_files


__all__ = [
    "AUTHZ_CHECKPOINT_FILE",
    "AuthzExportProgress",
    "AuthzExportResult",
    "AuthzFiles",
    "export_authz",
]

#: The roles and organizations listed first (the dry count), kept while the checkpoint is.
_LISTING_FILE = "auth0-authz-export.listing.json"
_ROLES = AUTHZ_FILES["roles"]
_ROLE_MEMBERS = AUTHZ_FILES["role_members"]
_ORGANIZATIONS = AUTHZ_FILES["organizations"]
_ORGANIZATION_MEMBERS = AUTHZ_FILES["organization_members"]
_VERSION = 1
_MODE = 0o644  # no secrets in these files


@frozen
class AuthzFiles:
    """Where the roles and organizations export is (or goes): four files in one directory.

    Attributes:
        directory: The directory (the users export's).

    .. versionadded:: 0.1.0
    """

    directory: Path

    @classmethod
    def in_directory(cls, directory: str | os.PathLike[str]) -> AuthzFiles:
        """The files in *directory*.

        .. versionadded:: 0.1.0
        """
        return cls(Path(directory))

    @property
    def roles(self) -> Path:
        """``auth0-roles.ndjson``."""
        return self.directory / _ROLES

    @property
    def role_members(self) -> Path:
        """``auth0-role-members.ndjson``."""
        return self.directory / _ROLE_MEMBERS

    @property
    def organizations(self) -> Path:
        """``auth0-organizations.ndjson``."""
        return self.directory / _ORGANIZATIONS

    @property
    def organization_members(self) -> Path:
        """``auth0-organization-members.ndjson``."""
        return self.directory / _ORGANIZATION_MEMBERS

    @property
    def checkpoint(self) -> Path:
        """The checkpoint of an unfinished export (:data:`AUTHZ_CHECKPOINT_FILE`)."""
        return self.directory / AUTHZ_CHECKPOINT_FILE

    @property
    def complete(self) -> bool:
        """Whether no export into this directory is unfinished (no checkpoint)."""
        return not self.checkpoint.exists()

    def read(self, *, strict: bool = False) -> AuthzData:
        """Read the files with :func:`~auth0_ory_migrate.read_authz_files`, once complete.

        Raises:
            InputFileError: An export into the directory is unfinished (run it again to
                finish it), none of the files is there, or one cannot be read.

        .. versionadded:: 0.1.0
        """
        return read_authz_files(self.directory, strict=strict)


AuthzExportPhase = Literal["counting", "roles", "organizations", "done"]


@frozen
class AuthzExportProgress:
    """How far :func:`export_authz` is.

    Attributes:
        phase: ``counting`` (listing roles and organizations: *done* so far, *total*
            ``None``), ``roles``, ``organizations`` (*done* of *total* written), ``done``.
        done: Roles or organizations listed or written.
        total: How many there are (``None`` while counting).
        roles: Roles listed (known once counted).
        organizations: Organizations listed.
        lines: Member lines written so far (role members and organization members).

    .. versionadded:: 0.1.0
    """

    phase: AuthzExportPhase
    done: int
    total: int | None
    roles: int = 0
    organizations: int = 0
    lines: int = 0


#: Called with an :class:`AuthzExportProgress` after every page.
AuthzProgressCallback = Callable[[AuthzExportProgress], None]


@frozen
class AuthzExportResult:
    """What :func:`export_authz` wrote.

    Attributes:
        files: Where.
        roles: Lines in the roles file (0 when roles were not exported).
        role_members: Lines in the role members file.
        organizations: Lines in the organizations file.
        organization_members: Lines in the organization members file.
        resumed: Whether an interrupted export was continued.
        limit: The cap on roles and organizations (a trial), if any.

    .. versionadded:: 0.1.0
    """

    files: AuthzFiles
    roles: int
    role_members: int
    organizations: int
    organization_members: int
    resumed: bool = False
    limit: int | None = None


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class _Appender:
    """One output file opened for appending (no symlink followed), cut back on resume."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), _MODE)
        except OSError as e:
            raise OutputFileError(str(path), e.strerror or str(e)) from None
        self._file: IO[bytes] = os.fdopen(fd, "ab")
        try:
            os.ftruncate(fd, size)
        except OSError as e:
            self._file.close()
            raise OutputFileError(str(path), e.strerror or str(e)) from None
        self.size = size

    def write(self, lines: list[bytes]) -> None:
        if not lines:
            return
        data = b"".join(lines)
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as e:
            raise OutputFileError(str(self.path), e.strerror or str(e)) from None
        self.size += len(data)

    def close(self) -> None:
        self._file.close()


def _replace(target: Path, value: Any) -> None:
    """Write *value* as JSON to *target* atomically (a temporary file, fsynced, renamed)."""
    temporary = target.with_name(target.name + ".tmp")
    data = json.dumps(value, ensure_ascii=False).encode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temporary, flags, _MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except OSError as e:
        raise OutputFileError(str(target), e.strerror or str(e)) from None


class _Checkpoint:
    """The walk's position (small, saved after every page) and the listing (saved once each).

    The listing of roles and organizations (the dry count) is its own file,
    :data:`_LISTING_FILE`, so that the checkpoint saved after each page stays a few hundred
    bytes however many organizations there are.
    """

    def __init__(self, files: AuthzFiles, state: dict[str, Any], listing: dict[str, Any]) -> None:
        self.files = files
        self.state = state
        self.listing = listing

    def save(self) -> None:
        _replace(self.files.checkpoint, self.state)

    def save_listing(self) -> None:
        _replace(self.files.directory / _LISTING_FILE, self.listing)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.files.checkpoint.unlink()  # first: without it, the files are complete
        with contextlib.suppress(FileNotFoundError):
            (self.files.directory / _LISTING_FILE).unlink()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # missing or unreadable: start over


def _load(files: AuthzFiles, options: dict[str, Any]) -> _Checkpoint | None:
    """The checkpoint of an interrupted export with these options, if it can be resumed."""
    state = _read_json(files.checkpoint)
    if not isinstance(state, dict) or state.get("version") != _VERSION:
        return None
    if state.get("options") != options:
        return None
    sizes = state.get("sizes")
    if not isinstance(sizes, dict):
        return None
    for name, size in sizes.items():
        path = files.directory / name
        try:
            if path.is_symlink() or path.stat().st_size < int(size):
                return None  # the file is not the one the checkpoint knows: start over
        except (OSError, TypeError, ValueError):
            return None
    listing = _read_json(files.directory / _LISTING_FILE) or {}
    if not isinstance(listing, dict) or listing.get("version") != _VERSION:
        listing = {"version": _VERSION, "roles": None, "organizations": None}
    for key, done in (state.get("listed") or {}).items():
        if done and not isinstance(listing.get(key), list):
            return None  # the listing the walk went by is gone: start over
    return _Checkpoint(files, state, listing)


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def export_authz(
    source: AuthzSource,
    directory: str | os.PathLike[str],
    *,
    roles: bool = True,
    organizations: bool = True,
    limit: int | None = None,
    progress: AuthzProgressCallback | None = None,
) -> AuthzExportResult:
    """Export roles, role members, organizations and their members to four NDJSON files.

    Lists the roles and organizations first (a dry count, reported as progress), then walks
    each role's members (role → users, direct assignments) and each organization's enabled
    connections and members with their roles, one page per request, appending each page and
    checkpointing after it. Run it again after an interruption and it goes on where it
    stopped, without writing a line twice (see the module documentation); 429s wait as the
    source's retry policy says (:class:`~auth0_ory_migrate.Auth0Authz`: Auth0's
    ``x-ratelimit-reset``).

    Args:
        source: Where to read (e.g. ``Auth0Authz.of(exporter)``).
        directory: Where to write (the users export's directory); it must exist.
        roles: Export roles and role members.
        organizations: Export organizations and their members.
        limit: Export at most this many roles and this many organizations (a trial).
        progress: Called after every page.

    Raises:
        ConfigurationError: Nothing to export, a bad *limit* or no such directory.
        OutputFileError: A file could not be written.
        Auth0ApiError: Auth0 refused (e.g. a missing scope; the message names it).

    .. versionadded:: 0.1.0
    """
    if not isinstance(source, AuthzSource):
        raise TypeError(
            f"export_authz reads an AuthzSource, such as Auth0Authz.of(exporter), not a "
            f"{type(source).__name__}"
        )
    if not roles and not organizations:
        raise ConfigurationError("nothing to export: ask for roles, organizations or both")
    if limit is not None and limit < 1:
        raise ConfigurationError(f"the limit must be at least 1, not {limit}")
    files = AuthzFiles.in_directory(directory)
    if not files.directory.is_dir():
        raise ConfigurationError(f"{files.directory} is not a directory")
    names = ([_ROLES, _ROLE_MEMBERS] if roles else []) + (
        [_ORGANIZATIONS, _ORGANIZATION_MEMBERS] if organizations else []
    )
    options = {"roles": roles, "organizations": organizations, "limit": limit}
    checkpoint = _load(files, options)
    resumed = checkpoint is not None
    if checkpoint is None:
        state = {
            "version": _VERSION,
            "options": options,
            "listed": {"roles": False, "organizations": False},
            "sizes": dict.fromkeys(names, 0),
            "role": {"index": 0, "started": False, "cursor": None},
            "organization": {"index": 0, "started": False, "cursor": None},
        }
        listing = {"version": _VERSION, "roles": None, "organizations": None}
        checkpoint = _Checkpoint(files, state, listing)
    appenders: dict[str, _Appender] = {}
    try:
        for name in names:
            size = int(checkpoint.state["sizes"][name])
            appenders[name] = _Appender(files.directory / name, size)
        _Run(source, checkpoint, appenders, limit, progress).run(roles, organizations)
    finally:
        for appender in appenders.values():
            appender.close()
    checkpoint.remove()
    return AuthzExportResult(
        files,
        _count_lines(files.roles) if roles else 0,
        _count_lines(files.role_members) if roles else 0,
        _count_lines(files.organizations) if organizations else 0,
        _count_lines(files.organization_members) if organizations else 0,
        resumed,
        limit,
    )


class _Run:
    """One run of :func:`export_authz` (the walk; the caller owns files and checkpoint)."""

    def __init__(
        self,
        source: AuthzSource,
        checkpoint: _Checkpoint,
        appenders: dict[str, _Appender],
        limit: int | None,
        progress: AuthzProgressCallback | None,
    ) -> None:
        self.source = source
        self.checkpoint = checkpoint
        self.state = checkpoint.state
        self.appenders = appenders
        self.limit = limit
        self.progress = progress
        self.report = AuthzExportProgress("counting", 0, None)

    def _tell(self, **changes: Any) -> None:
        self.report = evolve(self.report, **changes)
        if self.progress is not None:
            self.progress(self.report)

    def _commit(self, writes: dict[str, list[bytes]]) -> None:
        """Append the lines, then record the files' sizes and the walk's position."""
        for name, lines in writes.items():
            self.appenders[name].write(lines)
        self.state["sizes"] = {name: a.size for name, a in self.appenders.items()}
        self.checkpoint.save()

    def _listed(self, key: str, items: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = []
        capped = itertools.islice(items, self.limit) if self.limit is not None else items
        for n, item in enumerate(capped, 1):
            if isinstance(item.get("id"), str):  # (Auth0 always gives one)
                listed.append(item)
            if n % 100 == 0:
                self._tell(done=n, **{key: n})
        self._tell(done=len(listed), **{key: len(listed)})
        return listed

    def run(self, roles: bool, organizations: bool) -> None:
        # The dry count: list what there is (kept next to the checkpoint), then walk it.
        listing, listed = self.checkpoint.listing, self.state["listed"]
        if roles and not listed["roles"]:
            listing["roles"] = self._listed("roles", self.source.roles())
            self.checkpoint.save_listing()
            listed["roles"] = True
            self.checkpoint.save()
        if organizations and not listed["organizations"]:
            listing["organizations"] = self._listed("organizations", self.source.organizations())
            self.checkpoint.save_listing()
            listed["organizations"] = True
            self.checkpoint.save()
        self._tell(
            roles=len(listing["roles"] or ()),
            organizations=len(listing["organizations"] or ()),
            lines=self._lines_so_far(),
        )
        if roles:
            self._walk_roles()
        if organizations:
            self._walk_organizations()
        self._tell(phase="done", done=self.report.total or 0)

    def _lines_so_far(self) -> int:
        return sum(
            _count_lines(a.path)
            for name, a in self.appenders.items()
            if name in (_ROLE_MEMBERS, _ORGANIZATION_MEMBERS)
        )

    def _walk_roles(self) -> None:
        self._walk(
            "roles",
            (_ROLES, _ROLE_MEMBERS),
            lambda role_id: {"permissions": self.source.role_permissions(role_id)},
            self.source.role_members,
            lambda role_id, user: {"role_id": role_id, "user_id": user},
        )

    def _walk_organizations(self) -> None:
        self._walk(
            "organizations",
            (_ORGANIZATIONS, _ORGANIZATION_MEMBERS),
            lambda org_id: {"enabled_connections": self.source.organization_connections(org_id)},
            self.source.organization_members,
            lambda org_id, m: {
                "organization_id": org_id,
                "user_id": m["user_id"],
                "roles": m["roles"],
            },
        )

    def _walk(
        self,
        phase: Literal["roles", "organizations"],
        names: tuple[str, str],
        details: Callable[[str], dict[str, Any]],
        page: Callable[[str, str | None], tuple[list[Any], str | None]],
        member: Callable[[str, Any], dict[str, Any]],
    ) -> None:
        """Each listed item's line (with *details*), then its members page by page."""
        listed: list[dict[str, Any]] = self.checkpoint.listing[phase]
        position = self.state[phase[:-1]]  # "role", "organization"
        items_file, members_file = names
        self._tell(phase=phase, done=position["index"], total=len(listed))
        while position["index"] < len(listed):
            item = listed[position["index"]]
            item_id = str(item["id"])
            if not position["started"]:
                extra = details(item_id)
                position.update(started=True, cursor=None)
                self._commit({items_file: [_line({**item, **extra})]})
            while True:
                found, cursor = page(item_id, position["cursor"])
                if cursor is None:
                    position.update(index=position["index"] + 1, started=False, cursor=None)
                else:
                    position["cursor"] = cursor
                lines = [_line(member(item_id, x)) for x in found]
                self._commit({members_file: lines})
                self._tell(done=position["index"], lines=self.report.lines + len(lines))
                if cursor is None:
                    break
