"""Assertions about a finished migration: nothing lost, nothing duplicated, in plain words.

The expectation is computed with the library's own pure core
(:func:`~auth0_ory_migrate.plan_migration` over the export files, with the caller's
:class:`~auth0_ory_migrate.MappingOptions`) and, for traits, with the caller's own
``expected_traits``, and compared with what an
:class:`~auth0_ory_migrate.testing.OryAdminServer` or
:class:`~auth0_ory_migrate.testing.InMemoryOryAdmin` stored. Problems name the Auth0 user
and what it lost; they never show a password hash or a secret. Every check raises its own
``AssertionError`` (no bare ``assert``: pytest's plugin rewrites this package's asserts and
would print their operands) and hides its frames from pytest's tracebacks.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from attrs import frozen

from auth0_ory_migrate import (
    Auth0User,
    MappingOptions,
    PlannedIdentity,
    Skipped,
    index_mfa_secrets,
    index_password_hashes,
    plan_migration,
    read_mfa_secrets,
    read_password_hashes,
    read_users,
)

from ._builders import ExportFiles, FakeAuth0User
from ._memory import InMemoryOryAdmin
from ._ory_admin import OryAdminServer, StoredIdentity, normalize_identifier


__all__ = [
    "MigrationChecks",
    "MigrationProblem",
    "ProblemKind",
    "assert_migrated",
    "assert_password_migrated",
    "migration_problems",
]

ProblemKind = Literal[
    "missing",
    "duplicate",
    "unexpected",
    "external_id",
    "password",
    "social_login",
    "mfa",
    "verification",
    "state",
    "traits",
    "metadata",
]
"""What a :class:`MigrationProblem` is about.

``missing`` (no identity for a user), ``duplicate`` (a user stands behind more than one
identity, or a merged user has one of its own), ``unexpected`` (an identity the plan does not
call for), ``external_id`` (imported without its Auth0 ``user_id`` as ``external_id``),
``password`` (lost password hash or password), ``social_login``, ``mfa`` (TOTP secret),
``verification`` (verified email addresses), ``state`` (blocked users), ``traits`` and
``metadata``.

.. versionadded:: 0.1.0
"""

_KINDS: frozenset[str] = frozenset(get_args(ProblemKind))


@frozen
class MigrationProblem:
    """One thing a migration lost or got wrong.

    Attributes:
        kind: What it is about (see :data:`ProblemKind`).
        user_id: The Auth0 user concerned (None for an identity no user stands behind).
        message: The problem in plain words, naming the user (never a secret).
        identity_id: The Ory identity concerned, when there is one.

    .. versionadded:: 0.1.0
    """

    kind: ProblemKind
    user_id: str | None
    message: str
    identity_id: str | None = None

    def __str__(self) -> str:
        return self.message


@frozen
class MigrationChecks:
    """What :func:`assert_migrated` checked, so that nothing is checked less than you think.

    Attributes:
        identities: How many identities the export calls for (one per planned user).
        checks: The checks run, in words: ``presence``, ``duplicates``, ``external_id``,
            ``password``, ``social logins``, ``mfa``, ``verification``, ``state``,
            ``traits[email, ...]`` (the traits the plan sets, compared with the plan),
            ``metadata`` and ``expected_traits[...]`` (the traits compared with your own
            expectation), less those ignored.
        note: What was not checked that you may think was (``None``: nothing), e.g. that
            without ``options=`` or ``expected_traits=`` only the default mapping's traits
            were compared.

    ``str()`` gives ``checked 50 identities: presence, ..., traits[email] (note)``.

    .. versionadded:: 0.1.0
    """

    identities: int
    checks: tuple[str, ...]
    note: str | None = None

    def __str__(self) -> str:
        text = f"checked {self.identities} identities: {', '.join(self.checks)}"
        return f"{text} ({self.note})" if self.note else text


# --- the expectation ------------------------------------------------------------------------


def _records(path: Path, reader: Any) -> Iterator[Any]:
    with path.open("rb") as f:
        yield from reader(f)


def _plan(
    export: ExportFiles, options: MappingOptions | None
) -> tuple[list[PlannedIdentity], dict[str, Skipped]]:
    hashes = mfa = None
    if export.password_hashes is not None:
        hashes = index_password_hashes(_records(export.password_hashes, read_password_hashes))
    if export.mfa_secrets is not None:
        mfa = index_mfa_secrets(_records(export.mfa_secrets, read_mfa_secrets))
    plan = plan_migration(
        lambda: _records(export.users, read_users),
        password_hashes=hashes,
        mfa_secrets=mfa,
        options=options,
    )
    planned: list[PlannedIdentity] = []
    skipped: dict[str, Skipped] = {}
    for item in plan:
        if isinstance(item, PlannedIdentity):
            planned.append(item)
        elif isinstance(item, Skipped) and item.reason != "duplicate_user_id":
            skipped.setdefault(item.user_id, item)
    return planned, skipped


# --- comparing one identity -----------------------------------------------------------------


def _lost(expected: Any, actual: Any, path: str) -> list[str]:
    """Where *actual* lacks or changed what *expected* has (objects may gain keys)."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path} is missing" if actual is None else f"{path} differs"]
        found: list[str] = []
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key not in actual:
                found.append(f"{where} is missing")
            else:
                found.extend(_lost(value, actual[key], where))
        return found
    return [] if expected == actual else [f"{path} differs"]


