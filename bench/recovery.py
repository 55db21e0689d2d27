"""Crash-recovery benchmark: how long a SIGKILLed job takes to be made, idle and under a backlog.

    python bench/recovery.py [--backlog 0 10] [--workers 2]

For each backlog size: a private redis-server, small footage, default recovery settings
(LOCK_HEARTBEAT_SECONDS, JOB_MONITORING_INTERVAL_SECONDS, MAINTENANCE_INTERVAL_SECONDS as in
.env.example). One order is started; the backlog is enqueued behind it; the worker making
it is SIGKILLed mid-composition together with its work horse and replaced at once. Times
come from the job record's timeline (written by the workers), measured from the kill:

    backlog=B requeued_after=Xs picked_up_after=Ys completed_after=Zs finished_rank=R/B+1

finished_rank: the recovered order's place among the orders finished after the kill
(1 = first; at the front of the queue it is at most one job per worker behind).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402

from bench.chaos import kill_hard  # noqa: E402
from compose.placeholders import render_placeholders  # noqa: E402
from orders import parse_order  # noqa: E402
from queueing.enqueue import enqueue_order  # noqa: E402
from records import JobRecords, State  # noqa: E402
from retries import job_retry  # noqa: E402

NAMES = ['Mateo', 'Lucía', 'Martín', 'Valentina', 'Hugo', 'Martina', 'Leo', 'Julia', 'Pablo', 'Emma', 'Álex']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def wait(what: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not what():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f'gave up after {timeout} s')
        time.sleep(0.1)


def run_once(backlog: int, workers: int, assets: Path, work: Path) -> str:
    port = free_port()
    redis_proc = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                                   '--appendonly', 'no', '--dir', str(work)], stdout=subprocess.DEVNULL)  # fmt: skip
    url = f'redis://127.0.0.1:{port}/0'
    conn = Redis.from_url(url)
    wait(lambda: _pings(conn), 10)
    env = {**os.environ, 'REDIS_URL': url, 'ASSETS_DIR': str(assets), 'OUTPUT_DIR': str(work / 'output'),
           'TEMP_DIR': str(work / 'tmp'), 'AUDIO_CACHE_DIR': str(work / 'cache'), 'OUTPUT_WIDTH': '180',
           'OUTPUT_HEIGHT': '320', 'X264_PRESET': 'veryfast', 'LOG_LEVEL': 'WARNING',
           'PAPANOEL_ENV_FILE': '/nonexistent'}  # fmt: skip
    records = JobRecords(conn)
    retry = job_retry(3, [30, 120])
    crashed = parse_order({'child_name': 'Sofía', 'age': 7, 'parent_email': 'p@example.com', 'consent': True})
    enqueue_order(conn, crashed, queue_name='papa-noel-videos', job_timeout=600, retry=retry)
    procs: list[subprocess.Popen[bytes]] = []
    log = (work / 'workers.log').open('ab')

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, 'worker.py'], cwd=ROOT, env=env, stdout=log, stderr=log)
        procs.append(proc)
        return proc

    try:
        first = start()
        wait(lambda: (r := records.get(crashed.video_id)) is not None and r.stage == 'compose', 300)
        others = [parse_order({'child_name': NAMES[i % len(NAMES)], 'age': 5, 'parent_email': f'p{i}@example.com',
                               'consent': True}) for i in range(backlog)]  # fmt: skip
        for o in others:
            enqueue_order(conn, o, queue_name='papa-noel-videos', job_timeout=600, retry=retry)
        for _ in range(workers - 1):
            start()
        kill_hard(first)
        killed_at = time.time()
        start()
        every = [crashed, *others]
        wait(lambda: all((r := records.get(o.video_id)) is not None and r.state is State.COMPLETED for o in every),
             900)  # fmt: skip
        timeline = records.timeline(crashed.video_id)
        requeued = min(e['at'] for e in timeline if e['event'].startswith('requeued'))
        picked = min(e['at'] for e in timeline if e['event'] == 'attempt:2')
        done = {o.video_id: max(e['at'] for e in records.timeline(o.video_id) if e['event'] == 'completed')
                for o in every}  # fmt: skip
        after_kill = sorted((at, vid) for vid, at in done.items() if at > killed_at)
        rank = [vid for _, vid in after_kill].index(crashed.video_id) + 1
        return (f'backlog={backlog} workers={workers} requeued_after={requeued - killed_at:.1f}s '
                f'picked_up_after={picked - killed_at:.1f}s completed_after={done[crashed.video_id] - killed_at:.1f}s '
                f'finished_rank={rank}/{len(after_kill)}')  # fmt: skip
    finally:
        for proc in procs:
            if proc.poll() is None:
                kill_hard(proc)
        log.close()
        conn.close()
        redis_proc.terminate()
        redis_proc.wait()


def _pings(conn: Redis) -> bool:
    try:
        return bool(conn.ping())
    except Exception:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backlog', type=int, nargs='+', default=[0, 10])
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix='recovery-'))
    try:
        render_placeholders(base / 'assets', width=180, height=320)
        for backlog in args.backlog:
            work = base / f'run-{backlog}'
            work.mkdir()
            print(run_once(backlog, args.workers, base / 'assets', work), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
