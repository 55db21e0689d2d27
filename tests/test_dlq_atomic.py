"""Dead-letter operations on a real Redis: atomic under concurrent admins, edges validated."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from click.testing import CliRunner
from redis import Redis
from rq import Queue

import deadletter.queue as dlq_module
from cli import cli
from deadletter import DeadLetterQueue, DeadLetterTaken
from deadletter.queue import ENTRY_PREFIX, INDEX_KEY
from orders import Order, parse_order
from queueing.enqueue import enqueue_order, enqueue_video_job
from records import JobRecords, State

QUEUE = 'papa-noel-videos'


def order(video_id: str) -> Order:
    return parse_order({'child_name': 'Sofía', 'age': 7, 'parent_email': 'p@example.com', 'consent': True,
                        'order_id': video_id})  # fmt: skip


def dead(conn: Redis, video_id: str, *, age_days: float = 0) -> None:
    """An order whose attempts were all spent: its record failed, its entry in the DLQ."""
    o = order(video_id)
    enqueue_order(conn, o, queue_name=QUEUE, job_timeout=300)
    conn.delete(f'rq:queue:{QUEUE}')
    JobRecords(conn).mark_failed(video_id)
    at = time.time() - age_days * 86400
    entry = {'video_id': video_id, 'order': o.model_dump(), 'attempts': 3, 'errors': [], 'failed_at': at,
             'queue': QUEUE}  # fmt: skip
    conn.set(ENTRY_PREFIX + video_id, json.dumps(entry))
    conn.zadd(INDEX_KEY, {video_id: at})


def test_concurrent_retries_of_one_entry_queue_it_once(
    redis_conn: Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead(redis_conn, 'v1')
    admins = 4
    # Every admin has read the entry before any of them writes: the widest possible race.
    all_read = threading.Barrier(admins, timeout=30)
    real_enqueue = enqueue_video_job

    def enqueue_after_everyone_read(*args: Any, **kwargs: Any) -> None:
        all_read.wait()
        real_enqueue(*args, **kwargs)

    monkeypatch.setattr(dlq_module, 'enqueue_video_job', enqueue_after_everyone_read)
    outcomes: list[str] = []

    def admin() -> None:
        conn = Redis.from_url(redis_url)
        try:
            DeadLetterQueue(conn).retry('v1', job_timeout=300, retry=None)
            outcomes.append('requeued')
        except DeadLetterTaken:
            outcomes.append('taken')
        finally:
            conn.close()

    threads = [threading.Thread(target=admin) for _ in range(admins)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ['requeued'] + ['taken'] * (admins - 1)
    assert Queue(QUEUE, connection=redis_conn).job_ids == ['v1']
    assert DeadLetterQueue(redis_conn).count() == 0
    record = JobRecords(redis_conn).get('v1')
    assert record is not None and record.state is State.QUEUED


def test_retry_all_skips_entries_taken_meanwhile_and_reports_them(
    redis_conn: Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for video_id in ('a', 'b', 'c'):
        dead(redis_conn, video_id)
    listed = DeadLetterQueue(redis_conn).entries()
    DeadLetterQueue(redis_conn).purge('b')  # another admin, after our listing
    monkeypatch.setattr(DeadLetterQueue, 'entries', lambda self, **kw: listed)
    done = CliRunner().invoke(cli, ['dlq', 'retry', '--all'], env={'REDIS_URL': redis_url})
    assert done.exit_code == 0, done.output
    assert 'requeued a' in done.output and 'requeued c' in done.output
    assert 'skipped b: already taken' in done.output
    assert sorted(Queue(QUEUE, connection=redis_conn).job_ids) == ['a', 'c']


def test_purge_is_atomic_and_older_than_keeps_newer_entries(redis_conn: Redis) -> None:
    dead(redis_conn, 'old', age_days=10)
    dead(redis_conn, 'new', age_days=1)
    queue = DeadLetterQueue(redis_conn)
    assert queue.purge_older_than(7) == ['old']
    assert [e.video_id for e in queue.entries()] == ['new']
    assert queue.purge_older_than(0) == ['new']
    with pytest.raises(ValueError, match='days'):
        queue.purge_older_than(-1)
    with pytest.raises(ValueError, match='limit'):
        queue.entries(limit=0)


@pytest.mark.parametrize(
    'args',
    [['dlq', 'list', '--limit', '0'], ['dlq', 'purge', '--older-than', '-1'], ['dlq', 'list', '--older-than', '-2']],
    ids=['limit-0', 'purge-negative-days', 'list-negative-days'],
)
def test_cli_refuses_argument_edges(redis_conn: Redis, redis_url: str, args: list[str]) -> None:
    dead(redis_conn, 'kept')
    done = CliRunner().invoke(cli, args, env={'REDIS_URL': redis_url})
    assert done.exit_code == 2, done.output
    assert DeadLetterQueue(redis_conn).count() == 1
