"""The Redis connection: a real server from REDIS_URL, or the embedded in-process one.

With Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER) the server is whichever the
sentinels name as the master's primary, asked again on every new connection: after a
failover each client reconnects to the new primary (a write that meets the demoted one
gets ReadOnlyError, which redis-py's sentinel connection turns into a ConnectionError,
retried like any other).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import fakeredis
from redis import Redis
from redis.backoff import EqualJitterBackoff
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from settings import Settings, sentinel_addresses

_embedded_server: fakeredis.FakeServer | None = None

#: A command that gets no answer in this long is retried (RQ raises it for a blocking dequeue).
SOCKET_TIMEOUT_SECONDS = 10
#: Backoff between retries of one command: jittered, between half the cap and the cap once grown.
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 5.0
#: How often a connection through Sentinel asks whether its server is still the primary.
PRIMARY_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class SentinelTarget:
    """Where the sentinels are and which master they watch; REDIS_URL still gives db and password."""

    addresses: tuple[tuple[str, int], ...]
    master: str
    password: str = ''

    @classmethod
    def parse(cls, sentinels: str, master: str, password: str = '') -> SentinelTarget | None:
        """From REDIS_SENTINELS (`host:port,host:port,...`); None when it is empty."""
        addresses = sentinel_addresses(sentinels)
        if not addresses:
            return None
        if not master:
            raise ValueError('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set')
        return cls(addresses, master, password)

    def describe(self) -> str:
        """For messages: which master, through which sentinels (no password)."""
        return f'sentinel master {self.master!r} via ' + ','.join(f'{h}:{p}' for h, p in self.addresses)


def sentinel_target(settings: Settings) -> SentinelTarget | None:
    """The settings' Sentinel configuration, if any (Settings is passed in, never read here)."""
    password = settings.redis_sentinel_password
    return SentinelTarget.parse(
        settings.redis_sentinels,
        settings.redis_sentinel_master,
        password.get_secret_value() if password is not None else '',
    )


def connect(redis_url: str, *, outage_seconds: float = 0, sentinel: SentinelTarget | None = None) -> Redis:
    """A client for `redis_url`; an empty url means the embedded server of this process.

    Every command is retried with backoff on connection errors and timeouts for about
    `outage_seconds` (a worker rides out a Redis restart or failover; a CLI gives up fast).
    With `sentinel`, the host and port of `redis_url` are ignored: the sentinels name the primary.
    """
    if not redis_url:
        return embedded()
    options: dict[str, Any] = {
        'socket_connect_timeout': 5,
        'socket_timeout': SOCKET_TIMEOUT_SECONDS,
        'socket_keepalive': True,
        'health_check_interval': 30,
        'retry': command_retry(outage_seconds),
        'retry_on_error': [RedisConnectionError, RedisTimeoutError],
    }
    if sentinel is not None:
        return sentinel_master(redis_url, sentinel, **options)
    return Redis.from_url(redis_url, **options)


class PrimaryCheckedConnection(SentinelManagedConnection):
    """A connection to the primary that, once a second, asks the sentinels whether it still is.

    redis-py asks the sentinels only when it (re)connects. After a failover ordered while the
    old primary stays up (`SENTINEL FAILOVER`, maintenance), the old one keeps accepting writes
    until the sentinels demote it, tens of seconds later, and then drops them: without this
    check an open connection would write there all along. Past the check the command fails
    with ConnectionError, and the retry reconnects to the primary the sentinels name.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self._primary_checked_at = time.monotonic()

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._sock is not None and time.monotonic() - self._primary_checked_at >= PRIMARY_CHECK_SECONDS:
            primary = self.connection_pool.get_master_address()
            self._primary_checked_at = time.monotonic()
            if (self.host, self.port) != tuple(primary):
                self.disconnect()
                raise RedisConnectionError(f'the sentinels name a new primary for {self.connection_pool.service_name}')
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

    def read_response(self, disable_decoding: bool = False, **kwargs: Any) -> Any:
        # redis-py's sentinel connection keeps the socket when a read is interrupted (its
        # disconnect_on_error defaults to False, unlike Connection's): RQ's warm shutdown raises
        # out of a blocking dequeue, and the next command would read that dequeue's reply.
        kwargs.setdefault('disconnect_on_error', True)
        return super().read_response(disable_decoding, **kwargs)

    def _connect(self) -> Any:
        # Every (re)connect asks the sentinels first: redis-py asks them in connect() only, and a
        # command retried after a disconnect reconnects through here, to the last address it knew.
        if self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        sock = super()._connect()  # type: ignore[no-untyped-call]
        self._primary_checked_at = time.monotonic()
        return sock


def sentinel_master(redis_url: str, target: SentinelTarget, **options: Any) -> Redis:
    """A client of the primary that `target`'s sentinels name now, with `options` for its connections.

    RQ rebuilds a client from its pool's class and kwargs in its forked scheduler and pool
    workers; the kwargs carry the sentinel pool's proxy, so those clients follow failovers too.
    """
    from_url: dict[str, Any] = parse_url(redis_url)  # type: ignore[no-untyped-call]
    for key in ('db', 'username', 'password'):
        if from_url.get(key) is not None:
            options.setdefault(key, from_url[key])
    sentinel_options: dict[str, Any] = {
        'socket_connect_timeout': options.get('socket_connect_timeout', 5),
        'socket_timeout': min(float(options.get('socket_timeout') or 5), 5.0),
    }
    if target.password:
        sentinel_options['password'] = target.password
    sentinels = Sentinel(list(target.addresses), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    # The connection class (not the pool) is what RQ keeps when it rebuilds a client in a fork.
    client: Redis = sentinels.master_for(target.master, connection_class=PrimaryCheckedConnection, **options)  # type: ignore[no-untyped-call]
    return client


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
