"""
`make bench`: fan-out benchmark of GAL Live against a raw `websockets` ceiling, in one run.

For each scenario it prepares a fresh database (users, a graphic), starts the real server as
separate processes pinned to CPU 0 (daphne by default; Redis-backed with --layer redis), runs
bench/load_client.py pinned to CPU 1 with N real WebSocket subscribers and one editor
publishing updates through the real protocol, then does the same against bench/raw_server.py.
It prints a table and appends one JSON line per scenario to var/bench/results.jsonl.

    python bench/fanout.py                      # the standard scenarios (docs/performance.md)
    python bench/fanout.py --scenario throughput --subscribers 1000
    python bench/fanout.py --scenario rate --subscribers 1000 --rate 20 --duration 10
    python bench/fanout.py --scenario idle --subscribers 10000
    python bench/fanout.py --layer redis --servers 2 --scenario rate
    python bench/fanout.py --scenario burst --subscribers 1000   # issue 17: batching on / off
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR_BENCH = ROOT / "var" / "bench"
PYTHON = sys.executable
SERVER_CPU = "0"
CLIENT_CPU = "1"
BENCH_SECRET_KEY = "bench-only-secret-key-0123456789abcdef0123456789"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/gal_bench"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}:\n{log.read_text()[-3000:]}")


def daphne_command(port: int) -> list[str]:
    """Our server as deployed: daphne through gal_dashboard.serve, quiet."""
    return [PYTHON, "-m", "gal_dashboard.serve", "-v", "0", "-b", "127.0.0.1", "-p", str(port),
            "gal_dashboard.asgi:application"]  # fmt: skip


def uvicorn_command(port: int, *, plain: bool) -> list[str]:
    """uvicorn as `make run SERVER=uvicorn` runs it: through gal_dashboard.serve, with
    gal_dashboard.uvicorn_fast's protocol; `plain`: uvicorn's own `websockets` protocol, without
    gal_dashboard.serve (before/after)."""
    options = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]  # fmt: skip
    if plain:
        return [PYTHON, "-m", "uvicorn", *options, "--ws", "websockets",
                "gal_dashboard.asgi:application"]  # fmt: skip
    return [PYTHON, "-m", "gal_dashboard.serve", "uvicorn", *options,
            "gal_dashboard.asgi:application"]  # fmt: skip


def pinned(cpu: str, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", cpu, *command]
    return command


def server_env(args: argparse.Namespace, database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": BENCH_SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "gal_dashboard.settings",
        "PYTHONPATH": str(ROOT),
        # The editor publishes far faster than a person (hundreds of updates a minute), and
        # the load client holds connections without answering heartbeats: lift those limits.
        "WS_RATE_LIMIT_BURST": "1000000",
        "WS_RATE_LIMIT_PER_MINUTE": "1000000",
        "WS_IDLE_TIMEOUT_SECONDS": "86400",
        # Thousands of handshakes at once on a busy machine: not what the timeout is for.
        "WS_CONNECT_TIMEOUT_SECONDS": "60",
        # Heartbeats stay on, at their default interval: they are part of what a server pays.
    }
    env.pop("REDIS_URL", None)
    if args.layer == "redis":
        env["REDIS_URL"] = REDIS_URL
        env["CHANNEL_LAYER_PREFIX"] = f"gal-bench-{os.getpid()}"
    return env


def prepare_database(
    args: argparse.Namespace,
    subscribers: int,
    workdir: Path,
    *,
    editors: int = 1,
    extra: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A fresh database with a graphic, an editor and one viewer per subscriber; returns ids,
    tokens and the canvas. Runs in a subprocess so that Django is set up with the bench DB."""
    if args.db == "postgres":
        import psycopg

        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as conn:
            conn.execute("DROP DATABASE IF EXISTS gal_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE gal_bench")
        database_url = POSTGRES_URL
    else:
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    env = server_env(args, database_url)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    output = workdir / "fixture.json"
    subprocess.run(
        [
            PYTHON,
            str(ROOT / "bench" / "prepare.py"),
            str(subscribers),
            str(output),
            str(editors),
            *(str(value) for value in extra or ()),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    fixture = json.loads(output.read_text())
    fixture["database_url"] = database_url
    return fixture


@contextmanager
def running_servers(kind: str, count: int, env: dict[str, str], workdir: Path):
    processes: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    try:
        for index in range(count):
            port = free_port()
            log = workdir / f"{kind}-server-{index}.log"
            if kind == "raw":
                command = [PYTHON, str(ROOT / "bench" / "raw_server.py"), str(port)]
            elif kind in ("uvicorn", "uvicorn-plain"):
                command = uvicorn_command(port, plain=kind == "uvicorn-plain")
            elif kind == "daphne-plain":
                # daphne without gal_dashboard.serve: its own WebSocket protocol (before/after).
                command = [PYTHON, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port),
                           "--websocket_connect_timeout", "60",
                           "gal_dashboard.asgi:application"]  # fmt: skip
            else:
                command = daphne_command(port)
            with open(log, "wb") as log_file:
                process = subprocess.Popen(
                    pinned(SERVER_CPU, command),
                    cwd=ROOT,
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            processes.append((process, port, log))
        for process, port, log in processes:
            wait_for_port(port, process, log)
        yield [(process.pid, port) for process, port, _ in processes]
    finally:
        for process, _, _ in processes:
            process.terminate()
        for process, _, _ in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def run_load(plan: dict[str, Any], workdir: Path) -> dict[str, Any]:
    plan_path = workdir / "plan.json"
    plan_path.write_text(json.dumps(plan))
    completed = subprocess.run(
        pinned(CLIENT_CPU, [PYTHON, str(ROOT / "bench" / "load_client.py"), str(plan_path)]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=plan["timeout"] + 600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load client failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def scenario_plan(
    args: argparse.Namespace,
    scenario: dict[str, Any],
    kind: str,
    servers: list[tuple[int, int]],
    fixture: dict[str, Any],
) -> dict[str, Any]:
    subscribers = scenario["subscribers"]
    ports = [port for _, port in servers]
    if kind == "raw":
        urls = [f"ws://127.0.0.1:{ports[i % len(ports)]}/" for i in range(subscribers)]
        publisher_url = f"ws://127.0.0.1:{ports[0]}/"
    else:
        tokens = fixture["viewer_tokens"]
        urls = [
            f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/graphics?token={tokens[i]}"
            for i in range(subscribers)
        ]
        publisher_url = f"ws://127.0.0.1:{ports[0]}/ws/graphics?token={fixture['editor_token']}"
    return {
        "kind": "raw" if kind == "raw" else "gal",
        "mode": scenario["mode"],
        "urls": urls,
        "publisher_url": publisher_url,
        "origin": None,
        "subscribe": scenario["mode"] != "idle" or scenario.get("subscribe_idle", True),
        "graphic_id": fixture["graphic_id"],
        "version": fixture["version"],
        "canvas": fixture["canvas"],
        "updates": scenario.get("updates", args.updates),
        "rate": scenario.get("rate", args.rate),
        "duration": scenario.get("duration", args.duration),
        "pad": args.pad,
        "timeout": args.timeout,
        "server_pids": [pid for pid, _ in servers],
        "settle_seconds": 2.0 if scenario["mode"] == "idle" else 1.0,
        # One profile per scenario: PATH.<server>-<mode>-<subscribers>.
        "profile": f"{args.profile}.{kind}-{scenario['mode']}-{subscribers}"
        if args.profile and kind != "raw"
        else None,
    }


def ceiling_key(scenario: dict[str, Any]) -> tuple[Any, ...]:
    return (
        scenario["mode"],
        scenario["subscribers"],
        scenario.get("updates"),
        scenario.get("rate"),
        scenario.get("duration"),
    )


def run_scenario(
    args: argparse.Namespace, scenario: dict[str, Any], ceilings: dict[tuple[Any, ...], Any]
) -> dict[str, Any]:
    """Our server, then (once per mode and size in the run) the raw ceiling."""
    server = scenario.get("server", args.server)
    with tempfile.TemporaryDirectory(prefix="gal-bench-") as tmp:
        workdir = Path(tmp)
        fixture = prepare_database(args, scenario["subscribers"], workdir)
        env = server_env(args, fixture["database_url"])
        with running_servers(server, args.servers, env, workdir) as servers:
            ours = run_load(scenario_plan(args, scenario, server, servers, fixture), workdir)
        ceiling = ceilings.get(ceiling_key(scenario))
        if ceiling is None and not args.no_ceiling and scenario["mode"] != "idle":
            with running_servers("raw", 1, env, workdir) as servers:
                ceiling = run_load(scenario_plan(args, scenario, "raw", servers, fixture), workdir)
            ceilings[ceiling_key(scenario)] = ceiling
        return {"scenario": scenario, "server": server, "ours": ours, "ceiling": ceiling}


def run_compression(args: argparse.Namespace) -> dict[str, Any]:
    """Bytes and CPU per snapshot, with and without permessage-deflate (bench/compression.py)."""
    with tempfile.TemporaryDirectory(prefix="gal-bench-") as tmp:
        workdir = Path(tmp)
        fixture = prepare_database(args, 1, workdir, extra=(args.graphics - 1, args.elements))
        env = server_env(args, fixture["database_url"])
        with running_servers("daphne", 1, env, workdir) as servers:
            ((pid, port),) = servers
            completed = subprocess.run(
                pinned(
                    CLIENT_CPU,
                    [
                        PYTHON,
                        str(ROOT / "bench" / "compression.py"),
                        str(port),
                        str(pid),
                        str(fixture["big_graphic_id"]),
                        fixture["editor_token"],
                    ],
                ),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
            )
        if completed.returncode != 0:
            raise RuntimeError(f"compression client failed:\n{completed.stderr[-4000:]}")
        return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


STANDARD_SCENARIOS: list[dict[str, Any]] = [
    {"name": "throughput 1k", "mode": "throughput", "subscribers": 1000, "updates": 100},
    {"name": "rate 1k x 20/s", "mode": "rate", "subscribers": 1000, "rate": 20, "duration": 10},
    {"name": "rate 5k x 4/s", "mode": "rate", "subscribers": 5000, "rate": 4, "duration": 10},
    {
        "name": "throughput 1k",
        "server": "uvicorn",
        "mode": "throughput",
        "subscribers": 1000,
        "updates": 100,
    },
    {
        "name": "rate 1k x 20/s",
        "server": "uvicorn",
        "mode": "rate",
        "subscribers": 1000,
        "rate": 20,
        "duration": 10,
    },
    {"name": "idle 10k", "mode": "idle", "subscribers": 10000},
]
# `BENCH_ARGS=--quick`: the same rows, smaller and shorter (a few minutes), for a first look.
QUICK_SCENARIOS: list[dict[str, Any]] = [
    {**scenario, "duration": 4, "updates": 40}
    if scenario["mode"] != "idle"
    else {**scenario, "subscribers": 2000}
    for scenario in STANDARD_SCENARIOS
]


def find(
    outcomes: list[dict[str, Any]], server: str, mode: str, subscribers: int
) -> dict[str, Any] | None:
    for outcome in outcomes:
        scenario = outcome["scenario"]
        if (
            outcome["server"] == server
            and scenario["mode"] == mode
            and scenario["subscribers"] == subscribers
        ):
            return outcome
    return None


def targets_table(
    outcomes: list[dict[str, Any]], compression: dict[str, Any] | None, batch: dict[str, Any] | None
) -> list[str]:
    """Issue 17's targets: figure, target, measured, pass/miss (and by how much)."""
    rows: list[tuple[str, str, str, str]] = []

    def add(figure: str, target: str, value: float | None, limit: float, *, at_most: bool,
            unit: str, extra: str = "", ok_extra: bool = True) -> None:  # fmt: skip
        if value is None:
            rows.append((figure, target, "not measured", "-"))
            return
        ok = (value <= limit if at_most else value >= limit) and ok_extra
        by = value / limit if at_most else limit / value if value else float("inf")
        verdict = "pass" if ok else f"MISS ({by:.2f}x)" if by != 1 else "MISS"
        rows.append((figure, target, f"{value:g} {unit}{extra}", verdict))

    def ours(server: str, mode: str, subscribers: int) -> dict[str, Any] | None:
        outcome = find(outcomes, server, mode, subscribers)
        return outcome["ours"] if outcome else None

    def number(result: dict[str, Any] | None, key: str) -> float | None:
        return None if result is None or result.get(key) is None else float(result[key])

    throughput = ours("daphne", "throughput", 1000)
    add("daphne server CPU per delivery", "<= 30 us",
        number(throughput, "server_cpu_us_per_delivery"), 30, at_most=True, unit="us")  # fmt: skip
    for subscribers, limit in ((1000, 150), (5000, 250)):
        result = ours("daphne", "rate", subscribers)
        losses = int(number(result, "losses") or 0)
        rate = {1000: 20, 5000: 4}[subscribers]
        add(f"daphne p99 at {subscribers} x {rate}/s, from send", f"<= {limit} ms, loss 0",
            number(result, "latency_ms_p99"), limit, at_most=True, unit="ms",
            extra=f", loss {losses}", ok_extra=losses == 0)  # fmt: skip
    uvicorn = ours("uvicorn", "throughput", 1000)
    add("uvicorn server CPU per delivery", "<= 20 us",
        number(uvicorn, "server_cpu_us_per_delivery"), 20, at_most=True, unit="us")  # fmt: skip
    outcome = find(outcomes, "uvicorn", "throughput", 1000)
    share = None
    if outcome and outcome["ceiling"] and outcome["ceiling"].get("deliveries_per_second"):
        share = round(
            outcome["ours"]["deliveries_per_second"] / outcome["ceiling"]["deliveries_per_second"],
            2,
        )
    add("uvicorn throughput / raw ceiling (same run)", ">= 0.40", share, 0.40,
        at_most=False, unit="")  # fmt: skip
    result = ours("uvicorn", "rate", 1000)
    add("uvicorn p99 at 1000 x 20/s, from send", "<= 100 ms",
        number(result, "latency_ms_p99"), 100, at_most=True, unit="ms")  # fmt: skip
    burst_figure = "frames for a 200-event burst (one commit), batching"
    if batch and batch.get("frames_ratio") is not None:
        add(burst_figure, ">= 5x fewer",
            float(batch["frames_ratio"]), 5, at_most=False, unit="x fewer")  # fmt: skip
    else:
        rows.append((burst_figure, ">= 5x fewer",
                     "see the batch scenario (issue 17 item 3)", "-"))  # fmt: skip
    ratio = compression["all"]["ratio"] if compression else None
    add('"all" snapshot of 200 graphics, compressed', ">= 4x smaller", ratio, 4,
        at_most=False, unit="x smaller")  # fmt: skip
    idle = find(outcomes, "daphne", "idle", 10000) or next(
        (outcome for outcome in outcomes if outcome["scenario"]["mode"] == "idle"), None
    )
    subscribers = idle["ours"]["subscribers"] if idle else 10000
    add(f"{subscribers} idle connections, RSS per connection", "<= 45 KB",
        number(idle["ours"] if idle else None, "rss_per_connection_kb"), 45,
        at_most=True, unit="KB")  # fmt: skip
    width = [max(len(row[index]) for row in rows) for index in range(4)]
    header = ("figure (1,000 subscribers unless said)", "target", "measured", "verdict")
    width = [max(width[index], len(header[index])) for index in range(4)]
    lines = [" | ".join(cell.ljust(width[index]) for index, cell in enumerate(header))]
    lines.append("-+-".join("-" * w for w in width))
    for row in rows:
        lines.append(" | ".join(cell.ljust(width[index]) for index, cell in enumerate(row)))
    return lines


def format_row(
    name: str, kind: str, result: dict[str, Any] | None, ceiling: dict[str, Any] | None
) -> str:
    if result is None:
        return ""
    ratio = ""
    if ceiling and result.get("deliveries_per_second") and ceiling.get("deliveries_per_second"):
        ratio = f"{result['deliveries_per_second'] / ceiling['deliveries_per_second']:.0%}"

    def field(key: str) -> str:
        value = result.get(key)
        return "-" if value is None else str(value)

    return (
        f"{name:<18} {kind:<9} {field('subscribers'):>6} {field('deliveries_per_second'):>9} "
        f"{ratio:>6} {field('server_cpu_us_per_delivery'):>8} {field('latency_ms_p50'):>7} "
        f"{field('latency_ms_p99'):>8} {field('commit_latency_ms_p99'):>8} "
        f"{field('latency_ms_max'):>8} {field('losses'):>5} "
        f"{field('duplicates'):>5} {field('rss_per_connection_kb'):>7} {field('frame_bytes'):>6}"
    )


# -- issue 17: the `burst` scenario (batching) ----------------------------------------------------

BURST_REDIS_URL = "redis://127.0.0.1:6379/6"


def run_burst(args: argparse.Namespace) -> dict[str, Any]:
    """A burst of --burst-events edits, written back to back by another process
    (bench/burst_writer.py; `--burst-together`: in one transaction) and broadcast through Redis
    (db 6), to --subscribers on one server: the frames that carried them, the time until the
    last one arrived and the server's CPU, without batching and then with it (`?batch=1`),
    each on a fresh server.

    Why another process: when the editor writes through the same server, its writes and the
    fan-out take turns on one event loop (each commit's broadcast waits for the loop), so no
    event ever waits for the hub there and batching has nothing to group. Events do wait where
    they arrive from elsewhere: another server's edits (this scenario), or the log (a catch-up,
    a resume)."""
    args = argparse.Namespace(**{**vars(args), "layer": "redis"})
    rows = []
    frames: dict[bool, int] = {}
    for batch in (False, True):
        scenario = {
            "name": f"burst batch={'on' if batch else 'off'}",
            "mode": "burst",
            "subscribers": args.subscribers,
            "updates": args.burst_events,
        }
        print(f"running {scenario['name']} ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="gal-bench-") as tmp:
            workdir = Path(tmp)
            fixture = prepare_database(args, args.subscribers, workdir)
            env = {**server_env(args, fixture["database_url"]), "REDIS_URL": BURST_REDIS_URL}
            with running_servers(args.server, 1, env, workdir) as servers:
                plan = scenario_plan(args, scenario, args.server, servers, fixture)
                if batch:
                    plan["urls"] = [f"{url}&batch=1" for url in plan["urls"]]
                plan["writer_command"] = [
                    "env",
                    *(f"{key}={env[key]}" for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                      "CHANNEL_LAYER_PREFIX", "DEBUG")),
                    f"DJANGO_SETTINGS_MODULE={env['DJANGO_SETTINGS_MODULE']}",
                    f"PYTHONPATH={ROOT}",
                    *pinned(CLIENT_CPU, [PYTHON, str(ROOT / "bench" / "burst_writer.py")]),
                    str(fixture["graphic_id"]),
                    str(args.burst_events),
                    *(["--together"] if args.burst_together else []),
                ]  # fmt: skip
                # Fewer handshakes at once: on a loaded machine 200 at once lose some.
                plan["connect_concurrency"] = 50
                result = run_load(plan, workdir)
        record = {
            "at": datetime.now(UTC).isoformat(),
            **{key: getattr(args, key) for key in ("label", "server", "layer", "db")},
            "scenario": scenario,
            "ours": result,
        }
        VAR_BENCH.mkdir(parents=True, exist_ok=True)
        with open(VAR_BENCH / "results.jsonl", "a") as results:
            results.write(json.dumps(record) + "\n")
        frames[batch] = int(result["event_frames"])
        rows.append(
            f"{scenario['name']:<16} {result['subscribers']:>6} {result['deliveries']:>9} "
            f"{result['event_frames']:>9} {result['events_per_frame']!s:>8} "
            f"{result['elapsed_seconds']:>8} {result['server_cpu_seconds']:>8} "
            f"{result['losses']:>5} {result['duplicates']:>5} "
            f"{result['subscribers_out_of_order']:>4}"
        )
        print(rows[-1], flush=True)
    header = (
        f"{'scenario':<16} {'subs':>6} {'events':>9} {'frames':>9} {'ev/frame':>8} "
        f"{'drain s':>8} {'cpu s':>8} {'loss':>5} {'dup':>5} {'ooo':>4}"
    )
    print()
    print("\n".join([header, "-" * len(header), *rows]))
    # The targets table's batching row: how many times fewer frames carried the same burst.
    return {"frames_ratio": round(frames[False] / frames[True], 1) if frames[True] else None}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario",
        choices=["standard", "throughput", "rate", "idle", "burst"],
        default="standard",
    )
    parser.add_argument("--burst-events", type=int, default=200, help="burst: events written")
    parser.add_argument("--burst-together", action="store_true", help="burst: in one commit")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument(
        "--updates", type=int, default=100, help="throughput mode: updates to publish"
    )
    parser.add_argument("--rate", type=float, default=20, help="rate mode: updates per second")
    parser.add_argument("--duration", type=float, default=10, help="rate mode: seconds")
    parser.add_argument("--pad", type=int, default=100, help="bytes of text changed per update")
    parser.add_argument("--layer", choices=["memory", "redis"], default="memory")
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument(
        "--server", choices=["daphne", "daphne-plain", "uvicorn", "uvicorn-plain"], default="daphne"
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--quick", action="store_true", help="the standard rows, smaller and shorter (minutes)"
    )
    parser.add_argument(
        "--graphics", type=int, default=200, help="compression: graphics in the list snapshot"
    )
    parser.add_argument(
        "--elements", type=int, default=300, help="compression: elements of the large canvas"
    )
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument(
        "--no-burst", action="store_true", help="standard: skip the burst (batching) scenario"
    )
    parser.add_argument(
        "--only",
        default="",
        help="standard rows to run, e.g. 'throughput 1k@uvicorn,idle' (substrings of "
        "'<scenario>@<server>', comma-separated)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="py-spy raw output path: sample the server while updates go out (then "
        "bench/profile_summary.py PATH)",
    )
    args = parser.parse_args()
    if args.servers > 1 and args.layer != "redis":
        parser.error("several server processes need --layer redis")

    if args.scenario == "burst":
        run_burst(args)
        return
    if args.scenario == "standard":
        scenarios = QUICK_SCENARIOS if args.quick else STANDARD_SCENARIOS
        if args.only:
            wanted = [part.strip() for part in args.only.split(",") if part.strip()]
            scenarios = [
                scenario
                for scenario in scenarios
                if any(
                    part in f"{scenario['name']}@{scenario.get('server', args.server)}"
                    for part in wanted
                )
            ]
    else:
        scenarios = [
            {
                "name": args.scenario,
                "mode": args.scenario,
                "subscribers": args.subscribers,
                "updates": args.updates,
                "rate": args.rate,
                "duration": args.duration,
            }
        ]

    VAR_BENCH.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpus": os.cpu_count(),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "python": platform.python_version(),
    }
    header = (
        f"{'scenario':<18} {'server':<9} {'subs':>6} {'deliv/s':>9} {'ceil%':>6} {'cpu µs':>8} "
        f"{'p50 ms':>7} {'p99 ms':>8} {'p99 cmt':>8} {'max ms':>8} {'loss':>5} {'dup':>5} "
        f"{'KB/conn':>7} "
        f"{'frame':>6}"
    )
    rows = [header, "-" * len(header)]
    print(
        f"machine: {machine}; server={args.server} x{args.servers} layer={args.layer} db={args.db}",
        flush=True,
    )
    ceilings: dict[tuple[Any, ...], Any] = {}
    outcomes: list[dict[str, Any]] = []
    for scenario in scenarios:
        server = scenario.get("server", args.server)
        print(f"running {scenario['name']} on {server} ...", flush=True)
        outcome = run_scenario(args, scenario, ceilings)
        fresh_ceiling = outcome["ceiling"] is not None and not any(
            previous["ceiling"] is outcome["ceiling"] for previous in outcomes
        )
        outcomes.append(outcome)
        record = {
            "at": datetime.now(UTC).isoformat(),
            "label": args.label,
            "machine": machine,
            "servers": args.servers,
            "layer": args.layer,
            "db": args.db,
            "pad": args.pad,
            **outcome,
        }
        with open(VAR_BENCH / "results.jsonl", "a") as results:
            results.write(json.dumps(record) + "\n")
        rows.append(format_row(scenario["name"], server, outcome["ours"], outcome["ceiling"]))
        if fresh_ceiling:
            rows.append(format_row(scenario["name"], "raw", outcome["ceiling"], None))
        print("\n".join(rows[-2:] if fresh_ceiling else rows[-1:]), flush=True)
    compression = None
    if args.scenario == "standard" and not args.no_compression:
        print("running compression (daphne, permessage-deflate on and off) ...", flush=True)
        compression = run_compression(args)
        with open(VAR_BENCH / "results.jsonl", "a") as results:
            results.write(
                json.dumps(
                    {
                        "at": datetime.now(UTC).isoformat(),
                        "label": args.label,
                        "machine": machine,
                        "compression": compression,
                    }
                )
                + "\n"
            )
    print()
    print("latency: p50/p99 from the editor's send to receipt; 'p99 cmt' from the commit.")
    print("\n".join(rows))
    if compression:
        print()
        print("compression (daphne, WS_COMPRESSION=auto): wire bytes and server CPU per snapshot")
        for name, label in (("all", f'"all", {args.graphics} graphics'),
                            ("canvas", f"one canvas, {args.elements} elements")):  # fmt: skip
            part = compression[name]
            print(
                f"  {label:<28} plain {part['plain']['wire_bytes']:>8} B "
                f"{part['plain']['server_cpu_ms_per_snapshot']:>6} ms   deflate "
                f"{part['deflate']['wire_bytes']:>8} B "
                f"{part['deflate']['server_cpu_ms_per_snapshot']:>6} ms   {part['ratio']}x smaller"
            )
    batch = None
    if args.scenario == "standard" and not args.no_burst:
        # The target's burst: 200 events committed together (an import, a batch of results),
        # so that they wait for the hub at once. Written one commit at a time on an idle
        # machine, each event reaches the hub before the next is written: nothing waits, and
        # batching (which adds no delay) has nothing to group (`--scenario burst` shows that).
        print("running burst (200 events in one commit; batching off and on; Redis db 6) ...",
              flush=True)  # fmt: skip
        batch = run_burst(argparse.Namespace(**{**vars(args), "burst_together": True}))
    if args.scenario == "standard":
        print()
        print("issue 17 targets")
        print("\n".join(targets_table(outcomes, compression, batch)))


if __name__ == "__main__":
    main()
