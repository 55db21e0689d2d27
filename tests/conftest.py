"""Shared fixtures: a private real Redis server, small placeholder footage, worker environments.

Tests never use a Redis that happens to run on this machine: the session starts its own
redis-server on a free port (or uses TEST_REDIS_URL when given one), and flushes it
before each test. Under CI a missing redis-server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis

SMALL = (180, 320)
# Set before any test module imports the project: a developer's ./.env (real API keys,
# say) must never reach the code under test.
NO_ENV_FILE = '/nonexistent/papanoel.env'
os.environ['PAPANOEL_ENV_FILE'] = NO_ENV_FILE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope='session')
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get('TEST_REDIS_URL')
    if given:
        yield given
        return
    binary = shutil.which('redis-server')
    if binary is None:
        if os.environ.get('CI'):
            pytest.fail('redis-server is required under CI (apt-get install -y redis-server)')
        pytest.skip('redis-server not installed')
    port = _free_port()
    workdir = tmp_path_factory.mktemp('redis')
    proc = subprocess.Popen(
        [binary, '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f'redis://127.0.0.1:{port}/0'
    client = Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f'redis-server did not start on port {port}') from None
            time.sleep(0.05)
    client.close()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture(scope='session')
def vendor_host() -> Iterator[HTTPServer]:
    """One local HTTP server for the vendor contract suites; each test clears it and installs its fake.

    Shared for the session: stopping a server takes half a second.
    """
    server = HTTPServer(host='127.0.0.1', threaded=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope='session')
def small_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Placeholder footage at 180x320: the real names and roles, rendered in about a second."""
    from compose.placeholders import render_placeholders

    assets = tmp_path_factory.mktemp('assets')
    render_placeholders(assets, width=SMALL[0], height=SMALL[1])
    return assets


@pytest.fixture(scope='session')
def template_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the session: prepared templates are keyed by content, so reuse is safe and fast."""
    return tmp_path_factory.mktemp('template-cache')


@pytest.fixture
def worker_env(tmp_path: Path, small_assets: Path, redis_url: str, template_cache: Path) -> dict[str, str]:
    """Environment for a real `python worker.py` rendering small and fast."""
    # Nothing from the developer's environment or .env leaks into the worker under test.
    env = {k: v for k, v in os.environ.items() if k in ('PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'CI')}
    env['PAPANOEL_ENV_FILE'] = NO_ENV_FILE
    env.update(
        REDIS_URL=redis_url,
        ASSETS_DIR=str(small_assets),
        OUTPUT_DIR=str(tmp_path / 'output'),
        TEMP_DIR=str(tmp_path / 'tmp'),
        OUTPUT_WIDTH=str(SMALL[0]),
        OUTPUT_HEIGHT=str(SMALL[1]),
        X264_PRESET='veryfast',
        LOG_FORMAT='json',
        AUDIO_CACHE_DIR=str(tmp_path / 'audio-cache'),
        TEMPLATE_CACHE_DIR=str(template_cache),
        OUTBOX_DIR=str(tmp_path / 'outbox'),
        # Each worker under test starts as fast as it can: one template, no endings ahead of its
        # first job (tests/test_warm_start.py turns both on).
        PREPARE_ENDINGS_AT_START='false',
        WARM_FORMATS='["9:16"]',
    )
    return env
