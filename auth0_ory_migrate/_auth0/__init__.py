"""Adapters over auth0-python: the export job and the password checker."""
