"""Benchmark ``convert`` on a realistic 1,000,000-user export (issue 2).

    nox -s bench -- convert     # or: python benchmarks/bench_convert.py [N [ROUNDS]]

Generates the export (gzipped NDJSON) and a password-hash file for most
database users, then times, each in a fresh subprocess and in turns (3 rounds
by default):

- a bare loop that only ``json.loads`` each line and ``json.dumps`` a small dict;
- ``auth0-ory-migrate convert`` on the same files.

Prints every round, then users/s and the ratio convert/bare loop (target <= 2.5)
of the best run of each (as ``timeit`` does: a busy machine only ever adds
time), the median of the rounds' ratios, and convert's memory against the
512 MB target, the largest of the rounds, two ways: the peak RSS of its largest
process (``getrusage``) and the peak total PSS of all its processes (the forked
workers share the password-hash index; PSS counts each shared page once).
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auth0_ory_migrate.testing import auth0_users  # noqa: E402


CHUNK = 10_000
ROUNDS = 3

BARE_LOOP = """
import gzip, json, sys
n = 0
with gzip.open(sys.argv[1], "rb") as f:
    for line in f:
        record = json.loads(line)
        json.dumps({"id": record.get("user_id"), "n": n})
        n += 1
print(n)
"""


def _variant(record: dict[str, Any], k: int) -> dict[str, Any]:
    """A copy of a template record with ids and emails made unique for chunk *k*."""
    record = dict(record)
    record["user_id"] = f"{record['user_id']}{k:05x}"
    if "email" in record:
        record["email"] = record["email"].replace("@", f"+{k}@")
    if "identities" in record:
        record["identities"] = [
            {**i, "user_id": f"{i['user_id']}{k:05x}"} for i in record["identities"]
        ]
    return record


def _hash_variant(record: dict[str, Any], k: int) -> dict[str, Any]:
    record = dict(record)
    for key in ("_id", "_ID"):
        if key in record:
            value = record[key]
            record[key] = (
                {"$oid": f"{value['$oid']}{k:05x}"}
                if isinstance(value, dict)
                else f"{value}{k:05x}"
            )
    if "email" in record:
        record["email"] = record["email"].replace("@", f"+{k}@")
    return record


def generate(directory: Path, n: int) -> tuple[Path, Path]:
    """Write *n* users (chunks of a 10,000-user template with unique ids) and their hashes."""
    template = auth0_users(min(CHUNK, n), seed=1, real_hashes=False)
    users_path = directory / "auth0-users.ndjson.gz"
    hashes_path = directory / "auth0-password-hashes.json"
    with gzip.open(users_path, "wt", compresslevel=1) as users, hashes_path.open("w") as hashes:
        for k, start in enumerate(range(0, n, CHUNK)):
            for user in template[: n - start]:
                users.write(json.dumps(_variant(user.record, k)) + "\n")
                if user.hash_record is not None:
                    hashes.write(json.dumps(_hash_variant(user.hash_record, k)) + "\n")
    return users_path, hashes_path


def run(argv: list[str]) -> tuple[float, float, float, str]:
    """Run *argv*; return wall seconds, peak RSS and peak total PSS in MB, and stdout.

    Peak RSS is that of the largest process (``getrusage``); the total PSS adds up
    every process of the tree (pages shared by forked workers counted once),
    sampled four times a second from ``/proc`` (Linux; 0 elsewhere).
    """
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(dt, rss, p.returncode)\n"
        "sys.stderr.write(p.stdout + p.stderr)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        peak_pss = 0.0
        while proc.poll() is None:
            peak_pss = max(peak_pss, _tree_pss_mb(proc.pid))
            time.sleep(0.25)
        stdout, stderr = proc.communicate()
    seconds, rss, returncode = stdout.split()
    if returncode != "0":
        raise SystemExit(f"{argv[0]} failed:\n{stderr}")
    return float(seconds), float(rss), peak_pss, stderr


def _tree_pss_mb(root: int) -> float:
    """The summed PSS of *root*'s descendants, in MB (0 where /proc cannot tell)."""
    total, todo = 0, _children(root)
    while todo:
        pid = todo.pop()
        todo.extend(_children(pid))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        t = time.perf_counter()
        users_path, hashes_path = generate(directory, n)
        print(f"generated {n:,} users in {time.perf_counter() - t:.0f} s "
              f"({users_path.stat().st_size / 1e6:.0f} MB gzipped, "
              f"{hashes_path.stat().st_size / 1e6:.0f} MB of hashes)")  # fmt: skip
        os.sync()

        bare_runs, convert_runs, rss_runs, pss_runs = [], [], [], []
        output = ""
        for k in range(rounds):  # alternate, so that a slow spell of the machine hits both
            bare_s, _, _, _ = run([sys.executable, "-c", BARE_LOOP, str(users_path)])
            convert_s, convert_rss, convert_pss, output = run(
                [
                    sys.executable, "-m", "auth0_ory_migrate", "convert",
                    "--users", str(users_path), "--password-hashes", str(hashes_path),
                    "--out", str(directory / "identities.ndjson"),
                    "--report", str(directory / "report.json"),
                ]
            )  # fmt: skip
            bare_runs.append(bare_s)
            convert_runs.append(convert_s)
            rss_runs.append(convert_rss)
            pss_runs.append(convert_pss)
            print(f"round {k + 1}: bare loop {bare_s:.1f} s, convert {convert_s:.1f} s, "
                  f"ratio {convert_s / bare_s:.2f}, peak RSS {convert_rss:.0f} MB, "
                  f"peak total PSS {convert_pss:.0f} MB", flush=True)  # fmt: skip
        try:
            import orjson  # noqa: F401

            fast = "orjson installed"
        except ImportError:
            fast = "stdlib json"
        bare_s, convert_s, convert_rss = min(bare_runs), min(convert_runs), max(rss_runs)
        ratio = convert_s / bare_s
        median = statistics.median(c / b for c, b in zip(convert_runs, bare_runs, strict=True))
        print(output.strip())
        print()
        print(f"best of {rounds} rounds (the machine's noise only ever adds time):")
        print(f"bare loop (json.loads + json.dumps): {bare_s:7.1f} s  {n / bare_s:10,.0f} users/s")
        print(
            f"convert ({fast}):{' ' * (19 - len(fast))}{convert_s:7.1f} s  {n / convert_s:10,.0f} users/s"
        )
        print(
            f"ratio convert / bare loop: {ratio:.2f}   (target <= 2.5: {'met' if ratio <= 2.5 else 'NOT met'})"
            f"; median of the rounds' ratios: {median:.2f}"
        )
        print(
            f"convert peak RSS: {convert_rss:.0f} MB   (target <= 512 MB: {'met' if convert_rss <= 512 else 'NOT met'})"
        )
        convert_pss = max(pss_runs)
        print(
            f"convert peak total PSS, all its processes: {convert_pss:.0f} MB "
            f"(target <= 512 MB: {'met' if convert_pss <= 512 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
