"""Templates: the parts of every video that no order changes, encoded once per asset set.

A template holds, as MP4 parts that join by stream copy (see compose.parts):

- the intro body: output frames before the name card's span, then the card's frames before
  the intro→Santa crossfade, apart (an order without the card lists both; one with it
  encodes its own card span from the stored frames, compose.name_card);
- the intro→Santa crossfade over the base footage's first frames (strategy 3 only: with a
  provider clip the crossfade shows the clip);
- the base footage looped, from the end of that crossfade, one GOP per file, so a render
  can take whole files up to the last keyframe before its Santa→outro crossfade;
- the outro body: outro frames that no crossfade ever touches;
- the frames that per-order crossfades blend, kept losslessly (compose.parts.store_frames):
  the intro's name-card span and tail, Santa's first frames (under the crossfade), the
  outro's head and, when the base footage loops exactly, one period of it and a little more.
  A render reads the few frames it needs from them instead of decoding the assets up to that point.

When the base footage repeats exactly every `loop_period` output frames (its duration is a
whole number of output frames, and the frames confirm it), one period is encoded and its
files are listed again and again. Otherwise LOOP_COVERAGE_SECONDS of it are encoded once
and a longer speech renders the rest per order.

Templates live under `cache_dir/<key>/`, the key being a hash of the three asset files'
contents, the encoding fields of the RenderSpec and the FFmpeg version. A template is built
in a staging directory and published with one rename, so no reader ever sees a partial one;
a lock file makes concurrent workers wait for one build instead of each doing it.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import ffmpeg

import events
import papa_noel_config as persona
from compose.assets import AssetSet
from compose.frame_plan import frames
from compose.name_card import card_start as name_card_start
from compose.parts import (
    RAW_FRAMES_SUFFIX,
    X264_PARAMS,
    Deadline,
    Footage,
    crossfade,
    encode,
    fitted,
    loops_for,
    store_frames,
    unblended,
)
from compose.spec import RenderSpec
from utils.mp4 import MP4Error, top_level_box
from utils.probe import MediaInfo
from utils.proc import run

log = logging.getLogger(__name__)


# Bump when what a template holds, or how its parts are encoded, changes.
FORMAT_VERSION = 4  # 3: the intro cut at the name card's start (#14); 4: the card's frames kept raw, as shown
# Keyframe spacing in the GOP files of the looped base footage, which a render lists up to the
# last keyframe before its Santa→outro crossfade: a render encodes less than this much of the
# loop. Shorter costs bytes (a keyframe is several times a predicted frame) in the last pass.
KEYFRAME_SECONDS = 0.5
PROBE_TIMEOUT_SECONDS = 60
LOOP_COVERAGE_SECONDS = 60.0
# Lossless frames weigh ~0.3-2 MB each at 1080x1920: longer looping footage is decoded per order.
STORED_LOOP_MAX_SECONDS = 20.0
# RenderSpec fields that change the template's frames or bitstream. Audio fields don't:
# audio is mixed and encoded per order.
ENCODING_FIELDS = (
    'width',
    'height',
    'fps',
    'crf',
    'preset',
    'profile',
    'level',
    'pixel_format',
    'intro_overlap',
    'outro_overlap',
    'cropped_roles',  # (#14) how each role fills the frame
)
MANIFEST = 'manifest.json'
LOCK_POLL_SECONDS = 0.2
PROBE_TIMEOUT_SECONDS = 30


class TemplateError(Exception):
    """A template could not be built, or is not what it claims to be."""


@dataclass(frozen=True)
class Template:
    directory: Path
    # The frame cuts the parts were made at; a render checks its own plan agrees.
    santa_start: int
    intro_frames: int
    outro_frames: int
    outro_body_start: int
    intro_body: str | None  # intro frames [0, card_start)
    intro_blend: str
    # The name card's span before the crossfade, intro frames [card_start, santa_start): encoded
    # plain for orders without the card, and stored as the video shows them for those with it.
    card_start: int
    intro_card: str | None
    intro_card_frames: str | None
    # The intro→Santa crossfade's frames as the video shows them, stored: an order with the
    # card draws its name over them too, fading out with the intro (strategy 3).
    intro_blend_frames_file: str
    # The whole loop in one file, with the encoder's own keyframes: listed once per full pass,
    # it keeps the concat list short and costs no more bytes than single-pass.
    loop_unit: str
    loop: tuple[str, ...]  # the same frames, one GOP per file, for the last partial pass
    loop_frames: tuple[int, ...]
    loop_period: int | None  # None: the loop files cover LOOP_COVERAGE_SECONDS once, without repeating
    outro_body: str | None
    avc_config: str  # hex of the parts' shared avcC (SPS/PPS)
    # Stored frames (lossless, intra-only) for the per-order crossfades:
    intro_tail: str  # intro frames [santa_start, intro_frames)
    outro_head: str  # outro frames [0, outro_head_frames)
    outro_head_frames: int
    santa_frames: str | None  # looped base footage [0, santa_frames_count), when it repeats exactly
    santa_frames_count: int

    @property
    def intro_blend_frames(self) -> int:
        return self.intro_frames - self.santa_start

    def path(self, name: str) -> Path:
        return self.directory / name


def prepare_template(assets: AssetSet, spec: RenderSpec, cache_dir: Path, *, deadline: Deadline) -> Template:
    """The template for these assets and spec, built on first use and read from disk after."""
    key = template_key(assets, spec, deadline)
    final = cache_dir / key
    template = _load(final)
    if template is not None:
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache_dir / f'.{key}.lock', deadline):
        template = _load(final)  # another worker may have built it while this one waited
        if template is not None:
            return template
        # Holding the lock, anything else of this key is a dead build's leftover, never read.
        for leftover in cache_dir.glob(f'.{key}-*'):
            shutil.rmtree(leftover, ignore_errors=True)
        if final.exists():
            shutil.rmtree(final)  # no readable manifest: never published whole
        started = time.monotonic()
        log.info(events.TEMPLATE_BUILDING, extra={'template': key})
        staging = Path(tempfile.mkdtemp(prefix=f'.{key}-', dir=cache_dir))
        try:
            _build(staging, assets, spec, deadline)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info(events.TEMPLATE_READY, extra={'template': key, 'seconds': round(time.monotonic() - started, 2)})
    template = _load(final)
    if template is None:
        raise TemplateError(f'{final}: template vanished right after it was built')
    return template


def template_key(assets: AssetSet, spec: RenderSpec, deadline: Deadline) -> str:
    identity = {
        'format': FORMAT_VERSION,
        'ffmpeg': ffmpeg_version(deadline),
        'x264_params': X264_PARAMS,
        'keyframe_seconds': KEYFRAME_SECONDS,
        'loop_coverage_seconds': LOOP_COVERAGE_SECONDS,
        'spec': {name: getattr(spec, name) for name in ENCODING_FIELDS},
        'name_card_seconds': persona.NAME_CARD_SECONDS,  # where the intro is cut
        'assets': [content_hash(info.path) for info in (assets.intro, assets.santa_base, assets.outro)],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def content_hash(path: Path) -> str:
    """SHA-256 of a file, hashed once per process for each version (size, mtime, inode) of it."""
    stat = path.stat()
    return _hash_file(path.resolve(), stat.st_size, stat.st_mtime_ns, stat.st_ino)


@functools.lru_cache(maxsize=64)
def _hash_file(path: Path, size: int, mtime_ns: int, inode: int) -> str:
    with path.open('rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


_ffmpeg_version: list[str] = []


def ffmpeg_version(deadline: Deadline) -> str:
    # Another FFmpeg (or x264) may write other stream parameters: old parts must not be reused.
    if not _ffmpeg_version:
        out = run(['ffmpeg', '-hide_banner', '-version'], timeout=min(deadline.remaining(), PROBE_TIMEOUT_SECONDS))
        _ffmpeg_version.append(out.decode().splitlines()[0])
    return _ffmpeg_version[0]


def avc_config(path: Path) -> bytes:
    """The avcC record (profile, level, SPS, PPS) of a video-only MP4's H.264 track."""
    moov = _top_level_box(path, b'moov')
    at = moov.find(b'avcC')
    if at < 4:
        raise TemplateError(f'{path}: no H.264 configuration (avcC) found')
    (size,) = struct.unpack('>I', moov[at - 4 : at])
    return moov[at + 4 : at - 4 + size]


