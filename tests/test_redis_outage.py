"""A Redis outage of over a minute: busy workers keep their job, idle ones wait, all resume."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker

from metrics import Metrics
from orders import parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from tests.conftest import _free_port
from tests.workers import start_worker, stop, wait_for

QUEUE = 'papa-noel-videos'
OUTAGE_SECONDS = 65

HELD_ONCE_FFMPEG = """#!{python}
import os, sys, time
from redis import Redis
from rq import Worker
release = {release!r}
if not os.path.exists(release):
    try:
        stage = Redis.from_url(os.environ['REDIS_URL']).hget('papanoel:video:{video_id}', 'stage')
    except Exception:
        stage = None
    if stage == b'compose':
        open({held!r}, 'w').close()
        while not os.path.exists(release):  # held until the test releases it, mid-outage
            time.sleep(0.05)
os.execv({ffmpeg!r}, ['ffmpeg', *sys.argv[1:]])
"""


class RedisServer:
    """A redis-server of this test alone, with AOF, that can be stopped and started on its port."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.url = f'redis://127.0.0.1:{self.port}/0'
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
                                      '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', str(self.workdir)],
                                     stdout=subprocess.DEVNULL)  # fmt: skip
        client = Redis.from_url(self.url)
        wait_for(lambda: _pings(client), 20, 0.05, 'redis-server')
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def _pings(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which('redis-server') is None:
        pytest.skip('redis-server not installed')
    (tmp_path / 'redis').mkdir()
    server = RedisServer(tmp_path / 'redis')
    server.start()
    yield server
    server.stop()


def test_workers_ride_out_a_redis_outage_of_over_a_minute(
    private_redis: RedisServer, worker_env: dict[str, str], tmp_path: Path
) -> None:
    conn = Redis.from_url(private_redis.url)
    o = parse_order({'child_name': 'Sofía', 'age': 7, 'parent_email': 'p@example.com', 'consent': True})
    enqueue_order(conn, o, queue_name=QUEUE, job_timeout=600, retry=job_retry(3, [0]))
    held, release = tmp_path / 'held', tmp_path / 'release'
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    ffmpeg = shutil.which('ffmpeg')
    assert ffmpeg is not None
    script = HELD_ONCE_FFMPEG.format(python=sys.executable, release=str(release), held=str(held),
                                     video_id=o.video_id, ffmpeg=ffmpeg)  # fmt: skip
    (bin_dir / 'ffmpeg').write_text(script)
    (bin_dir / 'ffmpeg').chmod(0o755)
    env = {**worker_env, 'REDIS_URL': private_redis.url, 'PATH': f'{bin_dir}:{worker_env["PATH"]}',
           'REDIS_OUTAGE_SECONDS': '180', 'JOB_MONITORING_INTERVAL_SECONDS': '2',
           'LOCK_HEARTBEAT_SECONDS': '15'}  # fmt: skip
    busy = start_worker(env, log=tmp_path / 'busy.log')
    wait_for(held.exists, 120, 0.05, 'composition to be held')
    # Not through the held ffmpeg: its start-up decode of the footage must not be held.
    idle = start_worker({**env, 'PATH': worker_env['PATH']}, log=tmp_path / 'idle.log')
    wait_for(lambda: Worker.count(connection=conn) == 2, 180, 0.1, 'the idle worker to register')
    conn.close()
    try:
        private_redis.stop()
        outage_started = time.monotonic()
        # The held job goes on during the outage: its next Redis writes must wait for Redis to come back.
        release.touch()
        wait_for(lambda: time.monotonic() - outage_started > OUTAGE_SECONDS, OUTAGE_SECONDS, 0.5, 'the outage')
        assert busy.poll() is None and idle.poll() is None, 'a worker died during the outage'
        private_redis.start()
        conn = Redis.from_url(private_redis.url)
        wait_for(lambda: (r := JobRecords(conn).get(o.video_id)) is not None and r.state is State.COMPLETED, 180,
                 0.2, 'the job to finish after the outage')  # fmt: skip
        record = JobRecords(conn).get(o.video_id)
        assert record is not None and record.errors == [] and Path(record.output).is_file()
        assert Metrics(conn).stages()['compose']['count'] == 1
        # Both workers are back at work: a new order is made.
        o2 = parse_order({'child_name': 'Pablo', 'age': 5, 'parent_email': 'p@example.com', 'consent': True})
        enqueue_order(conn, o2, queue_name=QUEUE, job_timeout=600)
        wait_for(lambda: (r := JobRecords(conn).get(o2.video_id)) is not None and r.state is State.COMPLETED, 180,
                 0.2, 'a new order after the outage')  # fmt: skip
        assert busy.poll() is None and idle.poll() is None
    finally:
        release.touch()
        stop(busy)
        stop(idle)
        conn.close()
