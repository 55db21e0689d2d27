"""Local FFmpeg steps around remote talking-video calls: audio to WAV, a still of the base
footage, cutting speech into pieces and joining the clips made from them.

Failures are raised as provider errors (the chain only understands those): a killed FFmpeg
is a ProviderTimeout, anything else fails again as asked, so it is permanent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from providers.errors import PermanentProviderError, ProviderTimeout
from utils.probe import MediaError, probe
from utils.proc import CommandError, CommandTimeout, run

FFMPEG_TIMEOUT_SECONDS = 300
_SILENCE = re.compile(rb'lavfi\.silence_(start|end)=(-?[0-9.]+)')


def _ffmpeg(provider: str, args: Sequence[str]) -> bytes:
    try:
        return run(['ffmpeg', '-v', 'error', '-nostdin', '-y', *args], timeout=FFMPEG_TIMEOUT_SECONDS)
    except CommandTimeout as exc:
        raise ProviderTimeout(provider, str(exc)) from exc
    except CommandError as exc:
        raise PermanentProviderError(provider, str(exc)) from exc


def file_digest(path: Path) -> str:
    """Content hash used to name published media: same bytes, same name, same URL where storage allows."""
    digest = hashlib.sha256()
    with path.open('rb') as f:
        for block in iter(lambda: f.read(1024 * 1024), b''):
            digest.update(block)
    return digest.hexdigest()


def to_wav(provider: str, source: Path, dest: Path) -> tuple[Path, float]:
    """`source` as WAV (itself when it already is one, else converted to 16-bit PCM) and its duration."""
    try:
        info = probe(source)
        if info.format_name == 'wav':
            return source, info.duration
        _ffmpeg(provider, ['-i', str(source), '-vn', '-c:a', 'pcm_s16le', str(dest)])
        return dest, probe(dest).duration
    except MediaError as exc:
        raise PermanentProviderError(provider, f'speech unusable: {exc}') from exc


def still_frame(provider: str, video: Path, dest: Path) -> Path:
    """One frame of `video` as a JPEG, half a second in (past a fade from black); the first frame
    of a clip shorter than that."""
    for seek in (['-ss', '0.5'], []):
        _ffmpeg(provider, [*seek, '-i', str(video), '-frames:v', '1', '-q:v', '2', str(dest)])
        if dest.is_file() and dest.stat().st_size > 0:
            return dest
    raise PermanentProviderError(provider, f'no frame could be taken from {video}')


def cut_audio(provider: str, source: Path, start: float, length: float, dest: Path) -> Path:
    """`length` seconds of `source` from `start`, as WAV (sample-accurate: WAV seeks exactly)."""
    _ffmpeg(
        provider,
        ['-ss', f'{start:.3f}', '-t', f'{length:.3f}', '-i', str(source), '-vn', '-c:a', 'pcm_s16le', str(dest)],
    )
    return dest


def silences(provider: str, source: Path, *, noise_db: int = -35, min_seconds: float = 0.15) -> list[float]:
    """Midpoints of the pauses in `source`: the places where a cut splits no word."""
    try:
        out = run(
            ['ffmpeg', '-v', 'error', '-nostdin', '-i', str(source), '-af',
             f'silencedetect=noise={noise_db}dB:d={min_seconds},ametadata=print:file=-', '-f', 'null', '-'],
            timeout=FFMPEG_TIMEOUT_SECONDS,
        )  # fmt: skip
    except CommandError:
        return []  # cutting anywhere still works; pauses only make the cut nicer
    points: list[float] = []
    start: float | None = None
    for kind, value in _SILENCE.findall(out):
        if kind == b'start':
            start = max(0.0, float(value))
        elif start is not None:
            points.append((start + float(value)) / 2)
            start = None
    return points


def split_points(duration: float, max_piece: float, pauses: Sequence[float], *, snap: float = 2.0) -> list[float]:
    """Where to cut `duration` seconds into the fewest pieces of at most `max_piece` seconds.

    Pieces start even, so none is a stub, then each cut moves to the nearest pause within
    `snap` seconds as long as every piece still fits. Returns the cut times (empty: no cut).
    """
    count = max(1, -int(-duration // max_piece))  # ceil
    cuts: list[float] = []
    previous = 0.0
    for i in range(1, count):
        target = duration * i / count
        remaining = count - i
        fits = [
            p
            for p in pauses
            if abs(p - target) <= snap and 0 < p - previous <= max_piece and duration - p <= remaining * max_piece
        ]
        cut = min(fits, key=lambda p: abs(p - target)) if fits else target
        cuts.append(cut)
        previous = cut
    return cuts


def join_clips(provider: str, clips: Sequence[tuple[Path, float]], dest: Path, size: tuple[int, int]) -> Path:
    """Concatenate video clips in order, each cut or held on its last frame to exactly its seconds.

    Each piece was generated for one slice of the speech; fitting every clip to its slice keeps
    the lips of later pieces in step with the words. Audio is dropped: the speech is mixed in later.
    """
    width, height = size
    args: list[str] = []
    filters: list[str] = []
    for i, (clip, seconds) in enumerate(clips):
        args += ['-i', str(clip)]
        filters.append(
            f'[{i}:v]scale={width}:{height}:force_original_aspect_ratio=decrease,'
            f'pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,fps=25,format=yuv420p,setsar=1,'
            f'tpad=stop_mode=clone:stop_duration={seconds:.3f},trim=duration={seconds:.3f},setpts=PTS-STARTPTS[v{i}]'
        )
    inputs = ''.join(f'[v{i}]' for i in range(len(clips)))
    graph = ';'.join([*filters, f'{inputs}concat=n={len(clips)}:v=1:a=0[out]'])
    _ffmpeg(
        provider,
        [*args, '-filter_complex', graph, '-map', '[out]', '-an', '-c:v', 'libx264', '-preset', 'veryfast',
         '-crf', '18', '-movflags', '+faststart', str(dest)],
    )  # fmt: skip
    return dest
