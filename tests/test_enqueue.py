"""Enqueueing on a real Redis server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from orders import Order, parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State

ROOT = Path(__file__).resolve().parent.parent
QUEUE = 'test-videos'


def make_order(**changes: object) -> Order:
    data = {'child_name': 'Pablo', 'age': 8, 'parent_email': 'p@example.com', 'consent': True, **changes}
    return parse_order(data)


def test_enqueue_writes_a_queued_record_and_an_rq_job(redis_conn: Redis) -> None:
    order = make_order()
    result = enqueue_order(redis_conn, order, queue_name=QUEUE, job_timeout=600)
    assert result.created and result.state is State.QUEUED
    queue = Queue(QUEUE, connection=redis_conn)
    assert queue.job_ids == [order.video_id]
    job = queue.fetch_job(order.video_id)
    assert job is not None and job.func_name == 'workers.jobs.process_video' and job.args == (order.video_id,)
    assert job.timeout == 600
    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None and record.state is State.QUEUED and record.order == order
    assert [e['event'] for e in JobRecords(redis_conn).timeline(order.video_id)] == ['queued']


def test_same_order_id_twice_gives_one_job(redis_conn: Redis) -> None:
    first = make_order(order_id='order-123')
    second = make_order(order_id='order-123', child_name='Otro')
    assert enqueue_order(redis_conn, first, queue_name=QUEUE, job_timeout=600).created
    again = enqueue_order(redis_conn, second, queue_name=QUEUE, job_timeout=600)
    assert not again.created and again.state is State.QUEUED
    assert Queue(QUEUE, connection=redis_conn).job_ids == ['order-123']
    record = JobRecords(redis_conn).get('order-123')
    assert record is not None and record.order.child_name == 'Pablo'  # nothing accepted is overwritten


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, 'cli.py', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_cli_enqueue_is_visible_to_rq_info(redis_conn: Redis, worker_env: dict[str, str]) -> None:
    env = {**worker_env, 'QUEUE_NAME': QUEUE}
    done = cli('enqueue', '--name', 'Lucía', '--age', '5', '--order-id', 'cli-1', env=env)
    assert done.returncode == 0, done.stderr
    assert '"created": true' in done.stdout
    info = subprocess.run([str(Path(sys.executable).parent / 'rq'), 'info', '--url', env['REDIS_URL'], QUEUE],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert '1 queues, 1 jobs total' in info.stdout, info.stdout


def test_cli_refuses_bad_input_naming_fields_and_enqueues_nothing(
    redis_conn: Redis, worker_env: dict[str, str]
) -> None:
    env = {**worker_env, 'QUEUE_NAME': QUEUE}
    done = cli('enqueue', '--name', 'R2-D2', '--age', '40', '--email', 'nope', env=env)
    assert done.returncode == 2
    assert 'child_name:' in done.stderr and 'age:' in done.stderr and 'parent_email:' in done.stderr
    assert 'Traceback' not in done.stderr
    assert Queue(QUEUE, connection=redis_conn).count == 0
    assert not redis_conn.keys('papanoel:*')


@pytest.mark.parametrize(
    ('args', 'field'),
    [
        (['--name', b'Luc\xed\xa0\x80a'.decode('utf-8', 'surrogateescape')], 'child_name'),
        (['--name', 'Lucía', '--message', "[[p'ut@]]"], 'message'),
        (['--name', 'Lucía', '--message', 'eres una p u t a'], 'message'),
        (['--name', 'Маria'], 'child_name'),
        (['--name', 'Lucía', '--email', 'Mamá <mama@example.com>'], 'parent_email'),
    ],
)
def test_cli_refuses_hostile_input_with_one_clear_line(
    redis_conn: Redis, worker_env: dict[str, str], args: list[str], field: str
) -> None:
    done = cli('enqueue', '--age', '5', *args, env={**worker_env, 'QUEUE_NAME': QUEUE})
    assert done.returncode == 2, done.stderr
    # (a JSON log line may come too, on stderr like every log)
    lines = [line for line in done.stderr.splitlines() if not line.startswith('{')]
    assert len(lines) == 1 and lines[0].startswith(f'error: {field}: '), done.stderr
    assert 'Traceback' not in done.stderr
    assert not redis_conn.keys('papanoel:video:*')
