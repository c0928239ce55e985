"""Every kind of Auth0 user lands with the credential it signs in with (issue 13).

SMS and username users under a schema that has those traits, enterprise users through
``--enterprise`` (SAML or OIDC, inside an Ory organization), Auth0 as an upstream login
during a dual run, and the report naming the connections left without an Ory provider.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from auth0_ory_migrate import (
    Auth0User,
    ConfigurationError,
    EnterpriseProvider,
    MappingOptions,
    OryAdmin,
    PlannedIdentity,
    Skipped,
    format_summary,
    import_identities,
    map_user,
    parse_user,
    plan_migration,
    suggest_identity_schema,
    trait_mapping_for_schema,
)
from auth0_ory_migrate._cli import main
from auth0_ory_migrate.testing import (
    OryAdminServer,
    assert_valid_identity_body,
    auth0_users,
    write_export,
)
from auth0_ory_migrate.testing import strategies as ts


ORG = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
OTHER_ORG = "9b2d1c1e-0c53-4a8e-a7a4-1f0e2b3c4d5e"
DB = "Username-Password-Authentication"
SMS = {
    "user_id": "sms|64a0c1d2e3f4a5b6c7d8e9f0",
    "phone_number": "+15555550123",
    "phone_verified": True,
    "identities": [
        {
            "provider": "sms",
            "user_id": "64a0c1d2e3f4a5b6c7d8e9f0",
            "connection": "sms",
            "isSocial": False,
        }
    ],
}
USERNAME = {
    "user_id": "auth0|5f0c1d2e3f4a5b6c7d8e9f01",
    "username": "just_a_username",
    "identities": [{"provider": "auth0", "user_id": "5f0c1d2e3f4a5b6c7d8e9f01", "connection": DB}],
}
PASSWORDLESS = {
    "user_id": "email|5f0c1d2e3f4a5b6c7d8e9f02",
    "email": "grace@example.com",
    "email_verified": True,
    "identities": [
        {"provider": "email", "user_id": "5f0c1d2e3f4a5b6c7d8e9f02", "connection": "email"}
    ],
}


def _enterprise(strategy: str, connection: str, subject: str, **extra: Any) -> dict[str, Any]:
    local = f"{connection}|{subject}"
    return {
        "user_id": f"{strategy}|{local}",
        "email": "liskov@acme.test",
        "email_verified": True,
        "identities": [
            {"provider": strategy, "user_id": local, "connection": connection, "isSocial": False}
        ],
        **extra,
    }


def _user(raw: Mapping[str, Any], line: int = 1) -> Auth0User:
    user = parse_user(raw, line)
    assert isinstance(user, Auth0User), user
    return user


def _planned(raw: Mapping[str, Any], options: MappingOptions) -> PlannedIdentity:
    planned = map_user(_user(raw), options)
    assert isinstance(planned, PlannedIdentity), planned
    assert_valid_identity_body(planned.body)
    return planned


def _suggested(*raws: Mapping[str, Any]) -> MappingOptions:
    schema = suggest_identity_schema([_user(r, n) for n, r in enumerate(raws, 1)]).schema
    return MappingOptions(schema_id="every-kind", schema=schema)


def _providers(body: Mapping[str, Any], kind: str = "oidc") -> list[dict[str, Any]]:
    return list(body.get("credentials", {}).get(kind, {}).get("config", {}).get("providers", []))


# -- phone, username and email-passwordless users under the suggested schema ----------------------


def test_the_schemas_identifier_traits_are_filled_by_default() -> None:
    """trait_mapping_for_schema maps the schema's email, username and phone from Auth0's fields."""
    options = _suggested(SMS, USERNAME, PASSWORDLESS)
    assert trait_mapping_for_schema(options.schema or {}) == {
        "email": "email",
        "username": "username",
        "phone": "phone_number",
    }
    assert trait_mapping_for_schema({"type": "object"}) == {"email": "email"}


def test_an_sms_user_becomes_an_identity_with_a_verified_sms_address() -> None:
    """phone_number → traits.phone, and phone_verified → a verified SMS verifiable address."""
    planned = _planned(SMS, _suggested(SMS, USERNAME))
    assert planned.body["traits"] == {"phone": "+15555550123"}
    assert planned.body["verifiable_addresses"] == [
        {"value": "+15555550123", "verified": True, "via": "sms", "status": "completed"}
    ]
    assert "recovery_addresses" not in planned.body
    assert planned.password == "none"
    assert planned.notes == ()


def test_an_unverified_phone_gets_a_pending_sms_address() -> None:
    """phone_verified false (or missing) → the SMS address is pending, as in Auth0."""
    planned = _planned({**SMS, "phone_verified": False}, _suggested(SMS))
    assert planned.body["verifiable_addresses"][0]["verified"] is False
    assert planned.body["verifiable_addresses"][0]["status"] == "pending"


def test_a_username_user_becomes_an_identity_with_its_password_path() -> None:
    """A username user: traits.username; the database user keeps the password-migration hook."""
    planned = _planned(USERNAME, _suggested(SMS, USERNAME))
    assert planned.body["traits"] == {"username": "just_a_username"}
    assert planned.password == "hook"
    assert "verifiable_addresses" not in planned.body


def test_email_passwordless_users_sign_in_by_code_through_the_schema() -> None:
    """An email-passwordless user: the email trait, no password; the schema makes it a code id."""
    options = _suggested(PASSWORDLESS, SMS)
    planned = _planned(PASSWORDLESS, options)
    assert planned.body["traits"] == {"email": "grace@example.com"}
    assert "credentials" not in planned.body
    email = (options.schema or {})["properties"]["traits"]["properties"]["email"]
    assert email["ory.sh/kratos"]["credentials"]["code"] == {"identifier": True, "via": "email"}


def test_under_preset_email_sms_users_are_still_skipped_as_today() -> None:
    """With preset://email nothing changes: the SMS user is skipped as no_email."""
    skipped = map_user(_user(SMS), MappingOptions())
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "no_email"


