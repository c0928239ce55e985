"""What kind of user export a file is, and what that kind cannot carry (pure).

The export job's CSV flavour has only the columns that were asked for, and Auth0's job
offers neither ``last_password_reset`` nor the whole ``identities`` list: a hash exported
before a password reset would be imported (the old password keeps working), and the
social logins linked to a user would be dropped. Both would go unsaid; the rule here says
them out loud and refuses the dangerous one.
"""

from __future__ import annotations

from typing import IO, Literal, TypeAlias

from ..exceptions import ConfigurationError
from ._read import _detect, _open_binary


__all__ = ["UsersFormat", "check_users_format", "users_export_format"]

#: The kinds of Auth0 user export: newline-delimited JSON (the export job's ``json``
#: format), one JSON array (the Management API's pages saved together) or the job's CSV.
UsersFormat: TypeAlias = Literal["ndjson", "json", "csv"]

_CSV_STALE = (
    "the users file is the export job's CSV, which has no last_password_reset column: "
    "a hash exported before a password reset would be imported and the old password "
    "would keep working"
)
_CSV_IDENTITIES = (
    "the users file is the export job's CSV, which has no identities column: social and "
    "enterprise logins linked to a user are not imported"
)
_JSON_HINT = "export with format: json (`auth0-ory-migrate export` does)"


def users_export_format(f: IO[bytes]) -> UsersFormat:
    """The kind of user export *f* is, from its first 64 KiB (gzip is undone).

    Reads ahead without consuming: *f* is left for the caller to close (it may have moved).

    Raises:
        InputFileError: The file is encrypted or its gzip stream is damaged.

    .. versionadded:: 0.1.0
    """
    kind = _detect(_open_binary(f, "users"), allow_csv=True)
    return "csv" if kind not in ("ndjson", "json") else kind  # type: ignore[return-value]


def check_users_format(
    users_format: UsersFormat, *, password_hashes: bool, accept_csv_losses: bool = False
) -> tuple[str, ...]:
    """What a user export of *users_format* loses, as warnings; refuse the dangerous loss.

    Args:
        users_format: What :func:`users_export_format` said.
        password_hashes: Whether a password-hash export goes with it.
        accept_csv_losses: Convert a CSV with a hash file all the same
            (``--accept-csv-losses``).

    Returns:
        One sentence per loss (empty for NDJSON or a JSON array).

    Raises:
        ConfigurationError: A CSV with a password-hash export, not accepted: passwords
            reset since the hash export would be replaced by the old ones.

    .. versionadded:: 0.1.0
    """
    if users_format != "csv":
        return ()
    if password_hashes and not accept_csv_losses:
        msg = (
            f"{_CSV_STALE}, and linked social logins would be dropped; {_JSON_HINT}, "
            "or pass --accept-csv-losses to convert it all the same"
        )
        raise ConfigurationError(msg)
    warnings = [f"{_CSV_IDENTITIES}; {_JSON_HINT}"]
    if password_hashes:
        warnings.insert(0, f"{_CSV_STALE}; {_JSON_HINT}")
    return tuple(warnings)
