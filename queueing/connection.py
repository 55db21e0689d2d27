"""The Redis connection: a real server from REDIS_URL, or the embedded in-process one."""

from __future__ import annotations

import math

import fakeredis
from redis import Redis
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

_embedded_server: fakeredis.FakeServer | None = None

#: A command that gets no answer in this long is retried (RQ raises it for a blocking dequeue).
SOCKET_TIMEOUT_SECONDS = 10
#: Backoff between retries of one command: jittered, between half the cap and the cap once grown.
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 5.0


def connect(redis_url: str, *, outage_seconds: float = 0) -> Redis:
    """A client for `redis_url`; an empty url means the embedded server of this process.

    Every command is retried with backoff on connection errors and timeouts for about
    `outage_seconds` (a worker rides out a Redis restart or failover; a CLI gives up fast).
    """
    if not redis_url:
        return embedded()
    return Redis.from_url(
        redis_url,
        socket_connect_timeout=5,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_keepalive=True,
        health_check_interval=30,
        retry=command_retry(outage_seconds),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def command_retry(outage_seconds: float) -> Retry:
    # Once grown, each wait is at least half the cap: this many retries cover the outage.
    retries = 3 + math.ceil(max(0.0, outage_seconds) / (BACKOFF_CAP_SECONDS / 2))
    return Retry(EqualJitterBackoff(cap=BACKOFF_CAP_SECONDS, base=BACKOFF_BASE_SECONDS), retries)


def embedded() -> Redis:
    """fakeredis, shared by every client in this process. It dies with the process: demo use only."""
    global _embedded_server
    if _embedded_server is None:
        _embedded_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_embedded_server)


def is_embedded(conn: Redis) -> bool:
    return isinstance(conn, fakeredis.FakeRedis)
