"""Fuzz the running web side with random and hostile requests; fail on any 5xx but /health's 503.

    .venv/bin/python scripts/fuzz_api.py [--requests 2000] [--seed 10] [--url http://127.0.0.1:8000]

Without --url it starts what `make serve` starts (`python -m web`: embedded Redis and one video
worker in the process) on a free loopback port, with MESSAGE_REVIEW=all so that no accepted order
is rendered (the fuzz measures the web side, not the renderer), and stops it afterwards. With
--url it fuzzes that server, which must be on loopback (127.0.0.0/8 or ::1): nothing else is
ever a target. Requests are raw HTTP/1.1 over a new connection each, so malformed paths,
headers and bodies reach the server as sent; a closed connection without an answer counts as
such (the HTTP parser refusing the request), never as a pass of a 5xx. Prints the count per
status and every server error with the request that caused it; exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent

ORDER = {
    'child_name': 'Lucía',
    'age': 6,
    'message': '¡Sigue leyendo tanto!',
    'parent_email': 'mama@example.com',
    'language': 'es',
    'consent': True,
}
HOSTILE_STRINGS = [
    '\ud800', 'a\udfffb', '\udcff', '\x00', '\x1b[31m', '\u202e', 'Ｌｕｃíａ', 'Маria', '美咲', 'محمد',
    "[[p'ut@]]", '<speak><break time="9s"/></speak>', '&amp;', '{{name}}', 'x' * 3000, '', ' ', '\r\n',
    'Mamá <a@b.com>', 'a@b.com, c@d.com', '😀', 'p u t a', 'sh1t', 'visita ejemplo.com', '+34 600 123 456',
    'Nadie te quiere', '\ufeff', '%s%s%n', '../../etc/passwd', 'Robert\'); DROP TABLE--',
]  # fmt: skip
HOSTILE_VALUES: list[object] = [*HOSTILE_STRINGS, None, True, False, 0, -1, 10**40, 1.5, 1e308, [], {}, [[[1]]],
                                {'a': {'b': [1, 2]}}, '6', 'on', 'off']  # fmt: skip
PATHS = [
    '/api/videos', '/api/videos/', '/api/videos/abc', '/api/videos/' + 'a' * 32, '/api/videos/' + 'a' * 65,
    '/api/videos/abc/download', '/api/videos/abc/download?token=x&expires=99999999999999',
    '/api/videos/abc/download?expires=-1', '/api/videos/%ED%A0%80', '/api/videos/%FF%FE', '/api/videos/..%2f..%2f',
    '/api/admin/overview', '/api/admin/review', '/api/admin/review/abc/approve', '/api/admin/review/abc/reject',
    '/api/admin/dlq/abc/retry', '/admin', '/admin/review', '/health', '/health/live', '/metrics', '/', '/?lang=%FF',
    '/static/app.js', '/static/../settings.py', '/static/%2e%2e/settings.py', '/openapi.json', '/nothing',
    '//api/videos', '/api/videos?lang=\ud800',
]  # fmt: skip
CANNED_BODIES = [
    b'{"child_name": "\xed\xa0\x80"}', b'{"child_name": "\\ud800"}', b'\xef\xbb\xbf{}',
    b'{"age": ' + b'9' * 5000 + b'}', b'{"\\ud800": 1}', b'null', b'[]', b'"x"',
]  # fmt: skip
METHODS = ['GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'BREW']
CONTENT_TYPES = [
    'application/json', 'application/json; charset=utf-8', 'application/vnd.api+json',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'multipart/form-data',
    'multipart/form-data; boundary=', 'text/plain', 'application/xml', '', 'application/json; charset=latin-1',
]  # fmt: skip


def encode(text: str) -> bytes:
    return text.encode('utf-8', 'surrogatepass')


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, size: int = 20) -> str:
        alphabet = 'aáñ Z9<>[]{}&%"\'\\\x00\u202e\ud800美😀.-_@+/'
        return ''.join(self.rng.choice(alphabet) for _ in range(self.rng.randrange(size)))

    def value(self) -> object:
        return self.rng.choice(HOSTILE_VALUES) if self.rng.random() < 0.7 else self.text()

    def order(self) -> dict[str, object]:
        order: dict[str, object] = dict(ORDER)
        for key in self.rng.sample(list(ORDER), self.rng.randrange(len(ORDER) + 1)):
            if self.rng.random() < 0.2:
                del order[key]
            else:
                order[key] = self.value()
        if self.rng.random() < 0.1:
            order[self.text(8) or 'x'] = self.value()
        return order

    def body(self, content_type: str) -> bytes:
        roll = self.rng.random()
        if roll < 0.1:
            return self.rng.randbytes(self.rng.randrange(300))
        if roll < 0.2:
            depth = self.rng.choice([33, 100, 1000, 5000])
            return b'[' * depth + b']' * depth if self.rng.random() < 0.5 else b'{"a":' * depth + b'1' + b'}' * depth
        if roll < 0.25:
            return self.rng.choice(CANNED_BODIES)
        order = self.order()
        if 'x-www-form-urlencoded' in content_type:
            pairs = [f'{quote(encode(str(k)))}={quote(encode(str(v)))}' for k, v in order.items()]
            return '&'.join(pairs).encode() + (b'&%ED%A0%80=%FF' if self.rng.random() < 0.2 else b'')
        if content_type.startswith('multipart/form-data'):
            parts = [b'--xyz\r\nContent-Disposition: form-data; name="' + encode(str(k)) + b'"\r\n\r\n' + encode(str(v))
                     + b'\r\n' for k, v in order.items()]  # fmt: skip
            return b''.join(parts) + (b'--xyz--\r\n' if self.rng.random() < 0.8 else b'')
        return json.dumps(order).encode('utf-8', 'surrogatepass')

    def path(self) -> str:
        roll = self.rng.random()
        if roll < 0.7:
            return self.rng.choice(PATHS)
        if roll < 0.9:
            return '/api/videos/' + quote(encode(self.text(30)), safe='')
        return '/' + quote(encode(self.text(30)), safe='/?&=%')

    def request(self, host: str) -> tuple[str, str, bytes]:
        method = self.rng.choice(METHODS)
        # Most of the surface that reads input is the order endpoint: aim there most.
        path = '/api/videos' if method == 'POST' and self.rng.random() < 0.7 else self.path()
        content_type = self.rng.choice(CONTENT_TYPES)
        body = self.body(content_type) if method in ('POST', 'PUT', 'PATCH') or self.rng.random() < 0.1 else b''
        headers = [f'Host: {host}', 'Connection: close']
        if content_type or body:
            headers.append(f'Content-Type: {content_type}')
        optional = {
            'Idempotency-Key': lambda: self.text(40).encode('utf-8', 'surrogatepass').decode('latin-1'),
            'Accept-Language': lambda: self.rng.choice(['es', 'en-GB,en;q=0.9', 'xx;q=abc', '*', ',' * 50, 'ñ']),
            'Origin': lambda: self.rng.choice(['http://' + host, 'https://evil.example', 'null', '']),
            'Referer': lambda: self.rng.choice(['http://' + host + '/', 'https://evil.example/', 'not a url']),
            'X-Forwarded-For': lambda: self.rng.choice(['1.2.3.4', '::1', 'not-an-ip', '300.1.1.1', '', '2001:db8::1']),
            'Authorization': lambda: self.rng.choice(['Bearer x', 'Bearer', 'Basic ÿ', 'Bearer ' + 'a' * 500]),
            'Range': lambda: self.rng.choice(['bytes=0-', 'bytes=-1', 'bytes=9-1', 'bytes=a-b', 'x' * 100]),
        }
        for name, make in optional.items():
            if self.rng.random() < 0.25:
                headers.append(f'{name}: {make()}')
        head = f'{method} {path} HTTP/1.1\r\n' + ''.join(h + '\r\n' for h in headers)
        if self.rng.random() < 0.9:
            head += f'Content-Length: {len(body)}\r\n'
        else:
            head += f'Content-Length: {self.rng.choice(["-1", "abc", str(len(body) + 5), "99999999999"])}\r\n'
        raw = (head + '\r\n').encode('latin-1', 'replace') + body
        return method, path, raw


async def send(host: str, port: int, raw: bytes, timeout: float) -> int | None:
    """The status of the answer to `raw`, or None when the server closed without one."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except OSError:
        return None
    try:
        writer.write(raw)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()