def test_a_user_with_no_identifier_is_skipped_naming_the_fields() -> None:
    """Under the suggested schema a user with none of email, username, phone is no_traits."""
    bare = {"user_id": "github|1", "identities": [{"provider": "github", "user_id": 1}]}
    skipped = map_user(_user(bare), _suggested(SMS, USERNAME, PASSWORDLESS))
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "no_traits"
    assert "email, username, phone_number" in skipped.detail


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(export=ts.auth0_exports(min_users=1, max_users=10))
def test_every_user_with_an_identifier_lands_under_the_suggested_schema(
    export: ts.Auth0Export,
) -> None:
    """Property: under the suggested schema, only users without an identifier fail to land.

    Every other user is an identity, merged, or reported as a duplicate email, as today.
    """
    records = [parse_user(raw, n) for n, raw in enumerate(export.users, 1)]
    users = [u for u in records if isinstance(u, Auth0User)]
    has_identifier = {
        u.user_id
        for u in users
        if u.email is not None
        or any(
            isinstance(u.raw.get(f), str) and u.raw[f].strip() for f in ("phone_number", "username")
        )
    }
    if not has_identifier:
        return
    schema = suggest_identity_schema(users).schema
    options = MappingOptions(schema_id="suggested", schema=schema)
    for item in plan_migration(users, options=options):
        if isinstance(item, PlannedIdentity):
            assert_valid_identity_body(item.body)
        elif isinstance(item, Skipped) and item.user_id in has_identifier:
            assert item.reason in ("merged", "duplicate_email", "duplicate_user_id"), item


# -- enterprise connections -----------------------------------------------------------------------


def test_enterprise_provider_parses_the_option_value() -> None:
    """PROVIDER, PROVIDER@ORG, saml:PROVIDER and oidc:PROVIDER@ORG are understood."""
    assert EnterpriseProvider.parse("acme") == EnterpriseProvider("acme")
    assert EnterpriseProvider.parse(f"acme@{ORG}") == EnterpriseProvider("acme", ORG)
    assert EnterpriseProvider.parse("saml:acme") == EnterpriseProvider("acme", None, "saml")
    assert EnterpriseProvider.parse(f"oidc:acme@{ORG}") == EnterpriseProvider("acme", ORG, "oidc")


@pytest.mark.parametrize("value", ["", "@" + ORG, "acme@", "acme@not-a-uuid", "saml:"])
def test_a_bad_enterprise_value_is_a_configuration_error(value: str) -> None:
    """An empty provider, an empty or non-UUID organization: ConfigurationError, naming it."""
    with pytest.raises(ConfigurationError):
        EnterpriseProvider.parse(value)


