"""The pure core of ``sync``: sections, digests, plan_sync's rules, a PUT that loses nothing."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import ory_client
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auth0_ory_migrate import (
    SYNC_SECTIONS,
    Auth0User,
    ImportedRecord,
    MappingOptions,
    PlannedIdentity,
    Skipped,
    SyncOp,
    SyncPlan,
    UnreadableRecord,
    body_fingerprint,
    identity_sections,
    map_user,
    parse_user,
    plan_from_files,
    plan_sync,
    section_digests,
    update_request,
)
from auth0_ory_migrate._core import _sync as sync_module
from auth0_ory_migrate.exceptions import ConfigurationError
from auth0_ory_migrate.testing import (
    InMemoryOryAdmin,
    OryAdminServer,
    auth0_users,
    normalize_identifier,
    write_export,
)
from auth0_ory_migrate.testing import strategies as ts


KEY = b"sync-test-key-0123456789abcdef!!"
HASH_A = "$2b$10$" + "a" * 53
HASH_B = "$2b$10$" + "b" * 53
TOTP = "otpauth://totp/Ory:a%40x.com?secret=JBSWY3DPEHPK3PXP&issuer=Ory"
WRITTEN_AT = 1_700_000_000.0  # 2023-11-14
ORG = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


# -- helpers ------------------------------------------------------------------------------------


def raw_user(uid: str = "a1", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "user_id": f"auth0|{uid}",
        "email": f"{uid}@example.com",
        "email_verified": False,
        "identities": [
            {"provider": "auth0", "user_id": uid, "connection": "db", "isSocial": False}
        ],
        "created_at": "2021-01-01T00:00:00.000Z",
    }
    record.update(fields)
    return record


def with_social(record: dict[str, Any], provider: str, subject: str) -> dict[str, Any]:
    out = copy.deepcopy(record)
    out.setdefault("identities", []).append(
        {"provider": provider, "user_id": subject, "connection": provider, "isSocial": True}
    )
    return out


def plan_item(
    record: Mapping[str, Any],
    *,
    password_hash: tuple[str, float | None] | None = None,
    otp: str | None = None,
    options: MappingOptions | None = None,
    line: int = 1,
) -> PlannedIdentity:
    user = parse_user(record, line)
    assert isinstance(user, Auth0User)
    item = map_user(user, options, password_hash=password_hash, otp_secret=otp)
    assert isinstance(item, PlannedIdentity)
    return item


def record_for(
    item: PlannedIdentity, identity_id: str = "id-1", written_at: float | None = WRITTEN_AT
) -> ImportedRecord:
    digests = section_digests(identity_sections(item.body), KEY)
    return ImportedRecord(item.external_id, identity_id, digests, written_at)


def only(plan: SyncPlan) -> SyncOp:
    assert len(plan.ops) == 1, plan.ops
    return plan.ops[0]


# -- a model of Ory's identity store, from Kratos's identity/handler.go -------------------------


class OryModel:
    """Kratos's create, GET (with credentials), PUT, PATCH and credential DELETE, as written there.

    Addresses are derived from the traits of ``preset://email`` (the ``email`` trait), keeping
    the state of an address already held (``SchemaExtensionVerification``); PUT replaces
    traits, metadata and external_id, keeps schema_id and state when empty, keeps the
    credentials when none are sent, replaces password and TOTP, appends OIDC/SAML links.
    PATCH refuses Kratos's paths and operations other than add, replace and remove, and
    derives the addresses again from the patched identity.
    """

    REFUSED = ("/id", "/stateChangedAt", "/credentials")

    def __init__(self) -> None:
        self.identities: dict[str, dict[str, Any]] = {}

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(dict(body))
        identity: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "schema_id": body["schema_id"],
            "traits": body["traits"],
            "state": body.get("state") or "active",
            "metadata_public": body.get("metadata_public"),
            "metadata_admin": body.get("metadata_admin"),
            "organization_id": body.get("organization_id"),
            "verifiable_addresses": [],
            "credentials": {},
        }
        if body.get("external_id"):
            identity["external_id"] = body["external_id"]
        imported = {
            (a["via"], normalize_identifier(a["value"])): a
            for a in body.get("verifiable_addresses") or ()
        }
        identity["verifiable_addresses"] = self._derive(identity, imported)
        self._import_credentials(identity, body.get("credentials"))
        self.identities[identity["id"]] = identity
        return self.get(identity["id"])

    @staticmethod
    def _derive(
        identity: Mapping[str, Any], held: Mapping[tuple[str, str], Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        email = identity["traits"].get("email") if isinstance(identity["traits"], dict) else None
        if not isinstance(email, str):
            return []
        value = normalize_identifier(email)
        old = held.get(("email", value))
        verified = bool(old and old.get("verified") is True)
        status = (old.get("status") if old else None) or ("completed" if verified else "pending")
        return [
            {
                "id": str(uuid.uuid4()),
                "value": value,
                "via": "email",
                "verified": verified,
                "status": status,
            }
        ]

    @staticmethod
    def _import_credentials(identity: dict[str, Any], credentials: Any) -> None:
        if not credentials:
            return
        stored = identity["credentials"]
        password = credentials.get("password")
        if password is not None:
            config = password["config"]
            if config.get("use_password_migration_hook"):
                stored["password"] = {
                    "config": {"hashed_password": "", "use_password_migration_hook": True}
                }
            else:
                stored["password"] = {"config": {"hashed_password": config["hashed_password"]}}
        for kind in ("oidc", "saml"):
            if credentials.get(kind) is not None:
                have = stored.setdefault(kind, {"config": {"providers": []}})
                have["config"]["providers"].extend(credentials[kind]["config"]["providers"])
        if credentials.get("totp") is not None:
            stored["totp"] = {"config": dict(credentials["totp"]["config"])}

    def get(self, identity_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.identities[identity_id])

    def put(self, identity_id: str, body: Mapping[str, Any]) -> None:
        assert set(body) <= {
            "schema_id",
            "traits",
            "credentials",
            "metadata_public",
            "metadata_admin",
            "state",
            "external_id",
        }, body
        identity = self.identities[identity_id]
        body = copy.deepcopy(dict(body))
        if body.get("schema_id"):
            identity["schema_id"] = body["schema_id"]
        if body.get("state"):
            identity["state"] = body["state"]
        identity["traits"] = body.get("traits")
        identity["metadata_public"] = body.get("metadata_public")
        identity["metadata_admin"] = body.get("metadata_admin")
        if body.get("external_id"):
            identity["external_id"] = body["external_id"]
        else:
            identity.pop("external_id", None)
        self._import_credentials(identity, body.get("credentials"))
        held = {
            (a["via"], normalize_identifier(a["value"])): a
            for a in identity["verifiable_addresses"]
        }
        identity["verifiable_addresses"] = self._derive(identity, held)

    def patch(self, identity_id: str, ops: Sequence[Mapping[str, Any]]) -> None:
        doc = copy.deepcopy(self.identities[identity_id])
        for op in ops:
            path = op["path"]
            assert not any(path == r or path.startswith(r + "/") for r in self.REFUSED), op
            *parents, last = path.split("/")[1:]
            node: Any = doc
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            key: Any = int(last) if isinstance(node, list) else last
            assert op["op"] in ("add", "remove", "replace"), op  # Kratos refuses the others
            if op["op"] == "remove":
                del node[key]
            else:  # (Kratos turns a replace of a missing member into an add)
                node[key] = copy.deepcopy(op["value"])
        held = {
            (a["via"], normalize_identifier(a["value"])): a for a in doc["verifiable_addresses"]
        }
        doc["verifiable_addresses"] = self._derive(doc, held)  # validated again
        self.identities[identity_id] = doc

    def delete_credential(self, identity_id: str, kind: str, identifier: str) -> None:
        credentials = self.identities[identity_id]["credentials"]
        if kind == "totp":
            credentials.pop("totp", None)
            return
        providers = credentials[kind]["config"]["providers"]
        providers[:] = [p for p in providers if f"{p['provider']}:{p['subject']}" != identifier]

    def apply(self, op: SyncOp) -> None:
        """What an engine does with an update op."""
        assert op.identity_id is not None
        if op.put is not None:
            self.put(op.identity_id, op.put)
        if op.patch:
            self.patch(op.identity_id, op.patch)
        for kind, identifier in op.unlink:
            self.delete_credential(op.identity_id, kind, identifier)


def imported(
    item: PlannedIdentity, ory: OryModel | MemoryOry
) -> tuple[ImportedRecord, dict[str, Any]]:
    """Import *item* into *ory*: its record and Ory's identity."""
    stored = ory.create(item.body)
    return record_for(item, stored["id"]), stored


