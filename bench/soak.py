"""
`make soak`: several hundred WebSocket clients through reconnect storms, counting every event.

Starts SERVERS daphne processes sharing PostgreSQL and Redis (as in production), one graphic,
one editor changing it over REST at RATE changes per second, and CLIENTS subscribers (one user
each). During DURATION seconds:

- every client drops its connection abruptly at random (a lifetime drawn from
  [MIN_LIFE, MAX_LIFE] seconds), reconnects after a short random backoff to a random server, and
  resubscribes with the `last_seq` it had seen, as the browser client does;
- every RESTART_EVERY seconds one server process is killed (SIGKILL: no close frames) and
  started again on the same port; its clients reconnect to the others.

Then the editor stops, every client catches up, and the soak compares what each client received
with the event log: every event after the client's first snapshot must have arrived exactly once
and in order (a resume that falls back to a snapshot, `recovered: false`, covers the events
before it and is counted separately). It prints loss, duplicates, reconnects and resumes, and
appends a JSON line to var/bench/results.jsonl. Exit status 1 if anything was lost or duplicated.

    python bench/soak.py                           # 300 clients, 3 minutes, 2 servers
    python bench/soak.py --clients 500 --duration 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import (
    POSTGRES_URL,
    ROOT,
    VAR_BENCH,
    daphne_command,
    free_port,
    prepare_database,
    server_env,
    wait_for_port,
)

# How long the end of the soak waits for every client to reach the last event.
CATCH_UP_SECONDS = 30


class ServerProcess:
    """One daphne process that the soak can kill and start again on the same port."""

    def __init__(self, index: int, env: dict[str, str], workdir: Path):
        self.index = index
        self.env = env
        self.port = free_port()
        self.log = workdir / f"soak-server-{index}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log_file:
            self.process = subprocess.Popen(
                daphne_command(self.port),
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, self.process, self.log)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


class SubscribeRefused(Exception):
    """The server answered the subscribe with an error: reconnect and try again."""


@dataclass
class ClientStats:
    baseline: int | None = None  # the seq of the first snapshot
    last_seq: int = 0
    received: list[int] = field(default_factory=list)
    # (from, to): seqs in (from, to] were covered by a snapshot rather than replayed.
    snapshot_ranges: list[tuple[int, int]] = field(default_factory=list)
    connects: int = 0
    resumes_recovered: int = 0
    resumes_snapshot: int = 0
    refused: int = 0
    out_of_order: int = 0


async def run_client(
    index: int,
    token: str,
    graphic_id: int,
    servers: list[ServerProcess],
    stats: ClientStats,
    args: argparse.Namespace,
    stop_churn: asyncio.Event,
    finished: asyncio.Event,
    rng: random.Random,
) -> None:
    while not finished.is_set():
        server = rng.choice(servers)
        lifetime = rng.uniform(args.min_life, args.max_life)
        try:
            async with connect(
                f"ws://127.0.0.1:{server.port}/ws/graphics?token={token}",
                proxy=None,
                open_timeout=10,
                max_size=None,
            ) as ws:
                stats.connects += 1
                request: dict[str, Any] = {"graphic_id": graphic_id}
                if stats.baseline is not None:
                    request["last_seq"] = stats.last_seq
                await ws.send(json.dumps({"type": "subscribe", "data": request, "request_id": "s"}))
                deadline = time.monotonic() + lifetime
                while not finished.is_set():
                    timeout = 1.0 if stop_churn.is_set() else max(0.01, deadline - time.monotonic())
                    try:
                        text = await asyncio.wait_for(ws.recv(), timeout)
                    except TimeoutError:
                        if stop_churn.is_set():
                            continue
                        # Drop abruptly, as a lost network does: no close handshake.
                        ws.transport.abort()
                        break
                    frame = json.loads(text)
                    if frame.get("type") == "heartbeat":
                        # Answer the server's heartbeat, or it closes us as idle.
                        await ws.send(json.dumps({"type": "ping"}))
                    handle_frame(frame, stats, graphic_id)
        except (
            OSError, ConnectionClosed, InvalidHandshake, InvalidStatus, TimeoutError,
            SubscribeRefused,
        ):  # fmt: skip
            stats.refused += 1
        if not finished.is_set():
            await asyncio.sleep(rng.uniform(0.05, 1.0))


def handle_frame(frame: dict[str, Any], stats: ClientStats, graphic_id: int) -> None:
    kind = frame.get("type")
    if kind == "ack" and frame.get("request_id") == "s":
        data = frame["data"]
        if stats.baseline is None:
            stats.baseline = stats.last_seq = int(data["seq"])
        elif data.get("recovered"):
            stats.resumes_recovered += 1
        else:
            stats.resumes_snapshot += 1
            stats.snapshot_ranges.append((stats.last_seq, int(data["seq"])))
            stats.last_seq = max(stats.last_seq, int(data["seq"]))
    elif kind == "error" and frame.get("request_id") == "s":
        raise SubscribeRefused(frame["data"])
    elif frame.get("subscription") == graphic_id and "seq" in frame.get("data", {}):
        seq = int(frame["data"]["seq"])
        stats.received.append(seq)
        if seq <= stats.last_seq:
            stats.out_of_order += 1
        stats.last_seq = max(stats.last_seq, seq)


def rest(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def run_editor(
    graphic_id: int,
    token: str,
    servers: list[ServerProcess],
    rate: float,
    stop: asyncio.Event,
    counts: dict[str, int],
) -> None:
    """Changes the graphic's title over REST, RATE times a second, through any live server."""
    version: int | None = None
    fencing_token: int | None = None
    number = 0
    while not stop.is_set():
        time.sleep(1 / rate)
        base = f"http://127.0.0.1:{random.choice(servers).port}"
        try:
            if version is None:
                status, body = rest("POST", f"{base}/api/graphics/{graphic_id}/lock/", token)
                if status != 200:
                    counts["editor_errors"] += 1
                    continue
                fencing_token = body["fencing_token"]
                status, body = rest("GET", f"{base}/api/graphics/{graphic_id}/", token)
                version = body["version"]
            number += 1
            status, body = rest(
                "PATCH",
                f"{base}/api/graphics/{graphic_id}/",
                token,
                {"version": version, "fencing_token": fencing_token, "title": f"Soak {number}"},
            )
            if status == 200:
                version = body["version"]
                counts["changes"] += 1
            else:
                version = None
                counts["editor_errors"] += 1
        except (OSError, ValueError, KeyError, TypeError):
            # A killed server: try another one next time.
            version = None
            counts["editor_errors"] += 1


