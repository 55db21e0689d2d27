"""The TTS contract, held by every TTS provider; and how ElevenLabs' failures map into our error tree."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

import papa_noel_config as persona
from providers.base import Speech, TTSProvider
from providers.elevenlabs_tts import ElevenLabsTTS
from providers.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.espeak_tts import EspeakTTS
from providers.fake import FakeTTS
from providers.http import HttpTimeouts
from providers.registry import configured_tts
from settings import Settings
from tests.fake_vendors_tts_lipsync import FakeElevenLabs
from utils.probe import probe

TEXT = {
    'es': '¡Jo, jo, jo! Hola, Lucía. ¡Feliz Navidad!',
    'en': 'Ho, ho, ho! Hello, Lucy. Merry Christmas!',
}
FAST = HttpTimeouts(connect=2.0, read=0.5)


@pytest.fixture
def eleven_server(vendor_host: HTTPServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeElevenLabs]:
    vendor_host.clear()
    yield FakeElevenLabs(vendor_host, tmp_path_factory.mktemp('elevenlabs'))
    vendor_host.check_handler_errors()


@pytest.fixture
def eleven(eleven_server: FakeElevenLabs) -> Iterator[ElevenLabsTTS]:
    provider = ElevenLabsTTS('test-key', 'VOICE1', base_url=eleven_server.base_url, timeouts=FAST)
    yield provider
    provider.close()


@pytest.fixture(params=['elevenlabs', 'espeak', 'fake'])
def tts(request: pytest.FixtureRequest) -> TTSProvider:
    if request.param == 'elevenlabs':
        provider: TTSProvider = request.getfixturevalue('eleven')
        return provider
    if request.param == 'espeak':
        return EspeakTTS()
    return FakeTTS(seconds=1.0)


# --- The shared contract ----------------------------------------------------------------


@pytest.mark.parametrize('language', persona.LANGUAGES)
def test_speech_is_a_decodable_file_of_the_stated_duration(tts: TTSProvider, language: str, tmp_path: Path) -> None:
    speech = tts.synthesize(TEXT[language], language, tmp_path)

    assert isinstance(speech, Speech)
    assert speech.provider == tts.name
    assert speech.path.parent == tmp_path and speech.path.is_file()
    info = probe(speech.path)
    assert info.has_audio
    assert speech.duration > 0
    assert abs(speech.duration - info.duration) < 0.05
    for timing in speech.alignment:
        assert 0 <= timing.start <= timing.end <= speech.duration + 0.05


def test_each_call_writes_its_own_file(tts: TTSProvider, tmp_path: Path) -> None:
    first = tts.synthesize(TEXT['es'], 'es', tmp_path)
    second = tts.synthesize(TEXT['es'], 'es', tmp_path)
    assert first.path != second.path
    assert first.path.is_file() and second.path.is_file()


# --- ElevenLabs: the request it sends -----------------------------------------------------------


def test_elevenlabs_sends_the_persona_voice_settings(
    eleven: ElevenLabsTTS, eleven_server: FakeElevenLabs, tmp_path: Path
) -> None:
    eleven.synthesize(TEXT['es'], 'es', tmp_path)

    [call] = eleven_server.calls('POST', '/v1/text-to-speech/')
    voice = persona.ELEVENLABS
    assert call.path == '/v1/text-to-speech/VOICE1/with-timestamps'
    assert call.headers['xi-api-key'] == 'test-key'
    assert call.query == {'output_format': voice.output_format}  # a query parameter, not a body field
    assert call.body['text'] == TEXT['es']
    assert call.body['model_id'] == voice.model_id
    assert call.body['voice_settings'] == {
        'stability': voice.stability,
        'similarity_boost': voice.similarity_boost,
        'style': voice.style,
        'use_speaker_boost': voice.use_speaker_boost,
        'speed': voice.speed,
    }
    # multilingual_v2 does not take language_code; it must be left out, not sent as null.
    assert 'language_code' not in call.body


def test_elevenlabs_sends_language_code_to_models_that_take_it(eleven_server: FakeElevenLabs, tmp_path: Path) -> None:
    voice = persona.ElevenLabsVoice(model_id='eleven_flash_v2_5')
    with closing(
        ElevenLabsTTS('test-key', 'VOICE1', base_url=eleven_server.base_url, voice=voice, timeouts=FAST)
    ) as tts:
        tts.synthesize(TEXT['en'], 'en', tmp_path)
    [call] = eleven_server.calls('POST', '/v1/text-to-speech/')
    assert call.body['language_code'] == 'en'
    assert call.body['model_id'] == 'eleven_flash_v2_5'


def test_elevenlabs_keeps_the_character_timings(eleven: ElevenLabsTTS, tmp_path: Path) -> None:
    speech = eleven.synthesize(TEXT['es'], 'es', tmp_path)

    assert ''.join(t.character for t in speech.alignment) == TEXT['es']
    starts = [t.start for t in speech.alignment]
    assert starts == sorted(starts) and starts[0] == 0
    assert speech.alignment[-1].end == pytest.approx(1.2, abs=0.01)


def test_elevenlabs_hands_back_wav(eleven: ElevenLabsTTS, tmp_path: Path) -> None:
    speech = eleven.synthesize(TEXT['en'], 'en', tmp_path)
    assert speech.path.suffix == '.wav'
    assert probe(speech.path).audio_codec == 'pcm_s16le'
    assert [p.name for p in tmp_path.iterdir()] == [speech.path.name]  # the mp3 it decoded is gone


def test_elevenlabs_refuses_a_language_without_a_voice(eleven: ElevenLabsTTS, tmp_path: Path) -> None:
    with pytest.raises(PermanentProviderError):
        eleven.synthesize('Bonjour', 'fr', tmp_path)


def test_elevenlabs_gives_httpx_separate_connect_and_read_timeouts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[dict[str, float]] = []

    def handle(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions['timeout'])
        return httpx.Response(401, json={'detail': {'status': 'invalid_api_key', 'message': 'no'}})

    monkeypatch.setattr(httpx.HTTPTransport, 'handle_request', handle)
    timeouts = HttpTimeouts(connect=3.0, read=42.0)
    with closing(ElevenLabsTTS('k', 'V', base_url='http://127.0.0.1:9', timeouts=timeouts)) as tts:
        with pytest.raises(PermanentProviderError):
            tts.synthesize('hola', 'es', tmp_path)
    assert seen[0]['connect'] == 3.0 and seen[0]['read'] == 42.0


# --- ElevenLabs: failures mapped into our error tree -------------------------------------------


ELEVENLABS_FAILURES: list[tuple[str, type[ProviderError]]] = [
    ('rate_limited', ProviderRateLimited),  # concurrency limit
    ('rate_limit', ProviderRateLimited),  # request rate
    ('system_busy', ProviderRateLimited),
    ('unauthorized', ProviderMisconfigured),
    ('quota', QuotaExhausted),  # an HTTP 401 whose code says quota: not an auth error
    ('validation', PermanentProviderError),
    ('server_error', TransientProviderError),
    ('malformed', TransientProviderError),
    ('bad_audio', TransientProviderError),
    ('slow', ProviderTimeout),
]


# Both documented error bodies: the current detail{type, code, ...} and the older detail{status, ...}.
@pytest.mark.parametrize('shape', ['current', 'legacy'])
@pytest.mark.parametrize(('mode', 'error'), ELEVENLABS_FAILURES)
def test_elevenlabs_failure_maps_to_error_class(
    mode: str,
    error: type[ProviderError],
    shape: str,
    eleven: ElevenLabsTTS,
    eleven_server: FakeElevenLabs,
    tmp_path: Path,
) -> None:
    eleven_server.mode = mode
    eleven_server.shape = shape
    with pytest.raises(error) as raised:
        eleven.synthesize(TEXT['es'], 'es', tmp_path)
    assert type(raised.value) is error  # not merely a subclass: Transient must not pass for a timeout
    assert raised.value.provider == 'elevenlabs'


@pytest.mark.parametrize('shape', ['current', 'legacy'])
def test_elevenlabs_rate_limits_carry_the_servers_wait(
    shape: str, eleven: ElevenLabsTTS, eleven_server: FakeElevenLabs, tmp_path: Path
) -> None:
    eleven_server.shape = shape
    eleven_server.mode = 'rate_limit'
    with pytest.raises(ProviderRateLimited) as raised:
        eleven.synthesize(TEXT['es'], 'es', tmp_path)
    assert raised.value.retry_after == 1.5  # retry-after-ms
    assert 'rate_limit_exceeded' in raised.value.message


def test_elevenlabs_current_concurrency_code_is_named(
    eleven: ElevenLabsTTS, eleven_server: FakeElevenLabs, tmp_path: Path
) -> None:
    eleven_server.mode = 'rate_limited'
    with pytest.raises(ProviderRateLimited) as raised:
        eleven.synthesize(TEXT['es'], 'es', tmp_path)
    assert raised.value.retry_after == 7 and 'concurrent_limit_exceeded' in raised.value.message


def test_elevenlabs_429_carries_retry_after_and_is_not_retried_by_the_sdk(
    eleven: ElevenLabsTTS, eleven_server: FakeElevenLabs, tmp_path: Path
) -> None:
    eleven_server.mode = 'rate_limited'
    eleven_server.shape = 'legacy'
    started = time.monotonic()
    with pytest.raises(ProviderRateLimited) as raised:
        eleven.synthesize(TEXT['es'], 'es', tmp_path)
    assert raised.value.retry_after == 7
    assert 'too_many_concurrent_requests' in raised.value.message
    assert len(eleven_server.calls('POST', '/v1/text-to-speech/')) == 1
    assert time.monotonic() - started < 2  # the SDK did not sleep Retry-After away


def test_elevenlabs_429_without_retry_after(
    eleven: ElevenLabsTTS, eleven_server: FakeElevenLabs, tmp_path: Path
) -> None:
    eleven_server.mode = 'system_busy'
    with pytest.raises(ProviderRateLimited) as raised:
        eleven.synthesize(TEXT['es'], 'es', tmp_path)
    assert raised.value.retry_after is None
    assert len(eleven_server.calls('POST', '/v1/text-to-speech/')) == 1


def test_elevenlabs_5xx_is_not_retried_by_the_sdk(
    eleven: ElevenLabsTTS, eleven_server: FakeElevenLabs, tmp_path: Path
) -> None:
    eleven_server.mode = 'server_error'
    with pytest.raises(TransientProviderError):
        eleven.synthesize(TEXT['es'], 'es', tmp_path)
    assert len(eleven_server.calls('POST', '/v1/text-to-speech/')) == 1


def test_elevenlabs_unreachable_is_transient(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with closing(ElevenLabsTTS('k', 'V', base_url=f'http://127.0.0.1:{port}', timeouts=FAST)) as tts:
        with pytest.raises(TransientProviderError) as raised:
            tts.synthesize('hola', 'es', tmp_path)
    assert type(raised.value) is TransientProviderError


def test_elevenlabs_reachability_checks_key_and_voice(eleven: ElevenLabsTTS, eleven_server: FakeElevenLabs) -> None:
    assert eleven.reachability().ok
    assert eleven_server.calls('GET', '/v1/voices/')[0].path == '/v1/voices/VOICE1'
    eleven_server.mode = 'unauthorized'
    report = eleven.reachability()
    assert not report.ok and report.misconfigured and 'invalid_api_key' in report.detail


@pytest.mark.parametrize('url', ['', 'api.elevenlabs.io', 'ftp://127.0.0.1/'])
def test_elevenlabs_bad_base_url_is_misconfigured_not_retried(url: str, tmp_path: Path) -> None:
    with closing(ElevenLabsTTS('k', 'V', base_url=url, timeouts=FAST)) as tts:
        with pytest.raises(ProviderMisconfigured):
            tts.synthesize('hola', 'es', tmp_path)
        assert tts.reachability().misconfigured


def test_elevenlabs_cache_identity_names_the_voice(eleven_server: FakeElevenLabs) -> None:
    url = eleven_server.base_url
    providers = [
        ElevenLabsTTS('k', 'VOICE1', base_url=url),
        ElevenLabsTTS('k', 'VOICE2', base_url=url),
        ElevenLabsTTS('k', 'VOICE1', base_url=url, voice=persona.ElevenLabsVoice(speed=0.8)),
        ElevenLabsTTS('other-key', 'VOICE1', base_url=url),
    ]
    identities = [p.cache_identity() for p in providers]
    for provider in providers:
        provider.close()
    assert identities[0]['provider'] == 'elevenlabs'
    assert len({repr(i) for i in identities[:3]}) == 3  # voice id and voice settings are part of it
    assert identities[3] == identities[0]  # the API key is not


# --- Registry -------------------------------------------------------------------------------


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ('ELEVENLABS_API_KEY', 'PAPA_NOEL_VOICE_ID', 'ELEVENLABS_BASE_URL'):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures('clean_env')
def test_registry_puts_elevenlabs_before_espeak_when_configured() -> None:
    providers = configured_tts(_settings(elevenlabs_api_key='k', papa_noel_voice_id='V'))
    assert [p.name for p in providers] == ['elevenlabs', 'espeak']
    for provider in providers:
        provider.close()


@pytest.mark.usefixtures('clean_env')
@pytest.mark.parametrize('values', [{}, {'elevenlabs_api_key': 'k'}, {'papa_noel_voice_id': 'V'}])
def test_registry_leaves_elevenlabs_out_unless_key_and_voice_are_set(values: dict[str, str]) -> None:
    assert [p.name for p in configured_tts(_settings(**values))] == ['espeak']
