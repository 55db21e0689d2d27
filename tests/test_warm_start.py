"""Warm start and endings prepared ahead of need, on a real `python worker.py` and a real Redis.

The evidence is independent of the worker's own bookkeeping: every FFmpeg the worker starts
goes through a shim on PATH that appends its wall-clock time and command line to a log, so a
test counts video encodes (libx264 on the command line) and when the idle-time preparer
(writing `endings/.prep-*`) started one.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from redis import Redis

from compose import RenderSpec, load_assets
from compose.parts import Deadline
from compose.templates import template_key
from monitoring.health import Check, HealthReport, run_checks
from orders import Order, parse_order
from pipeline.extras import format_spec
from providers.base import ProviderSet
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from settings import Settings
from storage import build_storage
from tests.media import assert_output_spec
from tests.workers import start_worker, stop, wait_for

QUEUE = 'papa-noel-videos'
PREPARER_MARK = '/endings/.prep-'
LOOP_SECONDS = 1.2  # a short base loop (36 frames): few endings, so preparation takes seconds


@pytest.fixture
def short_loop_assets(small_assets: Path, tmp_path: Path) -> Path:
    assets = tmp_path / 'assets'
    shutil.copytree(small_assets, assets)
    base = assets / 'frame3_santa_base.mp4'
    source = str(small_assets / base.name)
    subprocess.run(['ffmpeg', '-v', 'error', '-y', '-i', source, '-t', str(LOOP_SECONDS), '-c:v', 'libx264',
                    '-preset', 'veryfast', '-pix_fmt', 'yuv420p', str(base)], check=True)  # fmt: skip
    return assets


@pytest.fixture
def ffmpeg_log(tmp_path: Path) -> Path:
    return tmp_path / 'ffmpeg-calls.log'


@pytest.fixture
def env(worker_env: dict[str, str], short_loop_assets: Path, tmp_path: Path, ffmpeg_log: Path) -> dict[str, str]:
    shim = tmp_path / 'shim'
    shim.mkdir()
    real = shutil.which('ffmpeg')
    assert real
    (shim / 'ffmpeg').write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {ffmpeg_log}\nexec {real} "$@"\n')
    (shim / 'ffmpeg').chmod(0o755)
    return {**worker_env, 'PATH': f'{shim}:{worker_env["PATH"]}', 'ASSETS_DIR': str(short_loop_assets),
            'TEMPLATE_CACHE_DIR': str(tmp_path / 'templates')}  # fmt: skip


def _calls(log: Path) -> list[tuple[float, str]]:
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        at, _, command = line.partition(' ')
        found.append((float(at), command))
    return found


def _events(log: Path) -> list[str]:
    lines = log.read_text(errors='replace').splitlines() if log.exists() else []
    return [json.loads(line).get('event', '') for line in lines if line.startswith('{')]


def _order(n: int, message: str, language: str = 'es') -> Order:
    return parse_order({'child_name': ['Sofía', 'Mateo', 'Lucía', 'Emma'][n % 4], 'age': 5 + n, 'message': message,
                        'parent_email': 'mama@example.com', 'consent': True, 'language': language})  # fmt: skip


def _completed(conn: Redis, video_id: str) -> bool:
    record = JobRecords(conn).get(video_id)
    assert record is None or record.state is not State.FAILED, record
    return record is not None and record.state is State.COMPLETED


def test_orders_after_warm_up_encode_no_video(
    redis_conn: Redis, env: dict[str, str], tmp_path: Path, ffmpeg_log: Path
) -> None:
    worker_log = tmp_path / 'worker.log'
    worker = start_worker(env, log=worker_log)
    try:
        wait_for(lambda: 'template.endings_ready' in _events(worker_log), timeout=600, interval=0.2,
                 message='the idle-time preparer to keep every ending')  # fmt: skip
        before = len(_calls(ffmpeg_log))
        messages = ['Gracias por ayudar en casa', 'Sigue siendo tan amable con tu hermano y con tus amigos del cole',
                    'Hola']  # fmt: skip
        orders = [_order(i, m) for i, m in enumerate(messages)] + [_order(3, 'Keep being kind', 'en')]
        for order in orders:
            enqueue_order(redis_conn, order, queue_name=QUEUE, job_timeout=600)
        ids = [order.video_id for order in orders]
        wait_for(lambda: all(_completed(redis_conn, i) for i in ids), timeout=300, message='the orders')
    finally:
        stop(worker)
    calls = [command for _, command in _calls(ffmpeg_log)[before:]]
    muxes = [c for c in calls if ' concat ' in f' {c} ' or '-f concat' in c]
    assert len(muxes) == len(orders), calls  # the shim saw every order's FFmpegs
    encodes = [c for c in calls if 'libx264' in c]
    # NAME_CARD (on by default): an order's one video encode is its name card's second, drawn on the
    # template's stored frames (tests/test_name_card.py counts its frames); no ending, no other part.
    others = [c for c in encodes if 'drawtext' not in c or 'card.mp4' not in c]
    assert len(encodes) == len(orders) and others == [], f'{len(others)} other video encode(s): {others[:2]}'
    for order in orders:
        record = JobRecords(redis_conn).get(order.video_id)
        assert record is not None and record.strategy == 'voiceover'
        assert_output_spec(Path(record.output), width=180, height=320,
                           duration=load_duration(record.output))  # fmt: skip


def load_duration(path: str) -> float:
    from utils.probe import probe

    return probe(Path(path)).duration


def test_an_order_arriving_mid_preparation_waits_for_at_most_one_ending(
    redis_conn: Redis, env: dict[str, str], tmp_path: Path, ffmpeg_log: Path
) -> None:
    worker_log = tmp_path / 'worker.log'
    worker = start_worker(env, log=worker_log)
    try:
        wait_for(lambda: any(PREPARER_MARK in c for _, c in _calls(ffmpeg_log)), timeout=300,
                 message='the preparer to start encoding endings')  # fmt: skip
        order = _order(1, 'Sigue siendo tan amable con tu hermano')
        enqueued_at = time.time()
        enqueue_order(redis_conn, order, queue_name=QUEUE, job_timeout=600)
        wait_for(lambda: _completed(redis_conn, order.video_id), timeout=300, message='the order')
        record = JobRecords(redis_conn).get(order.video_id)
        assert record is not None
        done_at = record.updated_at
        # After the order, preparation goes on (the order did not end it).
        wait_for(lambda: 'template.endings_ready' in _events(worker_log), timeout=600, interval=0.2,
                 message='preparation to finish after the order')  # fmt: skip
    finally:
        stop(worker)
    during = [c for at, c in _calls(ffmpeg_log) if enqueued_at <= at <= done_at and PREPARER_MARK in c]
    # One encode may have started in the instant before the preparer saw the order; no more.
    assert len(during) <= 1, f'{len(during)} ending encodes started while the order was waiting or running'


def test_worker_builds_its_template_before_taking_jobs_and_health_says_warming(
    redis_conn: Redis, env: dict[str, str], short_loop_assets: Path, tmp_path: Path, ffmpeg_log: Path
) -> None:
    # Holding the template's build lock keeps the worker warming for as long as the test needs.
    spec = RenderSpec(width=180, height=320, preset='veryfast')
    key = template_key(load_assets(short_loop_assets, decode=False), spec, Deadline.after(30))
    cache = Path(env['TEMPLATE_CACHE_DIR'])
    cache.mkdir(parents=True)
    order = _order(2, 'Gracias por todo')
    enqueue_order(redis_conn, order, queue_name=QUEUE, job_timeout=600)
    settings = Settings(redis_url=env['REDIS_URL'], assets_dir=short_loop_assets, output_dir=tmp_path / 'output')
    worker = start_worker({**env, 'PREPARE_ENDINGS_WHEN_IDLE': 'false'}, log=tmp_path / 'worker.log')
    try:
        with (cache / f'.{key}.lock').open('a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                report = wait_for(lambda: _report_if(settings, 'warming'), timeout=120,
                                  message='health to say warming')  # fmt: skip
                assert report is not None
                check = next(c for c in report.checks if c.name == 'warm start')
                assert check.detail.startswith('warming') and report.as_dict()['status'] == 'warming'
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        wait_for(lambda: _completed(redis_conn, order.video_id), timeout=300, message='the order')
        assert wait_for(lambda: _warm_check(settings).ok, timeout=60, message='health to stop saying warming')
    finally:
        stop(worker)
    calls = [c for _, c in _calls(ffmpeg_log)]
    build = [i for i, c in enumerate(calls) if f'/.{key}-' in c]  # writing into the template's staging dir
    ours = [i for i, c in enumerate(calls) if order.video_id in c]
    assert build and ours and max(build) < min(ours), 'the order ran before its template was built'


def test_endings_prepared_at_start_leave_the_first_order_no_ending_to_encode(
    redis_conn: Redis, env: dict[str, str], tmp_path: Path, ffmpeg_log: Path
) -> None:
    order = _order(0, 'Gracias por ayudar en casa')  # waiting before the worker starts: its very first job
    enqueue_order(redis_conn, order, queue_name=QUEUE, job_timeout=600)
    worker_log = tmp_path / 'worker.log'
    worker = start_worker({**env, 'PREPARE_ENDINGS_AT_START': 'true', 'PREPARE_ENDINGS_WHEN_IDLE': 'false',
                           'WARM_FORMATS': '["9:16"]'}, log=worker_log)  # fmt: skip
    try:
        wait_for(lambda: _completed(redis_conn, order.video_id), timeout=600, message='the order')
        # Loaded by the worker itself, so no horse loads it again (subtitles.espeak_words).
        assert 'libespeak-ng' in Path(f'/proc/{worker.pid}/maps').read_text()
    finally:
        stop(worker)
    calls = [c for _, c in _calls(ffmpeg_log)]
    prepared = [i for i, c in enumerate(calls) if PREPARER_MARK in c]
    ours = [i for i, c in enumerate(calls) if order.video_id in c]
    assert prepared and ours and max(prepared) < min(ours), 'the order ran before the endings were prepared'
    encodes = [calls[i] for i in ours if 'libx264' in calls[i]]
    assert encodes and all('card.mp4' in c for c in encodes), f'the order encoded more than its name card: {encodes}'
    assert 'worker.endings_ready_at_start' in _events(worker_log)


def test_worker_builds_every_warm_format_before_taking_jobs(
    redis_conn: Redis, env: dict[str, str], short_loop_assets: Path, tmp_path: Path, ffmpeg_log: Path
) -> None:
    formats = ['9:16', '1:1', '16:9']
    order = parse_order({'child_name': 'Lucía', 'age': 7, 'message': 'Gracias', 'parent_email': 'mama@example.com',
                         'consent': True, 'language': 'es', 'formats': formats})  # fmt: skip
    enqueue_order(redis_conn, order, queue_name=QUEUE, job_timeout=600)
    spec = RenderSpec(width=180, height=320, preset='veryfast')
    assets = load_assets(short_loop_assets, decode=False)
    keys = {f: template_key(assets, format_spec(spec, f), Deadline.after(30)) for f in formats}
    assert len(set(keys.values())) == len(formats)
    worker = start_worker({**env, 'PREPARE_ENDINGS_WHEN_IDLE': 'false', 'WARM_FORMATS': json.dumps(formats)},
                          log=tmp_path / 'worker.log')  # fmt: skip
    try:
        wait_for(lambda: _completed(redis_conn, order.video_id), timeout=300, message='the order')
    finally:
        stop(worker)
    calls = [c for _, c in _calls(ffmpeg_log)]
    ours = min(i for i, c in enumerate(calls) if order.video_id in c)
    for video_format, key in keys.items():
        build = [i for i, c in enumerate(calls) if f'/.{key}-' in c]
        assert build and max(build) < ours, f'the {video_format} template was built on the order, not at start'
    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None
    assert {'1x1.mp4', '16x9.mp4'} <= set(record.extras), record.extras


def _warm_check(settings: Settings) -> Check:
    report = _report_if(settings, '')
    assert isinstance(report, HealthReport)
    return next(c for c in report.checks if c.name == 'warm start')


def _report_if(settings: Settings, status: str) -> HealthReport | None:
    conn = Redis.from_url(settings.redis_url)
    try:
        report = run_checks(settings, conn, build_storage(settings), ProviderSet())
    finally:
        conn.close()
    return report if report.status == status or not status else None


def test_health_reports_no_warming_once_the_key_is_gone(redis_conn: Redis) -> None:
    from queueing.warming import WARMING_KEY_PREFIX, warming_workers

    redis_conn.set(f'{WARMING_KEY_PREFIX}host:1', str(time.time() - 5), ex=30)
    assert set(warming_workers(redis_conn)) == {'host:1'}
    redis_conn.delete(f'{WARMING_KEY_PREFIX}host:1')
    assert warming_workers(redis_conn) == {}


def test_an_unanswered_warm_start_check_is_unhealthy_not_warming() -> None:
    unanswered = Check('warm start', False, 'no answer within 3 s')
    assert HealthReport([unanswered]).status == 'unhealthy'
    answered = Check('warm start', False, 'warming: ...', {'warming': {'host:1': 2.0}})
    assert HealthReport([answered, Check('workers', False, '0 worker(s) alive')]).status == 'warming'
    assert HealthReport([Check('warm start', True, 'no worker warming up', {'warming': {}})]).status == 'healthy'
