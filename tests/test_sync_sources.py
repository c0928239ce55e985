"""``sync``'s faster path: each body's source recorded at import; unchanged users not mapped."""

from __future__ import annotations

import copy
import gzip
import io
import json
import multiprocessing
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from auth0_ory_migrate import (
    Auth0User,
    IdentityCounts,
    ImportOutcome,
    Ledger,
    MappingOptions,
    MfaIndex,
    PlannedIdentity,
    SeenUsers,
    SourceMark,
    dump_identity,
    import_identities,
    index_password_hashes,
    parse_user,
    plan_from_files,
    plan_migration,
    plan_sync,
    read_password_hashes,
    sync_identities,
    sync_plan_items,
)
from auth0_ory_migrate._core import _plan
from auth0_ory_migrate._core._password_hashes import HashUses
from auth0_ory_migrate._core._plan import MappingContext
from auth0_ory_migrate._core._source import options_digest
from auth0_ory_migrate._runtime import _ledger
from auth0_ory_migrate.testing import (
    PRESET_EMAIL_SCHEMA,
    FakeAuth0User,
    InMemoryOryAdmin,
    auth0_users,
    tenant_a_week_later,
    write_export,
)

from .test_sync_fast_path import _everything


@pytest.fixture(autouse=True)
def _small_blocks(forked_workers: Callable[[int], None]) -> None:
    """Blocks of a few lines (many blocks per worker); forking allowed as in test_parallel."""
    forked_workers(2000)


def _user(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "user_id": f"auth0|{n:024x}",
        "email": f"user{n}@example.com",
        "email_verified": True,
        "identities": [{"provider": "auth0", "user_id": f"{n:024x}", "connection": "db"}],
        **extra,
    }


def _hash(n: int, value: str = "$2b$10$" + "a" * 53) -> dict[str, Any]:
    return {"_ID": {"$oid": f"{n:024x}"}, "email": f"user{n}@example.com", "passwordHash": value}


def _ledger_lines(state: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (state / "ledger.ndjson").read_text().splitlines()]


def _planned(plan: Any) -> dict[str, PlannedIdentity]:
    return {i.external_id: i for i in plan if isinstance(i, PlannedIdentity)}


def test_a_plan_with_sources_marks_the_identities_nothing_else_decides() -> None:
    """sources=True: a plain user gets its mark and counts; merged or noted users get none."""
    users = [
        _user(1, blocked=True),
        _user(2, email="shared@example.com"),
        {**_user(3, email="shared@example.com"), "user_id": "google-oauth2|3",
         "identities": [{"provider": "google-oauth2", "user_id": "3",
                         "connection": "google-oauth2"}]},
        {**_user(4), "user_id": "samlp|acme|4",
         "identities": [{"provider": "samlp", "user_id": "4", "connection": "acme"}]},
    ]  # fmt: skip
    records = [parse_user(u, n) for n, u in enumerate(users, start=1)]
    marked = _planned(plan_migration(records, password_hashes=[], sources=True))
    plain = marked["auth0|" + f"{1:024x}"]
    assert plain.source is not None
    assert plain.source.counts == IdentityCounts("hook", 0, (), blocked=True, totp=False)
    assert len(plain.source.digest) == 16
    assert "digest" not in repr(plain.source)
    assert "source" not in repr(plain)
    merged = marked["auth0|" + f"{2:024x}"]
    assert merged.merged_user_ids
    assert merged.source is None
    noted = marked["samlp|acme|4"]
    assert noted.notes
    assert noted.source is None
    assert all(i.source is None for i in _planned(plan_migration(records)).values())