def frame_count(path: Path) -> int:
    """Samples in a video-only MP4's one track (stsz), read without starting ffprobe."""
    moov = _top_level_box(path, b'moov')
    at = moov.find(b'stsz')
    if at < 4:
        raise TemplateError(f'{path}: no sample table (stsz) found')
    # stsz: version/flags (4), sample size (4), sample count (4)
    (count,) = struct.unpack('>I', moov[at + 12 : at + 16])
    return int(count)


def _top_level_box(path: Path, kind: bytes) -> bytes:
    try:
        return top_level_box(path, kind)
    except MP4Error as exc:
        raise TemplateError(str(exc)) from None


@contextmanager
def _exclusive(lock_path: Path, deadline: Deadline) -> Iterator[None]:
    # flock is released by the kernel if the holder dies, so a crashed build never blocks others.
    with lock_path.open('a') as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline.at:
                    raise TimeoutError(f'{lock_path}: another worker is still building this template') from None
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load(directory: Path) -> Template | None:
    try:
        raw: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
        values = {f.name: raw[f.name] for f in fields(Template) if f.name != 'directory'}
        values.update(loop=tuple(values['loop']), loop_frames=tuple(values['loop_frames']))
        return Template(directory=directory, **values)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _build(staging: Path, assets: AssetSet, spec: RenderSpec, deadline: Deadline) -> None:
    fps = spec.fps
    intro, outro = assets.intro, assets.outro
    santa_start = frames(intro.duration - spec.intro_overlap, fps)
    intro_frames = frames(intro.duration, fps)
    outro_frames = frames(outro.duration, fps)
    outro_body_start = min(frames(spec.outro_overlap, fps) + 1, outro_frames)
    blend = intro_frames - santa_start
    if santa_start < 0 or blend < 1:
        raise TemplateError(f'{intro.path}: too short for a {spec.intro_overlap:g} s crossfade')
    expected: dict[str, int] = {}

    stored: dict[str, int] = {}
    card_start = name_card_start(intro_frames, santa_start, fps)
    intro_body = None
    if card_start:
        intro_body = 'intro_body.mp4'
        piece = fitted(ffmpeg.input(str(intro.path)).video, spec, intro.duration, end=card_start, role='intro')
        encode(unblended(piece, spec, frame_count=card_start), staging / intro_body, spec,
               frame_count=card_start, deadline=deadline)  # fmt: skip
        expected[intro_body] = card_start
    intro_card = intro_card_frames = None
    if santa_start > card_start:
        intro_card, intro_card_frames, count = 'intro_card.mp4', 'intro_card.nut', santa_start - card_start
        piece = fitted(ffmpeg.input(str(intro.path)).video, spec, intro.duration, first=card_start, end=santa_start,
                       role='intro')  # fmt: skip
        shown = unblended(piece, spec, frame_count=count)
        encode(shown, staging / intro_card, spec, frame_count=count, deadline=deadline)
        expected[intro_card] = count
        store_frames(shown, staging / intro_card_frames, spec, frame_count=count, deadline=deadline)
        stored[intro_card_frames] = count

    intro_blend = 'intro_blend.mp4'
    tail = fitted(ffmpeg.input(str(intro.path)).video, spec, intro.duration, first=santa_start, role='intro')
    stream = crossfade(tail, _base(assets, spec, 0, blend + 1), offset_frames=0, fade_seconds=spec.intro_overlap,
                       fps=fps)  # fmt: skip
    encode(stream, staging / intro_blend, spec, frame_count=blend, deadline=deadline)
    expected[intro_blend] = blend
    intro_blend_frames_file = 'intro_blend.nut'
    store_frames(stream, staging / intro_blend_frames_file, spec, frame_count=blend, deadline=deadline)
    stored[intro_blend_frames_file] = blend

    period = loop_period(assets.santa_base, fps, deadline)
    span = period if period is not None else frames(LOOP_COVERAGE_SECONDS, fps)
    loop_unit = 'loop.mp4'
    loop_frames = _encode_loop(staging, loop_unit, assets, spec, first=blend, count=span, repeats=period is not None,
                               deadline=deadline)  # fmt: skip
    loop = tuple(f'loop_{i:04d}.mp4' for i in range(len(loop_frames)))
    expected.update(zip(loop, loop_frames, strict=True))
    expected[loop_unit] = span

    intro_tail = 'intro_tail.mov'
    store_frames(tail, staging / intro_tail, spec, frame_count=blend, deadline=deadline)
    stored[intro_tail] = blend
    outro_head = 'outro_head.mov'
    # Two frames past what a crossfade takes: xfade ends on its second input's own end.
    outro_head_frames = min(outro_body_start + 2, outro_frames)
    head = fitted(ffmpeg.input(str(outro.path)).video, spec, outro.duration, end=outro_head_frames, role='outro')
    store_frames(head, staging / outro_head, spec, frame_count=outro_head_frames, deadline=deadline)
    stored[outro_head] = outro_head_frames
    santa_frames, santa_frames_count = None, 0
    if period is not None and period <= frames(STORED_LOOP_MAX_SECONDS, fps):
        # A render's last partial pass starts within one period, less than a GOP before its
        # Santa→outro crossfade, which is at most outro_body_start frames long.
        santa_frames, santa_frames_count = 'santa_frames.mov', period + _gop(spec) + outro_body_start
        store_frames(_base(assets, spec, 0, santa_frames_count), staging / santa_frames, spec,
                     frame_count=santa_frames_count, deadline=deadline)  # fmt: skip
        stored[santa_frames] = santa_frames_count

    outro_body = None
    body = outro_frames - outro_body_start
    if body > 0:
        outro_body = 'outro_body.mp4'
        piece = fitted(ffmpeg.input(str(outro.path)).video, spec, outro.duration, first=outro_body_start,
                       role='outro')  # fmt: skip
        encode(unblended(piece, spec, frame_count=body), staging / outro_body, spec, frame_count=body,
               deadline=deadline)  # fmt: skip
        expected[outro_body] = body

    config = _check_parts(staging, expected, stored)
    template = Template(
        directory=staging,
        santa_start=santa_start,
        intro_frames=intro_frames,
        outro_frames=outro_frames,
        outro_body_start=outro_body_start,
        intro_body=intro_body,
        intro_blend=intro_blend,
        card_start=card_start,
        intro_card=intro_card,
        intro_card_frames=intro_card_frames,
        intro_blend_frames_file=intro_blend_frames_file,
        loop_unit=loop_unit,
        loop=loop,
        loop_frames=loop_frames,
        loop_period=period,
        outro_body=outro_body,
        avc_config=config.hex(),
        intro_tail=intro_tail,
        outro_head=outro_head,
        outro_head_frames=outro_head_frames,
        santa_frames=santa_frames,
        santa_frames_count=santa_frames_count,
    )
    manifest = {k: v for k, v in asdict(template).items() if k != 'directory'}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + '\n')


