"""The library's exceptions.

Every exception this library raises on purpose derives from
:class:`Auth0OryMigrateError`, so a caller can catch them all with one clause.
Problems with the *input* are also :class:`ValueError` subclasses.

No exception ever carries a password hash, a plaintext password, an API key
or a token: messages name records by line number and Auth0 user id only.
"""

from __future__ import annotations


class Auth0OryMigrateError(Exception):
    """Base class of every error raised by auth0-ory-migrate.

    .. versionadded:: 0.1.0
    """


class InputFileError(Auth0OryMigrateError, ValueError):
    """A whole input file cannot be read (encrypted, wrong kind, not JSON).

    Attributes:
        source: Which input it is (``"users"``, ``"password_hashes"``,
            ``"mfa_secrets"``, ``"identities"``).
        reason: What is wrong and what to do about it.

    .. versionadded:: 0.1.0
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class InvalidRecordError(Auth0OryMigrateError, ValueError):
    """One input record is malformed.

    Raised only in *strict* mode; otherwise the same facts are reported as an
    :class:`~auth0_ory_migrate.UnreadableRecord` and the run goes on.

    Attributes:
        source: Which input the record comes from.
        line: 1-based line number of the record in its file (for a JSON array,
            the line where the object starts).
        user_id: The Auth0 user id, when it could be read.
        reason: Why the record cannot be used.

    .. versionadded:: 0.1.0
    """

    def __init__(self, source: str, line: int, user_id: str | None, reason: str) -> None:
        who = f" ({user_id})" if user_id else ""
        super().__init__(f"{source} line {line}{who}: {reason}")
        self.source = source
        self.line = line
        self.user_id = user_id
        self.reason = reason


class ConfigurationError(Auth0OryMigrateError, ValueError):
    """An option or a combination of options cannot work.

    .. versionadded:: 0.1.0
    """
