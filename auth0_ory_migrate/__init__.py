"""auth0-ory-migrate: move user accounts from Auth0 to Ory.

The public API is what this module exports; everything in underscore modules
is private. The pipeline, one pure step at a time::

    from auth0_ory_migrate import read_users, read_password_hashes, plan_migration

    with open("hashes.json", "rb") as f:
        hashes = index_password_hashes(read_password_hashes(f))

    def users():
        with open("auth0-users.ndjson.gz", "rb") as f:
            yield from read_users(f)

    plan = plan_migration(users, password_hashes=hashes)
    for item in plan:            # PlannedIdentity | Skipped | UnreadableRecord
        ...
    print(format_summary(plan.report))
"""

from __future__ import annotations

from ._errors import (
    Auth0OryMigrateError,
    ConfigurationError,
    InputFileError,
    InvalidRecordError,
)
from ._hashes import HashFormatError, ory_hash_problem
from ._identities import dump_identity, read_identities
from ._mapping import (
    DEFAULT_PROVIDERS,
    DEFAULT_TRAITS,
    IdentityBody,
    MappingOptions,
    Note,
    PlannedIdentity,
    Skipped,
    TraitMapping,
    map_user,
)
from ._mfa import MfaIndex, MfaSecret, index_mfa_secrets, read_mfa_secrets, totp_url
from ._password_hashes import (
    PasswordHashIndex,
    PasswordHashRecord,
    index_password_hashes,
    read_password_hashes,
)
from ._plan import MigrationPlan, PlanItem, plan_migration
from ._records import UnreadableRecord
from ._report import MigrationReport, format_summary
from ._users import (
    Auth0Identity,
    Auth0User,
    NormalizedEmail,
    normalize_email,
    parse_user,
    read_users,
)


__all__ = [
    "DEFAULT_PROVIDERS",
    "DEFAULT_TRAITS",
    "Auth0Identity",
    "Auth0OryMigrateError",
    "Auth0User",
    "ConfigurationError",
    "HashFormatError",
    "IdentityBody",
    "InputFileError",
    "InvalidRecordError",
    "MappingOptions",
    "MfaIndex",
    "MfaSecret",
    "MigrationPlan",
    "MigrationReport",
    "NormalizedEmail",
    "Note",
    "PasswordHashIndex",
    "PasswordHashRecord",
    "PlanItem",
    "PlannedIdentity",
    "Skipped",
    "TraitMapping",
    "UnreadableRecord",
    "dump_identity",
    "format_summary",
    "index_mfa_secrets",
    "index_password_hashes",
    "map_user",
    "normalize_email",
    "ory_hash_problem",
    "parse_user",
    "plan_migration",
    "read_identities",
    "read_mfa_secrets",
    "read_password_hashes",
    "read_users",
    "totp_url",
]