def test_the_digest_changes_with_every_input_of_the_mapping() -> None:
    """The record, the hash entry, the TOTP secret, the recovery codes, the options: each counts."""
    user = parse_user(_user(1), 1)
    assert isinstance(user, Auth0User)

    def digest(
        raw: dict[str, Any] | None = None,
        hashes: list[Any] | None = None,
        otp: dict[str, str] | None = None,
        recovery: dict[str, int] | None = None,
        options: MappingOptions | None = None,
    ) -> bytes | None:
        context = MappingContext(
            options or MappingOptions(),
            index_password_hashes(_records(hashes if hashes is not None else [_hash(1)])),
            MfaIndex(otp or {}, recovery or {}),
            sources=True,
        )
        parsed = parse_user(raw or _user(1), 1)
        assert isinstance(parsed, Auth0User)
        return context.unchanged_source(parsed, HashUses())

    base = digest()
    assert base is not None
    assert base == digest()  # the same inputs: the same digest
    others = [
        digest(raw=_user(1, user_metadata={"plan": "pro"})),
        digest(raw=_user(1, last_password_reset="2024-01-01T00:00:00.000Z")),
        digest(hashes=[_hash(1, "$2b$10$" + "b" * 53)]),
        digest(hashes=[{**_hash(1), "password_set_date": {"$date": "2024-01-01T00:00:00Z"}}]),
        digest(hashes=[]),
        digest(otp={"auth0|" + f"{1:024x}": "JBSWY3DPEHPK3PXP"}),
        digest(recovery={"auth0|" + f"{1:024x}": 2}),
        digest(options=MappingOptions(without_hash="none")),
        digest(options=MappingOptions(totp_issuer="Acme")),
    ]
    assert base not in others
    assert len(set(others)) == len(others)
    plain = MappingContext(MappingOptions())
    assert plain.unchanged_source(user, HashUses()) is None


def _records(hashes: list[dict[str, Any]]) -> Iterator[Any]:
    text = "".join(json.dumps(record) + "\n" for record in hashes)
    return read_password_hashes(io.BytesIO(text.encode()))


def test_the_ledger_keeps_a_keyed_source_and_the_counts(tmp_path: Path) -> None:
    """A created line has ``source`` (keyed: not the digest) and ``counts``; the records answer."""
    counts = IdentityCounts("hash", 1, ("github",), blocked=False, totp=True)
    mark = SourceMark(b"\x01" * 16, counts)
    body = {"schema_id": "preset://email", "external_id": "auth0|1", "traits": {"email": "a@b.c"}}
    with Ledger.open(tmp_path / "state", input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome("auth0|1", "created", "id-1"), ImportOutcome("auth0|2", "exists", "i2")],
            bodies={"auth0|1": body, "auth0|2": {**body, "external_id": "auth0|2"}},
            sources={"auth0|1": mark, "auth0|2": mark},
        )
        ledger.record([ImportOutcome("auth0|3", "created", "id-3")], sources={"auth0|3": mark})
        records = ledger.imported_records()
    lines = _ledger_lines(tmp_path / "state")
    assert len(lines[0]["source"]) == 32
    assert lines[0]["source"] != mark.digest.hex()
    assert lines[0]["counts"] == ["hash", 1, ["github"], False, True]
    assert "source" not in lines[1]  # exists: not made from this body
    assert "source" not in lines[2]  # no body, no digests: nothing to be unchanged from
    assert records.unchanged_source("auth0|1", mark.digest) == counts
    assert records.is_unchanged("auth0|1", dump_identity(body))  # (its line is read)
    assert not records.is_unchanged("auth0|1", dump_identity({**body, "state": "inactive"}))
    assert records.unchanged_source("auth0|1", b"\x02" * 16) is None
    assert records.unchanged_source("auth0|2", mark.digest) is None
    assert records.unchanged_source("auth0|3", mark.digest) is None
    assert records.unchanged_source("auth0|9", mark.digest) is None


@pytest.mark.parametrize(
    "counts", [["hash", 1], ["hash", -1, [], False, False], ["x", 0, [], False, False],
               ["hash", 0, "github", False, False], ["hash", 0, [{}], False, False], "hash",
               ["hook", 0, [], False, False], ["hash", 0, [], True, False],
               ["hash", 1, ["github"], False, False]]
)  # fmt: skip
def test_a_damaged_counts_field_only_loses_the_faster_path(tmp_path: Path, counts: Any) -> None:
    """A hand-edited ``counts`` (damaged, or other counts) is not trusted: the user is mapped."""
    mark = SourceMark(b"\x01" * 16, IdentityCounts("hash"))
    body = {"schema_id": "preset://email", "external_id": "auth0|1", "traits": {"email": "a@b.c"}}
    state = tmp_path / "state"
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome("auth0|1", "created", "id-1")],
            bodies={"auth0|1": body},
            sources={"auth0|1": mark},
        )
    line = _ledger_lines(state)[0]
    line["counts"] = counts
    (state / "ledger.ndjson").write_text(json.dumps(line) + "\n")
    with Ledger.open_existing(state) as ledger:
        records = ledger.imported_records()
        assert records.unchanged_source("auth0|1", mark.digest) is None
        assert records["auth0|1"].fingerprint == line["fingerprint"]


