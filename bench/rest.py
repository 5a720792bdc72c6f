"""
REST latency under concurrency: `python bench/rest.py [--clients 20] [--requests 40]`.

Starts daphne (pinned to CPU 0) on a fresh SQLite or PostgreSQL database, then runs N client
threads (pinned to CPU 1 with the rest of this process), each an editor with its own graphic,
doing the operations the old system had targets for: lock acquire, list, update, create. It
prints p50/p90/p99/max per operation and appends a JSON line to var/bench/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import (
    VAR_BENCH,
    prepare_database,
    running_servers,
    server_env,
)
from stats import percentile

TARGETS_MS = {"lock acquire": 50, "list": 100, "update": 150, "create": 200}


def request(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any, float]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.perf_counter()
    try:
        with opener.open(req, timeout=30) as response:
            payload = json.loads(response.read() or b"null")
            status = response.status
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = body[:200].decode(errors="replace")
        status = error.code
    return status, payload, time.perf_counter() - started


def client(
    base: str,
    token: str,
    requests: int,
    timings: dict[str, list[float]],
    errors: list[str],
    barrier: threading.Barrier,
    interval: float,
) -> None:
    status, graphic, _ = request(
        "POST",
        f"{base}/api/graphics/",
        token,
        {"title": "Bench", "event_name": "Bench", "data": {"background": None, "elements": []}},
    )
    assert status == 201, graphic
    graphic_id, version = graphic["id"], graphic["version"]
    # The first acquire, outside the timings: later ones refresh it and keep its fencing token,
    # which every edit presents.
    status, lock, _ = request("POST", f"{base}/api/graphics/{graphic_id}/lock/", token)
    assert status == 200, lock
    fencing_token = lock["fencing_token"]
    pacing = random.Random(token)
    barrier.wait()
    for number in range(requests):
        for name, method, path, body in (
            ("lock acquire", "POST", f"/api/graphics/{graphic_id}/lock/", None),
            ("list", "GET", "/api/graphics/?page_size=50", None),
            (
                "update",
                "PATCH",
                f"/api/graphics/{graphic_id}/",
                {"version": version, "fencing_token": fencing_token, "title": f"Bench {number}"},
            ),
            (
                "create",
                "POST",
                "/api/graphics/",
                {
                    "title": f"New {number}",
                    "event_name": "Bench",
                    "data": {"background": None, "elements": []},
                },
            ),
        ):
            if interval:
                # Operators do not act in lockstep: each wait is drawn uniformly from
                # [0, 2 x interval] (mean `interval`), so the clients' requests interleave rather
                # than arrive as one burst of N after each shared pause.
                time.sleep(pacing.uniform(0, 2 * interval))
            status, payload, seconds = request(method, base + path, token, body)
            if status >= 300:
                errors.append(f"{name}: {status} {payload}")
                continue
            if name == "update":
                version = payload["version"]
            timings[name].append(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40, help="rounds per client")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="mean seconds each client waits before each request, drawn uniformly from "
        "[0, 2 x interval] (0: back to back)",
    )
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    args.layer, args.server, args.servers = "memory", "daphne", 1
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})

    with tempfile.TemporaryDirectory(prefix="gal-bench-rest-") as tmp:
        workdir = Path(tmp)
        fixture = prepare_database(args, args.clients, workdir, editors=args.clients)
        env = server_env(args, fixture["database_url"])
        timings: dict[str, list[float]] = {name: [] for name in TARGETS_MS}
        errors: list[str] = []
        with running_servers("daphne", 1, env, workdir) as servers:
            log_path = workdir / "daphne-server-0.log"
            base = f"http://127.0.0.1:{servers[0][1]}"
            barrier = threading.Barrier(args.clients)
            threads = [
                threading.Thread(
                    target=client,
                    args=(base, token, args.requests, timings, errors, barrier, args.interval),
                )
                for token in fixture["editor_tokens"]
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            if errors:
                print(log_path.read_text()[-3000:])

    results: dict[str, Any] = {}
    print(
        f"{args.clients} clients x {args.requests} rounds on {args.db}, {elapsed:.1f} s, "
        f"{len(errors)} errors {errors[:3]}"
    )
    print(
        f"{'operation':<14} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'target':>7}"
    )
    for name, values in timings.items():
        values.sort()
        row = {
            "n": len(values),
            "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p90_ms": round(percentile(values, 0.9) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(values[-1] * 1000, 1) if values else None,
            "target_p99_ms": TARGETS_MS[name],
        }
        results[name] = row
        print(
            f"{name:<14} {row['n']:>6} {row['p50_ms']:>8} {row['p90_ms']:>8} "
            f"{row['p99_ms']:>8} {row['max_ms']:>8} {TARGETS_MS[name]:>7}"
        )
    VAR_BENCH.mkdir(parents=True, exist_ok=True)
    with open(VAR_BENCH / "results.jsonl", "a") as out:
        out.write(
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "label": args.label,
                    "kind": "rest",
                    "db": args.db,
                    "clients": args.clients,
                    "errors": len(errors),
                    "results": results,
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
