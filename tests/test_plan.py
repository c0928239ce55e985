"""Planning a migration: shared emails, duplicates, sources, report counts, no secret leaks."""

from __future__ import annotations

import io
import itertools
import json
import pickle
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import pytest

from auth0_ory_migrate import (
    Auth0User,
    InvalidRecordError,
    MappingOptions,
    MigrationPlan,
    PasswordHashIndex,
    PlanItem,
    PlannedIdentity,
    Skipped,
    UnreadableRecord,
    UsersFile,
    format_summary,
    index_password_hashes,
    normalize_email,
    parse_user,
    plan_migration,
    read_mfa_secrets,
    read_password_hashes,
    read_users,
    scan_users,
)
from auth0_ory_migrate._core._report import ReportBuilder
from auth0_ory_migrate.testing import ExportFiles, auth0_users, fake_bcrypt, write_export


DB = "Username-Password-Authentication"


def _raw(
    user_id: str,
    email: str | None,
    verified: bool = True,
    created: str | None = "2021-01-01T00:00:00.000Z",
    **extra: Any,
) -> dict[str, Any]:
    provider, _, local = user_id.partition("|")
    raw: dict[str, Any] = {"user_id": user_id}
    if email is not None:
        raw.update(email=email, email_verified=verified)
    if created is not None:
        raw["created_at"] = created
    social = provider not in ("auth0", "email", "sms")
    raw["identities"] = [
        {
            "provider": provider,
            "user_id": local,
            "connection": DB if provider == "auth0" else provider,
            "isSocial": social,
        }
    ]
    raw.update(extra)
    return raw


def _users(*raws: dict[str, Any]) -> list[Auth0User]:
    users = []
    for line, raw in enumerate(raws, 1):
        user = parse_user(raw, line)
        assert isinstance(user, Auth0User)
        users.append(user)
    return users


def _run(plan: MigrationPlan) -> dict[str, PlanItem]:
    """Iterate *plan*; index the items by Auth0 user id (each must appear once)."""
    items: dict[str, PlanItem] = {}
    for item in plan:
        key = item.external_id if isinstance(item, PlannedIdentity) else item.user_id
        assert key is not None
        assert key not in items, f"{key} planned twice"
        items[key] = item
    return items


def _oidc(item: PlanItem) -> list[dict[str, str]]:
    assert isinstance(item, PlannedIdentity)
    providers: list[dict[str, str]] = (
        item.body.get("credentials", {}).get("oidc", {}).get("config", {}).get("providers", [])
    )
    return providers


def _assert_counts_add_up(plan: MigrationPlan) -> None:
    report = plan.report
    assert report.users_read == report.identities + report.merged + sum(report.skipped.values())


def _assert_skipped(
    items: dict[str, PlanItem], user_ids: list[str], reason: str, holder: str
) -> None:
    """Each of *user_ids* is Skipped for *reason* in favour of *holder*."""
    for user_id in user_ids:
        skipped = items[user_id]
        assert isinstance(skipped, Skipped)
        assert (skipped.reason, skipped.holder) == (reason, holder)


# --- same email on several users ---------------------------------------------------------------


def test_all_verified_merge_into_the_database_user() -> None:
    """Same verified email: one identity, the database user primary even when younger."""
    users = _users(
        _raw("google-oauth2|113", "Tim@Example.com", created="2019-01-01T00:00:00Z"),
        _raw("auth0|tim", "tim@example.com", created="2021-08-01T00:00:00Z"),
        _raw("github|5", "TIM@example.com", created="2020-01-01T00:00:00Z"),
    )
    hashes = [{"_id": "tim", "passwordHash": fake_bcrypt(random.Random(1))}]
    plan = plan_migration(users, password_hashes=read_password_hashes(_ndjson(hashes)))
    items = _run(plan)
    primary = items["auth0|tim"]
    assert isinstance(primary, PlannedIdentity)
    assert primary.merged_user_ids == ("google-oauth2|113", "github|5")  # oldest first
    assert primary.password == "hash"
    assert {p["provider"] for p in _oidc(primary)} == {"google", "github"}
    assert primary.body["verifiable_addresses"][0]["verified"] is True
    _assert_skipped(items, ["google-oauth2|113", "github|5"], "merged", "auth0|tim")
    report = plan.report
    assert (report.users_read, report.identities, report.merged) == (3, 1, 2)
    assert report.skipped == {}
    _assert_counts_add_up(plan)


