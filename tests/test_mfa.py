"""The MFA-secrets export: TOTP secrets become Ory TOTP credentials, recovery codes are counted."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from auth0_ory_migrate import (
    Auth0User,
    MappingOptions,
    MfaIndex,
    MfaSecret,
    PlannedIdentity,
    UnreadableRecord,
    index_mfa_secrets,
    map_user,
    parse_user,
    plan_migration,
    read_mfa_secrets,
    totp_url,
)


SECRET = "JBSWY3DPEHPK3PXP"
RECOVERY = "$2b$04$" + "R" * 22 + "recoveryhashrecoveryhashrecovery"
ADA = "auth0|60425dc43519d90068f82973"


def _read(*raw: dict[str, Any] | str) -> list[MfaSecret | UnreadableRecord]:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in raw]
    return list(read_mfa_secrets(io.BytesIO("\n".join(lines).encode())))


def _user(user_id: str = ADA, email: str | None = "ada@example.com") -> Auth0User:
    raw: dict[str, Any] = {"user_id": user_id}
    if email:
        raw.update(email=email, email_verified=True)
    user = parse_user(raw, 1)
    assert isinstance(user, Auth0User)
    return user


def _parse_totp(url: str) -> tuple[str, str, dict[str, list[str]]]:
    parts = urlsplit(url)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    return parts.scheme, unquote(parts.path.lstrip("/")), parse_qs(parts.query)


# --- reading -------------------------------------------------------------------------------------


def test_otp_record_is_read() -> None:
    """An otp line becomes an MfaSecret with the user id and the secret."""
    (secret,) = _read({"user_id": ADA, "type": "otp", "otp_secret": SECRET})
    assert isinstance(secret, MfaSecret)
    assert (secret.line, secret.user_id, secret.kind, secret.secret) == (1, ADA, "otp", SECRET)


def test_otp_secret_is_normalised() -> None:
    """Spaces are dropped and base32 is upper-cased; unpadded secrets are fine."""
    (secret,) = _read({"user_id": ADA, "type": "otp", "otp_secret": " jbsw y3dp ehpk 3pxp "})
    assert isinstance(secret, MfaSecret)
    assert secret.secret == SECRET
    (odd,) = _read({"user_id": ADA, "type": "totp", "secret": "MFRGG"})
    assert isinstance(odd, MfaSecret)
    assert (odd.kind, odd.secret) == ("otp", "MFRGG")


def test_recovery_code_record_is_read() -> None:
    """A recovery-code line is kept as a record of that kind."""
    (code,) = _read({"user_id": ADA, "type": "recovery-code", "recovery_code": RECOVERY})
    assert isinstance(code, MfaSecret)
    assert code.kind == "recovery-code"


@pytest.mark.parametrize(
    ("raw", "user_id", "reason"),
    [
        ({"type": "otp", "otp_secret": SECRET}, None, "no user_id"),
        ({"user_id": "no-bar", "type": "otp", "otp_secret": SECRET}, None, "no user_id"),
        ({"user_id": ADA, "type": "otp"}, ADA, "without otp_secret"),
        ({"user_id": ADA, "type": "otp", "otp_secret": "   "}, ADA, "without otp_secret"),
        ({"user_id": ADA, "type": "otp", "otp_secret": "not-base32!1"}, ADA, "not base32"),
        ({"user_id": ADA, "type": "sms", "phone": "+1555"}, ADA, "unknown MFA type"),
        ({"user_id": ADA}, ADA, "unknown MFA type"),
    ],
)
def test_unusable_mfa_records(raw: dict[str, Any], user_id: str | None, reason: str) -> None:
    """Bad MFA lines are unreadable records naming the user, never the secret."""
    (bad,) = _read(raw)
    assert isinstance(bad, UnreadableRecord)
    assert (bad.source, bad.line, bad.user_id) == ("mfa_secrets", 1, user_id)
    assert reason in bad.reason
    assert "not-base32!1" not in repr(bad)


def test_secrets_are_masked_in_repr() -> None:
    """Neither MfaSecret nor MfaIndex shows a secret or a recovery hash in its repr."""
    records = _read(
        {"user_id": ADA, "type": "otp", "otp_secret": SECRET},
        {"user_id": ADA, "type": "recovery-code", "recovery_code": RECOVERY},
    )
    index = index_mfa_secrets(records)
    for text in (repr(records), repr(index)):
        assert SECRET not in text
        assert RECOVERY not in text


# --- the index -----------------------------------------------------------------------------------


def test_index_keeps_last_otp_and_counts_recovery_codes() -> None:
    """The last OTP secret of a user wins; recovery codes are counted per user."""
    index = index_mfa_secrets(
        _read(
            {"user_id": ADA, "type": "otp", "otp_secret": "MFRGG"},
            {"user_id": ADA, "type": "otp", "otp_secret": SECRET},
            {"user_id": ADA, "type": "recovery-code", "recovery_code": RECOVERY},
            {"user_id": ADA, "type": "recovery-code", "recovery_code": RECOVERY},
            {"user_id": "auth0|b", "type": "recovery-code", "recovery_code": RECOVERY},
            "{broken",
        )
    )
    assert isinstance(index, MfaIndex)
    assert index.otp == {ADA: SECRET}
    assert index.recovery_codes == {ADA: 2, "auth0|b": 1}
    assert [(r.line, r.source) for r in index.unreadable] == [(6, "mfa_secrets")]


# --- the TOTP URL --------------------------------------------------------------------------------


def test_totp_url_shape() -> None:
    """The URL is otpauth://totp/ISSUER:ACCOUNT with secret and issuer parameters."""
    url = totp_url(SECRET, "ada@example.com", "Ory")
    assert url == f"otpauth://totp/Ory:ada@example.com?secret={SECRET}&issuer=Ory"


