"""The lip-sync contract, held by every lip-sync provider; and how each vendor's failures map into our tree."""

from __future__ import annotations

import logging
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from events import PROVIDER_NONCOMMERCIAL_ENABLED as NONCOMMERCIAL_ENABLED
from events import PROVIDER_NONCOMMERCIAL_REFUSED as NONCOMMERCIAL_REFUSED
from providers.base import LipSyncProvider, Speech
from providers.cog import CogLipSync
from providers.errors import (
    ContentRejected,
    IdempotencyConflict,
    PermanentProviderError,
    ProviderError,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.fake import FakeLipSync, FakeTTS
from providers.heygen_lipsync import HeyGenLipSync
from providers.http import HttpTimeouts
from providers.job_state import JobState
from providers.musetalk_lipsync import MuseTalkLipSync
from providers.polling import PollPolicy
from providers.registry import configured_lipsync
from providers.synclabs_lipsync import SyncLabsLipSync
from providers.wav2lip_lipsync import Wav2LipLipSync
from settings import Settings
from storage.local import LocalStorage
from tests.fake_vendors_tts_lipsync import FakeCog, FakeSyncLabs
from tests.fake_vendors_video import FakeHeyGen
from tests.servers import static_files
from utils.probe import probe

SPEECH_SECONDS = 5.0  # longer than the 4 s base footage: the providers must loop it
FAST = HttpTimeouts(connect=2.0, read=2.0)
TINY_POLL = PollPolicy(first_delay=0.01, max_delay=0.05, factor=2.0, deadline=10.0)
COG_DEADLINE = 10.0


@pytest.fixture(scope='module')
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStorage]:
    """Local storage whose published media a static file server really serves, as PUBLIC_MEDIA_BASE_URL."""
    root = tmp_path_factory.mktemp('storage')
    with static_files(root) as url:
        yield LocalStorage(root, public_base_url=url)


@pytest.fixture(scope='module')
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return FakeTTS(seconds=SPEECH_SECONDS).synthesize('¡Jo, jo, jo!', 'es', tmp_path_factory.mktemp('speech'))


@pytest.fixture
def base_video(small_assets: Path) -> Path:
    return small_assets / 'frame3_santa_base.mp4'


@pytest.fixture
def sync_fake(vendor_host: HTTPServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSyncLabs]:
    vendor_host.clear()
    yield FakeSyncLabs(vendor_host, tmp_path_factory.mktemp('synclabs'))
    vendor_host.check_handler_errors()


@pytest.fixture
def cog_fake(vendor_host: HTTPServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCog]:
    vendor_host.clear()
    yield FakeCog(vendor_host, tmp_path_factory.mktemp('cog'))
    vendor_host.check_handler_errors()


@pytest.fixture
def heygen_fake(vendor_host: HTTPServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHeyGen]:
    vendor_host.clear()
    fake = FakeHeyGen(vendor_host, tmp_path_factory.mktemp('heygen'))
    fake.pending_polls = 1
    yield fake
    vendor_host.check_handler_errors()


@pytest.fixture
def heygen_lipsync(heygen_fake: FakeHeyGen, storage: LocalStorage) -> Iterator[HeyGenLipSync]:
    provider = HeyGenLipSync(heygen_fake.api_key, storage, base_url=heygen_fake.url(), timeouts=FAST, poll=TINY_POLL)
    yield provider
    provider.close()


class PresignedLikeStorage(LocalStorage):
    """Like S3: every publish hands out a new URL (a fresh signature) for the same object."""

    def publish(self, source: Path, *, name: str, expires_seconds: int = 3600) -> str:
        return (
            f'{super().publish(source, name=name, expires_seconds=expires_seconds)}?X-Amz-Signature={uuid.uuid4().hex}'
        )


