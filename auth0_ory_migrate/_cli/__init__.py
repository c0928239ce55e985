"""The ``auth0-ory-migrate`` command line: one composition of the public API."""

from __future__ import annotations

# Importing a command module registers its commands on the group.
from . import convert as convert
from . import export as export
from . import hook as hook
from . import ory as ory
from . import schema as schema
from ._app import cli as main


__all__ = ["main"]
