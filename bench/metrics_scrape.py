"""How long a /metrics scrape takes as job records pile up: `python -m bench.metrics_scrape`.

Starts a private redis-server on a free port, writes N job records (through JobRecords.create,
so the ledger, the counters and the indexes are written as in production), and times GET
/metrics through the real app (Starlette's test client, in process) at each size. Beside it, in
the same run, the old way (SCAN + HMGET of every record, web/stats.job_summaries) for the ratio.
The scrape's answer is checked (queue depth as written), so a broken scrape cannot look fast.

    python -m bench.metrics_scrape --sizes 100,1000,10000,100000 --repeat 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from redis import Redis

from orders import parse_order
from records import JobRecords
from settings import Settings

QUEUED = 25  # the queue itself stays small: what grows is history, as in December


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def fill(conn: Redis, total: int, already: int) -> None:
    base = parse_order({'child_name': 'Lucía', 'age': 6, 'message': 'Sigue leyendo', 'language': 'es',
                        'parent_email': 'mama@example.com', 'consent': True})  # fmt: skip
    records = JobRecords(conn)
    for start in range(already, total, 1000):
        with conn.pipeline(transaction=False) as pipe:
            for n in range(start, min(total, start + 1000)):
                records.create(pipe, base.model_copy(update={'order_id': f'bench{n:08d}'}))
            pipe.execute()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='100,1000,10000,100000')
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(','))

    server = shutil.which('redis-server')
    if not server:
        raise SystemExit('redis-server is needed (apt-get install redis-server)')
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix='bench-metrics-'))
    proc = subprocess.Popen([server, '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                             '--dir', str(workdir)], stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        conn = Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                conn.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        os.environ.update(REDIS_URL=f'redis://127.0.0.1:{port}/0', PAPANOEL_ENV_FILE='/nonexistent/papanoel.env')
        settings = Settings()
        from rq import Queue

        from web.app import create_app
        from web.stats import job_summaries

        with warnings.catch_warnings():  # Starlette would rather have httpx2; the pinned httpx works
            warnings.simplefilter('ignore')
            from starlette.testclient import TestClient

        queue = Queue(settings.queue_name, connection=conn)
        for n in range(QUEUED):
            queue.enqueue('builtins.print', job_id=f'queued{n:04d}')
        print(f'{"records":>8} {"scrape p50 ms":>14} {"scrape max ms":>14} {"old scan p50 ms":>16} {"ratio":>6}')
        done = 0
        with TestClient(create_app(settings)) as client:
            for size in sizes:
                fill(conn, size, done)
                done = size
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    answer = client.get('/metrics')
                    times.append(time.perf_counter() - started)
                    assert answer.status_code == 200 and f'papanoel_queue_depth {float(QUEUED)}' in answer.text
                old = []
                for _ in range(max(1, args.repeat // 5)):
                    started = time.perf_counter()
                    found = len(job_summaries(conn))
                    assert found == size, (found, size)
                    old.append(time.perf_counter() - started)
                p50, old50 = statistics.median(times) * 1000, statistics.median(old) * 1000
                print(f'{size:>8} {p50:>14.1f} {max(times) * 1000:>14.1f} {old50:>16.1f} {old50 / p50:>6.1f}')
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
