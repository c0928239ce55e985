"""Properties over any valid Auth0 data: bodies Ory accepts, no record lost, case never matters."""

from __future__ import annotations

import codecs
import gzip
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ory_client.models.create_identity_body import CreateIdentityBody

from auth0_ory_migrate import (
    Auth0User,
    MappingOptions,
    MfaSecret,
    MigrationPlan,
    PasswordHashRecord,
    PlanItem,
    PlannedIdentity,
    Skipped,
    UnreadableRecord,
    index_password_hashes,
    map_user,
    normalize_email,
    parse_user,
    plan_migration,
    read_mfa_secrets,
    read_password_hashes,
    read_users,
)
from auth0_ory_migrate.testing import assert_valid_identity_body, unknown_keys
from auth0_ory_migrate.testing.strategies import (
    Auth0Export,
    auth0_exports,
    auth0_user_records,
    bcrypt_hashes,
    case_variants,
    emails,
    invalid_password_hashes,
    json_objects,
    mfa_records,
    object_ids,
    ory_password_hashes,
    password_hash_records,
)


# --- checking a body against ory-client's models -------------------------------------------------


def test_unknown_keys_finds_keys_at_every_depth() -> None:
    """The key checker itself catches unknown keys at the root, in credentials and in lists."""
    body = {
        "schema_id": "preset://email",
        "traits": {"anything": {"goes": 1}},
        "metadata_admin": {"free": "form"},
        "extra": 1,
        "credentials": {
            "password": {"config": {"hashed_password": "x", "salt": "y"}},
            "oidc": {"config": {"providers": [{"provider": "g", "subject": "1", "email": "z"}]}},
            "webauthn": {"config": {"credentials": [{"attestation": {"client_dataJSON": [1]}}]}},
        },
        "verifiable_addresses": [{"value": "a", "verified": True, "via": "email", "x": 1}],
    }
    assert sorted(unknown_keys(body, CreateIdentityBody)) == [
        "credentials.oidc.config.providers[0].email",
        "credentials.password.config.salt",
        "extra",
        "verifiable_addresses[0].x",
    ]


# --- strategies for options and secrets ---------------------------------------------------------

