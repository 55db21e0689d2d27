"""Helpers for the web tests: app settings that match a `worker_env`, a provider factory that
always fails (for dead-letter tests, through a real worker), and a free port."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Any

from providers.base import ProviderSet, Speech, TTSProvider
from providers.errors import PermanentProviderError
from settings import Settings
from storage.base import Storage

# Starlette 1.x would rather have its test client on `httpx2`; the project pins httpx 0.28,
# which it still supports, with a deprecation warning that pytest turns into an error.
with warnings.catch_warnings():
    warnings.filterwarnings('ignore', message='Using `httpx` with `starlette.testclient` is deprecated')
    from starlette.testclient import TestClient

__all__ = ['ADMIN_TOKEN', 'TestClient', 'broken_providers', 'free_port', 'web_settings']

ADMIN_TOKEN = 'test-admin-token-0123456789'
#: What the broken provider says: a path and a key, which must never reach a parent.
SECRET_FAILURE = 'injected: 401 invalid key sk-live-123 read from /srv/papanoel/secrets/keys.txt'


class BrokenTTS(TTSProvider):
    name = 'broken'

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        raise PermanentProviderError(self.name, SECRET_FAILURE)


def broken_providers(settings: Settings, storage: Storage) -> ProviderSet:
    return ProviderSet(tts=(BrokenTTS(),))


def web_settings(env: dict[str, str], **overrides: Any) -> Settings:
    """Settings for an in-process app seeing what a worker started with `env` sees."""
    values: dict[str, Any] = {
        'redis_url': env['REDIS_URL'],
        'assets_dir': env['ASSETS_DIR'],
        'output_dir': env['OUTPUT_DIR'],
        'temp_dir': env['TEMP_DIR'],
        'output_width': int(env['OUTPUT_WIDTH']),
        'output_height': int(env['OUTPUT_HEIGHT']),
        'x264_preset': env['X264_PRESET'],
        'admin_token': ADMIN_TOKEN,
        'rate_limit_orders': 1000,
        'health_min_workers': 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])
