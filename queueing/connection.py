"""The Redis connection: a real server from REDIS_URL, or the embedded in-process one."""

from __future__ import annotations

import fakeredis
from redis import Redis

_embedded_server: fakeredis.FakeServer | None = None


def connect(redis_url: str) -> Redis:
    """A client for `redis_url`; an empty url means the embedded server of this process."""
    if not redis_url:
        return embedded()
    return Redis.from_url(redis_url, socket_connect_timeout=5, health_check_interval=30)


def embedded() -> Redis:
    """fakeredis, shared by every client in this process. It dies with the process: demo use only."""
    global _embedded_server
    if _embedded_server is None:
        _embedded_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_embedded_server)


def is_embedded(conn: Redis) -> bool:
    return isinstance(conn, fakeredis.FakeRedis)