def test_all_verified_without_database_user_merge_into_the_oldest() -> None:
    """Same verified email and no database user: the oldest account is primary."""
    users = _users(
        _raw("github|5", "ken@example.com", created="2022-02-10T00:00:00Z"),
        _raw("google-oauth2|1", "Ken@example.com", created="2020-01-01T00:00:00Z"),
        _raw("windowslive|9", "KEN@example.com", created="2021-01-01T00:00:00Z"),
    )
    items = _run(plan_migration(users))
    primary = items["google-oauth2|1"]
    assert isinstance(primary, PlannedIdentity)
    assert primary.merged_user_ids == ("windowslive|9", "github|5")
    assert primary.body["traits"] == {"email": "Ken@example.com"}
    assert [p["provider"] for p in _oidc(primary)] == ["google", "microsoft", "github"]


def test_oldest_among_several_database_users_is_primary() -> None:
    """With two verified database users on one email, the older one holds the identity."""
    users = _users(
        _raw("auth0|young", "x@example.com", created="2023-01-01T00:00:00Z"),
        _raw("auth0|old", "x@example.com", created="2020-01-01T00:00:00Z"),
    )
    items = _run(plan_migration(users))
    assert isinstance(items["auth0|old"], PlannedIdentity)
    _assert_skipped(items, ["auth0|young"], "merged", "auth0|old")


def test_missing_created_at_counts_as_youngest_then_file_order() -> None:
    """Users without created_at sort after dated ones; ties keep file order."""
    users = _users(
        _raw("github|1", "x@example.com", created=None),
        _raw("github|2", "x@example.com", created=None),
        _raw("github|3", "x@example.com", created="2024-01-01T00:00:00Z"),
    )
    primary = _run(plan_migration(users))["github|3"]
    assert isinstance(primary, PlannedIdentity)
    assert primary.merged_user_ids == ("github|1", "github|2")


def test_not_all_verified_the_verified_one_wins_and_nothing_merges() -> None:
    """One unverified account: no merge; the verified one is imported, the other reported."""
    users = _users(
        _raw("auth0|donald", "donald@example.com", verified=False, created="2021-09-01T00:00:00Z"),
        _raw("windowslive|7b", "donald@example.com", created="2022-09-01T00:00:00Z"),
    )
    hashes = [{"_id": "donald", "passwordHash": fake_bcrypt(random.Random(2))}]
    plan = plan_migration(users, password_hashes=read_password_hashes(_ndjson(hashes)))
    items = _run(plan)
    holder = items["windowslive|7b"]
    assert isinstance(holder, PlannedIdentity)
    assert holder.merged_user_ids == ()
    assert "password" not in holder.body.get("credentials", {})  # never the unverified one's
    loser = items["auth0|donald"]
    assert isinstance(loser, Skipped)
    assert (loser.reason, loser.holder) == ("duplicate_email", "windowslive|7b")
    assert "windowslive|7b" in loser.detail
    report = plan.report
    assert report.skipped == {"duplicate_email": 1}
    assert report.merged == 0
    assert report.unmatched_password_hashes == 1
    _assert_counts_add_up(plan)


def test_none_verified_the_oldest_wins() -> None:
    """No account verified: the oldest is imported, the others are duplicate_email."""
    users = _users(
        _raw("auth0|b", "x@example.com", verified=False, created="2022-01-01T00:00:00Z"),
        _raw("github|a", "X@example.com", verified=False, created="2020-01-01T00:00:00Z"),
        _raw("auth0|c", "x@EXAMPLE.com", verified=False, created="2023-01-01T00:00:00Z"),
    )
    items = _run(plan_migration(users))
    holder = items["github|a"]
    assert isinstance(holder, PlannedIdentity)
    assert holder.body["verifiable_addresses"][0]["verified"] is False
    _assert_skipped(items, ["auth0|b", "auth0|c"], "duplicate_email", "github|a")


