"""The name on screen (#14): the child's name, as typed, over the intro's last second only.

Pixels are compared per frame in two bands of the frame (FFmpeg's psnr filter on crops): the
card's band, where the name is drawn, and the top of the frame, which the card never touches.
Frames encoded per order are counted by an `ffmpeg` shim on PATH that ffprobes every H.264
file FFmpeg writes: evidence from the files, not from the renderer's own bookkeeping.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import pytest

import papa_noel_config as persona
from chain.strategies import SantaSegment
from compose import RenderSpec, compose_video, load_assets
from compose.assets import AssetSet
from compose.frame_plan import frames
from compose.name_card import card_start
from compose.parts import Deadline, encode, quick_x264_params
from compose.templates import avc_config
from providers.fake import FakeTTS
from settings import X264_PRESETS
from utils.probe import probe
from utils.proc import run

SPEC = RenderSpec(width=180, height=320, preset='veryfast')
SPEECH_SECONDS = 3.37
TIMEOUT = 120
# Apostrophe, accents, hyphen, and what drawtext would expand or a filter graph would parse.
NAME = "Zoë D'Arcy-Núñez: 100%{pts}"
# Rows of the 180x320 frame: the card's band (around 70% of the height), and a band it never reaches.
CARD_BAND = (0, 208, 180, 30)  # the placeholder's moving square starts below, at row 240
TOP_BAND = (0, 0, 180, 150)
# Mean squared error per frame (8-bit luma and chroma): coding noise stays well under 2,
# white letters with a black border over the placeholder's dark blue go far above it.
NOISE = 2.0
DRAWN = 20.0


@pytest.fixture(scope='module')
def assets(small_assets: Path) -> AssetSet:
    return load_assets(small_assets, decode=False)


@pytest.fixture(scope='module')
def segment(assets: AssetSet, tmp_path_factory: pytest.TempPathFactory) -> SantaSegment:
    speech = FakeTTS(seconds=SPEECH_SECONDS).synthesize('Hola', 'es', tmp_path_factory.mktemp('speech'))
    return SantaSegment(assets.santa_base.path, speech, loop_video=True, providers={})


@pytest.fixture(scope='module')
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('name-card-templates')


def _render(assets: AssetSet, segment: SantaSegment, out: Path, cache: Path, mode: str, name: str | None) -> Path:
    return compose_video(assets, segment, out, SPEC, timeout=TIMEOUT, mode=mode,  # type: ignore[arg-type]
                         template_cache_dir=cache, name_card=name)  # fmt: skip


def _band_mse(first: Path, second: Path, band: tuple[int, int, int, int], log: Path) -> list[float]:
    """Per-frame mean squared error between the two videos inside `band` (x, y, w, h)."""
    x, y, w, h = band
    graph = f"[0:v]crop={w}:{h}:{x}:{y}[a];[1:v]crop={w}:{h}:{x}:{y}[b];[a][b]psnr=stats_file='{log}'"
    run(['ffmpeg', '-v', 'error', '-i', str(first), '-i', str(second), '-lavfi', graph, '-f', 'null', '-'],
        timeout=TIMEOUT)  # fmt: skip
    return [float(m.group(1)) for m in re.finditer(r'mse_avg:([0-9.]+)', log.read_text())]


def _card_frames(assets: AssetSet) -> tuple[int, int]:
    intro_frames = frames(assets.intro.duration, SPEC.fps)
    santa_start = frames(assets.intro.duration - SPEC.intro_overlap, SPEC.fps)
    return card_start(intro_frames, santa_start, SPEC.fps), intro_frames


def _frame_count(path: Path) -> int:
    out = run(['ffprobe', '-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries',
               'stream=nb_read_frames', '-of', 'json', str(path)], timeout=TIMEOUT)  # fmt: skip
    return int(json.loads(out)['streams'][0]['nb_read_frames'])


@dataclass(frozen=True)
class Videos:
    template_off: Path
    template_on: Path
    single_off: Path
    single_on: Path


@pytest.fixture(scope='module')
def videos(assets: AssetSet, segment: SantaSegment, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Videos:
    """The same order by both renderers, with and without the card; the first render builds the template."""
    out = tmp_path_factory.mktemp('name-card-videos')
    return Videos(
        template_off=_render(assets, segment, out / 'template-off.mp4', cache, 'template', None),
        template_on=_render(assets, segment, out / 'template-on.mp4', cache, 'template', NAME),
        single_off=_render(assets, segment, out / 'single-off.mp4', cache, 'single-pass', None),
        single_on=_render(assets, segment, out / 'single-on.mp4', cache, 'single-pass', NAME),
    )


@pytest.mark.parametrize('renderer', ['template', 'single-pass'])
def test_the_name_is_drawn_over_the_intros_last_second_and_nowhere_else(
    renderer: str, videos: Videos, assets: AssetSet, tmp_path: Path
) -> None:
    off, on = (videos.template_off, videos.template_on) if renderer == 'template' else (videos.single_off,
                                                                                     videos.single_on)  # fmt: skip
    first, intro_frames = _card_frames(assets)
    santa_start = frames(assets.intro.duration - SPEC.intro_overlap, SPEC.fps)
    assert intro_frames - first == frames(1.0, SPEC.fps)  # the intro's last second
    band = _band_mse(off, on, CARD_BAND, tmp_path / 'band.log')
    top = _band_mse(off, on, TOP_BAND, tmp_path / 'top.log')
    assert len(band) == len(top) == _frame_count(on)
    assert max(band[:first]) <= NOISE, "drawn before the intro's last second"
    assert min(band[first:santa_start]) > DRAWN, "not drawn over the intro's last second"
    # Fading out with the intro under the intro→Santa crossfade, gone when the intro is: seen
    # while the intro still weighs a fifth or more (on the last frames, how much a faint name
    # changes the picture depends on what it lies over), fainter on every frame.
    fading = band[santa_start:intro_frames]
    assert min(fading[: int(len(fading) * 0.8)]) > NOISE
    assert fading == sorted(fading, reverse=True) and fading[0] > fading[-1]
    assert max(band[intro_frames:]) <= NOISE, 'drawn after the intro'
    assert max(top) <= NOISE, 'drawn outside its place'


def test_the_name_is_drawn_as_typed_never_expanded(videos: Videos, assets: AssetSet, tmp_path: Path) -> None:
    """'%{pts}' in the name stays those letters: drawtext would print each frame's time instead."""
    first, _ = _card_frames(assets)
    santa_start = frames(assets.intro.duration - SPEC.intro_overlap, SPEC.fps)
    for video in (videos.template_on, videos.single_on):
        # Each card frame against the next one: the intro doesn't move there, nor may the name.
        steady = _band_mse_shifted(video, CARD_BAND, tmp_path / 'steady.log')
        assert max(steady[first : santa_start - 1]) <= NOISE, video.name


