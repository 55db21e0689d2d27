"""A circuit breaker per provider, shared by all workers through Redis.

closed     calls go through; consecutive failures are counted, a success resets the count.
open       after `threshold` consecutive failures: every worker skips the provider until
           `cooldown` seconds have passed since it opened.
half-open  after the cool-down, exactly one worker (SET NX) makes a probe call; its success
           closes the circuit, its failure opens it for another cool-down. A probe that never
           reports (its worker died) frees the probe slot after `probe_timeout`.

Only failures that speak of the provider's health count: a rejected piece of content says
nothing about whether the provider is up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis

from providers.errors import ContentRejected, ProviderError
from utils.redis_values import text_dict

KEY_PREFIX = 'papanoel:breaker:'


class BreakerState(StrEnum):
    CLOSED = 'closed'
    OPEN = 'open'
    HALF_OPEN = 'half-open'


@dataclass(frozen=True)
class BreakerStatus:
    provider: str
    state: BreakerState
    consecutive_failures: int
    opened_at: float | None


class CircuitBreaker:
    def __init__(
        self, conn: Redis, provider: str, *, threshold: int, cooldown: float, probe_timeout: float = 600
    ) -> None:
        self.conn = conn
        self.provider = provider
        self.threshold = threshold
        self.cooldown = cooldown
        self.probe_timeout = probe_timeout
        self.key = KEY_PREFIX + provider
        self.probe_key = self.key + ':probe'

    def status(self, now: float | None = None) -> BreakerStatus:
        now = time.time() if now is None else now
        raw = text_dict(self.conn.hgetall(self.key))
        failures = int(raw.get('failures', 0))
        opened_at = float(raw['opened_at']) if raw.get('opened_at') else None
        if opened_at is None:
            state = BreakerState.CLOSED
        elif now < opened_at + self.cooldown:
            state = BreakerState.OPEN
        else:
            state = BreakerState.HALF_OPEN
        return BreakerStatus(self.provider, state, failures, opened_at)

    def allow(self, now: float | None = None) -> bool:
        """May this worker call the provider now? In half-open state only the one probe may."""
        state = self.status(now).state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        return bool(self.conn.set(self.probe_key, '1', nx=True, ex=max(1, int(self.probe_timeout))))

    def record_success(self) -> None:
        with self.conn.pipeline() as pipe:
            pipe.delete(self.key, self.probe_key)
            pipe.execute()

    def record_failure(self, error: ProviderError, now: float | None = None) -> None:
        if isinstance(error, ContentRejected):
            return
        now = time.time() if now is None else now
        probing = self.status(now).state is BreakerState.HALF_OPEN
        with self.conn.pipeline() as pipe:
            pipe.hincrby(self.key, 'failures', 1)
            pipe.hget(self.key, 'opened_at')
            failures, _ = pipe.execute()
        if probing or int(failures) >= self.threshold:
            # Opened (again) from now: a failed probe buys another full cool-down.
            with self.conn.pipeline() as pipe:
                pipe.hset(self.key, 'opened_at', now)
                pipe.delete(self.probe_key)
                pipe.execute()


class BreakerBoard:
    """The breakers of every provider, as the chain uses them."""

    def __init__(self, conn: Redis, *, threshold: int, cooldown: float) -> None:
        self.conn = conn
        self.threshold = threshold
        self.cooldown = cooldown

    def breaker(self, provider: str) -> CircuitBreaker:
        return CircuitBreaker(self.conn, provider, threshold=self.threshold, cooldown=self.cooldown)

    def allow(self, provider: str) -> bool:
        return self.breaker(provider).allow()

    def success(self, provider: str) -> None:
        self.breaker(provider).record_success()

    def failure(self, provider: str, error: ProviderError) -> None:
        self.breaker(provider).record_failure(error)