def _base(assets: AssetSet, spec: RenderSpec, first: int, end: int) -> Any:
    """Santa frames [first, end) of the looped base footage, as the single-pass graph loops it."""
    seconds = end / spec.fps
    footage = Footage(assets.santa_base.path, loops_for(seconds, assets.santa_base.duration))
    return fitted(footage.input().video, spec, seconds, first=first, end=end, role='santa_base')


def _gop(spec: RenderSpec) -> int:
    return max(1, round(KEYFRAME_SECONDS * spec.fps))


def _encode_loop(
    directory: Path,
    unit: str,
    assets: AssetSet,
    spec: RenderSpec,
    *,
    first: int,
    count: int,
    repeats: bool,
    deadline: Deadline,
) -> tuple[int, ...]:
    """Encode Santa frames [first, first + count) with a keyframe every GOP, split into one file
    per GOP; return the GOP files' frame counts.

    A loop that `repeats` is encoded once more into `unit` with the encoder's own keyframes,
    for the full passes. One that doesn't is listed whole only under speech longer than it
    (LOOP_COVERAGE_SECONDS): its GOP encode serves as `unit`, rather than encoding it twice.

    The split is a stream copy at the keyframes of one encode: the footage is decoded once
    for all the GOP files, not once per file.
    """
    gop = _gop(spec)
    if repeats:
        encode(unblended(_base(assets, spec, first, first + count), spec, frame_count=count), directory / unit, spec,
               frame_count=count, deadline=deadline)  # fmt: skip
    gops = directory / 'loop_gops.mp4'
    encode(unblended(_base(assets, spec, first, first + count), spec, frame_count=count), gops, spec,
           frame_count=count, deadline=deadline, force_key_frames=f'expr:eq(mod(n,{gop}),0)')  # fmt: skip
    cuts = list(range(gop, count, gop))
    split = ffmpeg.output(
        ffmpeg.input(str(gops)).video,
        str(directory / 'loop_%04d.mp4'),
        c='copy',
        f='segment',
        segment_format='mp4',
        reset_timestamps=1,
        **({'segment_frames': ','.join(map(str, cuts))} if cuts else {}),
    )
    run(split.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True),
        timeout=deadline.remaining())  # fmt: skip
    if repeats:
        gops.unlink()
    else:
        gops.replace(directory / unit)
    return tuple(min(gop, count - start) for start in range(0, count, gop))


