"""A real `python worker.py` (forking RQ worker) on a real Redis turns an order into an MP4."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from compose.placeholders import render_placeholders
from orders import parse_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from tests.media import assert_output_spec, expected_duration

ROOT = Path(__file__).resolve().parent.parent


def run_worker(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, 'worker.py', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_worker_turns_an_order_into_a_video(
    redis_conn: Redis, worker_env: dict[str, str], small_assets: Path, tmp_path: Path
) -> None:
    order = parse_order({'child_name': 'Sofía', 'age': 6, 'message': 'Gracias por ayudar en casa',
                         'parent_email': 'mama@example.com', 'consent': True})  # fmt: skip
    enqueue_order(redis_conn, order, queue_name='papa-noel-videos', job_timeout=600)

    done = run_worker(worker_env, '--burst')
    assert done.returncode == 0, done.stderr[-3000:]

    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None and record.state is State.COMPLETED, record
    output = Path(record.output)
    assert output == (Path(worker_env['OUTPUT_DIR']) / f'{order.video_id}.mp4').resolve()
    assert record.strategy == 'voiceover' and record.providers == {'tts': 'espeak'}
    skipped = {a['strategy']: a['reason'] for a in record.attempts if a['outcome'] == 'skipped'}
    assert skipped == {'lipsync': 'no lip-sync provider configured',
                       'talking_video': 'no talking-video provider configured'}  # fmt: skip
    for stage in ('script', 'audio', 'compose', 'store'):
        times = record.stages[stage]
        assert times.finished_at is not None and times.finished_at >= times.started_at
    assert record.stages['compose'].started_at >= (record.stages['audio'].finished_at or 0)

    assert_output_spec(output, width=180, height=320, duration=expected_duration(order, small_assets, tmp_path))
    assert not list(output.parent.glob('*.partial')) and not list(Path(worker_env['TEMP_DIR']).glob('*/*'))

    # JSON logs, one object per line, and every record of the job carries its video id.
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{')]
    job_lines = [line for line in lines if line['logger'] in ('pipeline.produce', 'chain.policy', 'chain.strategies')]
    assert job_lines and all(line['video_id'] == order.video_id for line in job_lines)
    events = [line['event'] for line in job_lines]
    assert events[0] == 'job.started' and events[-1] == 'job.completed'
    assert events.count('strategy.skipped') == 2
    assert Queue('papa-noel-videos', connection=redis_conn).count == 0


def test_worker_refuses_to_start_naming_the_bad_asset(
    redis_conn: Redis, worker_env: dict[str, str], small_assets: Path, tmp_path: Path
) -> None:
    broken = tmp_path / 'broken-assets'
    shutil.copytree(small_assets, broken)
    (broken / 'frame3_santa_base.mp4').write_bytes(b'garbage')
    done = run_worker({**worker_env, 'ASSETS_DIR': str(broken)}, '--burst')
    assert done.returncode == 2
    assert 'frame3_santa_base.mp4' in done.stderr and 'Traceback' not in done.stderr


def test_worker_refuses_to_start_without_redis_url(worker_env: dict[str, str]) -> None:
    env = {k: v for k, v in worker_env.items() if k != 'REDIS_URL'}
    done = run_worker({**env, 'REDIS_URL': ''}, '--burst', timeout=30)
    assert done.returncode == 2 and 'REDIS_URL is not set' in done.stderr


def test_failed_job_is_recorded_with_its_stage_and_error(redis_conn: Redis, worker_env: dict[str, str]) -> None:
    order = parse_order({'child_name': 'Ana', 'age': 4, 'parent_email': 'p@example.com', 'consent': True})
    enqueue_order(redis_conn, order, queue_name='papa-noel-videos', job_timeout=600)
    # espeak-ng missing from PATH: the only TTS fails, so every strategy fails.
    fake_bin = Path(worker_env['TEMP_DIR']).parent / 'bin'
    fake_bin.mkdir()
    for tool in ('ffmpeg', 'ffprobe', 'redis-server'):
        if found := shutil.which(tool):
            (fake_bin / tool).symlink_to(found)
    (fake_bin / 'espeak-ng').write_text('#!/bin/sh\necho "espeak-ng: voice data missing" >&2\nexit 1\n')
    (fake_bin / 'espeak-ng').chmod(0o755)
    done = run_worker({**worker_env, 'PATH': f'{fake_bin}:/usr/bin:/bin'}, '--burst')
    assert done.returncode == 0, done.stderr[-2000:]
    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None and record.state is State.FAILED
    assert record.error.startswith('audio: every strategy failed')
    assert 'voice data missing' in record.error
    assert [(a['strategy'], a['outcome']) for a in record.attempts] == [
        ('lipsync', 'skipped'), ('talking_video', 'skipped'), ('voiceover', 'failed')]  # fmt: skip


@pytest.mark.slow
def test_full_spec_1080x1920(redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path) -> None:
    full_assets = tmp_path / 'full-assets'
    render_placeholders(full_assets)
    env = {**worker_env, 'ASSETS_DIR': str(full_assets), 'OUTPUT_WIDTH': '1080', 'OUTPUT_HEIGHT': '1920',
           'X264_PRESET': 'medium'}  # fmt: skip
    order = parse_order({'child_name': 'Martina', 'age': 9, 'message': 'Te quiero', 'parent_email': 'p@example.com',
                         'consent': True})  # fmt: skip
    enqueue_order(redis_conn, order, queue_name='papa-noel-videos', job_timeout=900)
    assert run_worker(env, '--burst', timeout=600).returncode == 0
    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None and record.state is State.COMPLETED, record
    expected = expected_duration(order, full_assets, tmp_path)
    info = assert_output_spec(Path(record.output), width=1080, height=1920, duration=expected)
    assert info.fps == 30