# -- sections and digests -----------------------------------------------------------------------


def test_sections_of_a_body_and_of_ory_identity_agree() -> None:
    """identity_sections gives the same view of a body and of the identity Ory stores from it."""
    item = plan_item(
        with_social(
            raw_user(
                email="Mixed.Case@Example.com",
                email_verified=True,
                user_metadata={"lang": "fr"},
                blocked=True,
            ),
            "github",
            "42",
        ),
        password_hash=(HASH_A, None),
        otp="JBSWY3DPEHPK3PXP",
    )
    ory = OryModel()
    stored = ory.create(item.body)
    assert identity_sections(stored) == identity_sections(item.body)
    sections = identity_sections(item.body)
    assert sections["addresses"] == (("email", "mixed.case@example.com", True),)
    assert sections["password"] == {"hash": HASH_A}
    assert sections["oidc"] == (("github", "42", None),)
    assert sections["state"] == "inactive"


def test_sections_of_a_hook_credential_as_kratos_shows_it() -> None:
    """Kratos shows a hook credential as an empty hash and the flag: the view is {'hook': True}."""
    hook = {
        "credentials": {
            "password": {"config": {"hashed_password": "", "use_password_migration_hook": True}}
        }
    }
    assert identity_sections(hook)["password"] == {"hook": True}
    listed = {"credentials": {"password": {"type": "password", "identifiers": ["a@x.com"]}}}
    assert identity_sections(listed)["password"] == {"unknown": True}


