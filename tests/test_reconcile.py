"""Orders whose RQ job was removed behind our back (`rq empty`, a dashboard) are made anyway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from redis import Redis
from rq import Queue
from rq.job import Job

from cli import cli
from maintenance.reconcile import reconcile
from metrics import Metrics
from orders import Order, parse_order
from queueing.cancel import cancel_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from storage import LocalStorage
from tests.workers import FAST_RECOVERY, start_worker, stop, wait_for

QUEUE = 'papa-noel-videos'
RQ = str(Path(sys.executable).parent / 'rq')


def order(video_id: str) -> Order:
    return parse_order({'child_name': 'Sofía', 'age': 7, 'parent_email': 'p@example.com', 'consent': True,
                        'order_id': video_id})  # fmt: skip


def state(conn: Redis, video_id: str) -> State | None:
    record = JobRecords(conn).get(video_id)
    return record.state if record else None


def rq_empty(redis_url: str) -> None:
    """What an operator types: RQ's own CLI deletes the queued jobs' hashes."""
    done = subprocess.run([RQ, 'empty', '--url', redis_url, QUEUE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_orders_emptied_by_rq_are_put_back_and_made_once_by_a_real_worker(
    redis_conn: Redis, redis_url: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    ids = ['emptied-1', 'emptied-2']
    for video_id in ids:
        enqueue_order(redis_conn, order(video_id), queue_name=QUEUE, job_timeout=300)
    rq_empty(redis_url)
    assert Queue(QUEUE, connection=redis_conn).count == 0
    assert not any(redis_conn.exists(Job.key_for(v)) for v in ids)
    env = {**worker_env, **FAST_RECOVERY, 'RECONCILE_INTERVAL_SECONDS': '1', 'RECONCILE_GRACE_SECONDS': '0'}
    worker = start_worker(env, log=tmp_path / 'w.log')
    try:
        wait_for(lambda: all(state(redis_conn, v) is State.COMPLETED for v in ids), 120, 0.2, 'both videos')
    finally:
        stop(worker)
    assert Metrics(redis_conn).stages()['compose']['count'] == 2
    log = (tmp_path / 'w.log').read_text()
    assert log.count('"job.reconciled"') == 2, log[-3000:]


def test_the_sweep_completes_a_stored_video_and_leaves_live_and_canceled_orders_alone(
    redis_conn: Redis, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / 'output')
    for video_id in ('stored', 'lost', 'live', 'canceled', 'has-job'):
        enqueue_order(redis_conn, order(video_id), queue_name=QUEUE, job_timeout=300)
    Queue(QUEUE, connection=redis_conn).empty()  # type: ignore[no-untyped-call]
    enqueue_order(redis_conn, order('has-job'), queue_name=QUEUE, job_timeout=300)  # its job is back
    (tmp_path / 'video.mp4').write_bytes(b'a finished video')
    storage.save('stored', tmp_path / 'video.mp4')
    redis_conn.set('papanoel:lock:live:alive', '1', px=60_000)  # a live producer holds it
    cancel_order(redis_conn, 'canceled')

    report = reconcile(redis_conn, queue_name=QUEUE, storage=storage, job_timeout=300, retry=None, grace_seconds=0)
    assert report.completed == ['stored'] and report.requeued == ['lost']
    assert state(redis_conn, 'stored') is State.COMPLETED
    assert sorted(Queue(QUEUE, connection=redis_conn).job_ids) == ['has-job', 'lost']
    assert state(redis_conn, 'live') is State.QUEUED and state(redis_conn, 'canceled') is State.FAILED
    # Within the grace period nothing is touched: a record that just changed may be mid-transition.
    Queue(QUEUE, connection=redis_conn).empty()  # type: ignore[no-untyped-call]
    again = reconcile(redis_conn, queue_name=QUEUE, storage=storage, job_timeout=300, retry=None, grace_seconds=3600)
    assert again.requeued == [] and again.completed == []


def test_enqueueing_a_known_order_whose_job_is_gone_makes_the_job_again(redis_conn: Redis) -> None:
    o = order('known')
    enqueue_order(redis_conn, o, queue_name=QUEUE, job_timeout=300)
    Queue(QUEUE, connection=redis_conn).empty()  # type: ignore[no-untyped-call]
    again = enqueue_order(redis_conn, o, queue_name=QUEUE, job_timeout=300)
    assert not again.created and again.state is State.QUEUED
    assert Queue(QUEUE, connection=redis_conn).job_ids == ['known']
    third = enqueue_order(redis_conn, o, queue_name=QUEUE, job_timeout=300)  # its job exists: nothing new
    assert not third.created and Queue(QUEUE, connection=redis_conn).job_ids == ['known']


def test_cli_cancel_takes_a_queued_order_out_for_good(redis_conn: Redis, redis_url: str) -> None:
    enqueue_order(redis_conn, order('to-cancel'), queue_name=QUEUE, job_timeout=300)
    env = {'REDIS_URL': redis_url}
    done = CliRunner().invoke(cli, ['cancel', 'to-cancel'], env=env)
    assert done.exit_code == 0 and 'canceled to-cancel' in done.output, done.output
    assert Queue(QUEUE, connection=redis_conn).count == 0 and not redis_conn.exists(Job.key_for('to-cancel'))
    record = JobRecords(redis_conn).get('to-cancel')
    assert record is not None and record.state is State.FAILED and record.error == 'canceled by an operator'
    storage = LocalStorage(Path('/nonexistent'))
    assert reconcile(redis_conn, queue_name=QUEUE, storage=storage, job_timeout=300, retry=None,
                     grace_seconds=0).requeued == []  # fmt: skip
    assert not enqueue_order(redis_conn, order('to-cancel'), queue_name=QUEUE, job_timeout=300).created
    assert Queue(QUEUE, connection=redis_conn).count == 0
    for args in (['cancel', 'to-cancel'], ['cancel', 'nobody']):
        refused = CliRunner().invoke(cli, args, env=env)
        assert refused.exit_code == 1, refused.output