#: Example counts relative to the loaded profile (see conftest.py): cheap tests draw more.
_MORE = settings(max_examples=settings().max_examples * 2)
_FEWER = settings(max_examples=max(10, settings().max_examples // 2))

_issuers = st.sampled_from(["Ory", "Acme Inc.", "Ümlaut & Co"])
_options = st.one_of(
    st.builds(MappingOptions, without_hash=st.sampled_from(["hook", "none"]), totp_issuer=_issuers),
    # (ignore_hashes needs without_hash="hook", the default)
    st.builds(MappingOptions, ignore_hashes=st.just(True), totp_issuer=_issuers),
).flatmap(
    lambda o: st.sampled_from(
        [
            o,
            o.with_providers({"acme-saml": "acme", "corp-ad": "azure", "google-oauth2": "gws"}),
        ]
    )
)
_hashes = st.none() | st.tuples(
    bcrypt_hashes() | ory_password_hashes() | invalid_password_hashes(),
    st.none() | st.floats(0, 2e9),
)
_otp = st.none() | st.sampled_from(["JBSWY3DPEHPK3PXP", "MFRGG", "GEZDGNBVGY3TQOJQGEZDGNBVGY"])


# --- 1. any valid user yields a body Ory accepts -------------------------------------------------


@_MORE
@given(auth0_user_records(), _options, _hashes, _otp, st.integers(0, 3))
def test_any_valid_user_yields_a_valid_body(
    raw: dict[str, Any],
    options: MappingOptions,
    password_hash: tuple[str, float | None] | None,
    otp: str | None,
    recovery_codes: int,
) -> None:
    """Every user with an email becomes a body that CreateIdentityBody accepts, no key unknown."""
    user = parse_user(raw, 1)
    assert isinstance(user, Auth0User)
    result = map_user(
        user, options, password_hash=password_hash, otp_secret=otp, recovery_codes=recovery_codes
    )
    if user.email is None:
        assert isinstance(result, Skipped)
        assert result.reason == "no_email"
        return
    assert isinstance(result, PlannedIdentity)
    assert_valid_identity_body(result.body)
    assert result.body["external_id"] == raw["user_id"]
    assert result.body["traits"] == {"email": user.email}


@given(auth0_user_records(all_fields=True))
def test_declarative_custom_schema_bodies_are_valid(raw: dict[str, Any]) -> None:
    """Bodies for a custom schema built from a declarative trait map are valid too."""
    options = MappingOptions(
        schema_id="customer",
        traits={"email": "email", "name.first": "given_name", "name.last": "family_name"},
    )
    user = parse_user(raw, 1)
    assert isinstance(user, Auth0User)
    result = map_user(user, options)
    if isinstance(result, PlannedIdentity):
        assert_valid_identity_body(result.body)
        assert result.body["schema_id"] == "customer"


@_FEWER
@given(auth0_exports(max_users=10), _options)
def test_every_body_of_a_whole_plan_is_valid(export: Auth0Export, options: MappingOptions) -> None:
    """Through the whole plan (merges, hashes, TOTP), every body is valid and Ory-unique."""
    plan = _plan(export, options)
    planned = [i for i in plan if isinstance(i, PlannedIdentity)]
    for item in planned:
        assert_valid_identity_body(item.body)
    emails_ = [normalize_email(p.body["traits"]["email"]) for p in planned]
    assert len(emails_) == len(set(emails_)), "two identities share an email"
    assert len({p.external_id for p in planned}) == len(planned), "two share an external_id"


# --- 2. no record is ever lost -------------------------------------------------------------------


def _ndjson(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _plan(export: Auth0Export, options: MappingOptions | None = None) -> MigrationPlan:
    data = _ndjson(export.users)

    def users() -> Iterator[Auth0User | UnreadableRecord]:
        return read_users(io.BytesIO(data))

    return plan_migration(
        users,
        password_hashes=read_password_hashes(io.BytesIO(_ndjson(export.password_hashes))),
        mfa_secrets=read_mfa_secrets(io.BytesIO(_ndjson(export.mfa_secrets))),
        options=options,
    )


_GARBAGE = ["{", '{"user_id": ', "[1, 2]", "42", '"x"', "null", '{"email": "no-id@x.y"}', "\x00"]


@st.composite
def _export_files(draw: st.DrawFn) -> tuple[Auth0Export, bytes, int]:
    """An export, its user file in some format with some broken records, and the record count."""
    export = draw(auth0_exports(max_users=10, duplicate_records=True))
    fmt = draw(st.sampled_from(["ndjson", "crlf-bom", "gzip", "array"]))
    records: list[str] = [json.dumps(u) for u in export.users]
    for _ in range(draw(st.integers(0, 3))):
        bad = draw(st.sampled_from(_GARBAGE if fmt != "array" else ["42", '"x"', "[]", "null"]))
        # The first record tells the layout (NDJSON, array, CSV): keep it a JSON object.
        first = 1 if fmt != "array" and not bad.startswith("{") else 0
        if first <= len(records):
            records.insert(draw(st.integers(first, len(records))), bad)
    if fmt == "array":
        data = ("[\n" + ",\n".join(records) + "\n]\n").encode()
    elif fmt == "crlf-bom":
        data = codecs.BOM_UTF8 + "\r\n\r\n".join(records).encode()
    else:
        data = "".join(r + "\n" for r in records).encode()
        if fmt == "gzip":
            data = gzip.compress(data)
    return export, data, len(records)


def _key(item: PlanItem) -> str | None:
    if isinstance(item, PlannedIdentity):
        return item.external_id
    return item.user_id if isinstance(item, Skipped) else None


@given(_export_files())
def test_no_record_is_ever_lost(files: tuple[Auth0Export, bytes, int]) -> None:
    """Every record yields one item; users read = identities + merged + skipped; ids all there."""
    export, data, records = files
    plan = plan_migration(
        lambda: read_users(io.BytesIO(data)),
        password_hashes=read_password_hashes(io.BytesIO(_ndjson(export.password_hashes))),
    )
    items = list(plan)
    report = plan.report
    assert len(items) == records
    assert report.users_read == len(export.users)
    assert report.users_read == report.identities + report.merged + sum(report.skipped.values())
    assert report.users_read + report.unreadable.get("users", 0) == records
    assert Counter(_key(i) for i in items if _key(i) is not None) == Counter(
        u["user_id"] for u in export.users
    )
    merged_into = Counter(
        m for i in items if isinstance(i, PlannedIdentity) for m in i.merged_user_ids
    )
    assert merged_into == Counter(
        i.user_id for i in items if isinstance(i, Skipped) and i.reason == "merged"
    )
    assert len(report.users) == sum(isinstance(i, Skipped) for i in items)
    dumped = json.dumps(report.to_dict())
    for record in export.password_hashes:
        assert record["passwordHash"] not in dumped


# --- 3. email case never matters -----------------------------------------------------------------


@st.composite
def _recased(draw: st.DrawFn, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """*records* with the case of every email (root and identifiers[]) changed at random."""
    out = []
    for record in records:
        record = json.loads(json.dumps(record))
        if isinstance(record.get("email"), str):
            record["email"] = draw(case_variants(record["email"]))
        for index, ident in enumerate(record.get("identifiers", ())):
            if isinstance(ident, str):
                record["identifiers"][index] = draw(case_variants(ident))
            elif isinstance(ident, dict):
                ident["value"] = draw(case_variants(ident["value"]))
        out.append(record)
    return out


def _bodies(plan: MigrationPlan) -> list[Any]:
    return [i.body if isinstance(i, PlannedIdentity) else i for i in plan]


def _outcome(plan: MigrationPlan) -> list[tuple[Any, ...]]:
    """What happened to each user, leaving out the email's spelling."""
    out: list[tuple[Any, ...]] = []
    for item in plan:
        if isinstance(item, PlannedIdentity):
            credentials = item.body.get("credentials", {})
            out.append(
                (
                    "identity",
                    item.external_id,
                    item.merged_user_ids,
                    item.password,
                    json.dumps(credentials.get("password"), sort_keys=True),
                    json.dumps(credentials.get("oidc"), sort_keys=True),
                    "totp" in credentials,
                    item.body["state"],
                    [a["verified"] for a in item.body.get("verifiable_addresses", ())],
                    sorted(n.code for n in item.notes),
                )
            )
        elif isinstance(item, Skipped):
            out.append(("skipped", item.user_id, item.reason, item.holder))
        else:
            out.append(("unreadable", item.line))
    return sorted(out, key=repr)


@_FEWER
@given(auth0_exports(max_users=10), st.data())
def test_hash_join_never_depends_on_email_case(export: Auth0Export, data: st.DataObject) -> None:
    """Changing the case of every email in the hash file changes no body at all."""
    recased = Auth0Export(
        users=export.users,
        password_hashes=data.draw(_recased(export.password_hashes)),
        mfa_secrets=export.mfa_secrets,
    )
    assert _bodies(_plan(recased)) == _bodies(_plan(export))


@_FEWER
@given(auth0_exports(max_users=10), st.data())
def test_plan_never_depends_on_user_email_case(export: Auth0Export, data: st.DataObject) -> None:
    """Changing the case of users' emails changes no decision: merges, skips, passwords, logins."""
    recased = Auth0Export(
        users=data.draw(_recased(export.users)),
        password_hashes=export.password_hashes,
        mfa_secrets=export.mfa_secrets,
    )
    assert _outcome(_plan(recased)) == _outcome(_plan(export))


@given(st.lists(emails(unicode=True), min_size=1, max_size=5), st.data())
def test_grouping_follows_ory_normalisation(addresses: list[str], data: st.DataObject) -> None:
    """Users whose emails normalise alike end up as exactly one identity per normalised email."""
    records = []
    for n, address in enumerate(addresses):
        for copy in range(data.draw(st.integers(1, 3))):
            records.append(
                {
                    "user_id": f"github|{n}{copy}",
                    "email": data.draw(case_variants(address)),
                    "email_verified": data.draw(st.booleans()),
                    "created_at": f"202{copy}-01-01T00:00:00.000Z",
                }
            )
    users = [
        u for u in (parse_user(r, i) for i, r in enumerate(records, 1)) if isinstance(u, Auth0User)
    ]
    planned = [i for i in plan_migration(users) if isinstance(i, PlannedIdentity)]
    assert sorted(normalize_email(p.body["traits"]["email"]) for p in planned) == sorted(
        {normalize_email(a) for a in addresses}
    )


# --- reading round trip --------------------------------------------------------------------------


@given(object_ids(), emails(), bcrypt_hashes() | ory_password_hashes(), st.booleans(), st.data())
def test_every_hash_record_form_is_read_and_joined(
    oid: str, email: str, value: str, with_id: bool, data: st.DataObject
) -> None:
    """Whatever form a hash record takes, it is read and found by id (or, id-less, by email)."""
    raw = data.draw(password_hash_records(oid, email, value, with_id=with_id))
    (record,) = list(read_password_hashes(io.BytesIO(json.dumps(raw).encode())))
    assert isinstance(record, PasswordHashRecord)
    assert record.password_hash == value
    index = index_password_hashes([record])
    other_case = normalize_email(data.draw(case_variants(email)))
    if with_id:
        assert oid in record.ids
        entry = index.lookup([oid], None)
        assert index.lookup(["not-" + oid], other_case) is None  # no email join for it
    else:
        assert record.ids == ()
        entry = index.lookup(["not-" + oid], other_case)
    assert entry is not None
    assert entry.value == value
    assert (entry.set_at is None) == ("password_set_date" not in raw)
    if "email" in raw or "identifiers" in raw:
        assert record.email == email


@given(st.sampled_from(["auth0|a", "google-oauth2|1", "sms|x"]), st.data())
def test_every_mfa_record_is_read(user_id: str, data: st.DataObject) -> None:
    """Every MFA record the strategy draws is read as a secret of its kind."""
    raw = data.draw(mfa_records(user_id))
    (secret,) = list(read_mfa_secrets(io.BytesIO(json.dumps(raw).encode())))
    assert isinstance(secret, MfaSecret)
    assert (secret.user_id, secret.kind) == (user_id, raw["type"])


_Writer = Callable[[list[dict[str, Any]]], tuple[bytes, list[int]]]


def _as_ndjson(records: list[dict[str, Any]]) -> tuple[bytes, list[int]]:
    return _ndjson(records), list(range(1, len(records) + 1))


def _as_gzip_crlf(records: list[dict[str, Any]]) -> tuple[bytes, list[int]]:
    text = codecs.BOM_UTF8 + b"".join(json.dumps(r).encode() + b"\r\n\r\n" for r in records)
    return gzip.compress(text), list(range(1, 2 * len(records), 2))


def _as_array(records: list[dict[str, Any]]) -> tuple[bytes, list[int]]:
    lines, line = [], 2
    for record in records:
        lines.append(line)
        line += json.dumps(record, indent=2).count("\n") + 1
    text = "[\n" + ",\n".join(json.dumps(r, indent=2) for r in records) + "\n]"
    return text.encode(), lines


@given(
    st.lists(auth0_user_records(metadata=json_objects(max_size=3, max_leaves=4)), max_size=6),
    st.sampled_from([_as_ndjson, _as_gzip_crlf, _as_array]),
)
def test_reading_a_file_gives_the_records_written(
    records: list[dict[str, Any]], write: _Writer
) -> None:
    """Any valid users, written in any supported layout, read back unchanged with true lines."""
    data, lines = write(records)
    users = list(read_users(io.BytesIO(data)))
    assert all(isinstance(u, Auth0User) for u in users)
    assert users == [parse_user(r, line) for r, line in zip(records, lines, strict=True)]
    assert [u.raw for u in users if isinstance(u, Auth0User)] == records