def test_digests_are_keyed_and_hold_no_secret() -> None:
    """A digest depends on the key, and neither the hash nor the TOTP URL is in it."""
    item = plan_item(raw_user(), password_hash=(HASH_A, None), otp="JBSWY3DPEHPK3PXP")
    sections = identity_sections(item.body)
    one = section_digests(sections, KEY)
    other = section_digests(sections, b"another key")
    assert set(one) == set(SYNC_SECTIONS)
    assert one["password"] != other["password"]
    text = json.dumps(one)
    assert "aaaa" not in text
    assert "JBSWY3DPEHPK3PXP" not in text
    assert all(len(d) == 32 for s, d in one.items() if s not in ("oidc", "saml"))


def test_sections_round_trip_through_the_ory_test_server(tmp_path: Path) -> None:
    """The view of each planned body equals the view of what Ory's API returns for it."""
    users = auth0_users(n=40, seed=14, real_hashes=False, mfa=True, every_kind=True)
    export = write_export(tmp_path, users)
    plan = plan_from_files(
        export.users, password_hashes=export.password_hashes, mfa_secrets=export.mfa_secrets
    )
    items = [item for item in plan if isinstance(item, PlannedIdentity)]
    assert len(items) > 20
    with OryAdminServer(api_key="k") as server:
        api = ory_client.IdentityApi(
            ory_client.ApiClient(ory_client.Configuration(host=server.url, access_token="k"))
        )
        for item in items:
            created = api.create_identity(
                create_identity_body=ory_client.CreateIdentityBody.from_dict(item.body)
            )
            read = api.get_identity(
                str(created.id), include_credential=["password", "oidc", "totp"]
            )
            assert identity_sections(read.to_dict()) == identity_sections(item.body), (
                item.external_id
            )
        api.api_client.rest_client.pool_manager.clear()


# -- the rules ----------------------------------------------------------------------------------


def test_a_new_user_is_created() -> None:
    """A planned user without a record is a create op carrying the body."""
    item = plan_item(raw_user("new"), line=7)
    plan = plan_sync({}, [item], key=KEY)
    op = only(plan)
    assert (op.kind, op.identity_id, op.fields, op.line) == ("create", None, (), 7)
    assert op.body is item.body
    assert plan.creates == 1
    assert plan.counts()["create"] == 1


def test_an_unchanged_user_gets_no_op() -> None:
    """Digests equal section by section: no write at all."""
    item = plan_item(raw_user(), password_hash=(HASH_A, None))
    again = plan_item(raw_user(), password_hash=(HASH_A, None))
    plan = plan_sync({item.external_id: record_for(item)}, [again], key=KEY)
    assert plan.ops == ()
    assert plan.unchanged == 1