def test_several_verified_and_one_unverified_merge_nothing() -> None:
    """Two verified and one unverified: the oldest verified holds; all others reported."""
    users = _users(
        _raw("github|u", "x@example.com", verified=False, created="2019-01-01T00:00:00Z"),
        _raw("google-oauth2|v2", "x@example.com", created="2022-01-01T00:00:00Z"),
        _raw("auth0|v1", "x@example.com", created="2021-01-01T00:00:00Z"),
    )
    items = _run(plan_migration(users))
    holder = items["auth0|v1"]
    assert isinstance(holder, PlannedIdentity)
    assert holder.merged_user_ids == ()
    assert _oidc(holder) == []
    _assert_skipped(items, ["github|u", "google-oauth2|v2"], "duplicate_email", "auth0|v1")


def test_an_unverified_account_is_never_merged() -> None:
    """Whatever the mix, no identity ever carries the login of an unverified duplicate."""
    users = _users(
        _raw("auth0|owner", "victim@example.com"),
        _raw("github|attacker", "VICTIM@example.com", verified=False),
    )
    items = _run(plan_migration(users))
    owner = items["auth0|owner"]
    assert isinstance(owner, PlannedIdentity)
    assert _oidc(owner) == []
    assert "github|attacker" not in json.dumps(owner.body)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("tim@example.com", "TIM@EXAMPLE.COM"),
        ("tim@example.com", "\uff54im@example.com"),  # fullwidth t, NFKC → t
        ("fish@example.com", "\ufb01sh@example.com"),  # the fi ligature
        ("j\u00fcrgen@example.de", "JU\u0308RGEN@example.de"),  # combining diaeresis
    ],
)
def test_emails_compare_after_nfkc_and_lowercasing(first: str, second: str) -> None:
    """Addresses Ory would treat as one are one: merged (verified) or one reported."""
    assert normalize_email(first) == normalize_email(second)
    users = _users(
        _raw("auth0|a", first, created="2020-01-01T00:00:00Z"),
        _raw("github|b", second, created="2021-01-01T00:00:00Z"),
    )
    plan = plan_migration(users)
    items = _run(plan)
    assert isinstance(items["auth0|a"], PlannedIdentity)
    merged = items["github|b"]
    assert isinstance(merged, Skipped)
    assert merged.reason == "merged"
    assert plan.report.identities == 1


def test_different_emails_are_not_grouped() -> None:
    """Similar but different addresses stay separate identities."""
    users = _users(
        _raw("auth0|a", "tim@example.com"),
        _raw("auth0|b", "tim@example.co"),
        _raw("auth0|c", "tim+x@example.com"),
    )
    items = _run(plan_migration(users))
    assert all(isinstance(i, PlannedIdentity) for i in items.values())


def test_shared_email_skipped_for_no_email_rules_all() -> None:
    """When the primary cannot be mapped, the users merged into it are reported the same way."""
    options = MappingOptions(traits=lambda user: None)
    users = _users(_raw("auth0|a", "x@example.com"), _raw("github|b", "x@example.com"))
    plan = plan_migration(users, options=options)
    items = _run(plan)
    assert {i.reason for i in items.values() if isinstance(i, Skipped)} == {"no_traits"}
    assert plan.report.skipped == {"no_traits": 2}
    _assert_counts_add_up(plan)


# --- duplicate user ids ------------------------------------------------------------------------


def test_same_record_twice_is_one_identity() -> None:
    """A user exported twice is planned once; the repeat is duplicate_user_id."""
    raw = _raw("auth0|a", "a@example.com")
    users = _users(raw, _raw("auth0|b", "b@example.com"), dict(raw))
    plan = plan_migration(users)
    items = list(plan)
    assert len(items) == 3
    planned = [i for i in items if isinstance(i, PlannedIdentity)]
    assert sorted(i.external_id for i in planned) == ["auth0|a", "auth0|b"]
    (dup,) = [i for i in items if isinstance(i, Skipped)]
    assert (dup.user_id, dup.line, dup.reason) == ("auth0|a", 3, "duplicate_user_id")
    assert "line 1" in dup.detail
    assert plan.report.skipped == {"duplicate_user_id": 1}
    _assert_counts_add_up(plan)


