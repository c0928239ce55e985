"""The export's roles and organizations files, read from their folder (:func:`read_authz`'s I/O)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

from .._core._authz import AUTHZ_FILES, AuthzData, read_authz
from ..exceptions import InputFileError


__all__ = ["AUTHZ_CHECKPOINT_FILE", "read_authz_files"]

#: The checkpoint of an unfinished :func:`~auth0_ory_migrate.export_authz`, next to its files.
AUTHZ_CHECKPOINT_FILE = "auth0-authz-export.checkpoint.json"


def read_authz_files(directory: str | os.PathLike[str], *, strict: bool = False) -> AuthzData:
    """Read the roles and organizations files ``export --roles --organizations`` wrote.

    The files named in :data:`~auth0_ory_migrate.AUTHZ_FILES`, in *directory*; a file that is
    not there is ``None`` for :func:`~auth0_ory_migrate.read_authz` (e.g. roles exported
    without organizations). Each file is read one line at a time; a bad line is reported in
    :attr:`AuthzData.problems <auth0_ory_migrate.AuthzData.problems>`, the rest is used.

    Args:
        directory: The folder of the files (normally the users export's).
        strict: Raise on the first line that cannot be used.

    Raises:
        InputFileError: None of the four files is in *directory*, one cannot be read, or
            an export into *directory* is unfinished (:data:`AUTHZ_CHECKPOINT_FILE` is
            there: run it again to finish it).

    .. versionadded:: 0.1.0
    """
    folder = Path(directory)
    if (folder / AUTHZ_CHECKPOINT_FILE).exists():
        msg = (
            f"the roles and organizations export in {folder} is unfinished "
            f"({AUTHZ_CHECKPOINT_FILE} is there): run the export again to finish it"
        )
        raise InputFileError("authz", msg)
    present = {
        source: path for source, name in AUTHZ_FILES.items() if (path := folder / name).is_file()
    }
    if not present:
        names = ", ".join(AUTHZ_FILES.values())
        msg = (
            f"no roles or organizations export in {folder} (none of {names}): write them "
            "with `export --roles --organizations`, or name their folder with --authz-files"
        )
        raise InputFileError("authz", msg)
    with contextlib.ExitStack() as stack:
        files: dict[str, IO[bytes] | None] = dict.fromkeys(AUTHZ_FILES)
        for source, path in present.items():
            try:
                files[source] = stack.enter_context(path.open("rb"))
            except OSError as e:
                msg = f"{path}: cannot be read ({e.strerror or e})"
                raise InputFileError("authz", msg) from e
        try:
            return read_authz(**files, strict=strict)
        except OSError as e:
            msg = f"cannot be read ({e.strerror or e})"
            raise InputFileError("authz", msg) from e
