"""The admin CLI and Redis: never the embedded one, and one clear line when Redis is away."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent

#: Every admin command that reads or writes Redis, with arguments it would accept.
REDIS_COMMANDS = {
    'enqueue': ['enqueue', '--name', 'Lucía', '--age', '5', '--order-id', 'cli-embedded'],
    'status': ['status', 'cli-embedded'],
    'cancel': ['cancel', 'cli-embedded'],
    'dlq list': ['dlq', 'list'],
    'dlq show': ['dlq', 'show', 'x'],
    'dlq retry': ['dlq', 'retry', '--all'],
    'dlq purge': ['dlq', 'purge', '--older-than', '7'],
    'stats': ['stats'],
    'cleanup': ['cleanup', '--dry-run'],
}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, 'cli.py', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


@pytest.mark.parametrize('command', list(REDIS_COMMANDS), ids=list(REDIS_COMMANDS))
def test_without_redis_url_every_admin_command_refuses_in_one_line(
    command: str, worker_env: dict[str, str], redis_conn: Redis
) -> None:
    done = cli(*REDIS_COMMANDS[command], env={**worker_env, 'REDIS_URL': ''})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count('\n') == 1 and 'REDIS_URL is not set' in done.stderr, done.stderr
    assert done.stdout == '' and 'created' not in done.stdout
    assert not redis_conn.keys('papanoel:*')


@pytest.mark.parametrize('command', [*REDIS_COMMANDS, 'demo'], ids=[*REDIS_COMMANDS, 'demo'])
def test_unreachable_redis_is_one_line_naming_the_url_for_every_command(
    command: str, worker_env: dict[str, str]
) -> None:
    url = f'redis://:hunter2@127.0.0.1:{closed_port()}/0'
    args = REDIS_COMMANDS.get(command) or ['demo', '--name', 'Lucía', '--age', '5']
    done = cli(*args, env={**worker_env, 'REDIS_URL': url})
    assert done.returncode == 1, (done.stdout, done.stderr)
    shown = url.replace('hunter2', '***')
    assert done.stderr.count('\n') == 1 and f'cannot reach Redis at {shown}' in done.stderr, done.stderr
    assert 'Traceback' not in done.stderr and 'hunter2' not in done.stderr


def test_demo_keeps_its_embedded_redis(worker_env: dict[str, str]) -> None:
    done = cli('demo', '--name', 'Lucía', '--age', '5', env={**worker_env, 'REDIS_URL': ''})
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.strip()).is_file()