@pytest.fixture
def synclabs(sync_fake: FakeSyncLabs, storage: LocalStorage) -> Iterator[SyncLabsLipSync]:
    provider = SyncLabsLipSync('sync-key', storage, base_url=sync_fake.base_url, timeouts=FAST, poll=TINY_POLL)
    yield provider
    provider.close()


def _cog(kind: str, url: str, storage: LocalStorage, deadline: float = COG_DEADLINE) -> CogLipSync:
    if kind == 'musetalk':
        return MuseTalkLipSync(url, storage, timeouts=FAST, deadline=deadline)
    return Wav2LipLipSync(url, storage, timeouts=FAST, deadline=deadline)


@pytest.fixture(params=['synclabs', 'heygen-lipsync', 'musetalk', 'wav2lip', 'fake'])
def lipsync(request: pytest.FixtureRequest, storage: LocalStorage) -> Iterator[LipSyncProvider]:
    provider: LipSyncProvider
    if request.param in ('synclabs', 'heygen-lipsync'):
        provider = request.getfixturevalue(request.param.replace('-', '_'))
    elif request.param in ('musetalk', 'wav2lip'):
        provider = _cog(request.param, request.getfixturevalue('cog_fake').base_url, storage)
    else:
        provider = FakeLipSync()
    yield provider
    provider.close()


def fresh(path: Path) -> Path:
    """A job's working directory (the pipeline makes it before any stage)."""
    path.mkdir(exist_ok=True)
    return path


# --- The shared contract ----------------------------------------------------------------


