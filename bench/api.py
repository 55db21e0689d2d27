"""Load benchmark of POST /api/videos at rising concurrency.

    .venv/bin/python bench/api.py [--levels 1,8,16,32,64] [--seconds 5] [--web-workers 2] [--url URL]

Without --url it starts everything itself: a private redis-server on a free port and
`python -m web` (uvicorn, --web-workers processes) pointing at it; no video worker runs, so
every accepted order simply waits in the queue. Each level keeps N clients busy, each on its
own keep-alive connection, sending one order after another, and reports requests/s and
latency percentiles of the whole request (send to last byte of the answer).

Every request comes from its own client IP (X-Forwarded-For, which the server believes from
127.0.0.1 as a reverse proxy's): the rate limiter still runs on every request, with its Redis
round trip, but never refuses one. The client is a small asyncio HTTP/1.1 loop rather than
an HTTP library, so that it takes as little as possible of the CPU the server is measured on;
it still runs on the same machine, and its share is included in what the server gets.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A random start: a rerun against the same server does not reuse the last run's (rate-limited) addresses.
_ip_counter = itertools.count(random.randrange(1, 1 << 23))


@dataclass
class Level:
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float('nan')
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def next_ip() -> str:
    n = next(_ip_counter)
    return f'10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}'


def order_body(n: int) -> bytes:
    names = ('Lucía', 'Mateo', 'Sofía', 'Hugo', 'Martina', 'Leo', 'Valeria', 'Daniel')
    return json.dumps(
        {
            'child_name': names[n % len(names)],
            'age': 3 + n % 10,
            'message': '¡Sigue leyendo tanto y ayuda en casa!',
            'parent_email': f'familia{n}@example.com',
            'language': 'es' if n % 3 else 'en',
            'consent': True,
        }
    ).encode()


async def client(host: str, port: int, stop_at: float, level: Level, counter: itertools.count[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            body = order_body(next(counter))
            head = (
                f'POST /api/videos HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n'
                f'Content-Length: {len(body)}\r\nX-Forwarded-For: {next_ip()}\r\n\r\n'
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b'\r\n', b''):
                name, _, value = line.partition(b':')
                if name.strip().lower() == b'content-length':
                    length = int(value)
            await reader.readexactly(length)
            level.latencies.append(time.perf_counter() - started)
            level.statuses[status] = level.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def run_level(host: str, port: int, concurrency: int, seconds: float) -> Level:
    level = Level(concurrency)
    counter = itertools.count()
    started = time.perf_counter()
    await asyncio.gather(*(client(host, port, started + seconds, level, counter) for _ in range(concurrency)))
    level.elapsed = time.perf_counter() - started
    return level


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which('redis-server')
    if binary is None:
        sys.exit('bench: redis-server is needed (apt-get install -y redis-server), or pass --url')
    port = free_port()
    proc = subprocess.Popen(
        [binary, '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return proc, f'redis://127.0.0.1:{port}/0'


def start_web(redis_url: str, workers: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ('PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR')}
    env.update(
        REDIS_URL=redis_url,
        PORT=str(port),
        WEB_HOST='127.0.0.1',
        WEB_WORKERS=str(workers),
        OUTPUT_DIR=str(workdir / 'output'),
        TEMP_DIR=str(workdir / 'tmp'),
        LOG_FORMAT='json',
        # No .env of the developer's: the benchmark measures the defaults.
        PAPANOEL_ENV_FILE=str(workdir / 'no.env'),
    )
    log = (workdir / 'web.log').open('ab')
    proc = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=env, stdout=log, stderr=log)
    wait_port(port, proc, timeout=30)
    return proc, port


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f'bench: a child process exited early (code {proc.returncode})')
        with socket.socket() as sock:
            if sock.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f'bench: nothing listened on port {port} within {timeout} s')


def cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (Linux)."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == root_pid or int(fields[1]) == root_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--levels', default='1,8,16,32,64', help='comma-separated concurrency levels')
    parser.add_argument('--seconds', type=float, default=5.0, help='measured seconds per level')
    parser.add_argument('--warmup', type=float, default=1.5, help='unmeasured seconds before the first level')
    parser.add_argument('--web-workers', type=int, default=2, help='uvicorn processes when the bench starts the server')
    parser.add_argument('--url', default='', help='benchmark a running server (http://host:port) instead')
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(',') if n.strip()]

    children: list[subprocess.Popen[bytes]] = []
    measured: list[subprocess.Popen[bytes]] = []  # web and redis, when the bench started them
    with tempfile.TemporaryDirectory(prefix='bench-api-') as tmp:
        workdir = Path(tmp)
        try:
            if args.url:
                host, _, port_text = args.url.removeprefix('http://').rstrip('/').partition(':')
                port = int(port_text or 80)
                where = f'server at {args.url}'
            else:
                redis_proc, redis_url = start_redis(workdir)
                children.append(redis_proc)
                web_proc, port = start_web(redis_url, args.web_workers, workdir)
                children.append(web_proc)
                measured = [web_proc, redis_proc]
                host = '127.0.0.1'
                where = f'python -m web, {args.web_workers} uvicorn worker(s), private redis-server'
            print(f'POST /api/videos; {where}; {os.cpu_count()} CPUs shared with this client')
            print(
                'each request from its own X-Forwarded-For IP: the rate limiter runs on every request but never refuses'
            )
            asyncio.run(run_level(host, port, max(levels), args.warmup))  # warm every process up
            load = ' '.join(f'{x:.2f}' for x in os.getloadavg())
            print(f'load average before: {load} (other work on this machine skews the figures)')
            cpu_head = f' {"web CPU ms/req":>14} {"redis":>6}' if measured else ''
            print(f'{"clients":>7} {"requests":>9} {"req/s":>8} {"p50 ms":>8} {"p90 ms":>8} {"p99 ms":>8} '
                  f'{"max ms":>8}{cpu_head}  statuses')  # fmt: skip
            for concurrency in levels:
                before = [cpu_seconds(proc.pid) for proc in measured]
                level = asyncio.run(run_level(host, port, concurrency, args.seconds))
                spent = [
                    (cpu_seconds(proc.pid) - b) * 1000 / max(1, level.requests)
                    for proc, b in zip(measured, before, strict=True)
                ]
                cpu = f' {spent[0]:>14.2f} {spent[1]:>6.2f}' if measured else ''
                statuses = ' '.join(f'{code}x{count}' for code, count in sorted(level.statuses.items()))
                print(
                    f'{concurrency:>7} {level.requests:>9} {level.requests / level.elapsed:>8.0f} '
                    f'{level.percentile(0.50):>8.1f} {level.percentile(0.90):>8.1f} {level.percentile(0.99):>8.1f} '
                    f'{level.percentile(1.0):>8.1f}{cpu}  {statuses}',
                    flush=True,
                )
        finally:
            for proc in reversed(children):
                stop(proc)
    return 0


if __name__ == '__main__':
    sys.exit(main())
