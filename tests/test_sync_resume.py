"""An update left in doubt (sent, no answer recorded) is completed without writing twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina

from auth0_ory_migrate import (
    Ledger,
    OryAdmin,
    PlannedIdentity,
    import_identities,
    plan_sync,
    sync_identities,
)
from auth0_ory_migrate.testing import OryAdminServer


KEY = "ory_pat_resume_0123456789"


@pytest.fixture(autouse=True)
def _fast() -> Iterator[None]:
    """No backoff waits in-process."""
    with stamina.set_testing(True, attempts=10):
        yield


def _body(*, n: int, links: list[dict[str, str]] | None = None) -> dict[str, Any]:
    made: dict[str, Any] = {
        "schema_id": "preset://email",
        "external_id": "auth0|000001",
        "traits": {"email": "ada@example.com"},
        "verifiable_addresses": [
            {"value": "ada@example.com", "verified": True, "via": "email", "status": "completed"}
        ],
        "metadata_public": {"n": n},
    }
    if links:
        made["credentials"] = {"oidc": {"config": {"providers": links}}}
    return made


def test_a_put_in_doubt_sent_again_does_not_add_a_link_twice(
    server: OryAdminServer, tmp_path: Path
) -> None:
    """The PUT went through but something else differs: the PUT sent again has no link Ory has."""
    github = {"provider": "github", "subject": "4242"}
    with OryAdmin.from_url(server.url, KEY) as ory:
        with Ledger.open(tmp_path, input_digest="d") as ledger:
            import_identities([_body(n=1)], ory, ledger=ledger)
        new = _body(n=2, links=[github])
        with Ledger.open_existing(tmp_path) as ledger:
            records = ledger.imported_records()
            identity_id = records["auth0|000001"].identity_id
            assert identity_id is not None
            found = ory.get_identity(identity_id)
            assert found is not None
            remote = {"auth0|000001": found}
            plan = plan_sync(
                records,
                [PlannedIdentity("auth0|000001", 1, new)],
                key=ledger.sync_key(),
                remote=remote,
            )
            (op,) = plan.ops
            assert op.put is not None
            # A run that died after its PUT reached Ory: "sending" recorded, no answer.
            ledger.record_sync(
                [{"sync": op.external_id, "op": op.kind, "status": "sending",
                  "identity_id": identity_id, "fields": list(op.fields), "digests": op.digests}]
            )  # fmt: skip
            ory.update_identity(identity_id, op.put)
            # ... and Ory changed the metadata since: the op is not complete in Ory's eyes.
            ory.patch_identity(
                identity_id, [{"op": "replace", "path": "/metadata_public", "value": {"n": 9}}]
            )
        with Ledger.open_existing(tmp_path) as ledger:
            result = sync_identities(plan, ory, ledger=ledger)
        assert result.failed == ()
        stored = ory.get_identity(identity_id)
    assert stored is not None
    providers = stored["credentials"]["oidc"]["config"]["providers"]
    assert [(p["provider"], p["subject"]) for p in providers] == [("github", "4242")]
    assert stored["metadata_public"] == {"n": 2}
