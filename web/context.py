"""What every request handler shares: settings, the Redis client, storage, and the pieces built
from them. Built once by create_app; things that need Redis are made on first use, so the
app starts (and /health can say what is wrong) even while Redis is down."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from fastapi import Request
from redis import Redis
from rq import Retry

from monitoring import HealthReport
from providers.base import ProviderSet
from retries import job_retry
from settings import Settings
from storage import Storage
from utils.imports import import_string
from web.idempotency import IdempotencyStore
from web.ratelimit import RateLimiter
from web.tokens import DownloadTokens, derive, shared_secret

log = logging.getLogger(__name__)

#: Failed admin logins allowed per client IP per window before it gets 429.
ADMIN_FAILURES_LIMIT = 20
ADMIN_FAILURES_WINDOW_SECONDS = 600


@dataclass
class WebContext:
    settings: Settings
    conn: Redis
    storage: Storage
    #: '' means admin is disabled.
    admin_token: str
    embedded: bool = False
    _secret: bytes | None = field(default=None, repr=False)
    _providers: ProviderSet | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: (monotonic time, report) of the last health run; see web/health.py.
    health_cache: tuple[float, HealthReport] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.order_limiter = RateLimiter(
            self.conn, name='orders', limit=s.rate_limit_orders, window_seconds=s.rate_limit_window_seconds
        )
        self.admin_failures = RateLimiter(
            self.conn, name='admin-failures', limit=ADMIN_FAILURES_LIMIT, window_seconds=ADMIN_FAILURES_WINDOW_SECONDS
        )
        self.idempotency = IdempotencyStore(self.conn, s.idempotency_ttl_seconds)
        self.job_retry: Retry | None = job_retry(s.max_job_attempts, s.job_retry_delays_seconds)

    def secret(self) -> bytes:
        if self._secret is None:
            configured = self.settings.download_token_secret
            with self._lock:
                if self._secret is None:
                    self._secret = shared_secret(self.conn, configured.get_secret_value() if configured else '')
        return self._secret

    def download_tokens(self) -> DownloadTokens:
        return DownloadTokens(self.secret(), self.settings.download_token_ttl_seconds)

    def idempotency_secret(self) -> bytes:
        return derive(self.secret(), 'idempotency')

    def providers(self) -> ProviderSet:
        if self._providers is None:
            with self._lock:
                if self._providers is None:
                    factory = import_string(self.settings.provider_factory)
                    self._providers = factory(self.settings, self.storage)
        assert self._providers is not None
        return self._providers


def get_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context
