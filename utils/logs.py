"""Logging setup for entry points, and the video id carried on every record of a job."""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

_video_id: contextvars.ContextVar[str | None] = contextvars.ContextVar('video_id', default=None)

TEXT_FORMAT = '%(asctime)s %(levelname)s %(name)s %(message)s [video_id=%(video_id)s]'


class VideoIdFilter(logging.Filter):
    """Stamps the current job's video id on records that do not carry one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, 'video_id', None) is None:
            record.video_id = _video_id.get()
        return True


@contextmanager
def video_context(video_id: str) -> Iterator[None]:
    token = _video_id.set(video_id)
    try:
        yield
    finally:
        _video_id.reset(token)


def configure_logging(level: str = 'INFO', fmt: str = 'json') -> None:
    """Called once by an entry point; library code only ever calls logging.getLogger(__name__)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(VideoIdFilter())
    if fmt == 'json':
        handler.setFormatter(
            JsonFormatter(
                '%(asctime)s %(levelname)s %(name)s %(message)s %(video_id)s',
                rename_fields={'asctime': 'time', 'levelname': 'level', 'name': 'logger', 'message': 'event'},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
