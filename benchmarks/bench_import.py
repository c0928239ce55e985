"""Benchmark the import into Ory (issue 3).

    nox -s bench -- import            # or: python benchmarks/bench_import.py [N] [LATENCY]

Against the test Ory server (``tests/servers/ory_admin.py``, run in its own process so its
work does not compete with the client for the GIL) with LATENCY seconds (default 0.1) added
to every request and one import request in flight (Ory Network's limit):

1. ``import_identities`` on N (default 100,000) realistic identities (a bcrypt hash,
   addresses, Auth0 metadata; about 800 bytes each) read from an identities file, with a
   ledger (fsynced after every batch). Reports identities/s and the ratio to the ideal,
   batch size ÷ latency (target >= 0.9). Because the test server also spends CPU time on
   every identity (validation, copies), it also reports the ratio to what the server
   allowed: the sum of the request round trips, as timed by the sending thread. That ratio
   shows what the client adds between requests.
2. Ory's reference-script approach: one ``POST /admin/identities`` per user, sequential
   (through the same SDK), on a 1,000-user slice; and the speed-up of the batched import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auth0_ory_migrate._engine import import_identities  # noqa: E402
from auth0_ory_migrate._identities import read_identities  # noqa: E402
from auth0_ory_migrate._ledger import Ledger, file_digest  # noqa: E402
from auth0_ory_migrate._ory import OryAdmin, PreparedBatch  # noqa: E402


BATCH = 1000
SLICE = 1000

SERVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from auth0_ory_migrate.testing import OryAdminServer, OryFaults
server = OryAdminServer(max_inflight_imports=1, faults=OryFaults(latency=float(sys.argv[2])))
server.start()
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""

TEMPLATE: dict[str, Any] = {
    "schema_id": "preset://email",
    "external_id": "auth0|60425dc43519d90068f82973",
    "traits": {"email": "ada@example.com"},
    "state": "active",
    "verifiable_addresses": [
        {"value": "ada@example.com", "verified": True, "via": "email", "status": "completed"}
    ],
    "recovery_addresses": [{"value": "ada@example.com", "via": "email"}],
    "metadata_public": {"locale": "en"},
    "metadata_admin": {
        "auth0": {
            "user_id": "auth0|60425dc43519d90068f82973",
            "email": "ada@example.com",
            "email_verified": True,
            "created_at": "2021-03-05T16:35:16.775Z",
            "updated_at": "2024-06-01T10:00:00.000Z",
            "logins_count": 3,
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "nickname": "ada",
            "picture": "https://s.gravatar.com/avatar/ada.png",
            "last_login": "2024-05-30T08:00:00.000Z",
            "last_ip": "192.0.2.10",
            "identities": [
                {
                    "provider": "auth0",
                    "user_id": "60425dc43519d90068f82973",
                    "connection": "Username-Password-Authentication",
                    "isSocial": False,
                }
            ],
            "app_metadata": {"roles": ["admin"], "plan": "pro"},
        }
    },
    "credentials": {
        "password": {
            "config": {
                "hashed_password": "$2b$10$0nfDrwOT.zJxjGWJfOhkxuaXk.OResX5NSyIrYnT5bstE7rgvTngq"
            }
        }
    },
}


def _body(i: int, prefix: str) -> dict[str, Any]:
    email = f"{prefix}{i}@example.com"
    user_id = f"auth0|{prefix}{i:019x}"
    body: dict[str, Any] = json.loads(json.dumps(TEMPLATE))
    body["external_id"] = user_id
    body["traits"] = {"email": email}
    body["verifiable_addresses"][0]["value"] = email
    body["recovery_addresses"][0]["value"] = email
    body["metadata_admin"]["auth0"].update(user_id=user_id, email=email)
    return body


class _Server:
    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(ROOT), str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class _TimedOry(OryAdmin):
    """Records how long each batch request took, as seen by the sending thread."""

    round_trips: float = 0.0
    _lock = threading.Lock()

    def send_batch(self, batch: PreparedBatch) -> Any:
        started = time.perf_counter()
        try:
            return super().send_batch(batch)
        finally:
            with self._lock:
                type(self).round_trips += time.perf_counter() - started


def bench_batched(url: str, n: int, latency: float, workdir: Path) -> float:
    path = workdir / "identities.ndjson"
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps(_body(i, "bench"), separators=(",", ":")) + "\n")
    base = OryAdmin.from_url(url)
    ory = _TimedOry(base.api_client)
    with (
        Ledger.open(workdir / "state", input_digest=file_digest(path)) as ledger,
        path.open("rb") as f,
    ):
        started = time.perf_counter()
        result = import_identities(read_identities(f), ory, ledger=ledger)
        elapsed = time.perf_counter() - started
    assert result.created == n, result
    assert not result.failed, result
    rate = n / elapsed
    ideal = BATCH / latency
    print(f"batched import: {n:,} identities in {elapsed:.2f} s = {rate:,.0f} identities/s")
    print(
        f"  ideal (batch {BATCH} / latency {latency * 1000:.0f} ms) = {ideal:,.0f}/s; "
        f"ratio {rate / ideal:.3f} (target >= 0.9)"
    )
    print(
        f"  server-bound: requests took {_TimedOry.round_trips:.2f} s in all "
        f"({_TimedOry.round_trips / result.requests * 1000:.0f} ms each: latency + the test "
        f"server's own work); ratio to that {_TimedOry.round_trips / elapsed:.3f}"
    )
    return rate


def bench_one_by_one(url: str, latency: float) -> float:
    """Ory's reference script: one create request per user, in sequence."""
    ory = OryAdmin.from_url(url)
    bodies = [_body(i, "single") for i in range(SLICE)]
    started = time.perf_counter()
    for body in bodies:
        method, path, headers, _, _ = ory.api_client.param_serialize(
            method="POST",
            resource_path="/admin/identities",
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body,
            auth_settings=["oryAccessToken"],
        )
        response = ory.api_client.call_api(method, path, header_params=headers, body=body)
        response.read()  # type: ignore[no-untyped-call]
        assert response.status == 201, response.status
    elapsed = time.perf_counter() - started
    rate = SLICE / elapsed
    print(
        f"one request per user (Ory's reference script), {SLICE:,} users: "
        f"{elapsed:.2f} s = {rate:,.1f} identities/s"
    )
    return rate


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    server = _Server(latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            batched = bench_batched(server.url, n, latency, Path(tmp))
        single = bench_one_by_one(server.url, latency)
    finally:
        server.close()
    print(f"speed-up of the batched import: {batched / single:,.0f}x")


if __name__ == "__main__":
    main()
