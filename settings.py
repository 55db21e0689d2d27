"""Typed settings, read from the environment (and `.env`) only at the edges.

Entry points (worker.py, cli.py, health_check.py) build one `Settings` and pass
what each part needs down; nothing below them reads `os.environ` on import.
Every variable is documented in `.env.example`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, DotEnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

import papa_noel_config as persona


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file='.env', env_file_encoding='utf-8', extra='ignore')

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # PAPANOEL_ENV_FILE lets tests (and odd deployments) point away from ./.env. It is read
        # each time an entry point builds its settings, never when this module is imported.
        dotenv = DotEnvSettingsSource(settings_cls, env_file=os.environ.get('PAPANOEL_ENV_FILE', '.env'))
        return init_settings, env_settings, dotenv, file_secret_settings

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
    # 'template' encodes only what an order changes, on top of parts every video shares (encoded once per
    # asset set and kept in TEMPLATE_CACHE_DIR); 'single-pass' renders every frame in one FFmpeg run.
    render_mode: Literal['template', 'single-pass'] = 'template'
    template_cache_dir: Path = Path('cache/templates')

    # Builds the configured providers: 'module:function(settings, storage) -> ProviderSet'.
    # Benchmarks and staging point it at fakes; production leaves the default.
    provider_factory: str = 'providers.registry:configured_providers'

    # --- Reliability ---
    max_job_attempts: int = Field(default=3, ge=1, le=20)
    # Delay before attempt 2, 3, ...; the last value repeats.
    job_retry_delays_seconds: list[int] = Field(default=[30, 120, 600])
    provider_retry_attempts: int = Field(default=3, ge=1, le=10)
    provider_retry_base_seconds: float = Field(default=1.0, ge=0)
    provider_retry_max_wait_seconds: float = Field(default=60.0, ge=0)
    # Circuit breaker per provider, shared by all workers: this many consecutive failures
    # make every worker skip it for the cool-down; then one probe call decides. 0 disables.
    breaker_failure_threshold: int = Field(default=5, ge=0)
    breaker_cooldown_seconds: float = Field(default=60, gt=0)
    shutdown_timeout_seconds: float = Field(default=300, ge=0)
    # How often a busy worker proves it is alive, and how often maintenance (abandoned-job
    # recovery, dead-letter sweep, cleanup) runs; together they bound crash recovery time.
    job_monitoring_interval_seconds: int = Field(default=10, ge=1)
    maintenance_interval_seconds: int = Field(default=20, ge=1)
    # A running job refreshes its video lock's liveness key (TTL twice this) this often; a job
    # whose key has lapsed and whose worker has not beaten for 3 monitoring intervals, on two
    # sweeps a heartbeat apart, is taken to be dead and is recovered (docs/reliability.md).
    lock_heartbeat_seconds: float = Field(default=15, gt=0)
    audio_cache_dir: Path = Path('cache/audio')
    audio_cache_max_size_mb: int = Field(default=1000, ge=1)
    temp_max_age_hours: float = Field(default=24, gt=0)
    jobs_max_age_hours: float = Field(default=168, gt=0)
    cleanup_interval_hours: float = Field(default=6, gt=0)

    # --- Health thresholds (health_check.py, GET /health) ---
    health_min_workers: int = Field(default=1, ge=0)
    health_max_heartbeat_age_seconds: float = Field(default=120, gt=0)
    health_max_queue_depth: int = Field(default=1000, ge=0)
    health_max_dlq_size: int = Field(default=50, ge=0)

    # Where a web server exposes OUTPUT_DIR, so remote providers can fetch media by URL.
    public_media_base_url: str = ''

    # --- TTS and lip-sync providers ---
    # Every provider HTTP call: seconds to connect, and seconds to wait for the next bytes of an answer.
    provider_connect_timeout_seconds: float = Field(default=10, gt=0)
    provider_read_timeout_seconds: float = Field(default=60, gt=0)
    # Remote jobs (lip-sync, talking video) are polled from this delay, growing to the max.
    provider_poll_first_delay_seconds: float = Field(default=5, gt=0)
    provider_poll_max_delay_seconds: float = Field(default=30, gt=0)
    # Overall limit of one remote lip-sync job: Sync Labs polling, or a self-hosted server's synchronous call.
    lipsync_deadline_seconds: float = Field(default=900, gt=0)
    # ElevenLabs: on when both the key and Papá Noel's voice id are set; tried before espeak-ng.
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_base_url: str = 'https://api.elevenlabs.io'
    papa_noel_voice_id: str = ''
    # Sync Labs (sync.so) API v2: on when the key is set; it fetches our media through storage.publish.
    synclabs_api_key: SecretStr | None = None
    synclabs_base_url: str = 'https://api.sync.so'
    synclabs_model: str = 'lipsync-2'
    # Self-hosted lip-sync servers speaking the Cog HTTP contract (docs/self-hosted-lipsync.md); empty: off.
    musetalk_url: str = ''
    musetalk_bbox_shift: int = 0  # ignored: MuseTalk v15 forces bbox_shift=0 (docs/self-hosted-lipsync.md)
    wav2lip_url: str = ''
    # Wav2Lip's weights are licensed for research/non-commercial use only: it stays off unless this is true.
    wav2lip_allow_noncommercial: bool = False
    # --- HeyGen v3 lip-sync (issue #12): strategy 1 on the HeyGen account (HEYGEN_API_KEY), after Sync Labs.
    heygen_lipsync: bool = False
    heygen_lipsync_mode: Literal['speed', 'precision'] = 'speed'

    # --- Talking-video providers and S3 storage ---
    # Overall limit of one remote talking-video job (upload, queue, render, download), polled with backoff.
    video_deadline_seconds: float = Field(default=1200, gt=0)
    # HeyGen (API v3): on when the key and an avatar id are set. v3 takes video avatars and photo-avatar
    # looks alike as `avatar_id`; a talking-photo id is used as one when no avatar id is set.
    heygen_api_key: SecretStr | None = None
    heygen_base_url: str = 'https://api.heygen.com'
    heygen_upload_url: str = ''  # unused since v3 (assets upload to heygen_base_url); kept so old .env files load
    heygen_avatar_id: str = ''
    heygen_talking_photo_id: str = ''
    # Shorter side of HeyGen's output, the plan's limit (Free 720, Pro 1080, Scale 2160): 720p, 1080p or 4k.
    heygen_max_resolution: int = Field(default=720, ge=128, le=4096)
    heygen_test_mode: bool = False  # unused since v3 (no test renders there); kept so old .env files load
    # Higgsfield Speak: on when both halves of the key are set.
    higgsfield_api_key_id: SecretStr | None = None
    higgsfield_api_key_secret: SecretStr | None = None
    higgsfield_base_url: str = 'https://platform.higgsfield.ai'
    # Santa's picture for Higgsfield; empty: a still of the base footage (ASSETS_DIR/frame3_santa_base.mp4).
    higgsfield_santa_image: Path | None = None
    higgsfield_quality: Literal['mid', 'high'] = 'mid'
    higgsfield_prompt: str = 'Santa Claus speaking warmly and kindly to a child, looking at the camera'
    # Speak renders at most 15 s; longer speech is cut into up to this many pieces, generated and joined.
    higgsfield_max_chunks: int = Field(default=4, ge=1, le=20)
    # Where finished videos (and media published for providers) are kept.
    storage_type: Literal['local', 's3'] = 'local'
    s3_bucket: str = ''
    s3_prefix: str = ''
    # Empty for AWS; the endpoint of MinIO, Cloudflare R2 or GCS (https://storage.googleapis.com) otherwise.
    s3_endpoint_url: str = ''
    s3_region: str = ''
    # The standard AWS variable names. Read here too so a .env file works; unset: boto3's own chain
    # (AWS_PROFILE, ~/.aws, an instance or task role).
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None

    @field_validator(
        'higgsfield_santa_image', 'heygen_api_key', 'higgsfield_api_key_id', 'higgsfield_api_key_secret',
        'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', mode='before',
    )  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `NAME=` copied from .env.example means "not set": not the path '.', not an empty AWS key
        # (which boto3 would use instead of looking for a role).
        return None if value == '' else value

    # --- Web (web/, `make serve`) ---
    # Where `python -m web` listens. PORT is the name hosting platforms set.
    web_host: str = '127.0.0.1'
    port: int = Field(default=8000, ge=1, le=65535)
    # Web processes, each with its own SO_REUSEPORT socket on PORT; more than 1 needs REDIS_URL (the
    # embedded Redis lives in one process).
    web_workers: int = Field(default=1, ge=1, le=64)
    # Proxies whose X-Forwarded-For is believed (uvicorn's option): it gives the client IP the rate limit counts.
    forwarded_allow_ips: str = '127.0.0.1'
    # uvicorn's access log; off by default because download URLs carry their token in the query string.
    web_access_log: bool = False
    # Origins (comma-separated) whose pages may call the API from a browser; empty: same origin only.
    cors_origins: str = ''
    # Bearer token of /admin and /api/admin/*; empty: admin answers 503 (`make serve` without REDIS_URL makes one).
    admin_token: SecretStr | None = None
    # HMAC key of download links; empty: one is generated once and shared by every web process through Redis.
    download_token_secret: SecretStr | None = None
    download_token_ttl_seconds: int = Field(default=86400, ge=60)
    # Orders (POST /api/videos) per client IP per window; 0 turns the limit off.
    rate_limit_orders: int = Field(default=10, ge=0)
    rate_limit_window_seconds: int = Field(default=600, ge=1)
    # Larger request bodies are refused with 413 before they are read.
    max_request_bytes: int = Field(default=16384, ge=1024)
    # How long an Idempotency-Key is remembered.
    idempotency_ttl_seconds: int = Field(default=86400, ge=60)

    # --- Child safety (issue #10) ---
    # Human review of messages: off; flagged (an order whose message matches a phrase rule of
    # review/rules_*.txt waits in state `review` for /admin); all (every order with a message waits).
    message_review: Literal['off', 'flagged', 'all'] = 'flagged'
    # --- Reliability (issue #11) ---
    # The reconciliation sweep (one worker of the fleet per interval) puts back orders whose
    # RQ job vanished (`rq empty`, a dashboard delete) once untouched for the grace period.
    reconcile_interval_seconds: float = Field(default=30, gt=0)
    reconcile_grace_seconds: float = Field(default=60, ge=0)
    # A worker retries each Redis command with backoff for this long (a restart, a failover)
    # before giving up; busy workers keep their job meanwhile. The CLI gives up at once.
    redis_outage_seconds: float = Field(default=120, ge=0)
    # Redis Sentinel: `host:port,host:port,...` of the sentinels and the master name they watch.
    # Set, every Redis user (worker, web, CLI, health) asks them for the primary and follows a
    # failover; REDIS_URL then gives only the db and password (its host and port are ignored).
    redis_sentinels: str = ''
    redis_sentinel_master: str = ''
    # The sentinels' own password (`requirepass` of sentinel.conf), when they have one.
    redis_sentinel_password: SecretStr | None = None

    @field_validator('redis_sentinels')
    @classmethod
    def _sentinels_are_addresses(cls, value: str) -> str:
        sentinel_addresses(value)
        return value

    @field_validator('redis_sentinel_password', mode='before')
    @classmethod
    def _empty_sentinel_password_is_unset(cls, value: object) -> object:
        return None if value == '' else value

    @model_validator(mode='after')
    def _sentinels_need_a_master(self) -> Settings:
        if self.redis_sentinels.strip() and not self.redis_sentinel_master:
            raise ValueError('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set')
        return self

    # Off: every speech is made anew unless a checkpoint has it (tests prove the checkpoints so).
    audio_cache_enabled: bool = True
    # --- Personalization (#14): name preview, subtitles ---
    # Name previews (POST /api/preview) per client IP per window: a paid TTS call each, so budgeted
    # apart from orders (a parent may listen a few times per order); 0 turns the limit off.
    rate_limit_previews: int = Field(default=30, ge=0)
    rate_limit_preview_window_seconds: int = Field(default=600, ge=1)
    # Subtitles drawn into the frames too (they are always offered as a WebVTT track).
    burn_subtitles: bool = False
    # --- The parent's journey: e-mail, order page, webhooks, retention (delivery/, privacy/) ---
    # SMTP server for the parents' e-mails; empty: each message is written as a .eml file to OUTBOX_DIR.
    smtp_host: str = ''
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ''
    smtp_password: SecretStr | None = None
    # starttls: plain connection upgraded with STARTTLS (port 587); ssl: TLS from the start (465); off: neither.
    smtp_tls: Literal['starttls', 'ssl', 'off'] = 'starttls'
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    mail_from: str = 'Papá Noel <papanoel@localhost>'
    outbox_dir: Path = Path('outbox')
    # Where parents reach the site: links in e-mails are absolute under it.
    public_base_url: str = 'http://127.0.0.1:8000'
    # Delay before each retry of a failed e-mail (a transient SMTP error); the count is the retries allowed.
    delivery_retry_delays_seconds: list[int] = Field(default=[30, 120, 600, 1800, 3600])
    # Days a video (and everything personal about its order) is kept after delivery, then deleted.
    retention_days: int = Field(default=30, ge=1, le=3650)
    # Standard Webhooks signing secret (whsec_... base64); empty: callback_url is refused.
    webhook_secret: SecretStr | None = None
    # Only tests set this: lets callbacks reach private, loopback and link-local addresses.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=5, gt=0)
    # Delays between webhook attempts: about 24 h in all.
    webhook_retry_delays_seconds: list[int] = Field(
        default=[5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 6 * 3600, 7 * 3600]
    )

    @field_validator('smtp_password', 'webhook_secret', mode='before')
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        return None if value == '' else value

    log_level: Literal['DEBUG', 'INFO', 'WARNING', 'ERROR'] = 'INFO'
    log_format: Literal['json', 'text'] = 'json'

    # --- Throughput: warm start and endings prepared ahead of need (issue 16) ---
    # While no job is queued or running, a worker encodes every strategy-3 ending its template can
    # need (lowest CPU priority, stopped the moment an order arrives), so every order copies one.
    prepare_endings_when_idle: bool = True
    # The warm start also encodes every ending before the worker takes its first job (once per asset
    # set and format version: they are kept on disk), so the first order of a new asset set copies its
    # ending too. Off: the first orders encode theirs while the idle-time preparer catches up.
    prepare_endings_at_start: bool = True
    # The formats whose templates a worker prepares at start, before it takes jobs (9:16 first: the
    # one most orders have); an order in a format left out builds that template on its first order.
    warm_formats: list[str] = Field(default=['9:16', '1:1', '16:9'])

    @field_validator('warm_formats')
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in persona.FORMAT_SIZES]
        if unknown:
            raise ValueError(f'unknown format {unknown[0]!r}: choose from {", ".join(persona.FORMAT_SIZES)}')
        return list(dict.fromkeys(value))

    # --- The name on screen (#14, NAME_CARD) ---
    # The child's name, as typed (never the respelling), drawn over the intro's last second; font,
    # size, colour and position in papa_noel_config.py (NAME_CARD_*).
    name_card: bool = True
    # --- Operations: metrics, alerts (issue #15; alerts/rules.py, monitoring/alerts.rules.yml) ---
    # Bearer token /metrics needs; empty: /metrics is open (keep it on a private network then).
    metrics_token: SecretStr | None = None
    # Where firing/resolved alerts go: a Slack-compatible incoming webhook and/or an e-mail address.
    alert_webhook_url: str = ''
    alert_email: str = ''
    alert_email_from: str = 'papanoel-alerts@localhost'
    alert_smtp_host: str = 'localhost'
    alert_smtp_port: int = Field(default=25, ge=1, le=65535)
    # Thresholds (the same numbers are in monitoring/alerts.rules.yml; tests/test_alerts.py keeps them equal).
    alert_window_seconds: int = Field(default=900, ge=60)
    alert_failure_rate: float = Field(default=0.25, gt=0, le=1)
    alert_failure_rate_min_attempts: int = Field(default=4, ge=1)
    alert_queue_depth: int = Field(default=500, ge=0)
    alert_oldest_queued_seconds: float = Field(default=900, gt=0)
    alert_heartbeat_max_age_seconds: float = Field(default=120, gt=0)
    alert_dlq_growth: int = Field(default=5, ge=1)
    alert_breaker_open_seconds: float = Field(default=600, gt=0)
    alert_review_waiting_seconds: float = Field(default=3600, gt=0)
    alert_delivery_failures: int = Field(default=3, ge=1)

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


def sentinel_addresses(text: str) -> tuple[tuple[str, int], ...]:
    """REDIS_SENTINELS (`host:port,host:port,...`) as addresses; empty when unset."""
    addresses = []
    for item in (part.strip() for part in text.split(',')):
        if not item:
            continue
        host, sep, port = item.rpartition(':')
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f'REDIS_SENTINELS: {item!r} is not host:port')
        addresses.append((host.strip('[]'), int(port)))
    return tuple(addresses)
