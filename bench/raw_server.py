"""
The ceiling: a minimal WebSocket broadcast server with the `websockets` library.

It speaks just enough of our protocol for bench/load_client.py: `subscribe` (ack), `publish`
(encode the frame once, `websockets.broadcast` it to every subscriber, ack the publisher).
No auth, no database, no channel layer: what one Python process can do at best.

    python bench/raw_server.py PORT
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC, datetime

from websockets.asyncio.server import ServerConnection, broadcast, serve

subscribers: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    try:
        async for raw in connection:
            message = json.loads(raw)
            request_id = message.get("request_id")
            if message["type"] == "subscribe":
                subscribers.add(connection)
                await connection.send(
                    json.dumps({"type": "ack", "request_id": request_id, "data": {"seq": 0}})
                )
            elif message["type"] == "publish":
                data = message["data"]
                data["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                frame = json.dumps(
                    {"type": "graphic_update", "subscription": 1, "data": data},
                    separators=(",", ":"),
                )
                broadcast(subscribers, frame)
                await connection.send(
                    json.dumps({"type": "ack", "request_id": request_id, "data": {}})
                )
    finally:
        subscribers.discard(connection)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, max_size=2**20, ping_interval=None, backlog=4096):
        print(f"raw server listening on {port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
