"""The talking-video contract, one suite for every provider: HeyGen and Higgsfield against local
fakes of their APIs (tests/fake_vendors_video.py), and the FakeTalkingVideo used elsewhere.

`generate` returns a decodable clip as long as the speech, or raises the one error class that
tells the chain what to do next; polling rides through transient faults until the deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from providers.base import Speech, TalkingVideoProvider
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
from providers.fake import FakeTalkingVideo, FakeTTS
from providers.heygen_video import HeyGenVideo, fit_resolution
from providers.higgsfield_video import HiggsfieldVideo, JobCanceled
from providers.http import HttpTimeouts
from providers.media import split_points
from providers.polling import PollPolicy
from providers.registry import configured_video
from settings import Settings
from storage import LocalStorage
from tests.fake_vendors_video import FakeHeyGen, FakeHiggsfield
from tests.servers import static_files
from utils.probe import probe
from utils.proc import run

TIMEOUTS = HttpTimeouts(connect=2.0, read=10.0)
# Below the fakes' SLOW_SECONDS: only the 'slow' mode uses it, so a loaded machine cannot fake a timeout.
SHORT_READ = HttpTimeouts(connect=2.0, read=0.3)
POLL = PollPolicy(first_delay=0.01, max_delay=0.05, factor=2, deadline=20)
KINDS = ('heygen', 'higgsfield', 'fake')
SCRIPT = '¡Jo, jo, jo! Hola, Lucía.'


@pytest.fixture
def vendor_server(vendor_host: HTTPServer) -> Iterator[HTTPServer]:
    vendor_host.clear()
    yield vendor_host
    vendor_host.clear()


@pytest.fixture(scope='session')
def _public_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp('public')
    with static_files(root) as url:
        yield root, url


@pytest.fixture
def public_storage(_public_host: tuple[Path, str]) -> LocalStorage:
    """Local storage whose published media a web server really serves, as a CDN would.
    Shared by the session's tests: published names are content hashes, so they cannot clash."""
    root, url = _public_host
    return LocalStorage(root, public_base_url=url)


@pytest.fixture
def heygen(vendor_server: HTTPServer, tmp_path: Path) -> FakeHeyGen:
    return FakeHeyGen(vendor_server, tmp_path / 'heygen-vendor')


@pytest.fixture
def higgsfield(vendor_server: HTTPServer, tmp_path: Path) -> FakeHiggsfield:
    return FakeHiggsfield(vendor_server, tmp_path / 'higgsfield-vendor')


def heygen_client(fake: FakeHeyGen, **overrides: object) -> HeyGenVideo:
    options: dict[str, object] = dict(
        avatar_id='santa-avatar',
        resolution='720p',
        aspect_ratio='9:16',
        base_url=fake.url(),
        timeouts=TIMEOUTS,
        poll=POLL,
    )
    options.update(overrides)
    return HeyGenVideo(str(options.pop('api_key', fake.api_key)), **options)  # type: ignore[arg-type]


