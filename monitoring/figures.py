"""The fleet's operating figures, read cheaply: RQ's registries, counters kept as events happen
(metrics/store.py, ledger/), a handful of worker and breaker hashes. Nothing here reads or scans
job records, so a scrape or an alert evaluation costs the same at 100 or 100,000 videos
(bench/metrics_scrape.py). /metrics, the dashboard overview and the alerts all read these.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.utils import str_to_date

import ledger
from breakers import BreakerBoard, BreakerState
from deadletter import DeadLetterQueue
from ledger.search_index import REVIEW_INDEX_KEY
from metrics import Metrics
from utils.redis_values import text


@dataclass(frozen=True)
class ProviderFigures:
    name: str
    breaker: str
    consecutive_failures: int
    opened_at: float | None
    cooldown_until: float | None
    calls: float
    failures: float
    cost_usd: float


@dataclass
class FleetFigures:
    at: float
    queued: int
    started: int
    scheduled: int
    dead_letter: int
    oldest_queued_age_seconds: float
    workers: int
    #: Seconds since the freshest worker heartbeat; None when no worker is registered.
    heartbeat_age_seconds: float | None
    review_waiting: int = 0
    review_oldest_seconds: float = 0.0
    counters: dict[str, float] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    providers: list[ProviderFigures] = field(default_factory=list)

    def jobs_by_state(self) -> dict[str, int]:
        """Live jobs by state, from RQ's registries and the DLQ (finished ones are counters: `events`)."""
        return {'queued': self.queued + self.scheduled, 'processing': self.started, 'failed': self.dead_letter,
                'completed': self.events.get('completed', 0)}  # fmt: skip


def fleet_figures(
    conn: Redis, queue_name: str, *, breaker_threshold: int = 5, breaker_cooldown: float = 60, now: float | None = None
) -> FleetFigures:
    now = time.time() if now is None else now
    queue = Queue(queue_name, connection=conn)
    counters = Metrics(conn).counters()
    board = BreakerBoard(conn, threshold=breaker_threshold, cooldown=breaker_cooldown)
    providers = []
    for name in sorted({key.split(':')[1] for key in counters if key.startswith('provider:') and key.count(':') == 2}):
        status = board.breaker(name).status(now)
        providers.append(
            ProviderFigures(
                name=name,
                breaker=status.state.value,
                consecutive_failures=status.consecutive_failures,
                opened_at=status.opened_at,
                cooldown_until=status.opened_at + breaker_cooldown
                if status.opened_at is not None and status.state is BreakerState.OPEN
                else None,
                calls=counters.get(f'provider:{name}:calls', 0),
                failures=counters.get(f'provider:{name}:failures', 0),
                cost_usd=counters.get(f'provider:{name}:cost_usd', 0),
            )
        )
    review_waiting, review_oldest = _review(conn, now)
    workers = Worker.all(connection=conn)
    beats = [_epoch(w.last_heartbeat) for w in workers if w.last_heartbeat]
    return FleetFigures(
        at=now,
        queued=queue.count,
        started=StartedJobRegistry(queue_name, connection=conn).count,
        scheduled=ScheduledJobRegistry(queue_name, connection=conn).count,  # type: ignore[no-untyped-call]
        dead_letter=DeadLetterQueue(conn).count(),
        oldest_queued_age_seconds=_oldest_queued_age(conn, queue, now),
        workers=len(workers),
        heartbeat_age_seconds=max(0.0, now - max(beats)) if beats else None,
        review_waiting=review_waiting,
        review_oldest_seconds=review_oldest,
        counters=counters,
        events=ledger.event_counts(conn),
        providers=providers,
    )


def _review(conn: Redis, now: float) -> tuple[int, float]:
    with conn.pipeline(transaction=False) as pipe:
        pipe.zcard(REVIEW_INDEX_KEY)
        pipe.zrange(REVIEW_INDEX_KEY, 0, 0, withscores=True)
        count, oldest = pipe.execute()
    return int(count), max(0.0, now - float(oldest[0][1])) if oldest else 0.0


def _oldest_queued_age(conn: Redis, queue: Queue, now: float) -> float:
    ids = queue.get_job_ids(0, 0)
    if not ids:
        return 0.0
    raw = conn.hget(Job.key_for(ids[0]), 'enqueued_at')
    if not raw:
        return 0.0
    return max(0.0, now - _epoch(str_to_date(text(raw))))


def _epoch(moment: datetime) -> float:
    # RQ keeps naive UTC datetimes; .timestamp() of a naive one would assume local time.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
