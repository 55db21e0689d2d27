"""What one order leaves outside the files named after its video id: media published for
providers (named by content) and audio-cache entries (keyed by the text). While a video is
made, storage and the audio cache note each name here; the pipeline saves them in the job
record, so deletion finds them later.

A context variable rather than a parameter: providers get their storage once per process, and
the chain sees the cache through many layers; neither knows which order it is working for.
This module imports nothing of the project, so anything may note into it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Traces:
    media: set[str] = field(default_factory=set)
    audio_cache: set[str] = field(default_factory=set)


_current: ContextVar[Traces | None] = ContextVar('papanoel_personal_traces', default=None)


@contextmanager
def collecting() -> Iterator[Traces]:
    traces = Traces()
    reset = _current.set(traces)
    try:
        yield traces
    finally:
        _current.reset(reset)


def note_media(name: str) -> None:
    traces = _current.get()
    if traces is not None:
        traces.media.add(name)


def note_audio_cache(key: str) -> None:
    traces = _current.get()
    if traces is not None:
        traces.audio_cache.add(key)
