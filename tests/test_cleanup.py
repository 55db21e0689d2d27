"""Cleanup removes what is old and finished, never a running job's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis

from deadletter.queue import ENTRY_PREFIX, INDEX_KEY
from locking import VideoLock
from maintenance import cleanup
from orders import parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, record_key
from tests.workers import ROOT

DAY = 86400


def make_job(conn: Redis, video_id: str, state: str, age_hours: float) -> None:
    o = parse_order({'order_id': video_id, 'child_name': 'Ana', 'age': 5, 'parent_email': 'a@example.com',
                     'consent': True})  # fmt: skip
    enqueue_order(conn, o, queue_name='q', job_timeout=60)
    conn.hset(record_key(video_id), mapping={'state': state, 'updated_at': time.time() - age_hours * 3600})


def old_dir(temp: Path, name: str, age_hours: float) -> Path:
    path = temp / name
    path.mkdir(parents=True)
    (path / 'speech.wav').write_bytes(b'x')
    then = time.time() - age_hours * 3600
    os.utime(path, (then, then))
    return path


def test_old_temp_goes_live_work_and_records_stay(redis_conn: Redis, tmp_path: Path) -> None:
    temp = tmp_path / 'tmp'
    stale = old_dir(temp, 'stale-job', 48)
    fresh = old_dir(temp, 'fresh-job', 1)
    running = old_dir(temp, 'running-job', 48)  # old directory, but its job is working right now
    processing = old_dir(temp, 'processing-job', 48)
    make_job(redis_conn, 'processing-job', 'processing', 48)
    make_job(redis_conn, 'done-old', 'completed', 200)
    make_job(redis_conn, 'done-new', 'completed', 1)
    make_job(redis_conn, 'failed-old', 'failed', 200)
    make_job(redis_conn, 'dead-old', 'failed', 200)
    redis_conn.set(ENTRY_PREFIX + 'dead-old', json.dumps({'video_id': 'dead-old'}))
    redis_conn.zadd(INDEX_KEY, {'dead-old': time.time()})

    with VideoLock(redis_conn, 'running-job', ttl_seconds=60, heartbeat_seconds=1):
        dry = cleanup(redis_conn, temp, temp_max_age_hours=24, jobs_max_age_hours=168, dry_run=True)
        assert stale.exists()  # a dry run touches nothing
        report = cleanup(redis_conn, temp, temp_max_age_hours=24, jobs_max_age_hours=168)

    assert dry.temp_paths == report.temp_paths == [str(stale)]
    assert sorted(report.kept_live) == [str(processing), str(running)]
    assert not stale.exists() and fresh.exists() and running.exists() and processing.exists()
    # Records are not cleanup's: each lives as long as its video (privacy/retention.py deletes both).
    records = JobRecords(redis_conn)
    assert all(records.get(v) is not None for v in ('done-old', 'done-new', 'failed-old', 'dead-old'))


def test_cli_cleanup_dry_run(redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path) -> None:
    stale = old_dir(Path(worker_env['TEMP_DIR']), 'stale-job', 48)
    done = subprocess.run([sys.executable, 'cli.py', 'cleanup', '--dry-run'], cwd=ROOT, env=worker_env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f'would remove temp {stale}' in done.stdout and stale.exists()
