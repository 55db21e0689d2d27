"""The ops API behind /admin: counts, stage times, workers, the dead-letter queue, recent jobs.

Every endpoint needs `Authorization: Bearer <ADMIN_TOKEN>` (compared in constant time).
Without ADMIN_TOKEN admin is off and answers 503; a client that keeps sending wrong tokens
is refused with 429 for a while. The overview returns nothing personal (names, emails,
messages); one job's full view, with the order, is web/admin_jobs.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

import events
import ledger
from alerts import current as current_alerts
from deadletter import DeadLetterQueue, UnknownDeadLetter
from ledger import search_index
from metrics import Metrics
from monitoring.figures import fleet_figures
from records import JobRecords
from web.api import STAGE_PROGRESS
from web.context import WebContext, get_context
from web.errors import ApiError, request_language
from web.schemas import ERROR_RESPONSE, VIDEO_ID_PATTERN
from web.security import tokens_equal
from web.stats import summaries_of, workers

log = logging.getLogger(__name__)

RECENT_JOBS = 20
TIMELINE_EVENTS = 30
DEAD_LETTERS_SHOWN = 50

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: ERROR_RESPONSE,
    403: ERROR_RESPONSE,
    429: ERROR_RESPONSE,
    503: ERROR_RESPONSE,
}


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get('authorization', '').partition(' ')
    return value.strip() if scheme.lower() == 'bearer' else ''


def _client(request: Request) -> str:
    return request.client.host if request.client else 'unknown'


def admin_authorized(request: Request, ctx: WebContext) -> bool:
    """Whether this request carries the admin token; never raises (for optional extras)."""
    given = _bearer(request)
    return bool(ctx.admin_token and given and tokens_equal(given, ctx.admin_token))


def require_admin(request: Request) -> WebContext:
    ctx = get_context(request)
    language = request_language(request)
    if not ctx.admin_token:
        raise ApiError(503, 'admin_disabled', language=language)
    given = _bearer(request)
    if not given:
        raise ApiError(401, 'auth_required', language=language, headers={'WWW-Authenticate': 'Bearer'})
    client = _client(request)
    if ctx.admin_failures.peek(client):
        raise ApiError(429, 'rate_limited', language=language, headers={'Retry-After': '60'}, retry_after=60)
    if not tokens_equal(given, ctx.admin_token):
        ctx.admin_failures.hit(client)
        log.warning(events.ADMIN_AUTH_FAILED, extra={'client': client})
        raise ApiError(403, 'auth_invalid', language=language)
    return ctx


Admin = Annotated[WebContext, Depends(require_admin)]
router = APIRouter(prefix='/api/admin', tags=['admin'], responses=_AUTH_RESPONSES)


@router.get('/overview', summary='Everything the dashboard shows, in one call')
def overview(ctx: Admin) -> JSONResponse:
    # Counters, registries and one page of the newest jobs: no scan of the job records (monitoring/figures.py).
    conn = ctx.conn
    settings = ctx.settings
    dead = DeadLetterQueue(conn)
    dead.sweep(settings.queue_name)  # jobs RQ failed since the last worker maintenance
    figures = fleet_figures(conn, settings.queue_name, breaker_threshold=settings.breaker_failure_threshold,
                            breaker_cooldown=settings.breaker_cooldown_seconds)  # fmt: skip
    store = Metrics(conn)
    snapshot = store.snapshot()
    stage_means = [
        {'stage': name, 'count': stage['count'], 'mean_seconds': round(stage['mean_seconds'], 3)}
        for name, stage in sorted(snapshot['stages'].items(), key=lambda item: _stage_order(item[0]))
    ]
    windows = {'hour': store.stage_percentiles(3600), 'day': store.stage_percentiles(86400)}
    stage_windows = [
        {'stage': stage, **{f'{window}_{k}': round(v, 3) for window in windows
                            for k, v in windows[window].get(stage, {}).items()}}
        for stage in sorted({s for w in windows.values() for s in w}, key=_stage_order)
    ]  # fmt: skip
    records = JobRecords(conn)
    recent_ids = search_index.recent(conn, 0, RECENT_JOBS)
    summaries = summaries_of(conn, recent_ids)
    body = {
        'generated_at': time.time(),
        'embedded': ctx.embedded,
        'queue': {'queued': figures.queued, 'started': figures.started, 'scheduled': figures.scheduled,
                  'dead_letter': figures.dead_letter, 'oldest_queued_age_seconds': figures.oldest_queued_age_seconds},
        'jobs_by_state': figures.jobs_by_state(),
        'jobs_total': search_index.total(conn),
        'review_waiting': figures.review_waiting,
        'stages': stage_means,
        'stage_windows': stage_windows,
        'counters': snapshot['counters'],
        'events': figures.events,
        'providers': [asdict(p) for p in figures.providers],
        'alerts': [a.as_dict() for a in current_alerts(conn, settings)],
        'workers': workers(conn),
        'dead_letter': [_dead_letter(entry) for entry in dead.entries(limit=DEAD_LETTERS_SHOWN)],
        'recent': [{**s, 'timeline': records.timeline(s['video_id'])[-TIMELINE_EVENTS:]} for s in summaries],
    }  # fmt: skip
    return JSONResponse(body, headers={'Cache-Control': 'no-store'})


def _stage_order(stage: str) -> tuple[int, str]:
    # Pipeline order (script, audio, segment, compose, store), unknown stages last.
    return STAGE_PROGRESS.get(stage, 1000), stage


def _dead_letter(entry: Any) -> dict[str, Any]:
    last = entry.last_error
    return {
        'video_id': entry.video_id,
        'failed_at': entry.failed_at,
        'attempts': entry.attempts,
        'stage': last.get('stage', ''),
        'error_type': last.get('error_type', ''),
        'message': str(last.get('message', ''))[:300],
        'language': entry.order.get('language', ''),
    }


@router.post(
    '/dlq/{video_id}/retry',
    status_code=202,
    summary='Send a dead job back to the queue with a fresh attempt budget',
    responses={404: ERROR_RESPONSE},
)
def retry_dead_letter(
    ctx: Admin, request: Request, video_id: Annotated[str, Path(pattern=VIDEO_ID_PATTERN)]
) -> dict[str, str]:
    try:
        DeadLetterQueue(ctx.conn).retry(video_id, job_timeout=ctx.settings.job_timeout_seconds, retry=ctx.job_retry)
    except UnknownDeadLetter:
        raise ApiError(404, 'dead_letter_not_found', language=request_language(request)) from None
    JobRecords(ctx.conn).note(video_id, 'admin:retry')
    log.info(events.ADMIN_DLQ_RETRY, extra={'video_id': video_id})
    return {'id': video_id, 'state': 'queued', 'status_url': f'/api/videos/{video_id}'}


@router.get('/events', summary='The cross-job event ledger, oldest first, after an entry id')
def ledger_events(
    ctx: Admin,
    since: Annotated[str, Query(pattern=r'^(\d+-\d+)?$', description="Entry id to start after; '' = the newest")] = '',
    limit: Annotated[int, Query(ge=1, le=ledger.MAX_READ)] = 100,
) -> JSONResponse:
    found = ledger.read(ctx.conn, since, limit) if since else ledger.latest(ctx.conn, limit)
    body = {'events': [e.as_dict() for e in found], 'next': found[-1].id if found else since}
    return JSONResponse(body, headers={'Cache-Control': 'no-store'})
