"""Which subject Ory sees at login, for each Auth0 social provider and enterprise strategy (pure).

An imported OIDC or SAML login is ``{provider, subject}``. Ory finds the identity at login by
``provider:subject`` (``FindByCredentialsIdentifier(OIDCUniqueID(provider, claims.Subject))`` in
kratos ``selfservice/strategy/oidc/strategy_login.go``), with the subject its provider code
computes. The import uses Auth0's ``identities[].user_id``. The user signs in after the move only
when the two are the same value; :attr:`LoginFacts.matches` says whether they are, given
:attr:`LoginFacts.ory_settings`.

Sources (read for this table; paths are in each repository):

* Ory Kratos, ``selfservice/strategy/oidc/provider_*.go`` at commit b86338d (2026-07-29): the
  ``Subject`` each provider sets in ``Claims``. ``provider_config.go`` lists the provider types.
* Ory docs (ory/docs 378ce26): ``docs/kratos/social-signin/20_microsoft.mdx`` (``subject_source``),
  ``docs/kratos/social-signin/95_account-linking.mdx`` (``use_auto_link``).
* Ory's SAML logins run through Ory Polis (BoxyHQ Jackson), Kratos ``provider_jackson.go`` (the
  ID token's ``sub``). Jackson ``npm/src/controller/oauth.ts`` sets ``sub`` to the profile ``id``;
  ``npm/src/saml/claims.ts`` maps ``id`` from the ``nameidentifier`` claim, which boxyhq/saml20
  ``lib/saml20.ts`` fills from a persistent-format NameID attribute, else the assertion's
  ``Subject/NameID``. The SAML strategy of Kratos itself is not open source
  (``identity/credentials.go``: "placeholder for the OEL version").
* Auth0 docs (auth0/docs-v2 092b879, under ``main/docs/``):
  ``manage-users/user-accounts/user-profiles/user-profile-structure.mdx`` (sample profiles),
  ``authenticate/enterprise-connections/user-attribute-profile.mdx`` (``user_id`` mappings),
  ``authenticate/identity-providers/enterprise-identity-providers/``: ``saml.mdx``, ``adfs.mdx``,
  ``google-apps.mdx``, ``ping-federate.mdx``, ``azure-active-directory/v2.mdx``;
  ``authenticate/protocols/scim/inbound-scim-for-new-azure-ad-connections.mdx`` and
  ``...-for-older-azure-ad-connections.mdx``;
  ``authenticate/identity-providers/social-identity-providers/oauth2.mdx`` (custom connections).
  The old auth0/docs ``articles/migrations/guides/liveid-api-deprecation.md`` (Microsoft accounts).
  auth0-python 6.8.0 ``management/types``: ``connection_options_google_apps.py``
  (``map_user_id_to_id``), ``connection_userid_attribute_enum_azure_ad.py`` (``oid``/``sub``),
  ``connection_identity_provider_enum.py`` (the built-in strategies). auth0/ad-ldap-connector
  ``lib/profileMapper.js`` (AD users).

Where the sources leave a doubt, :attr:`LoginFacts.matches` is ``False``: the import then adds
``use_auto_link`` (see the guide page "Every kind of user").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from attrs import field, frozen


__all__ = ["ENTERPRISE_LOGINS", "SOCIAL_LOGINS", "LoginFacts", "login_facts"]


def _read_only(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(settings))


@frozen
class LoginFacts:
    """What Auth0 stored for a login, and what Ory will compare it with.

    Attributes:
        auth0: The Auth0 provider or strategy (``identities[].provider``), e.g.
            ``windowslive``, ``samlp``; for a custom social connection (provider
            ``oauth2``), the usual connection name (``discord``).
        kind: ``"social"`` or ``"enterprise"``.
        credential: The Ory credential it becomes: ``"oidc"`` or ``"saml"``.
        ory_provider: The Ory provider type to configure (``microsoft``, ``generic``,
            ``google``, ...); ``None`` for SAML.
        auth0_subject: What Auth0 stores in ``identities[].user_id``.
        ory_subject: What Ory takes as the subject at login.
        matches: True when, with :attr:`ory_settings`, the two are the same value.
        ory_settings: The Ory provider settings the import assumes
            (``{"subject_source": "me"}``); empty when none.
        caveat: One sentence for the docs; ``""`` when none.
    """

    auth0: str
    kind: Literal["social", "enterprise"]
    credential: Literal["oidc", "saml"]
    ory_provider: str | None
    auth0_subject: str
    ory_subject: str
    matches: bool
    ory_settings: Mapping[str, Any] = field(factory=dict, converter=_read_only, hash=False)
    caveat: str = ""


def _social(
    auth0: str,
    ory_provider: str,
    auth0_subject: str,
    ory_subject: str,
    *,
    matches: bool,
    caveat: str = "",
    ory_settings: Mapping[str, Any] | None = None,
) -> LoginFacts:
    return LoginFacts(
        auth0, "social", "oidc", ory_provider, auth0_subject, ory_subject, matches,
        ory_settings or {}, caveat,
    )  # fmt: skip


def _enterprise(
    auth0: str,
    credential: Literal["oidc", "saml"],
    ory_provider: str | None,
    auth0_subject: str,
    ory_subject: str,
    *,
    matches: bool,
    caveat: str = "",
    ory_settings: Mapping[str, Any] | None = None,
) -> LoginFacts:
    return LoginFacts(
        auth0, "enterprise", credential, ory_provider, auth0_subject, ory_subject, matches,
        ory_settings or {}, caveat,
    )  # fmt: skip


# Auth0 "custom social connections" (marketplace or hand-made OAuth2 connections: Discord, Spotify,
# Twitch, Patreon, DingTalk are not in auth0-python's connection_identity_provider_enum.py) store as
# user_id whatever their profile script returns ("The user_id property in the returned profile is
# required", social-identity-providers/oauth2.mdx). Nothing guarantees it is the provider's own id.
_CUSTOM = "A custom social connection in Auth0: its profile script chose the user_id."

# Ory's SAML: Ory Polis gives Kratos an ID token whose sub is the nameidentifier claim, else the
# assertion's Subject NameID (jackson npm/src/saml/claims.ts and controller/oauth.ts; boxyhq/saml20
# lib/saml20.ts). Jackson's optional openid.subjectPrefix would make it TENANT:PRODUCT:id (or its
# SHA-512): whether Ory's Polis sets it is not documented, one more reason for matches=False.
_POLIS_SUBJECT = (
    "the SAML nameidentifier attribute, else the assertion's Subject NameID (Ory Polis id)"
)

#: One entry per key of ``DEFAULT_PROVIDERS`` (in ``_mapping.py``), in the same order.
SOCIAL_LOGINS: Mapping[str, LoginFacts] = MappingProxyType(
    {
        # Auth0: identities[].user_id "103547991597142817347" (user-profile-structure.mdx, Google
        # sample). Ory: provider_google.go is the generic OIDC provider on accounts.google.com,
        # Subject = the ID token's sub. Google's sub is one value per Google account, for any app.
        "google-oauth2": _social(
            "google-oauth2",
            "google",
            "Google account id (the OIDC sub, 21 digits)",
            "the ID token's sub",
            matches=True,
        ),
        # Auth0: "4cf0a30169d55031" (user-profile-structure.mdx, Microsoft Account sample);
        # "the user_id field will be the same regardless of the API used to connect with Microsoft"
        # while profiles come from Microsoft Graph (liveid-api-deprecation.md). Ory:
        # provider_microsoft.go takes the ID token's sub (pairwise per application) unless
        # subject_source "me" (the id of graph.microsoft.com/v1.0/me) or "oid"; 20_microsoft.mdx:
        # "Required when 'subject_source: me'": the User.Read scope. The connection accepts only
        # personal accounts, hence the consumers tenant.
        "windowslive": _social(
            "windowslive",
            "microsoft",
            "Microsoft account id (16 hex digits, the Graph /me id)",
            "the id of Microsoft Graph /me",
            matches=True,
            ory_settings={
                "subject_source": "me",
                "microsoft_tenant": "consumers",
                "scope": ("email", "profile", "https://graph.microsoft.com/User.Read"),
            },
            caveat="Without subject_source: me Ory takes the ID token's sub, which differs.",
        ),
        # Auth0: "github|100..." with avatar .../u/1006420 (docs-v2 get-started samples); GitHub's
        # user id, a number. Ory: provider_github.go Subject = fmt.Sprintf("%d", user.GetID()).
        "github": _social(
            "github",
            "github",
            "GitHub user id (a number)",
            "the GitHub user id in decimal",
            matches=True,
            caveat="The export may hold the id as a JSON number: it is imported as decimal text.",
        ),
        # Auth0: "gitlab" is a built-in strategy only since the newest auth0-python enum; no
        # document says which GitLab value is the user_id. Ory: provider_gitlab.go decodes
        # <issuer>/oauth/userinfo, Subject = its sub (GitLab's user id).
        "gitlab": _social(
            "gitlab",
            "gitlab",
            "not documented by Auth0",
            "sub of GitLab's /oauth/userinfo (the GitLab user id)",
            matches=False,
            caveat="Auth0 does not document which GitLab value it keeps.",
        ),
        # Auth0: "facebook|1234567890" (docs-v2 samples): the id of Graph /me, app-scoped.
        # Ory: provider_facebook.go Subject = the id of graph.facebook.com/me, for its own app.
        "facebook": _social(
            "facebook",
            "facebook",
            "Facebook user id for the app (app-scoped)",
            "the id of Facebook Graph /me for Ory's app",
            matches=True,
            caveat=(
                "Facebook ids are per app: give Ory the Facebook app Auth0 used "
                "(not Auth0's developer keys)."
            ),
        ),
        # Auth0: Sign in with Apple, the ID token's sub. Ory: provider_apple.go, generic OIDC on
        # appleid.apple.com, Subject = the ID token's sub. Apple's sub is per developer team.
        "apple": _social(
            "apple",
            "apple",
            "Apple user id (the ID token's sub, per developer team)",
            "the ID token's sub",
            matches=True,
            caveat=(
                "Apple ids are per developer team: configure Ory with the team Auth0 used "
                "(not Auth0's developer keys)."
            ),
        ),
        # Auth0: the LinkedIn member id of its connection; LinkedIn ids are per application and
        # Auth0's connection moved between LinkedIn APIs. Ory: provider_linkedin.go uses the retired
        # /v2/me id; linkedin_v2 (provider_linkedin_v2.go) is OIDC on www.linkedin.com/oauth, sub
        # from userinfo.
        "linkedin": _social(
            "linkedin",
            "linkedin_v2",
            "LinkedIn member id (per application)",
            "sub of LinkedIn's OpenID Connect userinfo",
            matches=False,
            caveat=(
                "LinkedIn ids are per application, and Auth0's LinkedIn connection changed "
                "APIs over time."
            ),
        ),
        # Auth0: identities[].user_id "80337151" for twitter|80337151 (an Auth0 developer's own
        # profile in a sample of Auth0 users kept in a public repository; another export there has
        # "2921946821"): the numeric user id. Ory: provider_x.go Subject = id_str of
        # api.twitter.com/1.1/account/verify_credentials.json.
        "twitter": _social(
            "twitter",
            "x",
            "X (Twitter) user id (digits)",
            "id_str of X's verify_credentials",
            matches=True,
        ),
        # Ory: provider_discord.go Subject = the id of /users/@me (a snowflake).
        "discord": _social(
            "discord",
            "discord",
            "what the connection's profile script returns",
            "the Discord user id",
            matches=False,
            caveat=_CUSTOM,
        ),
        # Auth0: "slack" is a recent built-in strategy; no document says which value is user_id.
        # Ory: provider_slack.go Subject = identity.User.ID of Slack's users.identity.
        "slack": _social(
            "slack",
            "slack",
            "not documented by Auth0",
            "the Slack user id of users.identity",
            matches=False,
            caveat="Auth0 does not document which Slack value it keeps.",
        ),
        # Ory: provider_spotify.go Subject = user.ID of Spotify's /me.
        "spotify": _social(
            "spotify",
            "spotify",
            "what the connection's profile script returns",
            "the Spotify user id",
            matches=False,
            caveat=_CUSTOM,
        ),
        # Ory has no twitch provider type (provider_config.go): a generic OIDC provider on Twitch's
        # issuer gives the ID token's sub, the Twitch user id.
        "twitch": _social(
            "twitch",
            "generic",
            "what the connection's profile script returns",
            "the ID token's sub (the Twitch user id)",
            matches=False,
            ory_settings={"issuer_url": "https://id.twitch.tv/oauth2"},
            caveat=_CUSTOM,
        ),
        # Auth0: built-in "amazon" strategy (profile of api.amazon.com/user/profile). Ory:
        # provider_amazon.go Subject = user_id of api.amazon.com/user/profile.
        "amazon": _social(
            "amazon",
            "amazon",
            "Amazon user_id (amzn1.account...)",
            "user_id of Amazon's /user/profile",
            matches=True,
            caveat="Amazon ids are per developer: give Ory the Login with Amazon app Auth0 used.",
        ),
        # Auth0: built-in "yandex" strategy (the id of login.yandex.ru/info).
        # Ory: provider_yandex.go Subject = id of login.yandex.ru/info.
        "yandex": _social(
            "yandex",
            "yandex",
            "Yandex user id",
            "id of Yandex's login.yandex.ru/info",
            matches=True,
        ),
        # Auth0: built-in "vkontakte" strategy, the VK user id. Ory: provider_vk.go Subject =
        # strconv.Itoa(user.ID) of api.vk.com users.get.
        "vkontakte": _social(
            "vkontakte",
            "vk",
            "VK user id (digits)",
            "the VK user id of users.get",
            matches=True,
        ),
        # Ory: provider_dingtalk.go Subject = openId of /v1.0/contact/users/me (per application).
        "dingtalk": _social(
            "dingtalk",
            "dingtalk",
            "what the connection's profile script returns",
            "the DingTalk openId (per application)",
            matches=False,
            caveat=_CUSTOM,
        ),
        # Auth0: built-in "line" strategy, the LINE userId. Ory: provider_line_2_1.go, generic OIDC
        # on access.line.me, Subject = the ID token's sub (the LINE userId, per LINE provider).
        "line": _social(
            "line",
            "line",
            "LINE userId (U and 32 hex digits)",
            "the ID token's sub (the LINE userId)",
            matches=True,
            caveat="LINE ids are per LINE provider: use a channel of the provider Auth0 used.",
        ),
        # Ory: provider_patreon.go Subject = data.id of /api/oauth2/v2/identity.
        "patreon": _social(
            "patreon",
            "patreon",
            "what the connection's profile script returns",
            "the Patreon user id",
            matches=False,
            caveat=_CUSTOM,
        ),
    }
)

#: One entry per Auth0 enterprise strategy.
ENTERPRISE_LOGINS: Mapping[str, LoginFacts] = MappingProxyType(
    {
        # Auth0: "User ID Attribute (optional): Attribute in the SAML token that will be mapped to
        # the user_id property" (saml.mdx); user-attribute-profile.mdx maps user_id to the
        # nameidentifier, upn or name claims. identities[].user_id also carries the connection
        # name first (user_id "samlp|example-samlp-connection|username@domain.com",
        # metadata-fields-data.mdx), which the mapping strips.
        "samlp": _enterprise(
            "samlp",
            "saml",
            None,
            "the claim the connection maps to user_id (by default the nameidentifier)",
            _POLIS_SUBJECT,
            matches=False,
            caveat="Same value only when the IdP sends Ory, as its NameID, the claim Auth0 used.",
        ),
        # Auth0: "User ID Attribute Type": oid or sub (azure-active-directory/v2.mdx); "'oid'
        # recommended for single-tenant connections and required for SCIM. 'sub' required for
        # multi-tenant/common endpoint" (auth0-python enum); older connections use the pairwise sub
        # (inbound-scim-for-older-azure-ad-connections.mdx). Ory: provider_microsoft.go with
        # subject_source "oid" takes the oid claim; by default the ID token's sub, pairwise per
        # application registration.
        "waad": _enterprise(
            "waad",
            "oidc",
            "microsoft",
            "the oid (object id) or, on older or common-endpoint connections, the pairwise sub",
            "the oid claim",
            matches=False,
            ory_settings={"subject_source": "oid"},
            caveat=(
                "Same value when the Auth0 connection's User ID Attribute Type is oid; "
                "a sub is pairwise and only the same Azure app registration sees it."
            ),
        ),
        # Auth0: its ADFS setup script issues userPrincipalName as the nameidentifier claim
        # (adfs.mdx); sample identity user_id "john@fabrikam.com" (user-profile-structure.mdx);
        # user_id_attribute can name another claim (auth0-python connection_options_adfs.py).
        "adfs": _enterprise(
            "adfs",
            "saml",
            None,
            "the nameidentifier claim (the UPN with Auth0's setup script)",
            _POLIS_SUBJECT,
            matches=False,
            caveat="Same value when ADFS sends Ory the UPN as NameID, as Auth0's script does.",
        ),
        # Auth0: OIDC connections map user_id from sub ("For OIDC, the choices are rigid (typically
        # sub ...)", user-attribute-profile.mdx). Ory: a generic provider on the Okta org gives the
        # ID token's sub, the Okta user id.
        "okta": _enterprise(
            "okta",
            "oidc",
            "generic",
            "the Okta user id (the OIDC sub)",
            "the ID token's sub",
            matches=True,
            caveat="Set issuer_url to the Okta domain Auth0 used.",
        ),
        # Auth0: "OIDC: Uses sub" (user-attribute-profile.mdx); sample "oidc|username@domain.com".
        # Ory: provider_generic_oidc.go, the ID token's sub (and userinfo's sub must equal it).
        "oidc": _enterprise(
            "oidc",
            "oidc",
            "generic",
            "the IdP's sub",
            "the ID token's sub",
            matches=True,
            caveat="Set issuer_url to the issuer Auth0 used.",
        ),
        # Auth0: "By default, the Auth0 user_id maps to email. By enabling Use ID instead of Email
        # for Auth0 User ID, user_id instead maps to id" (google-apps.mdx; map_user_id_to_id in
        # auth0-python). Ory: provider_google.go, the ID token's sub (Google's numeric id).
        "google-apps": _enterprise(
            "google-apps",
            "oidc",
            "google",
            "the email, or Google's numeric id when the connection was made with map_user_id_to_id",
            "the ID token's sub (Google's numeric id)",
            matches=False,
            caveat="By default Auth0 keeps the email, which is never Ory's subject.",
        ),
        # Auth0: the PingFederate connection is SAML ("create a new SAML enterprise connection
        # instead", ping-federate.mdx), user_id mapped as for samlp.
        "pingfederate": _enterprise(
            "pingfederate",
            "saml",
            None,
            "the claim the connection maps to user_id (by default the nameidentifier)",
            _POLIS_SUBJECT,
            matches=False,
            caveat="Same value only when PingFederate sends Ory, as NameID, the claim Auth0 used.",
        ),
        # Auth0: the AD/LDAP connector's profile id is objectGUID, else uid, else cn
        # (ad-ldap-connector lib/profileMapper.js, editable). Ory has no LDAP login: users come
        # through an IdP in front of AD (ADFS over SAML), whose NameID is usually the UPN.
        "ad": _enterprise(
            "ad",
            "saml",
            None,
            "the AD objectGUID (else uid or cn) from the AD/LDAP connector",
            _POLIS_SUBJECT,
            matches=False,
            caveat="Ory has no LDAP login: put ADFS in front of AD; its NameID is rarely the GUID.",
        ),
    }
)


def login_facts(provider: str) -> LoginFacts | None:
    """The facts for an Auth0 social provider or enterprise strategy; None when unknown.

    Ask with the connection name first, then the provider: a custom social connection has
    the provider ``oauth2`` and a name of the tenant's choosing (``discord``). None means
    nothing is known, so a match is not guaranteed.
    """
    return SOCIAL_LOGINS.get(provider) or ENTERPRISE_LOGINS.get(provider)