async def fuzz(host: str, port: int, count: int, seed: int, concurrency: int) -> tuple[Counter[str], list[str]]:
    generator = Generator(seed)
    requests = [generator.request(f'{host}:{port}') for _ in range(count)]
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def worker() -> None:
        while not queue.empty():
            method, path, raw = queue.get_nowait()
            status = await send(host, port, raw, timeout=30)
            statuses['closed' if status is None else str(status)] += 1
            if status is not None and status >= 500 and not (status == 503 and path.startswith('/health')):
                failures.append(f'{status} {method} {path} {raw[:300]!r}')

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses, failures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def start_serve(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m web` as `make serve` runs it (embedded Redis and worker), on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ('PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR')}
    env.update(PORT=str(port), WEB_HOST='127.0.0.1', MESSAGE_REVIEW='all', LOG_LEVEL='WARNING',
               OUTPUT_DIR=str(workdir / 'output'), TEMP_DIR=str(workdir / 'tmp'), ASSETS_DIR=str(workdir / 'assets'),
               PAPANOEL_ENV_FILE=str(workdir / 'no.env'), OUTPUT_WIDTH='180', OUTPUT_HEIGHT='320')  # fmt: skip
    # `make serve` renders the placeholder footage first (`make assets`); small ones do here.
    subprocess.run([sys.executable, 'cli.py', 'assets', '--size', '180x320'], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    proc = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(workdir / 'web.log', 'wb'))  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f'fuzz: python -m web exited with {proc.returncode}; see {workdir / "web.log"}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit('fuzz: python -m web did not listen within 60 s')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--seed', type=int, default=10)
    parser.add_argument('--concurrency', type=int, default=4)
    parser.add_argument('--url', default='', help='a running server on loopback (default: start `python -m web`)')
    args = parser.parse_args()

    proc = None
    with tempfile.TemporaryDirectory(prefix='papanoel-fuzz-') as tmp:
        if args.url:
            parts = urlsplit(args.url)
            host, port = parts.hostname or '', parts.port or 80
            try:
                loopback = ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
            except (OSError, ValueError):
                loopback = False
            if not loopback:
                sys.exit(f'fuzz: {host} is not a loopback address; only loopback may be fuzzed')
        else:
            proc, port, host = *start_serve(Path(tmp)), '127.0.0.1'
        started = time.monotonic()
        try:
            statuses, failures = asyncio.run(fuzz(host, port, args.requests, args.seed, args.concurrency))
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        elapsed = time.monotonic() - started
    server_errors = len(failures)
    print(f'{args.requests} requests (seed {args.seed}) in {elapsed:.1f} s: '
          + ', '.join(f'{k}: {v}' for k, v in sorted(statuses.items())))  # fmt: skip
    print(f'server errors (5xx other than /health 503): {server_errors}')
    for failure in failures[:50]:
        print('  ' + failure)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
