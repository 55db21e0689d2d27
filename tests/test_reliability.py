"""Nothing lost, nothing produced twice: real Redis, real forking workers, real signals."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue

from locking import VideoLock, holder_alive
from metrics import Metrics
from orders import Order, parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from tests.media import assert_output_spec, expected_duration
from tests.workers import FAST_RECOVERY, ROOT, horse_of, kill_hard, start_worker, stop, wait_for

QUEUE = 'papa-noel-videos'


@pytest.fixture
def env(worker_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Fast recovery, and no audio cache: only the job's checkpoints can spare a second speech.

    espeak-ng is wrapped to count its calls in a file: evidence outside the code under test.
    """
    counting = tmp_path / 'counting-bin'
    counting.mkdir()
    real = shutil.which('espeak-ng')
    assert real is not None
    (counting / 'espeak-ng').write_text(f'#!/bin/sh\necho call >> {tmp_path / "espeak-calls"}\nexec {real} "$@"\n')
    (counting / 'espeak-ng').chmod(0o755)
    return {**worker_env, **FAST_RECOVERY, 'AUDIO_CACHE_ENABLED': 'false',
            'PATH': f'{counting}:{worker_env["PATH"]}'}  # fmt: skip


def speeches_made(tmp_path: Path) -> int:
    calls = tmp_path / 'espeak-calls'
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def order(name: str = 'Sofía', **changes: object) -> Order:
    return parse_order({'child_name': name, 'age': 7, 'message': 'Eres muy valiente', 'parent_email': 'p@example.com',
                        'consent': True, **changes})  # fmt: skip


def enqueue(conn: Redis, o: Order, attempts: int = 3) -> None:
    enqueue_order(conn, o, queue_name=QUEUE, job_timeout=300, retry=job_retry(attempts, [0]))


def record(conn: Redis, video_id: str) -> Any:
    return JobRecords(conn).get(video_id)


def events_of(conn: Redis, video_id: str) -> list[str]:
    return [e['event'] for e in JobRecords(conn).timeline(video_id)]


def in_stage(conn: Redis, video_id: str, stage: str) -> bool:
    r = record(conn, video_id)
    return r is not None and r.stage == stage


def test_kill_9_mid_job_is_recovered_by_another_worker_and_produced_once(
    redis_conn: Redis, env: dict[str, str], small_assets: Path, tmp_path: Path
) -> None:
    o = order()
    enqueue(redis_conn, o)
    first = start_worker(env, log=tmp_path / 'first.log')
    wait_for(lambda: in_stage(redis_conn, o.video_id, 'compose'), 60, 0.01, 'the compose stage')
    kill_hard(first)  # worker and work horse, mid-composition
    killed_at = time.monotonic()

    second = start_worker(env, log=tmp_path / 'second.log')
    try:
        wait_for(lambda: record(redis_conn, o.video_id).state is State.COMPLETED, 120, 0.2, 'recovery')
    finally:
        stop(second)
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < 120

    r = record(redis_conn, o.video_id)
    assert events_of(redis_conn, o.video_id).count('completed') == 1
    assert r.attempt == 2 and [e['error_type'] for e in r.errors] == []  # the crash was recovered, not failed
    counters = Metrics(redis_conn).counters()
    assert counters['jobs_completed'] == 1
    # The speech was checkpointed before the crash: it was not made (or paid for) again.
    assert counters['provider:espeak:calls'] == 1 and speeches_made(tmp_path) == 1
    assert_output_spec(Path(r.output), width=180, height=320, duration=expected_duration(o, small_assets, tmp_path))


def test_sigterm_mid_job_lets_the_job_finish(redis_conn: Redis, env: dict[str, str], tmp_path: Path) -> None:
    o = order()
    enqueue(redis_conn, o)
    worker = start_worker(env, log=tmp_path / 'w.log')
    wait_for(lambda: in_stage(redis_conn, o.video_id, 'compose'), 60, 0.01, 'the compose stage')
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    r = record(redis_conn, o.video_id)
    assert r.state is State.COMPLETED and r.attempt == 1
    assert Path(r.output).is_file()


