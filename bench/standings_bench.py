"""
The standings benchmark of issue 13 (`make bench-standings`; `make bench` runs it after
bench/fanout.py). Two parts, one table each; docs/performance.md, "Standings", has the figures.

1. **Recompute** (target ≤ 5 ms): an event of 64 players x 8 rounds, each round 8 lobbies of 8
   with random valid placements (fixed seed), entered through standings.services. Times, REPEAT
   times each after a warm-up: `standings.scoring.standings_tables` alone (the ranking, no
   database) and `standings.selectors.event_standings` (its two queries plus the ranking), for
   the `total` table. On SQLite, and also on PostgreSQL when DATABASE_URL names a PostgreSQL
   server (a fresh database `gal_bench_standings` on that server; the one named is not touched).

2. **Fan-out** (target: loss 0): one lobby save reaching N subscribed overlays. A fresh database
   holds the same event with rounds 1-7 played and one graphic drawing its Top 8 (rank, name and
   points columns). daphne (or uvicorn, `--server uvicorn`) runs pinned to CPU 0; the load
   process, pinned to CPU 1, opens N real WebSocket connections with the graphic's overlay view
   key (`?key=`, as OBS does) and subscribes each to the graphic; one view key, whose
   connection limit is lifted for the bench. Then, one after another, it saves a lobby of round
   8 through
   the REST API (`PUT /api/standings/events/{id}/rounds/8/lobbies/{l}/` as a Scorekeeper with a
   JWT, the way the league's bot posts results), waits until every subscriber has that save's
   `standings_update` (or 15 s), and saves the next. Lobbies 1-8 get their results first, then
   corrections. Every subscriber must receive every save's update once: loss and duplicates
   are counted per subscriber by the standings' `revision`, which each save raises by one.
   Latency is measured twice, both on this machine's clock: from the moment the writer starts
   sending the PUT to receipt (what a scorekeeper waits for), and from the event's `timestamp`
   (stamped by the server as it records the event, inside the save's transaction, just before
   commit) to receipt (the broadcast alone).

    python bench/standings_bench.py                        # both parts, 1,000 subscribers
    python bench/standings_bench.py --part recompute --repeat 1000
    python bench/standings_bench.py --part fanout --subscribers 1000 --saves 40
    python bench/standings_bench.py --part fanout --server uvicorn
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/standings_bench.py
    DATABASE_URL=... python bench/standings_bench.py --part fanout --db postgres --layer redis

`--writer services` saves through standings.services from the load process instead of REST
(needs `--layer redis`, so that the save's broadcast reaches the server's process).

Results are printed and appended as JSON lines to var/bench/results.jsonl. Only 127.0.0.1 is
contacted; every wait is bounded.

(Named standings_bench.py, not standings.py: a bench/standings.py would shadow the `standings`
app for the scripts of this directory and for mypy.)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# The project first, so that `standings` is the app; this directory after it, for the bench
# helpers (fanout, stats).
if str(BENCH_DIR) in sys.path:
    sys.path.remove(str(BENCH_DIR))
sys.path[:0] = [str(ROOT)]
sys.path.append(str(BENCH_DIR))

from fanout import (  # noqa: E402
    CLIENT_CPU,
    PYTHON,
    VAR_BENCH,
    pinned,
    running_servers,
    server_env,
)
from stats import percentile  # noqa: E402

PLAYERS = 64
ROUNDS = 8
LOBBY = 8
SEED = 13
BENCH_EVENT = "Bench Standings Week"
TARGET_RECOMPUTE_MS = 5.0
# How long the load process waits for one save to reach every subscriber before it moves on
# (and counts what did not arrive as lost).
SAVE_TIMEOUT_SECONDS = 15.0
POSTGRES_BENCH_DB = "gal_bench_standings"


# -- the event ------------------------------------------------------------------------------------


def lobby_draw(seed: int) -> list[list[list[int]]]:
    """For each round, its 8 lobbies as player indexes (0-63) in finishing order: a random
    seating and a random valid finish, the same for every run."""
    rng = random.Random(seed)
    rounds = []
    for _ in range(ROUNDS):
        seating = list(range(PLAYERS))
        rng.shuffle(seating)
        rounds.append([seating[i : i + LOBBY] for i in range(0, PLAYERS, LOBBY)])
    return rounds


def build_event(*, played_rounds: int) -> dict[str, Any]:
    """The bench event through standings.services, as a Scorekeeper: 64 players, 8 rounds, the
    first `played_rounds` with every lobby's results. Needs Django set up."""
    from django.contrib.auth.models import Group, User

    from gal_dashboard.access import SCOREKEEPER
    from standings.services import (
        lobby_results_save,
        player_create,
        round_create,
        tournament_create,
    )

    scorekeeper = User.objects.create_user(username="bench-scorekeeper", password=None)
    scorekeeper.groups.add(Group.objects.get(name=SCOREKEEPER))
    event = tournament_create(user=scorekeeper, name=BENCH_EVENT)
    player_ids = [
        player_create(
            user=scorekeeper,
            tournament_id=event.pk,
            display_name=f"Bench Player {index + 1:02d}",
            riot_id=f"Bench{index + 1:02d}#B{index + 1:02d}",
        ).pk
        for index in range(PLAYERS)
    ]
    draw = lobby_draw(SEED)
    for number in range(1, ROUNDS + 1):
        round_create(user=scorekeeper, tournament_id=event.pk, number=number)
        if number > played_rounds:
            continue
        for lobby_number, finish in enumerate(draw[number - 1], start=1):
            lobby_results_save(
                user=scorekeeper,
                tournament_id=event.pk,
                round_number=number,
                lobby_number=lobby_number,
                results=[
                    {"player": player_ids[index], "placement": placement}
                    for placement, index in enumerate(finish, start=1)
                ],
            )
    event.refresh_from_db()
    return {
        "scorekeeper": scorekeeper,
        "event": event,
        "player_ids": player_ids,
        "draw": draw,
    }