def test_same_user_id_with_changed_email_is_still_one_identity() -> None:
    """A user id seen twice (its email changed between exports) never gives two identities."""
    users = _users(_raw("auth0|a", "old@example.com"), _raw("auth0|a", "new@example.com"))
    plan = plan_migration(users)
    items = list(plan)
    planned = [i for i in items if isinstance(i, PlannedIdentity)]
    assert [i.external_id for i in planned] == ["auth0|a"]
    assert [i.reason for i in items if isinstance(i, Skipped)] == ["duplicate_user_id"]
    _assert_counts_add_up(plan)


def test_same_user_id_without_email_under_a_custom_schema_is_one_identity() -> None:
    """With a schema that needs no email, a repeated user id still gives one identity."""
    options = MappingOptions(
        schema_id="username", traits={"username": "username"}, address_trait=None
    )
    raw = _raw("auth0|u", None, username="just_a_username")
    plan = plan_migration(_users(raw, dict(raw)), options=options)
    planned = [i for i in plan if isinstance(i, PlannedIdentity)]
    assert [i.external_id for i in planned] == ["auth0|u"]


# --- sources -----------------------------------------------------------------------------------


def _source_users() -> list[Auth0User | UnreadableRecord]:
    return [
        *_users(
            _raw("auth0|a", "a@example.com"),
            _raw("github|b", "A@example.com"),
            _raw("auth0|c", "c@example.com", blocked=True),
            _raw("sms|d", None),
        ),
        UnreadableRecord("users", 5, None, "not valid JSON"),
    ]


def _summary(plan: MigrationPlan) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    items = []
    for item in plan:
        if isinstance(item, PlannedIdentity):
            items.append(("identity", item.external_id))
        elif isinstance(item, Skipped):
            items.append((item.reason, item.user_id))
        else:
            items.append(("unreadable", str(item.line)))
    return sorted(items), plan.report.to_dict()


def test_list_callable_and_one_shot_iterator_sources_agree() -> None:
    """A list, a function returning fresh iterators, and a one-shot generator plan the same."""
    calls = 0

    def fresh() -> Iterator[Auth0User | UnreadableRecord]:
        nonlocal calls
        calls += 1
        return iter(_source_users())

    def one_shot() -> Iterator[Auth0User | UnreadableRecord]:
        yield from _source_users()

    from_list = _summary(plan_migration(_source_users()))
    from_callable = _summary(plan_migration(fresh))
    from_generator = _summary(plan_migration(one_shot()))
    from_tuple = _summary(plan_migration(tuple(_source_users())))
    assert from_list == from_callable == from_generator == from_tuple
    assert calls == 2  # the function is called once per pass
    assert from_list[0] == [
        ("identity", "auth0|a"),
        ("identity", "auth0|c"),
        ("merged", "github|b"),
        ("no_email", "sms|d"),
        ("unreadable", "5"),
    ]


def _reader(path: Path) -> Callable[[], Iterator[Auth0User | UnreadableRecord]]:
    """A source that reopens the users file *path* on every pass."""

    def read() -> Iterator[Auth0User | UnreadableRecord]:
        with path.open("rb") as f:
            yield from read_users(f)

    return read


def _hash_index(files: ExportFiles) -> PasswordHashIndex:
    """The index of the export's password-hash file."""
    assert files.password_hashes is not None
    with files.password_hashes.open("rb") as f:
        return index_password_hashes(read_password_hashes(f))


def test_callable_source_over_a_file(tmp_path: Path) -> None:
    """A function reopening the export file is the bounded-memory way to plan."""
    users = auth0_users(60, seed=11, real_hashes=False)
    files = write_export(tmp_path, users, fmt="ndjson.gz")
    plan = plan_migration(_reader(files.users), password_hashes=_hash_index(files))
    items = list(plan)
    assert len(items) == 60
    assert sorted(_keys(items)) == sorted(u.user_id for u in users)
    _assert_counts_add_up(plan)


