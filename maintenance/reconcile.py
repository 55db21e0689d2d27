"""Reconciliation: job records that say queued/processing but that nothing will ever work.

RQ's own tools can remove a job behind our back: `rq empty <queue>` deletes every queued
job's hash, rq-dashboard deletes single jobs, a failover can drop the last writes. The
job record then says `queued` forever: no worker makes it and health counts 0 waiting.

The sweep finds records queued/processing (and untouched for a grace period) that have
no RQ job, no live video lock and no worker on them, and puts them back with a new RQ
job, or completes them when their video is already stored. Removing an order on purpose
is `cli.py cancel ID`, which marks the record so the sweep leaves it alone.

It is cheap: one SCAN over the record hashes per interval, for the whole fleet, under a
lock that doubles as the schedule (the first worker to take it sweeps, the others skip).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from redis import Redis, WatchError
from rq import Queue, Retry, Worker
from rq.job import Job

import events
from locking import holder_alive
from queueing.enqueue import enqueue_video_job
from records import KEY_PREFIX, JobRecords, State, record_key
from storage import Storage
from utils.redis_values import text

log = logging.getLogger(__name__)

RECONCILE_LOCK_KEY = 'papanoel:reconcile:lock'
_OPEN_STATES = {State.QUEUED.value, State.PROCESSING.value}


@dataclass
class ReconcileReport:
    requeued: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


def reconcile_if_due(
    conn: Redis,
    *,
    owner: str,
    every_seconds: float,
    queue_name: str,
    storage: Storage,
    job_timeout: int,
    retry: Retry | None,
    grace_seconds: float,
) -> ReconcileReport | None:
    """Sweep unless another worker did within `every_seconds` (the lock expires, never released)."""
    if not conn.set(RECONCILE_LOCK_KEY, owner, nx=True, px=max(1, int(every_seconds * 1000))):
        return None
    return reconcile(conn, queue_name=queue_name, storage=storage, job_timeout=job_timeout, retry=retry,
                     grace_seconds=grace_seconds)  # fmt: skip


def reconcile(
    conn: Redis,
    *,
    queue_name: str,
    storage: Storage,
    job_timeout: int,
    retry: Retry | None,
    grace_seconds: float,
    now: float | None = None,
) -> ReconcileReport:
    report = ReconcileReport()
    cutoff = (time.time() if now is None else now) - grace_seconds
    busy: set[str] | None = None  # the job ids workers say they are on, read once if needed
    for video_id in _open_record_ids(conn, cutoff):
        if conn.exists(Job.key_for(video_id)) or holder_alive(conn, video_id):
            continue
        if busy is None:
            busy = {job_id for w in Worker.all(connection=conn) if (job_id := w.get_current_job_id())}
        if video_id in busy:
            continue
        if storage.exists(video_id):
            _complete(conn, video_id, storage)
            report.completed.append(video_id)
        elif _requeue(conn, video_id, queue_name=queue_name, job_timeout=job_timeout, retry=retry):
            report.requeued.append(video_id)
    return report


def _open_record_ids(conn: Redis, updated_before: float) -> list[str]:
    found = []
    for raw in conn.scan_iter(match=f'{KEY_PREFIX}*', count=1000, _type='HASH'):
        key = text(raw)
        video_id = key[len(KEY_PREFIX) :]
        if ':' in video_id:
            continue  # a record's side keys (checkpoints, crashes)
        state, updated = conn.hmget(key, ['state', 'updated_at'])
        if state is not None and text(state) in _OPEN_STATES and float(text(updated or b'0')) < updated_before:
            found.append(video_id)
    return found


def _complete(conn: Redis, video_id: str, storage: Storage) -> None:
    records = JobRecords(conn)
    record = records.get(video_id)
    if record is None:
        return
    records.complete(video_id, output=storage.location(video_id), strategy=record.strategy,
                     providers=record.providers, attempts=record.attempts)  # fmt: skip
    log.warning(events.JOB_RECONCILED, extra={'video_id': video_id, 'reason': 'stored video, record left open'})


def _requeue(conn: Redis, video_id: str, *, queue_name: str, job_timeout: int, retry: Retry | None) -> bool:
    """A new RQ job for an open record that has none, unless someone changed either meanwhile."""
    key = record_key(video_id)
    with conn.pipeline() as pipe:
        try:
            pipe.watch(key, Job.key_for(video_id))  # type: ignore[no-untyped-call]
            state = pipe.hget(key, 'state')
            if state is None or text(state) not in _OPEN_STATES or pipe.exists(Job.key_for(video_id)):
                pipe.reset()
                return False
            pipe.multi()
            JobRecords.reopen(pipe, video_id, 'reconciled: its RQ job was gone')
            enqueue_video_job(Queue(queue_name, connection=conn), video_id, pipe, job_timeout=job_timeout,
                              retry=retry)  # fmt: skip
            pipe.execute()
        except WatchError:
            return False
    log.warning(events.JOB_RECONCILED, extra={'video_id': video_id, 'reason': 'no RQ job, no lock, no worker'})
    return True
