"""Frozen attrs records shared by the pure core."""

from __future__ import annotations

from typing import Literal

from attrs import frozen

from ..exceptions import InvalidRecordError


#: The inputs a record can come from.
Source = Literal[
    "users",
    "password_hashes",
    "mfa_secrets",
    "identities",
    "roles",
    "role_members",
    "organizations",
    "organization_members",
]


@frozen
class UnreadableRecord:
    """A record that could not be used, and why.

    Readers yield these instead of raising (unless asked to be strict), so one
    bad line never stops a run. It holds no raw content that could hold a
    secret: only where the record is and why it was rejected.

    Attributes:
        source: Which input the record comes from.
        line: 1-based line number (for a JSON array: where the object starts).
        user_id: The Auth0 user id, when it could be read.
        reason: Why the record cannot be used.

    .. versionadded:: 0.1.0
    """

    source: Source
    line: int
    user_id: str | None
    reason: str

    def to_error(self) -> InvalidRecordError:
        """The exception strict mode raises for this record."""
        return InvalidRecordError(self.source, self.line, self.user_id, self.reason)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict for reports."""
        return {
            "source": self.source,
            "line": self.line,
            "auth0_user_id": self.user_id,
            "reason": self.reason,
        }
