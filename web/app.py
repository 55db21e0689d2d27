"""The app factory: `create_app(settings)` wires the routers, middleware and error handlers.

Settings are read by the entry points (web/__main__.py, web/serving.py's worker processes,
or `app_from_env` for uvicorn run by hand); nothing here reads the environment on import.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis import Redis

from queueing.connection import SentinelTarget, connect, is_embedded, sentinel_master, sentinel_target
from settings import Settings
from storage import Storage, build_storage
from utils.logs import configure_logging
from web import (
    admin,
    admin_jobs,
    api,
    errors,
    extras,
    health,
    metrics,
    order_page,
    pages,
    preview,
    review_admin,
    security,
)
from web.clients import ClientAddressMiddleware
from web.context import WebContext

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    conn: Redis | None = None,
    storage: Storage | None = None,
    admin_token: str | None = None,
) -> FastAPI:
    """The web app for `settings`. `conn`, `storage` and `admin_token` override what the settings
    would build (the embedded mode passes its in-process Redis and generated token)."""
    owns_conn = conn is None
    conn = conn if conn is not None else web_redis(settings.redis_url, sentinel=sentinel_target(settings))
    storage = storage if storage is not None else build_storage(settings)
    if admin_token is None:
        admin_token = settings.admin_token.get_secret_value() if settings.admin_token else ''
    context = WebContext(settings=settings, conn=conn, storage=storage, admin_token=admin_token,
                         embedded=is_embedded(conn))  # fmt: skip

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_conn:  # a connection passed in (the embedded Redis) belongs to the caller
            conn.close()

    app = FastAPI(
        lifespan=lifespan,
        title='Papá Noel videos',
        version='1.0.0',
        summary='Order a personalized video from Papá Noel, follow it, download it.',
        # Swagger UI needs inline scripts and a CDN, which the CSP forbids; the schema stays public.
        docs_url=None,
        redoc_url=None,
        openapi_url='/openapi.json',
    )
    app.state.web = context
    errors.install_handlers(app)
    app.include_router(api.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(admin.router)
    app.include_router(admin_jobs.router)
    app.include_router(review_admin.router)
    app.include_router(review_admin.page_router)
    app.include_router(pages.router)
    app.include_router(preview.router)
    app.include_router(extras.router)
    app.include_router(order_page.router)
    app.mount('/static', StaticFiles(directory=pages.STATIC), name='static')
    app.add_middleware(ClientAddressMiddleware, trusted=settings.forwarded_allow_ips)
    security.install(
        app,
        max_body_bytes=settings.max_request_bytes,
        cors_origins=security.parse_origins(settings.cors_origins),
        media_origins=_media_origins(settings),
    )
    return app


#: The order and status endpoints call Redis on the event loop: no call may hang it for long.
REDIS_SOCKET_TIMEOUT_SECONDS = 2.0


def web_redis(redis_url: str, *, sentinel: SentinelTarget | None = None) -> Redis:
    """The web's Redis client: like queueing.connection.connect, plus a read timeout.

    With `sentinel`, the primary the sentinels name (followed across a failover).
    """
    if not redis_url:
        return connect(redis_url)
    options: dict[str, Any] = {
        'socket_connect_timeout': REDIS_SOCKET_TIMEOUT_SECONDS,
        'socket_timeout': REDIS_SOCKET_TIMEOUT_SECONDS,
        'health_check_interval': 30,
    }
    if sentinel is not None:
        # A request meeting the switch is retried briefly (redis-py's default retry).
        return sentinel_master(redis_url, sentinel, **options)
    return Redis.from_url(redis_url, **options)


def _media_origins(settings: Settings) -> str:
    """With S3 storage the player follows a redirect to the bucket: the CSP must allow it."""
    if settings.storage_type != 's3':
        return ''
    if settings.s3_endpoint_url:
        parts = urlsplit(settings.s3_endpoint_url)
        return f'{parts.scheme}://{parts.netloc}'
    return 'https://*.amazonaws.com'


def app_from_env() -> FastAPI:
    """For running uvicorn by hand (`uvicorn --factory web.app:app_from_env`): settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if not settings.redis_url:
        raise RuntimeError('web.app:app_from_env needs REDIS_URL; without it run `python -m web`')
    return create_app(settings)