# -- part 1: recompute ----------------------------------------------------------------------------


def timed(function: Any, repeat: int) -> dict[str, float]:
    for _ in range(min(20, repeat)):
        function()
    samples = []
    # A full (generation 2) garbage collection of the Django process's heap takes ~60 ms here
    # and lands in whichever call triggers it: counted, so that a max can be read for what it is.
    full_collections_before = gc.get_stats()[2]["collections"]
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {
        "n": repeat,
        "p50_ms": round(percentile(samples, 0.50) * 1000, 3),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 3),
        "max_ms": round(samples[-1] * 1000, 3),
        "full_gcs": gc.get_stats()[2]["collections"] - full_collections_before,
    }


def child_recompute(output: Path, repeat: int) -> None:
    """In a process whose Django settings name the bench database: fill it, then time."""
    import django

    django.setup()
    from standings.models import Player, Result
    from standings.scoring import TOTAL, PlayerEntry, ResultEntry, standings_tables
    from standings.selectors import event_standings

    event = build_event(played_rounds=ROUNDS)["event"]
    players = [
        PlayerEntry(id=pk, name=name)
        for pk, name in Player.objects.filter(tournament=event).values_list("pk", "display_name")
    ]
    results = [
        ResultEntry(player_id=player_id, round_number=number, placement=placement, points=points)
        for player_id, number, placement, points in Result.objects.filter(
            round__tournament=event
        ).values_list("player_id", "round__number", "placement", "points")
    ]
    assert len(players) == PLAYERS and len(results) == PLAYERS * ROUNDS
    all_tables = (TOTAL, *(f"round_{number}" for number in range(1, ROUNDS + 1)))
    figures = {
        "scoring total": timed(
            lambda: standings_tables(
                players, results, tie_breakers=event.tie_breakers, round_ids=(TOTAL,)
            ),
            repeat,
        ),
        "scoring total + 8 rounds": timed(
            lambda: standings_tables(
                players, results, tie_breakers=event.tie_breakers, round_ids=all_tables
            ),
            repeat,
        ),
        "selector total (DB + compute)": timed(lambda: event_standings(event, (TOTAL,)), repeat),
    }
    output.write_text(json.dumps(figures))


