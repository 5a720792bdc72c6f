"""
The load process of `make bench`: N real WebSocket subscribers and one publisher.

    python bench/load_client.py PLAN.json  -> prints one JSON result on stdout

The plan (written by bench/fanout.py) says which server to hit, how many subscribers, and the
mode: `throughput` (publish K updates back to back, measure deliveries/s), `rate` (publish at R
updates/s for D seconds, measure latency) or `idle` (hold N connections, measure the server's
memory per connection).

Latency runs from the editor's send: the moment the publisher wrote the `update` message to its
socket, to the moment a subscriber has the event (`latency_ms_*`), which is what a person
watching an overlay waits. The part from the event's commit timestamp to receipt is reported
too (`commit_latency_ms_*`): it leaves out the queue in front of the commit, so it is only the
delivery half. Each event is matched to its update through its `version` (the editor's n-th
update makes version `base + n + 1`). Server CPU time and RSS
are read from /proc for the server pids. Loss and duplicates are counted per subscriber.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from stats import percentile  # bench/ is this script's directory

try:
    from orjson import loads
except ImportError:  # orjson is only faster; the standard library gives the same result
    from json import loads  # type: ignore[assignment, unused-ignore]


def send_json(transport: WSTransport, message: dict[str, Any]) -> None:
    transport.send(WSMsgType.TEXT, json.dumps(message).encode())


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def server_rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def start_profiler(plan: dict[str, Any], pids: list[int]) -> subprocess.Popen[bytes] | None:
    """With `profile` in the plan (`bench/fanout.py --profile PATH`): py-spy samples the first
    server process while the updates go out (not while the subscribers connect)."""
    if not plan.get("profile"):
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [py_spy, "record", "-p", str(pids[0]), "-d", str(plan.get("profile_seconds", 8)),
         "-r", "100", "--nonblocking", "-f", "raw", "-o", plan["profile"]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


class Subscriber(WSListener):
    """One subscriber socket. picows calls `on_ws_frame` for every frame, without a task or a
    queue per message, so the load process stays far from being the bottleneck."""

    def __init__(self, run: Run, index: int):
        self.run = run
        self.index = index
        self.seqs: list[int] = []
        # (version, commit timestamp, received at), turned into latencies after the run.
        self.receipts: list[tuple[int, str, float]] = []
        self.frame_bytes = 0
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
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
        if message.get("type") == "heartbeat":
            return  # the server's keep-alive; the bench lifts the idle timeout instead
        if message.get("type") == "notice":
            # e.g. broadcast_degraded when an overloaded server's probe is late: counted.
            self.run.notices.append(message["data"].get("code", "?"))
            return
        if message.get("type") != "graphic_update":
            self.replies.put_nowait(message)
            return
        data = message["data"]
        self.seqs.append(data["seq"])
        if not self.frame_bytes:
            self.frame_bytes = len(payload)
        run = self.run
        if run.measure_latency:
            self.receipts.append((data["version"], data["timestamp"], received_at))
        run.received += 1
        if run.received >= run.expected_total:
            run.done.set()


class Run:
    def __init__(self, plan: dict[str, Any]):
        self.plan = plan
        self.kind = plan["kind"]
        self.subscribers: list[Subscriber] = []
        self.transports: list[WSTransport] = []
        self.timestamps: dict[str, float] = {}
        self.sent_at: dict[int, float] = {}  # version -> when the editor's update was sent
        self.expected_per_subscriber = 0
        self.received = 0
        self.done = asyncio.Event()
        self.measure_latency = plan["mode"] == "rate"
        self.listener_class = BurstSubscriber if plan["mode"] == "burst" else Subscriber
        self.fencing_token: int | None = None
        self.notices: list[str] = []

    def commit_time(self, iso: str) -> float:
        cached = self.timestamps.get(iso)
        if cached is None:
            cached = self.timestamps[iso] = datetime.fromisoformat(iso).timestamp()
        return cached

    def version_of(self, number: int) -> int:
        """The version the editor's `number`-th update makes (raw: the same numbering)."""
        return int(self.plan["version"]) + number + 1

    async def open(self, url: str, index: int) -> tuple[WSTransport, Subscriber]:
        headers = {"Origin": self.plan["origin"]} if self.plan.get("origin") else None
        for attempt in range(5):
            try:
                transport, listener = await ws_connect(
                    lambda: self.listener_class(self, index),
                    url,
                    extra_headers=headers,
                    websocket_handshake_timeout=30,
                    max_frame_size=2**21,
                )
                if listener is None:  # a loaded server dropped the handshake: try again
                    raise OSError("WebSocket handshake failed")
                return transport, listener  # type: ignore[return-value, unused-ignore]
            except OSError:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if listener is not None:
                return transport, listener  # type: ignore[return-value, unused-ignore]
            # picows 2 returns no listener for a connection lost during the handshake: retry.
            transport.disconnect()
            if attempt == 4:
                raise ConnectionError(f"{url}: connection lost during the handshake")
            await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def open_subscriber(self, index: int, url: str, semaphore: asyncio.Semaphore) -> None:
        async with semaphore:
            transport, subscriber = await self.open(url, index)
            if self.kind == "gal":
                welcome = await subscriber.replies.get()
                assert welcome["type"] == "welcome", welcome
            if self.plan["subscribe"]:
                send_json(
                    transport,
                    {
                        "type": "subscribe",
                        "data": {"graphic_id": self.plan["graphic_id"]},
                        "request_id": "s",
                    },
                )
                reply = await subscriber.replies.get()
                assert reply["type"] == "ack", reply
            self.subscribers.append(subscriber)
            self.transports.append(transport)

    @property
    def expected_total(self) -> int:
        return self.expected_per_subscriber * len(self.subscribers)

    def update_message(self, number: int) -> dict[str, Any]:
        pad = "x" * self.plan["pad"]
        if self.kind == "raw":
            return {
                "type": "publish",
                "data": {
                    "seq": number + 1,
                    "version": self.version_of(number),
                    "content": f"{number}:{pad}",
                },
            }
        canvas = json.loads(json.dumps(self.plan["canvas"]))
        canvas["elements"][0]["content"] = f"{number}:{pad}"
        return {
            "type": "update",
            "data": {
                "graphic_id": self.plan["graphic_id"],
                "version": self.plan["version"] + number,
                "fencing_token": self.fencing_token,
                "data": canvas,
            },
        }

    async def publish(self, publisher: WSTransport, count: int, rate: float | None) -> None:
        start = time.perf_counter()
        for number in range(count):
            if rate:
                delay = start + number / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            message = self.update_message(number)
            message["request_id"] = f"u{number}"
            self.sent_at[self.version_of(number)] = time.time()
            send_json(publisher, message)
            if not rate and number % 20 == 19:
                await asyncio.sleep(0)  # let the readers run while publishing back to back

    async def drain_acks(self, listener: Subscriber, count: int) -> list[str]:
        errors = []
        acks = 0
        while acks < count:
            reply = await listener.replies.get()
            if reply.get("request_id", "").startswith("u"):
                acks += 1
                if reply["type"] != "ack":
                    errors.append(reply["data"].get("code", "?"))
        return errors

    async def run(self) -> dict[str, Any]:
        plan = self.plan
        pids = plan["server_pids"]
        semaphore = asyncio.Semaphore(plan.get("connect_concurrency", 200))
        rss_before = server_rss_bytes(pids)
        cpu_before_connect = server_cpu_seconds(pids)
        connect_started = time.perf_counter()
        await asyncio.gather(
            *(self.open_subscriber(index, url, semaphore) for index, url in enumerate(plan["urls"]))
        )
        connect_seconds = time.perf_counter() - connect_started
        await asyncio.sleep(plan.get("settle_seconds", 1.0))
        result: dict[str, Any] = {
            "subscribers": len(self.subscribers),
            "connect_seconds": round(connect_seconds, 2),
            "server_rss_before_mb": round(rss_before / 2**20, 1),
            "server_rss_after_connect_mb": round(server_rss_bytes(pids) / 2**20, 1),
            "rss_per_connection_kb": round(
                (server_rss_bytes(pids) - rss_before) / max(1, len(self.subscribers)) / 1024, 1
            ),
            "server_cpu_connect_ms_per_connection": round(
                (server_cpu_seconds(pids) - cpu_before_connect)
                * 1000
                / max(1, len(self.subscribers)),
                2,
            ),
        }
        if plan["mode"] == "idle":
            return result

        if plan.get("writer_command"):  # issue 17's burst: the events come from a writer process
            return await run_writer_burst(self, result)
        publisher, listener = await self.open(plan["publisher_url"], -1)
        if self.kind == "gal":
            await listener.replies.get()  # welcome
            send_json(
                publisher,
                {"type": "lock", "data": {"graphic_id": plan["graphic_id"]}, "request_id": "lock"},
            )
            reply = await listener.replies.get()
            assert reply["type"] == "ack", reply
            self.fencing_token = reply["data"]["lock"]["fencing_token"]

        count = (
            plan["updates"]
            if plan["mode"] in ("throughput", "burst")
            else int(plan["rate"] * plan["duration"])
        )
        self.expected_per_subscriber = count
        cpu_start = server_cpu_seconds(pids)
        client_cpu_start = time.process_time()
        started = time.perf_counter()
        rate = None if plan["mode"] in ("throughput", "burst") else plan["rate"]
        acks = asyncio.get_running_loop().create_task(self.drain_acks(listener, count))
        profiler = start_profiler(plan, pids)
        await self.publish(publisher, count, rate)
        try:
            await asyncio.wait_for(self.done.wait(), timeout=plan["timeout"])
            timed_out = False
        except TimeoutError:
            timed_out = True
        elapsed = time.perf_counter() - started
        cpu_used = server_cpu_seconds(pids) - cpu_start
        client_cpu_used = time.process_time() - client_cpu_start
        try:
            errors = await asyncio.wait_for(acks, timeout=10)
        except TimeoutError:
            errors = ["ack timeout"]
        publisher.send_close()
        publisher.disconnect()
        if profiler is not None:
            profiler.wait(timeout=120)

        losses = sum(max(0, count - len(set(s.seqs))) for s in self.subscribers)
        duplicates = sum(len(s.seqs) - len(set(s.seqs)) for s in self.subscribers)
        out_of_order = sum(
            1
            for s in self.subscribers
            if any(b <= a for a, b in zip(s.seqs, s.seqs[1:], strict=False))
        )
        deliveries = sum(len(s.seqs) for s in self.subscribers)
        latencies: list[float] = []
        commit_latencies: list[float] = []
        unmatched = 0
        for subscriber in self.subscribers:
            for version, timestamp, received_at in subscriber.receipts:
                sent_at = self.sent_at.get(version)
                if sent_at is None:
                    unmatched += 1
                else:
                    latencies.append(received_at - sent_at)
                commit_latencies.append(received_at - self.commit_time(timestamp))
        latencies.sort()
        commit_latencies.sort()
        result.update(
            {
                "updates": count,
                "updates_per_second": round(count / elapsed, 1) if elapsed else 0,
                "update_errors": errors[:5],
                "timed_out": timed_out,
                "deliveries": deliveries,
                "elapsed_seconds": round(elapsed, 3),
                "deliveries_per_second": round(deliveries / elapsed) if elapsed else 0,
                "server_cpu_seconds": round(cpu_used, 3),
                "load_client_cpu_seconds": round(client_cpu_used, 3),
                "server_cpu_us_per_delivery": round(cpu_used * 1e6 / deliveries, 1)
                if deliveries
                else None,
                "losses": losses,
                "duplicates": duplicates,
                "subscribers_out_of_order": out_of_order,
                "frame_bytes": max((s.frame_bytes for s in self.subscribers), default=0),
                "notices": sorted(set(self.notices)),
            }
        )
        if plan["mode"] == "burst":
            result.update(burst_figures(self.subscribers))
        if latencies:
            result.update(
                {
                    "latency_ms_p50": round(percentile(latencies, 0.50) * 1000, 1),
                    "latency_ms_p90": round(percentile(latencies, 0.90) * 1000, 1),
                    "latency_ms_p99": round(percentile(latencies, 0.99) * 1000, 1),
                    "latency_ms_max": round(latencies[-1] * 1000, 1),
                }
            )
        if commit_latencies:
            result.update(
                {
                    "commit_latency_ms_p50": round(percentile(commit_latencies, 0.50) * 1000, 1),
                    "commit_latency_ms_p99": round(percentile(commit_latencies, 0.99) * 1000, 1),
                    "latency_unmatched": unmatched,
                }
            )
        return result

    async def close(self) -> None:
        for transport in self.transports:
            transport.disconnect()


