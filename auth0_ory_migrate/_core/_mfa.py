"""Auth0's MFA-secrets export: TOTP secrets become Ory TOTP credentials (pure).

The export's format is not published (it was seen in a peer tool): one JSON
object per line, ``{"user_id": "auth0|…", "type": "otp", "otp_secret": "BASE32"}``
or ``{"user_id": …, "type": "recovery-code", "recovery_code": "$2b$…"}``.
Recovery codes are stored hashed by Auth0 and Ory cannot import hashed codes,
so they are only counted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, Literal
from urllib.parse import quote, urlencode

from attrs import field, frozen

from ._read import iter_records
from ._records import UnreadableRecord


__all__ = ["MfaIndex", "MfaSecret", "index_mfa_secrets", "read_mfa_secrets", "totp_url"]


@frozen
class MfaSecret:
    """One record of the MFA-secrets export (the secret is hidden from ``repr``).

    .. versionadded:: 0.1.0
    """

    line: int
    user_id: str
    kind: Literal["otp", "recovery-code"]
    secret: str = field(repr=lambda _: "'***'")


def _parse(raw: Mapping[str, Any], line: int) -> MfaSecret | UnreadableRecord:
    user_id = raw.get("user_id")
    if not isinstance(user_id, str) or "|" not in user_id:
        return UnreadableRecord("mfa_secrets", line, None, "no user_id of the form provider|id")
    kind = raw.get("type")
    if kind in ("otp", "totp"):
        secret = raw.get("otp_secret", raw.get("secret"))
        if not isinstance(secret, str) or not secret.strip():
            return UnreadableRecord("mfa_secrets", line, user_id, "otp record without otp_secret")
        secret = secret.strip().replace(" ", "").upper()
        try:
            base64.b32decode(secret + "=" * (-len(secret) % 8))
        except (binascii.Error, ValueError):
            return UnreadableRecord("mfa_secrets", line, user_id, "otp_secret is not base32")
        return MfaSecret(line, user_id, "otp", secret)
    if kind in ("recovery-code", "recovery_code"):
        code = raw.get("recovery_code")
        return MfaSecret(line, user_id, "recovery-code", code if isinstance(code, str) else "")
    return UnreadableRecord(
        "mfa_secrets", line, user_id, "unknown MFA type (want otp or recovery-code)"
    )


def read_mfa_secrets(
    f: IO[bytes], *, strict: bool = False
) -> Iterator[MfaSecret | UnreadableRecord]:
    """Read Auth0's MFA-secrets export, record by record.

    .. versionadded:: 0.1.0
    """
    # Only looked into, never written out: no nesting or number-range check (a side file).
    return iter_records(f, "mfa_secrets", _parse, strict=strict, check=False)


@frozen
class MfaIndex:
    """TOTP secrets and recovery-code counts by Auth0 user id.

    .. versionadded:: 0.1.0
    """

    otp: dict[str, str] = field(repr=False)
    recovery_codes: dict[str, int] = field(repr=False)
    unreadable: tuple[UnreadableRecord, ...] = ()


def index_mfa_secrets(records: Iterable[MfaSecret | UnreadableRecord]) -> MfaIndex:
    """Index MFA records by user id (the last OTP secret of a user wins).

    .. versionadded:: 0.1.0
    """
    otp: dict[str, str] = {}
    recovery: dict[str, int] = {}
    unreadable: list[UnreadableRecord] = []
    for record in records:
        if isinstance(record, UnreadableRecord):
            unreadable.append(record)
        elif record.kind == "otp":
            otp[record.user_id] = record.secret
        else:
            recovery[record.user_id] = recovery.get(record.user_id, 0) + 1
    return MfaIndex(otp=otp, recovery_codes=recovery, unreadable=tuple(unreadable))


def totp_url(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…`` URL Ory imports.

    .. versionadded:: 0.1.0
    """
    label = quote(f"{issuer}:{account}", safe=":@")
    return f"otpauth://totp/{label}?{urlencode({'secret': secret, 'issuer': issuer})}"