@pytest.mark.parametrize(
    ("issuer", "account"),
    [
        ("Acme Inc.", "ada@example.com"),
        ("Ümlaut & Co", "j\u00fcrgen+tag@example.de"),
        ("a/b?c#d", "x%y@example.com"),
    ],
)
def test_totp_url_quotes_issuer_and_account(issuer: str, account: str) -> None:
    """Any issuer and account survive the URL: the label and parameters decode to them."""
    _, label, query = _parse_totp(totp_url(SECRET, account, issuer))
    assert label == f"{issuer}:{account}"
    assert query == {"secret": [SECRET], "issuer": [issuer]}


def test_map_user_adds_totp_credential() -> None:
    """A TOTP secret becomes credentials.totp.config.totp_url for the user's email."""
    planned = map_user(_user(), MappingOptions(totp_issuer="Acme"), otp_secret=SECRET)
    assert isinstance(planned, PlannedIdentity)
    url = planned.body["credentials"]["totp"]["config"]["totp_url"]
    assert set(planned.body["credentials"]["totp"]) == {"config"}
    assert set(planned.body["credentials"]["totp"]["config"]) == {"totp_url"}
    _, label, query = _parse_totp(url)
    assert label == "Acme:ada@example.com"
    assert query == {"secret": [SECRET], "issuer": ["Acme"]}


def test_totp_account_falls_back_to_user_id_without_address() -> None:
    """With a custom schema that has no address trait, the account name is the user id."""
    options = MappingOptions(
        schema_id="https://example.com/username.schema.json",
        traits={"username": "username"},
        address_trait=None,
    )
    user = parse_user({"user_id": ADA, "username": "ada"}, 1)
    assert isinstance(user, Auth0User)
    planned = map_user(user, options, otp_secret=SECRET)
    assert isinstance(planned, PlannedIdentity)
    _, label, _ = _parse_totp(planned.body["credentials"]["totp"]["config"]["totp_url"])
    assert label == f"Ory:{ADA}"


# --- recovery codes ------------------------------------------------------------------------------


def test_recovery_codes_are_reported_not_imported() -> None:
    """Hashed recovery codes add a note with their count and never reach the body."""
    planned = map_user(_user(), recovery_codes=3)
    assert isinstance(planned, PlannedIdentity)
    (note,) = planned.notes
    assert (note.user_id, note.code) == (ADA, "mfa_recovery_codes_not_imported")
    assert "3" in note.detail
    assert "lookup_secret" not in planned.body.get("credentials", {})


def test_plan_with_mfa_export() -> None:
    """Through the plan: TOTP imported for its user, recovery codes counted, nothing leaked."""
    mfa = _read(
        {"user_id": ADA, "type": "otp", "otp_secret": SECRET},
        {"user_id": ADA, "type": "recovery-code", "recovery_code": RECOVERY},
        {"user_id": ADA, "type": "recovery-code", "recovery_code": RECOVERY},
        {"user_id": "auth0|other", "type": "otp", "otp_secret": "MFRGG"},
        {"user_id": ADA, "type": "otp", "otp_secret": "bad secret!"},
    )
    users = [_user(), _user("auth0|grace", "grace@example.com")]
    plan = plan_migration(users, mfa_secrets=mfa)
    ada, grace = list(plan)
    assert isinstance(ada, PlannedIdentity)
    assert isinstance(grace, PlannedIdentity)
    assert "totp" in ada.body["credentials"]
    assert "totp" not in grace.body.get("credentials", {})
    report = plan.report
    assert report.totp == 1
    assert report.notes_by_code == {"mfa_recovery_codes_not_imported": 1}
    assert report.unreadable == {"mfa_secrets": 1}
    dumped = json.dumps(report.to_dict())
    assert RECOVERY not in dumped
    assert "bad secret!" not in dumped
    assert RECOVERY not in json.dumps(ada.body)


def test_plan_accepts_a_ready_mfa_index() -> None:
    """plan_migration takes an MfaIndex as well as raw records."""
    index = index_mfa_secrets(_read({"user_id": ADA, "type": "otp", "otp_secret": SECRET}))
    (ada,) = list(plan_migration([_user()], mfa_secrets=index))
    assert isinstance(ada, PlannedIdentity)
    assert "totp" in ada.body["credentials"]
