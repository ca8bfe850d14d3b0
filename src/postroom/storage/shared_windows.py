"""Rate-limit windows shared by every Postroom process, kept in Redis (setting `redis_url`).

A window is one Redis key holding the count, created with the window's length as its expiry; a take
is one Lua script, so it is atomic however many processes take at once. Keys live under
`postroom:<namespace>:rl:`, the namespace being an id stored in the database (`server_state`), so
processes sharing a database share limits and two installations sharing a Redis do not.

Limits protect; they do not hold data. When Redis cannot be reached, a take is counted in this
process instead (MemoryWindows) and a warning is logged once until Redis answers again.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from postroom.ratelimit import MemoryWindows, Taken

log = logging.getLogger(__name__)

# KEYS[1] the window; ARGV: events, limit, window in ms → {fitted 0/1, count, ms until the window ends}
TAKE = """
local n = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
local used = 0
if ttl > 0 then
  used = tonumber(redis.call('GET', KEYS[1]) or '0')
else
  ttl = tonumber(ARGV[3])
end
if used + n > limit then
  return {0, used, ttl}
end
if used == 0 then
  redis.call('SET', KEYS[1], n, 'PX', ttl)
  return {1, n, ttl}
end
return {1, redis.call('INCRBY', KEYS[1], n), ttl}
"""


class RedisWindows:
    def __init__(self, url: str, namespace: str, client: Any = None) -> None:
        self._redis: Redis = client or Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = f"postroom:{namespace}:rl:"
        self._script = self._redis.register_script(TAKE)
        self._fallback = MemoryWindows()
        self._failing = False

    async def take(self, name: str, n: int, limit: int, seconds: float) -> Taken:
        try:
            fitted, used, ms = await self._script(
                keys=[self._prefix + name], args=[n, limit, max(1, int(seconds * 1000))]
            )
        except (RedisError, OSError) as exc:
            if not self._failing:
                log.warning("Redis is unreachable (%s); rate limits count in this process", exc)
                self._failing = True
            return self._fallback.take_now(name, n, limit, seconds)
        if self._failing:
            log.warning("Redis answers again; rate limits are shared again")
            self._failing = False
        return Taken(bool(fitted), int(used), int(ms) / 1000)

    async def close(self) -> None:
        await self._redis.aclose()