def test_the_fingerprint_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The very body written: unchanged without a section computed; another key order: compared."""
    item = plan_item(raw_user(), password_hash=(HASH_A, None))
    record = attrs.evolve(record_for(item), fingerprint=body_fingerprint(item.body, KEY))
    reordered = plan_item(raw_user(), password_hash=(HASH_A, None))
    reordered_body = dict(reversed(list(reordered.body.items())))
    assert body_fingerprint(reordered_body, KEY) != record.fingerprint
    assert HASH_A not in body_fingerprint(item.body, KEY)
    slow = plan_sync(
        {item.external_id: record}, [attrs.evolve(reordered, body=reordered_body)], key=KEY
    )
    assert slow.ops == ()
    with monkeypatch.context() as m:
        m.setattr(sync_module, "identity_sections", None)  # never called on the fast path
        plan = plan_sync({item.external_id: record}, [reordered], key=KEY)
    assert plan.unchanged == 1
    op = only(plan_sync({item.external_id: record}, [plan_item(raw_user(blocked=True))], key=KEY))
    assert op.fingerprint == body_fingerprint(op.body, KEY)


@pytest.mark.parametrize(
    ("change", "section"),
    [
        ({"email": "new@example.com"}, "traits"),
        ({"blocked": True}, "state"),
        ({"user_metadata": {"lang": "de"}}, "metadata_public"),
        ({"app_metadata": {"plan": "pro"}}, "metadata_admin"),
    ],
)
def test_a_changed_section_is_an_update_of_that_field(change: dict[str, Any], section: str) -> None:
    """Each changed section is a field of the update (metadata_admin holds the whole record)."""
    before = plan_item(raw_user())
    after = plan_item(raw_user(**change))
    op = only(plan_sync({before.external_id: record_for(before)}, [after], key=KEY))
    assert op.kind == "update"
    assert section in op.fields
    assert set(op.fields) <= {section, "metadata_admin", "addresses"}
    assert op.put is not None
    assert op.put["external_id"] == before.external_id


def test_verification_is_patched_not_put() -> None:
    """A newly verified email: one JSON Patch of the address list (Ory matches by value)."""
    before = plan_item(raw_user())
    after = plan_item(raw_user(email_verified=True))
    ory = OryModel()
    record, stored = imported(before, ory)
    blind = only(plan_sync({before.external_id: record}, [after], key=KEY))
    assert blind.patch == (
        {
            "op": "replace",
            "path": "/verifiable_addresses",
            "value": [
                {"value": "a1@example.com", "via": "email", "verified": True, "status": "completed"}
            ],
        },
    )
    plan = plan_sync(
        {before.external_id: record}, [after], key=KEY, remote={before.external_id: stored}
    )
    op = only(plan)
    assert op.fields == ("addresses", "metadata_admin")
    ((replace,),) = (op.patch,)
    assert (replace["op"], replace["path"]) == ("replace", "/verifiable_addresses")
    assert [(a["value"], a["verified"], a["status"], a["id"]) for a in replace["value"]] == [
        ("a1@example.com", True, "completed", stored["verifiable_addresses"][0]["id"])
    ]
    ory.apply(op)
    assert ory.get(stored["id"])["verifiable_addresses"][0]["verified"] is True


def test_a_new_hash_replaces_the_old() -> None:
    """A new hash in the new hash file: password field, password='hash', the new hash in the PUT."""
    before = plan_item(raw_user(), password_hash=(HASH_A, WRITTEN_AT - 100))
    after = plan_item(raw_user(), password_hash=(HASH_B, WRITTEN_AT + 100))
    plan = plan_sync({before.external_id: record_for(before)}, [after], key=KEY)
    op = only(plan)
    assert op.password == "hash"
    assert op.fields == ("password",)
    assert op.put is not None
    assert op.put["credentials"] == {"password": {"config": {"hashed_password": HASH_B}}}
    assert plan.password_new_hash == 1
    assert HASH_B not in repr(op)
    assert HASH_B not in b"".join(plan.iter_json()).decode()


def test_a_reset_after_the_hash_switches_to_the_hook() -> None:
    """last_password_reset later than the hash: the mapping's hook, password='hook'."""
    before = plan_item(raw_user(), password_hash=(HASH_A, WRITTEN_AT - 100))
    reset = "2024-06-01T00:00:00.000Z"
    after = plan_item(raw_user(last_password_reset=reset), password_hash=(HASH_A, WRITTEN_AT - 100))
    plan = plan_sync({before.external_id: record_for(before)}, [after], key=KEY)
    op = only(plan)
    assert op.password == "hook"
    assert "password" in op.fields
    assert op.put is not None
    assert op.put["credentials"] == {"password": {"config": {"use_password_migration_hook": True}}}
    assert plan.password_to_hook == 1


def test_a_reset_after_our_write_without_a_new_hash_file_switches_to_the_hook() -> None:
    """No hash for the user in the new run, reset after our write: the hook."""
    before = plan_item(raw_user(), password_hash=(HASH_A, None))
    after = plan_item(raw_user(last_password_reset="2024-06-01T00:00:00.000Z"))
    op = only(plan_sync({before.external_id: record_for(before)}, [after], key=KEY))
    assert op.password == "hook"


def test_no_hash_in_the_new_run_and_no_reset_keeps_the_password() -> None:
    """A run without the hash file does not switch every imported hash to the hook."""
    before = plan_item(raw_user(), password_hash=(HASH_A, None))
    after = plan_item(raw_user())  # mapped to the hook: no hash given
    plan = plan_sync({before.external_id: record_for(before)}, [after], key=KEY)
    assert plan.ops == ()
    assert plan.unchanged == 1
    changed = plan_item(raw_user(blocked=True))
    op = only(plan_sync({before.external_id: record_for(before)}, [changed], key=KEY))
    assert "password" not in op.fields
    assert op.password is None
    assert op.digests is not None
    assert op.digests["password"] == record_for(before).digests["password"]  # type: ignore[index]


