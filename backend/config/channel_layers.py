"""The Redis channel layer's settings, in one place for the settings module and the tests that switch to Redis.

channels_redis receives with ``BZPOPMIN key 5`` (``brpop_timeout``): the command blocks up to 5 s on an idle channel.
redis-py 8 gives every connection a default ``socket_timeout`` of 5 s, the same as that block, so an idle socket's
receive raced its own read deadline and died with ``redis.exceptions.TimeoutError`` (seen as a flaky WebSocket
test). The layer's connections get a read deadline well above the block instead; a Redis that stops answering is
still noticed within it. No Django imports: the settings module imports this.
"""

from __future__ import annotations

from typing import Any

#: channels_redis's blocking receive (its ``brpop_timeout``), in seconds.
LAYER_BLOCK_S = 5
#: The layer's socket read deadline: longer than a blocking receive, short enough to notice a dead Redis.
LAYER_SOCKET_TIMEOUT_S = 15.0


def redis_layer(url: str, **config: Any) -> dict[str, Any]:
    """A ``CHANNEL_LAYERS["default"]`` entry for the Redis at ``url`` (``config`` adds e.g. a ``prefix``)."""
    host = {"address": url, "socket_timeout": LAYER_SOCKET_TIMEOUT_S}
    return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host], **config}}
