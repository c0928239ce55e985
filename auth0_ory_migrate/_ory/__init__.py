"""Adapters over ory-client: the identity admin API and the console (project) API."""