def test_a_saml_connection_becomes_a_saml_credential_inside_the_organization() -> None:
    """A samlp user → credentials.saml, the IdP's subject, organization on entry and identity."""
    options = MappingOptions(enterprise={"acme-saml": EnterpriseProvider("acme", ORG)})
    planned = _planned(_enterprise("samlp", "acme-saml", "liskov@acme.test"), options)
    assert _providers(planned.body, "saml") == [
        {"provider": "acme", "subject": "liskov@acme.test", "organization": ORG}
    ]
    assert "oidc" not in planned.body["credentials"]
    assert planned.body["organization_id"] == ORG
    assert planned.social_logins == 1
    (note,) = planned.notes  # a SAML NameID need not be Auth0's user_id: said, per user
    assert note.code == "saml_subject_not_guaranteed"
    assert note.connection == "acme-saml"


@pytest.mark.parametrize("strategy", ["okta", "oidc"])
def test_oidc_based_strategies_become_oidc_credentials(strategy: str) -> None:
    """Okta and OIDC connections (Auth0 keeps the IdP's sub) become credentials.oidc as they are."""
    options = MappingOptions(enterprise={"corp": EnterpriseProvider("corp-idp")})
    planned = _planned(_enterprise(strategy, "corp", "00u1abc"), options)
    assert _providers(planned.body) == [{"provider": "corp-idp", "subject": "00u1abc"}]
    assert "organization_id" not in planned.body
    assert planned.notes == ()


def test_azure_ad_is_oidc_with_auto_link() -> None:
    """Azure AD (oid or a pairwise sub, by a setting the export does not show): auto-linked."""
    options = MappingOptions(enterprise={"corp": EnterpriseProvider("azure")})
    planned = _planned(_enterprise("waad", "corp", "oid-1"), options)
    assert _providers(planned.body) == [
        {"provider": "azure", "subject": "oid-1", "use_auto_link": True}
    ]
    assert [n.code for n in planned.notes] == ["login_auto_link"]


def test_google_apps_ids_have_no_connection_prefix() -> None:
    """google-apps users are google-apps|<email>: the subject is used as it is."""
    raw = {
        "user_id": "google-apps|liskov@acme.test",
        "email": "liskov@acme.test",
        "email_verified": True,
        "identities": [
            {
                "provider": "google-apps",
                "user_id": "liskov@acme.test",
                "connection": "acme-test",
                "isSocial": False,
            }
        ],
    }
    options = MappingOptions(enterprise={"acme-test": EnterpriseProvider("workspace")})
    assert _providers(_planned(raw, options).body) == [
        {"provider": "workspace", "subject": "liskov@acme.test", "use_auto_link": True}
    ]


def test_the_credential_kind_can_be_forced() -> None:
    """saml:PROVIDER makes an OIDC-strategy connection SAML, oidc:PROVIDER the reverse."""
    forced = MappingOptions(enterprise={"corp": EnterpriseProvider.parse("saml:corp-saml")})
    planned = _planned(_enterprise("waad", "corp", "oid-1"), forced)
    assert _providers(planned.body, "saml") == [{"provider": "corp-saml", "subject": "oid-1"}]
    forced = MappingOptions(enterprise={"corp": EnterpriseProvider.parse("oidc:corp-oidc")})
    planned = _planned(_enterprise("adfs", "corp", "liskov@acme.test"), forced)
    assert _providers(planned.body) == [
        {"provider": "corp-oidc", "subject": "liskov@acme.test", "use_auto_link": True}
    ]


def test_an_organization_member_with_a_password_is_imported_with_both_and_reported() -> None:
    """A mapped org user who also has a database password keeps it, with a note saying so."""
    raw = _enterprise("samlp", "acme-saml", "liskov@acme.test")
    raw["identities"].append(
        {"provider": "auth0", "user_id": "5f0c1d2e3f4a5b6c7d8e9f09", "connection": DB}
    )
    options = MappingOptions(enterprise={"acme-saml": EnterpriseProvider("acme", ORG)})
    planned = _planned(raw, options)
    assert planned.body["organization_id"] == ORG
    assert planned.body["credentials"]["password"] == {
        "config": {"use_password_migration_hook": True}
    }
    assert "organization_member_with_password" in [n.code for n in planned.notes]


def test_logins_in_two_organizations_go_to_the_first_and_are_reported() -> None:
    """An identity belongs to one organization: the first is taken, the user reported."""
    raw = _enterprise("samlp", "acme-saml", "liskov@acme.test")
    raw["identities"].append(
        {"provider": "okta", "user_id": "00u9", "connection": "beta-okta", "isSocial": False}
    )
    options = MappingOptions(
        enterprise={
            "acme-saml": EnterpriseProvider("acme", ORG),
            "beta-okta": EnterpriseProvider("beta", OTHER_ORG),
        }
    )
    planned = _planned(raw, options)
    assert planned.body["organization_id"] == ORG
    (note,) = [n for n in planned.notes if n.code == "several_organizations"]
    assert ORG in note.detail


