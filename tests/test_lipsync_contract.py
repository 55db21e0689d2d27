"""The lip-sync contract, held by every lip-sync provider; and how each vendor's failures map into our tree."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from events import PROVIDER_NONCOMMERCIAL_ENABLED as NONCOMMERCIAL_ENABLED
from events import PROVIDER_NONCOMMERCIAL_REFUSED as NONCOMMERCIAL_REFUSED
from providers.base import LipSyncProvider, Speech
from providers.cog import CogLipSync
from providers.errors import (
    ContentRejected,
    PermanentProviderError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.fake import FakeLipSync, FakeTTS
from providers.http import HttpTimeouts
from providers.musetalk_lipsync import MuseTalkLipSync
from providers.polling import PollPolicy
from providers.registry import configured_lipsync
from providers.synclabs_lipsync import SyncLabsLipSync
from providers.wav2lip_lipsync import Wav2LipLipSync
from settings import Settings
from storage.local import LocalStorage
from tests.fake_vendors_tts_lipsync import FakeCog, FakeSyncLabs
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
def synclabs(sync_fake: FakeSyncLabs, storage: LocalStorage) -> Iterator[SyncLabsLipSync]:
    provider = SyncLabsLipSync('sync-key', storage, base_url=sync_fake.base_url, timeouts=FAST, poll=TINY_POLL)
    yield provider
    provider.close()


def _cog(kind: str, url: str, storage: LocalStorage, deadline: float = COG_DEADLINE) -> CogLipSync:
    if kind == 'musetalk':
        return MuseTalkLipSync(url, storage, timeouts=FAST, deadline=deadline)
    return Wav2LipLipSync(url, storage, timeouts=FAST, deadline=deadline)


@pytest.fixture(params=['synclabs', 'musetalk', 'wav2lip', 'fake'])
def lipsync(request: pytest.FixtureRequest, storage: LocalStorage) -> Iterator[LipSyncProvider]:
    provider: LipSyncProvider
    if request.param == 'synclabs':
        provider = request.getfixturevalue('synclabs')
    elif request.param in ('musetalk', 'wav2lip'):
        provider = _cog(request.param, request.getfixturevalue('cog_fake').base_url, storage)
    else:
        provider = FakeLipSync()
    yield provider
    provider.close()


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
    stem = f'{storage.public_base_url}/media/lipsync-{synclabs.idempotency_key(base_video, speech)[:32]}'
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


def test_synclabs_sends_a_stable_idempotency_key(
    synclabs: SyncLabsLipSync, sync_fake: FakeSyncLabs, base_video: Path, speech: Speech, tmp_path: Path
) -> None:
    for attempt in ('first', 'retry'):  # a job retried after a crash sends the same inputs again
        (tmp_path / attempt).mkdir()
        synclabs.sync(base_video, speech, tmp_path / attempt)

    keys = [call.headers['idempotency-key'] for call in sync_fake.calls('POST', '/v2/generate')]
    assert len(keys) == 2 and keys[0] == keys[1] == synclabs.idempotency_key(base_video, speech)
    assert re.fullmatch(r'[A-Za-z0-9._~-]{1,128}', keys[0])
    assert len(sync_fake.generations) == 1  # the retry was answered with the first generation: paid once


def test_synclabs_idempotency_key_changes_with_the_inputs(
    synclabs: SyncLabsLipSync, base_video: Path, speech: Speech, small_assets: Path, tmp_path: Path
) -> None:
    other_speech = FakeTTS(seconds=2.0).synthesize('Ho ho', 'en', tmp_path)
    other_video = small_assets / 'Frame_4_NocheMagica.mov'
    key = synclabs.idempotency_key(base_video, speech)

    assert synclabs.idempotency_key(base_video, speech) == key
    assert synclabs.idempotency_key(base_video, other_speech) != key
    assert synclabs.idempotency_key(other_video, speech) != key
    other_model = SyncLabsLipSync('k', synclabs.storage, model='lipsync-2-pro')
    assert other_model.idempotency_key(base_video, speech) != key
    other_model.close()


@pytest.mark.parametrize(
    ('mode', 'error'),
    [
        ('rejected', ContentRejected),
        ('failed', PermanentProviderError),
        ('failed_transient', TransientProviderError),
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
    assert ('bbox_shift' in call.body['input']) == (kind == 'musetalk')


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
    ('failed', PermanentProviderError),
    ('failed_oom', TransientProviderError),
    ('malformed', TransientProviderError),
    ('truncated', TransientProviderError),
    ('slow', ProviderTimeout),
]


# MuseTalk and Wav2Lip share CogLipSync: the whole matrix for one, a permanent and a transient case for the other.
@pytest.mark.parametrize(
    ('kind', 'mode', 'error'),
    [('musetalk', mode, error) for mode, error in COG_FAILURES]
    + [('wav2lip', 'failed', PermanentProviderError), ('wav2lip', 'busy', TransientProviderError)],
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
    assert synclabs.check_reachable() is None  # 404 for a generation that does not exist: key accepted
    with closing(SyncLabsLipSync('wrong-key', storage, base_url=sync_fake.base_url, timeouts=FAST)) as provider:
        problem = provider.check_reachable()
    assert problem is not None and '401' in problem


def test_cog_reachability(cog_fake: FakeCog, storage: LocalStorage) -> None:
    with closing(_cog('musetalk', cog_fake.base_url, storage)) as provider:
        assert provider.check_reachable() is None
        cog_fake.mode = 'busy'
        assert provider.check_reachable() is None  # running someone else's prediction is healthy
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with closing(_cog('musetalk', f'http://127.0.0.1:{port}', storage)) as provider:
        problem = provider.check_reachable()
    assert problem is not None and 'connection failed' in problem


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