def test_import_identities_records_the_sources_of_planned_identities(tmp_path: Path) -> None:
    """Planned identities are imported by their body; their sources go to the ledger."""
    records = [parse_user(_user(n), n) for n in range(1, 4)]
    planned = list(_planned(plan_migration(records, password_hashes=[], sources=True)).values())
    ory = InMemoryOryAdmin()
    state = tmp_path / "state"
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        result = import_identities([planned[0], planned[1].body, planned[2]], ory, ledger=ledger)
        again = import_identities(planned, ory, ledger=ledger)
        imported = ledger.imported_records()
    assert result.created == 3
    assert again.skipped == 3
    assert len(ory.identities()) == 3
    lines = {line["external_id"]: line for line in _ledger_lines(state) if "status" in line}
    assert "source" in lines[planned[0].external_id]
    assert "source" in lines[planned[2].external_id]
    assert "source" not in lines[planned[1].external_id]  # a bare body: no source known
    for item in (planned[0], planned[2]):
        assert item.source is not None
        assert imported.unchanged_source(item.external_id, item.source.digest) == item.source.counts


def _state(first: Path, state: Path, *, sources: bool) -> None:
    """The state an import of *first* leaves: every planned user created (as migrate records)."""
    planned = [
        item for item in _plan_of(first, sources=sources) if isinstance(item, PlannedIdentity)
    ]
    with Ledger.open(state, input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome(p.external_id, "created", _id(p.external_id)) for p in planned],
            bodies={p.external_id: p.body for p in planned},
            sources={p.external_id: p.source for p in planned if p.source is not None},
        )


def _id(external_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, external_id))


def _plan_of(directory: Path, *, sources: bool = True) -> Any:
    """The plan of the export in *directory* (its MFA file too, when there is one)."""
    mfa = directory / "auth0-mfa-secrets.json"
    return plan_from_files(
        directory / "auth0-users.ndjson.gz",
        password_hashes=directory / "auth0-password-hashes.json",
        mfa_secrets=mfa if mfa.exists() else None,
        sources=sources,
    )