def test_unmapped_enterprise_connections_are_counted_with_the_option_to_add() -> None:
    """The report counts users per connection left without a provider, and says what to add."""
    users = [
        _user(_enterprise("samlp", "acme-saml", f"u{n}@acme.test"), n) for n in range(1, 4)
    ] + [_user(_enterprise("okta", "beta-okta", "00u7"), 4)]
    plan = plan_migration(users, options=MappingOptions())
    list(plan)
    report = plan.report
    assert report.unmapped_connections == {"enterprise": {"acme-saml": 3, "beta-okta": 1}}
    summary = format_summary(report)
    assert "--enterprise acme-saml=ORY_PROVIDER    (3 users)" in summary
    assert "--enterprise beta-okta=ORY_PROVIDER    (1 users)" in summary
    assert report.to_dict()["summary"]["unmapped_connections"] == {
        "enterprise": {"acme-saml": 3, "beta-okta": 1}
    }


# -- Auth0 as an upstream login -------------------------------------------------------------------


def test_auth0_upstream_adds_a_login_per_auth0_user() -> None:
    """--auth0-upstream: {provider, subject: Auth0 user_id} for the user, not counted as social."""
    options = MappingOptions(auth0_upstream="auth0", schema=_suggested(SMS).schema)
    planned = _planned(SMS, options)
    assert _providers(planned.body) == [{"provider": "auth0", "subject": SMS["user_id"]}]
    assert planned.social_logins == 0


def test_auth0_upstream_covers_every_merged_user() -> None:
    """Users merged into one identity each keep their own Auth0 login."""
    first = _user({**PASSWORDLESS, "created_at": "2020-01-01T00:00:00.000Z"}, 1)
    second = _user(
        {
            "user_id": "github|77",
            "email": "grace@example.com",
            "email_verified": True,
            "created_at": "2021-01-01T00:00:00.000Z",
            "identities": [{"provider": "github", "user_id": 77, "isSocial": True}],
        },
        2,
    )
    items = list(plan_migration([first, second], options=MappingOptions(auth0_upstream="a0")))
    (planned,) = [i for i in items if isinstance(i, PlannedIdentity)]
    assert {p["subject"] for p in _providers(planned.body) if p["provider"] == "a0"} == {
        PASSWORDLESS["user_id"],
        "github|77",
    }
    assert planned.social_logins == 1


@pytest.mark.parametrize("provider", ["", " ", "auth0/x", "a b", "-auth0"])
def test_an_upstream_provider_id_ory_cannot_use_is_refused(provider: str) -> None:
    """An empty or malformed auth0_upstream is a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match="--auth0-upstream"):
        MappingOptions(auth0_upstream=provider)


# -- the command line and Ory ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_kind_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export of 400 users of every connection type, and the schema suggested for it."""
    directory = tmp_path_factory.mktemp("every-kind")
    write_export(directory, auth0_users(400, seed=13, real_hashes=False, every_kind=True))
    result = CliRunner().invoke(
        main, ["schema", "print", "--from-export", str(directory / "auth0-users.ndjson.gz")]
    )
    assert result.exit_code == 0, result.output
    (directory / "schema.json").write_text(result.stdout)
    return directory


def _convert(directory: Path, out: Path, *extra: str) -> Any:
    args = ["convert", "--users", str(directory / "auth0-users.ndjson.gz")]
    args += ["--password-hashes", str(directory / "auth0-password-hashes.json")]
    args += ["--out", str(out / "i.ndjson"), "--report", str(out / "r.json"), *extra]
    return CliRunner().invoke(main, args)


ENTERPRISE_OPTIONS = [
    *("--enterprise", f"acme-saml=acme-saml@{ORG}"),
    *("--enterprise", "acme-azure-ad=azure"),
    *("--enterprise", "acme-adfs=adfs"),
    *("--enterprise", "acme-okta=okta"),
    *("--enterprise", "acme-oidc=oidc"),
    *("--enterprise", "acme-test=workspace"),
    *("--enterprise", "acme-ping=ping"),
    *("--enterprise", "acme-ad=ad"),
]