def test_both_renderers_make_the_same_card(videos: Videos, assets: AssetSet, tmp_path: Path) -> None:
    assert _frame_count(videos.template_on) == _frame_count(videos.single_on) == _frame_count(videos.template_off)
    durations = {round(probe(video).duration * SPEC.fps) for video in (videos.template_on, videos.single_on)}
    assert len(durations) == 1
    first, intro_frames = _card_frames(assets)
    between = _band_mse(videos.template_on, videos.single_on, CARD_BAND, tmp_path / 'between.log')
    drawn = _band_mse(videos.template_off, videos.template_on, CARD_BAND, tmp_path / 'drawn.log')
    peak = max(drawn)
    santa_start = frames(assets.intro.duration - SPEC.intro_overlap, SPEC.fps)
    for i in range(first, intro_frames):
        # Before the crossfade: coding noise around the letters' edges, under a hundredth of what
        # the name changes. Under it the template draws the name over the stored blended frames,
        # with the crossfade's weight, where single-pass blends a named intro: the same where the
        # letters are opaque, a few levels apart on their antialiased edges (compose.name_card),
        # so a twentieth. A name drawn elsewhere, in another size, not fading, or fading
        # otherwise differs by a large part of `peak`.
        bound = peak / 100 if i < santa_start else peak / 20
        assert between[i] <= bound, f'frame {i}: {between[i]} (the name changes {drawn[i]})'


@pytest.mark.parametrize('renderer', ['template', 'single-pass'])
def test_without_the_card_the_intro_is_untouched(
    renderer: str, videos: Videos, assets: AssetSet, tmp_path: Path
) -> None:
    """NAME_CARD=false: the intro's frames are the intro asset's own (the placeholder is already 180x320)."""
    off, on = (videos.template_off, videos.template_on) if renderer == 'template' else (videos.single_off,
                                                                                     videos.single_on)  # fmt: skip
    first, _ = _card_frames(assets)
    santa_start = frames(assets.intro.duration - SPEC.intro_overlap, SPEC.fps)
    assert max(_band_mse(off, assets.intro.path, CARD_BAND, tmp_path / 'off.log')[:santa_start]) <= NOISE
    assert min(_band_mse(on, assets.intro.path, CARD_BAND, tmp_path / 'on.log')[first:santa_start]) > DRAWN