def logged_seqs(database_url: str, graphic_id: int) -> list[int]:
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT id FROM realtime_event WHERE graphic_id = %s ORDER BY id", [graphic_id]
        ).fetchall()
    return [row[0] for row in rows]


async def soak(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    args.layer = "redis"
    fixture = prepare_database(args, args.clients, workdir)
    env = server_env(args, fixture["database_url"])
    # The soak opens and drops far more connections than a show; the per-user limit does not
    # apply (one user per client) but the flood limits must not see the resubscribes as abuse.
    env.setdefault("LOG_LEVEL", "WARNING")
    servers = [ServerProcess(index, env, workdir) for index in range(args.servers)]
    for server in servers:
        server.start()
    graphic_id = fixture["graphic_id"]
    stats = [ClientStats() for _ in fixture["viewer_tokens"]]
    stop_churn, finished, stop_editor = asyncio.Event(), asyncio.Event(), asyncio.Event()
    counts = {"changes": 0, "editor_errors": 0, "server_kills": 0}
    loop = asyncio.get_running_loop()
    rng = random.Random(args.seed)
    try:
        tasks = [
            asyncio.create_task(
                run_client(
                    index,
                    token,
                    graphic_id,
                    servers,
                    stats[index],
                    args,
                    stop_churn,
                    finished,
                    random.Random(rng.random()),
                )
            )
            for index, token in enumerate(fixture["viewer_tokens"])
        ]
        editor = loop.run_in_executor(
            None,
            run_editor,
            graphic_id,
            fixture["editor_token"],
            servers,
            args.rate,
            stop_editor,
            counts,
        )
        started = time.monotonic()
        next_restart = started + args.restart_every
        while time.monotonic() - started < args.duration:
            await asyncio.sleep(0.5)
            if args.restart_every and time.monotonic() >= next_restart:
                victim = servers[counts["server_kills"] % len(servers)]
                victim.kill()
                counts["server_kills"] += 1
                await asyncio.sleep(1.0)
                await asyncio.to_thread(victim.start)
                next_restart = time.monotonic() + args.restart_every
            print(
                f"\r{time.monotonic() - started:6.0f} s  changes {counts['changes']}  "
                f"connects {sum(s.connects for s in stats)}  kills {counts['server_kills']}",
                end="",
                flush=True,
            )
        print()
        stop_editor.set()
        await editor
        stop_churn.set()
        final = logged_seqs(fixture["database_url"], graphic_id)
        last = final[-1] if final else 0
        for _ in range(int(CATCH_UP_SECONDS / 0.2)):
            if all(client.last_seq >= last for client in stats):
                break
            await asyncio.sleep(0.2)
        finished.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for server in servers:
            server.stop()
    return evaluate(stats, final, counts, args)


def evaluate(
    stats: list[ClientStats], log: list[int], counts: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    lost = duplicates = out_of_order = 0
    for client in stats:
        if client.baseline is None:
            continue
        expected = [
            seq
            for seq in log
            if seq > client.baseline
            and not any(low < seq <= high for low, high in client.snapshot_ranges)
        ]
        received = client.received
        duplicates += len(received) - len(set(received))
        lost += len(set(expected) - set(received))
        out_of_order += client.out_of_order
    return {
        "clients": args.clients,
        "servers": args.servers,
        "duration_s": args.duration,
        "changes": counts["changes"],
        "events_in_log": len(log),
        "server_kills": counts["server_kills"],
        "connects": sum(s.connects for s in stats),
        "connections_cut_or_refused": sum(s.refused for s in stats),
        "resumes_recovered": sum(s.resumes_recovered for s in stats),
        "resumes_snapshot": sum(s.resumes_snapshot for s in stats),
        "deliveries": sum(len(s.received) for s in stats),
        "lost": lost,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "clients_never_subscribed": sum(1 for s in stats if s.baseline is None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=180, help="seconds of churn")
    parser.add_argument("--rate", type=float, default=5, help="changes per second")
    parser.add_argument("--min-life", type=float, default=2, help="shortest connection, s")
    parser.add_argument("--max-life", type=float, default=20, help="longest connection, s")
    parser.add_argument("--restart-every", type=float, default=45, help="kill a server, s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.db = "postgres"
    with tempfile.TemporaryDirectory(prefix="gal-soak-") as tmp:
        result = asyncio.run(soak(args, Path(tmp)))
    result.update(
        kind="soak",
        machine=f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
        python=platform.python_version(),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        database=POSTGRES_URL.rsplit("@", 1)[-1],
    )
    VAR_BENCH.mkdir(parents=True, exist_ok=True)
    with open(VAR_BENCH / "results.jsonl", "a") as out:
        out.write(json.dumps(result) + "\n")
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if result["lost"] or result["duplicates"] or result["out_of_order"]:
        print("FAIL: events were lost, duplicated or reordered")
        sys.exit(1)
    print("OK: every client received every event exactly once, in order")


if __name__ == "__main__":
    main()
