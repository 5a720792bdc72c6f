"""What the Redis backends of the realtime stores share: the client's bounds and the keys."""

from __future__ import annotations

from typing import Any

from realtime.redis_store import redis_client, store_key


async def test_the_redis_client_takes_its_timeouts_from_settings(settings: Any) -> None:
    """The stores' Redis client is bounded by REDIS_STORE_TIMEOUT_SECONDS, read when it is made:
    connecting, each command and waiting for a pooled connection all give up after it."""
    settings.REDIS_STORE_TIMEOUT_SECONDS = 0.75
    client = redis_client("redis://127.0.0.1:6379/0")  # makes no connection until used
    try:
        pool = client.connection_pool
        assert pool.timeout == 0.75
        assert pool.connection_kwargs["socket_timeout"] == 0.75
        assert pool.connection_kwargs["socket_connect_timeout"] == 0.75
    finally:
        await client.aclose(close_connection_pool=True)


def test_store_keys_sit_under_the_channel_layer_prefix(settings: Any) -> None:
    """Servers that share a channel layer share the stores; without a prefix, `gal`."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "x", "CONFIG": {"prefix": "blue"}}}
    assert store_key("presence") == "blue:presence"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert store_key("connections") == "gal:connections"