def test_ory_changed_the_password_after_our_write_ory_wins() -> None:
    """The user logged in through the hook (Ory stored a hash), then reset in Auth0: Ory wins."""
    before = plan_item(raw_user())  # imported with the hook
    ory = OryModel()
    record, stored = imported(before, ory)
    ory.identities[stored["id"]]["credentials"]["password"] = {
        "config": {"hashed_password": HASH_B}
    }  # what Ory does on a hook login
    after = plan_item(raw_user(last_password_reset="2024-06-01T00:00:00.000Z", blocked=True))
    plan = plan_sync(
        {before.external_id: record},
        [after],
        key=KEY,
        remote={before.external_id: ory.get(stored["id"])},
    )
    op = only(plan)
    assert op.kind == "conflict"
    assert op.conflicts == ("password",)
    assert "password" not in op.fields
    assert "state" in op.fields
    assert op.password is None
    assert "password" in op.detail
    assert plan.conflicts == 1
    ory.apply(op)
    now = ory.get(stored["id"])
    assert now["credentials"]["password"]["config"] == {"hashed_password": HASH_B}
    assert now["state"] == "inactive"


def test_a_section_changed_only_in_ory_is_kept() -> None:
    """Ory changed metadata_public; Auth0 changed the state: no conflict, Ory's metadata stays."""
    before = plan_item(raw_user(user_metadata={"lang": "fr"}))
    ory = OryModel()
    record, stored = imported(before, ory)
    ory.identities[stored["id"]]["metadata_public"] = {"lang": "es"}
    after = plan_item(raw_user(user_metadata={"lang": "fr"}, blocked=True))
    op = only(
        plan_sync(
            {before.external_id: record},
            [after],
            key=KEY,
            remote={before.external_id: ory.get(stored["id"])},
        )
    )
    assert op.kind == "update"
    ory.apply(op)
    assert ory.get(stored["id"])["metadata_public"] == {"lang": "es"}


def test_oidc_links_are_added_never_twice() -> None:
    """A new social link is sent alone; the ones Ory has are never sent again."""
    base = with_social(raw_user(), "github", "1")
    before = plan_item(base)
    ory = OryModel()
    record, stored = imported(before, ory)
    after = plan_item(with_social(base, "google-oauth2", "2"))
    for remote in (None, {before.external_id: ory.get(stored["id"])}):
        op = only(plan_sync({before.external_id: record}, [after], key=KEY, remote=remote))
        assert "oidc" in op.fields
        assert op.put is not None
        assert op.put["credentials"]["oidc"]["config"]["providers"] == [
            {"provider": "google", "subject": "2"}
        ]
    ory.apply(op)
    providers = ory.get(stored["id"])["credentials"]["oidc"]["config"]["providers"]
    assert sorted((p["provider"], p["subject"]) for p in providers) == [
        ("github", "1"),
        ("google", "2"),
    ]


def test_links_not_read_from_ory_are_never_sent() -> None:
    """Ory's identity read without the links' configs: no link is sent (it could be a twin)."""
    base = with_social(raw_user(), "github", "1")
    before = plan_item(base)
    ory = OryModel()
    record, stored = imported(before, ory)
    after = plan_item(with_social(base, "google-oauth2", "2"))
    unseen = ory.get(stored["id"])
    unseen["credentials"]["oidc"] = {"type": "oidc", "identifiers": ["github:1"]}
    for previous in (record, attrs.evolve(record, digests=None)):
        plan = plan_sync(
            {before.external_id: previous}, [after], key=KEY, remote={before.external_id: unseen}
        )
        for op in plan.ops:
            assert "oidc" not in op.fields
            assert op.put is None or "oidc" not in op.put.get("credentials", {})
    put, _ = update_request(after.body, unseen, ["oidc"])
    assert "credentials" not in put


def test_oidc_link_dropped_only_when_unlinked_in_auth0() -> None:
    """A link of the record absent from the new export goes; a link added in Ory stays."""
    base = with_social(with_social(raw_user(), "github", "1"), "google-oauth2", "2")
    before = plan_item(base)
    ory = OryModel()
    record, stored = imported(before, ory)
    ory.identities[stored["id"]]["credentials"]["oidc"]["config"]["providers"].append(
        {"provider": "apple", "subject": "ory-only"}
    )
    after = plan_item(with_social(raw_user(), "github", "1"))  # google unlinked in Auth0
    op = only(
        plan_sync(
            {before.external_id: record},
            [after],
            key=KEY,
            remote={before.external_id: ory.get(stored["id"])},
        )
    )
    assert op.unlink == (("oidc", "google:2"),)
    assert "oidc" not in op.fields  # nothing to add
    ory.apply(op)
    providers = ory.get(stored["id"])["credentials"]["oidc"]["config"]["providers"]
    assert sorted(p["subject"] for p in providers) == ["1", "ory-only"]
    blind = only(plan_sync({before.external_id: record}, [after], key=KEY))
    assert blind.unlink == ()
    assert "Ory's identity" in blind.detail


