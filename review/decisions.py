"""Holding an order for review, and a reviewer's decision, each one Redis transaction.

A held order has its job record (state `review`, the flags, a `held_for_review` timeline event)
and a place in the review index, and no RQ job: there is nothing a worker could pick up.
Approving writes the decision and enqueues the job together; rejecting fails the record with the
reviewer's reason, which the parent's status page shows. Both refuse a record not in review, so
a double click or two reviewers cannot enqueue twice or undo a decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from redis import Redis, WatchError
from redis.client import Pipeline
from rq import Queue, Retry

import events
from orders.model import Order
from queueing.enqueue import Enqueued, enqueue_video_job
from records import JobRecord, JobRecords, State, record_key
from utils.redis_values import text

log = logging.getLogger(__name__)

#: Video ids waiting for a reviewer, scored by when they were held (oldest first).
REVIEW_INDEX = 'papanoel:review:pending'
REASON_MAX = 300


class NotInReview(LookupError):
    """The video is unknown, or not (any more) waiting for review."""


def hold_order(conn: Redis, order: Order, flags: list[str]) -> Enqueued:
    """Accept `order` in state `review`, unless its id is known (then nothing is written)."""
    records = JobRecords(conn)
    key = record_key(order.video_id)
    while True:
        with conn.pipeline() as pipe:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                state = pipe.hget(key, 'state')
                if state is not None:
                    log.info(events.ORDER_DUPLICATE, extra={'video_id': order.video_id})
                    return Enqueued(order.video_id, created=False, state=State(text(state)))
                pipe.multi()
                records.create(pipe, order, review_flags=flags)
                pipe.zadd(REVIEW_INDEX, {order.video_id: time.time()})
                pipe.execute()
            except WatchError:
                continue
        log.info(events.ORDER_HELD_FOR_REVIEW, extra={'video_id': order.video_id, 'flags': flags})
        return Enqueued(order.video_id, created=True, state=State.REVIEW)


def approve(conn: Redis, video_id: str, *, queue_name: str, job_timeout: int, retry: Retry | None = None) -> None:
    """The message may be said: queue the video (decision and job in one transaction)."""
    queue = Queue(queue_name, connection=conn)

    def write(pipe: Pipeline) -> None:
        enqueue_video_job(queue, video_id, pipe, job_timeout=job_timeout, retry=retry)

    _decide(conn, video_id, approved=True, reason='', also=write)
    log.info(events.REVIEW_APPROVED, extra={'video_id': video_id})


def reject(conn: Redis, video_id: str, reason: str) -> None:
    """The message may not be said: the order fails, and the parent sees `reason`."""
    reason = ' '.join(reason.split())[:REASON_MAX]
    _decide(conn, video_id, approved=False, reason=reason, also=None)
    log.info(events.REVIEW_REJECTED, extra={'video_id': video_id})


def _decide(
    conn: Redis, video_id: str, *, approved: bool, reason: str, also: Callable[[Pipeline], None] | None
) -> None:
    records = JobRecords(conn)
    key = record_key(video_id)
    while True:
        with conn.pipeline() as pipe:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                state = pipe.hget(key, 'state')
                if state is None or text(state) != State.REVIEW.value:
                    raise NotInReview(video_id)
                pipe.multi()
                records.decide_review(pipe, video_id, approved=approved, reason=reason)
                pipe.zrem(REVIEW_INDEX, video_id)
                if also is not None:
                    also(pipe)
                pipe.execute()
                return
            except WatchError:
                continue


def pending(conn: Redis, limit: int = 100) -> list[JobRecord]:
    """The records waiting for review, oldest first."""
    records = JobRecords(conn)
    found = []
    raw_ids: list[Any] = conn.zrange(REVIEW_INDEX, 0, limit - 1)
    for raw in raw_ids:
        record = records.get(text(raw))
        if record is not None and record.state is State.REVIEW:
            found.append(record)
    return found
