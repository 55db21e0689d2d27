"""The cross-job event ledger: every timeline event of every video, in one capped Redis stream.

A job record's timeline (records/job_records.py) answers "what happened to this video"; the ledger
answers "what happened, everywhere, since X" — for the dashboard, `cli.py events --follow` and
`GET /api/admin/events`. It is written in the same pipeline as the timeline entry, so the two
never disagree, and it is capped (`XADD ... MAXLEN ~`): the oldest entries fall off, Redis
trims whole macro-nodes, which costs O(1) amortized. Each event also bumps a counter per kind
(`attempt:2` counts as `attempt`), which /metrics and the alerts read instead of scanning records.
Nothing personal goes in: video ids and event names only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.client import Pipeline

from utils.redis_values import text

STREAM_KEY = 'papanoel:ledger'
EVENT_COUNTS_KEY = 'papanoel:metrics:events'
#: About this many entries are kept (the `~` lets Redis trim by whole nodes, a few more may stay).
STREAM_MAXLEN = 100_000
#: Per-minute counts by kind (`<prefix><epoch minute>`), for "how many in the last N minutes".
MINUTE_COUNTS_PREFIX = 'papanoel:metrics:events:minute:'
MINUTE_COUNTS_TTL_SECONDS = 26 * 3600
MAX_READ = 1000


@dataclass(frozen=True)
class LedgerEvent:
    id: str
    video_id: str
    event: str
    at: float

    def as_dict(self) -> dict[str, Any]:
        return {'id': self.id, 'video_id': self.video_id, 'event': self.event, 'at': self.at}


#: How delivery/jobs.py names a delivery that failed for good: `email:<event>:failed`, `webhook:<event>:gave_up`...
DELIVERY_FAILED_SUFFIXES = (':failed', ':gave_up', ':refused')


def event_kind(event: str) -> str:
    """`attempt:2` -> `attempt`, `requeued: worker shutting down` -> `requeued`; an e-mail or webhook
    that failed for good -> `delivery_failed` (the delivery-failure alert counts those)."""
    if event.startswith(('email:', 'webhook:')) and event.endswith(DELIVERY_FAILED_SUFFIXES):
        return 'delivery_failed'
    return event.split(':', 1)[0].strip() or 'unknown'


def append(pipe: Pipeline | Redis, video_id: str, event: str, at: float) -> None:
    pipe.xadd(STREAM_KEY, {'video_id': video_id, 'event': event, 'at': repr(at)},
              maxlen=STREAM_MAXLEN, approximate=True)  # fmt: skip
    pipe.hincrby(EVENT_COUNTS_KEY, event_kind(event), 1)
    minute_key = MINUTE_COUNTS_PREFIX + str(int(at // 60))
    pipe.hincrby(minute_key, event_kind(event), 1)
    pipe.expire(minute_key, MINUTE_COUNTS_TTL_SECONDS)


def read(conn: Redis, since: str = '', limit: int = 100) -> list[LedgerEvent]:
    """Events after the entry id `since` (exclusive; '' = from the oldest kept), oldest first."""
    start = f'({since}' if since else '-'
    entries: Any = conn.xrange(STREAM_KEY, min=start, max='+', count=max(1, min(limit, MAX_READ)))
    return [_event(entry_id, fields) for entry_id, fields in entries]


def latest(conn: Redis, limit: int = 100) -> list[LedgerEvent]:
    """The newest `limit` events, oldest first."""
    entries: Any = conn.xrevrange(STREAM_KEY, max='+', min='-', count=max(1, min(limit, MAX_READ)))
    return [_event(entry_id, fields) for entry_id, fields in reversed(entries)]


def follow(conn: Redis, since: str = '$', block_ms: int = 5000) -> Iterator[LedgerEvent]:
    """Every new event after `since` ('$' = from now), as it happens; runs until the caller stops."""
    last = since
    while True:
        answer: Any = conn.xread({STREAM_KEY: last}, count=MAX_READ, block=block_ms)
        for _stream, entries in answer or []:
            for entry_id, fields in entries:
                event = _event(entry_id, fields)
                last = event.id
                yield event


def event_counts(conn: Redis) -> dict[str, int]:
    raw: Any = conn.hgetall(EVENT_COUNTS_KEY)
    return {text(k): int(v) for k, v in raw.items()}


def counts_since(conn: Redis, window_seconds: float, now: float) -> dict[str, int]:
    """Events by kind in the last `window_seconds`, to the minute (the current minute included)."""
    last = int(now // 60)
    first = int((now - window_seconds) // 60) + 1
    with conn.pipeline(transaction=False) as pipe:
        for minute in range(first, last + 1):
            pipe.hgetall(MINUTE_COUNTS_PREFIX + str(minute))
        buckets: Any = pipe.execute()
    totals: dict[str, int] = {}
    for bucket in buckets:
        for kind, count in bucket.items():
            totals[text(kind)] = totals.get(text(kind), 0) + int(count)
    return totals


def _event(entry_id: bytes | str, fields: dict[Any, Any]) -> LedgerEvent:
    values = {text(k): text(v) for k, v in fields.items()}
    return LedgerEvent(text(entry_id), values.get('video_id', ''), values.get('event', ''), float(values.get('at', 0)))
