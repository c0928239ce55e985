"""Which subject Ory sees at login for each Auth0 social provider and enterprise strategy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from auth0_ory_migrate import DEFAULT_PROVIDERS
from auth0_ory_migrate._core._providers import (
    ENTERPRISE_LOGINS,
    SOCIAL_LOGINS,
    LoginFacts,
    login_facts,
)


PAGE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "every-kind-of-user.md"
STRATEGIES = ("samlp", "waad", "adfs", "okta", "oidc", "google-apps", "pingfederate", "ad")
SAML = ("samlp", "adfs", "pingfederate", "ad")


def _settings(facts: LoginFacts) -> str:
    """The Ory provider settings of *facts* as the docs show them."""
    return ", ".join(f"`{key}: {json.dumps(value)}`" for key, value in facts.ory_settings.items())


def _row(facts: LoginFacts) -> str:
    """The docs table row of *facts*: Auth0 → Ory → what each side takes → same? → caveat."""
    ory = "SAML" if facts.credential == "saml" else f"OIDC `{facts.ory_provider}`"
    if facts.ory_settings:
        ory += f" with {_settings(facts)}"
    same = "yes" if facts.matches else "not guaranteed"
    if not facts.matches and facts.credential == "oidc":
        same += ": `use_auto_link`"
    cells = [f"`{facts.auth0}`", ory, facts.auth0_subject, facts.ory_subject, same]
    return "| " + " | ".join([*cells, facts.caveat or "-"]) + " |"


def _table_rows(page: str, header: str) -> list[str]:
    """The body rows of the Markdown table right after the line *header* in *page*."""
    lines = page.splitlines()
    start = lines.index(header) + 2  # the header, then the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


_COLUMNS = "| Auth0 stores | Ory takes at login | same value | caveat |"
SOCIAL_HEADER = "| Auth0 provider | Ory provider " + _COLUMNS
ENTERPRISE_HEADER = "| Auth0 strategy | Ory credential " + _COLUMNS


def test_every_default_provider_has_facts() -> None:
    """Each key of DEFAULT_PROVIDERS has social facts, named by that key."""
    assert set(SOCIAL_LOGINS) == set(DEFAULT_PROVIDERS)
    for name, facts in SOCIAL_LOGINS.items():
        assert facts.auth0 == name
        assert facts.kind == "social"
        assert facts.credential == "oidc"
        assert facts.ory_provider


def test_every_enterprise_strategy_has_facts() -> None:
    """Each Auth0 enterprise strategy of issue 13 has enterprise facts, named by the strategy."""
    assert set(ENTERPRISE_LOGINS) == set(STRATEGIES)
    for name, facts in ENTERPRISE_LOGINS.items():
        assert facts.auth0 == name
        assert facts.kind == "enterprise"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_saml_strategies_become_saml_credentials(strategy: str) -> None:
    """SAML strategies become ``credentials.saml`` with no OIDC provider type; the others OIDC."""
    facts = ENTERPRISE_LOGINS[strategy]
    if strategy in SAML:
        assert (facts.credential, facts.ory_provider) == ("saml", None)
    else:
        assert facts.credential == "oidc"
        assert facts.ory_provider


def test_a_match_that_depends_on_settings_names_them() -> None:
    """Microsoft accounts match only with ``subject_source: me``; Azure AD with ``oid``."""
    assert SOCIAL_LOGINS["windowslive"].ory_settings["subject_source"] == "me"
    assert ENTERPRISE_LOGINS["waad"].ory_settings["subject_source"] == "oid"


def test_unguaranteed_matches_say_why() -> None:
    """Every login whose subjects may differ has a caveat, and none is marked a match by default."""
    for facts in [*SOCIAL_LOGINS.values(), *ENTERPRISE_LOGINS.values()]:
        if not facts.matches:
            assert facts.caveat, facts.auth0
    # Google Workspace: Auth0 stores the email by default, Ory's google provider the sub.
    assert not ENTERPRISE_LOGINS["google-apps"].matches
    assert not ENTERPRISE_LOGINS["samlp"].matches


def test_login_facts_looks_up_both_kinds() -> None:
    """``login_facts`` finds social providers and enterprise strategies, and None for others."""
    assert login_facts("google-oauth2") is SOCIAL_LOGINS["google-oauth2"]
    assert login_facts("samlp") is ENTERPRISE_LOGINS["samlp"]
    assert login_facts("auth0") is None
    assert login_facts("nonsense") is None


def test_facts_are_read_only() -> None:
    """The settings cannot be changed by a caller (they are shared module data)."""
    with pytest.raises(TypeError):
        SOCIAL_LOGINS["windowslive"].ory_settings["subject_source"] = "userinfo"  # type: ignore[index]
    with pytest.raises(TypeError):
        SOCIAL_LOGINS["x"] = SOCIAL_LOGINS["twitter"]  # type: ignore[index]


def test_texts_fit_a_table_cell() -> None:
    """No text holds a ``|`` or a newline, so each renders as one Markdown table cell."""
    for facts in [*SOCIAL_LOGINS.values(), *ENTERPRISE_LOGINS.values()]:
        for text in (facts.auth0_subject, facts.ory_subject, facts.caveat):
            assert not re.search(r"[|\n]", text), (facts.auth0, text)


def test_the_social_table_of_the_guide_is_the_data() -> None:
    """The guide's social table has exactly one row per provider, rendered from the data."""
    rows = _table_rows(PAGE.read_text(), SOCIAL_HEADER)
    assert rows == [_row(facts) for facts in SOCIAL_LOGINS.values()]


def test_the_enterprise_table_of_the_guide_is_the_data() -> None:
    """The guide's enterprise table has exactly one row per strategy, rendered from the data."""
    rows = _table_rows(PAGE.read_text(), ENTERPRISE_HEADER)
    assert rows == [_row(facts) for facts in ENTERPRISE_LOGINS.values()]