def _keys(items: list[PlanItem]) -> list[str]:
    keys = []
    for item in items:
        if isinstance(item, PlannedIdentity):
            keys.append(item.external_id)
        elif isinstance(item, Skipped):
            keys.append(item.user_id)
    return keys


def test_a_scan_made_beforehand_plans_the_same_and_reads_the_users_once(tmp_path: Path) -> None:
    """plan_migration(scan=scan_users(...)) gives the same items and report, in one more pass."""
    users = auth0_users(200, seed=5, real_hashes=False)
    files = write_export(tmp_path, users, fmt="ndjson.gz")
    hashes = _hash_index(files)
    opened = 0

    def opener() -> IO[bytes]:
        nonlocal opened
        opened += 1
        return files.users.open("rb")

    source = UsersFile(opener)
    scan = scan_users(source)
    assert scan.users == 200
    assert scan.shared_emails  # the builder's data has shared emails
    assert opened == 1
    with_scan = plan_migration(source, password_hashes=hashes, scan=scan)
    items = [_describe(item) for item in with_scan]
    assert opened == 2
    without = plan_migration(source, password_hashes=hashes)
    assert [_describe(item) for item in without] == items
    assert with_scan.report == without.report
    assert scan.shared_emails == scan_users(source).shared_emails  # the plan did not change it


def _describe(item: PlanItem) -> tuple[Any, ...]:
    if isinstance(item, PlannedIdentity):
        return ("identity", item.external_id, item.body, item.notes)
    if isinstance(item, Skipped):
        return (item.reason, item.user_id, item.detail)
    return ("unreadable", item.line, item.reason)


def test_a_scan_pickles_and_one_from_another_interpreter_is_refused() -> None:
    """A scan survives pickling (a forked child sends it); another process's hash() values don't."""
    scan = scan_users(_source_users())
    assert pickle.loads(pickle.dumps(scan)) == scan  # noqa: S301 - our own bytes
    assert "shared_emails" not in repr(scan)
    foreign = attrs.evolve(scan, hash_check=scan.hash_check + 1)
    with pytest.raises(ValueError, match="another process"):
        plan_migration(_source_users(), scan=foreign)


def test_report_needs_a_complete_iteration() -> None:
    """Reading the report before the plan has been iterated to the end is an error."""
    plan = plan_migration(_source_users())
    with pytest.raises(RuntimeError, match="iterate"):
        _ = plan.report
    iterator = iter(plan)
    next(iterator)
    with pytest.raises(RuntimeError):
        _ = plan.report
    list(iterator)
    assert plan.report.users_read == 4


def test_report_of_a_finished_iteration_stays_readable_during_the_next() -> None:
    """While a plan is iterated again, its report is that of the last complete iteration."""
    plan = plan_migration(lambda: iter(_source_users()))
    list(plan)
    first = plan.report
    again = iter(plan)
    next(again)
    assert plan.report is first
    list(again)
    assert plan.report is not first
    assert plan.report.users_read == first.users_read


def test_plan_can_be_iterated_again() -> None:
    """A plan over a re-readable source gives the same result when iterated twice."""
    plan = plan_migration(lambda: iter(_source_users()))
    first = _summary(plan)
    second = _summary(plan)
    assert first == second


# --- the report --------------------------------------------------------------------------------


