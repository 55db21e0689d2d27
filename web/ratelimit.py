"""A per-client rate limit shared by every web process through Redis.

Fixed windows: one counter per client and window (INCR + EXPIRE in one round trip). A client
can at worst squeeze two windows' worth into the seconds around a boundary; for orders that
is acceptable, and it costs one key and one round trip per request, where a sliding log
would keep one entry per request.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from redis import Redis

log = logging.getLogger(__name__)

KEY_PREFIX = 'papanoel:web:ratelimit:'


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window resets; 0 when allowed


class RateLimiter:
    def __init__(self, conn: Redis, *, name: str, limit: int, window_seconds: int) -> None:
        self.conn = conn
        self.name = name
        self.limit = limit  # 0: no limit
        self.window_seconds = window_seconds

    def hit(self, client: str, now: float | None = None) -> Decision:
        """Count one request of `client` and say whether it may go ahead."""
        if self.limit <= 0:
            return Decision(True, 0, 0, 0)
        moment = time.time() if now is None else now
        window = int(moment // self.window_seconds)
        key = f'{KEY_PREFIX}{self.name}:{client}:{window}'
        with self.conn.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_seconds + 1)
            count = int(pipe.execute()[0])
        if count <= self.limit:
            return Decision(True, self.limit, self.limit - count, 0)
        reset = (window + 1) * self.window_seconds
        return Decision(False, self.limit, 0, max(1, math.ceil(reset - moment)))

    def peek(self, client: str, now: float | None = None) -> bool:
        """Whether `client` is over the limit now, without counting a request."""
        if self.limit <= 0:
            return False
        moment = time.time() if now is None else now
        key = f'{KEY_PREFIX}{self.name}:{client}:{int(moment // self.window_seconds)}'
        return int(self.conn.get(key) or 0) >= self.limit
