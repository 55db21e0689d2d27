"""`health_check.py --deep` against local fakes of every remote provider: a real, authenticated,
timed call per provider (the fakes count them), and a bad key or URL reported as misconfigured."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis

from tests.fake_vendors_tts_lipsync import FakeCog, FakeElevenLabs, FakeSyncLabs
from tests.fake_vendors_video import FakeHeyGen, FakeHiggsfield
from tests.workers import ROOT

REMOTE = ('elevenlabs', 'synclabs', 'heygen-lipsync', 'musetalk', 'heygen', 'higgsfield')


@pytest.fixture
def vendors(vendor_host: HTTPServer, tmp_path: Path) -> Iterator[dict[str, object]]:
    vendor_host.clear()
    fakes: dict[str, object] = {
        'elevenlabs': FakeElevenLabs(vendor_host, tmp_path / 'elevenlabs'),
        'synclabs': FakeSyncLabs(vendor_host, tmp_path / 'synclabs'),
        'heygen': FakeHeyGen(vendor_host, tmp_path / 'heygen'),
        'higgsfield': FakeHiggsfield(vendor_host, tmp_path / 'higgsfield'),
        'cog': FakeCog(vendor_host, tmp_path / 'cog'),
    }
    yield fakes
    vendor_host.clear()


def _env(worker_env: dict[str, str], url: str, **overrides: str) -> dict[str, str]:
    env = {
        **worker_env,
        'ELEVENLABS_API_KEY': 'test-key', 'PAPA_NOEL_VOICE_ID': 'VOICE1', 'ELEVENLABS_BASE_URL': url,
        'SYNCLABS_API_KEY': 'sync-key', 'SYNCLABS_BASE_URL': url,
        'HEYGEN_API_KEY': FakeHeyGen.api_key, 'HEYGEN_AVATAR_ID': 'santa', 'HEYGEN_BASE_URL': url,
        'HEYGEN_LIPSYNC': 'true',
        'HIGGSFIELD_API_KEY_ID': FakeHiggsfield.key_id, 'HIGGSFIELD_API_KEY_SECRET': FakeHiggsfield.key_secret,
        'HIGGSFIELD_BASE_URL': url,
        'MUSETALK_URL': url,
    }  # fmt: skip
    env.update(overrides)
    return env


def _deep(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, 'health_check.py', '--deep', *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_deep_health_calls_every_remote_provider_and_shows_its_latency(
    redis_conn: Redis, worker_env: dict[str, str], vendor_host: HTTPServer, vendors: dict[str, object]
) -> None:
    url = vendor_host.url_for('').rstrip('/')
    done = _deep(_env(worker_env, url), '--json')
    report = json.loads(done.stdout)
    [providers] = [c for c in report['checks'] if c['name'] == 'providers']
    assert providers['ok'], providers
    for name in REMOTE:
        entry = providers['data'][name]
        assert entry['reachable'] is True and entry['misconfigured'] is False, (name, entry)
        assert isinstance(entry['latency_ms'], float) and entry['latency_ms'] >= 0, (name, entry)
    # Independent evidence: each vendor's fake saw its authenticated call.
    eleven, sync, heygen, higgs, cog = (vendors[k] for k in ('elevenlabs', 'synclabs', 'heygen', 'higgsfield', 'cog'))
    assert isinstance(eleven, FakeElevenLabs) and eleven.calls('GET', '/v1/voices/VOICE1')
    assert isinstance(sync, FakeSyncLabs) and sync.calls('GET', '/v2/generate/')[0].headers['x-api-key'] == 'sync-key'
    assert isinstance(heygen, FakeHeyGen) and len(heygen.calls('/v3/users/me')) == 2  # video and lip-sync
    assert isinstance(higgs, FakeHiggsfield) and higgs.calls('/v1/job-sets/00000000-0000-0000-0000-000000000000')
    assert isinstance(cog, FakeCog)

    text = _deep(_env(worker_env, url)).stdout
    for name in REMOTE:
        [line] = [line for line in text.splitlines() if line.strip().startswith(name + ' ')]
        assert ' ms ' in line and 'ok' in line, line


def test_deep_health_reports_bad_keys_and_urls_as_misconfigured(
    redis_conn: Redis, worker_env: dict[str, str], vendor_host: HTTPServer, vendors: dict[str, object]
) -> None:
    url = vendor_host.url_for('').rstrip('/')
    env = _env(worker_env, url, SYNCLABS_API_KEY='wrong', HEYGEN_API_KEY='wrong', HIGGSFIELD_BASE_URL='platform.hf')
    done = _deep(env, '--json')
    [providers] = [c for c in json.loads(done.stdout)['checks'] if c['name'] == 'providers']
    assert not providers['ok']
    for name in ('synclabs', 'heygen', 'heygen-lipsync', 'higgsfield'):
        assert providers['data'][name]['misconfigured'] is True, (name, providers['data'][name])
    assert providers['data']['elevenlabs']['reachable'] is True
    assert done.returncode == 1
    assert 'MISCONFIGURED' in _deep(env).stdout
