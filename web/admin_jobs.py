"""The dashboard's job views and actions: search, a page of jobs, one job in full, admin actions.

Admin only (the same bearer token as web/admin.py). The job view shows the order — the child's
name, age, language, message and the parent's e-mail — because answering "where is my video?"
needs it; it is never logged (log lines carry the video id and the action only).

Actions are a table (ACTIONS): each has a handler when its backend exists in this code base, or
None, which the dashboard shows as unavailable. Every action that runs is recorded in the job's
timeline as `admin:<action>` (and so in the ledger) and in the log as `admin.action`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from redis import Redis

import events
import review.decisions as review
from deadletter import DeadLetterQueue, UnknownDeadLetter
from ledger import search_index
from privacy.forget import Forgetter
from queueing.cancel import CannotCancel, cancel_order
from records import JobRecord, JobRecords, State, record_key
from web.admin import _AUTH_RESPONSES, Admin
from web.api import status_of
from web.context import WebContext
from web.errors import ApiError, request_language
from web.schemas import ERROR_RESPONSE, VIDEO_ID_PATTERN
from web.stats import summaries_of

log = logging.getLogger(__name__)

router = APIRouter(prefix='/api/admin', tags=['admin'], responses=_AUTH_RESPONSES)

PAGE_MAX = 100
VideoIdPath = Annotated[str, Path(pattern=VIDEO_ID_PATTERN)]

#: Turn what an admin pasted (an order page URL, a token) into a video id; other homes add theirs
#: (the lasting order page /v/<token> of issue #13 plugs its token lookup in here).
TokenResolver = Callable[[Redis, str], str | None]


def _order_page_token(conn: Redis, text: str) -> str | None:
    """The lasting order page's link (/v/<token>) or the bare token."""
    match = re.search(r'/v/([A-Za-z0-9_-]+)', text)
    token = match.group(1) if match else text
    return JobRecords(conn).video_for_page(token) if re.fullmatch(r'[A-Za-z0-9_-]{22,64}', token) else None


TOKEN_RESOLVERS: list[TokenResolver] = [_order_page_token]


def _video_id_in(text: str) -> str | None:
    """A video id pasted as is, or inside a status/download URL."""
    match = re.search(r'/videos/([^/?#]+)', text)
    candidate = match.group(1) if match else text
    return candidate if re.fullmatch(VIDEO_ID_PATTERN, candidate) else None


def search(conn: Redis, query: str) -> list[str]:
    query = query.strip()
    if not query:
        return []
    if '@' in query and ' ' not in query:
        return search_index.by_email(conn, query)
    for resolver in TOKEN_RESOLVERS:
        found = resolver(conn, query)
        if found:
            return [found]
    video_id = _video_id_in(query)
    return [video_id] if video_id and conn.exists(record_key(video_id)) else []


@router.get('/jobs', summary='A page of jobs, newest first, or the jobs a search finds')
def list_jobs(
    ctx: Admin,
    q: Annotated[str, Query(max_length=500, description='Video id, status/order URL or token, or parent e-mail')] = '',
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 20,
) -> JSONResponse:
    if q:
        ids = search(ctx.conn, q)
        body = {'query': q, 'jobs': summaries_of(ctx.conn, ids), 'total': len(ids), 'offset': 0, 'limit': limit}
    else:
        jobs = summaries_of(ctx.conn, search_index.recent(ctx.conn, offset, limit))
        body = {'jobs': jobs, 'total': search_index.total(ctx.conn), 'offset': offset, 'limit': limit}
    return JSONResponse(body, headers={'Cache-Control': 'no-store'})


def _stage_durations(record: JobRecord) -> list[dict[str, Any]]:
    return [
        {'stage': name, 'started_at': t.started_at, 'finished_at': t.finished_at,
         'seconds': round(t.finished_at - t.started_at, 3) if t.finished_at else None}
        for name, t in sorted(record.stages.items(), key=lambda item: item[1].started_at)
    ]  # fmt: skip


def _attempts(record: JobRecord) -> list[dict[str, Any]]:
    """Every failed attempt with its error, and why it was (or was not) tried again."""
    result = []
    for n, error in enumerate(record.errors):
        last = n == len(record.errors) - 1
        final = last and record.state is State.FAILED
        cause = f'{error.get("error_type") or "an error"} in {error.get("stage") or "?"}'
        reason = f'no attempt left after {cause}: dead-letter queue' if final else f'retried after {cause}'
        result.append({**{k: error.get(k) for k in ('attempt', 'stage', 'provider', 'error_type', 'message', 'at')},
                       'retry': not final, 'reason': reason})  # fmt: skip
    return result


def available_actions(ctx: WebContext, record: JobRecord) -> dict[str, bool]:
    in_dlq = DeadLetterQueue(ctx.conn).contains(record.video_id)
    state = record.state.value
    return {
        'retry': in_dlq,
        'purge': in_dlq,
        'cancel': ACTIONS['cancel'] is not None and state in ('queued', 'processing'),
        'forget': ACTIONS['forget'] is not None,
        'approve': ACTIONS['approve'] is not None and state == 'review',
        'reject': ACTIONS['reject'] is not None and state == 'review',
    }


@router.get('/jobs/{video_id}', summary='One job in full: the order, stages, attempts, links, actions',
            responses={404: ERROR_RESPONSE})  # fmt: skip
