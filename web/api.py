"""The parents' API: order a video, follow it, download it.

POST /api/videos                      validate, moderate, rate-limit, enqueue (idempotent) -> 202
GET  /api/videos/{id}                 state, stage, progress, a safe error, a signed download link
GET  /api/videos/{id}/download        the MP4 (Range requests for seeking), only with a valid link
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

import review
from delivery.jobs import CALLBACK_FIELD
from delivery.webhooks import CallbackRefused, check_callback_url
from metrics import Metrics
from orders.model import FieldError, Order, OrderError, parse_order
from privacy.forget import page_tombstone, tombstone
from queueing.enqueue import enqueue_order
from records import JobRecord, JobRecords, State, record_key
from settings import Settings
from storage import LocalStorage
from utils.redis_values import text
from web import i18n
from web.bodies import BodyError, decode_form, decode_json, printable_field
from web.clients import from_our_origin, rate_key
from web.context import WebContext, get_context
from web.errors import ApiError, request_language
from web.extras import add_extras
from web.idempotency import MAX_KEY_LENGTH, Outcome, fingerprint, order_id_for
from web.moderation import moderate
from web.respelling import moderate_respelling
from web.schemas import (
    ERROR_RESPONSE,
    VIDEO_ID_PATTERN,
    Accepted,
    ErrorBody,
    OrderRequest,
    SafeError,
    VideoStatus,
)
from web.security import parse_origins

log = logging.getLogger(__name__)

router = APIRouter(prefix='/api', tags=['videos'])

PUBLIC_FIELDS = tuple(OrderRequest.model_fields)

#: How far along a video is when a stage starts. The Santa segment is one of lipsync or video
#: (or neither, for the voice-over strategy); compose is the longest local stage.
STAGE_PROGRESS = {'script': 5, 'audio': 15, 'lipsync': 35, 'video': 35, 'compose': 70, 'store': 95}

_ORDER_SCHEMA = OrderRequest.model_json_schema()

# The body is read by hand (JSON or a form), so its schema is declared here for OpenAPI.
ORDER_BODY_OPENAPI: dict[str, Any] = {
    'requestBody': {
        'required': True,
        'content': {
            'application/json': {'schema': _ORDER_SCHEMA},
            'application/x-www-form-urlencoded': {'schema': _ORDER_SCHEMA},
        },
    }
}

_RETRY_AFTER_HEADER = {'Retry-After': {'description': 'Seconds until the limit resets.', 'schema': {'type': 'string'}}}
_LOCATION_HEADER = {'Location': {'description': 'The status URL.', 'schema': {'type': 'string'}}}


@router.post(
    '/videos',
    status_code=202,
    response_model=Accepted,
    summary='Order a video',
    openapi_extra=ORDER_BODY_OPENAPI,
    responses={
        202: {'headers': _LOCATION_HEADER},
        400: ERROR_RESPONSE,
        403: ERROR_RESPONSE,
        409: ERROR_RESPONSE,
        413: ERROR_RESPONSE,
        415: ERROR_RESPONSE,
        422: ERROR_RESPONSE,
        429: {'model': ErrorBody, 'headers': _RETRY_AFTER_HEADER},
    },
)
async def create_video(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(alias='Idempotency-Key', min_length=1, max_length=MAX_KEY_LENGTH, pattern=r'^[\x21-\x7e]+$'),
    ] = None,
) -> JSONResponse:
    fields = await _read_order(request)
    language = i18n.choose_language(fields.get('language'), request.headers.get('accept-language'))
    client = rate_key(request.client.host) if request.client else 'unknown'
    ctx = get_context(request)
    # Redis and RQ are synchronous, and they run right here on the event loop, on purpose: each
    # call is a loopback round trip of about 0.1 ms, and handing every order to a thread and back
    # cost more than it saved (bench/api.py on 2 cores: ~250 -> ~500 orders/s with 8 clients, p99
    # ~80 -> ~35 ms). The web's Redis client has a socket timeout (web/app.py), so a stalled Redis
    # holds a process for seconds at most. Slow endpoints (health, metrics, admin) use the pool.
    accepted, replayed = _accept_order(ctx, fields, language, client, idempotency_key)
    headers = {'Location': accepted.status_url}
    if replayed:
        headers['Idempotent-Replayed'] = 'true'
    return JSONResponse(accepted.model_dump(), status_code=202, headers=headers)


async def _read_order(request: Request) -> dict[str, Any]:
    """The order's fields from a JSON object or a form; refuses anything else."""
    content_type = request.headers.get('content-type', '').split(';', 1)[0].strip().lower()
    language = request_language(request)
    if content_type == 'application/json' or content_type.endswith('+json'):
        try:
            data = decode_json(await request.body())
        except BodyError as exc:
            raise ApiError(400, exc.code, language=language) from None
        if not isinstance(data, dict):
            raise ApiError(422, 'invalid_body', language=language)
        return data
    if content_type in ('application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'):
        # The three types a page on another site can post here without asking (no CORS preflight).
        _same_origin_form(request, language)
    if content_type == 'application/x-www-form-urlencoded':
        try:
            return decode_form(await request.body())
        except BodyError as exc:
            raise ApiError(400, exc.code, language=language) from None
    if content_type == 'multipart/form-data':
        form = await request.form()
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            # An uploaded file is never an order field: let the model refuse it as "not text".
            fields[key] = value if not isinstance(value, UploadFile) else object()
        await form.close()
        return fields
    raise ApiError(415, 'unsupported_media_type', language=language)