def _counting_map_one(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Count map_one calls in every process (a counter in shared memory, made before the fork)."""
    calls = multiprocessing.get_context("fork").Value("l", 0)
    map_one = MappingContext.map_one

    def counted(self: MappingContext, *args: Any, **kwargs: Any) -> Any:
        with calls.get_lock():
            calls.value += 1
        return map_one(self, *args, **kwargs)

    monkeypatch.setattr(_plan.MappingContext, "map_one", counted)
    return calls


@pytest.mark.parametrize("jobs", [2, 3])
def test_the_source_path_plans_a_week_later_as_the_slow_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """Recorded sources: the same plan and report, and most users are never mapped again."""
    users = auth0_users(400, seed=31, real_hashes=False, mfa=True)
    later = tenant_a_week_later(users, seed=7, real_hashes=False, deleted=4)
    for name, export in (("first", users), ("later", later.users)):
        (tmp_path / name).mkdir()
        write_export(tmp_path / name, export)
    _state(tmp_path / "first", tmp_path / "state", sources=True)
    results = []
    with Ledger.open_existing(tmp_path / "state") as ledger:
        key = ledger.sync_key()
        records = ledger.imported_records()
        slow_records = {k: attrs.evolve(v, fingerprint=None) for k, v in records.items()}
        # the records themselves (sources); any mapping of them (no sources: every user mapped)
        for given in (records, slow_records):
            plan = _plan_of(tmp_path / "later")
            with monkeypatch.context() as m:
                calls = _counting_map_one(m)
                items = list(sync_plan_items(plan, given, key=key, jobs=jobs))
            unchanged = sum(i.unchanged for i in items if isinstance(i, SeenUsers))
            synced = plan_sync(records, items, key=key)
            results.append((synced, plan.report, calls.value, unchanged))
    (fast, fast_report, fast_calls, fast_same), (slow, slow_report, slow_calls, _) = results
    assert {op.kind for op in slow.ops} >= {"create", "update", "remove"}
    assert _everything(fast) == _everything(slow)
    assert fast.counts() == slow.counts()
    assert fast_report == slow_report
    assert fast_same > 200
    assert slow_calls - fast_calls > 150  # the unchanged users were not mapped again


def _mark_of(user: FakeAuth0User, **changes: Any) -> FakeAuth0User:
    return attrs.evolve(user, **changes)


def test_a_new_hash_or_totp_secret_with_the_same_record_is_a_change(tmp_path: Path) -> None:
    """The users file unchanged, a side file changed: those users are updated, nobody else."""
    users = auth0_users(60, seed=5, real_hashes=False, mfa=True, duplicate_emails=False)
    with_hash = next(u for u in users if u.hash_record is not None and u.mfa_secret is None)
    with_otp = next(
        u for u in users if u.mfa_secret and u.record.get("email") and u is not with_hash
    )
    assert with_hash.hash_record is not None
    new_hash = {**with_hash.hash_record, "passwordHash": "$2b$10$" + "z" * 53}
    later = [
        _mark_of(u, hash_record=new_hash)
        if u is with_hash
        else _mark_of(u, mfa_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        if u is with_otp
        else u
        for u in users
    ]
    for name, export in (("first", users), ("later", later)):
        (tmp_path / name).mkdir()
        write_export(tmp_path / name, export)
    _state(tmp_path / "first", tmp_path / "state", sources=True)
    with Ledger.open_existing(tmp_path / "state") as ledger:
        key = ledger.sync_key()
        records = ledger.imported_records()
        items = list(sync_plan_items(_plan_of(tmp_path / "later"), records, key=key, jobs=2))
        plan = plan_sync(records, items, key=key)
    assert sum(i.unchanged for i in items if isinstance(i, SeenUsers)) > 30
    changed = {op.external_id: op for op in plan.ops}
    assert sorted(changed) == sorted([with_hash.user_id, with_otp.user_id])
    assert changed[with_hash.user_id].fields == ("password",)
    assert changed[with_hash.user_id].password == "hash"
    assert "totp" in changed[with_otp.user_id].fields


def test_a_sync_update_records_the_source_of_its_body(tmp_path: Path) -> None:
    """After an update from a plan with sources, the next plan finds the user by its source."""
    first = [parse_user(_user(1), 1)]
    later = [parse_user(_user(1, user_metadata={"plan": "pro"}), 1)]
    ory = InMemoryOryAdmin()
    with Ledger.open(tmp_path / "state", input_digest="d", input_name="users") as ledger:
        imported = import_identities(
            list(_planned(plan_migration(first, password_hashes=[], sources=True)).values()),
            ory,
            ledger=ledger,
        )
        assert imported.created == 1
        key = ledger.sync_key()
        (item,) = _planned(plan_migration(later, password_hashes=[], sources=True)).values()
        assert item.source is not None
        records = ledger.imported_records()
        assert records.unchanged_source(item.external_id, item.source.digest) is None
        plan = plan_sync(records, [item], key=key)
        assert [op.kind for op in plan.ops] == ["update"]
        assert plan.ops[0].source == item.source
        assert sync_identities(plan, ory, ledger=ledger).updated == 1
        records = ledger.imported_records()
    assert records.unchanged_source(item.external_id, item.source.digest) == item.source.counts
    assert "source" in _ledger_lines(tmp_path / "state")[-1]


def _write_users(directory: Path, users: list[dict[str, Any]]) -> Path:
    directory.mkdir()
    with gzip.open(directory / "auth0-users.ndjson.gz", "wt") as f:
        f.writelines(json.dumps(u) + "\n" for u in users)
    (directory / "auth0-password-hashes.json").write_text(
        "".join(json.dumps(_hash(n)) + "\n" for n in range(1, 40))
    )
    return directory


def test_a_holder_whose_merged_user_left_is_mapped_again(tmp_path: Path) -> None:
    """A merged identity has no source: once alone, its user is compared, not taken as unchanged."""
    google = {**_user(2), "user_id": "google-oauth2|2",
              "identities": [{"provider": "google-oauth2", "user_id": "2",
                              "connection": "google-oauth2", "isSocial": True}]}  # fmt: skip
    alone = [_user(n) for n in range(3, 40)]
    _write_users(tmp_path / "first", [_user(2), google, *alone])
    _write_users(tmp_path / "later", [_user(2), *alone])  # the Google account was deleted
    _state(tmp_path / "first", tmp_path / "state", sources=True)
    with Ledger.open_existing(tmp_path / "state") as ledger:
        key = ledger.sync_key()
        records = ledger.imported_records()
        slow_records = {k: attrs.evolve(v, fingerprint=None) for k, v in records.items()}
        fast = plan_sync(
            records,
            sync_plan_items(_plan_of(tmp_path / "later"), records, key=key, jobs=2),
            key=key,
        )
        slow = plan_sync(records, _plan_of(tmp_path / "later"), key=key)
        slow_too = plan_sync(slow_records, _plan_of(tmp_path / "later"), key=key)
    holder = "auth0|" + f"{2:024x}"
    assert [op.external_id for op in slow.ops] == [holder]
    assert _everything(fast) == _everything(slow) == _everything(slow_too)
    assert fast.unchanged == slow.unchanged == len(alone)


def test_the_options_digest_is_the_same_in_another_process() -> None:
    """The digest of the options (every kind of field set) does not depend on the process."""
    code = (
        "from auth0_ory_migrate import EnterpriseProvider, MappingOptions\n"
        "from auth0_ory_migrate._core._source import options_digest\n"
        "t = {'email': {'type': 'string', 'format': 'email', 'ory.sh/kratos': {'credentials':"
        " {'password': {'identifier': True}}, 'verification': {'via': 'email'}}},"
        " 'name': {'type': 'string'}}\n"
        "o = MappingOptions(schema_id='custom', schema={'properties': {'traits': {'type':"
        " 'object', 'properties': t, 'required': ['email']}}, 'a': [1, {'c': None}]},"
        " traits={'email': 'email', 'name': 'name'}, without_hash='none', totp_issuer='Acme',"
        " enterprise={'acme': EnterpriseProvider('okta',"
        " '3fa85f64-5717-4562-b3fc-2c963f66afa6', 'saml')}).with_providers({'x': 'y'})\n"
        "print(options_digest(o).hex())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    local: dict[str, Any] = {}
    exec(code.replace("print(", "result = ("), local)  # noqa: S102 - the same code, here
    assert digests == {local["result"]}


def test_a_sync_create_records_the_source_of_its_body(tmp_path: Path) -> None:
    """A user new in Auth0, created by sync from a plan with sources: the ledger has its source."""
    ory = InMemoryOryAdmin()
    with Ledger.open(tmp_path / "state", input_digest="d", input_name="users") as ledger:
        first = _planned(plan_migration([parse_user(_user(1), 1)], password_hashes=[]))
        assert import_identities(list(first.values()), ory, ledger=ledger).created == 1
        later = [parse_user(_user(1), 1), parse_user(_user(2), 2)]
        items = _planned(plan_migration(later, password_hashes=[], sources=True))
        new = items["auth0|" + f"{2:024x}"]
        assert new.source is not None
        plan = plan_sync(ledger.imported_records(), items.values(), key=ledger.sync_key())
        assert [op.kind for op in plan.ops] == ["create"]
        assert sync_identities(plan, ory, ledger=ledger).created == 1
        records = ledger.imported_records()
    assert records.unchanged_source(new.external_id, new.source.digest) == new.source.counts
    assert not records.has_source("auth0|" + f"{1:024x}")  # imported without sources


_TIER_SCHEMA = copy.deepcopy(dict(PRESET_EMAIL_SCHEMA))
_TIER_SCHEMA["properties"]["traits"]["properties"]["tier"] = {"type": "string"}


def _plan_and_state(tmp_path: Path, options: MappingOptions, hashes: bool = False) -> Any:
    """*options*' plan of 39 users, imported into ``state`` with their sources; the plan maker."""

    def plan(name: str = "first") -> Any:
        directory = tmp_path / name
        return plan_from_files(
            directory / "auth0-users.ndjson.gz",
            password_hashes=directory / "auth0-password-hashes.json" if hashes else None,
            options=options,
            sources=True,
        )

    planned = [i for i in plan() if isinstance(i, PlannedIdentity)]
    with Ledger.open(tmp_path / "state", input_digest="d", input_name="users") as ledger:
        ledger.record(
            [ImportOutcome(i.external_id, "created", _id(i.external_id)) for i in planned],
            bodies={i.external_id: i.body for i in planned},
            sources={i.external_id: i.source for i in planned if i.source is not None},
        )
    return plan


def _fast_and_slow(tmp_path: Path, plan: Any, name: str) -> tuple[Any, Any]:
    """plan_sync of *name*'s plan with the records' sources (workers) and without them."""
    with Ledger.open_existing(tmp_path / "state") as ledger:
        key, records = ledger.sync_key(), ledger.imported_records()
        results = []
        for given in (records, dict(records.items())):
            made = plan(name)
            synced = plan_sync(records, sync_plan_items(made, given, key=key, jobs=2), key=key)
            results.append((synced, made.report))
    return results[0], results[1]


def test_a_trait_mapping_made_of_code_gives_no_source(tmp_path: Path) -> None:
    """A callable mapping (its repr says nothing of what it returns): every user is compared."""
    tiers: dict[str, str] = {}

    def traits(user: Auth0User) -> dict[str, Any]:
        return {"email": user.email, "tier": tiers.get(user.user_id, "free")}

    options = MappingOptions(schema_id="custom", schema=_TIER_SCHEMA, traits=traits)
    assert options_digest(options) is None
    _write_users(tmp_path / "first", [_user(n) for n in range(1, 40)])
    plan = _plan_and_state(tmp_path, options)
    tiers["auth0|" + f"{1:024x}"] = "pro"  # what the code reads changed: user 1's traits
    (fast, fast_report), (slow, slow_report) = _fast_and_slow(tmp_path, plan, "first")
    assert [(op.kind, op.fields) for op in slow.ops] == [("update", ("traits",))]
    assert _everything(fast) == _everything(slow)
    assert fast_report == slow_report


def test_options_of_other_mapping_types_give_no_source() -> None:
    """Only plain dicts are digested by their repr: a Mapping of another type gives no source."""

    class Providers(dict[str, str]):
        def __repr__(self) -> str:
            return "Providers()"

    assert options_digest(MappingOptions()) is not None
    assert options_digest(MappingOptions(providers=Providers(github="github"))) is None


def test_a_hash_record_joined_by_email_now_is_mapped_again(tmp_path: Path) -> None:
    """Found by id at import, by email (an id-less record) now: the same entry, but a note."""
    value = "$2b$10$" + "a" * 53
    first = [
        {"_ID": {"$oid": f"{n:024x}"}, "email": f"user{n}@example.com", "passwordHash": value}
        for n in range(1, 40)
    ]
    later = [{"email": "user1@example.com", "email_verified": True, "passwordHash": value}]
    for name, hashes in (("first", first), ("later", [*later, *first[1:]])):
        _write_users(tmp_path / name, [_user(n) for n in range(1, 40)])
        (tmp_path / name / "auth0-password-hashes.json").write_text(
            "".join(json.dumps(h) + "\n" for h in hashes)
        )
    plan = _plan_and_state(tmp_path, MappingOptions(), hashes=True)
    (fast, fast_report), (slow, slow_report) = _fast_and_slow(tmp_path, plan, "later")
    assert slow_report.notes_by_code == {"password_hash_joined_by_email": 1}
    assert fast_report == slow_report
    assert _everything(fast) == _everything(slow)


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, dict):
        return {**value, "x": "y"}
    return "x"  # (None)


