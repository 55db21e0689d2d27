"""Security at the edge of every response: headers, a body size limit, CORS, and a last-resort
error handler, as plain ASGI middleware (no per-request task or body copy, unlike
BaseHTTPMiddleware, and they see every response, errors included)."""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import os
import secrets

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import events
from web import i18n
from web.errors import error_body

log = logging.getLogger(__name__)


def content_security_policy(media_origins: str = '') -> str:
    # No 'unsafe-inline' anywhere: every script and style is a file under /static.
    # blob: plays the name preview (POST /api/preview), fetched by the page's own script.
    media = f"'self' blob: {media_origins}".strip()
    return '; '.join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f'media-src {media}',
            "connect-src 'self'",
            "font-src 'self'",
            "manifest-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def security_headers(media_origins: str = '') -> list[tuple[bytes, bytes]]:
    headers = {
        'content-security-policy': content_security_policy(media_origins),
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        # Download links carry their token in the query string: never send it anywhere in a Referer.
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    }
    return [(k.encode(), v.encode()) for k, v in headers.items()]


def tokens_equal(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing says nothing about how much of a secret matched."""
    return hmac.compare_digest(given.encode(), expected.encode())


class _BodyTooLarge(Exception):
    pass


# Request ids: a random prefix per process and a counter, unique without a syscall per request.
_REQUEST_PREFIX = f'{os.getpid():x}{secrets.token_hex(3)}'
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    return f'{_REQUEST_PREFIX}-{next(_request_numbers):x}'


class EdgeMiddleware:
    """Adds the security headers and a request id to every response, refuses bodies over the limit
    with 413, and turns any unhandled exception into a generic 500 that names no file, line or path."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, media_origins: str = '') -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.headers = security_headers(media_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message['type'] == 'http.response.start':
                started = True
                raw = [h for h in message.get('headers', []) if h[0].lower() != b'x-request-id']
                message['headers'] = [*raw, *self.headers, (b'x-request-id', request_id.encode())]
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._error(send_with_headers, scope, 413, 'body_too_large', request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message['type'] == 'http.request':
                received += len(message.get('body', b''))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge  # a chunked body without Content-Length, caught below
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            if not started:
                await self._error(send_with_headers, scope, 413, 'body_too_large', request_id)
        except Exception:
            log.exception(events.HTTP_UNHANDLED_ERROR, extra={'request_id': request_id, 'path': scope.get('path')})
            if not started:
                await self._error(send_with_headers, scope, 500, 'internal_error', request_id)

    async def _error(self, send: Send, scope: Scope, status: int, code: str, request_id: str) -> None:
        language = i18n.choose_language(None, _header(scope, b'accept-language'))
        body = json.dumps(error_body(code, language, request_id=request_id)).encode()
        await send(
            {
                'type': 'http.response.start',
                'status': status,
                'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())],
            }
        )
        await send({'type': 'http.response.body', 'body': body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get('headers', []):
        if key.lower() == name:
            return bytes(value).decode('latin-1')
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b'content-length')
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def install(app: FastAPI, *, max_body_bytes: int, cors_origins: list[str], media_origins: str = '') -> None:
    """CORS inside, the edge middleware outermost (so CORS answers get the headers too)."""
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=['GET', 'POST'],
            allow_headers=['Content-Type', 'Idempotency-Key', 'Authorization', 'Accept-Language'],
            expose_headers=['Location', 'Retry-After', 'X-Request-ID'],
            max_age=600,
        )
    app.add_middleware(EdgeMiddleware, max_body_bytes=max_body_bytes, media_origins=media_origins)


def parse_origins(value: str) -> list[str]:
    return [origin.strip().rstrip('/') for origin in value.split(',') if origin.strip()]
