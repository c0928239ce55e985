"""Benchmark ``sync --dry-run`` on a 1,000,000-user tenant with about 1 % changed (issue 14).

    nox -s bench -- sync     # or: python benchmarks/bench_sync.py [N [ROUNDS]]

Builds, as ``bench_convert`` does, an export of *N* users from chunks of a 10,000-user
template, then "the same tenant a week later" (``testing.tenant_a_week_later`` on the
template: new users, changed and verified emails, blocked, unblocked, new social links,
password resets with and without a new hash, deleted users; about 1 % in all), and the
state directory an import of the first export would have left (the ledger with every user
``created``, the digests of its body and its source, as ``migrate`` records them; made with
the library, not by importing a million identities). Then times, each in a fresh subprocess and in turns:

- the bare loop of ``bench_convert`` (``json.loads`` each line, ``json.dumps`` a small dict)
  on the later export;
- ``auth0-ory-migrate sync --dry-run`` on it, against the Ory test server (reads only: the
  changed users, whose identities it does not hold).

Prints users/s, the ratio sync/bare loop of the best runs (target <= 2.5), its peak RSS
(target <= 512 MB), the plan's counts, and the requests a real sync would send (creates
batched, one update per changed user).
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_convert import BARE_LOOP, CHUNK, _hash_variant, _variant, run  # noqa: E402

from auth0_ory_migrate import (  # noqa: E402
    ExportScope,
    ImportOutcome,
    Ledger,
    MappingOptions,
    PlannedIdentity,
    export_scope_path,
    plan_from_files,
)
from auth0_ory_migrate.testing import (  # noqa: E402
    FakeAuth0User,
    OryAdminServer,
    auth0_users,
    tenant_a_week_later,
)


ROUNDS = 3


def _write(directory: Path, template: list[FakeAuth0User], n: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    users_path = directory / "auth0-users.ndjson.gz"
    hashes_path = directory / "auth0-password-hashes.json"
    count = 0
    with gzip.open(users_path, "wt", compresslevel=1) as users, hashes_path.open("w") as hashes:
        for k, start in enumerate(range(0, n, CHUNK)):
            for user in template[: n - start]:
                users.write(json.dumps(_variant(user.record, k)) + "\n")
                count += 1
                if user.hash_record is not None:
                    hashes.write(json.dumps(_hash_variant(user.hash_record, k)) + "\n")
    scope = ExportScope(connection_id=None, limit=None, job_id="job_bench", users=count)
    export_scope_path(users_path).write_text(scope.to_json())
    return directory


def _chunks(items: Iterator[PlannedIdentity], size: int) -> Iterator[list[PlannedIdentity]]:
    chunk: list[PlannedIdentity] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _state(first: Path, state: Path) -> int:
    """The state directory an import of *first* would leave: every identity created."""
    plan = plan_from_files(
        first / "auth0-users.ndjson.gz",
        password_hashes=first / "auth0-password-hashes.json",
        options=MappingOptions(),
        sources=True,  # (as migrate plans)
    )
    planned = (item for item in plan if isinstance(item, PlannedIdentity))
    n = 0
    with Ledger.open(state, input_digest="bench", input_name="auth0-users.ndjson.gz") as ledger:
        for chunk in _chunks(planned, 10_000):
            outcomes = [ImportOutcome(p.external_id, "created", str(uuid.uuid4())) for p in chunk]
            ledger.record(
                outcomes,
                bodies={p.external_id: p.body for p in chunk},
                sources={p.external_id: p.source for p in chunk if p.source is not None},
            )
            n += len(chunk)
    return n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS
    template = auth0_users(min(CHUNK, n), seed=1, real_hashes=False)
    later = tenant_a_week_later(template, seed=2, real_hashes=False)
    changed = {kind: len(ids) for kind, ids in later.changes.items()}
    with tempfile.TemporaryDirectory() as tmp, OryAdminServer(api_key="bench") as ory:
        root = Path(tmp)
        first = _write(root / "first", template, n)
        second = _write(root / "later", list(later.users), n)
        imported = _state(first, root / "state")
        print(f"{n:,} users; {imported:,} imported; a week later, per 10,000: {changed}")
        users = second / "auth0-users.ndjson.gz"
        sync = [
            sys.executable, "-m", "auth0_ory_migrate", "sync", "--dry-run", "--quiet",
            "--users", str(users), "--password-hashes", str(second / "auth0-password-hashes.json"),
            "--state-dir", str(root / "state"), "--ory-url", ory.url, "--api-key", "bench",
            "--plan-out", str(root / "plan.ndjson"), "--report", str(root / "report.json"),
        ]  # fmt: skip
        bare_times: list[float] = []
        sync_times: list[float] = []
        rss: list[float] = []
        output = ""
        for r in range(rounds):
            bare, _, _, _ = run([sys.executable, "-c", BARE_LOOP, str(users)])
            seconds, peak, _, output = run(sync)
            bare_times.append(bare)
            sync_times.append(seconds)
            rss.append(peak)
            print(f"round {r + 1}: bare loop {bare:6.1f} s, sync --dry-run {seconds:6.1f} s, "
                  f"peak RSS {peak:5.0f} MB")  # fmt: skip
        ratios = [s / b for s, b in zip(sync_times, bare_times, strict=True)]
        best = min(sync_times) / min(bare_times)
        print(output.strip())
        plan = [json.loads(line) for line in (root / "plan.ndjson").read_text().splitlines()]
        creates = sum(1 for p in plan if p["kind"] == "create")
        updates = sum(1 for p in plan if p["kind"] in ("update", "conflict"))
        print(f"bare loop: {min(bare_times):.1f} s, {n / min(bare_times):,.0f} users/s")
        print(f"sync --dry-run: {min(sync_times):.1f} s, {n / min(sync_times):,.0f} users/s")
        met = "met" if best <= 2.5 else "NOT met"
        print(f"ratio sync --dry-run / bare loop: {best:.2f} (target <= 2.5: {met}); "
              f"median of the rounds' ratios: {statistics.median(ratios):.2f}")  # fmt: skip
        print(f"peak RSS: {max(rss):.0f} MB (target <= 512 MB: "
              f"{'met' if max(rss) <= 512 else 'NOT met'})")  # fmt: skip
        print(
            f"a real sync would send: {-(-creates // 1000)} batch request(s) for {creates:,} "
            f"creates, {updates:,} updates (one PUT each, a PATCH when verification changed)"
        )


if __name__ == "__main__":
    main()