def postgres_bench_url(database_url: str) -> str:
    """The bench database on the server DATABASE_URL names, created afresh."""
    import psycopg

    parts = urlsplit(database_url)
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {POSTGRES_BENCH_DB} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {POSTGRES_BENCH_DB}")
    return urlunsplit(parts._replace(path=f"/{POSTGRES_BENCH_DB}"))


def bench_env(args: argparse.Namespace, database_url: str) -> dict[str, str]:
    env = server_env(args, database_url)
    # 1,000 overlays share one view key here; a real key allows ten (an OBS setup's sources).
    env["WS_MAX_CONNECTIONS_PER_VIEW_KEY"] = str(max(10, args.subscribers + 10))
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def run_child(kind: str, path: Path, env: dict[str, str], *extra: str, cpu: str | None) -> None:
    command = [PYTHON, str(Path(__file__).resolve()), "--child", kind, str(path), *extra]
    completed = subprocess.run(
        pinned(cpu, command) if cpu else command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{completed.stderr[-4000:]}")


def recompute(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    databases = [("sqlite", f"sqlite:///{workdir / 'recompute.sqlite3'}")]
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith(("postgres://", "postgresql://")):
        databases.append(("postgres", postgres_bench_url(given)))
    records = []
    for name, url in databases:
        env = bench_env(args, url)
        migrate(env)
        output = workdir / f"recompute-{name}.json"
        run_child("recompute", output, env, str(args.repeat), cpu=CLIENT_CPU)
        records.append({"db": name, "figures": json.loads(output.read_text())})
    return records


def print_recompute(records: list[dict[str, Any]]) -> None:
    print(
        f"\nRecompute: {PLAYERS} players x {ROUNDS} rounds ({PLAYERS * ROUNDS} results), "
        f"target <= {TARGET_RECOMPUTE_MS:g} ms"
    )
    header = (
        f"{'db':<9} {'what':<30} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'full GCs':>8}"
    )
    print(header)
    print("-" * len(header))
    for record in records:
        for what, row in record["figures"].items():
            print(
                f"{record['db']:<9} {what:<30} {row['n']:>5} {row['p50_ms']:>8} "
                f"{row['p99_ms']:>8} {row['max_ms']:>8} {row['full_gcs']:>8}"
            )


# -- part 2: fan-out ------------------------------------------------------------------------------


def child_prepare(output: Path) -> None:
    """The fan-out fixture: the event with rounds 1-7 played, a Top 8 graphic bound to it with
    an overlay view key, and the scorekeeper's access token."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from rest_framework_simplejwt.tokens import AccessToken

    from gal_dashboard.access import EDITOR
    from graphics.on_air import graphic_take
    from graphics.services import graphic_create, view_key_rotate

    built = build_event(played_rounds=ROUNDS - 1)
    editor = User.objects.create_user(username="bench-editor", password=None)
    editor.groups.add(Group.objects.get(name=EDITOR))
    columns = [
        {
            "id": element_type,
            "type": element_type,
            "x": x,
            "y": 220,
            "font_size": 32,
            "color": "#f5c542",
            "spacing": 48,
            "preview_count": 8,
            "round_id": "total",
        }
        for element_type, x in (("placements", 80), ("players", 180), ("scores", 760))
    ]
    canvas = {
        "background": None,
        "elements": [
            {
                "id": "title",
                "type": "text",
                "x": 80,
                "y": 60,
                "font_size": 64,
                "color": "#ffffff",
                "content": "Standings",
            },
            *columns,
        ],
    }
    graphic = graphic_create(user=editor, title="Bench Top 8", event_name=BENCH_EVENT, data=canvas)
    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)
    # On air, as during a show: overlays draw the program only (issue 16), and a new graphic
    # starts off air.
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=graphic.version)
    event = built["event"]
    event.refresh_from_db()
    output.write_text(
        json.dumps(
            {
                "event_id": event.pk,
                "revision": event.revision,
                "graphic_id": graphic.pk,
                "view_key": view_key.key,
                "token": str(AccessToken.for_user(built["scorekeeper"])),
                "scorekeeper_id": built["scorekeeper"].pk,
                # Round 8's lobbies, player ids in the draw's finishing order.
                "lobbies": [
                    [built["player_ids"][index] for index in lobby]
                    for lobby in built["draw"][ROUNDS - 1]
                ],
            }
        )
    )


def fanout(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if args.db == "postgres":
        given = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        database_url = postgres_bench_url(given)
    else:
        database_url = f"sqlite:///{workdir / 'fanout.sqlite3'}"
    env = bench_env(args, database_url)
    migrate(env)
    fixture_path = workdir / "fixture.json"
    run_child("prepare", fixture_path, env, cpu=None)
    fixture = json.loads(fixture_path.read_text())
    with running_servers(args.server, 1, env, workdir) as servers:
        pid, port = servers[0]
        plan = {
            **fixture,
            "ws_url": f"ws://127.0.0.1:{port}/ws/graphics?key={fixture['view_key']}",
            "api_base": f"http://127.0.0.1:{port}",
            "subscribers": args.subscribers,
            "saves": args.saves,
            "writer": args.writer,
            "server_pids": [pid],
        }
        plan_path = workdir / "plan.json"
        plan_path.write_text(json.dumps(plan))
        result_path = workdir / "load.json"
        try:
            run_child("load", result_path, env, str(plan_path), cpu=CLIENT_CPU)
        finally:
            log = workdir / f"{args.server}-server-0.log"
            if log.exists() and log.stat().st_size:
                print(f"server log (tail):\n{log.read_text()[-2000:]}", file=sys.stderr)
    return json.loads(result_path.read_text())


class LoadRun:
    """N overlays subscribed to one graphic and the writer, in one uvloop event loop."""

    def __init__(self, plan: dict[str, Any]):
        self.plan = plan
        self.subscribers: list[Any] = []
        self.waiting_revision = -1
        self.arrived = 0
        self.all_arrived = asyncio.Event()
        self.sent_at: dict[int, float] = {}
        self.responded_at: dict[int, float] = {}
        self.errors: list[str] = []

    def frame_arrived(self, revision: int) -> None:
        if revision == self.waiting_revision:
            self.arrived += 1
            if self.arrived >= len(self.subscribers):
                self.all_arrived.set()

    async def connect_all(self) -> float:
        from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

        try:
            from orjson import loads
        except ImportError:  # orjson is only faster
            from json import loads  # type: ignore[assignment, unused-ignore]

        run = self

        class Overlay(WSListener):  # type: ignore[misc, unused-ignore]
            def __init__(self) -> None:
                self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
                # (seq, revision, received at, the event's timestamp) per standings_update.
                self.updates: list[tuple[int, int, float, str]] = []
                self.frame_bytes = 0
                self._partial = b""

            def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
                if frame.msg_type == WSMsgType.CLOSE:
                    transport.disconnect()
                    return
                if frame.msg_type not in (WSMsgType.TEXT, WSMsgType.CONTINUATION):
                    return
                payload = frame.get_payload_as_bytes()
                if not frame.fin:
                    self._partial += payload
                    return
                if self._partial:
                    payload, self._partial = self._partial + payload, b""
                received_at = time.time()
                message = loads(payload)
                kind = message.get("type")
                if kind == "standings_update":
                    data = message["data"]
                    revision = data["standings"]["revision"]
                    self.updates.append((data["seq"], revision, received_at, data["timestamp"]))
                    self.frame_bytes = max(self.frame_bytes, len(payload))
                    run.frame_arrived(revision)
                elif kind in ("welcome", "ack", "error"):
                    self.replies.put_nowait(message)

        semaphore = asyncio.Semaphore(200)

        async def open_one() -> None:
            async with semaphore:
                for attempt in range(5):
                    try:
                        transport, listener = await ws_connect(
                            Overlay, self.plan["ws_url"], websocket_handshake_timeout=30
                        )
                        overlay = cast(Overlay, listener)
                        break
                    except OSError:
                        if attempt == 4:
                            raise
                        await asyncio.sleep(0.2 * (attempt + 1))
                welcome = await asyncio.wait_for(overlay.replies.get(), 30)
                assert welcome["type"] == "welcome", welcome
                subscribe = {
                    "type": "subscribe",
                    "data": {"graphic_id": self.plan["graphic_id"]},
                    "request_id": "s",
                }
                transport.send(WSMsgType.TEXT, json.dumps(subscribe).encode())
                ack = await asyncio.wait_for(overlay.replies.get(), 30)
                assert ack["type"] == "ack", ack
                assert ack["data"]["standings"]["tournament_id"] == self.plan["event_id"], ack
                self.subscribers.append((transport, overlay))

        started = time.perf_counter()
        await asyncio.gather(*(open_one() for _ in range(self.plan["subscribers"])))
        return time.perf_counter() - started

    def warm_up(self) -> None:
        """One authenticated read of the event's standings before the clock runs, so that the
        first save does not pay the server's one-off costs (imports, first queries)."""
        if self.plan["writer"] != "rest":
            return
        plan = self.plan
        request = urllib.request.Request(
            f"{plan['api_base']}/api/standings/events/{plan['event_id']}/standings/"
        )
        request.add_header("Authorization", f"Bearer {plan['token']}")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            response.read()

    def save_rest(self, lobby: int, results: list[dict[str, int]], revision: int) -> None:
        plan = self.plan
        url = (
            f"{plan['api_base']}/api/standings/events/{plan['event_id']}/rounds/{ROUNDS}"
            f"/lobbies/{lobby}/"
        )
        body = json.dumps({"results": results, "reason": "bench correction"}).encode()
        request = urllib.request.Request(url, data=body, method="PUT")
        request.add_header("Authorization", f"Bearer {plan['token']}")
        request.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.sent_at[revision] = time.time()
        try:
            with opener.open(request, timeout=30) as response:
                response.read()
        except urllib.error.HTTPError as error:
            self.errors.append(f"PUT lobby {lobby}: {error.code} {error.read()[:300]!r}")
        self.responded_at[revision] = time.time()

    def save_services(self, lobby: int, results: list[dict[str, int]], revision: int) -> None:
        from django.contrib.auth.models import User

        from standings.services import lobby_results_save

        user = User.objects.get(pk=self.plan["scorekeeper_id"])
        self.sent_at[revision] = time.time()
        lobby_results_save(
            user=user,
            tournament_id=self.plan["event_id"],
            round_number=ROUNDS,
            lobby_number=lobby,
            results=results,
            reason="bench correction",
        )
        self.responded_at[revision] = time.time()

    async def run(self) -> dict[str, Any]:
        plan = self.plan
        if plan["writer"] == "services":
            import django

            django.setup()
        connect_seconds = await self.connect_all()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.warm_up)
        await asyncio.sleep(1.0)  # let subscribe-time work (presence, registry) settle
        save = self.save_services if plan["writer"] == "services" else self.save_rest
        rng = random.Random(SEED + 1)
        current: dict[int, list[int]] = {}
        cpu_before = server_cpu_seconds(plan["server_pids"])
        started = time.perf_counter()
        timeouts = 0
        for number in range(plan["saves"]):
            lobby = number % len(plan["lobbies"]) + 1
            previous = current.get(lobby)
            order = list(previous or plan["lobbies"][lobby - 1])
            if previous is not None:
                # A correction: another finish of the same eight. It must differ, or the save
                # changes nothing and sends no update.
                while order == previous:
                    rng.shuffle(order)
            current[lobby] = order
            results = [
                {"player": player, "placement": placement}
                for placement, player in enumerate(order, start=1)
            ]
            revision = plan["revision"] + number + 1
            self.waiting_revision, self.arrived = revision, 0
            self.all_arrived.clear()
            await loop.run_in_executor(None, save, lobby, results, revision)
            try:
                await asyncio.wait_for(self.all_arrived.wait(), SAVE_TIMEOUT_SECONDS)
            except TimeoutError:
                timeouts += 1
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)  # a late duplicate would show up here
        cpu_used = server_cpu_seconds(plan["server_pids"]) - cpu_before
        return self.summary(plan, connect_seconds, elapsed, cpu_used, timeouts)

    def summary(
        self,
        plan: dict[str, Any],
        connect_seconds: float,
        elapsed: float,
        cpu_used: float,
        timeouts: int,
    ) -> dict[str, Any]:
        expected = set(range(plan["revision"] + 1, plan["revision"] + plan["saves"] + 1))
        losses = duplicates = out_of_order = deliveries = 0
        from_send: list[float] = []
        from_commit: list[float] = []
        stamps: dict[str, float] = {}
        frame_bytes = 0
        for _, overlay in self.subscribers:
            seqs = [seq for seq, *_ in overlay.updates]
            revisions = {revision for _, revision, _, _ in overlay.updates}
            losses += len(expected - revisions)
            duplicates += len(seqs) - len(set(seqs))
            out_of_order += any(b <= a for a, b in pairwise(seqs))
            deliveries += len(seqs)
            frame_bytes = max(frame_bytes, overlay.frame_bytes)
            for _, revision, received_at, stamp in overlay.updates:
                if revision in self.sent_at:
                    from_send.append(received_at - self.sent_at[revision])
                if stamp not in stamps:
                    stamps[stamp] = datetime.fromisoformat(stamp).timestamp()
                from_commit.append(received_at - stamps[stamp])
        # The slowest delivery of each save, in save order: shows whether a p99 is one slow
        # save (a stall) or every save's tail.
        slowest: dict[int, float] = {}
        for _, overlay in self.subscribers:
            for _, revision, received_at, _ in overlay.updates:
                if revision in self.sent_at:
                    slowest[revision] = max(
                        slowest.get(revision, 0.0), received_at - self.sent_at[revision]
                    )
        from_send.sort()
        from_commit.sort()
        responses = sorted(self.responded_at[r] - self.sent_at[r] for r in self.responded_at)

        def ms(values: list[float], fraction: float | None = None) -> float | None:
            if not values:
                return None
            value = values[-1] if fraction is None else percentile(values, fraction)
            return round(value * 1000, 1)

        return {
            "subscribers": len(self.subscribers),
            "saves": plan["saves"],
            "writer": plan["writer"],
            "connect_seconds": round(connect_seconds, 2),
            "elapsed_seconds": round(elapsed, 2),
            "deliveries": deliveries,
            "expected_deliveries": len(self.subscribers) * plan["saves"],
            "losses": losses,
            "duplicates": duplicates,
            "subscribers_out_of_order": out_of_order,
            "save_timeouts": timeouts,
            "write_errors": self.errors[:5],
            "frame_bytes": frame_bytes,
            "server_cpu_seconds": round(cpu_used, 3),
            "server_cpu_us_per_delivery": round(cpu_used * 1e6 / deliveries, 1)
            if deliveries
            else None,
            "response_ms_p50": ms(responses, 0.5),
            "response_ms_max": ms(responses),
            "from_send_ms_p50": ms(from_send, 0.5),
            "from_send_ms_p99": ms(from_send, 0.99),
            "from_send_ms_max": ms(from_send),
            "from_commit_ms_p50": ms(from_commit, 0.5),
            "from_commit_ms_p99": ms(from_commit, 0.99),
            "from_commit_ms_max": ms(from_commit),
            "slowest_per_save_ms": [round(slowest[r] * 1000, 1) for r in sorted(slowest)],
        }

    async def close(self) -> None:
        for transport, _ in self.subscribers:
            transport.disconnect()


