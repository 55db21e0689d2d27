"""A finished video's extras on the parents' API: a download per format, the subtitles, the poster.

GET /api/videos/{id}/files/{name}   one extra ('1x1.mp4', 'subtitles.vtt', 'poster.jpg'), with
                                    the same signed link as the video's download
The status (web.api.status_of) lists them: `downloads` by format, `subtitles_url`, `poster_url`.
"""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from pipeline.extras import POSTER, SUBTITLES, video_name
from records import JobRecord, JobRecords, State
from storage import LocalStorage
from storage.base import StorageError
from web.context import get_context
from web.errors import ApiError, request_language
from web.schemas import ERROR_RESPONSE, VIDEO_ID_PATTERN, VideoStatus

router = APIRouter(prefix='/api', tags=['videos'])

MEDIA_TYPES = {'.mp4': 'video/mp4', '.jpg': 'image/jpeg', '.vtt': 'text/vtt'}
EXTRA_PATTERN = r'^[a-z0-9x_-]{1,32}\.(mp4|jpg|vtt)$'


def add_extras(status: VideoStatus, record: JobRecord, token: str, expires: int) -> None:
    """Fill a completed video's status with its extras' signed links."""
    query = urlencode({'expires': expires, 'token': token})
    base = f'/api/videos/{record.video_id}/files'
    downloads: dict[str, str] = {}
    for index, video_format in enumerate(record.order.formats):
        name = video_name(video_format)
        if index == 0 and status.download_url:
            downloads[video_format] = status.download_url
        elif name in record.extras:
            downloads[video_format] = f'{base}/{name}?{query}'
    status.downloads = downloads or None
    if SUBTITLES in record.extras:
        status.subtitles_url = f'{base}/{SUBTITLES}?{query}'
    if POSTER in record.extras:
        status.poster_url = f'{base}/{POSTER}?{query}'


@router.get(
    '/videos/{video_id}/files/{name}',
    summary="A video's extra: another format, the subtitles or the poster",
    response_class=FileResponse,
    responses={
        200: {'content': {t: {'schema': {'type': 'string', 'format': 'binary'}} for t in MEDIA_TYPES.values()}},
        302: {'description': 'Redirect to a short-lived storage URL (S3 storage)'},
        403: ERROR_RESPONSE,
        404: ERROR_RESPONSE,
    },
)
def download_extra(
    request: Request,
    video_id: Annotated[str, Path(pattern=VIDEO_ID_PATTERN)],
    name: Annotated[str, Path(pattern=EXTRA_PATTERN)],
    token: Annotated[str, Query(max_length=64, pattern=r'^[A-Za-z0-9_-]*$')] = '',
    expires: Annotated[int, Query(ge=0, le=10**12)] = 0,
    download: Annotated[bool, Query(description='true: save as a file instead of showing it')] = False,
) -> Response:
    ctx = get_context(request)
    language = request_language(request)
    # The video's own signed link opens its extras: checked first, like the video's download.
    if not token or not ctx.download_tokens().valid(video_id, token, expires):
        raise ApiError(403, 'download_forbidden', language=language)
    record = JobRecords(ctx.conn).get(video_id)
    if record is None or record.state is not State.COMPLETED or name not in record.extras:
        raise ApiError(404, 'not_found', language=language)
    storage = ctx.storage
    try:
        if isinstance(storage, LocalStorage):
            path = storage.extra_path(video_id, name)
            if not path.is_file():
                raise ApiError(404, 'video_gone', language=language)
            return FileResponse(
                path,
                media_type=MEDIA_TYPES[path.suffix],
                filename=f'papa-noel-{video_id}-{name}',
                content_disposition_type='attachment' if download else 'inline',
                headers={'Cache-Control': 'private, max-age=600'},
            )
        presign = getattr(storage, 'presigned_extra_url', None)
        if callable(presign):
            remaining = max(60, min(3600, int(expires - time.time())))
            return RedirectResponse(presign(video_id, name, remaining), status_code=302)
    except StorageError:
        pass
    raise ApiError(404, 'video_gone', language=language)