def test_clip_is_a_decodable_video_as_long_as_the_speech(
    lipsync: LipSyncProvider, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    clip = lipsync.sync(base_video, speech, tmp_path)

    assert clip.parent == tmp_path and clip.is_file()
    info = probe(clip)
    assert info.has_video and info.duration > 0
    # The 4 s footage was looped: the lips move for the whole speech, not just its first 4 s.
    assert abs(info.duration - speech.duration) < 0.3, f'{info.duration:.2f} s for {speech.duration:.2f} s of speech'


# --- Sync Labs ----------------------------------------------------------------------------


def test_synclabs_request_follows_the_v2_contract(
    synclabs: SyncLabsLipSync,
    sync_fake: FakeSyncLabs,
    storage: LocalStorage,
    base_video: Path,
    speech: Speech,
    tmp_path: Path,
) -> None:
    synclabs.sync(base_video, speech, tmp_path)

    [create] = sync_fake.calls('POST', '/v2/generate')
    assert create.headers['x-api-key'] == 'sync-key'
    assert create.body['model'] == 'lipsync-2'
    assert create.body['options'] == {'sync_mode': 'cut_off'}
    stem = f'{storage.public_base_url}/media/lipsync-{synclabs.inputs_key(base_video, speech)[:32]}'
    assert create.body['input'] == [
        {'type': 'video', 'url': f'{stem}-video.mp4'},
        {'type': 'audio', 'url': f'{stem}-audio.wav'},
    ]
    # What was published: the footage looped to the speech at 25 fps, silent; the speech as it is.
    video = probe(storage.root / 'media' / Path(create.body['input'][0]['url']).name)
    assert video.fps == 25 and not video.has_audio
    assert abs(video.duration - speech.duration) < 0.1
    assert (storage.root / 'media' / Path(create.body['input'][1]['url']).name).read_bytes() == (
        speech.path.read_bytes()
    )
    assert len(sync_fake.calls('GET', '/v2/generate/')) >= 2  # PENDING -> PROCESSING -> COMPLETED
    # The output lives on their CDN: our API key must not travel there.
    [download] = sync_fake.calls('GET', '/files/')
    assert 'x-api-key' not in download.headers


def test_synclabs_idempotency_key_is_derived_from_the_exact_body(
    synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    for attempt in ('first', 'second'):  # two jobs of the same inputs, sharing no checkpoint
        (tmp_path / attempt).mkdir()
        synclabs.sync(base_video, speech, tmp_path / attempt)

    creates = sync_fake.calls('POST', '/v2/generate')
    keys = [call.headers['idempotency-key'] for call in creates]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert re.fullmatch(r'[A-Za-z0-9._~-]{1,128}', keys[0])
    from providers.job_state import idempotency_key

    assert keys[0] == idempotency_key('pn', creates[0].body, 0)  # a function of the body sent
    assert sync_fake.ledger.charged_calls() == 1  # the same body under the same key was replayed, not billed


def test_synclabs_inputs_key_changes_with_the_inputs(
    synclabs: SyncLabsLipSync, base_video: Path, speech: Speech, small_assets: Path, tmp_path: Path
) -> None:
    other_speech = FakeTTS(seconds=2.0).synthesize('Ho ho', 'en', tmp_path)
    other_video = small_assets / 'Frame_4_NocheMagica.mov'
    key = synclabs.inputs_key(base_video, speech)

    assert synclabs.inputs_key(base_video, speech) == key
    assert synclabs.inputs_key(base_video, other_speech) != key
    assert synclabs.inputs_key(other_video, speech) != key
    other_model = SyncLabsLipSync('k', synclabs.storage, model='lipsync-2-pro')
    assert other_model.inputs_key(base_video, speech) != key
    other_model.close()


def test_synclabs_lost_answer_with_presigned_urls_resumes_the_paid_generation(
    sync_fake: FakeSyncLabs, storage: LocalStorage, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    """The chaos hook: charged, answer lost. The retry of the job must send the same body (the URLs
    kept in the job's checkpoint, though every publish signs anew) and so the same key."""
    presigned = PresignedLikeStorage(storage.root, public_base_url=storage.public_base_url)
    sync_fake.ledger.lose_answers = 1
    with closing(
        SyncLabsLipSync('sync-key', presigned, base_url=sync_fake.base_url, timeouts=FAST, poll=TINY_POLL)
    ) as provider:
        with pytest.raises(TransientProviderError, match='504'):
            provider.sync(base_video, speech, tmp_path)
        clip = provider.sync(base_video, speech, tmp_path)
    assert probe(clip).has_video
    creates = sync_fake.calls('POST', '/v2/generate')
    assert len(creates) == 2 and creates[0].body == creates[1].body
    assert sync_fake.ledger.charged_calls() == 1, sync_fake.ledger.charges
    assert JobState(tmp_path, 'synclabs').paid_submits == 1


def test_synclabs_republished_input_is_a_new_key_and_a_counted_paid_call(
    sync_fake: FakeSyncLabs,
    storage: LocalStorage,
    base_video: Path,
    speech: Speech,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    presigned = PresignedLikeStorage(storage.root, public_base_url=storage.public_base_url)
    clock = [1_000_000.0]
    with closing(
        SyncLabsLipSync('sync-key', presigned, base_url=sync_fake.base_url, timeouts=FAST, poll=TINY_POLL)
    ) as provider:
        sync_fake.ledger.lose_answers = 1
        with pytest.raises(TransientProviderError):
            provider.sync(base_video, speech, tmp_path)
        # The URLs kept in the checkpoint expire: the retry must publish again.
        state = JobState(tmp_path, 'synclabs', clock=lambda: clock[0])
        for entry in state._data['published'].values():
            entry['expires_at'] = 0
        state._save()
        provider.sync(base_video, speech, tmp_path)
    keys = [call.headers['idempotency-key'] for call in sync_fake.calls('POST', '/v2/generate')]
    assert len(set(keys)) == 2, 'a new URL is a new body: it must not reuse the old key (payload conflict)'
    assert sync_fake.ledger.charged_calls() == 2
    assert JobState(tmp_path, 'synclabs').paid_submits == 2  # counted
    [repeated] = [r for r in caplog.records if r.getMessage() == 'provider.paid_call_repeated']
    assert repeated.paid_submits == 2 and repeated.provider == 'synclabs'  # type: ignore[attr-defined]


def test_fake_sync_refuses_a_key_reused_with_another_body(
    synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    synclabs.sync(base_video, speech, fresh(tmp_path / 'a'))
    [create] = sync_fake.calls('POST', '/v2/generate')
    other = {**create.body, 'options': {'sync_mode': 'loop'}}
    with pytest.raises(IdempotencyConflict):
        synclabs._post(other, create.headers['idempotency-key'])
    assert sync_fake.ledger.charged_calls() == 1


def test_synclabs_payload_conflict_is_permanent_unless_the_earlier_generation_failed(
    synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    synclabs.sync(base_video, speech, fresh(tmp_path / 'a'))
    [generation] = sync_fake.generations.values()
    generation.body = {**generation.body, 'options': {'sync_mode': 'loop'}}  # the key now belongs to another body
    key = generation.key
    assert key is not None

    # Nothing says the earlier generation failed: it may be paid for and running. Never start another.
    with pytest.raises(IdempotencyConflict):
        synclabs.sync(base_video, speech, fresh(tmp_path / 'b'))
    assert sync_fake.ledger.charged_calls() == 1

    # Known terminal and failed: a fresh key is a legitimate new attempt.
    JobState(tmp_path / 'c', 'synclabs').mark_terminal(key, 'FAILED', failed=True)
    assert probe(synclabs.sync(base_video, speech, fresh(tmp_path / 'c'))).has_video
    assert sync_fake.ledger.charged_calls() == 2


@pytest.mark.parametrize('mode', ['failed_transient', 'canceled', 'timed_out'])
def test_synclabs_retry_after_a_failed_generation_uses_a_fresh_key(
    mode: str, synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    sync_fake.mode = mode
    with pytest.raises(TransientProviderError) as raised:
        synclabs.sync(base_video, speech, tmp_path)
    assert type(raised.value) is TransientProviderError  # ended at once, not polled to the deadline
    sync_fake.mode = 'ok'
    assert probe(synclabs.sync(base_video, speech, tmp_path)).has_video  # not the FAILED one replayed
    assert len(sync_fake.ledger.by_key()) == 2 and sync_fake.ledger.charged_calls() == 2


@pytest.mark.parametrize('fields', ['new', 'old'])
def test_synclabs_reads_current_and_older_field_names(
    fields: str, synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    sync_fake.fields = fields
    assert probe(synclabs.sync(base_video, speech, fresh(tmp_path / 'ok'))).has_video  # outputMediaUrl | outputUrl
    sync_fake.mode = 'failed_transient'
    other = FakeTTS(seconds=2.0).synthesize('Ho ho', 'en', tmp_path)  # other inputs: a new generation
    with pytest.raises(TransientProviderError, match='internal_error') as raised:  # errorCode | error_code
        synclabs.sync(base_video, other, fresh(tmp_path / 'failed'))
    assert type(raised.value) is TransientProviderError


@pytest.mark.parametrize(
    ('mode', 'error'),
    [
        ('rejected', ContentRejected),
        ('failed', PermanentProviderError),
        ('failed_transient', TransientProviderError),
        ('canceled', TransientProviderError),
        ('timed_out', TransientProviderError),
        ('server_error', TransientProviderError),
        ('quota', QuotaExhausted),
        ('malformed', TransientProviderError),
        ('truncated', TransientProviderError),
    ],
)
def test_synclabs_failure_maps_to_error_class(
    mode: str,
    error: type[ProviderError],
    synclabs: SyncLabsLipSync,
    sync_fake: FakeSyncLabs,
    base_video: Path,
    speech: Speech,
    tmp_path: Path,
) -> None:
    sync_fake.mode = mode
    with pytest.raises(error) as raised:
        synclabs.sync(base_video, speech, tmp_path)
    assert type(raised.value) is error
    assert raised.value.provider == 'synclabs'
    assert not list(tmp_path.glob('lipsync-synclabs-*'))  # nothing half-written is left as a result


# Rate limits (429) are in test_synclabs_rate_limits_carry_retry_after_and_the_error_code.


def test_synclabs_rate_limits_carry_retry_after_and_the_error_code(
    synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    sync_fake.mode = 'rate_limited'
    with pytest.raises(ProviderRateLimited) as raised:
        synclabs.sync(base_video, speech, tmp_path)
    assert raised.value.retry_after == 3

    sync_fake.mode = 'concurrency'
    with pytest.raises(ProviderRateLimited) as raised:
        synclabs.sync(base_video, speech, tmp_path)
    assert raised.value.retry_after is None
    assert 'concurrency_limit_exceeded' in raised.value.message
    assert len(sync_fake.calls('POST', '/v2/generate')) == 2  # one request each: the client does not retry


def test_synclabs_polling_past_the_deadline_times_out(
    sync_fake: FakeSyncLabs, storage: LocalStorage, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    sync_fake.mode = 'never_finishes'
    poll = PollPolicy(first_delay=0.01, max_delay=0.02, deadline=0.3)
    with closing(
        SyncLabsLipSync('sync-key', storage, base_url=sync_fake.base_url, timeouts=FAST, poll=poll)
    ) as provider:
        with pytest.raises(ProviderTimeout):
            provider.sync(base_video, speech, tmp_path)
    assert len(sync_fake.calls('GET', '/v2/generate/')) > 3


def test_synclabs_keeps_polling_through_transient_poll_errors(
    synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    sync_fake.mode = 'poll_errors'
    clip = synclabs.sync(base_video, speech, tmp_path)
    assert probe(clip).has_video
    assert len(sync_fake.calls('GET', '/v2/generate/')) >= 4  # two 503s, then PROCESSING, COMPLETED


def test_remote_providers_need_published_media(
    sync_fake: FakeSyncLabs, tmp_path: Path, base_video: Path, speech: Speech
) -> None:
    unpublished = LocalStorage(tmp_path / 'out')  # no PUBLIC_MEDIA_BASE_URL
    with closing(SyncLabsLipSync('sync-key', unpublished, base_url=sync_fake.base_url, timeouts=FAST)) as provider:
        with pytest.raises(PermanentProviderError, match='PUBLIC_MEDIA_BASE_URL'):
            provider.sync(base_video, speech, tmp_path)
    assert not sync_fake.calls('POST', '/v2/generate')


# --- MuseTalk and Wav2Lip (the Cog contract) ------------------------------------------------


@pytest.mark.parametrize('kind', ['musetalk', 'wav2lip'])
def test_cog_request_follows_the_contract(
    kind: str, cog_fake: FakeCog, storage: LocalStorage, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    with closing(_cog(kind, cog_fake.base_url + '/', storage)) as provider:  # a trailing slash in the URL is fine
        provider.sync(base_video, speech, tmp_path)
        assert provider.health() == 'READY'

    [call] = cog_fake.calls('POST', '/predictions')
    assert call.path == '/predictions'
    assert call.body['input']['video'].startswith(storage.public_base_url + '/media/')
    assert call.body['input']['audio'].startswith(storage.public_base_url + '/media/')
    assert set(call.body['input']) == {'video', 'audio'}  # no bbox_shift: MuseTalk v15 ignores it


@pytest.mark.parametrize('kind', ['musetalk', 'wav2lip'])
def test_cog_output_as_data_uri(
    kind: str, cog_fake: FakeCog, storage: LocalStorage, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    cog_fake.mode = 'data_uri'
    with closing(_cog(kind, cog_fake.base_url, storage)) as provider:
        clip = provider.sync(base_video, speech, tmp_path)
    assert probe(clip).has_video
    assert not cog_fake.calls('GET', '/files/')


COG_FAILURES: list[tuple[str, type[ProviderError]]] = [
    ('busy', TransientProviderError),
    ('server_error', TransientProviderError),
    ('failed', ContentRejected),  # Wav2Lip's "Face not detected!"
    ('failed_no_face', ContentRejected),  # our MuseTalk sketch's message
    ('failed_oom', TransientProviderError),
    ('failed_cuda_oom', TransientProviderError),
    ('failed_other', PermanentProviderError),
    ('malformed', TransientProviderError),
    ('truncated', TransientProviderError),
    ('slow', ProviderTimeout),
]


# MuseTalk and Wav2Lip share CogLipSync: the whole matrix for one, a permanent and a transient case for the other.
@pytest.mark.parametrize(
    ('kind', 'mode', 'error'),
    [('musetalk', mode, error) for mode, error in COG_FAILURES]
    + [('wav2lip', 'failed', ContentRejected), ('wav2lip', 'busy', TransientProviderError)],
)
def test_cog_failure_maps_to_error_class(
    kind: str,
    mode: str,
    error: type[ProviderError],
    cog_fake: FakeCog,
    storage: LocalStorage,
    base_video: Path,
    speech: Speech,
    tmp_path: Path,
) -> None:
    cog_fake.mode = mode
    cog_fake.delay = 1.0
    # The prediction is synchronous: its deadline is the read timeout of the one call.
    with closing(_cog(kind, cog_fake.base_url, storage, deadline=0.5 if mode == 'slow' else COG_DEADLINE)) as provider:
        with pytest.raises(error) as raised:
            provider.sync(base_video, speech, tmp_path)
    assert type(raised.value) is error
    assert raised.value.provider == kind
    assert len(cog_fake.calls('POST', '/predictions')) == 1  # no retry inside the client


# --- Reachability (health_check.py --deep) ---------------------------------------------------


def test_synclabs_reachability(synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, storage: LocalStorage) -> None:
    assert synclabs.reachability().ok  # 404 for a generation that does not exist: key accepted
    assert sync_fake.calls('GET', '/v2/generate/')[0].headers['x-api-key'] == 'sync-key'
    with closing(SyncLabsLipSync('wrong-key', storage, base_url=sync_fake.base_url, timeouts=FAST)) as provider:
        report = provider.reachability()
    assert not report.ok and report.misconfigured and '401' in report.detail


def test_heygen_lipsync_reachability(heygen_lipsync: HeyGenLipSync, heygen_fake: FakeHeyGen) -> None:
    assert heygen_lipsync.reachability().ok
    assert heygen_fake.calls('/v3/users/me')


def test_cog_reachability(cog_fake: FakeCog, storage: LocalStorage) -> None:
    with closing(_cog('musetalk', cog_fake.base_url, storage)) as provider:
        assert provider.reachability().ok
        cog_fake.mode = 'busy'
        assert provider.reachability().ok  # running someone else's prediction is healthy
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with closing(_cog('musetalk', f'http://127.0.0.1:{port}', storage)) as provider:
        report = provider.reachability()
    assert not report.ok and not report.misconfigured and 'connection failed' in report.detail


@pytest.mark.parametrize('url', ['', 'sync.so', 'ftp://127.0.0.1/x', 'http://[::1'])
def test_synclabs_bad_url_is_misconfigured_and_never_retried(
    url: str, storage: LocalStorage, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    with closing(SyncLabsLipSync('k', storage, base_url=url, timeouts=FAST, poll=TINY_POLL)) as provider:
        with pytest.raises(ProviderMisconfigured):
            provider.sync(base_video, speech, tmp_path)
        assert provider.reachability().misconfigured


def test_tls_verification_failure_is_misconfigured(storage: LocalStorage) -> None:
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler
    from http.server import HTTPServer as PlainServer

    cert, key = storage.root.parent / 'cert.pem', storage.root.parent / 'key.pem'
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
         '-keyout', str(key), '-out', str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = PlainServer(('127.0.0.1', 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f'https://127.0.0.1:{server.server_address[1]}'
        with closing(SyncLabsLipSync('k', storage, base_url=url, timeouts=FAST)) as provider:
            report = provider.reachability()
        assert report.misconfigured and 'SSLError' in report.detail, report
    finally:
        server.shutdown()
        server.server_close()


# --- HeyGen v3 lip-sync --------------------------------------------------------------------------


def test_heygen_lipsync_follows_the_v3_contract(
    heygen_lipsync: HeyGenLipSync,
    heygen_fake: FakeHeyGen,
    storage: LocalStorage,
    base_video: Path,
    speech: Speech,
    tmp_path: Path,
) -> None:
    heygen_lipsync.sync(base_video, speech, tmp_path)
    [job] = heygen_fake.lipsyncs.values()
    assert job.body['video']['type'] == 'url' and job.body['video']['url'].startswith(storage.public_base_url)
    assert job.body['audio']['type'] == 'url' and job.body['mode'] == 'speed'
    assert job.body['title'].startswith('papa-noel-ls-')
    assert heygen_fake.calls(f'/v3/lipsyncs/{job.id}')


HEYGEN_LIPSYNC_FAILURES: list[tuple[str, type[ProviderError]]] = [
    ('429', ProviderRateLimited),
    ('insufficient-credit', QuotaExhausted),
    ('validation', PermanentProviderError),
    ('500', TransientProviderError),
    ('failed', PermanentProviderError),
    ('failed-transient', TransientProviderError),
    ('moderation', ContentRejected),
]


@pytest.mark.parametrize(('mode', 'error'), HEYGEN_LIPSYNC_FAILURES)
def test_heygen_lipsync_failure_maps_to_error_class(
    mode: str,
    error: type[ProviderError],
    heygen_lipsync: HeyGenLipSync,
    heygen_fake: FakeHeyGen,
    base_video: Path,
    speech: Speech,
    tmp_path: Path,
) -> None:
    heygen_fake.mode = mode
    with pytest.raises(error) as raised:
        heygen_lipsync.sync(base_video, speech, tmp_path)
    assert type(raised.value) is error and raised.value.provider == 'heygen-lipsync'


def test_heygen_lipsync_lost_answer_is_found_by_title_not_paid_again(
    heygen_fake: FakeHeyGen, storage: LocalStorage, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    presigned = PresignedLikeStorage(storage.root, public_base_url=storage.public_base_url)
    heygen_fake.ledger.lose_answers = 1
    with closing(
        HeyGenLipSync(heygen_fake.api_key, presigned, base_url=heygen_fake.url(), timeouts=FAST, poll=TINY_POLL)
    ) as provider:
        with pytest.raises(TransientProviderError, match='504'):
            provider.sync(base_video, speech, tmp_path)
        assert probe(provider.sync(base_video, speech, tmp_path)).has_video
    assert heygen_fake.ledger.charged_calls() == 1


# --- Registry -------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ('SYNCLABS_API_KEY', 'MUSETALK_URL', 'WAV2LIP_URL', 'WAV2LIP_ALLOW_NONCOMMERCIAL'):
        monkeypatch.delenv(name, raising=False)


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _names(providers: tuple[LipSyncProvider, ...]) -> list[str]:
    names = [p.name for p in providers]
    for provider in providers:
        provider.close()
    return names


def _licence_records(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == event and r.levelno == logging.WARNING]


@pytest.mark.usefixtures('clean_env')
def test_registry_orders_synclabs_musetalk_wav2lip(storage: LocalStorage, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(
        synclabs_api_key='k',
        musetalk_url='http://gpu:5000',
        wav2lip_url='http://gpu:5001',
        wav2lip_allow_noncommercial=True,
    )
    with caplog.at_level(logging.WARNING):
        assert _names(configured_lipsync(settings, storage)) == ['synclabs', 'musetalk', 'wav2lip']
    assert len(_licence_records(caplog, NONCOMMERCIAL_ENABLED)) == 1  # enabled: the licence is stated at start
    with_heygen = settings.model_copy(update={'heygen_api_key': SecretStr('h'), 'heygen_lipsync': True})
    assert _names(configured_lipsync(with_heygen, storage)) == ['synclabs', 'heygen-lipsync', 'musetalk', 'wav2lip']


@pytest.mark.usefixtures('clean_env')
def test_registry_has_no_lipsync_unless_configured(storage: LocalStorage) -> None:
    assert _names(configured_lipsync(_settings(), storage)) == []
    assert _names(configured_lipsync(_settings(musetalk_url='http://gpu:5000'), storage)) == ['musetalk']


@pytest.mark.usefixtures('clean_env')
def test_wav2lip_without_the_noncommercial_flag_is_off_and_says_so(
    storage: LocalStorage, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        providers = configured_lipsync(_settings(wav2lip_url='http://gpu:5001'), storage)
    assert _names(providers) == []
    assert len(_licence_records(caplog, NONCOMMERCIAL_REFUSED)) == 1
    assert not _licence_records(caplog, NONCOMMERCIAL_ENABLED)


# --- One failure table over every remote lip-sync provider --------------------------------------

# Shared categories, in each fake's own words: (kind, the fake's mode, the class the chain sees).
SHARED_FAILURES: dict[str, dict[str, tuple[str, type[ProviderError]]]] = {
    'server error': {'synclabs': ('server_error', TransientProviderError),
                     'heygen-lipsync': ('500', TransientProviderError),
                     'musetalk': ('server_error', TransientProviderError),
                     'wav2lip': ('server_error', TransientProviderError)},
    'malformed answer': {'synclabs': ('malformed', TransientProviderError),
                         'heygen-lipsync': ('malformed', TransientProviderError),
                         'musetalk': ('malformed', TransientProviderError),
                         'wav2lip': ('malformed', TransientProviderError)},
    'too busy': {'synclabs': ('rate_limited', ProviderRateLimited),
                 'heygen-lipsync': ('429', ProviderRateLimited),
                 'musetalk': ('busy', TransientProviderError),
                 'wav2lip': ('busy', TransientProviderError)},
    'refused content': {'synclabs': ('rejected', ContentRejected),
                        'heygen-lipsync': ('moderation', ContentRejected),
                        'musetalk': ('failed', ContentRejected),
                        'wav2lip': ('failed', ContentRejected)},
}  # fmt: skip
SHARED_CASES = [(what, kind, *case) for what, kinds in SHARED_FAILURES.items() for kind, case in kinds.items()]


@pytest.mark.parametrize(('what', 'kind', 'mode', 'error'), SHARED_CASES, ids=[f'{c[1]}-{c[0]}' for c in SHARED_CASES])
def test_every_remote_lipsync_maps_shared_failures_alike(
    what: str,
    kind: str,
    mode: str,
    error: type[ProviderError],
    request: pytest.FixtureRequest,
    storage: LocalStorage,
    base_video: Path,
    speech: Speech,
    tmp_path: Path,
) -> None:
    fake: FakeSyncLabs | FakeHeyGen | FakeCog
    provider: LipSyncProvider
    if kind in ('synclabs', 'heygen-lipsync'):
        fake = request.getfixturevalue('sync_fake' if kind == 'synclabs' else 'heygen_fake')
        provider = request.getfixturevalue(kind.replace('-', '_'))
    else:
        cog: FakeCog = request.getfixturevalue('cog_fake')
        fake, provider = cog, _cog(kind, cog.base_url, storage)
    fake.mode = mode
    with closing(provider):
        with pytest.raises(ProviderError) as raised:
            provider.sync(base_video, speech, tmp_path)
    assert type(raised.value) is error, (what, raised.value)
    assert raised.value.provider == kind
