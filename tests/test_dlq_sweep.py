"""The dead-letter sweep on a real Redis whose RQ state is inconsistent (as a failover leaves it)."""

from __future__ import annotations

import logging

import pytest
from redis import Redis
from rq import Queue
from rq.executions import ExecutionRegistry
from rq.job import Job
from rq.registry import FailedJobRegistry

import events
from deadletter import DeadLetterQueue
from orders import parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State

QUEUE = 'papa-noel-videos'


def failed_job(conn: Redis, video_id: str) -> Job:
    """An order whose RQ job failed for good: in RQ's failed registry, out of the queue."""
    o = parse_order({'child_name': 'Sofía', 'age': 7, 'parent_email': 'p@example.com', 'consent': True,
                     'order_id': video_id})  # fmt: skip
    enqueue_order(conn, o, queue_name=QUEUE, job_timeout=300)
    job = Job.fetch(video_id, connection=conn)
    Queue(QUEUE, connection=conn).remove(job)
    FailedJobRegistry(QUEUE, connection=conn).add(job, ttl=3600, exc_string='ValueError: boom')
    return job


def test_sweep_moves_every_entry_past_inconsistent_rq_state(
    redis_conn: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # An execution listed for the job whose hash is gone: RQ's job.delete() raises ValueError.
    failed_job(redis_conn, 'v-execution-gone')
    redis_conn.zadd(ExecutionRegistry('v-execution-gone', connection=redis_conn).key, {'gone': 9e9})
    # The job hash lost, its failed-registry entry kept.
    failed_job(redis_conn, 'v-job-gone')
    redis_conn.delete(Job.key_for('v-job-gone'))
    # A half-written job hash: RQ cannot read it back.
    failed_job(redis_conn, 'v-half-written')
    redis_conn.hdel(Job.key_for('v-half-written'), 'data')
    failed_job(redis_conn, 'v-fine')
    ids = ['v-execution-gone', 'v-job-gone', 'v-half-written', 'v-fine']

    with caplog.at_level(logging.WARNING):
        moved = DeadLetterQueue(redis_conn).sweep(QUEUE)

    assert sorted(moved) == sorted(ids)
    assert FailedJobRegistry(QUEUE, connection=redis_conn).get_job_ids() == []
    for video_id in ids:
        assert DeadLetterQueue(redis_conn).contains(video_id), video_id
        assert not redis_conn.exists(Job.key_for(video_id)), video_id
        record = JobRecords(redis_conn).get(video_id)
        assert record is not None and record.state is State.FAILED
    inconsistent = sorted(r.video_id for r in caplog.records if r.getMessage() == events.DLQ_RQ_STATE_INCONSISTENT)  # type: ignore[attr-defined]
    assert inconsistent == ['v-execution-gone', 'v-half-written', 'v-job-gone']
    # A second sweep finds nothing left to trip over.
    assert DeadLetterQueue(redis_conn).sweep(QUEUE) == []