def test_convert_with_the_suggested_schema_skips_nobody_for_lack_of_an_email(
    every_kind_export: Path, tmp_path: Path
) -> None:
    """Convert with the suggested schema and --enterprise: no no_email, no enterprise login lost."""
    result = _convert(
        every_kind_export,
        tmp_path,
        *("--schema-id", "every-kind", "--schema-file", str(every_kind_export / "schema.json")),
        *ENTERPRISE_OPTIONS,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert set(report["skipped"]) <= {"duplicate_email"}
    assert "enterprise_login_not_imported" not in report["notes"]
    assert report["unmapped_connections"] == {}
    bodies = [json.loads(line) for line in (tmp_path / "i.ndjson").read_text().splitlines()]
    kinds = Counter(b["external_id"].split("|")[0] for b in bodies)
    assert min(kinds["sms"], kinds["email"], kinds["samlp"]) > 0
    for body in bodies:
        assert_valid_identity_body(body)
        if body["external_id"].startswith("sms|"):
            assert body["verifiable_addresses"][0]["via"] == "sms"
        if body["external_id"].startswith("samlp|"):
            assert body["organization_id"] == ORG


def test_convert_with_preset_email_reports_each_unmapped_connection(
    every_kind_export: Path, tmp_path: Path
) -> None:
    """Without mappings, the summary names each enterprise connection and the option to add."""
    result = _convert(every_kind_export, tmp_path)
    assert result.exit_code == 0, result.output
    assert "enterprise logins not imported:" in result.stdout
    assert "--enterprise acme-saml=ORY_PROVIDER" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert report["skipped"]["no_email"] > 0
    assert set(report["unmapped_connections"]["enterprise"]) == {
        "acme-saml",
        "acme-azure-ad",
        "acme-adfs",
        "acme-okta",
        "acme-oidc",
        "acme-test",
        "acme-ping",
        "acme-ad",
    }


@pytest.mark.parametrize(
    "value",
    ["acme-saml", "acme-saml=", "=acme", "acme-saml=acme@", "acme-saml=acme@1234"],
)
def test_a_bad_enterprise_option_exits_2_before_writing(
    every_kind_export: Path, tmp_path: Path, value: str
) -> None:
    """A malformed --enterprise is one usage error, exit 2, and no file is written."""
    result = _convert(every_kind_export, tmp_path, "--enterprise", value)
    assert result.exit_code == 2, result.output
    assert "--enterprise" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_every_kind_lands_in_ory_through_the_sdk(every_kind_export: Path, tmp_path: Path) -> None:
    """The identities import into Ory over HTTP (organization known, SAML stored), none fails."""
    result = _convert(
        every_kind_export,
        tmp_path,
        *("--schema-id", "every-kind", "--schema-file", str(every_kind_export / "schema.json")),
        *ENTERPRISE_OPTIONS,
        *("--auth0-upstream", "auth0"),
    )
    assert result.exit_code == 0, result.output
    schema = json.loads((every_kind_export / "schema.json").read_text())
    bodies = [json.loads(line) for line in (tmp_path / "i.ndjson").read_text().splitlines()]
    with (
        OryAdminServer(api_key="k", schemas={"every-kind": schema}, organizations=[ORG]) as ory,
        OryAdmin.from_url(ory.url, "k") as admin,
    ):
        outcome = import_identities(bodies, admin)
        stored_identities = ory.identities()
    assert outcome.failed == (), outcome
    assert outcome.created == len(bodies)
    saml_user = next(b for b in bodies if b["external_id"].startswith("samlp|"))
    (stored,) = [i for i in stored_identities if i.external_id == saml_user["external_id"]]
    assert stored.saml_identifiers
    assert f"auth0:{saml_user['external_id']}" in stored.oidc_identifiers


def test_a_mapping_that_matches_no_user_is_warned_of(
    every_kind_export: Path, tmp_path: Path
) -> None:
    """A mistyped --enterprise or --provider connection is a warning naming it; the run goes on."""
    result = _convert(
        every_kind_export,
        tmp_path,
        *("--enterprise", "acme-sml=acme", "--enterprise", "acme-okta=okta"),
        *("--provider", "githubb=github"),
    )
    assert result.exit_code == 0, result.output
    assert "warning: --enterprise acme-sml=...: no user of the export" in result.stderr
    assert "warning: --provider githubb=...: no user of the export" in result.stderr
    assert "acme-okta" not in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert report["logins_by_connection"]["acme-okta"] > 0
    assert "--enterprise acme-saml=ORY_PROVIDER" in result.stdout
