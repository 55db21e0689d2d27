"""Read an MP4's length and video frame count from its index (moov), without starting ffprobe.

An ffprobe costs ~0.1 s of CPU (it loads every FFmpeg library); a worker checks each video it
composes, and at thousands of videos an hour that is a core's worth of minutes. The box
layout is ISO/IEC 14496-12: moov > mvhd (timescale, duration) and moov > trak > mdia > hdlr
(handler 'vide' / 'soun') and > minf > stbl > stsz (sample count).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class MP4Error(Exception):
    """Not an MP4 whose index this module can read (callers fall back to ffprobe)."""


@dataclass(frozen=True)
class MovieSummary:
    duration: float  # seconds, from the movie header
    video_frames: int | None  # samples of the first video track
    has_audio: bool


def summary(path: Path) -> MovieSummary:
    moov = top_level_box(path, b'moov')
    mvhd = _find(moov, b'mvhd')
    if mvhd[0] == 1:
        timescale, duration = struct.unpack('>IQ', mvhd[20:32])
    else:
        timescale, duration = struct.unpack('>II', mvhd[12:20])
    if not timescale:
        raise MP4Error(f'{path}: movie header has no timescale')
    video_frames, has_audio = None, False
    for kind, trak in _boxes(moov):
        if kind != b'trak':
            continue
        mdia = _find(trak, b'mdia')
        handler = _find(mdia, b'hdlr')[8:12]
        if handler == b'vide' and video_frames is None:
            stsz = _find(_find(_find(mdia, b'minf'), b'stbl'), b'stsz')
            (video_frames,) = struct.unpack('>I', stsz[8:12])
        elif handler == b'soun':
            has_audio = True
    return MovieSummary(duration / timescale, video_frames, has_audio)


def top_level_box(path: Path, kind: bytes) -> bytes:
    """The payload of the first top-level box `kind` (e.g. b'moov'); MP4Error when there is none."""
    with path.open('rb') as f:
        while header := f.read(8):
            if len(header) < 8:
                break
            size, name = struct.unpack('>I4s', header)
            header_size = 8
            if size == 1:
                size = struct.unpack('>Q', f.read(8))[0]
                header_size = 16
            if name == kind:
                return f.read() if size == 0 else f.read(size - header_size)
            if size == 0 or size < header_size:
                break
            f.seek(size - header_size, 1)
    raise MP4Error(f'{path}: no {kind.decode()} box')


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack('>I4s', data[at : at + 8])
        header = 8
        if size == 1:
            size = struct.unpack('>Q', data[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = len(data) - at
        if size < header or at + size > len(data):
            raise MP4Error('truncated box')
        yield kind, data[at + header : at + size]
        at += size


def _find(data: bytes, kind: bytes) -> bytes:
    for name, body in _boxes(data):
        if name == kind:
            return body
    raise MP4Error(f'no {kind.decode()} box')
