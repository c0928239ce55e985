"""testing builders and strategies: every kind of Auth0 user, behind a keyword."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_ory_migrate.testing import ENTERPRISE_STRATEGIES, auth0_users
from auth0_ory_migrate.testing import strategies as ts


# sha256 of auth0_users(n=60, seed=7, real_hashes=False, mfa=True), taken before `every_kind`.
DEFAULT_DIGEST = "79816383ce135137c2cc4de12b920f8cea104f0d86b6d7241fc5ab77ddb8c0a3"


def digest(users: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(users, sort_keys=True).encode()).hexdigest()


def test_default_output_is_unchanged() -> None:
    """Without the new keyword, auth0_users generates exactly what it did before."""
    users = auth0_users(n=60, seed=7, real_hashes=False, mfa=True)
    records = [
        {"record": u.record, "hash": u.hash_record, "mfa": u.mfa_secret, "kind": u.kind}
        for u in users
    ]
    assert digest(records) == DEFAULT_DIGEST


def test_every_kind_covers_each_connection_type() -> None:
    """every_kind=True yields SMS, email passwordless, username and every enterprise strategy."""
    users = auth0_users(n=200, seed=3, real_hashes=False, every_kind=True)
    prefixes = {u.user_id.split("|", 1)[0] for u in users}
    assert {"auth0", "sms", "email", *ENTERPRISE_STRATEGIES} <= prefixes
    for user in users:
        record = user.record
        (identity, *_) = record["identities"]
        assert record["user_id"] == f"{identity['provider']}|{identity['user_id']}"
        assert identity["isSocial"] is (user.kind in ("social",))
        if user.kind == "sms":
            assert "email" not in record
            assert record["phone_number"].startswith("+")
            assert isinstance(record["phone_verified"], bool)
        if user.kind == "passwordless":
            assert identity["connection"] == "email"
            assert "email" in record
        if user.kind == "enterprise":
            assert identity["provider"] in ENTERPRISE_STRATEGIES
            assert identity["connection"]
            assert record.get("email")
    username_users = [u for u in users if "username" in u.record]
    assert any("email" not in u.record for u in username_users)
    assert any("email" in u.record for u in username_users)
    assert all(u.user_id.startswith("auth0|") for u in username_users)


def test_strategies_default_enterprise_providers_are_unchanged() -> None:
    """The existing strategies keep their providers; every strategy is available on request."""
    assert ts.ENTERPRISE_PROVIDERS == ("samlp", "waad", "adfs", "oidc", "okta")
    assert set(ts.ENTERPRISE_PROVIDERS) < set(ENTERPRISE_STRATEGIES)
    assert set(ENTERPRISE_STRATEGIES) == {
        "samlp", "waad", "adfs", "okta", "oidc", "google-apps", "pingfederate", "ad"
    }  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_strategy_draws_every_enterprise_strategy_on_request(data: st.DataObject) -> None:
    """auth0_user_records(enterprise_strategies=...) draws realistic enterprise users."""
    record = data.draw(
        ts.auth0_user_records(
            ["enterprise"], enterprise_strategies=ENTERPRISE_STRATEGIES, all_fields=True
        )
    )
    (identity,) = record["identities"]
    assert identity["provider"] in ENTERPRISE_STRATEGIES
    assert record["user_id"] == f"{identity['provider']}|{identity['user_id']}"


def test_sms_users_have_unique_phone_numbers() -> None:
    """An SMS connection's phone numbers are unique, as in Auth0 (no clash on import)."""
    users = auth0_users(n=3000, seed=13, real_hashes=False, every_kind=True)
    phones = [u.record["phone_number"] for u in users if u.kind == "sms"]
    assert len(phones) > 300
    assert len(set(phones)) == len(phones)