def _config(credentials: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any]:
    config = ((credentials or {}).get(kind) or {}).get("config")
    return config if isinstance(config, Mapping) else {}


def _address(body: Mapping[str, Any]) -> str | None:
    for address in body.get("verifiable_addresses") or ():
        value = address.get("value")
        if isinstance(value, str):
            return value
    return None


def _check_identity(
    planned: PlannedIdentity, stored: StoredIdentity, add: Any, ignore: Collection[str]
) -> None:
    uid, body, sid = planned.external_id, planned.body, stored.id
    credentials = body.get("credentials") or {}

    if "password" not in ignore:
        want = _config(credentials, "password")
        have = _config(stored.credentials, "password")
        if want.get("hashed_password"):
            if stored.hashed_password is None:
                how = (
                    "it was imported with the password-migration hook instead"
                    if stored.uses_password_migration_hook
                    else "the identity has no password hash"
                )
                add("password", uid, f"{uid}: lost its password hash ({how})", sid)
            elif have.get("hashed_password") != want["hashed_password"]:
                add("password", uid, f"{uid}: its password hash was changed on the way", sid)
        elif want.get("use_password_migration_hook") and not (
            stored.hashed_password or stored.uses_password_migration_hook
        ):
            add(
                "password",
                uid,
                f"{uid}: lost its password (neither a hash nor the password-migration hook)",
                sid,
            )

    if "social_login" not in ignore:
        arrived = set(stored.oidc_identifiers)
        for provider in _config(credentials, "oidc").get("providers") or ():
            login = f"{provider['provider']}:{provider['subject']}"
            if login not in arrived:
                add("social_login", uid, f"{uid}: lost its social login {login}", sid)

    if "mfa" not in ignore:
        want_totp = _config(credentials, "totp").get("totp_url")
        have_totp = _config(stored.credentials, "totp").get("totp_url")
        if want_totp and not have_totp:
            add("mfa", uid, f"{uid}: lost its TOTP secret (authenticator app enrolment)", sid)
        elif want_totp and have_totp != want_totp:
            add("mfa", uid, f"{uid}: its TOTP secret was changed on the way", sid)

    if "verification" not in ignore:
        stored_addresses = {
            normalize_identifier(str(a.get("value", ""))): a for a in stored.verifiable_addresses
        }
        for address in body.get("verifiable_addresses") or ():
            value = str(address.get("value"))
            found = stored_addresses.get(normalize_identifier(value))
            verified = address.get("verified") is True
            if found is None:
                what = "verified " if verified else ""
                add("verification", uid, f"{uid}: lost its {what}email address {value}", sid)
            elif verified and found.get("verified") is not True:
                add(
                    "verification",
                    uid,
                    f"{uid}: lost its verification: {value} is verified in Auth0 but not in Ory",
                    sid,
                )
            elif not verified and found.get("verified") is True:
                add(
                    "verification",
                    uid,
                    f"{uid}: {value} is verified in Ory but was never verified in Auth0",
                    sid,
                )

    if "state" not in ignore and body.get("state", "active") != stored.state:
        add(
            "state",
            uid,
            f"{uid}: blocked in Auth0 but {stored.state} in Ory"
            if body.get("state") == "inactive"
            else f"{uid}: active in Auth0 but {stored.state} in Ory",
            sid,
        )

    if "traits" not in ignore:
        lost = _lost(body.get("traits") or {}, stored.traits, "traits")
        if lost:
            add("traits", uid, f"{uid}: lost traits: {', '.join(lost)}", sid)

    if "metadata" not in ignore:
        lost = []
        for key in ("metadata_public", "metadata_admin"):
            if key in body:
                lost.extend(_lost(body[key], getattr(stored, key), key))
        if lost:
            add("metadata", uid, f"{uid}: lost metadata: {', '.join(lost)}", sid)


