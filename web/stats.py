"""Fleet-wide figures read from Redis for /metrics and the ops dashboard.

Job counts by state come from the job records themselves (SCAN + one pipelined HMGET per
batch), so they agree with what `cli.py status` shows; records are cleaned up after
JOBS_MAX_AGE_HOURS, which keeps the scan bounded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from deadletter import DeadLetterQueue
from ledger import search_index
from records import KEY_PREFIX, State, record_key
from utils.redis_values import text as decode_text

log = logging.getLogger(__name__)

SCAN_BATCH = 500
_FIELDS = ('state', 'stage', 'created_at', 'updated_at', 'strategy', 'attempt')


@dataclass(frozen=True)
class JobSummary:
    video_id: str
    state: str
    stage: str
    created_at: float
    updated_at: float
    strategy: str
    attempt: int


def job_summaries(conn: Redis) -> list[JobSummary]:
    """Every job record, summarized (no order data: nothing personal leaves this function)."""
    summaries: list[JobSummary] = []
    batch: list[str] = []
    for raw in conn.scan_iter(match=f'{KEY_PREFIX}*', count=SCAN_BATCH):
        video_id = decode_text(raw).removeprefix(KEY_PREFIX)
        if ':' in video_id:  # the timeline and checkpoints beside each record
            continue
        batch.append(video_id)
        if len(batch) >= SCAN_BATCH:
            summaries.extend(_summaries(conn, batch))
            batch = []
    if batch:
        summaries.extend(_summaries(conn, batch))
    return summaries


def _summaries(conn: Redis, video_ids: list[str]) -> list[JobSummary]:
    with conn.pipeline(transaction=False) as pipe:
        for video_id in video_ids:
            pipe.hmget(KEY_PREFIX + video_id, _FIELDS)
        rows = pipe.execute()
    result = []
    for video_id, row in zip(video_ids, rows, strict=True):
        values = [decode_text(v) if v is not None else '' for v in row]
        if not values[0]:  # deleted meanwhile
            continue
        state, stage, created, updated, strategy, attempt = values
        result.append(JobSummary(video_id, state, stage, _float(created), _float(updated), strategy, int(attempt or 0)))
    return result


def counts_by_state(summaries: list[JobSummary]) -> dict[str, int]:
    counts = {state.value: 0 for state in State}
    for summary in summaries:
        counts[summary.state] = counts.get(summary.state, 0) + 1
    return counts


def queue_figures(conn: Redis, queue_name: str) -> dict[str, int]:
    queue = Queue(queue_name, connection=conn)
    return {
        'queued': queue.count,
        'started': StartedJobRegistry(queue_name, connection=conn).count,
        'scheduled': ScheduledJobRegistry(queue_name, connection=conn).count,  # type: ignore[no-untyped-call]
        'dead_letter': DeadLetterQueue(conn).count(),
    }


def workers(conn: Redis) -> list[dict[str, Any]]:
    result = []
    for worker in Worker.all(connection=conn):
        result.append(
            {
                'name': worker.name,
                'state': str(worker.get_state()),
                'queues': worker.queue_names(),
                'hostname': worker.hostname,
                'pid': worker.pid,
                'birth': _utc_timestamp(worker.birth_date),
                'last_heartbeat': _utc_timestamp(worker.last_heartbeat),
                'current_job': worker.get_current_job_id(),
                'successful_jobs': worker.successful_job_count,
                'failed_jobs': worker.failed_job_count,
            }
        )
    return sorted(result, key=lambda w: str(w['name']))


def _utc_timestamp(moment: Any) -> float | None:
    if moment is None:
        return None
    # RQ stores naive UTC datetimes.
    return float(moment.replace(tzinfo=UTC).timestamp())


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def summaries_of(conn: Redis, video_ids: list[str]) -> list[dict[str, Any]]:
    """The dashboard's rows for these ids (one pipelined HMGET each); ids whose record is gone are dropped."""
    fields = ('state', 'stage', 'strategy', 'attempt', 'created_at', 'updated_at')
    with conn.pipeline(transaction=False) as pipe:
        for video_id in video_ids:
            pipe.hmget(record_key(video_id), fields)
        rows = pipe.execute()
    result, gone = [], []
    for video_id, row in zip(video_ids, rows, strict=True):
        values = [v.decode() if isinstance(v, bytes) else v for v in row]
        if values[0] is None:
            gone.append(video_id)
            continue
        state, stage, strategy, attempt, created, updated = values
        result.append({'video_id': video_id, 'state': state, 'stage': stage or '', 'strategy': strategy or '',
                       'attempt': int(attempt or 0), 'created_at': float(created or 0),
                       'updated_at': float(updated or 0)})  # fmt: skip
    search_index.prune(conn, gone)
    return result
