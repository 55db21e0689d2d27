"""Human review in the admin API: the orders waiting, and approve / reject (see review/).

GET  /api/admin/review                  the held orders, oldest first, with the message to read
POST /api/admin/review/{id}/approve     queue it (202)
POST /api/admin/review/{id}/reject      fail it; {"reason": "..."} is shown to the parent
GET  /admin/review                      a minimal page with the list and the two buttons

The message is returned here and only here: a reviewer cannot judge it without reading it.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

import review
from records import JobRecords
from web.admin import _AUTH_RESPONSES, Admin
from web.context import get_context
from web.errors import ApiError, request_language
from web.pages import render
from web.schemas import ERROR_RESPONSE, VIDEO_ID_PATTERN

log = logging.getLogger(__name__)

router = APIRouter(prefix='/api/admin/review', tags=['admin'], responses=_AUTH_RESPONSES)
page_router = APIRouter(include_in_schema=False)

VideoId = Annotated[str, Path(pattern=VIDEO_ID_PATTERN)]


class Rejection(BaseModel):
    reason: str = Field(default='', max_length=review.decisions.REASON_MAX)


class HeldOrder(BaseModel):
    id: str
    held_at: float
    flags: list[str]
    language: str
    age: int
    message: str
    timeline: list[dict[str, Any]]


@router.get('', summary='Orders held for a person to read their message', response_model=list[HeldOrder])
def held_orders(ctx: Admin, response: Response) -> list[HeldOrder]:
    response.headers['Cache-Control'] = 'no-store'  # children's messages: kept by no cache
    records = JobRecords(ctx.conn)
    return [
        HeldOrder(
            id=record.video_id,
            held_at=record.created_at,
            flags=record.review_flags,
            language=record.order.language,
            age=record.order.age,
            message=record.order.message,
            timeline=records.timeline(record.video_id)[-10:],
        )
        for record in review.pending(ctx.conn)
    ]


@router.post('/{video_id}/approve', status_code=202, summary='The message may be said: queue the video',
             responses={404: ERROR_RESPONSE})  # fmt: skip
def approve(ctx: Admin, request: Request, video_id: VideoId) -> dict[str, str]:
    try:
        review.approve(ctx.conn, video_id, queue_name=ctx.settings.queue_name,
                       job_timeout=ctx.settings.job_timeout_seconds, retry=ctx.job_retry)  # fmt: skip
    except review.NotInReview:
        raise ApiError(404, 'review_not_found', language=request_language(request)) from None
    return {'id': video_id, 'state': 'queued', 'status_url': f'/api/videos/{video_id}'}


@router.post('/{video_id}/reject', summary='The message may not be said: the order fails with a reason',
             responses={400: ERROR_RESPONSE, 404: ERROR_RESPONSE})  # fmt: skip
def reject(
    ctx: Admin, request: Request, video_id: VideoId, rejection: Annotated[Rejection | None, Body()] = None
) -> dict[str, str]:
    try:
        review.reject(ctx.conn, video_id, rejection.reason if rejection else '')
    except review.NotInReview:
        raise ApiError(404, 'review_not_found', language=request_language(request)) from None
    return {'id': video_id, 'state': 'failed', 'status_url': f'/api/videos/{video_id}'}


@page_router.get('/admin/review', response_class=HTMLResponse)
def review_page(request: Request) -> HTMLResponse:
    if not get_context(request).admin_token:
        return HTMLResponse(render('admin_disabled.html'), status_code=503, headers={'Cache-Control': 'no-cache'})
    return HTMLResponse(render('review.html'), headers={'Cache-Control': 'no-cache'})
