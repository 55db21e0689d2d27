"""Chaos benchmark: N orders, random provider faults, a worker SIGKILLed every few seconds.

    python bench/chaos.py --orders 100

Starts a private redis-server, renders small placeholder footage, enqueues N orders and
runs several `worker.py` processes whose providers fail at random
(bench/chaos_providers.py). Every few seconds one worker is killed with SIGKILL, work
horse included, and a new one is started. When every order is either completed or in
the dead-letter queue (or the time limit passes) it counts:

    orders=N completed=X dlq=Y lost=Z duplicates=W

lost: orders neither completed nor dead-lettered. duplicates: videos produced more than
once (more than one 'completed' in a video's timeline, or more output files than videos).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402

from compose.placeholders import render_placeholders  # noqa: E402
from deadletter import DeadLetterQueue  # noqa: E402
from orders import parse_order  # noqa: E402
from queueing.enqueue import enqueue_order  # noqa: E402
from queueing.records import JobRecords, State  # noqa: E402
from retries import job_retry  # noqa: E402

NAMES = ['Sofía', 'Mateo', 'Lucía', 'Martín', 'Valentina', 'Hugo', 'Martina', 'Leo', 'Julia', 'Pablo', 'Emma', 'Álex']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            if int(stat.read_text().rsplit(')', 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    for pid in [proc.pid, *children(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--orders', type=int, default=100)
    parser.add_argument('--workers', type=int, default=3)
    parser.add_argument('--kill-every', type=float, default=8.0, help='seconds between SIGKILLs')
    parser.add_argument('--fault-rate', type=float, default=0.3, help='chance that one provider call fails')
    parser.add_argument('--time-limit', type=float, default=3600)
    parser.add_argument('--seed', type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    work = Path(tempfile.mkdtemp(prefix='chaos-'))
    port = free_port()
    redis_proc = subprocess.Popen(
        ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
         '--dir', str(work)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f'redis://127.0.0.1:{port}/0'
    conn = Redis.from_url(url)
    for _ in range(100):
        try:
            conn.ping()
            break
        except Exception:
            time.sleep(0.05)
    render_placeholders(work / 'assets', width=180, height=320)
    env = {
        **os.environ,
        'REDIS_URL': url,
        'ASSETS_DIR': str(work / 'assets'),
        'OUTPUT_DIR': str(work / 'output'),
        'TEMP_DIR': str(work / 'tmp'),
        'AUDIO_CACHE_DIR': str(work / 'cache'),
        'OUTPUT_WIDTH': '180',
        'OUTPUT_HEIGHT': '320',
        'X264_PRESET': 'veryfast',
        'PROVIDER_FACTORY': 'bench.chaos_providers:configured_providers',
        'CHAOS_FAULT_RATE': str(args.fault_rate),
        'PROVIDER_RETRY_BASE_SECONDS': '0.2',
        'PROVIDER_RETRY_MAX_WAIT_SECONDS': '1',
        'MAINTENANCE_INTERVAL_SECONDS': '2',
        'JOB_MONITORING_INTERVAL_SECONDS': '2',
        'LOCK_HEARTBEAT_SECONDS': '2',
        'LOG_LEVEL': 'WARNING',
    }
    video_ids = []
    for i in range(args.orders):
        fields = {'child_name': NAMES[i % len(NAMES)], 'age': 1 + i % 17, 'language': 'es' if i % 3 else 'en',
                  'message': f'Pedido número {i}', 'parent_email': f'p{i}@example.com', 'consent': True}  # fmt: skip
        order = parse_order(fields)
        enqueue_order(conn, order, queue_name='papa-noel-videos', job_timeout=600, retry=job_retry(3, [1, 2]))
        video_ids.append(order.video_id)

    logs = work / 'logs'
    logs.mkdir()

    def start() -> subprocess.Popen[bytes]:
        with (logs / f'worker-{time.monotonic_ns()}.log').open('ab') as out:
            return subprocess.Popen([sys.executable, 'worker.py'], cwd=ROOT, env=env, stdout=out, stderr=out)

    records = JobRecords(conn)
    dead = DeadLetterQueue(conn)
    workers = [start() for _ in range(args.workers)]
    kills = 0
    started = time.monotonic()
    next_kill = started + args.kill_every
    next_report = started

    def settled() -> tuple[int, int]:
        completed = sum(1 for v in video_ids if (r := records.get(v)) is not None and r.state is State.COMPLETED)
        return completed, dead.count()

    try:
        while time.monotonic() - started < args.time_limit:
            completed, dead_count = settled()
            if time.monotonic() >= next_report:
                print(f'{time.monotonic() - started:6.0f} s  completed={completed} dlq={dead_count} kills={kills}',
                      file=sys.stderr, flush=True)  # fmt: skip
                next_report += 15
            if completed + dead_count >= args.orders:
                break
            if time.monotonic() >= next_kill:
                victim = rng.randrange(len(workers))
                kill_hard(workers[victim])
                workers[victim] = start()
                kills += 1
                next_kill = time.monotonic() + args.kill_every
            time.sleep(0.5)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill_hard(w)

    completed, dead_count = settled()
    in_dlq = {v for v in video_ids if dead.contains(v)}
    lost = sum(1 for v in video_ids if v not in in_dlq and records.get(v).state is not State.COMPLETED)  # type: ignore[union-attr]
    duplicates = sum(1 for v in video_ids if [e['event'] for e in records.timeline(v)].count('completed') > 1)
    outputs = len(list((work / 'output').glob('*.mp4')))
    duplicates = max(duplicates, outputs - completed)
    elapsed = time.monotonic() - started
    print(f'elapsed={elapsed:.0f}s workers={args.workers} kills={kills} fault_rate={args.fault_rate} '
          f'output_files={outputs}')  # fmt: skip
    print(f'orders={args.orders} completed={completed} dlq={dead_count} lost={lost} duplicates={duplicates}')
    conn.close()
    redis_proc.terminate()
    redis_proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    return 0 if lost == 0 and duplicates == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