def _same_origin_form(request: Request, language: i18n.Language) -> None:
    ctx = get_context(request)
    own_host = request.headers.get('host', '')
    if not from_our_origin(request.headers, own_host, parse_origins(ctx.settings.cors_origins)):
        raise ApiError(403, 'cross_site_form', language=language)


def _accept_order(
    ctx: WebContext, fields: dict[str, Any], language: i18n.Language, client: str, idempotency_key: str | None
) -> tuple[Accepted, bool]:
    metrics = Metrics(ctx.conn)
    body_fingerprint = fingerprint(fields)
    order_id = order_id_for(ctx.idempotency_secret(), idempotency_key, body_fingerprint) if idempotency_key else None
    order = _valid_order(fields, order_id, language, metrics, ctx.settings)

    # Counted only once the order is valid: a parent fixing a typo is not placing another order.
    decision = ctx.order_limiter.hit(client)
    if not decision.allowed:
        metrics.incr('web:orders:rate_limited')
        raise ApiError(429, 'rate_limited', language=language, retry_after=decision.retry_after,
                       headers={'Retry-After': str(decision.retry_after)})  # fmt: skip

    if idempotency_key:
        claim = ctx.idempotency.claim(idempotency_key, body_fingerprint)
        if claim.outcome is Outcome.MISMATCH:
            raise ApiError(422, 'idempotency_key_reused', language=language)
        if claim.outcome is Outcome.IN_PROGRESS:
            raise ApiError(409, 'idempotency_in_progress', language=language, headers={'Retry-After': '1'})
        if claim.outcome is Outcome.REPLAY:
            record = JobRecords(ctx.conn).get(claim.video_id)
            state = record.state.value if record else State.QUEUED.value
            return _accepted(claim.video_id, state, record.page_token if record else ''), True
    held_for = review.flags(order.message, ctx.settings.message_review)
    try:
        if held_for:
            result = review.hold_order(ctx.conn, order, held_for)
        else:
            result = enqueue_order(ctx.conn, order, queue_name=ctx.settings.queue_name,
                                   job_timeout=ctx.settings.job_timeout_seconds, retry=ctx.job_retry)  # fmt: skip
    except Exception:
        if idempotency_key:
            ctx.idempotency.abandon(idempotency_key)
        raise
    callback = fields.get('callback_url')
    if result.created and isinstance(callback, str) and callback:
        ctx.conn.hset(record_key(result.video_id), CALLBACK_FIELD, callback)
    if idempotency_key:
        ctx.idempotency.finish(idempotency_key, body_fingerprint, result.video_id)
    metrics.incr('web:orders:accepted')
    page_token = text(ctx.conn.hget(record_key(result.video_id), 'page_token') or b'')
    return _accepted(result.video_id, result.state.value, page_token), not result.created


def _callback_errors(url: Any, settings: Settings) -> list[FieldError]:
    if url is None or url == '':
        return []
    if not isinstance(url, str):
        return [FieldError(field='callback_url', code='string_type', message='must be text')]
    if not settings.webhook_secret:
        return [FieldError(field='callback_url', code='callback_url', message='webhooks are not enabled here')]
    try:
        check_callback_url(url, allow_private=settings.webhook_allow_private)
    except CallbackRefused as exc:
        return [FieldError(field='callback_url', code='callback_url', message=str(exc))]
    return []


def _valid_order(
    fields: dict[str, Any], order_id: str | None, language: i18n.Language, metrics: Metrics, settings: Settings
) -> Order:
    errors = [
        FieldError(field=printable_field(name), code='extra_forbidden', message='unknown field')
        for name in fields
        if name not in PUBLIC_FIELDS
    ]
    # The callback is the API caller's, not part of the order: checked here, kept beside the record.
    data = {name: fields[name] for name in PUBLIC_FIELDS if name in fields and name != 'callback_url'}
    errors.extend(_callback_errors(fields.get('callback_url'), settings))
    if order_id:
        data['order_id'] = order_id
    order: Order | None = None
    try:
        order = parse_order(data)
    except OrderError as exc:
        errors.extend(exc.errors)
    if order is not None and not errors:
        errors = moderate(order) + moderate_respelling(order)
        if errors:
            metrics.incr('web:orders:moderated')
    if errors or order is None:
        metrics.incr('web:orders:invalid')
        raise ApiError(422, 'invalid_order', field_errors=errors, language=language)
    return order


def _accepted(video_id: str, state: str, page_token: str = '') -> Accepted:
    page_url = f'/v/{page_token}' if page_token else None
    return Accepted(id=video_id, status_url=f'/api/videos/{video_id}', state=state, page_url=page_url)  # type: ignore[arg-type]


