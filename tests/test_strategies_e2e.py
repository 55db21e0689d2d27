"""Strategies 1 and 2 end to end: a real worker process, real provider clients, local
servers speaking the vendors' contracts, and the finished video checked against the spec."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis

from metrics import Metrics
from orders import Order, parse_order
from papa_noel_config import INTRO_OVERLAP_SECONDS, OUTRO_OVERLAP_SECONDS
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from tests.fake_vendors_tts_lipsync import FakeElevenLabs, FakeSyncLabs
from tests.fake_vendors_video import FakeHeyGen
from tests.media import assert_output_spec
from tests.servers import static_files
from tests.workers import ROOT
from utils.probe import probe

SPEECH_SECONDS = 4.0


@pytest.fixture
def vendor() -> Iterator[HTTPServer]:
    server = HTTPServer(host='127.0.0.1', threaded=True)
    server.start()
    yield server
    server.check_handler_errors()
    server.stop()


@pytest.fixture
def remote_env(worker_env: dict[str, str], vendor: HTTPServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The worker's environment with ElevenLabs on, and its output directory served as public media."""
    tts = HTTPServer(host='127.0.0.1', threaded=True)
    tts.start()
    eleven = FakeElevenLabs(tts, tmp_path / 'eleven', seconds=SPEECH_SECONDS)
    output = Path(worker_env['OUTPUT_DIR'])
    output.mkdir(parents=True)
    with static_files(output) as public_url:
        yield {
            **worker_env,
            'ELEVENLABS_API_KEY': eleven.api_key,
            'PAPA_NOEL_VOICE_ID': 'santa-voice',
            'ELEVENLABS_BASE_URL': eleven.base_url,
            'PUBLIC_MEDIA_BASE_URL': public_url,
            'PROVIDER_POLL_FIRST_DELAY_SECONDS': '0.2',
            'PROVIDER_POLL_MAX_DELAY_SECONDS': '0.5',
        }
    tts.check_handler_errors()
    tts.stop()


def produce(conn: Redis, env: dict[str, str], name: str) -> tuple[Order, Path]:
    order = parse_order({'child_name': name, 'age': 8, 'message': 'Feliz Navidad', 'parent_email': 'p@example.com',
                         'consent': True})  # fmt: skip
    enqueue_order(conn, order, queue_name='papa-noel-videos', job_timeout=300)
    done = subprocess.run([sys.executable, 'worker.py', '--burst'], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    record = JobRecords(conn).get(order.video_id)
    assert record is not None and record.state is State.COMPLETED, (record, done.stderr[-3000:])
    return order, Path(record.output)


def expected_seconds(assets: Path) -> float:
    intro = probe(assets / 'Frames_1_2_to_3.mov').duration
    outro = probe(assets / 'Frame_4_NocheMagica.mov').duration
    return intro + SPEECH_SECONDS + outro - INTRO_OVERLAP_SECONDS - OUTRO_OVERLAP_SECONDS


def test_strategy_1_elevenlabs_and_sync_labs(
    redis_conn: Redis, remote_env: dict[str, str], vendor: HTTPServer, small_assets: Path, tmp_path: Path
) -> None:
    sync = FakeSyncLabs(vendor, tmp_path / 'sync')
    env = {**remote_env, 'SYNCLABS_API_KEY': sync.api_key, 'SYNCLABS_BASE_URL': sync.base_url}
    order, output = produce(redis_conn, env, 'Lucía')
    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None
    assert record.strategy == 'lipsync' and record.providers == {'tts': 'elevenlabs', 'lipsync': 'synclabs'}
    assert len(sync.calls('POST', '/v2/generate')) == 1
    usage = Metrics(redis_conn).counters()
    assert usage['provider:elevenlabs:calls'] == 1 and usage['provider:synclabs:calls'] == 1
    assert usage['provider:elevenlabs:characters'] > 100  # the whole personalized script
    assert usage['provider:synclabs:media_seconds'] == pytest.approx(SPEECH_SECONDS, abs=0.2)
    assert usage['provider:synclabs:cost_usd'] == pytest.approx(0.05 * SPEECH_SECONDS, rel=0.1)
    assert_output_spec(output, width=180, height=320, duration=expected_seconds(small_assets), tolerance=0.25)


def test_strategy_2_elevenlabs_and_heygen(
    redis_conn: Redis, remote_env: dict[str, str], vendor: HTTPServer, small_assets: Path, tmp_path: Path
) -> None:
    heygen = FakeHeyGen(vendor, tmp_path / 'heygen')
    env = {**remote_env, 'HEYGEN_API_KEY': heygen.api_key, 'HEYGEN_TALKING_PHOTO_ID': 'santa-photo',
           'HEYGEN_BASE_URL': heygen.url()}  # fmt: skip
    order, output = produce(redis_conn, env, 'Mateo')
    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None
    assert record.strategy == 'talking_video' and record.providers == {'tts': 'elevenlabs', 'video': 'heygen'}
    skipped = [a for a in record.attempts if a['outcome'] == 'skipped']
    assert [a['reason'] for a in skipped] == ['no lip-sync provider configured']
    assert_output_spec(output, width=180, height=320, duration=expected_seconds(small_assets), tolerance=0.25)
