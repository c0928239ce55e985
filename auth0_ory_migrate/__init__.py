"""auth0-ory-migrate: move user accounts from Auth0 to Ory.

The public API is what this module (and :mod:`auth0_ory_migrate.exceptions`,
:mod:`auth0_ory_migrate.typing` and :mod:`auth0_ory_migrate.testing`) exports;
everything under an underscore is private. The pipeline, one pure step at a
time, on the files of ``examples/``::

    from auth0_ory_migrate import (
        UsersFile,
        format_summary,
        index_password_hashes,
        plan_migration,
        read_password_hashes,
        write_identities,
    )

    with open("auth0-password-hashes.json", "rb") as f:
        hashes = index_password_hashes(read_password_hashes(f))

    users = UsersFile(lambda: open("auth0-users.ndjson", "rb"))
    plan = plan_migration(users, password_hashes=hashes)
    for item in plan:  # PlannedIdentity | Skipped | UnreadableRecord
        ...
    print(format_summary(plan.report))

    # The file `auth0-ory-migrate import` reads, made new with mode 0600 (it holds hashes):
    write_identities(plan_migration(users, password_hashes=hashes), "identities.ndjson")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._core._authz import (
    AUTHZ_CLAIMS_JSONNET,
    AUTHZ_FILES,
    AUTHZ_PUBLIC_KEY,
    ORGANIZATION_NAMESPACE,
    ROLE_NAMESPACE,
    Auth0Organization,
    Auth0Role,
    AuthzData,
    OrganizationMapping,
    OrganizationPlan,
    OrgConnection,
    RelationTuple,
    RelationTuples,
    UnmappedMember,
    UnmappedOrganization,
    UserLogins,
    authz_metadata,
    permission_namespaces,
    plan_organizations,
    read_authz,
    relation_tuples,
    role_relation_names,
    with_authz_metadata,
)
from ._core._custom_hashes import HashConversion, convert_custom_password_hash
from ._core._export import (
    EXPORT_FIELDS,
    EXPORT_TIMEOUT,
    ExportJob,
    ExportProgress,
    ExportResult,
    ExportScope,
    PollPolicy,
    export_scope_path,
)
from ._core._formats import UsersFormat, check_users_format, users_export_format
from ._core._hash_join import MIN_HASH_JOIN_SHARE, check_password_hash_join
from ._core._hashes import ory_hash_problem
from ._core._hook import DEFAULT_SECRET_HEADER, Auth0Outcome, HookSettings, ory_hook_config
from ._core._identities import dump_identity, read_identities
from ._core._importing import (
    FoundIdentity,
    ImportOutcome,
    ImportProgress,
    ImportResult,
    UndoTarget,
)
from ._core._mapping import (
    DEFAULT_PROVIDERS,
    DEFAULT_TRAITS,
    EnterpriseProvider,
    IdentityBody,
    MappingOptions,
    Note,
    PlannedIdentity,
    Skipped,
    TraitMapping,
    map_user,
)
from ._core._mfa import MfaIndex, MfaSecret, index_mfa_secrets, read_mfa_secrets, totp_url
from ._core._ory import PreparedBatch, RemoteIdentity
from ._core._outcomes import OUTCOME_COLUMNS, UserOutcome, user_outcome
from ._core._password_hashes import (
    IndexedHash,
    PasswordHashIndex,
    PasswordHashRecord,
    UnusedPasswordHash,
    index_password_hashes,
    read_password_hashes,
)
from ._core._plan import MigrationPlan, PlanItem, UserScan, plan_migration, scan_users
from ._core._records import UnreadableRecord
from ._core._report import MigrationReport, format_summary
from ._core._retry import RetryPolicy
from ._core._schema import (
    DEFAULT_CONSOLE_URL,
    ProjectInfo,
    SchemaApplyResult,
    SchemaSuggestion,
    TraitsProblem,
    TraitsValidator,
    UnknownSchema,
    build_identity_schema,
    ory_patch_identity_config_command,
    suggest_identity_schema,
    trait_mapping_for_schema,
)
from ._core._source import IdentityCounts, SourceMark
from ._core._sync import (
    SYNC_SECTIONS,
    ImportedRecord,
    SeenUsers,
    SyncOp,
    SyncPlan,
    body_fingerprint,
    identity_sections,
    plan_sync,
    section_digests,
    update_request,
)
from ._core._unlink import LinkedIdentity
from ._core._upstream import (
    AUTH0_UPSTREAM_MAPPER,
    auth0_upstream_mapper,
    auth0_upstream_provider,
    ory_patch_oidc_provider_command,
)
from ._core._users import (
    Auth0Identity,
    Auth0User,
    NormalizedEmail,
    UsersFile,
    normalize_email,
    parse_user,
    read_users,
)
from ._core._whole_inputs import check_users_read
from ._runtime._authz_files import AUTHZ_CHECKPOINT_FILE, read_authz_files
from ._runtime._files import check_outputs, open_input, private_file
from ._runtime._ledger import (
    DEFAULT_STATE_DIR,
    ImportedRecords,
    Ledger,
    SeenMarks,
    file_digest,
)
from ._runtime._parallel import plan_from_files, sync_plan_items, write_identities
from ._runtime._pgp import PgpDecryption
from ._runtime._reader import ForkedIdentityReader
from .exceptions import (
    Auth0ApiError,
    Auth0ExportError,
    Auth0OryMigrateError,
    ConfigurationError,
    CustomHashError,
    ExportDownloadError,
    ExportJobFailedError,
    ExportTimeoutError,
    HashJoinError,
    InputFileError,
    InvalidRecordError,
    LedgerError,
    OryConsoleError,
    OryError,
    OutputFileError,
    SchemaError,
)


if TYPE_CHECKING:
    from ._auth0._authz import AUTHZ_SCOPES, Auth0Authz
    from ._auth0._exporter import Auth0Exporter
    from ._auth0._hook import Auth0PasswordChecker, HookServer, make_hook_app, make_hook_server
    from ._ory._admin import OryAdmin
    from ._ory._authz import OryPermissions
    from ._ory._console import OryConsole, apply_identity_schema
    from ._runtime._authz import (
        AUTHZ_LEDGER_FILE,
        AuthzResult,
        OrganizationsResult,
        RelationTupleCheck,
        assign_organization_members,
        create_organizations,
        land_relation_tuples,
        undo_organizations,
        undo_relation_tuples,
        verify_relation_tuples,
    )
    from ._runtime._authz_export import (
        AuthzExportProgress,
        AuthzExportResult,
        AuthzFiles,
        export_authz,
    )
    from ._runtime._engine import (
        CheckResult,
        EmailMismatch,
        UndoResult,
        VerifyResult,
        check_identities,
        import_identities,
        undo_import,
        verify_identities,
    )
    from ._runtime._sync import SyncResult, sync_identities
    from ._runtime._unlink import UnlinkResult, unlink_credential

# The adapters import the Auth0 and Ory SDKs (slow, heavy): they load on first use, so that
# `import auth0_ory_migrate` and the pure core stay light.
_LAZY = {
    "_auth0._exporter": ("Auth0Exporter",),
    "_auth0._authz": ("AUTHZ_SCOPES", "Auth0Authz"),
    "_runtime._authz_export": (
        "AuthzExportProgress",
        "AuthzExportResult",
        "AuthzFiles",
        "export_authz",
    ),
    "_runtime._engine": (
        "CheckResult",
        "EmailMismatch",
        "UndoResult",
        "VerifyResult",
        "check_identities",
        "import_identities",
        "undo_import",
        "verify_identities",
    ),
    "_runtime._sync": ("SyncResult", "sync_identities"),
    "_runtime._authz": (
        "AUTHZ_LEDGER_FILE",
        "AuthzResult",
        "OrganizationsResult",
        "RelationTupleCheck",
        "assign_organization_members",
        "create_organizations",
        "land_relation_tuples",
        "undo_organizations",
        "undo_relation_tuples",
        "verify_relation_tuples",
    ),
    "_runtime._unlink": ("UnlinkResult", "unlink_credential"),
    "_auth0._hook": ("Auth0PasswordChecker", "HookServer", "make_hook_app", "make_hook_server"),
    "_ory._admin": ("OryAdmin",),
    "_ory._authz": ("OryPermissions",),
    "_ory._console": ("OryConsole", "apply_identity_schema"),
}
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY_NAMES.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AUTH0_UPSTREAM_MAPPER",
    "AUTHZ_CHECKPOINT_FILE",
    "AUTHZ_CLAIMS_JSONNET",
    "AUTHZ_FILES",
    "AUTHZ_LEDGER_FILE",
    "AUTHZ_PUBLIC_KEY",
    "AUTHZ_SCOPES",
    "DEFAULT_CONSOLE_URL",
    "DEFAULT_PROVIDERS",
    "DEFAULT_SECRET_HEADER",
    "DEFAULT_STATE_DIR",
    "DEFAULT_TRAITS",
    "EXPORT_FIELDS",
    "EXPORT_TIMEOUT",
    "MIN_HASH_JOIN_SHARE",
    "ORGANIZATION_NAMESPACE",
    "OUTCOME_COLUMNS",
    "ROLE_NAMESPACE",
    "SYNC_SECTIONS",
    "Auth0ApiError",
    "Auth0Authz",
    "Auth0ExportError",
    "Auth0Exporter",
    "Auth0Identity",
    "Auth0Organization",
    "Auth0OryMigrateError",
    "Auth0Outcome",
    "Auth0PasswordChecker",
    "Auth0Role",
    "Auth0User",
    "AuthzData",
    "AuthzExportProgress",
    "AuthzExportResult",
    "AuthzFiles",
    "AuthzResult",
    "CheckResult",
    "ConfigurationError",
    "CustomHashError",
    "EmailMismatch",
    "EnterpriseProvider",
    "ExportDownloadError",
    "ExportJob",
    "ExportJobFailedError",
    "ExportProgress",
    "ExportResult",
    "ExportScope",
    "ExportTimeoutError",
    "ForkedIdentityReader",
    "FoundIdentity",
    "HashConversion",
    "HashJoinError",
    "HookServer",
    "HookSettings",
    "IdentityBody",
    "IdentityCounts",
    "ImportOutcome",
    "ImportProgress",
    "ImportResult",
    "ImportedRecord",
    "ImportedRecords",
    "IndexedHash",
    "InputFileError",
    "InvalidRecordError",
    "Ledger",
    "LedgerError",
    "LinkedIdentity",
    "MappingOptions",
    "MfaIndex",
    "MfaSecret",
    "MigrationPlan",
    "MigrationReport",
    "NormalizedEmail",
    "Note",
    "OrgConnection",
    "OrganizationMapping",
    "OrganizationPlan",
    "OrganizationsResult",
    "OryAdmin",
    "OryConsole",
    "OryConsoleError",
    "OryError",
    "OryPermissions",
    "OutputFileError",
    "PasswordHashIndex",
    "PasswordHashRecord",
    "PgpDecryption",
    "PlanItem",
    "PlannedIdentity",
    "PollPolicy",
    "PreparedBatch",
    "ProjectInfo",
    "RelationTuple",
    "RelationTupleCheck",
    "RelationTuples",
    "RemoteIdentity",
    "RetryPolicy",
    "SchemaApplyResult",
    "SchemaError",
    "SchemaSuggestion",
    "SeenMarks",
    "SeenUsers",
    "Skipped",
    "SourceMark",
    "SyncOp",
    "SyncPlan",
    "SyncResult",
    "TraitMapping",
    "TraitsProblem",
    "TraitsValidator",
    "UndoResult",
    "UndoTarget",
    "UnknownSchema",
    "UnlinkResult",
    "UnmappedMember",
    "UnmappedOrganization",
    "UnreadableRecord",
    "UnusedPasswordHash",
    "UserLogins",
    "UserOutcome",
    "UserScan",
    "UsersFile",
    "UsersFormat",
    "VerifyResult",
    "apply_identity_schema",
    "assign_organization_members",
    "auth0_upstream_mapper",
    "auth0_upstream_provider",
    "authz_metadata",
    "body_fingerprint",
    "build_identity_schema",
    "check_identities",
    "check_outputs",
    "check_password_hash_join",
    "check_users_format",
    "check_users_read",
    "convert_custom_password_hash",
    "create_organizations",
    "dump_identity",
    "export_authz",
    "export_scope_path",
    "file_digest",
    "format_summary",
    "identity_sections",
    "import_identities",
    "index_mfa_secrets",
    "index_password_hashes",
    "land_relation_tuples",
    "make_hook_app",
    "make_hook_server",
    "map_user",
    "normalize_email",
    "open_input",
    "ory_hash_problem",
    "ory_hook_config",
    "ory_patch_identity_config_command",
    "ory_patch_oidc_provider_command",
    "parse_user",
    "permission_namespaces",
    "plan_from_files",
    "plan_migration",
    "plan_organizations",
    "plan_sync",
    "private_file",
    "read_authz",
    "read_authz_files",
    "read_identities",
    "read_mfa_secrets",
    "read_password_hashes",
    "read_users",
    "relation_tuples",
    "role_relation_names",
    "scan_users",
    "section_digests",
    "suggest_identity_schema",
    "sync_identities",
    "sync_plan_items",
    "totp_url",
    "trait_mapping_for_schema",
    "undo_import",
    "undo_organizations",
    "undo_relation_tuples",
    "unlink_credential",
    "update_request",
    "user_outcome",
    "users_export_format",
    "verify_identities",
    "verify_relation_tuples",
    "with_authz_metadata",
    "write_identities",
]