VideoId = Annotated[str, Path(pattern=VIDEO_ID_PATTERN, description='The id POST /api/videos answered.')]


@router.get('/videos/{video_id}', response_model=VideoStatus, summary='Follow a video',
            responses={404: ERROR_RESPONSE})  # fmt: skip
async def video_status(request: Request, response: Response, video_id: VideoId) -> VideoStatus:
    # One HGETALL: on the event loop, like the order itself (see create_video). Pages poll this.
    ctx = get_context(request)
    records = JobRecords(ctx.conn)
    record = records.get(video_id)
    if record is None and (by_page := records.video_for_page(video_id)):  # the order page's token works too
        record = records.get(by_page)
    if record is None:
        gone = tombstone(ctx.conn, video_id) or page_tombstone(ctx.conn, video_id)
        raise ApiError(410 if gone else 404, 'video_gone' if gone else 'not_found', language=request_language(request))
    # It may carry a download token: no cache, shared or private, may keep it.
    response.headers['Cache-Control'] = 'no-store'
    return status_of(record, ctx)


def status_of(record: JobRecord, ctx: WebContext, now: float | None = None) -> VideoStatus:
    # Tried again after a failed attempt, queued or running: the page says "taking a little longer".
    retrying = record.state in (State.QUEUED, State.PROCESSING) and record.attempt > 0 and bool(record.errors)
    status = VideoStatus(
        id=record.video_id,
        state=record.state.value,
        stage=record.stage if record.state is State.PROCESSING else '',
        progress=progress_of(record),
        strategy=record.strategy,
        retrying=retrying,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
    if record.state is State.FAILED and record.review_decision == 'rejected':
        # The reviewer wrote this for the parent.
        status.error = SafeError(code='message_rejected', message=i18n.rejected_message(record.review_reason))  # type: ignore[arg-type]
    elif record.state is State.FAILED:
        # The record's own error names files, hosts and vendors: parents get a fixed sentence.
        status.error = SafeError(code='production_failed', message=i18n.message('production_failed'))  # type: ignore[arg-type]
    if record.state is State.COMPLETED:
        token, expires = ctx.download_tokens().issue(record.video_id, now)
        status.download_url = f'/api/videos/{record.video_id}/download?' + urlencode(
            {'expires': expires, 'token': token}
        )
        status.download_expires_at = expires
        add_extras(status, record, token, expires)
    return status


def progress_of(record: JobRecord) -> int:
    """0 when queued, 100 when done; in between, where the current stage starts."""
    if record.state is State.COMPLETED:
        return 100
    # As far as any attempt got: a retry starting over at the script never sends the bar back.
    reached = [STAGE_PROGRESS.get(name, 0) for name in record.stages] if record.attempt else []
    if record.state is State.PROCESSING:
        reached.append(STAGE_PROGRESS.get(record.stage, 0))
    return max(reached, default=0)


@router.get(
    '/videos/{video_id}/download',
    summary='Download or stream the video',
    response_class=FileResponse,
    responses={
        200: {'content': {'video/mp4': {'schema': {'type': 'string', 'format': 'binary'}}}},
        206: {'description': 'Part of the video (Range)',
              'content': {'video/mp4': {'schema': {'type': 'string', 'format': 'binary'}}}},
        302: {'description': 'Redirect to a short-lived storage URL (S3 storage)'},
        403: ERROR_RESPONSE,
        404: ERROR_RESPONSE,
    },
)  # fmt: skip
def download_video(
    request: Request,
    video_id: VideoId,
    token: Annotated[str, Query(max_length=64, pattern=r'^[A-Za-z0-9_-]*$')] = '',
    expires: Annotated[int, Query(ge=0, le=10**12)] = 0,
    download: Annotated[bool, Query(description='true: save as a file instead of playing it')] = False,
) -> Response:
    ctx = get_context(request)
    language = request_language(request)
    # The signature first: an invalid link learns nothing about whether the video exists.
    if not token or not ctx.download_tokens().valid(video_id, token, expires):
        raise ApiError(403, 'download_forbidden', language=language)
    record = JobRecords(ctx.conn).get(video_id)
    if record is None and tombstone(ctx.conn, video_id):
        raise ApiError(410, 'video_gone', language=language)
    if record is None or record.state is not State.COMPLETED:
        raise ApiError(404, 'not_found', language=language)
    storage = ctx.storage
    if isinstance(storage, LocalStorage):
        path = storage.path(video_id)
        if not path.is_file():
            raise ApiError(404, 'video_gone', language=language)
        return FileResponse(
            path,
            media_type='video/mp4',
            filename=f'papa-noel-{video_id}.mp4',
            content_disposition_type='attachment' if download else 'inline',
            headers={'Cache-Control': 'private, max-age=600'},
        )
    presign = getattr(storage, 'presigned_url', None)
    if callable(presign):
        remaining = max(60, min(3600, int(expires - time.time())))
        return RedirectResponse(presign(video_id, remaining), status_code=302, headers={'Cache-Control': 'no-store'})
    raise ApiError(404, 'video_gone', language=language)