def test_removed_users_with_a_complete_export() -> None:
    """Imported users absent from a complete export are remove ops, last, with the action."""
    gone = plan_item(raw_user("gone"))
    kept = plan_item(raw_user("kept"))
    new = plan_item(raw_user("new"))
    previous = {
        gone.external_id: record_for(gone, "id-gone"),
        kept.external_id: record_for(kept, "id-kept"),
    }
    plan = plan_sync(previous, [new, kept], key=KEY, removed="deactivate")
    assert [op.kind for op in plan.ops] == ["create", "remove"]
    remove = plan.ops[-1]
    assert (remove.external_id, remove.identity_id) == (gone.external_id, "id-gone")
    assert remove.patch == ({"op": "replace", "path": "/state", "value": "inactive"},)
    assert plan.removed == 1
    assert plan.removal_action == "deactivate"
    assert plan.removals_refused is None


def test_a_partial_export_never_removes() -> None:
    """complete_export=False: no remove op, and the plan says why."""
    gone = plan_item(raw_user("gone"))
    plan = plan_sync(
        {gone.external_id: record_for(gone)}, [], key=KEY, removed="delete", complete_export=False
    )
    assert plan.ops == ()
    assert plan.removed == 0
    assert plan.removals_refused is not None
    assert "partial" in plan.removals_refused


def test_skipped_and_unreadable_users_are_never_removed() -> None:
    """A user the export skips or cannot read stays; an unreadable unnamed one stops removals."""
    a, b, c = (plan_item(raw_user(uid)) for uid in ("a", "b", "c"))
    previous = {i.external_id: record_for(i, f"id-{i.external_id}") for i in (a, b, c)}
    current: list[Any] = [
        Skipped(a.external_id, 1, "duplicate_email", "shares an email"),
        UnreadableRecord("users", 2, b.external_id, "email is not a string"),
        c,
    ]
    plan = plan_sync(previous, current, key=KEY, removed="delete")
    assert plan.ops == ()
    assert plan.removals_refused is None
    anonymous = [*current, UnreadableRecord("users", 4, None, "no user_id")]
    plan = plan_sync(
        {**previous, "auth0|zzz": ImportedRecord("auth0|zzz", "id-z", {}, None)},
        anonymous,
        key=KEY,
        removed="delete",
    )
    assert plan.removed == 0
    assert plan.removals_refused is not None


def test_users_without_digests_are_compared_with_ory() -> None:
    """An import from before sync: compared with Ory's identity, counted; without it, unchecked."""
    before = plan_item(raw_user(), password_hash=(HASH_A, None))
    ory = OryModel()
    stored = ory.create(before.body)
    legacy = ImportedRecord(before.external_id, stored["id"], None, None)
    after = plan_item(raw_user(blocked=True), password_hash=(HASH_A, None))
    plan = plan_sync(
        {before.external_id: legacy},
        [after],
        key=KEY,
        remote={before.external_id: ory.get(stored["id"])},
    )
    op = only(plan)
    assert "state" in op.fields
    assert "password" not in op.fields
    assert plan.compared_with_ory == 1
    assert "compared with Ory" in op.detail
    blind = plan_sync({before.external_id: legacy}, [after], key=KEY)
    assert blind.ops == ()
    assert blind.unchecked == 1


def test_bad_arguments_are_one_clear_error() -> None:
    """An empty digest key or an unknown removal action: ConfigurationError, nothing planned."""
    with pytest.raises(ConfigurationError, match="empty"):
        section_digests(identity_sections({}), b"")
    with pytest.raises(ConfigurationError, match="removed must be"):
        plan_sync({}, [], key=KEY, removed="purge")  # type: ignore[arg-type]


def test_plan_counts_and_json_lines() -> None:
    """counts() and iter_json() report the ops without any body."""
    before = plan_item(raw_user(), password_hash=(HASH_A, None))
    after = plan_item(raw_user(blocked=True), password_hash=(HASH_B, None))
    plan = plan_sync(
        {before.external_id: record_for(before)}, [after, plan_item(raw_user("n"))], key=KEY
    )
    counts = plan.counts()
    assert counts["create"] == 1
    assert counts["update"] == 1
    assert counts["update_by_field"]["state"] == 1
    lines = [json.loads(line) for line in plan.iter_json()]
    assert [line["kind"] for line in lines] == ["update", "create"]
    assert all("body" not in line and "put" not in line for line in lines)
    assert HASH_B not in json.dumps(lines)