def test_report_counts_add_up_on_a_realistic_export(tmp_path: Path) -> None:
    """Users read = identities + merged + skipped, and every other count matches the items."""
    users = auth0_users(300, seed=3, real_hashes=False)
    files = write_export(tmp_path, users, fmt="ndjson")
    assert files.password_hashes is not None
    with files.users.open("rb") as f:
        records = list(read_users(f))
    with files.password_hashes.open("rb") as f:
        hashes = list(read_password_hashes(f))
    plan = plan_migration(records, password_hashes=hashes)
    items = list(plan)
    report = plan.report
    _assert_counts_add_up(plan)
    planned = [i for i in items if isinstance(i, PlannedIdentity)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert report.users_read == len(users)
    assert report.identities == len(planned)
    assert report.merged == sum(1 for s in skipped if s.reason == "merged")
    assert report.merged == sum(len(p.merged_user_ids) for p in planned)
    assert dict(report.skipped) == dict(Counter(s.reason for s in skipped if s.reason != "merged"))
    assert report.with_password_hash == sum(p.password == "hash" for p in planned)
    assert report.with_password_hook == sum(p.password == "hook" for p in planned)
    assert report.without_password == sum(p.password == "none" for p in planned)
    assert report.with_password_hash + report.with_password_hook + report.without_password == (
        report.identities
    )
    assert report.social_logins == sum(p.social_logins for p in planned)
    assert report.blocked == sum(p.body["state"] == "inactive" for p in planned)
    assert report.password_hashes_read == sum(u.hash_record is not None for u in users)
    assert report.with_password_hash > 0
    assert report.social_logins > 0
    assert report.merged + sum(report.skipped.values()) > 0
    assert len(report.users) == len(skipped)
    # Ory's uniqueness rules hold in the plan: one identity per email and per external id.
    emails = [normalize_email(p.body["traits"]["email"]) for p in planned]
    assert len(emails) == len(set(emails))
    assert len({p.external_id for p in planned}) == len(planned)
    summary = format_summary(report)
    assert f"{report.users_read:,}" in summary
    assert f"{report.identities:,}" in summary


def test_report_builders_merged_piece_by_piece_build_the_same_report(tmp_path: Path) -> None:
    """Counts merged at once and lists merged between marks, in order: the report of one builder."""
    files = write_export(tmp_path, auth0_users(120, seed=6, real_hashes=False), fmt="ndjson")
    with files.users.open("rb") as f:
        items = [*plan_migration(list(read_users(f))), UnreadableRecord("users", 9, None, "x")]
    whole = ReportBuilder()
    for item in items:
        whole.add(item)
    pieces = ReportBuilder()
    for start in range(0, len(items), 25):  # e.g. a worker's block, with items in between
        part, marks = ReportBuilder(), [(0, 0, 0)]
        for n, item in enumerate(items[start : start + 25]):
            part.add(item)
            if n % 7 == 0:
                marks.append(part.mark())
        pieces.merge_counts(part)
        for begin, end in itertools.pairwise([*marks, None]):
            assert begin is not None
            pieces.merge_entries(part, begin, end)
    assert pieces.build() == whole.build()
    assert pieces.build().users


def test_report_lists_every_user_not_imported_as_its_own_identity() -> None:
    """Every merged or skipped user is in report.users with its id, line and reason."""
    users = _users(
        _raw("auth0|a", "a@example.com"),
        _raw("github|b", "A@example.com"),
        _raw("sms|c", None),
        _raw("auth0|d", "bad address"),
    )
    plan = plan_migration(users)
    list(plan)
    listed = plan.report.to_dict()["users"]
    assert listed == [
        {
            "auth0_user_id": "github|b",
            "line": 2,
            "outcome": "merged",
            "reason": "merged",
            "detail": listed[0]["detail"],
            "holder": "auth0|a",
        },
        {
            "auth0_user_id": "sms|c",
            "line": 3,
            "outcome": "skipped",
            "reason": "no_email",
            "detail": listed[1]["detail"],
        },
        {
            "auth0_user_id": "auth0|d",
            "line": 4,
            "outcome": "skipped",
            "reason": "invalid_email",
            "detail": listed[2]["detail"],
        },
    ]
    assert all(entry["detail"] for entry in listed)


def test_unreadable_user_records_are_counted_apart() -> None:
    """Unreadable records are not users read; they are counted and listed by line."""
    data = b'{"user_id": "auth0|a", "email": "a@example.com"}\n{oops\n{"email": "x@y.z"}\n'
    plan = plan_migration(list(read_users(io.BytesIO(data))))
    list(plan)
    report = plan.report
    assert report.users_read == 1
    assert report.unreadable == {"users": 2}
    assert [(r.line, r.source) for r in report.unreadable_records] == [(2, "users"), (3, "users")]
    assert "x@y.z" not in json.dumps(report.to_dict())


# --- no secret anywhere ------------------------------------------------------------------------


def _ndjson(records: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode())


def test_no_secret_in_reprs_reports_or_errors(tmp_path: Path) -> None:
    """No hash or TOTP secret appears in any repr, in the report, its summary or an error."""
    rng = random.Random(9)
    users = auth0_users(80, seed=9, real_hashes=False)
    files = write_export(tmp_path, users, fmt="ndjson")
    assert files.password_hashes is not None
    hash_lines = files.password_hashes.read_text().splitlines()
    secrets = [json.loads(line)["passwordHash"] for line in hash_lines]
    # Hashes Ory cannot use (noted, not imported) and a broken hash line.
    bad_hash = "$2b$31$" + "S" * 53
    hash_lines.append(
        json.dumps({"_id": users[0].user_id.partition("|")[2], "passwordHash": bad_hash})
    )
    broken_hash = fake_bcrypt(rng)
    hash_lines.append('{"_id": "x", "passwordHash": "' + broken_hash + '" broken')
    secrets += [bad_hash, broken_hash]
    totp = "JBSWY3DPEHPK3PXP"
    recovery = fake_bcrypt(rng)
    secrets += [totp, recovery]
    mfa = [{"user_id": u.user_id, "type": "otp", "otp_secret": totp} for u in users[:5]] + [
        {"user_id": u.user_id, "type": "recovery-code", "recovery_code": recovery}
        for u in users[:5]
    ]

    plan = plan_migration(
        _reader(files.users),
        password_hashes=read_password_hashes(io.BytesIO("\n".join(hash_lines).encode())),
        mfa_secrets=read_mfa_secrets(_ndjson(mfa)),
    )
    texts = [repr(plan)]
    items = list(plan)
    texts += [repr(item) for item in items] + [str(item) for item in items]
    report = plan.report
    texts += [repr(report), json.dumps(report.to_dict()), format_summary(report)]
    texts += [repr(n) for n in report.notes] + [repr(s) for s in report.users]
    texts += [str(r.to_error()) for r in report.unreadable_records]
    assert any(
        isinstance(i, PlannedIdentity)
        and i.body.get("credentials", {})
        .get("password", {})
        .get("config", {})
        .get("hashed_password")
        for i in items
    )
    for text in texts:
        for secret in secrets:
            assert secret not in text
            assert secret[7:27] not in text
    with pytest.raises(InvalidRecordError) as info:
        list(read_password_hashes(io.BytesIO("\n".join(hash_lines).encode()), strict=True))
    for secret in secrets:
        assert secret not in str(info.value)


def test_merged_identity_takes_a_merged_users_totp_secret() -> None:
    """A merged identity imports the TOTP secret of a merged user when its primary has none."""
    users = _users(
        _raw("auth0|db", "same@example.com"),
        _raw("google-oauth2|1", "Same@Example.com", created="2022-01-01T00:00:00.000Z"),
    )
    mfa = read_mfa_secrets(
        io.BytesIO(
            b'{"user_id": "google-oauth2|1", "type": "otp", "otp_secret": "JBSWY3DPEHPK3PXP"}\n'
        )
    )
    plan = plan_migration(users, mfa_secrets=mfa)
    items = _run(plan)
    planned = items["auth0|db"]
    assert isinstance(planned, PlannedIdentity)
    assert "secret=JBSWY3DPEHPK3PXP" in planned.body["credentials"]["totp"]["config"]["totp_url"]
    assert plan.report.totp == 1


def test_users_file_plans_exactly_like_a_callable(tmp_path: Path) -> None:
    """A UsersFile (fast first pass) gives the same items and report as a plain callable."""
    export = write_export(tmp_path, auth0_users(120, seed=11), fmt="ndjson.gz")
    hashes = _hash_index(export)
    plain = plan_migration(_reader(export.users), password_hashes=hashes)
    fast = plan_migration(UsersFile(lambda: export.users.open("rb")), password_hashes=hashes)
    items_plain, items_fast = list(plain), list(fast)
    assert [repr(i) for i in items_fast] == [repr(i) for i in items_plain]
    assert [getattr(i, "body", None) for i in items_fast] == [
        getattr(i, "body", None) for i in items_plain
    ]
    assert fast.report == plain.report