# -- issue 17: the `burst` scenario (batching) ----------------------------------------------------
# `burst` is `throughput` that also counts the frames which carried the events.


class BurstSubscriber(Subscriber):
    """A subscriber that counts the frames its events came in and unpacks `batch` frames (a
    connection opened with `?batch=1` gets the events that waited for it as one frame)."""

    def __init__(self, run: Run, index: int):
        super().__init__(run, index)
        self.event_frames = 0

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
        message = loads(payload)
        frames = message["frames"] if message.get("type") == "batch" else (message,)
        events = [inner for inner in frames if inner.get("type") == "graphic_update"]
        for inner in frames:
            if inner.get("type") not in ("heartbeat", "graphic_update"):
                self.replies.put_nowait(inner)
        if not events:
            return
        self.event_frames += 1
        self.frame_bytes = max(self.frame_bytes, len(payload))
        run = self.run
        for event in events:
            self.seqs.append(event["data"]["seq"])
        run.received += len(events)
        if run.received >= run.expected_total:
            run.done.set()


async def run_writer_burst(run: Run, result: dict[str, Any]) -> dict[str, Any]:
    """Start the writer (bench/burst_writer.py), let it write once it is ready, and wait for
    every subscriber to have every event: deliveries, losses, frames, drain time, server CPU."""
    plan = run.plan
    count = run.expected_per_subscriber = plan["updates"]
    writer = await asyncio.create_subprocess_exec(
        *plan["writer_command"], stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert writer.stdin is not None and writer.stdout is not None
    assert (await writer.stdout.readline()).strip() == b"ready"
    pids = plan["server_pids"]
    cpu_start = server_cpu_seconds(pids)
    started = time.perf_counter()
    writer.stdin.write(b"go\n")
    await writer.stdin.drain()
    try:
        await asyncio.wait_for(run.done.wait(), timeout=plan["timeout"])
        timed_out = False
    except TimeoutError:
        timed_out = True
    elapsed = time.perf_counter() - started
    cpu_used = server_cpu_seconds(pids) - cpu_start
    written = (await writer.stdout.read()).decode().strip()
    await writer.wait()
    subscribers = run.subscribers
    deliveries = sum(len(s.seqs) for s in subscribers)
    result.update(
        {
            "updates": count,
            "writer": written,
            "timed_out": timed_out,
            "deliveries": deliveries,
            "elapsed_seconds": round(elapsed, 3),
            "server_cpu_seconds": round(cpu_used, 3),
            "losses": sum(max(0, count - len(set(s.seqs))) for s in subscribers),
            "duplicates": sum(len(s.seqs) - len(set(s.seqs)) for s in subscribers),
            "subscribers_out_of_order": sum(
                1
                for s in subscribers
                if any(b <= a for a, b in zip(s.seqs, s.seqs[1:], strict=False))
            ),
            **burst_figures(subscribers),
        }
    )
    return result


def burst_figures(subscribers: list[Subscriber]) -> dict[str, Any]:
    frames = sum(getattr(subscriber, "event_frames", 0) for subscriber in subscribers)
    events = sum(len(subscriber.seqs) for subscriber in subscribers)
    return {
        "event_frames": frames,
        "event_frames_per_subscriber": round(frames / max(1, len(subscribers)), 1),
        "events_per_frame": round(events / frames, 1) if frames else None,
    }


async def main(plan: dict[str, Any]) -> None:
    run = Run(plan)
    try:
        result = await run.run()
    finally:
        await asyncio.wait_for(run.close(), timeout=60)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # uvloop only makes the load process cheaper per message
        asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
    else:
        uvloop.run(main(json.loads(Path(sys.argv[1]).read_text())))
