"""Regenerate the example Auth0 exports in this folder (deterministic but for bcrypt salts).

    python examples/make_examples.py

Every case the converter handles appears at least once; examples/README.md lists them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bcrypt


HERE = Path(__file__).parent
DB = "Username-Password-Authentication"


def db_identity(oid: str) -> list[dict[str, Any]]:
    return [{"provider": "auth0", "user_id": oid, "connection": DB, "isSocial": False}]


def social_identity(provider: str, uid: str | int) -> dict[str, Any]:
    return {"provider": provider, "user_id": uid, "connection": provider, "isSocial": True}


def user(
    user_id: str, email: str | None, verified: bool, created: str, **extra: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {"user_id": user_id}
    if email is not None:
        record.update(email=email, email_verified=verified)
    record.update(created_at=created, updated_at="2024-06-01T10:00:00.000Z", logins_count=3)
    record.update(extra)
    return record


USERS: list[dict[str, Any]] = [
    user("auth0|60425dc43519d90068f82973", "ada@example.com", True, "2021-03-05T16:35:16.775Z",
         name="Ada Lovelace", given_name="Ada", family_name="Lovelace", nickname="ada",
         picture="https://s.gravatar.com/avatar/ada.png", last_login="2024-05-30T08:00:00.000Z",
         last_ip="192.0.2.10", identities=db_identity("60425dc43519d90068f82973"),
         app_metadata={"roles": ["admin"], "plan": "pro"}, user_metadata={"locale": "en"}),
    user("auth0|60425dc43519d90068f82974", "alan@example.com", True, "2021-03-06T09:00:00.000Z",
         name="Alan Turing", identities=db_identity("60425dc43519d90068f82974")),
    user("auth0|60425dc43519d90068f82975", "grace@example.com", True, "2021-04-01T12:00:00.000Z",
         name="Grace Hopper", identities=db_identity("60425dc43519d90068f82975")),
    user("auth0|60425dc43519d90068f82976", "edsger@example.com", True, "2021-05-01T12:00:00.000Z",
         name="Edsger Dijkstra", identities=db_identity("60425dc43519d90068f82976")),  # no hash: hook
    user("auth0|60425dc43519d90068f82977", "barbara@example.com", True, "2021-05-02T12:00:00.000Z",
         name="Barbara Liskov", last_password_reset="2024-02-01T00:00:00.000Z",
         identities=db_identity("60425dc43519d90068f82977")),  # stale hash
    user("auth0|euclid", "euclid@example.com", True, "2020-01-01T00:00:00.000Z",
         name="Euclid", identities=db_identity("euclid")),  # custom database id
    user("auth0|60425dc43519d90068f82978", "mallory@example.com", True, "2021-06-01T12:00:00.000Z",
         name="Mallory", blocked=True, identities=db_identity("60425dc43519d90068f82978")),
    user("auth0|60425dc43519d90068f82979", "unverified@example.com", False, "2021-06-02T12:00:00.000Z",
         identities=db_identity("60425dc43519d90068f82979")),
    user("google-oauth2|104359275918364748291", "Frances.Allen@Gmail.example", True,
         "2022-01-10T10:00:00.000Z", name="Frances Allen",
         identities=[social_identity("google-oauth2", "104359275918364748291")]),
    user("github|5812309", "ken@users.noreply.example", True, "2022-02-10T10:00:00.000Z",
         nickname="ken", identities=[social_identity("github", 5812309)]),  # numeric GitHub id
    user("auth0|60425dc43519d90068f82980", "radia@example.com", True, "2021-07-01T12:00:00.000Z",
         name="Radia Perlman",
         identities=[*db_identity("60425dc43519d90068f82980"),
                     {**social_identity("github", 9910001),
                      "profileData": {"email": "radia@example.com", "nickname": "radia"}}]),  # linked
    # Same verified email in two connections: merged into the database user.
    user("auth0|60425dc43519d90068f82981", "tim@example.com", True, "2021-08-01T12:00:00.000Z",
         name="Tim Berners-Lee", identities=db_identity("60425dc43519d90068f82981")),
    user("google-oauth2|113356789012345678901", "Tim@Example.com", True, "2023-01-01T12:00:00.000Z",
         name="Tim B.", identities=[social_identity("google-oauth2", "113356789012345678901")]),
    # Same email, one unverified: not merged; the verified account keeps the email.
    user("auth0|60425dc43519d90068f82982", "donald@example.com", False, "2021-09-01T12:00:00.000Z",
         name="Donald Knuth", identities=db_identity("60425dc43519d90068f82982")),
    user("windowslive|7b2d1e6f0a9c4d3e", "donald@example.com", True, "2022-09-01T12:00:00.000Z",
         name="Donald K.", identities=[social_identity("windowslive", "7b2d1e6f0a9c4d3e")]),
    user("email|6523a1f0c2b4e8d9a7f01234", "passwordless@example.com", True,
         "2023-03-01T12:00:00.000Z",
         identities=[{"provider": "email", "user_id": "6523a1f0c2b4e8d9a7f01234",
                      "connection": "email", "isSocial": False}]),
    user("sms|6523a1f0c2b4e8d9a7f05678", None, False, "2023-03-02T12:00:00.000Z",
         phone_number="+15555550123", phone_verified=True,
         identities=[{"provider": "sms", "user_id": "6523a1f0c2b4e8d9a7f05678",
                      "connection": "sms", "isSocial": False}]),  # no email: skipped
    user("auth0|60425dc43519d90068f82983", None, False, "2021-10-01T12:00:00.000Z",
         username="just_a_username", identities=db_identity("60425dc43519d90068f82983")),
    user("samlp|acme-saml|liskov@acme.test", "liskov@acme.test", True, "2023-04-01T12:00:00.000Z",
         identities=[{"provider": "samlp", "user_id": "acme-saml|liskov@acme.test",
                      "connection": "acme-saml", "isSocial": False}]),  # enterprise: needs --provider
    user("auth0|60425dc43519d90068f82984", "ken.thompson@example.com", True,
         "2021-11-01T12:00:00.000Z", identities=db_identity("60425dc43519d90068f82984")),  # cost 31
    user("auth0|60425dc43519d90068f82985", "byemail@example.com", True, "2021-12-01T12:00:00.000Z",
         identities=db_identity("60425dc43519d90068f82985")),  # hash record without an id
]  # fmt: skip

PASSWORDS = {
    "60425dc43519d90068f82973": "correct horse battery staple",
    "60425dc43519d90068f82974": "enigma-1912",
    "60425dc43519d90068f82975": "COBOL4ever",
    "60425dc43519d90068f82977": "old password (stale)",
    "euclid": "elements-300bc",
    "60425dc43519d90068f82978": "blocked but kept",
    "60425dc43519d90068f82979": "not verified yet",
    "60425dc43519d90068f82980": "spanning tree",
    "60425dc43519d90068f82981": "www-1989",
    "60425dc43519d90068f82982": "TeX-1978",
}


def main() -> None:
    lines = [json.dumps(u) for u in USERS]
    lines.insert(
        12, '{"user_id": "auth0|broken", "email": "broken@example.com", '
    )  # truncated record
    (HERE / "auth0-users.ndjson").write_text("\n".join(lines) + "\n")

    forms = ["_id", "_ID", "plain"]
    hashes = []
    for n, (oid, password) in enumerate(PASSWORDS.items()):
        value = bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()
        form = forms[n % 3]
        record: dict[str, Any] = {"_id": oid} if form == "plain" else {form: {"$oid": oid}}
        email = next(u.get("email") for u in USERS if u["user_id"].endswith(oid))
        record.update(email=email, email_verified=True, tenant="acme", connection=DB,
                      passwordHash=value, password_set_date={"$date": "2023-01-01T00:00:00.000Z"},
                      _tmp_is_unique=True)  # fmt: skip
        hashes.append(record)
    hashes.append({"_id": {"$oid": "60425dc43519d90068f82984"}, "email": "ken.thompson@example.com",
                   "passwordHash": "$2b$31$" + "A" * 53})  # fmt: skip
    hashes.append({"identifiers": [{"type": "email", "value": "byemail@example.com"}],
                   "email_verified": True,  # an id-less record joins only by a verified email
                   "passwordHash": bcrypt.hashpw(b"found by email", bcrypt.gensalt(10)).decode()})  # fmt: skip
    hashes.append({"_id": {"$oid": "ffffffffffffffffffffffff"}, "email": "gone@example.com",
                   "passwordHash": bcrypt.hashpw(b"deleted user", bcrypt.gensalt(10)).decode()})  # fmt: skip
    path = HERE / "auth0-password-hashes.json"
    path.write_text("".join(json.dumps(h) + "\n" for h in hashes))
    path.chmod(0o600)

    mfa = [
        {"user_id": "auth0|60425dc43519d90068f82973", "type": "otp", "otp_secret": "JBSWY3DPEHPK3PXP"},
        {"user_id": "auth0|60425dc43519d90068f82973", "type": "recovery-code",
         "recovery_code": bcrypt.hashpw(b"RECOVERY1234", bcrypt.gensalt(4)).decode()},
    ]  # fmt: skip
    (HERE / "auth0-mfa-secrets.ndjson").write_text("".join(json.dumps(m) + "\n" for m in mfa))


if __name__ == "__main__":
    main()