def server_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def child_load(output: Path, plan_path: Path) -> None:
    plan = json.loads(plan_path.read_text())

    async def main() -> dict[str, Any]:
        run = LoadRun(plan)
        try:
            return await run.run()
        finally:
            await asyncio.wait_for(run.close(), timeout=60)

    try:
        import uvloop
    except ImportError:  # uvloop only makes the load process cheaper per message
        result = asyncio.run(main())
    else:
        result = uvloop.run(main())
    output.write_text(json.dumps(result))


def print_fanout(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nFan-out: one lobby save to {result['subscribers']} overlays, {result['saves']} saves "
        f"via {result['writer']}, {args.server}, layer={args.layer}, db={args.db}; "
        f"frames {result['frame_bytes']} bytes"
    )
    print(
        f"  deliveries {result['deliveries']}/{result['expected_deliveries']}, "
        f"loss {result['losses']}, duplicates {result['duplicates']}, "
        f"out of order {result['subscribers_out_of_order']}, timeouts {result['save_timeouts']}, "
        f"write errors {result['write_errors'] or 0}"
    )
    print(
        f"  latency from the save's start:    p50 {result['from_send_ms_p50']} ms, "
        f"p99 {result['from_send_ms_p99']} ms, max {result['from_send_ms_max']} ms"
    )
    print(
        f"  latency from the event timestamp: p50 {result['from_commit_ms_p50']} ms, "
        f"p99 {result['from_commit_ms_p99']} ms, max {result['from_commit_ms_max']} ms"
    )
    print(
        f"  PUT response p50 {result['response_ms_p50']} ms, max {result['response_ms_max']} ms; "
        f"server CPU {result['server_cpu_us_per_delivery']} µs per delivery; "
        f"{result['connect_seconds']} s to connect and subscribe"
    )
    print(f"  slowest delivery of each save (ms): {result['slowest_per_save_ms']}")


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["all", "recompute", "fanout"], default="all")
    parser.add_argument("--repeat", type=int, default=200, help="recompute: timed repetitions")
    parser.add_argument("--subscribers", type=int, default=1000, help="fan-out: overlays")
    parser.add_argument("--saves", type=int, default=20, help="fan-out: lobby saves, in turn")
    parser.add_argument("--writer", choices=["rest", "services"], default="rest")
    parser.add_argument("--layer", choices=["memory", "redis"], default="memory")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="fan-out")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    parser.add_argument("--label", default="")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "recompute":
        child_recompute(Path(args.child_args[0]), int(args.child_args[1]))
        return
    if args.child == "prepare":
        child_prepare(Path(args.child_args[0]))
        return
    if args.child == "load":
        child_load(Path(args.child_args[0]), Path(args.child_args[1]))
        return
    if args.writer == "services" and args.layer != "redis":
        parser.error("--writer services needs --layer redis to reach the server's process")
    if not 1 <= args.repeat <= 100_000 or not 1 <= args.saves <= 1000:
        parser.error("--repeat is 1-100000 and --saves 1-1000")
    # Servers are separate processes on CPU 0 (fanout.running_servers); this process and its
    # children do their work on CPU 1.
    args.servers = 1

    VAR_BENCH.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "kind": "standings",
        "label": args.label,
    }
    with tempfile.TemporaryDirectory(prefix="gal-bench-standings-") as tmp:
        workdir = Path(tmp)
        if args.part in ("all", "recompute"):
            print(f"recompute: {PLAYERS} players x {ROUNDS} rounds ...", flush=True)
            record["recompute"] = recompute(args, workdir)
            print_recompute(record["recompute"])
        if args.part in ("all", "fanout"):
            print(f"\nfan-out: {args.subscribers} overlays, {args.saves} saves ...", flush=True)
            record["fanout"] = {
                "server": args.server,
                "layer": args.layer,
                "db": args.db,
                **fanout(args, workdir),
            }
            print_fanout(record["fanout"], args)
    with open(VAR_BENCH / "results.jsonl", "a") as results:
        results.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
