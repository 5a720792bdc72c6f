"""
The compression part of `make bench` (issue 17): bytes on the wire and server CPU for the
`"all"` snapshot of 200 graphics and for the snapshot of one canvas with many elements, with
permessage-deflate negotiated and without, against the real server (daphne through
gal_dashboard.serve, WS_COMPRESSION=auto).

    python bench/compression.py PORT SERVER_PID GRAPHIC_ID TOKEN [REPEATS]  -> one JSON line

A `websockets` client (which offers permessage-deflate by default) connects through a TCP proxy
that counts the bytes from the server; each snapshot is asked for REPEATS times (subscribe,
unsubscribe) and the figures are per snapshot. bench/fanout.py prepares the data and the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

from websockets.asyncio.client import connect

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CountingProxy:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self.to_client = 0
        self.port = 0

    async def start(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(1 << 16):
                    if count:
                        self.to_client += len(data)
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))


async def measure(
    port: int, pid: int, key: Any, token: str, compression: str | None, repeats: int
) -> dict[str, Any]:
    proxy = CountingProxy(port)
    await proxy.start()
    async with connect(
        f"ws://127.0.0.1:{proxy.port}/ws/graphics?token={token}",
        compression=compression,
        max_size=2**24,
        proxy=None,
    ) as ws:
        await ws.recv()  # welcome
        frame_chars = 0
        total_bytes = 0
        cpu = 0.0
        for number in range(repeats):
            before_bytes, before_cpu = proxy.to_client, server_cpu_seconds(pid)
            await ws.send(
                json.dumps({"type": "subscribe", "data": {"graphic_id": key}, "request_id": "s"})
            )
            while True:
                text = await ws.recv()
                if '"request_id":"s"' in text:
                    break
            total_bytes += proxy.to_client - before_bytes
            cpu += server_cpu_seconds(pid) - before_cpu
            frame_chars = len(text.encode() if isinstance(text, str) else text)
            await ws.send(
                json.dumps(
                    {"type": "unsubscribe", "data": {"graphic_id": key}, "request_id": f"u{number}"}
                )
            )
            while f'"request_id":"u{number}"' not in await ws.recv():
                pass
        extensions = [ext.name for ext in ws.protocol.extensions]
    return {
        "frame_bytes": frame_chars,
        "wire_bytes": round(total_bytes / repeats),
        "server_cpu_ms_per_snapshot": round(cpu * 1000 / repeats, 2),
        "extensions": extensions,
    }


async def main() -> None:
    port, pid, graphic_id, token = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
    )
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    result: dict[str, Any] = {}
    started = time.perf_counter()
    for name, key in (("all", "all"), ("canvas", graphic_id)):
        plain = await measure(port, pid, key, token, None, repeats)
        deflated = await measure(port, pid, key, token, "deflate", repeats)
        result[name] = {
            "plain": plain,
            "deflate": deflated,
            "ratio": round(plain["wire_bytes"] / max(1, deflated["wire_bytes"]), 2),
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
