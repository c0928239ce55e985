"""Benchmark the password-migration hook under a login storm (issue 12).

    nox -s bench -- hook     # or: python benchmarks/bench_hook.py [LOGINS] [LATENCY] [ROUNDS]

(``HOOK_THREADS=64 python benchmarks/bench_hook.py``: the hook with another thread count.)

``auth0-ory-migrate hook serve`` runs in its own process (the real command, waitress with its
default threads and backlog, JSON request log on stderr with ``--log-identifiers``) against the
Auth0 test server (:class:`auth0_ory_migrate.testing.Auth0ManagementServer`, in this process)
answering ``/oauth/token`` after LATENCY seconds (default 0.05). Each of ROUNDS (default 3)
rounds fires LOGINS (default 200) logins at once, from as many threads released together,
each on a new connection, half with the right password and half with a wrong one, every login
a distinct user. Printed and asserted: zero connection errors (refused, reset) and zero wrong
verdicts (200 for a right password, 403 for a wrong one). Printed: logins/s (LOGINS over the
round's wall time), and per login, at p50 / p99 / max:

- ``client``: the round trip seen by the client;
- ``auth0``: Auth0's own time, as the hook timed its call (the log's ``auth0_ms``);
- ``added``: client minus auth0, all the hook adds: waiting for a worker thread (with more
  logins than threads, the queue), the HTTP exchange, and the hook's own work;
- ``hook work``: the hook's own time outside Auth0 (the log's ``latency_ms`` minus
  ``auth0_ms``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from auth0_ory_migrate.testing import Auth0ManagementServer, PasswordUser


REALM = "Username-Password-Authentication"
SECRET = "bench-shared-secret-0123456789abcdef"
PASSWORD = "bench-Password-1!"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def start_hook(auth0: Auth0ManagementServer) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "AUTH0_DOMAIN": auth0.url,
        "AUTH0_CLIENT_ID": "test-client-id",
        "AUTH0_CLIENT_SECRET": "test-client-secret",
        "MIGRATION_HOOK_SECRET": SECRET,
        "HOOK_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "auth0_ory_migrate", "hook", "serve", "--log-identifiers"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if "serving the password-migration hook on" not in line:
        proc.kill()
        raise SystemExit(f"the hook did not start: {line}{proc.stderr.read()}")
    return proc, line.split(" on ", 1)[1].split()[0]


def run_round(url: str, logins: int, round_no: int) -> tuple[dict[str, Any], float]:
    results: dict[str, Any] = {}
    barrier = threading.Barrier(logins)

    def login(i: int) -> None:
        right = i % 2 == 0
        identifier = f"user{i}@example.com"
        body = json.dumps(
            {"identifier": identifier, "password": PASSWORD if right else PASSWORD + "x"}
        ).encode()
        headers = {"X-Migration-Hook-Secret": SECRET, "Connection": "close"}
        barrier.wait()
        started = time.perf_counter()
        try:
            response = requests.post(url, data=body, headers=headers, timeout=120)
            status: Any = response.status_code
        except requests.RequestException as e:
            status = type(e).__name__
        results[identifier] = {
            "right": right,
            "status": status,
            "client_ms": (time.perf_counter() - started) * 1000,
        }

    threads = [threading.Thread(target=login, args=(i,)) for i in range(logins)]
    for thread in threads:
        thread.start()
    wall_start = time.perf_counter()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - wall_start


def main() -> None:
    logins = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    users = [PasswordUser(f"user{i}@example.com", PASSWORD, REALM) for i in range(logins)]
    threads = os.environ.get("HOOK_THREADS", "its default")
    print(
        f"hook benchmark: {rounds} rounds of {logins} concurrent logins, Auth0 latency "
        f"{latency * 1000:.0f} ms, `hook serve` (waitress) with {threads} threads"
    )
    errors = wrong = 0
    client: list[float] = []
    auth0_ms: list[float] = []
    added: list[float] = []
    work: list[float] = []
    rates: list[float] = []
    with Auth0ManagementServer(password_users=users, token_latency=latency) as auth0:
        proc, url = start_hook(auth0)
        log_lines: list[dict[str, Any]] = []

        def read_log() -> None:
            assert proc.stderr is not None
            for raw in proc.stderr:
                if raw.startswith("{"):
                    log_lines.append(json.loads(raw))
                elif raw.strip():
                    print("hook stderr:", raw.rstrip())

        reader = threading.Thread(target=read_log, daemon=True)
        reader.start()
        try:
            for round_no in range(rounds):
                before = len(log_lines)
                results, wall = run_round(url, logins, round_no)
                deadline = time.monotonic() + 10
                while len(log_lines) - before < logins and time.monotonic() < deadline:
                    time.sleep(0.05)
                logged = {x["identifier"]: x for x in log_lines[before:]}
                round_errors = sum(1 for r in results.values() if not isinstance(r["status"], int))
                round_wrong = sum(
                    1
                    for r in results.values()
                    if isinstance(r["status"], int) and r["status"] != (200 if r["right"] else 403)
                )
                errors += round_errors
                wrong += round_wrong
                rates.append(logins / wall)
                for identifier, r in results.items():
                    entry = logged.get(identifier)
                    client.append(r["client_ms"])
                    if entry and entry["auth0_ms"] is not None:
                        auth0_ms.append(entry["auth0_ms"])
                        added.append(r["client_ms"] - entry["auth0_ms"])
                        work.append(entry["latency_ms"] - entry["auth0_ms"])
                print(
                    f"  round {round_no + 1}: {logins / wall:6.0f} logins/s, wall {wall:.2f} s, "
                    f"connection errors {round_errors}, wrong verdicts {round_wrong}"
                )
        finally:
            proc.terminate()
            proc.wait(10)

    def row(name: str, values: list[float]) -> None:
        print(
            f"  {name:<10} p50 {percentile(values, 0.5):7.1f} ms   p99 "
            f"{percentile(values, 0.99):7.1f} ms   max {max(values):7.1f} ms   (n={len(values)})"
        )

    print(
        f"logins/s: median {statistics.median(rates):.0f} (rounds: "
        + ", ".join(f"{r:.0f}" for r in rates)
        + ")"
    )
    row("client", client)
    row("auth0", auth0_ms)
    row("added", added)
    row("hook work", work)
    print(f"connection errors: {errors}   wrong verdicts: {wrong}")
    assert errors == 0, f"{errors} logins got a connection error"
    assert wrong == 0, f"{wrong} logins got a wrong verdict"


if __name__ == "__main__":
    main()