# --- the whole migration --------------------------------------------------------------------


def _keys_of_planned(planned: PlannedIdentity) -> set[str]:
    body = planned.body
    keys = {f"oidc:{p['provider']}:{p['subject']}" for p in _oidc(body.get("credentials"))}
    address = _address(body)
    if address is not None:
        keys.add(f"address:{normalize_identifier(address)}")
    return keys


def _oidc(credentials: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list(_config(credentials, "oidc").get("providers") or ())


def _keys_of_stored(stored: StoredIdentity) -> set[str]:
    keys = {f"oidc:{login}" for login in stored.oidc_identifiers}
    keys.update(f"address:{i}" for i in stored.password_identifiers)
    keys.update(
        f"address:{normalize_identifier(str(a.get('value', '')))}"
        for a in stored.verifiable_addresses
    )
    return keys


_TraitsExpectation = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
#: What ``expected_traits=`` takes (spelt out in the public signatures).
_ExpectedTraits = _TraitsExpectation | Mapping[str, str] | None


def _expectation(expected_traits: _ExpectedTraits) -> _TraitsExpectation | None:
    """*expected_traits* as a function of the Auth0 record (a map: trait path -> Auth0 field)."""
    if expected_traits is None or callable(expected_traits):
        return expected_traits
    fields = dict(expected_traits)

    def from_fields(record: Mapping[str, Any]) -> Mapping[str, Any]:
        traits: dict[str, Any] = {}
        for path, source in fields.items():
            value: Any = record
            for key in source.split("."):
                value = value.get(key) if isinstance(value, Mapping) else None
            if value is None or value == "":
                continue  # nothing in Auth0: nothing expected
            *parents, leaf = path.split(".")
            node = traits
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        return traits

    return from_fields


def _leaves(value: Any, path: str = "") -> Iterator[str]:
    """Dotted paths of the scalars (and lists) in a JSON object."""
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif path:
        yield path


_CHECK_NAMES: tuple[tuple[str, tuple[ProblemKind, ...]], ...] = (
    ("presence", ("missing", "unexpected")),
    ("duplicates", ("duplicate",)),
    ("external_id", ("external_id",)),
    ("password", ("password",)),
    ("social logins", ("social_login",)),
    ("mfa", ("mfa",)),
    ("verification", ("verification",)),
    ("state", ("state",)),
    ("traits", ("traits",)),
    ("metadata", ("metadata",)),
)


def _checks(
    planned: list[PlannedIdentity],
    *,
    options: MappingOptions | None,
    ignore: Collection[ProblemKind],
    expected_traits: object,
) -> MigrationChecks:
    """What a comparison with these arguments checks, in words, and what it does not."""
    traits = sorted({leaf for p in planned for leaf in _leaves(p.body.get("traits") or {})})
    checks: list[str] = []
    for name, kinds in _CHECK_NAMES:
        if all(kind in ignore for kind in kinds):
            continue
        checks.append(f"traits[{', '.join(traits)}]" if name == "traits" and traits else name)
    if expected_traits is not None and "traits" not in ignore:
        if isinstance(expected_traits, Mapping):
            checks.append(f"expected_traits[{', '.join(sorted(expected_traits))}]")
        else:
            checks.append("expected_traits")
    note = None
    if "traits" in ignore:
        note = "traits not checked (ignored)"
    elif expected_traits is None and options is None:
        note = (
            "traits compared with the library's default mapping only: pass options= (your "
            "pipeline's MappingOptions) or expected_traits= to check the traits you map"
        )
    elif expected_traits is None:
        note = (
            "traits compared with plan_migration under your options, so a wrong mapping in "
            "them is not caught: pass expected_traits= to check traits independently"
        )
    return MigrationChecks(len(planned), tuple(checks), note)


def _problems(
    export: ExportFiles,
    ory: OryAdminServer | InMemoryOryAdmin,
    options: MappingOptions | None,
    ignore: Collection[ProblemKind],
    expected_traits: _ExpectedTraits,
) -> tuple[list[MigrationProblem], list[PlannedIdentity]]:
    """The problems, and the plan they were found against."""
    __tracebackhide__ = True
    unknown = sorted(set(ignore) - _KINDS)
    if unknown:
        msg = f"unknown problem kinds in ignore: {', '.join(unknown)}"
        raise ValueError(msg)
    planned, skipped = _plan(export, options)
    expected = _expectation(expected_traits)
    records: dict[str, Mapping[str, Any]] = {}
    if expected is not None:
        for user in _records(export.users, read_users):
            if isinstance(user, Auth0User):
                records.setdefault(user.user_id, user.raw)
    by_uid = {p.external_id: p for p in planned}
    owner_of: dict[str, str | None] = {}  # identifier key -> planned user id (None: several)
    for p in planned:
        for key in _keys_of_planned(p):
            owner_of[key] = None if key in owner_of else p.external_id

    problems: list[MigrationProblem] = []
    late: list[MigrationProblem] = []

    def add(kind: ProblemKind, uid: str | None, message: str, sid: str | None = None) -> None:
        if kind not in ignore:
            problems.append(MigrationProblem(kind, uid, message, sid))

    by_external: dict[str, StoredIdentity] = {}
    by_identifier: dict[str, list[StoredIdentity]] = {}
    for stored in ory.identities():
        ext = stored.external_id
        if ext is not None and ext in by_uid:
            by_external[ext] = stored
            continue
        if ext is not None and ext in skipped:
            item = skipped[ext]
            if item.holder is not None:
                why = "was merged into" if item.reason == "merged" else "shares its email with"
                message = (
                    f"{ext}: duplicated: it {why} {item.holder}'s identity, yet has an "
                    f"identity of its own ({stored.id})"
                )
                late.append(MigrationProblem("duplicate", ext, message, stored.id))
            else:
                message = (
                    f"{ext}: unexpected identity {stored.id}: the plan skips this user "
                    f"({item.reason}: {item.detail})"
                )
                late.append(MigrationProblem("unexpected", ext, message, stored.id))
            continue
        owners = {owner_of.get(key) for key in _keys_of_stored(stored)} - {None}
        if len(owners) == 1:
            (owner,) = owners
            by_identifier.setdefault(str(owner), []).append(stored)
            continue
        label = f"external_id {ext!r}" if ext is not None else "no external_id"
        late.append(
            MigrationProblem(
                "unexpected",
                None,
                f"unexpected identity {stored.id} ({label}): no user of the export stands "
                "behind it",
                stored.id,
            )
        )

    for p in planned:
        uid = p.external_id
        claims = [by_external[uid]] if uid in by_external else []
        matched = by_identifier.get(uid, [])
        if not claims and not matched:
            address = _address(p.body)
            add("missing", uid, f"{uid}{f' ({address})' if address else ''}: missing from Ory")
            continue
        if not claims:
            stored = matched[0]
            ext = stored.external_id
            how = f"under external_id {ext!r}" if ext is not None else "without external_id"
            add(
                "external_id",
                uid,
                f"{uid}: imported {how} (identity {stored.id} has its email or social login)",
                stored.id,
            )
        everyone = claims + [m for m in matched if m not in claims]
        if len(everyone) > 1:
            ids = ", ".join(s.id for s in everyone)
            add("duplicate", uid, f"{uid}: duplicated: {len(everyone)} identities ({ids})")
        _check_identity(p, everyone[0], add, ignore)
        if expected is not None and "traits" not in ignore:
            want = expected(records.get(uid, {}))
            lost = _lost(want, everyone[0].traits, "traits") if want is not None else []
            if lost:
                message = f"{uid}: traits not as expected_traits says: {', '.join(lost)}"
                add("traits", uid, message, everyone[0].id)

    problems.extend(late_problem for late_problem in late if late_problem.kind not in ignore)
    return problems, planned


def migration_problems(
    export: ExportFiles,
    ory: OryAdminServer | InMemoryOryAdmin,
    *,
    options: MappingOptions | None = None,
    ignore: Collection[ProblemKind] = (),
    expected_traits: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
    | Mapping[str, str]
    | None = None,
) -> list[MigrationProblem]:
    """Everything a migration of *export* into *ory* lost, duplicated or added.

    The expectation is :func:`~auth0_ory_migrate.plan_migration` over the export files (users,
    and the password-hash and MFA-secrets files when present) with *options*: one identity per
    planned user, ``external_id`` = the Auth0 ``user_id``. Every stored identity is matched to
    the plan by its ``external_id`` or, failing that, by its email address or social logins.
    Identities may carry more traits and metadata than planned; nothing planned may be missing.

    The plan is computed with the same *options* as your pipeline, so it cannot see a mapping
    that is wrong in them: *expected_traits* states the traits independently, and each
    identity's traits are checked against it field by field too.

    Args:
        export: The export the migration read (see :class:`ExportFiles`).
        ory: The test server (or :class:`InMemoryOryAdmin`) the migration wrote to.
        options: The mapping rules the migration used (default: the library's defaults).
        ignore: Kinds of problem not to look for (see :data:`ProblemKind`).
        expected_traits: The traits each identity must hold: a function of the Auth0 record
            (as exported) returning them (``None``: no expectation for that user), or a map
            from trait path to Auth0 field (``{"name.first": "given_name"}``; a field the
            record lacks or leaves empty expects nothing). Identities may hold more traits.

    Returns:
        The problems in export order, then identities no user stands behind.

    Raises:
        ValueError: *ignore* names an unknown kind.

    .. versionadded:: 0.1.0
    """
    __tracebackhide__ = True
    return _problems(export, ory, options, ignore, expected_traits)[0]


def assert_migrated(
    export: ExportFiles,
    ory: OryAdminServer | InMemoryOryAdmin,
    *,
    options: MappingOptions | None = None,
    ignore: Collection[ProblemKind] = (),
    expected_traits: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
    | Mapping[str, str]
    | None = None,
) -> MigrationChecks:
    """Assert that *ory* holds exactly what a migration of *export* must produce.

    Fails, listing every problem in plain words, when a user is missing or duplicated, an
    identity stands for no user, or an identity lost its password hash, a social login, its
    TOTP secret, its verification state, its blocked state, traits or metadata, or its traits
    are not what *expected_traits* says. See :func:`migration_problems` for the rules.

    It returns (and a failure ends with) the checks it ran: without *options*, the traits are
    compared with the library's default mapping only (the email), and the returned
    :class:`MigrationChecks` says so; with *options* and no *expected_traits*, that a mapping
    wrong in the options cannot be caught.

    Args:
        export: The export the migration read.
        ory: The test server (or :class:`InMemoryOryAdmin`) the migration wrote to.
        options: The mapping rules the migration used.
        ignore: Kinds of problem not to look for.
        expected_traits: The traits each identity must hold, independently of *options* (see
            :func:`migration_problems`).

    Returns:
        What was checked.

    Raises:
        AssertionError: With one line per problem, and what was checked. It names users,
            identities and fields, never a password, hash or secret.

    Example::

        export = write_export(tmp_path, auth0_users(50, seed=1))
        ory = InMemoryOryAdmin()
        my_pipeline(export.users, export.password_hashes, ory)
        print(assert_migrated(export, ory, expected_traits={"email": "email"}))

    .. versionadded:: 0.1.0
    """
    __tracebackhide__ = True
    problems, planned = _problems(export, ory, options, ignore, expected_traits)
    checks = _checks(planned, options=options, ignore=ignore, expected_traits=expected_traits)
    if problems:
        lines = "\n".join(f"  - {p.message}" for p in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        msg = f"the migration into Ory is not complete ({count}):\n{lines}\n{checks}"
        raise AssertionError(msg)
    return checks


# --- passwords ------------------------------------------------------------------------------


def _unb64(value: str) -> bytes:
    return base64.b64decode(value + "=" * (-len(value) % 4))


def _password_matches(password: str, hashed: str) -> bool | None:
    """Whether *password* matches *hashed* (None: a format this helper cannot check)."""
    __tracebackhide__ = True
    if hashed.startswith(("$2a$", "$2b$", "$2y$")):
        import bcrypt  # noqa: PLC0415 (the testing extra)

        return bool(bcrypt.checkpw(password.encode(), hashed.encode()))
    if hashed.startswith("$pbkdf2-"):
        try:
            algorithm, params, salt, digest = hashed[len("$pbkdf2-") :].split("$")
            settings = dict(p.split("=", 1) for p in params.split(","))
            computed = hashlib.pbkdf2_hmac(
                algorithm, password.encode(), _unb64(salt), int(settings["i"]), int(settings["l"])
            )
            return hmac.compare_digest(computed, _unb64(digest))
        except (ValueError, KeyError, binascii.Error):
            return False
    return None


def assert_password_migrated(
    ory: OryAdminServer | InMemoryOryAdmin, user: FakeAuth0User | str, password: str | None = None
) -> None:
    """Assert that the user's identity holds a password hash that verifies its password.

    Args:
        ory: The test server the migration wrote to.
        user: A generated user (its :attr:`~FakeAuth0User.password` is used), or an Auth0
            ``user_id`` (then give *password*).
        password: The plaintext password, when *user* is a ``user_id``.

    Raises:
        AssertionError: The identity is missing, has no password hash (e.g. it uses the
            password-migration hook), or its hash does not verify the password (the message
            shows neither).
        ValueError: No password is known for the user, or the hash is in a format this helper
            cannot verify (bcrypt and pbkdf2 can be).

    .. versionadded:: 0.1.0
    """
    __tracebackhide__ = True
    uid = user if isinstance(user, str) else user.user_id
    if password is None and not isinstance(user, str):
        password = user.password
    if password is None:
        msg = f"{uid}: no password known to check"
        raise ValueError(msg)
    stored = ory.identity_by_external_id(uid)
    if stored is None:
        msg = f"{uid}: missing from Ory"
        raise AssertionError(msg)
    hashed = stored.hashed_password
    if hashed is None:
        how = (
            " (it uses the password-migration hook)" if stored.uses_password_migration_hook else ""
        )
        msg = f"{uid}: no password hash arrived in identity {stored.id}{how}"
        raise AssertionError(msg)
    matches = _password_matches(password, hashed)
    if matches is None:
        msg = f"{uid}: cannot verify a {hashed.split('$')[1] or 'non-$'} hash"
        raise ValueError(msg)
    if not matches:
        msg = f"{uid}: the password hash in identity {stored.id} does not verify its password"
        raise AssertionError(msg)
