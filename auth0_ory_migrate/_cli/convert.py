"""``auth0-ory-migrate convert`` (placeholder until the core lands)."""