def job_detail(ctx: Admin, request: Request, video_id: VideoIdPath) -> JSONResponse:
    records = JobRecords(ctx.conn)
    record = records.get(video_id)
    if record is None:
        raise ApiError(404, 'not_found', language=request_language(request))
    timeline = records.timeline(video_id)
    status = status_of(record, ctx)
    order = record.order.model_dump(mode='json')
    body = {
        'video_id': video_id,
        'state': record.state.value,
        'stage': record.stage,
        'attempt': record.attempt,
        'created_at': record.created_at,
        'updated_at': record.updated_at,
        'order': order,
        'stages': _stage_durations(record),
        'attempts': _attempts(record),
        'strategy': record.strategy,
        'providers': record.providers,
        'chain': record.attempts,
        'error': record.error,
        'review': {
            'flags': record.review_flags,
            'decision': record.review_decision or 'waiting',
            'reason': record.review_reason,
        }
        if record.review_flags or record.review_decision
        else None,
        # Every e-mail and webhook attempt, as delivery/jobs.py records them in the timeline.
        'deliveries': '; '.join(e['event'] for e in timeline if e['event'].startswith(('email:', 'webhook:'))) or None,
        'links': {
            'status': f'/api/videos/{video_id}',
            'watch': status.download_url,
            'download': f'{status.download_url}&download=true' if status.download_url else None,
        },  # fmt: skip
        'in_dead_letter_queue': DeadLetterQueue(ctx.conn).contains(video_id),
        'actions': available_actions(ctx, record),
        'timeline': timeline,
    }
    return JSONResponse(body, headers={'Cache-Control': 'no-store'})


# --- actions ---


def _retry(ctx: WebContext, video_id: str) -> str:
    DeadLetterQueue(ctx.conn).retry(video_id, job_timeout=ctx.settings.job_timeout_seconds, retry=ctx.job_retry)
    return 'queued again with a fresh attempt budget'


def _approve(ctx: WebContext, video_id: str) -> str:
    review.approve(ctx.conn, video_id, queue_name=ctx.settings.queue_name, job_timeout=ctx.settings.job_timeout_seconds,
                   retry=ctx.job_retry)  # fmt: skip
    return 'message approved: the video is queued'


def _reject(ctx: WebContext, video_id: str) -> str:
    review.reject(ctx.conn, video_id, 'rejected by a reviewer from the dashboard')
    return 'message rejected: the order failed and the parent is told'


def _cancel(ctx: WebContext, video_id: str) -> str:
    cancel_order(ctx.conn, video_id)
    return 'canceled: taken out of production for good'


def _forget(ctx: WebContext, video_id: str) -> str:
    Forgetter(ctx.conn, ctx.storage, ctx.settings).forget(video_id, reason='admin')
    return 'deleted: the video and everything personal about the order; only a tombstone remains'


def _purge(ctx: WebContext, video_id: str) -> str:
    DeadLetterQueue(ctx.conn).purge(video_id)
    return 'removed from the dead-letter queue'


Action = Callable[[WebContext, str], str]
#: None: the backend is not in this code base yet; the dashboard shows the button as unavailable.
ACTIONS: dict[str, Action | None] = {
    'retry': _retry,
    'purge': _purge,
    'cancel': _cancel,  # queueing/cancel.py
    'forget': _forget,  # privacy/forget.py: the same deletion as `cli.py forget`
    'approve': _approve,  # issue #10's message review (review/decisions.py)
    'reject': _reject,
}


@router.post('/jobs/{video_id}/actions/{action}', summary='Run an admin action on one job',
             responses={404: ERROR_RESPONSE, 409: ERROR_RESPONSE, 501: ERROR_RESPONSE})  # fmt: skip
def run_action(ctx: Admin, request: Request, video_id: VideoIdPath, action: str) -> JSONResponse:
    language = request_language(request)
    if action not in ACTIONS:
        raise ApiError(404, 'not_found', language=language)
    handler = ACTIONS[action]
    if handler is None:
        raise ApiError(501, 'action_unavailable', language=language)
    records = JobRecords(ctx.conn)
    if records.get(video_id) is None:
        raise ApiError(404, 'not_found', language=language)
    try:
        outcome = handler(ctx, video_id)
    except UnknownDeadLetter:
        raise ApiError(409, 'dead_letter_not_found', language=language) from None
    except review.NotInReview:
        raise ApiError(409, 'review_not_found', language=language) from None
    except CannotCancel:
        raise ApiError(409, 'cannot_cancel', language=language) from None
    if action != 'forget':  # a forgotten order keeps nothing but its tombstone, not even a timeline
        records.note(video_id, f'admin:{action}')
    log.info(events.ADMIN_ACTION, extra={'video_id': video_id, 'action': action})
    return JSONResponse({'id': video_id, 'action': action, 'outcome': outcome})


@router.post('/dlq/retry-all', summary='Send every dead job back to the queue')
def retry_all(ctx: Admin) -> JSONResponse:
    dead = DeadLetterQueue(ctx.conn)
    records = JobRecords(ctx.conn)
    done = []
    for entry in dead.entries(limit=10_000):
        try:
            dead.retry(entry.video_id, job_timeout=ctx.settings.job_timeout_seconds, retry=ctx.job_retry)
        except UnknownDeadLetter:
            continue
        records.note(entry.video_id, 'admin:retry')
        log.info(events.ADMIN_ACTION, extra={'video_id': entry.video_id, 'action': 'retry-all'})
        done.append(entry.video_id)
    return JSONResponse({'action': 'retry-all', 'requeued': done})
