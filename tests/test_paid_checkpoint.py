"""The paid segment's checkpoint: a strategy-1 job killed after its lip-sync was charged resumes
without calling the vendor again, counted at the vendor (the fake's charge ledger and requests).

The audio cache is off, so nothing but the job's checkpoints can spare a second speech or a
second lip-sync. Sync Labs' idempotency key and the client's own job state would already keep a
second *charge* away; the segment checkpoint spares the whole vendor round (polls, download,
the 10-minute wait a real render takes), so the test counts every request to the vendor after
the crash, besides the charges.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis

from orders import parse_order
from papa_noel_config import INTRO_OVERLAP_SECONDS, OUTRO_OVERLAP_SECONDS
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from tests.fake_vendors_tts_lipsync import FakeElevenLabs, FakeSyncLabs
from tests.media import assert_output_spec
from tests.servers import static_files
from tests.test_reliability import hold_ffmpeg_in_compose
from tests.workers import FAST_RECOVERY, kill_hard, start_worker, stop, wait_for
from utils.probe import probe

QUEUE = 'papa-noel-videos'
SPEECH_SECONDS = 3.0


@pytest.fixture
def vendors(
    worker_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[dict[str, str], FakeElevenLabs, FakeSyncLabs]]:
    tts_host, sync_host = HTTPServer(host='127.0.0.1', threaded=True), HTTPServer(host='127.0.0.1', threaded=True)
    tts_host.start()
    sync_host.start()
    eleven = FakeElevenLabs(tts_host, tmp_path / 'eleven', seconds=SPEECH_SECONDS)
    sync = FakeSyncLabs(sync_host, tmp_path / 'sync')
    output = Path(worker_env['OUTPUT_DIR'])
    output.mkdir(parents=True, exist_ok=True)
    with static_files(output) as public_url:
        yield (
            {**worker_env, **FAST_RECOVERY, 'AUDIO_CACHE_ENABLED': 'false',
             'ELEVENLABS_API_KEY': eleven.api_key, 'PAPA_NOEL_VOICE_ID': 'santa-voice',
             'ELEVENLABS_BASE_URL': eleven.base_url, 'SYNCLABS_API_KEY': sync.api_key,
             'SYNCLABS_BASE_URL': sync.base_url, 'PUBLIC_MEDIA_BASE_URL': public_url,
             'PROVIDER_POLL_FIRST_DELAY_SECONDS': '0.2', 'PROVIDER_POLL_MAX_DELAY_SECONDS': '0.5'},
            eleven,
            sync,
        )  # fmt: skip
    for host in (tts_host, sync_host):
        host.check_handler_errors()
        host.stop()


def test_a_strategy_1_job_killed_after_the_paid_lipsync_resumes_without_calling_the_vendor_again(
    redis_conn: Redis,
    vendors: tuple[dict[str, str], FakeElevenLabs, FakeSyncLabs],
    small_assets: Path,
    tmp_path: Path,
) -> None:
    env, eleven, sync = vendors
    order = parse_order({'child_name': 'Lucía', 'age': 6, 'message': 'Feliz Navidad', 'parent_email': 'p@example.com',
                         'consent': True})  # fmt: skip
    enqueue_order(redis_conn, order, queue_name=QUEUE, job_timeout=300, retry=job_retry(3, [0]))
    held = tmp_path / 'held-ffmpeg.pid'
    # The first worker's composition blocks: the lip-sync is charged and checkpointed, then it dies.
    first = start_worker(hold_ffmpeg_in_compose(env, tmp_path, order.video_id, held), log=tmp_path / 'first.log')
    try:
        wait_for(held.exists, 120, 0.05, 'composition to be held after the paid lip-sync')
    finally:
        kill_hard(first)
        if held.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(held.read_text()), signal.SIGKILL)
    assert sync.ledger.charged_calls() == 1
    vendor_requests, speech_requests = len(sync.requests), len(eleven.requests)

    second = start_worker(env, log=tmp_path / 'second.log')
    try:
        wait_for(lambda: (r := JobRecords(redis_conn).get(order.video_id)) is not None and r.state is State.COMPLETED,
                 180, 0.2, 'the recovered job to complete')  # fmt: skip
    finally:
        stop(second)

    record = JobRecords(redis_conn).get(order.video_id)
    assert record is not None and record.attempt == 2  # it was the crash that was recovered
    assert record.strategy == 'lipsync' and record.providers == {'tts': 'elevenlabs', 'lipsync': 'synclabs'}
    assert sync.ledger.charged_calls() == 1 and sync.ledger.by_key() and max(sync.ledger.by_key().values()) == 1
    # Not even a poll or a download: the second attempt started from the checkpointed clip.
    assert sync.requests[vendor_requests:] == []
    assert eleven.requests[speech_requests:] == []  # and from the checkpointed speech
    intro, outro = (probe(small_assets / name).duration for name in ('Frames_1_2_to_3.mov', 'Frame_4_NocheMagica.mov'))
    seconds = intro + SPEECH_SECONDS + outro - INTRO_OVERLAP_SECONDS - OUTRO_OVERLAP_SECONDS
    assert_output_spec(Path(record.output), width=180, height=320, duration=seconds, tolerance=0.25)
