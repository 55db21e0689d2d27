"""What the alert rules look at, read cheaply (no job record is read).

Fleet figures come from monitoring/figures.py; "in the window" counts from the ledger's
per-minute event counters; how long a breaker has stayed open from a small hash this module
keeps (a breaker's own `opened_at` moves with every failed probe, so it cannot say).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

import ledger
from monitoring.figures import FleetFigures, fleet_figures
from settings import Settings
from utils.redis_values import text

BREAKER_OPEN_SINCE_KEY = 'papanoel:alerts:breaker_open_since'
FAILED_ATTEMPT_EVENTS = ('retry_scheduled', 'failed')
DELIVERY_FAILED_EVENT = 'delivery_failed'


@dataclass(frozen=True)
class Observation:
    at: float
    queue_depth: int
    oldest_queued_age_seconds: float
    heartbeat_age_seconds: float | None
    workers: int
    attempts: int
    failed_attempts: int
    dead_lettered: int
    delivery_failures: int
    review_oldest_seconds: float
    breaker_open_seconds: dict[str, float] = field(default_factory=dict)
    figures: FleetFigures | None = None


def observe(conn: Redis, settings: Settings, now: float | None = None) -> Observation:
    now = time.time() if now is None else now
    figures = fleet_figures(conn, settings.queue_name, breaker_threshold=settings.breaker_failure_threshold,
                            breaker_cooldown=settings.breaker_cooldown_seconds, now=now)  # fmt: skip
    window = ledger.counts_since(conn, settings.alert_window_seconds, now)
    return Observation(
        at=now,
        queue_depth=figures.queued,
        oldest_queued_age_seconds=figures.oldest_queued_age_seconds,
        heartbeat_age_seconds=figures.heartbeat_age_seconds,
        workers=figures.workers,
        attempts=window.get('attempt', 0),
        failed_attempts=sum(window.get(kind, 0) for kind in FAILED_ATTEMPT_EVENTS),
        dead_lettered=window.get('dead_lettered', 0),
        delivery_failures=window.get(DELIVERY_FAILED_EVENT, 0),
        review_oldest_seconds=figures.review_oldest_seconds,
        breaker_open_seconds=_breaker_open_seconds(conn, figures, now),
        figures=figures,
    )


def _breaker_open_seconds(conn: Redis, figures: FleetFigures, now: float) -> dict[str, float]:
    raw: Any = conn.hgetall(BREAKER_OPEN_SINCE_KEY)
    since = {text(k): float(v) for k, v in raw.items()}
    result: dict[str, float] = {}
    with conn.pipeline(transaction=False) as pipe:
        for provider in figures.providers:
            if provider.breaker == 'closed':
                if provider.name in since:
                    pipe.hdel(BREAKER_OPEN_SINCE_KEY, provider.name)
                continue
            start = min(since.get(provider.name, now), provider.opened_at or now)
            pipe.hset(BREAKER_OPEN_SINCE_KEY, provider.name, start)
            result[provider.name] = now - start
        pipe.execute()
    return result
