"""Logging setup for entry points, and the video id carried on every record of a job."""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

_video_id: contextvars.ContextVar[str | None] = contextvars.ContextVar('video_id', default=None)

TEXT_FORMAT = '%(asctime)s %(levelname)-7s %(name)s %(message)s'
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord('', 0, '', 0, '', None, None))) | {'message', 'asctime'}


class VideoIdFilter(logging.Filter):
    """Stamps the current job's video id on records that do not carry one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, 'video_id', None) is None:
            record.video_id = _video_id.get()
        return True


class TextFormatter(logging.Formatter):
    """Human-readable lines that still show the structured fields, as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and v not in (None, '')}
        return line + ''.join(f' {k}={v}' for k, v in extras.items())


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
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
