"""auth0-ory-migrate: move user accounts from Auth0 to Ory."""

from __future__ import annotations

from ._errors import (
    Auth0OryMigrateError,
    ConfigurationError,
    InputFileError,
    InvalidRecordError,
)
from ._records import UnreadableRecord


__all__ = [
    "Auth0OryMigrateError",
    "ConfigurationError",
    "InputFileError",
    "InvalidRecordError",
    "UnreadableRecord",
]
