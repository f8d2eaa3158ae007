"""An idle WebSocket's receive over the Redis layer outlives channels_redis's blocking read (BZPOPMIN, 5 s):
redis-py 8's default socket timeout is those same 5 s, and without the layer's own deadline the idle receive died
with ``redis.exceptions.TimeoutError`` instead of blocking on (``backend/config/channel_layers.py``)."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis
from channels_redis.core import RedisChannelLayer

from backend.config.channel_layers import LAYER_BLOCK_S, redis_layer


def _layer() -> RedisChannelLayer:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable")
    config = redis_layer(url, prefix=f"brigada-test-{uuid.uuid4().hex[:8]}")["CONFIG"]
    return RedisChannelLayer(**config)


@pytest.mark.slow
async def test_an_idle_receive_blocks_past_the_layers_read_and_then_gets_its_message() -> None:
    layer = _layer()
    try:
        name = await layer.new_channel()
        # when nothing arrives for longer than one blocking read: only our own wait ends it, no Redis error
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(name), timeout=LAYER_BLOCK_S + 3)
        # then the channel still works
        await layer.send(name, {"type": "offer.created", "id": 77})
        assert await asyncio.wait_for(layer.receive(name), timeout=5) == {"type": "offer.created", "id": 77}
    finally:
        await layer.flush()
        await layer.close_pools()