def test_update_request_sends_every_field_put_replaces() -> None:
    """external_id and both metadata go in every PUT, from Ory's identity when unchanged."""
    item = plan_item(raw_user(user_metadata={"a": 1}), password_hash=(HASH_A, None))
    ory = OryModel()
    stored = ory.create(item.body)
    stored["metadata_admin"] = {"set": "in ory"}
    put, patch = update_request(item.body, stored, ["state"])
    assert put["external_id"] == item.external_id
    assert put["metadata_public"] == {"a": 1}
    assert put["metadata_admin"] == {"set": "in ory"}
    assert "credentials" not in put
    assert patch == ()


def test_organization_goes_by_patch() -> None:
    """PUT has no organization_id: it is a JSON Patch add."""
    item = plan_item(raw_user())
    moved = {**item.body, "organization_id": ORG}
    put, patch = update_request(moved, item.body, ["organization"])
    assert "organization_id" not in put
    assert patch == ({"op": "add", "path": "/organization_id", "value": ORG},)


# -- the property: nothing lost on PUT ----------------------------------------------------------


@st.composite
def auth0_changes(draw: st.DrawFn, record: dict[str, Any]) -> dict[str, Any]:
    """The same Auth0 user a week later: any of the changes a tenant sees."""
    new = copy.deepcopy(record)
    if draw(st.booleans()):
        new["email"] = draw(ts.emails())
    if draw(st.booleans()):
        new["email_verified"] = not new.get("email_verified", False)
    if draw(st.booleans()):
        new["blocked"] = not new.get("blocked", False)
    if draw(st.booleans()):
        new["user_metadata"] = draw(ts.json_objects())
    if draw(st.booleans()):
        new["app_metadata"] = draw(ts.json_objects())
    if draw(st.booleans()):
        new["logins_count"] = draw(st.integers(0, 1000))
    identities = new.get("identities")
    if isinstance(identities, list) and draw(st.booleans()):
        subject = str(draw(st.integers(1, 10**9)))
        identities.append(
            {
                "provider": "google-oauth2",
                "user_id": subject,
                "connection": "google-oauth2",
                "isSocial": True,
            }
        )
    if isinstance(identities, list) and len(identities) > 1 and draw(st.booleans()):
        del identities[draw(st.integers(1, len(identities) - 1))]
    if draw(st.booleans()):
        new["last_password_reset"] = draw(ts.timestamps(2024, 2030))
    return new


def _secrets(data: st.DataObject) -> tuple[tuple[str, float | None] | None, str | None]:
    password_hash = data.draw(st.none() | st.tuples(ts.bcrypt_hashes(), st.none()))
    otp = data.draw(st.none() | st.just("JBSWY3DPEHPK3PXP") | st.just("KRSXG5CTMVRXEZLU"))
    return password_hash, otp


class MemoryOry:
    """The same operations on S1's :class:`InMemoryOryAdmin` (Ory's rules, one implementation)."""

    def __init__(self) -> None:
        self.admin = InMemoryOryAdmin()

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        (result,) = self.admin.send_batch(self.admin.prepare_batch([body])).read()
        assert result["action"] == "create", result
        return self.get(result["identity"])

    def get(self, identity_id: str) -> dict[str, Any]:
        answer = self.admin.get_identity(identity_id)
        assert answer is not None
        return copy.deepcopy(dict(answer))

    def put(self, identity_id: str, body: Mapping[str, Any]) -> None:
        self.admin.update_identity(identity_id, body)

    def patch(self, identity_id: str, ops: Sequence[Mapping[str, Any]]) -> None:
        self.admin.patch_identity(identity_id, list(ops))

    def delete_credential(self, identity_id: str, kind: str, identifier: str) -> None:
        self.admin.delete_credential(identity_id, kind, identifier)

    def apply(self, op: SyncOp) -> None:
        """What an engine does with an update op."""
        OryModel.apply(self, op)  # type: ignore[arg-type]


def change_in_ory(ory: OryModel | MemoryOry, identity_id: str, data: st.DataObject) -> None:
    """What Ory may change after the import: a hook login, new metadata, a state, a TOTP."""
    now = ory.get(identity_id)
    body: dict[str, Any] = {
        key: now[key]
        for key in (
            "schema_id",
            "traits",
            "state",
            "metadata_public",
            "metadata_admin",
            "external_id",
        )
        if now.get(key) is not None
    }
    credentials: dict[str, Any] = {}
    if data.draw(st.booleans()) and "password" in (now.get("credentials") or {}):
        credentials["password"] = {"config": {"hashed_password": HASH_B}}  # a hook login
    if data.draw(st.booleans()):
        body["metadata_public"] = {"set_in": "ory"}
    if data.draw(st.booleans()):
        body["state"] = "inactive" if now["state"] == "active" else "active"
    if data.draw(st.booleans()):
        credentials["totp"] = {"config": {"totp_url": TOTP}}
    if credentials:
        body["credentials"] = credentials
    ory.put(identity_id, body)