def higgsfield_client(
    fake: FakeHiggsfield,
    storage: LocalStorage,
    assets: Path,
    *,
    secret: str = FakeHiggsfield.key_secret,
    **more: object,
) -> HiggsfieldVideo:
    return HiggsfieldVideo(
        fake.key_id,
        secret,
        storage=storage,
        santa_video=assets / 'frame3_santa_base.mp4',
        base_url=fake.url(),
        timeouts=TIMEOUTS,
        poll=POLL,
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
def make_provider(
    request: pytest.FixtureRequest, vendor_server: HTTPServer, tmp_path: Path, small_assets: Path
) -> Iterator[Callable[[str], tuple[TalkingVideoProvider, FakeHeyGen | FakeHiggsfield | None]]]:
    """kind -> (a provider wired to its fake vendor, that vendor)."""
    opened: list[TalkingVideoProvider] = []

    def make(kind: str) -> tuple[TalkingVideoProvider, FakeHeyGen | FakeHiggsfield | None]:
        provider: TalkingVideoProvider
        vendor: FakeHeyGen | FakeHiggsfield | None = None
        if kind == 'heygen':
            heygen: FakeHeyGen = request.getfixturevalue('heygen')
            provider, vendor = heygen_client(heygen), heygen
        elif kind == 'higgsfield':
            higgsfield: FakeHiggsfield = request.getfixturevalue('higgsfield')
            provider = higgsfield_client(higgsfield, request.getfixturevalue('public_storage'), small_assets)
            vendor = higgsfield
        else:
            provider = FakeTalkingVideo(small_assets / 'frame3_santa_base.mp4')
        opened.append(provider)
        return provider, vendor

    yield make
    for provider in opened:
        provider.close()


_SPEECH: dict[tuple[float, str], Speech] = {}
_SPEECH_HOME: list[Path] = []


@pytest.fixture(scope='session', autouse=True)
def _speech_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _SPEECH_HOME.append(tmp_path_factory.mktemp('speech'))
    yield
    _SPEECH.clear()
    _SPEECH_HOME.clear()


def speech(seconds: float = 2.0, suffix: str = '.wav') -> Speech:
    """Speech of `seconds` (made once per session: providers only read it)."""
    if (seconds, suffix) not in _SPEECH:
        home = _SPEECH_HOME[0]
        made = FakeTTS(seconds=seconds).synthesize(SCRIPT, 'es', home)
        if suffix != '.wav':
            out = made.path.with_suffix(suffix)
            run(['ffmpeg', '-v', 'error', '-y', '-i', str(made.path), str(out)], timeout=60)
            made = Speech(path=out, duration=probe(out).duration, provider=made.provider)
        _SPEECH[seconds, suffix] = made
    return _SPEECH[seconds, suffix]


# --- The shared contract ------------------------------------------------------------------------


@pytest.mark.parametrize('kind', KINDS)
def test_generate_returns_a_decodable_clip_as_long_as_the_speech(make_provider, kind: str, tmp_path: Path) -> None:
    provider, _ = make_provider(kind)
    said = speech(2.0)
    clip = provider.generate(said, SCRIPT, 'es', tmp_path)
    assert clip.is_file() and clip.parent == tmp_path
    info = probe(clip)
    assert info.has_video and info.duration > 0
    assert abs(info.duration - said.duration) < 0.3, (info.duration, said.duration)


# --- Failures map to the error class the chain decides on ------------------------------------------

# (mode, exact error class, Retry-After it must carry) per vendor.
HEYGEN_FAILURES = [
    ('429', ProviderRateLimited, 7.0),  # v3: rate_limit_exceeded with Retry-After
    ('429-no-retry-after', ProviderRateLimited, None),
    ('429-reset', ProviderRateLimited, 5.0),  # only the standard RateLimit-Reset header
    ('500', TransientProviderError, None),
    ('slow', ProviderTimeout, None),
    ('malformed', TransientProviderError, None),
    ('insufficient-credit', QuotaExhausted, None),
    ('validation', PermanentProviderError, None),
    ('failed', PermanentProviderError, None),  # failure_code / failure_message
    ('failed-transient', TransientProviderError, None),
    ('moderation', ContentRejected, None),
    ('truncated', TransientProviderError, None),
]
HIGGSFIELD_FAILURES = [
    ('429', ProviderRateLimited, 7.0),
    ('429-no-retry-after', ProviderRateLimited, None),
    ('429-queue-full', ProviderRateLimited, 9.0),
    ('400-concurrency', ProviderRateLimited, None),
    ('500', TransientProviderError, None),
    ('slow', ProviderTimeout, None),
    ('malformed', TransientProviderError, None),
    ('failed', PermanentProviderError, None),
    ('nsfw', ContentRejected, None),
    ('canceled', JobCanceled, None),
    ('truncated', TransientProviderError, None),
]
FAILURES = [('heygen', *case) for case in HEYGEN_FAILURES] + [('higgsfield', *case) for case in HIGGSFIELD_FAILURES]


@pytest.mark.parametrize(('kind', 'mode', 'error', 'retry_after'), FAILURES, ids=[f'{c[0]}-{c[1]}' for c in FAILURES])
def test_failure_modes_map_to_error_classes(
    make_provider, kind: str, mode: str, error: type[ProviderError], retry_after: float | None, tmp_path: Path
) -> None:
    provider, vendor = make_provider(kind)
    vendor.mode = mode
    if mode == 'slow':
        provider.timeouts = SHORT_READ
    with pytest.raises(ProviderError) as raised:
        provider.generate(speech(), SCRIPT, 'es', tmp_path)
    assert type(raised.value) is error, raised.value
    assert raised.value.provider == kind
    if isinstance(raised.value, ProviderRateLimited):
        assert raised.value.retry_after == retry_after
    assert not list(tmp_path.glob('*.partial')), 'a failed download must not leave a partial file'


def test_heygen_bad_key_is_misconfigured(heygen: FakeHeyGen, tmp_path: Path) -> None:
    with closing(heygen_client(heygen, api_key='wrong')) as provider:
        with pytest.raises(PermanentProviderError) as raised:
            provider.generate(speech(), SCRIPT, 'es', tmp_path)
    assert type(raised.value) is ProviderMisconfigured and '401' in raised.value.message


def test_higgsfield_invalid_credentials_are_permanent(
    higgsfield: FakeHiggsfield, public_storage: LocalStorage, small_assets: Path, tmp_path: Path
) -> None:
    with closing(higgsfield_client(higgsfield, public_storage, small_assets, secret='nope')) as provider:
        with pytest.raises(PermanentProviderError) as raised:
            provider.generate(speech(), SCRIPT, 'es', tmp_path)
    assert type(raised.value) is ProviderMisconfigured and 'Invalid credentials' in raised.value.message


@pytest.mark.parametrize('kind', ['heygen', 'higgsfield'])
def test_polling_rides_through_transient_poll_errors(make_provider, kind: str, tmp_path: Path) -> None:
    provider, vendor = make_provider(kind)
    vendor.poll_faults = 2
    clip = provider.generate(speech(), SCRIPT, 'es', tmp_path)
    assert probe(clip).has_video
    assert vendor.poll_faults == 0


@pytest.mark.parametrize('kind', ['heygen', 'higgsfield'])
def test_a_job_that_never_finishes_times_out_at_the_deadline(make_provider, kind: str, tmp_path: Path) -> None:
    provider, vendor = make_provider(kind)
    provider.poll = PollPolicy(first_delay=0.01, max_delay=0.05, deadline=0.5)
    vendor.pending_polls = -1
    with pytest.raises(ProviderTimeout, match='not finished within'):
        provider.generate(speech(), SCRIPT, 'es', tmp_path)


@pytest.mark.parametrize('kind', ['heygen', 'higgsfield'])
def test_a_retry_after_a_bad_download_resumes_the_job_instead_of_paying_again(
    make_provider, kind: str, tmp_path: Path
) -> None:
    provider, vendor = make_provider(kind)
    said = speech()
    vendor.mode = 'truncated'
    with pytest.raises(TransientProviderError):
        provider.generate(said, SCRIPT, 'es', tmp_path)
    vendor.mode = ''
    clip = provider.generate(said, SCRIPT, 'es', tmp_path)
    assert probe(clip).has_video
    assert len(vendor.jobs) == 1, 'the second call must poll the first job, not submit a new one'


# --- HeyGen's wire contract --------------------------------------------------------------------------


def test_heygen_uploads_the_speech_and_asks_v3_for_an_audio_voiced_avatar_video(
    heygen: FakeHeyGen, tmp_path: Path
) -> None:
    with closing(heygen_client(heygen)) as provider:
        provider.generate(speech(), SCRIPT, 'es', tmp_path)
    [(_, _, upload_headers)] = heygen.calls('/v3/assets')
    assert upload_headers['content-type'].startswith('multipart/form-data')
    assert upload_headers['x-api-key'] == heygen.api_key
    assert heygen.assets['asset0'].suffix == '.wav'
    [job] = heygen.jobs.values()
    assert {k: v for k, v in job.body.items() if k != 'title'} == {
        'type': 'avatar',
        'avatar_id': 'santa-avatar',
        'audio_asset_id': 'asset0',
        'resolution': '720p',
        'aspect_ratio': '9:16',
    }
    assert job.body['title'].startswith('papa-noel-')
    assert 'Lucía' not in str(job.body), "the child's name must not leave with the request"
    assert heygen.calls(f'/v3/videos/{job.id}'), 'polled at GET /v3/videos/{id}'
    # Media is fetched without our API key: a CDN or a bucket has no business seeing it.
    [(_, _, media_headers)] = [call for call in heygen.seen if call[1].startswith('/media/')]
    assert 'x-api-key' not in media_headers


def test_heygen_uploads_mp3_as_it_is(heygen: FakeHeyGen, tmp_path: Path) -> None:
    with closing(heygen_client(heygen)) as provider:
        clip = provider.generate(speech(suffix='.mp3'), SCRIPT, 'es', tmp_path)
    assert probe(clip).has_video
    assert heygen.assets['asset0'].suffix == '.mp3'


def test_no_retired_heygen_endpoint_remains_in_client_or_fake() -> None:
    import inspect

    import providers.heygen_api
    import providers.heygen_lipsync
    import providers.heygen_video

    sources = [inspect.getsource(m) for m in (providers.heygen_api, providers.heygen_video, providers.heygen_lipsync)]
    sources.append(inspect.getsource(FakeHeyGen))
    for retired in ('/v1/', '/v2/', 'upload.heygen.com', 'video_status.get', 'video_inputs'):
        assert not any(retired in source for source in sources), retired


def test_heygen_resolution_and_aspect_follow_the_output_within_the_plan() -> None:
    assert fit_resolution((1080, 1920), 720) == ('720p', '9:16')
    assert fit_resolution((1080, 1920), 1080) == ('1080p', '9:16')
    assert fit_resolution((1080, 1920), 2160) == ('1080p', '9:16')  # never upscaled
    assert fit_resolution((2160, 3840), 2160) == ('4k', '9:16')
    assert fit_resolution((1920, 1080), 1080) == ('1080p', '16:9')
    assert fit_resolution((1080, 1080), 720) == ('720p', '1:1')
    assert fit_resolution((180, 320), 720) == ('720p', '9:16')  # v3's smallest


# --- Higgsfield's wire contract and the 15 s limit ---------------------------------------------------


def test_higgsfield_sends_auth_a_stable_idempotency_key_and_fetchable_wav(
    higgsfield: FakeHiggsfield, public_storage: LocalStorage, small_assets: Path, tmp_path: Path
) -> None:
    said = speech(2.0, suffix='.mp3')  # not WAV: the client must convert it
    with closing(higgsfield_client(higgsfield, public_storage, small_assets, quality='high')) as provider:
        for workdir in (tmp_path / 'a', tmp_path / 'b'):  # two attempts that share no checkpoint
            workdir.mkdir()
            provider.generate(said, SCRIPT, 'es', workdir)
    submits = higgsfield.calls('/v1/speak/higgsfield')
    assert len(submits) == 2
    keys = {headers['idempotency-key'] for _, _, headers in submits}
    assert len(keys) == 1, 'the same inputs must carry the same Idempotency-Key'
    # The v1 Speak reference's headers.
    assert all((h['hf-api-key'], h['hf-secret']) == (higgsfield.key_id, higgsfield.key_secret) for _, _, h in submits)
    assert len(higgsfield.jobs) == 1, 'the repeated request was answered from its Idempotency-Key'
    assert higgsfield.ledger.charged_calls() == 1
    params = next(iter(higgsfield.jobs.values())).body['params']
    assert params['duration'] == 5 and params['quality'] == 'high'
    assert probe(higgsfield.fetched_audio[0]).format_name == 'wav'


def test_higgsfield_splits_a_20_second_speech_into_two_requests_and_one_clip(
    higgsfield: FakeHiggsfield, public_storage: LocalStorage, small_assets: Path, tmp_path: Path
) -> None:
    said = speech(20.0)
    with closing(higgsfield_client(higgsfield, public_storage, small_assets)) as provider:
        clip = provider.generate(said, SCRIPT, 'es', tmp_path)
    assert len(higgsfield.calls('/v1/speak/higgsfield')) == 2
    pieces = [probe(path).duration for path in higgsfield.fetched_audio]
    assert all(0 < piece <= 15.0 for piece in pieces), pieces
    assert abs(sum(pieces) - said.duration) < 0.1, pieces
    info = probe(clip)
    assert info.has_video and abs(info.duration - said.duration) < 0.2, info.duration


def test_higgsfield_refuses_speech_needing_more_pieces_than_allowed(
    higgsfield: FakeHiggsfield, public_storage: LocalStorage, small_assets: Path, tmp_path: Path
) -> None:
    with closing(higgsfield_client(higgsfield, public_storage, small_assets, max_chunks=1)) as provider:
        with pytest.raises(PermanentProviderError, match='speech too long for Higgsfield: 20.0 s needs 2 pieces'):
            provider.generate(speech(20.0), SCRIPT, 'es', tmp_path)
    assert not higgsfield.seen, 'nothing is sent (or paid for) when the speech cannot fit'


def test_higgsfield_without_a_publishing_storage_is_permanent(
    higgsfield: FakeHiggsfield, small_assets: Path, tmp_path: Path
) -> None:
    unpublished = LocalStorage(tmp_path / 'out')  # no PUBLIC_MEDIA_BASE_URL
    with closing(higgsfield_client(higgsfield, unpublished, small_assets)) as provider:
        with pytest.raises(PermanentProviderError, match='cannot publish media'):
            provider.generate(speech(), SCRIPT, 'es', tmp_path)


def test_split_points_are_even_then_snap_to_pauses_that_keep_pieces_short() -> None:
    assert split_points(14.0, 15.0, []) == []
    assert split_points(20.0, 15.0, []) == [10.0]
    assert split_points(20.0, 15.0, [3.0, 9.2, 11.5]) == [9.2]  # nearest pause to 10 s
    assert split_points(29.0, 15.0, [13.0]) == [14.5]  # 13 s would leave 16 s: too long, cut evenly
    assert split_points(40.0, 15.0, [12.8, 27.5]) == [12.8, 27.5]
    assert split_points(20.0, 15.0, [4.0]) == [10.0]  # too far from the even cut


# --- Registry ---------------------------------------------------------------------------------------


def test_configured_video_is_heygen_then_higgsfield_each_only_when_configured(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    nothing = Settings(_env_file=None)  # type: ignore[call-arg]
    assert configured_video(nothing, storage) == ()
    key_only = Settings(_env_file=None, heygen_api_key='k')  # type: ignore[call-arg, arg-type]
    assert configured_video(key_only, storage) == (), 'HeyGen needs an avatar or a talking photo too'
    both = Settings(
        _env_file=None,  # type: ignore[call-arg]
        heygen_api_key='k',  # type: ignore[arg-type]
        heygen_talking_photo_id='p',
        higgsfield_api_key_id='id',  # type: ignore[arg-type]
        higgsfield_api_key_secret='secret',  # type: ignore[arg-type]
        video_deadline_seconds=42,
        output_width=180,
        output_height=320,
    )
    providers = configured_video(both, storage)
    assert [p.name for p in providers] == ['heygen', 'higgsfield']
    heygen, higgsfield = providers
    assert isinstance(heygen, HeyGenVideo) and isinstance(higgsfield, HiggsfieldVideo)
    assert heygen.avatar_id == 'p', 'a talking-photo id is a v3 avatar_id (photo-avatar look)'
    assert (heygen.resolution, heygen.aspect_ratio) == ('720p', '9:16') and heygen.poll.deadline == 42
    assert heygen.timeouts == HttpTimeouts(both.provider_connect_timeout_seconds, both.provider_read_timeout_seconds)
    assert higgsfield.santa_video == both.assets_dir / 'frame3_santa_base.mp4'
    for provider in providers:
        provider.close()


class _PresignedLikeStorage(LocalStorage):
    """Like S3: every publish hands out a new URL (a fresh signature) for the same object."""

    def publish(self, source: Path, *, name: str, expires_seconds: int = 3600) -> str:
        url = super().publish(source, name=name, expires_seconds=expires_seconds)
        return f'{url}?X-Amz-Signature={uuid.uuid4().hex}'


def test_higgsfield_resumes_its_job_even_when_published_urls_change(
    higgsfield: FakeHiggsfield, _public_host: tuple[Path, str], small_assets: Path, tmp_path: Path
) -> None:
    root, url = _public_host
    storage = _PresignedLikeStorage(root, public_base_url=url)
    said = speech()
    with closing(higgsfield_client(higgsfield, storage, small_assets)) as provider:
        higgsfield.mode = 'truncated'
        with pytest.raises(TransientProviderError):
            provider.generate(said, SCRIPT, 'es', tmp_path)
        higgsfield.mode = ''
        assert probe(provider.generate(said, SCRIPT, 'es', tmp_path)).has_video
    assert len(higgsfield.calls('/v1/speak/higgsfield')) == 1, 'the retry must resume the job, not submit again'


# --- Paid once: lost answers, failed generations, payload conflicts, health ----------------------------


@pytest.mark.parametrize('kind', ['heygen', 'higgsfield'])
def test_a_lost_answer_after_charging_is_resumed_not_paid_again(
    kind: str, request: pytest.FixtureRequest, _public_host: tuple[Path, str], small_assets: Path, tmp_path: Path
) -> None:
    """The chaos hook: the vendor bills the create and the answer never arrives. The job's retry
    (same workdir, presigned-like storage whose URLs change on every publish) must find the
    generation it paid for; the fake's ledger, not the client, counts the charges."""
    root, url = _public_host
    vendor: FakeHeyGen | FakeHiggsfield
    provider: TalkingVideoProvider
    if kind == 'heygen':
        heygen: FakeHeyGen = request.getfixturevalue('heygen')
        vendor, provider = heygen, heygen_client(heygen)
    else:
        higgsfield: FakeHiggsfield = request.getfixturevalue('higgsfield')
        storage = _PresignedLikeStorage(root, public_base_url=url)
        vendor, provider = higgsfield, higgsfield_client(higgsfield, storage, small_assets)
    vendor.ledger.lose_answers = 1
    said = speech()
    with closing(provider):
        with pytest.raises(TransientProviderError) as lost:
            provider.generate(said, SCRIPT, 'es', tmp_path)
        assert '504' in lost.value.message and vendor.ledger.answers_lost == 1
        clip = provider.generate(said, SCRIPT, 'es', tmp_path)
    assert probe(clip).has_video
    assert vendor.ledger.charged_calls() == 1, vendor.ledger.charges


@pytest.mark.parametrize('kind', ['heygen', 'higgsfield'])
def test_after_a_failed_generation_the_retry_is_a_new_counted_paid_call(
    make_provider, kind: str, tmp_path: Path
) -> None:
    provider, vendor = make_provider(kind)
    said = speech()
    vendor.mode = 'failed'
    with pytest.raises(PermanentProviderError):
        provider.generate(said, SCRIPT, 'es', tmp_path)
    vendor.mode = ''
    clip = provider.generate(said, SCRIPT, 'es', tmp_path)  # e.g. an admin retry of the dead letter
    assert probe(clip).has_video
    assert vendor.ledger.charged_calls() == 2
    if kind == 'higgsfield':  # a fresh Idempotency-Key: the old one would replay the failed job set
        assert len(vendor.ledger.by_key()) == 2
    from providers.job_state import JobState

    assert JobState(tmp_path, kind).paid_submits == 2


def test_higgsfield_same_key_with_another_body_is_an_idempotency_conflict(
    higgsfield: FakeHiggsfield, public_storage: LocalStorage, small_assets: Path, tmp_path: Path
) -> None:
    with closing(higgsfield_client(higgsfield, public_storage, small_assets)) as provider:
        provider.generate(speech(), SCRIPT, 'es', tmp_path)
        [(_, _, headers)] = higgsfield.calls('/v1/speak/higgsfield')
        other = {'params': {**next(iter(higgsfield.jobs.values())).body['params'], 'quality': 'high'}}
        with pytest.raises(IdempotencyConflict):
            provider.call_json(
                'POST', f'{higgsfield.url()}/v1/speak/higgsfield', json=other,
                headers={**provider.auth, 'Idempotency-Key': headers['idempotency-key']},
            )  # fmt: skip
    assert higgsfield.ledger.charged_calls() == 1


@pytest.mark.parametrize('kind', ['heygen', 'higgsfield'])
def test_deep_health_makes_a_real_authenticated_call(make_provider, kind: str) -> None:
    provider, vendor = make_provider(kind)
    report = provider.reachability()
    assert report.ok and report.latency_ms >= 0, report
    path = '/v3/users/me' if kind == 'heygen' else '/v1/job-sets/00000000-0000-0000-0000-000000000000'
    [(_, _, headers)] = vendor.calls(path)
    if kind == 'heygen':
        assert headers['x-api-key'] == vendor.api_key
        provider.api.auth = {'X-Api-Key': 'wrong'}
    else:
        assert headers['hf-secret'] == vendor.key_secret
        provider.auth = {'hf-api-key': 'id', 'hf-secret': 'wrong'}
    bad = provider.reachability()
    assert not bad.ok and bad.misconfigured and '401' in bad.detail


@pytest.mark.parametrize('url', ['', 'api.heygen.com', 'gopher://127.0.0.1/', 'http://[::1'])
def test_heygen_bad_base_url_is_misconfigured_and_not_transient(heygen: FakeHeyGen, url: str, tmp_path: Path) -> None:
    with closing(heygen_client(heygen, base_url=url)) as provider:
        with pytest.raises(ProviderMisconfigured):
            provider.generate(speech(), SCRIPT, 'es', tmp_path)
        assert provider.reachability().misconfigured
