"""The ``auth0-ory-migrate`` command line: one composition of the public API.

Each command lives in its own module, imported when the command is used (see ``_app``).
"""

from __future__ import annotations

from ._app import cli as main


__all__ = ["main"]