@given(
    data=st.data(),
    with_remote=st.booleans(),
    store=st.sampled_from([OryModel, MemoryOry]),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_nothing_lost_on_put(
    data: st.DataObject, with_remote: bool, store: type[OryModel | MemoryOry]
) -> None:
    """For any imported identity and any change, what did not change in Auth0 is unchanged in Ory.

    With Ory's identity given (*remote*), Ory may have changed it too: what Ory changed and
    Auth0 did not stays Ory's, and Ory keeps the credentials it holds on a conflict.
    """
    raw = data.draw(ts.auth0_user_records(all_fields=data.draw(st.booleans())))
    user = parse_user(raw, 1)
    assume(isinstance(user, Auth0User))
    assert isinstance(user, Auth0User)
    hash_before, otp_before = _secrets(data)
    first = map_user(user, password_hash=hash_before, otp_secret=otp_before)
    assume(isinstance(first, PlannedIdentity))
    assert isinstance(first, PlannedIdentity)
    ory = store()
    record, stored = imported(first, ory)
    assert record.digests is not None
    if with_remote and data.draw(st.booleans()):
        change_in_ory(ory, stored["id"], data)

    changed_raw = data.draw(auth0_changes(raw))
    changed_user = parse_user(changed_raw, 1)
    assume(isinstance(changed_user, Auth0User))
    assert isinstance(changed_user, Auth0User)
    hash_after, otp_after = _secrets(data)
    if data.draw(st.booleans()):
        hash_after, otp_after = hash_before, otp_before
    second = map_user(changed_user, password_hash=hash_after, otp_secret=otp_after)
    assume(isinstance(second, PlannedIdentity))
    assert isinstance(second, PlannedIdentity)

    held = ory.get(stored["id"])  # Ory's identity before the sync
    remote = {first.external_id: held} if with_remote else None
    plan = plan_sync({first.external_id: record}, [second], key=KEY, remote=remote)
    ory_had = identity_sections(held)
    wanted = identity_sections(second.body)
    wanted_digests = section_digests(wanted, KEY)
    imported_links = {s: set(identity_sections(first.body)[s]) for s in ("oidc", "saml")}
    if not plan.ops:
        for section in SYNC_SECTIONS:
            assert section == "password" or wanted_digests[section] in (
                record.digests[section],
                section_digests(ory_had, KEY)[section],
            ), section
        return
    op = only(plan)
    assert op.kind in ("update", "conflict")
    ory.apply(op)
    after_identity = ory.get(stored["id"])
    after = identity_sections(after_identity)
    unlinked = {kind for kind, _ in op.unlink}
    for section in SYNC_SECTIONS:
        auth0_changed = wanted_digests[section] != record.digests[section]
        if not auth0_changed:
            assert section not in op.fields or section == "password", section
        if section in ("oidc", "saml"):
            ory_only = set(ory_had[section]) - imported_links[section]
            expected = set(wanted[section]) | ory_only if auth0_changed else set(ory_had[section])
            if auth0_changed and not with_remote:  # added, never dropped blind
                assert set(wanted[section]) <= set(after[section]), section
            else:
                assert set(after[section]) == expected, section
            providers = (after_identity.get("credentials") or {}).get(section, {})
            entries = [
                (p["provider"], p["subject"])
                for p in (providers.get("config") or {}).get("providers", [])
            ]
            assert len(entries) == len(set(entries)), f"a {section} link sent twice"
        elif section in op.fields or section in unlinked:
            assert after[section] == wanted[section], section
        else:
            assert after[section] == ory_had[section], section  # nothing lost
        ory_changed = section_digests(ory_had, KEY)[section] != record.digests[section]
        if with_remote and ory_changed and section in ("password", "totp"):
            assert after[section] == ory_had[section], section  # Ory keeps what it holds
        elif with_remote and auth0_changed and section not in ("oidc", "saml", "password"):
            assert after[section] == wanted[section], section  # Auth0 wins the rest
    assert after_identity["external_id"] == first.external_id
    assert after_identity["schema_id"] == first.body["schema_id"]
    assert op.digests is not None
    again = plan_sync(
        {first.external_id: ImportedRecord(first.external_id, stored["id"], op.digests, None)},
        [second],
        key=KEY,
        remote={first.external_id: after_identity},
    )
    assert again.ops == ()  # a second sync changes nothing