def test_every_mapping_option_is_in_the_digest() -> None:
    """Each option of MappingOptions, changed alone, changes the digest (a new option too)."""
    base = MappingOptions(schema_id="custom", schema=_TIER_SCHEMA)
    digest = options_digest(base)
    assert digest is not None
    names = [a.name for a in attrs.fields(MappingOptions) if a.init and a.name != "authz"]
    assert len(names) >= 12
    for name in names:
        options = copy.copy(base)
        object.__setattr__(options, name, _changed(getattr(base, name)))
        assert options_digest(options) not in (None, digest), name


def test_the_source_s_key_holds_the_mapping_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another build of the core under the same version number makes other sources."""
    prefix = _ledger._source_prefix.__wrapped__()
    assert prefix == _ledger._source_prefix()
    read = Path.read_bytes

    def edited(path: Path) -> bytes:
        return read(path) + (b"# edited\n" if path.name == "_mapping.py" else b"")

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert _ledger._source_prefix.__wrapped__() != prefix


def test_in_one_process_an_unchanged_user_s_record_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jobs=1: a planned user whose source is the record's is unchanged with no ledger read."""
    users = auth0_users(200, seed=17, real_hashes=False)
    later = tenant_a_week_later(users, seed=3, real_hashes=False)
    for name, export in (("first", users), ("later", later.users)):
        (tmp_path / name).mkdir()
        write_export(tmp_path / name, export)
    _state(tmp_path / "first", tmp_path / "state", sources=True)
    reads: list[int] = []
    entry = _ledger.ImportedRecords._entry

    def counted(self: Any, where: int) -> Any:
        reads.append(where)
        return entry(self, where)

    with Ledger.open_existing(tmp_path / "state") as ledger:
        key, records = ledger.sync_key(), ledger.imported_records()
        monkeypatch.setattr(_ledger.ImportedRecords, "_entry", counted)
        items = list(sync_plan_items(_plan_of(tmp_path / "later"), records, key=key, jobs=1))
    unchanged = sum(i.unchanged for i in items if isinstance(i, SeenUsers))
    planned = sum(1 for i in items if isinstance(i, PlannedIdentity))
    assert unchanged > 100
    assert len(reads) <= planned  # (only users that changed, or have no source, are read)
