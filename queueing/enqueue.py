"""Enqueue an order: one job record and one RQ job, written together, at most once per order id."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis, WatchError
from redis.client import Pipeline
from rq import Queue, Retry
from rq.job import Job

import events
from locking import holder_alive
from orders.model import Order
from records import JobRecords, State, record_key
from utils.redis_values import text

log = logging.getLogger(__name__)

JOB_FUNCTION = 'workers.jobs.process_video'
#: A finished RQ job's result is not needed: the job record holds the outcome.
RESULT_TTL_SECONDS = 24 * 3600
FAILURE_TTL_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class Enqueued:
    video_id: str
    created: bool  # False: this order id was already enqueued, nothing new was written
    state: State


def enqueue_order(
    conn: Redis, order: Order, *, queue_name: str, job_timeout: int, retry: Retry | None = None
) -> Enqueued:
    """Write the job record and enqueue its RQ job in one transaction, unless the order id is known."""
    queue = Queue(queue_name, connection=conn)
    records = JobRecords(conn)
    key = record_key(order.video_id)
    while True:
        with conn.pipeline() as pipe:
            try:
                pipe.watch(key, Job.key_for(order.video_id))  # type: ignore[no-untyped-call]
                state = pipe.hget(key, 'state')
                if state is not None and not _job_lost(pipe, conn, order.video_id, State(text(state))):
                    log.info(events.ORDER_DUPLICATE, extra={'video_id': order.video_id})
                    return Enqueued(order.video_id, created=False, state=State(text(state)))
                pipe.multi()
                if state is None:
                    records.create(pipe, order)
                else:  # known, still open, but its RQ job was removed (`rq empty`, a dashboard): make it again
                    JobRecords.reopen(pipe, order.video_id, 'enqueued again, its RQ job was gone')
                enqueue_video_job(queue, order.video_id, pipe, job_timeout=job_timeout, retry=retry)
                pipe.execute()
            except WatchError:
                continue  # someone wrote this order id meanwhile: look again
        if state is not None:
            log.warning(events.JOB_RECONCILED, extra={'video_id': order.video_id, 'reason': 'enqueued again'})
            return Enqueued(order.video_id, created=False, state=State.QUEUED)
        log.info(events.ORDER_ENQUEUED, extra={'video_id': order.video_id, 'queue': queue_name})
        return Enqueued(order.video_id, created=True, state=State.QUEUED)


def _job_lost(pipe: Pipeline, conn: Redis, video_id: str, state: State) -> bool:
    """An open record with no RQ job and no live producer: nothing would ever make this video."""
    if state not in (State.QUEUED, State.PROCESSING) or pipe.exists(Job.key_for(video_id)):
        return False
    return not holder_alive(conn, video_id)


def enqueue_video_job(queue: Queue, video_id: str, pipe: Pipeline, *, job_timeout: int, retry: Retry | None) -> None:
    """Add the RQ job for `video_id` to the caller's transaction (`pipe` must be in MULTI)."""
    queue.enqueue_call(
        JOB_FUNCTION,
        args=(video_id,),
        job_id=video_id,
        timeout=job_timeout,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=FAILURE_TTL_SECONDS,
        description=f'papa-noel video {video_id}',
        retry=retry,
        pipeline=pipe,
    )