def _check_parts(directory: Path, encoded: dict[str, int], stored: dict[str, int]) -> bytes:
    """Every part has the frames it should, and the encoded ones share one SPS/PPS; return that avcC."""
    configs = set()
    for name, count in {**encoded, **stored}.items():
        path = directory / name
        found = _packet_count(path) if path.suffix == RAW_FRAMES_SUFFIX else frame_count(path)
        if found != count:
            raise TemplateError(f'{name}: {found} frames, expected {count}')
        if name in encoded:
            configs.add(avc_config(directory / name))
    if len(configs) != 1:
        raise TemplateError(f'{directory}: parts were encoded with different stream parameters')
    return configs.pop()


def _packet_count(path: Path) -> int:
    """Frames of a raw NUT file (one packet each), counted by ffprobe without decoding them."""
    args = ['ffprobe', '-v', 'error', '-count_packets', '-select_streams', 'v:0',
            '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', str(path)]  # fmt: skip
    try:
        return int(run(args, timeout=PROBE_TIMEOUT_SECONDS).decode().strip())
    except ValueError:
        raise TemplateError(f'{path.name}: no frames found') from None


def loop_period(base: MediaInfo, fps: int, deadline: Deadline) -> int | None:
    """Output frames after which the looped base footage repeats exactly, or None.

    Looping shifts timestamps by the clip's duration, so the fps filter repeats its choice of
    frames only when that duration is a whole number of output frames. Two loops' frame
    checksums confirm it (e.g. against timestamps the metadata doesn't show).
    """
    exact = base.duration * fps
    period = round(exact)
    if period < 1 or abs(exact - period) > 1e-3:
        return None
    footage = Footage(base.path, loops=2)
    stream = footage.input().video.filter('fps', fps).filter('trim', end_frame=2 * period)
    args = ffmpeg.output(stream, '-', f='framecrc').global_args('-hide_banner', '-nostdin', '-v', 'error').compile()
    lines = run(args, timeout=deadline.remaining()).decode().splitlines()
    crcs = [line.rsplit(',', 1)[-1].strip() for line in lines if line and not line.startswith('#')]
    if len(crcs) != 2 * period or crcs[:period] != crcs[period:]:
        return None
    return period