SHIM = """#!{python}
import subprocess, sys
args = sys.argv[1:]
code = subprocess.call([{ffmpeg!r}, *args])
if code == 0 and 'libx264' in args:
    outputs = [a for i, a in enumerate(args) if a.endswith('.mp4') and (i == 0 or args[i - 1] != '-i')]
    counted = subprocess.run([{ffprobe!r}, '-v', 'error', '-count_frames', '-select_streams', 'v:0',
                              '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', outputs[-1]],
                             capture_output=True, text=True, check=True).stdout.strip()
    with open({log!r}, 'a') as log:
        log.write(counted + '\\n')
sys.exit(code)
"""


def test_an_order_with_the_card_encodes_only_the_cards_second(
    videos: Videos, assets: AssetSet, segment: SantaSegment, cache: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    """The template renderer keeps its speed: per order, H.264 frames encoded = the card's frames, and
    no intro frame besides (counted in the files FFmpeg writes, by a shim in front of it on PATH)."""
    real_ffmpeg, real_ffprobe = shutil.which('ffmpeg'), shutil.which('ffprobe')
    assert real_ffmpeg and real_ffprobe
    log = tmp_path / 'encoded.log'
    shim_dir = tmp_path / 'bin'
    shim_dir.mkdir()
    shim = shim_dir / 'ffmpeg'
    shim.write_text(SHIM.format(python=sys.executable, ffmpeg=real_ffmpeg, ffprobe=real_ffprobe, log=str(log)))
    shim.chmod(0o755)
    monkeypatch.setenv('PATH', f'{shim_dir}:{real_ffmpeg.rsplit("/", 1)[0]}')

    def encoded(name: str | None) -> list[int]:
        log.write_text('')
        _render(assets, segment, tmp_path / 'order.mp4', cache, 'template', name)
        return [int(line) for line in log.read_text().split()]

    # The template is warm and this order's ending kept (the `videos` renders): without the card
    # an order encodes no video frame at all, with it the card's second and nothing else.
    assert encoded(None) == []
    first, intro_frames = _card_frames(assets)
    assert encoded(NAME) == [intro_frames - first] == [frames(persona.NAME_CARD_SECONDS, SPEC.fps)]
    assert encoded('Sofía') == [intro_frames - first]


@pytest.mark.parametrize('preset', X264_PRESETS)
def test_the_quick_card_encode_keeps_every_presets_stream_parameters(preset: str, tmp_path: Path) -> None:
    """The card's quick x264 settings write the SPS/PPS the preset's own do, so it joins by stream copy."""
    spec = dataclasses.replace(SPEC, preset=preset)
    source = ffmpeg.input(f'testsrc2=s={spec.width}x{spec.height}:r={spec.fps}:d=1', f='lavfi').video
    usual = encode(source, tmp_path / 'usual.mp4', spec, frame_count=8, deadline=Deadline.after(TIMEOUT))
    quick = encode(source, tmp_path / 'quick.mp4', spec, frame_count=8, deadline=Deadline.after(TIMEOUT),
                   **{'x264-params': quick_x264_params(spec)})  # fmt: skip
    assert avc_config(quick) == avc_config(usual)


def test_a_quick_card_encode_that_does_not_join_is_encoded_again(
    videos: Videos, assets: AssetSet, segment: SantaSegment, cache: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    import compose.template_render

    monkeypatch.setattr(compose.template_render, 'quick_x264_params', lambda spec: 'stitchable=1:chroma-qp-offset=3')
    out = _render(assets, segment, tmp_path / 'order.mp4', cache, 'template', NAME)
    assert 'template.quick_encode_mismatch' in caplog.messages
    assert 'compose.single_pass_fallback' not in caplog.messages
    first, _ = _card_frames(assets)
    santa_start = frames(assets.intro.duration - SPEC.intro_overlap, SPEC.fps)
    band = _band_mse(videos.template_off, out, CARD_BAND, tmp_path / 'band.log')
    assert len(band) == _frame_count(videos.template_off)  # joined whole
    assert max(band[:first]) <= NOISE and min(band[first:santa_start]) > DRAWN


def _band_mse_shifted(video: Path, band: tuple[int, int, int, int], log: Path) -> list[float]:
    """Per-frame mean squared error inside `band` between frame i and frame i + 1 of one video."""
    x, y, w, h = band
    graph = (
        f'[0:v]crop={w}:{h}:{x}:{y},split[a0][b0];[b0]trim=start_frame=1,setpts=PTS-STARTPTS[b];'
        f"[a0][b]psnr=stats_file='{log}'"
    )
    run(['ffmpeg', '-v', 'error', '-i', str(video), '-lavfi', graph, '-f', 'null', '-'], timeout=TIMEOUT)
    return [float(m.group(1)) for m in re.finditer(r'mse_avg:([0-9.]+)', log.read_text())]


def test_both_renderers_agree_with_a_provider_clip(assets: AssetSet, cache: Path, tmp_path: Path) -> None:
    """Strategies 1/2: the intro→Santa crossfade is a per-order span, and the name fades out in it
    as in the single-pass graph."""
    speech = FakeTTS(seconds=SPEECH_SECONDS).synthesize('Hola', 'es', tmp_path)
    clip = _provider_clip(assets.santa_base.path, SPEECH_SECONDS, tmp_path / 'clip.mp4')
    segment = SantaSegment(clip, speech, loop_video=False, providers={})
    fast = _render(assets, segment, tmp_path / 'template.mp4', cache, 'template', NAME)
    reference = _render(assets, segment, tmp_path / 'single.mp4', cache, 'single-pass', NAME)
    plain = _render(assets, segment, tmp_path / 'plain.mp4', cache, 'single-pass', None)
    assert _frame_count(fast) == _frame_count(reference)
    assert round(probe(fast).duration * SPEC.fps) == round(probe(reference).duration * SPEC.fps)
    first, intro_frames = _card_frames(assets)
    between = _band_mse(fast, reference, CARD_BAND, tmp_path / 'between.log')
    drawn = _band_mse(plain, reference, CARD_BAND, tmp_path / 'drawn.log')
    peak = max(drawn)
    assert min(drawn[first:intro_frames]) > NOISE and max(drawn[:first]) <= NOISE
    for i in range(first, intro_frames):
        assert between[i] <= peak / 100, f'frame {i}: {between[i]} (the name changes {drawn[i]})'


def _provider_clip(source: Path, seconds: float, out: Path) -> Path:
    """Like a lip-sync provider's clip: another size, frame rate and encoding."""
    run(['ffmpeg', '-v', 'error', '-y', '-stream_loop', '-1', '-i', str(source), '-t', f'{seconds:.3f}',
         '-vf', 'scale=240:426,hue=h=40,fps=25', '-an', '-c:v', 'libx264', '-preset', 'ultrafast', str(out)],
        timeout=TIMEOUT)  # fmt: skip
    return out


def card_mse(video: Path, name: str, assets: AssetSet, work: Path) -> float:
    """Mean squared error, in the card's band over the card's frames before the crossfade, between
    `video` and the intro asset with `name` drawn by compose.name_card (small: that name is shown)."""
    import ffmpeg

    from compose.name_card import drawn, name_card_file
    from compose.parts import fitted

    first, _ = _card_frames(assets)
    santa_start = frames(assets.intro.duration - SPEC.intro_overlap, SPEC.fps)
    reference = work / f'card-{abs(hash(name))}.mkv'
    with name_card_file(name, work) as card:
        stream = fitted(ffmpeg.input(str(assets.intro.path)).video, SPEC, assets.intro.duration, first=first,
                        end=santa_start, role='intro')  # fmt: skip
        output = ffmpeg.output(drawn(stream, card, SPEC), str(reference), vcodec='ffv1', f='matroska')
        run(output.global_args('-v', 'error').compile(overwrite_output=True), timeout=TIMEOUT)
    x, y, w, h = CARD_BAND
    log = work / 'card.log'
    graph = (
        f'[0:v]trim=start_frame={first}:end_frame={santa_start},setpts=PTS-STARTPTS,crop={w}:{h}:{x}:{y}[a];'
        f"[1:v]crop={w}:{h}:{x}:{y}[b];[a][b]psnr=shortest=1:stats_file='{log}'"
    )
    run(['ffmpeg', '-v', 'error', '-i', str(video), '-i', str(reference), '-lavfi', graph, '-f', 'null', '-'],
        timeout=TIMEOUT)  # fmt: skip
    values = [float(m.group(1)) for m in re.finditer(r'mse_avg:([0-9.]+)', log.read_text())]
    assert len(values) >= santa_start - first - 1
    return max(values)


def test_card_mse_tells_the_drawn_name(videos: Videos, assets: AssetSet, tmp_path: Path) -> None:
    assert card_mse(videos.template_on, NAME, assets, tmp_path) <= DRAWN / 2
    assert card_mse(videos.template_on, 'Sofía', assets, tmp_path) > DRAWN
    assert card_mse(videos.template_off, NAME, assets, tmp_path) > DRAWN


@pytest.mark.parametrize(('value', 'expected'), [(None, True), ('false', False), ('true', True)])
def test_name_card_setting_reaches_the_renderer(
    value: str | None, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NAME_CARD (default true) is what the worker's production renders with."""
    from settings import Settings
    from workers.jobs import production_from_settings

    if value is None:
        monkeypatch.delenv('NAME_CARD', raising=False)
    else:
        monkeypatch.setenv('NAME_CARD', value)
    assert production_from_settings(Settings()).render.name_card is expected
