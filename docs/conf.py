"""Sphinx configuration for the auth0-ory-migrate documentation."""

from __future__ import annotations

from importlib.metadata import version as _version


project = "auth0-ory-migrate"
author = "auth0-ory-migrate developers"
copyright = "2026, auth0-ory-migrate developers"
release = _version("auth0-ory-migrate")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

# No intersphinx: the docs build offline (CI has no network).

html_theme = "furo"
html_title = "auth0-ory-migrate"
