"""The lasting order page: /v/<token>, the parent's way back to an order from any browser.

The token (192 random bits, made with the record; records/job_records.py) is the only key: no
login, nothing in the browser needed. The page shows progress, then the player, a download
named after the child, and "delete this video now"; never the parent's e-mail address.

GET  /v/{token}                 the page (410 once deleted, with the date)
GET  /api/orders/{token}        what the page shows, as JSON
GET  /v/{token}/video           the MP4 (Range for seeking); ?download=true saves papa-noel-<name>.mp4
POST /api/orders/{token}/delete delete the video and everything personal about the order, now
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from rq import Queue

from delivery.jobs import delivery_queue_name
from delivery.messages import first_name
from privacy.forget import Forgetter, Tombstone, page_tombstone
from privacy.jobs import queue_forget
from privacy.retention import expires_at
from records import JobRecord, JobRecords, State
from storage import LocalStorage
from web.api import progress_of
from web.context import WebContext, get_context
from web.errors import ApiError, request_language
from web.pages import render

log = logging.getLogger(__name__)

router = APIRouter(tags=['order page'])

TOKEN_PATTERN = r'^[A-Za-z0-9_-]{22,64}$'
Token = Annotated[str, Path(pattern=TOKEN_PATTERN, description='The token of the order page link.')]
_PAGE_HEADERS = {'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer'}


class OrderPageStatus(BaseModel):
    state: Literal['queued', 'processing', 'completed', 'failed', 'deleted', 'review']
    #: Why a reviewer refused the message (the parent sees it); empty otherwise.
    rejected_reason: str = ''
    child_first_name: str = ''
    progress: int = Field(ge=0, le=100)
    #: A failed attempt is being tried again: "taking a little longer", never a progress bar going back.
    retrying: bool = False
    stage: str = ''
    video_url: str | None = None
    download_url: str | None = None
    download_filename: str | None = None
    available_until: float | None = None
    retention_days: int
    deleted_at: float | None = None


def download_filename(child_name: str) -> str:
    """papa-noel-<name>.mp4, ASCII-folded: 'Sofía' -> papa-noel-sofia.mp4."""
    folded = unicodedata.normalize('NFKD', child_name).encode('ascii', 'ignore').decode().lower()
    slug = re.sub(r'[^a-z0-9]+', '-', folded).strip('-')
    return f'papa-noel-{slug}.mp4' if slug else 'papa-noel.mp4'


def _lookup(ctx: WebContext, token: str) -> tuple[JobRecord | None, Tombstone | None]:
    stone = page_tombstone(ctx.conn, token)
    if stone is not None:
        return None, stone
    records = JobRecords(ctx.conn)
    video_id = records.video_for_page(token)
    return (records.get(video_id) if video_id else None), None


def _status(ctx: WebContext, token: str, record: JobRecord) -> OrderPageStatus:
    days = ctx.settings.retention_days
    status = OrderPageStatus(
        state=record.state.value,
        child_first_name=first_name(record.order.child_name),
        progress=progress_of(record),
        retrying=bool(record.errors) and record.state in (State.QUEUED, State.PROCESSING),
        stage=record.stage if record.state is State.PROCESSING else '',
        retention_days=days,
        available_until=expires_at(record, days),
        rejected_reason=record.review_reason if record.review_decision == 'rejected' else '',
    )
    if record.state is State.COMPLETED:
        status.video_url = f'/v/{token}/video'
        status.download_url = f'/v/{token}/video?download=true'
        status.download_filename = download_filename(record.order.child_name)
    return status


@router.get('/v/{token}', response_class=HTMLResponse, include_in_schema=False)
def order_page(request: Request, token: Token) -> HTMLResponse:
    ctx = get_context(request)
    record, stone = _lookup(ctx, token)
    language = request_language(request)
    code = 200 if record else 410 if stone else 404
    page = render('order.html', lang=language, retention_days=str(ctx.settings.retention_days),
                  deleted_at=str(stone.deleted_at) if stone else '', known='1' if record else '0')  # fmt: skip
    return HTMLResponse(page, status_code=code, headers=_PAGE_HEADERS)


@router.get('/api/orders/{token}', response_model=OrderPageStatus, summary='Follow an order by its page token',
            responses={404: {}, 410: {'model': OrderPageStatus}})  # fmt: skip
def order_status(request: Request, token: Token) -> Response:
    ctx = get_context(request)
    record, stone = _lookup(ctx, token)
    if stone is not None:
        gone = OrderPageStatus(state='deleted', progress=0, retention_days=ctx.settings.retention_days,
                               deleted_at=stone.deleted_at)  # fmt: skip
        return Response(gone.model_dump_json(), status_code=410, media_type='application/json',
                        headers=_PAGE_HEADERS)  # fmt: skip
    if record is None:
        raise ApiError(404, 'not_found', language=request_language(request))
    body = _status(ctx, token, record).model_dump_json()
    return Response(body, media_type='application/json', headers=_PAGE_HEADERS)


@router.get('/v/{token}/video', summary='Play or download the video of an order page', response_class=FileResponse,
            responses={404: {}, 410: {}})  # fmt: skip
def order_video(
    request: Request,
    token: Token,
    download: Annotated[bool, Query(description='true: save as a file instead of playing it')] = False,
) -> Response:
    ctx = get_context(request)
    language = request_language(request)
    record, stone = _lookup(ctx, token)
    if stone is not None:
        raise ApiError(410, 'video_gone', language=language)
    if record is None or record.state is not State.COMPLETED:
        raise ApiError(404, 'not_found', language=language)
    filename = download_filename(record.order.child_name)
    storage = ctx.storage
    if isinstance(storage, LocalStorage):
        path = storage.path(record.video_id)
        if not path.is_file():
            raise ApiError(410, 'video_gone', language=language)
        return FileResponse(path, media_type='video/mp4', filename=filename,
                            content_disposition_type='attachment' if download else 'inline',
                            headers={'Cache-Control': 'private, no-store'})  # fmt: skip
    presign = getattr(storage, 'presigned_url', None)
    if callable(presign):
        return RedirectResponse(presign(record.video_id, 600), status_code=302)
    raise ApiError(410, 'video_gone', language=language)


class Deleted(BaseModel):
    state: Literal['deleted'] = 'deleted'
    deleted_at: float


@router.post('/api/orders/{token}/delete', response_model=Deleted, summary='Delete the video and the order now',
             responses={404: {}})  # fmt: skip
def delete_order(request: Request, token: Token) -> Deleted:
    ctx = get_context(request)
    record, stone = _lookup(ctx, token)
    if stone is not None:  # deleting twice is fine: the first date stands
        return Deleted(deleted_at=stone.deleted_at)
    if record is None:
        raise ApiError(404, 'not_found', language=request_language(request))
    Forgetter(ctx.conn, ctx.storage, ctx.settings).forget(record.video_id, reason='parent', now=time.time())
    queue_forget(Queue(delivery_queue_name(ctx.settings), connection=ctx.conn), record.video_id)
    after = page_tombstone(ctx.conn, token)
    return Deleted(deleted_at=after.deleted_at if after else time.time())
