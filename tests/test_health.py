"""health_check.py as ops run it: real Redis, a real worker, exit codes, JSON, the 5 s budget."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis

from tests.workers import ROOT, start_worker, stop, wait_for


def health(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, 'health_check.py', *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    return done, time.monotonic() - started


def test_healthy_with_a_live_worker(redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path) -> None:
    worker = start_worker(worker_env, log=tmp_path / 'w.log')
    try:
        wait_for(lambda: redis_conn.keys('rq:worker:*'), 30, 0.2, 'the worker to register')
        done, seconds = health(worker_env, '--json')
    finally:
        stop(worker)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report['healthy'], report
    checks = {c['name']: c for c in report['checks']}
    assert checks['workers']['data']['count'] == 1
    assert checks['providers']['data'] == {
        'espeak': {'kind': 'tts', 'configured': True, 'breaker': 'closed', 'consecutive_failures': 0}
    }
    assert seconds < 15  # a sanity bound: the deadline itself is proven in-process below


def test_unhealthy_without_workers_and_with_a_full_dead_letter_queue(
    redis_conn: Redis, worker_env: dict[str, str]
) -> None:
    redis_conn.zadd('papanoel:dlq', {f'v{i}': time.time() for i in range(3)})
    done, _ = health({**worker_env, 'HEALTH_MAX_DLQ_SIZE': '2'})
    assert done.returncode == 1
    assert 'FAIL  workers' in done.stdout and '0 worker(s) alive' in done.stdout
    assert 'FAIL  dead-letter queue  3 dead (limit 2)' in done.stdout
    assert done.stdout.strip().endswith('UNHEALTHY')


def test_a_bad_asset_is_named(
    redis_conn: Redis, worker_env: dict[str, str], small_assets: Path, tmp_path: Path
) -> None:
    broken = tmp_path / 'assets'
    shutil.copytree(small_assets, broken)
    (broken / 'Frame_4_NocheMagica.mov').unlink()
    done, _ = health({**worker_env, 'ASSETS_DIR': str(broken), 'HEALTH_MIN_WORKERS': '0'})
    assert done.returncode == 1 and 'Frame_4_NocheMagica.mov: file not found' in done.stdout


def test_a_hung_redis_answers_unhealthy_within_5_seconds(worker_env: dict[str, str]) -> None:
    # A loopback server that accepts connections and never answers: every Redis call hangs.
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        done, seconds = health({**worker_env, 'REDIS_URL': f'redis://127.0.0.1:{port}/0'}, '--json')
    assert done.returncode == 1, done.stderr
    checks = {c['name']: c for c in json.loads(done.stdout)['checks']}
    assert not checks['redis']['ok'] and checks['ffmpeg']['ok']
    # Interpreter start-up under a loaded test run is not what is bounded; the checks are (below).
    assert seconds < 15


def test_a_hung_redis_is_reported_within_the_checks_deadline(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitoring import run_checks
    from monitoring.health import DEADLINE_SECONDS
    from providers.registry import configured_providers
    from queueing.connection import connect
    from settings import Settings
    from storage import build_storage

    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(16)
        for name, value in {**worker_env, 'REDIS_URL': f'redis://127.0.0.1:{silent.getsockname()[1]}/0'}.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        storage = build_storage(settings)
        started = time.monotonic()
        report = run_checks(settings, connect(settings.redis_url), storage, configured_providers(settings, storage))
        elapsed = time.monotonic() - started
    assert not report.healthy and not next(c for c in report.checks if c.name == 'redis').ok
    # Every check runs under one deadline: a hung dependency costs the deadline, not its socket timeout.
    assert elapsed < DEADLINE_SECONDS + 1.0, elapsed
