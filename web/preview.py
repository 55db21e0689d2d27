"""Hear the name before ordering: POST /api/preview answers Santa's greeting ("¡Hola, Sofía!").

The greeting is spoken by the order's own TTS chain (`chain.ChainContext.speech`: the same
providers in the same order, the same shared circuit breakers, the same content-addressed
audio cache), so what the parent hears is what the video will say. The fields are checked
by the order model and the order's moderation, so a name the form accepts here is accepted
there, with the same field errors. Each preview is a paid TTS call unless cached: it has its
own per-client budget, apart from the orders'.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

import events
from audiocache import AudioCache
from breakers import BreakerBoard
from chain.strategies import ChainContext, ChainHooks, StrategyUnavailable
from metrics import Metrics
from orders import greeting
from orders.model import FieldError, Order, OrderError, parse_order
from providers.base import Speech
from providers.errors import ProviderError
from retries import ProviderRetryPolicy
from web import i18n
from web.api import _read_order
from web.context import WebContext, get_context
from web.errors import ApiError
from web.moderation import moderate
from web.ratelimit import RateLimiter
from web.respelling import moderate_respelling
from web.schemas import ERROR_RESPONSE, ErrorBody, PreviewRequest

log = logging.getLogger(__name__)

router = APIRouter(prefix='/api', tags=['preview'])

PREVIEW_FIELDS = tuple(PreviewRequest.model_fields)
# Only what a greeting needs comes from the parent; the rest makes the order model's checks pass.
_STANDING_FIELDS: dict[str, Any] = {'age': 1, 'parent_email': 'preview@example.com', 'consent': True}
_SCHEMA = PreviewRequest.model_json_schema()
_AUDIO = {'schema': {'type': 'string', 'format': 'binary'}}


@router.post(
    '/preview',
    summary="Hear Santa say the child's name",
    response_class=Response,
    openapi_extra={
        'requestBody': {
            'required': True,
            'content': {
                'application/json': {'schema': _SCHEMA},
                'application/x-www-form-urlencoded': {'schema': _SCHEMA},
            },
        }
    },
    responses={
        200: {'content': {'audio/wav': _AUDIO}, 'description': "Santa's greeting"},
        400: ERROR_RESPONSE,
        413: ERROR_RESPONSE,
        415: ERROR_RESPONSE,
        422: ERROR_RESPONSE,
        429: {'model': ErrorBody},
        503: ERROR_RESPONSE,
    },
)
async def preview_name(request: Request) -> Response:
    fields = await _read_order(request)
    language = i18n.choose_language(fields.get('language'), request.headers.get('accept-language'))
    ctx = get_context(request)
    client = request.client.host if request.client else 'unknown'
    decision = _limiter(ctx).hit(client)
    if not decision.allowed:
        Metrics(ctx.conn).incr('web:previews:rate_limited')
        log.info(events.PREVIEW_RATE_LIMITED)
        raise ApiError(429, 'preview_rate_limited', language=language, retry_after=decision.retry_after,
                       headers={'Retry-After': str(decision.retry_after)})  # fmt: skip
    order = valid_preview(fields, language)
    # Synthesis blocks (a subprocess or an HTTP call): off the event loop.
    audio = await run_in_threadpool(_speak, ctx, order, language)
    return Response(audio, media_type='audio/wav', headers={'Cache-Control': 'private, max-age=3600'})


def _limiter(ctx: WebContext) -> RateLimiter:
    s = ctx.settings
    return RateLimiter(
        ctx.conn, name='previews', limit=s.rate_limit_previews, window_seconds=s.rate_limit_preview_window_seconds
    )


def valid_preview(fields: dict[str, Any], language: i18n.Language) -> Order:
    """The greeting's fields checked by the order model and the order's moderation."""
    errors = [FieldError(field=name, code='extra_forbidden', message='unknown field')
              for name in fields if name not in PREVIEW_FIELDS]  # fmt: skip
    data = {**_STANDING_FIELDS, **{name: fields[name] for name in PREVIEW_FIELDS if name in fields}}
    order: Order | None = None
    try:
        order = parse_order(data)
    except OrderError as exc:
        errors.extend(exc.errors)
    if order is not None and not errors:
        errors = moderate(order) + moderate_respelling(order)
    if errors or order is None:
        raise ApiError(422, 'invalid_order', field_errors=errors, language=language)
    return order


class _Usage(ChainHooks):
    """A preview's TTS use in the same counters as an order's: cache hits, and characters paid for."""

    def __init__(self, metrics: Metrics, text: str) -> None:
        self.metrics = metrics
        self.text = text

    def speech_made(self, speech: Speech, *, cached: bool) -> None:
        self.metrics.incr('web:previews:cache_hits' if cached else 'web:previews:cache_misses')
        if not cached:
            self.metrics.incr(f'provider:{speech.provider}:characters', len(self.text))


def _speak(ctx: WebContext, order: Order, language: i18n.Language) -> bytes:
    s = ctx.settings
    workdir = Path(tempfile.mkdtemp(prefix='preview-'))
    text = greeting(order.child_name, order.name_pronunciation, order.language).spoken
    try:
        chain = ChainContext(
            script=text,
            language=order.language,
            base_video=Path(),
            workdir=workdir,
            providers=ctx.providers(),
            hooks=_Usage(Metrics(ctx.conn), text),
            retry_policy=ProviderRetryPolicy(attempts=1),  # a parent is waiting: the next provider, not a retry
            audio_cache=AudioCache(s.audio_cache_dir, s.audio_cache_max_size_mb * 1024 * 1024),
            breakers=BreakerBoard(ctx.conn, threshold=s.breaker_failure_threshold, cooldown=s.breaker_cooldown_seconds)
            if s.breaker_failure_threshold
            else None,
        )
        try:
            speech = chain.speech('preview')
        except (ProviderError, StrategyUnavailable) as exc:
            log.warning(events.PREVIEW_FAILED, extra={'error_type': type(exc).__name__})
            raise ApiError(503, 'preview_unavailable', language=language) from None
        log.info(events.PREVIEW_MADE, extra={'provider': speech.provider})
        Metrics(ctx.conn).incr('web:previews:made')
        return speech.path.read_bytes()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