@pytest.mark.parametrize('second_signal', [False, True], ids=['past-shutdown-timeout', 'second-signal'])
def test_interrupted_job_goes_back_to_the_queue_uncounted(
    redis_conn: Redis, env: dict[str, str], tmp_path: Path, second_signal: bool
) -> None:
    o = order()
    enqueue(redis_conn, o)
    held = tmp_path / 'held-ffmpeg.pid'
    worker_env = {**env, 'SHUTDOWN_TIMEOUT_SECONDS': '0' if not second_signal else '300'}
    # Composition is held until the test is done: the job cannot finish before the shutdown
    # timeout or the second signal, however fast the machine renders.
    worker_env = hold_ffmpeg_in_compose(worker_env, tmp_path, o.video_id, held)
    worker = start_worker(worker_env, log=tmp_path / 'w.log')
    try:
        wait_for(held.exists, 60, 0.01, 'composition to be held')
        worker.send_signal(signal.SIGTERM)
        if second_signal:
            sent = time.monotonic()
            wait_for(lambda: 'warm shut down requested' in (tmp_path / 'w.log').read_text(), 30, 0.05, 'warm shutdown')
            # RQ ignores a repeat within one second of the first signal; the held job cannot end meanwhile.
            wait_for(lambda: time.monotonic() - sent > 1.1, 5, 0.05, 'one second after the first signal')
            worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    finally:
        if held.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(held.read_text()), signal.SIGKILL)

    r = record(redis_conn, o.video_id)
    assert r.state is State.QUEUED and r.attempt == 0, (r, (tmp_path / 'w.log').read_text()[-3000:])
    assert Queue(QUEUE, connection=redis_conn).job_ids == [o.video_id]
    assert not redis_conn.exists(f'papanoel:lock:{o.video_id}')
    # The next worker finishes it from its checkpoints, without a new speech.
    done = subprocess.run([sys.executable, 'worker.py', '--burst'], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0
    r = record(redis_conn, o.video_id)
    assert r.state is State.COMPLETED and r.attempt == 1 and r.errors == []
    assert Metrics(redis_conn).counters()['provider:espeak:calls'] == 1 and speeches_made(tmp_path) == 1


HELD_FFMPEG = """#!{python}
import os, signal, sys
from redis import Redis
if Redis.from_url(os.environ['REDIS_URL']).hget('papanoel:video:{video_id}', 'stage') == b'compose':
    with open({pid_file!r} + '.tmp', 'w') as out:
        out.write(str(os.getpid()))
    os.replace({pid_file!r} + '.tmp', {pid_file!r})
    while True:
        signal.pause()
os.execv({ffmpeg!r}, ['ffmpeg', *sys.argv[1:]])
"""


def test_a_job_interrupted_before_its_attempt_started_gives_nothing_back(
    redis_conn: Redis, env: dict[str, str], tmp_path: Path
) -> None:
    o = order()
    enqueue(redis_conn, o)
    started = Queue(QUEUE, connection=redis_conn).started_job_registry
    # A live holder of the video's lock: the horse waits for it, its attempt not yet started.
    held = VideoLock(redis_conn, o.video_id, ttl_seconds=600, heartbeat_seconds=1)
    held.acquire()
    try:
        worker = start_worker({**env, 'SHUTDOWN_TIMEOUT_SECONDS': '0'}, log=tmp_path / 'w.log')
        wait_for(lambda: o.video_id in started.get_job_ids(cleanup=False) and horse_of(worker.pid), 60, 0.01,
                 'the waiting work horse')  # fmt: skip
        worker.send_signal(signal.SIGTERM)  # past the shutdown timeout at once: the horse is stopped
        worker.wait(timeout=60)
        r = record(redis_conn, o.video_id)
        assert r.state is State.QUEUED and r.attempt == 0, r
        assert Queue(QUEUE, connection=redis_conn).job_ids == [o.video_id]
        assert held.still_ours() and holder_alive(redis_conn, o.video_id)  # the other holder's lock stays
    finally:
        held.release()
    done = subprocess.run([sys.executable, 'worker.py', '--burst'], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0
    r = record(redis_conn, o.video_id)
    assert r.state is State.COMPLETED and r.attempt == 1 and r.errors == []


def hold_ffmpeg_in_compose(env: dict[str, str], tmp_path: Path, video_id: str, pid_file: Path) -> dict[str, str]:
    """An ffmpeg that, once the video is in its compose stage, blocks (and says so in `pid_file`)."""
    bin_dir = tmp_path / 'held-bin'
    bin_dir.mkdir()
    ffmpeg = shutil.which('ffmpeg')
    assert ffmpeg is not None
    wrapper = bin_dir / 'ffmpeg'
    wrapper.write_text(HELD_FFMPEG.format(python=sys.executable, video_id=video_id, pid_file=str(pid_file),
                                          ffmpeg=ffmpeg))  # fmt: skip
    wrapper.chmod(0o755)
    return {**env, 'PATH': f'{bin_dir}:{env["PATH"]}'}


def test_two_workers_racing_for_one_video_produce_it_once(
    redis_conn: Redis, env: dict[str, str], tmp_path: Path
) -> None:
    o = order()
    enqueue(redis_conn, o)
    redis_conn.rpush(f'rq:queue:{QUEUE}', o.video_id)  # delivered twice, as RQ's #1701 or a replayed push can
    workers = [start_worker(env, '--burst', log=tmp_path / f'w{i}.log') for i in range(2)]
    for w in workers:
        assert w.wait(timeout=120) == 0
    logs = ''.join((tmp_path / f'w{i}.log').read_text() for i in range(2))
    assert logs.count('"job.started"') == 1 and logs.count('"job.already_done"') >= 1, logs[-4000:]
    stages = Metrics(redis_conn).stages()
    assert stages['compose']['count'] == 1
    assert record(redis_conn, o.video_id).state is State.COMPLETED


def test_exhausted_job_goes_to_the_dead_letter_queue_and_an_admin_retries_it(
    redis_conn: Redis, env: dict[str, str], tmp_path: Path
) -> None:
    o = order(name='Marta')
    enqueue(redis_conn, o, attempts=2)
    broken = tmp_path / 'bin'
    broken.mkdir()
    (broken / 'espeak-ng').write_text('#!/bin/sh\necho "espeak-ng: voice data missing" >&2\nexit 1\n')
    (broken / 'espeak-ng').chmod(0o755)
    broken_env = {**env, 'PATH': f'{broken}:{os.environ["PATH"]}'}
    worker = start_worker(broken_env, log=tmp_path / 'w.log')

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, 'cli.py', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    try:
        listed = wait_for(lambda: json.loads(cli('dlq', 'list', '--json').stdout), 60, 0.3, 'a dead-letter entry')
    finally:
        stop(worker)
    [entry] = listed
    assert entry['video_id'] == o.video_id and entry['attempts'] == 2
    assert [e['attempt'] for e in entry['errors']] == [1, 2]
    assert {(e['stage'], e['provider'], e['error_type']) for e in entry['errors']} == {
        ('audio', 'espeak', 'PermanentProviderError')}  # fmt: skip
    assert 'voice data missing' in entry['errors'][0]['message']
    assert entry['order']['child_name'] == 'Marta'
    assert record(redis_conn, o.video_id).state is State.FAILED
    # The last attempt knew it was the last: its failure is final, not a retry that never comes.
    outcomes = [e for e in events_of(redis_conn, o.video_id) if e in ('retry_scheduled', 'failed')]
    assert outcomes == ['retry_scheduled', 'failed'], events_of(redis_conn, o.video_id)

    shown = cli('dlq', 'show', o.video_id)
    assert shown.returncode == 0 and 'attempt 2' in shown.stdout and 'voice data missing' in shown.stdout
    assert cli('dlq', 'list', '--error-type', 'ProviderTimeout').stdout.strip() == 'no entry matches'

    unknown = cli('dlq', 'show', 'no-such-video')
    assert unknown.returncode == 1 and 'no dead-letter entry for video no-such-video' in unknown.stderr
    assert 'Traceback' not in unknown.stderr
    assert cli('dlq', 'retry', 'no-such-video').returncode == 1

    # Fixed: the admin retries it, with a fresh budget, and a healthy worker makes the video.
    retried = cli('dlq', 'retry', o.video_id)
    assert retried.returncode == 0 and f'requeued {o.video_id}' in retried.stdout
    assert cli('dlq', 'list', '--json').stdout.strip() == '[]'
    done = subprocess.run([sys.executable, 'worker.py', '--burst'], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0
    r = record(redis_conn, o.video_id)
    assert r.state is State.COMPLETED and r.attempt == 1 and len(r.errors) == 2  # history kept


def test_dlq_purge(redis_conn: Redis, env: dict[str, str]) -> None:
    from deadletter.queue import ENTRY_PREFIX, INDEX_KEY, DeadLetterQueue

    for video_id, age_days in (('old-one', 10), ('new-one', 1)):
        o = order(order_id=video_id)
        enqueue(redis_conn, o)
        entry = {'video_id': video_id, 'order': o.model_dump(), 'attempts': 3, 'errors': [],
                 'failed_at': time.time() - age_days * 86400, 'queue': QUEUE}  # fmt: skip
        redis_conn.set(ENTRY_PREFIX + video_id, json.dumps(entry))
        redis_conn.zadd(INDEX_KEY, {video_id: float(str(entry['failed_at']))})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, 'cli.py', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    assert 'purged 1 entry' in run('dlq', 'purge', '--older-than', '7').stdout
    assert [e.video_id for e in DeadLetterQueue(redis_conn).entries()] == ['new-one']
    assert run('dlq', 'purge', 'new-one').returncode == 0
    assert run('dlq', 'purge', 'new-one').returncode == 1
    assert DeadLetterQueue(redis_conn).count() == 0
