"""A poison job that kills its work horse on every attempt ends in the DLQ with every crash listed."""

from __future__ import annotations

import os
from pathlib import Path

from redis import Redis

from deadletter import DeadLetterQueue
from orders import parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from tests.workers import FAST_RECOVERY, start_worker, stop, wait_for

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
