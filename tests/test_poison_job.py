"""A poison job that kills its work horse on every attempt ends in the DLQ with every crash listed,
wherever the horse dies: mid-job, or between RQ's dequeue and the job's start."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from redis import Redis
from rq import Queue

from deadletter import DeadLetterQueue
from locking import VideoLock
from orders import parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from tests.workers import FAST_RECOVERY, horse_of, start_worker, stop, wait_for

QUEUE = 'papa-noel-videos'


def test_a_job_crashing_its_horse_every_time_is_dead_lettered_with_each_crash(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    o = parse_order({'child_name': 'Pía', 'age': 6, 'parent_email': 'p@example.com', 'consent': True})
    enqueue_order(redis_conn, o, queue_name=QUEUE, job_timeout=300, retry=job_retry(3, [0]))
    poison = tmp_path / 'bin'
    poison.mkdir()
    # The speech engine SIGKILLs its caller, the work horse: no error handling of ours runs.
    (poison / 'espeak-ng').write_text('#!/bin/sh\nkill -9 $PPID\nsleep 5\n')
    (poison / 'espeak-ng').chmod(0o755)
    env = {**worker_env, **FAST_RECOVERY, 'PATH': f'{poison}:{os.environ["PATH"]}'}
    worker = start_worker(env, log=tmp_path / 'w.log')
    try:
        wait_for(lambda: DeadLetterQueue(redis_conn).contains(o.video_id), 120, 0.2, 'the dead-letter entry')
    finally:
        stop(worker)
    entry = DeadLetterQueue(redis_conn).get(o.video_id)
    assert entry.attempts == 3
    assert [e['attempt'] for e in entry.errors] == [1, 2, 3], entry.errors
    assert {e['error_type'] for e in entry.errors} == {'WorkerLost'}
    assert all('signal 9' in e['message'] for e in entry.errors), entry.errors
    record = JobRecords(redis_conn).get(o.video_id)
    assert record is not None and record.state is State.FAILED


def test_a_horse_killed_before_its_job_starts_has_each_spent_attempt_listed(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    o = parse_order({'child_name': 'Noa', 'age': 5, 'parent_email': 'p@example.com', 'consent': True})
    enqueue_order(redis_conn, o, queue_name=QUEUE, job_timeout=300, retry=job_retry(3, [0]))
    env = {**worker_env, **FAST_RECOVERY}
    killed: set[int] = set()
    started = Queue(QUEUE, connection=redis_conn).started_job_registry
    # A live holder of the video's lock: every horse waits for it before its attempt can start,
    # so each one killed dies after RQ's dequeue and before the job records anything.
    with VideoLock(redis_conn, o.video_id, ttl_seconds=600, heartbeat_seconds=1):
        worker = start_worker(env, log=tmp_path / 'w.log')
        try:

            def kill_each_new_horse() -> bool:
                if DeadLetterQueue(redis_conn).contains(o.video_id):
                    return True  # the horses from here on carry the parent's e-mail
                if o.video_id not in started.get_job_ids(cleanup=False):
                    return False  # no horse of this job yet (the worker's children at start-up run FFmpeg)
                horse = horse_of(worker.pid)
                if horse is not None and horse not in killed:
                    os.kill(horse, signal.SIGKILL)
                    killed.add(horse)
                return False

            wait_for(kill_each_new_horse, 120, 0.05, 'the dead-letter entry')
        finally:
            stop(worker)
    entry = DeadLetterQueue(redis_conn).get(o.video_id)
    assert len(killed) == 3
    assert entry.attempts == 3
    assert [e['attempt'] for e in entry.errors] == [1, 2, 3], entry.errors
    assert {e['error_type'] for e in entry.errors} == {'WorkerLost'}
    assert all('signal 9' in e['message'] for e in entry.errors), entry.errors
    record = JobRecords(redis_conn).get(o.video_id)
    assert record is not None and record.state is State.FAILED and record.attempt == 3
    assert not any(e['event'].startswith('attempt:') for e in JobRecords(redis_conn).timeline(o.video_id))
