"""Benchmark the import into Ory (issue 3).

    nox -s bench -- import     # or: python benchmarks/bench_import.py [N] [LATENCY] [SLICE]

Against the test Ory server (:class:`auth0_ory_migrate.testing.OryAdminServer`, run in its own
process with ``python -m auth0_ory_migrate.testing._ory_admin``, so that client and server each
have a core and do not share a GIL) with a latency of LATENCY seconds (default 0.1: the least
time every request takes, the server's own work included, like a remote service's round trip)
and one import request in flight (Ory Network's limit; a second one would be answered 429):

1. ``import_identities`` on N (default 100,000) identities read from an identities file, with
   a ledger (fsynced after every batch). The bodies come from the real pipeline: a fake Auth0
   export (``auth0_users``, ``write_export``: database users with bcrypt hashes, social,
   linked, passwordless and enterprise users, metadata), read and planned by
   ``plan_migration``; its ~2,300 identities are repeated with distinct emails, external ids
   and social subjects (about 1.2 KB per identity). Reports identities/s and the ratio to the
   ideal, batch size ÷ latency (target >= 0.9). Also: the server's CPU time per 1,000-identity
   request (it must stay well under the latency for the target to be reachable), the client's
   CPU time per request, and the mean request round trip as timed by the sending thread
   (the latency, plus the upload, the answer and any wait for the client's GIL).
2. Ory's reference-script approach: one ``POST /admin/identities`` per user, sequential
   (through the same SDK), on a SLICE-user slice (default 1,000); and the speed-up of the
   batched import.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auth0_ory_migrate import (  # noqa: E402
    Ledger,
    OryAdmin,
    PlannedIdentity,
    PreparedBatch,
    UsersFile,
    dump_identity,
    file_digest,
    import_identities,
    index_password_hashes,
    plan_migration,
    read_identities,
    read_password_hashes,
)
from auth0_ory_migrate.testing import auth0_users, write_export  # noqa: E402


BATCH = 1000
SLICE = 1000
POOL_USERS = 3000
TARGET = 0.9


class _Server:
    """``python -m auth0_ory_migrate.testing._ory_admin`` in a child process."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "auth0_ory_migrate.testing._ory_admin",
                "--latency",
                str(latency),
                "--max-inflight-imports",
                "1",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("the test server did not start")

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _server_startup_cpu() -> float:
    """CPU seconds a test server process takes to start and stop (subtracted below)."""
    before = _children_cpu()
    _Server(0.0).close()
    return _children_cpu() - before


def _pool(workdir: Path) -> list[str]:
    """CreateIdentityBody JSON texts from the real pipeline: a fake Auth0 export, planned.

    Texts, not dicts: the client process should not carry thousands of objects that a real
    ``import`` run does not have (its garbage collector would walk them).
    """
    files = write_export(workdir, auth0_users(POOL_USERS, seed=1, real_hashes=False))
    assert files.password_hashes is not None
    with files.password_hashes.open("rb") as f:
        hashes = index_password_hashes(read_password_hashes(f))
    plan = plan_migration(UsersFile(lambda: files.users.open("rb")), password_hashes=hashes)
    return [json.dumps(item.body) for item in plan if isinstance(item, PlannedIdentity)]


def _variants(pool: list[str], n: int, prefix: str) -> Iterator[dict[str, Any]]:
    """*n* bodies: the pool again and again, each copy with its own emails and ids."""
    for i in range(n):
        tag = f"{prefix}{i // len(pool)}"
        body = json.loads(pool[i % len(pool)].replace("@", f"+{tag}@"))  # every email
        body["external_id"] = f"{body['external_id']}-{tag}"
        auth0 = (body.get("metadata_admin") or {}).get("auth0")
        if isinstance(auth0, dict):
            auth0["user_id"] = body["external_id"]
        for kind in ("oidc", "saml"):
            config = ((body.get("credentials") or {}).get(kind) or {}).get("config") or {}
            for provider in config.get("providers") or ():
                provider["subject"] = f"{provider['subject']}-{tag}"
        yield body


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


def bench_batched(pool: list[str], n: int, latency: float, workdir: Path) -> float:
    path = workdir / "identities.ndjson"
    with path.open("wb") as f:
        size = sum(f.write(dump_identity(body)) for body in _variants(pool, n, "r"))
    startup = _server_startup_cpu()
    cpu_before = _children_cpu()
    server = _Server(latency)
    try:
        ory = _TimedOry(OryAdmin.from_url(server.url).api_client)
        with (
            Ledger.open(workdir / "state", input_digest=file_digest(path)) as ledger,
            path.open("rb") as f,
        ):
            gc.collect()  # start with no garbage from writing the file, like a fresh process
            started, client_before = time.perf_counter(), _own_cpu()
            result = import_identities(read_identities(f), ory, ledger=ledger)
            elapsed, client_cpu = time.perf_counter() - started, _own_cpu() - client_before
    finally:
        server.close()
    server_cpu = _children_cpu() - cpu_before - startup
    assert result.created == n, result
    assert not result.failed, result
    # One request per batch: none answered 429 (one in flight), none retried or split.
    assert result.requests == math.ceil(n / BATCH), result.requests
    rate = n / elapsed
    ideal = BATCH / latency
    ratio = rate / ideal
    print(
        f"batched import: {n:,} identities ({size / n:,.0f} bytes each) in {elapsed:.2f} s "
        f"= {rate:,.0f} identities/s"
    )
    print(
        f"  ideal (batch {BATCH:,} / latency {latency * 1000:.0f} ms) = {ideal:,.0f}/s; "
        f"ratio {ratio:.3f} (target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})"
    )
    print(
        f"  test server: {server_cpu / result.requests * 1000:.1f} ms CPU per "
        f"{BATCH:,}-identity request ({server_cpu:.2f} s in all, its start excluded)"
    )
    print(f"  client: {client_cpu / result.requests * 1000:.1f} ms CPU per request (all threads)")
    print(
        f"  requests took {_TimedOry.round_trips / result.requests * 1000:.1f} ms each as seen "
        f"by the sending thread ({_TimedOry.round_trips / elapsed:.3f} of the time)"
    )
    return rate


def bench_one_by_one(pool: list[str], latency: float, users: int) -> float:
    """Ory's reference script: one create request per user, in sequence."""
    bodies = list(_variants(pool, users, "single"))
    server = _Server(latency)
    try:
        ory = OryAdmin.from_url(server.url)
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
    finally:
        server.close()
    rate = users / elapsed
    print(
        f"one request per user (Ory's reference script), {users:,} users: "
        f"{elapsed:.2f} s = {rate:,.1f} identities/s"
    )
    return rate


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    users = int(sys.argv[3]) if len(sys.argv) > 3 else SLICE
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        pool = _pool(Path(tmp))
        batched = bench_batched(pool, n, latency, Path(tmp))
    single = bench_one_by_one(pool, latency, users)
    print(f"speed-up of the batched import: {batched / single:,.0f}x")


if __name__ == "__main__":
    main()
