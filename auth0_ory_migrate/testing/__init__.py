"""Test your own migration code without an Auth0 tenant or an Ory project.

What our own test suite uses, made public: realistic Auth0 data and the files Auth0 delivers,
Hypothesis strategies (:mod:`auth0_ory_migrate.testing.strategies`), an in-memory Ory admin
identity API and an Auth0 tenant on ``127.0.0.1`` (real HTTP: point ``ory-client`` or
``auth0-python`` at them), the same Ory API without HTTP (:class:`InMemoryOryAdmin`, for
:func:`~auth0_ory_migrate.import_identities` with no server and no socket), assertions that
say in plain words what a migration lost, and pytest fixtures (``ory_admin_server``,
``auth0_server``, ``auth0_export``; registered automatically as a pytest plugin)::

    from auth0_ory_migrate import testing

    def test_my_mapping(tmp_path):
        users = testing.auth0_users(n=50, seed=1)  # realistic Auth0 export records
        export = testing.write_export(tmp_path, users, hashes=True)  # files as Auth0 delivers them
        with testing.OryAdminServer() as ory:  # the Ory admin API on 127.0.0.1
            run_my_pipeline(export.users, export.password_hashes, ory_url=ory.url)
            stored = ory.identity_by_external_id(users[0].user_id)
            assert stored.traits["email"] == users[0].email
            testing.assert_migrated(export, ory)  # nothing lost, nothing duplicated

Needs the ``testing`` extra (``pip install "auth0-ory-migrate[testing]"``: bcrypt and
Hypothesis). ``import auth0_ory_migrate`` never imports this package, and this package loads its
parts on first use.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from . import strategies as strategies
    from ._assertions import (
        MigrationChecks,
        MigrationProblem,
        ProblemKind,
        assert_migrated,
        assert_password_migrated,
        migration_problems,
    )
    from ._auth0 import (
        DEFAULT_SERVER_EXPORT_FIELDS,
        PASSWORD_REALM_GRANT,
        Auth0ManagementServer,
        ClientApp,
        Fault,
        PasswordUser,
        TokenRequest,
    )
    from ._authz_graph import AUTHZ_AUDIENCES, AuthzGraph, authz_graph
    from ._bodies import assert_valid_identity_body, unknown_keys
    from ._builders import (
        DATABASE_CONNECTION,
        ENTERPRISE_STRATEGIES,
        TEST_PGP_PASSPHRASE,
        ExportFiles,
        FakeAuth0User,
        HashIdForm,
        LaterTenant,
        PgpKeyPair,
        UserKind,
        auth0_users,
        fake_bcrypt,
        hash_record,
        password_users,
        pgp_encrypt_file,
        pgp_key_pair,
        tenant_a_week_later,
        write_export,
    )
    from ._http import HttpRequest, HttpResponse
    from ._memory import InMemoryOryAdmin
    from ._ory_admin import (
        MAX_BATCH_SIZE,
        MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS,
        MAX_PAGE_SIZE,
        MAX_RELATION_PAGE_SIZE,
        PRESET_EMAIL_SCHEMA,
        OryAdminError,
        OryAdminServer,
        OryFaults,
        RecordedRequest,
        RelationTupleStore,
        StoredIdentity,
        is_supported_password_hash,
        normalize_identifier,
    )
    from ._ory_console import OryConsoleServer

_PARTS = {
    "_assertions": (
        "MigrationChecks",
        "MigrationProblem",
        "ProblemKind",
        "assert_migrated",
        "assert_password_migrated",
        "migration_problems",
    ),
    "_auth0": (
        "DEFAULT_SERVER_EXPORT_FIELDS",
        "PASSWORD_REALM_GRANT",
        "Auth0ManagementServer",
        "ClientApp",
        "Fault",
        "PasswordUser",
        "TokenRequest",
    ),
    "_authz_graph": ("AUTHZ_AUDIENCES", "AuthzGraph", "authz_graph"),
    "_bodies": ("assert_valid_identity_body", "unknown_keys"),
    "_builders": (
        "DATABASE_CONNECTION",
        "ENTERPRISE_STRATEGIES",
        "ExportFiles",
        "FakeAuth0User",
        "TEST_PGP_PASSPHRASE",
        "HashIdForm",
        "LaterTenant",
        "PgpKeyPair",
        "UserKind",
        "auth0_users",
        "fake_bcrypt",
        "hash_record",
        "password_users",
        "pgp_encrypt_file",
        "pgp_key_pair",
        "tenant_a_week_later",
        "write_export",
    ),
    "_http": ("HttpRequest", "HttpResponse"),
    "_memory": ("InMemoryOryAdmin",),
    "_ory_admin": (
        "MAX_BATCH_SIZE",
        "MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS",
        "MAX_PAGE_SIZE",
        "MAX_RELATION_PAGE_SIZE",
        "PRESET_EMAIL_SCHEMA",
        "OryAdminError",
        "OryAdminServer",
        "OryFaults",
        "RecordedRequest",
        "RelationTupleStore",
        "StoredIdentity",
        "is_supported_password_hash",
        "normalize_identifier",
    ),
    "_ory_console": ("OryConsoleServer",),
    "strategies": (),
}
_MODULE_OF = {name: module for module, names in _PARTS.items() for name in names}
_EXTRA = ("bcrypt", "hypothesis")


def _load(module: str) -> Any:
    try:
        return importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as e:
        if e.name not in _EXTRA:
            raise
        msg = (
            f"auth0_ory_migrate.testing needs {e.name!r}: "
            'install the testing extra, pip install "auth0-ory-migrate[testing]"'
        )
        raise ImportError(msg, name=e.name) from e


def __getattr__(name: str) -> Any:
    if name == "strategies":
        value = _load(name)
    else:
        module = _MODULE_OF.get(name)
        if module is None:
            msg = f"module {__name__!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(_load(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "strategies"})


__all__ = [
    "AUTHZ_AUDIENCES",
    "DATABASE_CONNECTION",
    "DEFAULT_SERVER_EXPORT_FIELDS",
    "ENTERPRISE_STRATEGIES",
    "MAX_BATCH_SIZE",
    "MAX_BATCH_SIZE_WITH_PLAINTEXT_PASSWORDS",
    "MAX_PAGE_SIZE",
    "MAX_RELATION_PAGE_SIZE",
    "PASSWORD_REALM_GRANT",
    "PRESET_EMAIL_SCHEMA",
    "TEST_PGP_PASSPHRASE",
    "Auth0ManagementServer",
    "AuthzGraph",
    "ClientApp",
    "ExportFiles",
    "FakeAuth0User",
    "Fault",
    "HashIdForm",
    "HttpRequest",
    "HttpResponse",
    "InMemoryOryAdmin",
    "LaterTenant",
    "MigrationChecks",
    "MigrationProblem",
    "OryAdminError",
    "OryAdminServer",
    "OryConsoleServer",
    "OryFaults",
    "PasswordUser",
    "PgpKeyPair",
    "ProblemKind",
    "RecordedRequest",
    "RelationTupleStore",
    "StoredIdentity",
    "TokenRequest",
    "UserKind",
    "assert_migrated",
    "assert_password_migrated",
    "assert_valid_identity_body",
    "auth0_users",
    "authz_graph",
    "fake_bcrypt",
    "hash_record",
    "is_supported_password_hash",
    "migration_problems",
    "normalize_identifier",
    "password_users",
    "pgp_encrypt_file",
    "pgp_key_pair",
    "tenant_a_week_later",
    "unknown_keys",
    "write_export",
]
