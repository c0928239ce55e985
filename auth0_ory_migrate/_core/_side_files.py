"""Side files that are wrong as a whole: no hash in the hash file, or another export (pure).

A hash file without a single readable hash (an empty file, ``{"users": [...]}``
instead of one record per line) would send every database user to the
password-migration hook, exit status 0; the users export given as
``--password-hashes`` (or the hash file as ``--mfa-secrets``) reads as records
without a hash (or unreadable ones), with the same outcome. These rules look at
a side file only when nothing usable was read from it (the rare path), and name
what the file looks like instead, from its first record's keys: never a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from ..exceptions import InputFileError
from ._mfa import MfaIndex
from ._password_hashes import PasswordHashIndex


__all__ = [
    "FileKind",
    "check_mfa_secrets_read",
    "check_password_hashes_read",
    "looks_like",
    "refuse_another_export",
]

#: What a file looks like, from its first bytes: nothing at all, one of Auth0's
#: exports, one JSON object holding a list (an API answer saved by hand), or else.
FileKind: TypeAlias = Literal["empty", "users", "password_hashes", "mfa_secrets", "object", "other"]

_BOM = b"\xef\xbb\xbf"
#: Keys only the password-hash export has (``_id`` in any case is checked too).
_HASH_KEYS = ("passwordHash", "password_hash", "custom_password_hash", "password_set_date")
#: Keys only the MFA-secrets export has.
_MFA_KEYS = ("otp_secret", "recovery_code")
#: A key named in a message: a plain name of at most 64 characters (else it is not quoted).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$.-]{1,64}")

_GIVE = {
    "users": "this looks like an Auth0 users export (user_id, identities): give it as --users",
    "users_csv": (
        "this looks like the export job's CSV of users (a user_id column): give it as --users"
    ),
    "password_hashes": (
        "this looks like the password-hash export (_id, passwordHash): give it as --password-hashes"
    ),
    "mfa_secrets": (
        "this looks like the MFA-secrets export (user_id, type): give it as --mfa-secrets"
    ),
}


def _first_record(head: bytes) -> Any:
    """The first JSON value of an NDJSON file or a JSON array, or ``None`` (not JSON, cut off)."""
    text = head.decode("utf-8", "replace").lstrip()
    if text.startswith("["):
        text = text[1:].lstrip()
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):  # not JSON, cut off by the head's end, nested deep
        return None
    return value


def looks_like(head: bytes) -> tuple[FileKind, str]:
    """What a file looks like from its first bytes (gzip undone): its kind, said for people.

    The sentence names keys of the first record, never a value (it could be a
    secret); it is empty for ``other``.
    """
    head = head.removeprefix(_BOM)
    if not head.strip():
        return "empty", "the file is empty"
    first = _first_record(head)
    if isinstance(first, dict):
        if any(k in first for k in _MFA_KEYS) or (
            "user_id" in first and "type" in first and "identities" not in first
        ):
            return "mfa_secrets", _GIVE["mfa_secrets"]
        if any(k in first for k in _HASH_KEYS) or any(
            type(k) is str and k.lower() in ("_id", "alt_id") for k in first
        ):
            return "password_hashes", _GIVE["password_hashes"]
        if "user_id" in first or "identities" in first:
            return "users", _GIVE["users"]
        key = next((k for k, v in first.items() if isinstance(v, list)), None)
        if key is not None:
            named = f' (first key "{key}")' if _PLAIN_KEY.fullmatch(key) else ""
            jq = f".{key}[]" if named else ".KEY[]"
            return "object", (
                f"the file is one JSON object{named}, not one record per line or a JSON array; "
                f"if the records are a list inside it, take them out, e.g. jq -c '{jq}' FILE"
            )
        return "other", ""
    if first is None:
        header = head.split(b"\n", 1)[0].decode("utf-8", "replace")
        columns = [c.strip().strip('"').strip() for c in header.split(",")]
        if len(columns) > 1 and "user_id" in columns:
            return "users", _GIVE["users_csv"]
    return "other", ""


def refuse_another_export(source: Literal["password_hashes", "mfa_secrets"], head: bytes) -> None:
    """Raise if a side file that *source* failed to read (strict mode) is another export.

    Raises:
        InputFileError: The file looks like another of Auth0's exports (or,
            for the MFA file, one JSON object); the message says which.
    """
    kind, looks = looks_like(head)
    other = (
        ("users", "mfa_secrets") if source == "password_hashes" else ("users", "password_hashes")
    )
    if kind in other or (source == "mfa_secrets" and kind == "object"):
        what = "password hash" if source == "password_hashes" else "MFA secret"
        option = source.replace("_", "-")
        raise InputFileError(source, f"no {what} read from --{option}: {looks}")


def _records_read(total: int, unreadable: tuple[Any, ...]) -> str:
    count = total + len(unreadable)
    said = f"{count:,} record{'' if count == 1 else 's'}, none with a password hash"
    if unreadable:
        first = unreadable[0]
        said += f" ({len(unreadable):,} unreadable; the first: line {first.line}: {first.reason})"
    return said


def check_password_hashes_read(
    hashes: PasswordHashIndex,
    head: bytes,
    *,
    has_database_users: Callable[[], bool],
    allow_empty: bool = False,
) -> None:
    """Refuse a hash file from which no hash was read, when that cannot be what was meant.

    Nothing is looked at when the index holds a hash (the usual case). Else the
    file is refused if it looks like another of Auth0's exports (always), or if
    the users include database users (each would need the password-migration
    hook) unless *allow_empty*.

    Args:
        hashes: The index of the hash file.
        head: The file's first bytes (gzip undone; 64 KiB is plenty).
        has_database_users: Whether the users file has a database user (called
            only when needed: it reads the users).
        allow_empty: Accept a hash file without a hash (``--allow-empty-hashes``).

    Raises:
        InputFileError: The hash file is not what it should be; the message
            says what it looks like instead (keys, never values).
    """
    if hashes.entries:
        return
    refuse_another_export("password_hashes", head)
    kind, looks = looks_like(head)
    if allow_empty or not has_database_users():
        return
    if kind not in ("empty", "object"):
        looks = _records_read(hashes.total, hashes.unreadable)
    msg = (
        "no password hash read from --password-hashes, yet the users file has database users "
        f"(each would need the password-migration hook): {looks}; pass --allow-empty-hashes "
        "if a hash file without hashes is what you meant"
    )
    raise InputFileError("password_hashes", msg)


def check_mfa_secrets_read(mfa: MfaIndex, head: bytes) -> None:
    """Refuse an MFA-secrets file from which nothing was read that looks like another file.

    An empty file passes (no user has a secret), and so does a file of MFA
    records of other types (each is reported as unreadable, the run goes on).

    Raises:
        InputFileError: No record was readable and the file looks like another
            of Auth0's exports or one JSON object; the message says which.
    """
    if mfa.otp or mfa.recovery_codes or not mfa.unreadable:
        return
    refuse_another_export("mfa_secrets", head)
