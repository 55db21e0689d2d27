"""Typed settings, read from the environment (and `.env`) only at the edges.

Entry points (worker.py, cli.py, health_check.py) build one `Settings` and pass
what each part needs down; nothing below them reads `os.environ` on import.
Every variable is documented in `.env.example`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import papa_noel_config as persona


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file='.env', env_file_encoding='utf-8', extra='ignore')

    # Empty means the embedded in-process Redis (fakeredis): a demo with nothing installed.
    redis_url: str = ''
    queue_name: str = 'papa-noel-videos'
    worker_count: int = Field(default=1, ge=1, le=32)

    assets_dir: Path = Path('assets')
    output_dir: Path = Path('output')
    temp_dir: Path = Path('tmp')

    # The output spec lives in papa_noel_config; size and preset are overridable so
    # tests can render small and fast without touching the persona.
    output_width: int = Field(default=persona.OUTPUT.width, ge=16, le=4096)
    output_height: int = Field(default=persona.OUTPUT.height, ge=16, le=4096)
    x264_preset: str = persona.OUTPUT.preset

    job_timeout_seconds: int = Field(default=1800, ge=10)
    tts_timeout_seconds: float = Field(default=60, gt=0)
    compose_timeout_seconds: float = Field(default=900, gt=0)

    # --- Reliability ---
    max_job_attempts: int = Field(default=3, ge=1, le=20)
    # Delay before attempt 2, 3, ...; the last value repeats.
    job_retry_delays_seconds: list[int] = Field(default=[30, 120, 600])
    provider_retry_attempts: int = Field(default=3, ge=1, le=10)
    provider_retry_base_seconds: float = Field(default=1.0, ge=0)
    provider_retry_max_wait_seconds: float = Field(default=60.0, ge=0)
    shutdown_timeout_seconds: float = Field(default=300, ge=0)
    # How often a busy worker proves it is alive, and how often maintenance (abandoned-job
    # recovery, dead-letter sweep, cleanup) runs; together they bound crash recovery time.
    job_monitoring_interval_seconds: int = Field(default=10, ge=1)
    maintenance_interval_seconds: int = Field(default=20, ge=1)
    # A running job refreshes its video lock's liveness key this often; a job whose key is
    # gone for twice this long is taken to be dead and is recovered.
    lock_heartbeat_seconds: float = Field(default=15, gt=0)
    audio_cache_dir: Path = Path('cache/audio')
    audio_cache_max_size_mb: int = Field(default=1000, ge=1)
    temp_max_age_hours: float = Field(default=24, gt=0)
    jobs_max_age_hours: float = Field(default=168, gt=0)
    cleanup_interval_hours: float = Field(default=6, gt=0)

    # Where a web server exposes OUTPUT_DIR, so remote providers can fetch media by URL.
    public_media_base_url: str = ''

    # --- TTS and lip-sync providers ---

    # --- Talking-video providers and S3 storage ---

    log_level: Literal['DEBUG', 'INFO', 'WARNING', 'ERROR'] = 'INFO'
    log_format: Literal['json', 'text'] = 'json'

    @field_validator('x264_preset')
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in X264_PRESETS:
            raise ValueError(f'x264_preset must be one of {", ".join(X264_PRESETS)}')
        return value

    @field_validator('output_width', 'output_height')
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError('must be even (H.264 with yuv420p needs even dimensions)')
        return value

    @property
    def output_size(self) -> tuple[int, int]:
        return self.output_width, self.output_height


X264_PRESETS = (
    'ultrafast',
    'superfast',
    'veryfast',
    'faster',
    'fast',
    'medium',
    'slow',
    'slower',
    'veryslow',
)
