"""The template renderer makes the single-pass renderer's video, from cached parts.

Spec, SSIM and sound are checked on the placeholder footage. The placeholders barely move,
so a frame dropped or repeated at a join would hide in them: frame alignment is checked on
footage where every frame differs from the next (FFmpeg's test patterns).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
import threading
from array import array
from dataclasses import dataclass
from pathlib import Path

import pytest

import compose.parts
import compose.template_render
import compose.templates
from chain.strategies import SantaSegment
from compose import RenderSpec, Timeline, compose_video, load_assets
from compose.assets import AssetSet
from compose.frame_plan import plan_frames
from compose.parts import Deadline
from compose.templates import prepare_template
from providers.fake import FakeTTS
from tests.media import assert_output_spec
from utils.probe import probe
from utils.proc import run

SPEC = RenderSpec(width=180, height=320, preset='veryfast')
# Not whole numbers of frames, so the Santa→outro crossfade starts mid-GOP; long enough that the
# template's loop files are listed more than once (placeholder base: 4 s, moving base: 2 s).
SPEECH_SECONDS = 5.37
MOVING_SPEECH_SECONDS = 4.37
TIMEOUT = 120


def _timeline(assets: AssetSet, speech_seconds: float) -> Timeline:
    return Timeline(assets.intro.duration, speech_seconds, assets.outro.duration, SPEC.intro_overlap,
                    SPEC.outro_overlap)  # fmt: skip


def _render_both(assets: AssetSet, segment: SantaSegment, out_dir: Path, cache: Path) -> tuple[Path, Path]:
    fast = compose_video(assets, segment, out_dir / 'template.mp4', SPEC, timeout=TIMEOUT, mode='template',
                         template_cache_dir=cache)  # fmt: skip
    reference = compose_video(assets, segment, out_dir / 'single.mp4', SPEC, timeout=TIMEOUT, mode='single-pass')
    return fast, reference


def _provider_clip(source: Path, seconds: float, out: Path) -> Path:
    """Like a lip-sync provider's clip: another size, frame rate and encoding, here shorter than the speech."""
    run(['ffmpeg', '-v', 'error', '-y', '-stream_loop', '-1', '-i', str(source), '-t', f'{seconds:.3f}',
         '-vf', 'scale=240:426,hue=h=40,fps=25', '-an', '-c:v', 'libx264', '-preset', 'ultrafast', str(out)],
        timeout=TIMEOUT)  # fmt: skip
    return out


def _moving_assets(
    directory: Path, *, base_rate: str = '30', base_seconds: float = 2.0, with_sound: bool = True
) -> Path:
    """Footage whose every frame differs from the next, under the real assets' names."""
    directory.mkdir(parents=True, exist_ok=True)
    size = f'{SPEC.width}x{SPEC.height}'
    clips = [
        ('Frames_1_2_to_3.mov', f'testsrc2=s={size}:r=30:d=2', 880),
        ('frame3_santa_base.mp4', f'testsrc2=s={size}:r={base_rate}:d={base_seconds},hue=h=240', None),
        ('Frame_4_NocheMagica.mov', f'testsrc2=s={size}:r=30:d=2,hue=h=120', 660),
    ]
    for name, video, tone in clips:
        args = ['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', video]
        if tone and with_sound:
            args += ['-f', 'lavfi', '-i', f'sine=f={tone}:r=48000:d=2', '-c:a', 'aac', '-shortest']
        args += ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', str(directory / name)]
        run(args, timeout=TIMEOUT)
    return directory


def _mse(first: Path, second: Path, log: Path, *, skip_first: int = 0, skip_second: int = 0) -> list[float]:
    """Per-frame mean squared error between frame i + skip_first of `first` and i + skip_second of `second`."""
    graph = (
        f'[0:v]trim=start_frame={skip_first},setpts=PTS-STARTPTS[a];'
        f'[1:v]trim=start_frame={skip_second},setpts=PTS-STARTPTS[b];'
        f"[a][b]psnr=stats_file='{log}'"
    )
    run(['ffmpeg', '-v', 'error', '-i', str(first), '-i', str(second), '-lavfi', graph, '-f', 'null', '-'],
        timeout=TIMEOUT)  # fmt: skip
    return [float(m.group(1)) for m in re.finditer(r'mse_avg:([0-9.]+)', log.read_text())]


def _misaligned_frames(fast: Path, reference: Path, work: Path) -> tuple[list[int], int]:
    """Frames of `fast` closer to a neighbour of their single-pass counterpart than to it; and frames checked.

    Only frames that differ clearly from the next one in the reference can be told apart.
    """
    same = _mse(fast, reference, work / 'same.log')
    ahead = _mse(fast, reference, work / 'ahead.log', skip_second=1)  # fast[i] vs reference[i + 1]
    behind = _mse(fast, reference, work / 'behind.log', skip_first=1)  # fast[i + 1] vs reference[i]
    motion = _mse(reference, reference, work / 'motion.log', skip_second=1)  # reference[i] vs [i + 1]
    noise = sorted(same)[len(same) // 2]  # typical coding noise; shifted frames are outliers above it
    bad, checked = [], 0
    for i, moved in enumerate(motion):
        if moved < 4 * noise:
            continue
        checked += 1
        if not (same[i] < ahead[i] and same[i + 1] < behind[i]):
            bad.append(i)
    return bad, checked


def _ssim(first: Path, second: Path, log: Path) -> float:
    """The mean of FFmpeg's per-frame SSIM (All) over the video."""
    graph = f"[0:v][1:v]ssim=stats_file='{log}'"
    run(['ffmpeg', '-v', 'error', '-i', str(first), '-i', str(second), '-lavfi', graph, '-f', 'null', '-'],
        timeout=TIMEOUT)  # fmt: skip
    values = [float(m.group(1)) for m in re.finditer(r'All:([0-9.]+)', log.read_text())]
    return sum(values) / len(values)


def _decode_errors(path: Path) -> str:
    return subprocess.run(['ffmpeg', '-v', 'error', '-i', str(path), '-f', 'null', '-'], capture_output=True,
                          text=True, timeout=TIMEOUT, check=True).stderr  # fmt: skip


def _frame_times(path: Path) -> list[float]:
    raw = run(['ffprobe', '-v', 'error', '-select_streams', 'v', '-show_entries', 'frame=pts_time', '-of', 'json',
               str(path)], timeout=TIMEOUT)  # fmt: skip
    return [float(frame['pts_time']) for frame in json.loads(raw)['frames']]


def _levels_db(path: Path, window: float = 0.05) -> list[float]:
    """The soundtrack's RMS level per `window` seconds, in dBFS."""
    rate = 8000
    pcm = array('h', run(['ffmpeg', '-v', 'error', '-i', str(path), '-map', '0:a', '-ac', '1', '-ar', str(rate),
                          '-f', 's16le', '-'], timeout=TIMEOUT))  # fmt: skip
    size = int(rate * window)
    levels = []
    for start in range(0, len(pcm) - size + 1, size):
        chunk = pcm[start : start + size]
        rms = (sum(s * s for s in chunk) / size) ** 0.5 / 32768
        levels.append(20 * math.log10(max(rms, 1e-6)))
    return levels


@dataclass(frozen=True)
class Renders:
    assets: AssetSet
    timeline: Timeline
    cache: Path
    videos: dict[str, tuple[Path, Path]]  # strategy: (template render, single-pass render)


@pytest.fixture(scope='module')
def placeholder_renders(small_assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    work = tmp_path_factory.mktemp('template-render')
    assets = load_assets(small_assets, decode=False)
    speech = FakeTTS(seconds=SPEECH_SECONDS).synthesize('x', 'es', work)
    clip = _provider_clip(assets.santa_base.path, SPEECH_SECONDS - 1.5, work / 'clip.mp4')
    cache = work / 'cache'
    videos = {}
    for name, segment in (('voiceover', SantaSegment(assets.santa_base.path, speech, True, {})),
                          ('lipsync', SantaSegment(clip, speech, False, {}))):  # fmt: skip
        (work / name).mkdir()
        videos[name] = _render_both(assets, segment, work / name, cache)
    return Renders(assets, _timeline(assets, speech.duration), cache, videos)


@pytest.mark.parametrize('strategy', ['voiceover', 'lipsync'])
def test_output_meets_the_spec_and_looks_like_single_pass(placeholder_renders: Renders, strategy: str) -> None:
    fast, reference = placeholder_renders.videos[strategy]
    timeline = placeholder_renders.timeline
    info = assert_output_spec(fast, width=SPEC.width, height=SPEC.height, duration=timeline.total)
    assert info.video_frames == probe(reference).video_frames
    assert info.video_frames is not None and abs(info.video_frames - round(timeline.total * SPEC.fps)) <= 1
    assert _ssim(fast, reference, fast.with_suffix('.ssim')) >= 0.99


@pytest.mark.parametrize('strategy', ['voiceover', 'lipsync'])
def test_output_is_one_clean_stream_with_rising_timestamps(placeholder_renders: Renders, strategy: str) -> None:
    fast, _ = placeholder_renders.videos[strategy]
    streams = json.loads(run(['ffprobe', '-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'json',
                              str(fast)], timeout=TIMEOUT))['streams']  # fmt: skip
    assert sorted(s['codec_type'] for s in streams) == ['audio', 'video']
    assert _decode_errors(fast) == ''
    times = _frame_times(fast)
    steps = {round(b - a, 4) for a, b in zip(times, times[1:], strict=False)}
    assert steps == {round(1 / SPEC.fps, 4)}, f'frame steps {sorted(steps)}'


@pytest.mark.parametrize('strategy', ['voiceover', 'lipsync'])
def test_sound_is_the_single_pass_sound_in_sync_with_the_picture(placeholder_renders: Renders, strategy: str) -> None:
    fast, reference = placeholder_renders.videos[strategy]
    timeline = placeholder_renders.timeline
    info = probe(fast)
    assert info.audio_duration is not None
    video_seconds = (info.video_frames or 0) / SPEC.fps
    assert abs(info.audio_duration - video_seconds) <= 0.040
    ours, theirs = _levels_db(fast), _levels_db(reference)
    assert len(ours) == len(theirs)
    assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 0.5
    # The speech starts at santa_start, at full level, while the intro music is fading out.
    onset = int(timeline.santa_start / 0.05) + 2
    assert ours[onset] > -30


def test_frames_at_every_join_are_the_single_pass_frames(tmp_path: Path) -> None:
    assets = load_assets(_moving_assets(tmp_path / 'assets'), decode=False)
    speech = FakeTTS(seconds=MOVING_SPEECH_SECONDS).synthesize('x', 'es', tmp_path)
    clip = _provider_clip(assets.santa_base.path, MOVING_SPEECH_SECONDS - 1, tmp_path / 'clip.mp4')
    for name, segment in (('voiceover', SantaSegment(assets.santa_base.path, speech, True, {})),
                          ('lipsync', SantaSegment(clip, speech, False, {}))):  # fmt: skip
        (tmp_path / name).mkdir()
        fast, reference = _render_both(assets, segment, tmp_path / name, tmp_path / 'cache')
        assert probe(fast).video_frames == probe(reference).video_frames
        bad, checked = _misaligned_frames(fast, reference, tmp_path / name)
        assert checked > 0.8 * (probe(reference).video_frames or 0), 'too little motion to check alignment'
        assert bad == [], f'{name}: frames {bad} are shifted against the single-pass render'


def test_base_footage_that_does_not_loop_on_whole_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 23.976 fps footage: each loop shifts by a fraction of an output frame, so the template
    # can't repeat one loop; it covers LOOP_COVERAGE_SECONDS and the order renders the rest.
    monkeypatch.setattr(compose.templates, 'LOOP_COVERAGE_SECONDS', 1.0)
    assets = load_assets(_moving_assets(tmp_path / 'assets', base_rate='24000/1001', base_seconds=2.1), decode=False)
    speech = FakeTTS(seconds=MOVING_SPEECH_SECONDS).synthesize('x', 'es', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, True, {})
    fast, reference = _render_both(assets, segment, tmp_path, tmp_path / 'cache')
    template = prepare_template(assets, SPEC, tmp_path / 'cache', deadline=Deadline.after(TIMEOUT))
    assert template.loop_period is None
    assert sum(template.loop_frames) == SPEC.fps
    assert probe(fast).video_frames == probe(reference).video_frames
    bad, _ = _misaligned_frames(fast, reference, tmp_path)
    assert bad == []


def test_silent_intro_and_outro_of_the_same_length_render_both_ways(tmp_path: Path) -> None:
    # Both beds are then the same silence: each needs its own copy in the FFmpeg graph.
    assets = load_assets(_moving_assets(tmp_path / 'assets', with_sound=False), decode=False)
    assert not assets.intro.has_audio and not assets.outro.has_audio
    assert assets.intro.duration == assets.outro.duration
    speech = FakeTTS(seconds=MOVING_SPEECH_SECONDS).synthesize('x', 'es', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, True, {})
    timeline = _timeline(assets, MOVING_SPEECH_SECONDS)
    for rendered in _render_both(assets, segment, tmp_path, tmp_path / 'cache'):
        assert_output_spec(rendered, width=SPEC.width, height=SPEC.height, duration=timeline.total)


def _video_checksums(path: Path) -> list[str]:
    out = run(['ffmpeg', '-v', 'error', '-i', str(path), '-map', '0:v', '-f', 'framemd5', '-'], timeout=TIMEOUT)
    return [line.rsplit(',', 1)[-1].strip() for line in out.decode().splitlines() if not line.startswith('#')]


class FFmpegRuns:
    """Every FFmpeg command the renderers start, recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[list[str]] = []
        for module in (compose.parts, compose.templates, compose.template_render):
            real = module.run

            def recording(args: list[str], *rest: object, _real: object = real, **kwargs: object) -> bytes:
                self.commands.append(list(args))
                return _real(args, *rest, **kwargs)  # type: ignore[operator, no-any-return]

            monkeypatch.setattr(module, 'run', recording)

    def video_encodes(self) -> list[list[str]]:
        return [args for args in self.commands if 'libx264' in args]


def test_strategy_3_reads_no_footage_and_encodes_each_ending_once(
    small_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets = load_assets(small_assets, decode=False)
    cache = tmp_path / 'cache'
    template = prepare_template(assets, SPEC, cache, deadline=Deadline.after(TIMEOUT))
    assert template.loop_period and template.santa_frames
    runs = FFmpegRuns(monkeypatch)
    speech = FakeTTS(seconds=SPEECH_SECONDS).synthesize('x', 'es', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, True, {})
    timeline = _timeline(assets, SPEECH_SECONDS)

    first = compose_video(assets, segment, tmp_path / 'first.mp4', SPEC, timeout=TIMEOUT, template_cache_dir=cache)
    assert len(runs.video_encodes()) == 1  # the ending, from the template's stored frames
    assert not any(str(info.path) in arg for arg in runs.video_encodes()[0]
                   for info in (assets.intro, assets.santa_base, assets.outro))  # fmt: skip
    runs.commands.clear()
    # Another order whose speech ends at the same point of the loop: its ending is copied.
    again = compose_video(assets, segment, tmp_path / 'again.mp4', SPEC, timeout=TIMEOUT, template_cache_dir=cache)
    assert runs.video_encodes() == []
    assert_output_spec(again, width=SPEC.width, height=SPEC.height, duration=timeline.total)
    assert _video_checksums(again) == _video_checksums(first)


def test_a_damaged_kept_ending_is_encoded_again(
    small_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets = load_assets(small_assets, decode=False)
    cache = tmp_path / 'cache'
    speech = FakeTTS(seconds=SPEECH_SECONDS).synthesize('x', 'es', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, True, {})
    reference = compose_video(assets, segment, tmp_path / 'ref.mp4', SPEC, timeout=TIMEOUT, template_cache_dir=cache)
    (ending,) = (cache / prepare_template(assets, SPEC, cache, deadline=Deadline.after(TIMEOUT)).directory.name
                 / 'endings').iterdir()  # fmt: skip
    ending.write_bytes(ending.read_bytes()[: ending.stat().st_size // 2])
    runs = FFmpegRuns(monkeypatch)
    out = compose_video(assets, segment, tmp_path / 'out.mp4', SPEC, timeout=TIMEOUT, template_cache_dir=cache)
    assert len(runs.video_encodes()) == 1
    assert _video_checksums(out) == _video_checksums(reference)
    assert ending.stat().st_size > 0 and _video_checksums(ending)


def _ending_shape(
    assets: AssetSet, template: compose.templates.Template, speech_seconds: float
) -> tuple[int, int, int]:
    """(where in the loop, Santa frames, Santa frame the crossfade starts at) of a strategy-3 ending."""
    plan = plan_frames(_timeline(assets, speech_seconds), SPEC.fps)
    _, spans = compose.template_render._layout(template, plan, True)
    span = spans[-1]
    assert template.loop_period and span.outro and not span.intro_tail
    return span.first % template.loop_period, span.end - span.first, plan.outro_start - plan.santa_start - span.first


def test_kept_endings_of_equal_length_with_crossfades_a_frame_apart_are_both_frame_exact(
    small_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two speeches whose endings hold as many Santa frames from the same point of the loop, the
    # Santa→outro crossfade starting one frame later in the second: the kept-ending cache must
    # tell them apart (its key includes the crossfade's offset), one after the other and back.
    assets = load_assets(small_assets, decode=False)
    cache, fresh = tmp_path / 'cache', tmp_path / 'fresh'
    template = prepare_template(assets, SPEC, cache, deadline=Deadline.after(TIMEOUT))
    shutil.copytree(cache, fresh)  # the same template, no ending kept yet
    # 5.95 s lands the crossfade's start on a half frame that rounds down (7.95 s is 7.949999... in
    # binary), Santa's length on one that rounds up; 1 ms more and both round up. Durations as a
    # 44.1/48 kHz speech probes: exact to the microsecond.
    speeches = [dataclasses.replace(FakeTTS(seconds=s).synthesize(f'x{s}', 'es', tmp_path), duration=s)
                for s in (5.95, 5.951)]  # fmt: skip
    (loop_a, length_a, fade_a), (loop_b, length_b, fade_b) = (
        _ending_shape(assets, template, speech.duration) for speech in speeches
    )
    assert (loop_a, length_a) == (loop_b, length_b) and fade_b == fade_a + 1, 'not the case under test'
    segments = [SantaSegment(assets.santa_base.path, speech, True, {}) for speech in speeches]

    def render(segment: SantaSegment, directory: Path, name: str) -> list[str]:
        out = compose_video(assets, segment, tmp_path / name, SPEC, timeout=TIMEOUT, template_cache_dir=directory)
        return _video_checksums(out)

    # References: each ending encoded from the template alone, in a cache that keeps nothing else.
    reference_b = render(segments[1], fresh, 'ref-b.mp4')
    first_a = render(segments[0], cache, 'a1.mp4')  # encodes and keeps A's ending
    assert render(segments[1], cache, 'b1.mp4') == reference_b
    assert first_a != reference_b
    runs = FFmpegRuns(monkeypatch)
    assert render(segments[0], cache, 'a2.mp4') == first_a
    assert render(segments[1], cache, 'b2.mp4') == reference_b
    assert runs.video_encodes() == [], 'each ending is kept side by side, and copied'


@pytest.mark.parametrize('tag', ['unknown', 'smpte170m', 'bt709'])
def test_footage_renders_from_the_template_whatever_its_colour_tags(
    tag: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Stored frames lose their colour tags; x264 writes the tags into the SPS every part shares,
    # so a mismatch would make every order fall back to a single-pass render.
    assets_dir = _moving_assets(tmp_path / 'assets')
    if tag != 'unknown':
        for clip in list(assets_dir.iterdir()):
            tagged = clip.with_name(f'tagged-{clip.name}')
            run(['ffmpeg', '-v', 'error', '-y', '-i', str(clip), '-c:a', 'copy', '-c:v', 'libx264', '-preset',
                 'ultrafast', '-colorspace', tag, '-color_primaries', tag, '-color_trc', tag, '-color_range', 'tv',
                 str(tagged)], timeout=TIMEOUT)  # fmt: skip
            tagged.replace(clip)
    assets = load_assets(assets_dir, decode=False)
    assert assets.santa_base.color.space == tag
    speech = FakeTTS(seconds=MOVING_SPEECH_SECONDS).synthesize('x', 'es', tmp_path)
    with caplog.at_level('WARNING', logger='compose.render'):
        fast, reference = _render_both(assets, SantaSegment(assets.santa_base.path, speech, True, {}), tmp_path,
                                       tmp_path / 'cache')  # fmt: skip
    assert 'compose.single_pass_fallback' not in caplog.messages
    assert probe(fast).color == probe(reference).color


def test_a_prepared_template_is_reused_without_running_ffmpeg(
    placeholder_renders: Renders, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets, cache = placeholder_renders.assets, placeholder_renders.cache
    template = prepare_template(assets, SPEC, cache, deadline=Deadline.after(TIMEOUT))
    mtimes = {p.name: p.stat().st_mtime_ns for p in template.directory.iterdir()}

    def no_ffmpeg(*args: object, **kwargs: object) -> bytes:
        raise AssertionError('template prepared again')

    monkeypatch.setattr(compose.templates, 'run', no_ffmpeg)
    monkeypatch.setattr(compose.parts, 'run', no_ffmpeg)
    again = prepare_template(assets, SPEC, cache, deadline=Deadline.after(TIMEOUT))
    assert again == template
    assert {p.name: p.stat().st_mtime_ns for p in again.directory.iterdir()} == mtimes


def test_changing_an_asset_gives_a_new_template(
    placeholder_renders: Renders, small_assets: Path, tmp_path: Path
) -> None:
    assets_dir = tmp_path / 'assets'
    shutil.copytree(small_assets, assets_dir)
    cache = placeholder_renders.cache
    # Same contents elsewhere: the template is found by what the files hold, not where they are.
    old = prepare_template(load_assets(assets_dir, decode=False), SPEC, cache, deadline=Deadline.after(TIMEOUT))
    assert old == prepare_template(placeholder_renders.assets, SPEC, cache, deadline=Deadline.after(TIMEOUT))
    outro = assets_dir / 'Frame_4_NocheMagica.mov'
    tinted = tmp_path / 'tinted.mov'
    run(['ffmpeg', '-v', 'error', '-y', '-i', str(outro), '-vf', 'hue=h=180', '-c:a', 'copy', str(tinted)],
        timeout=TIMEOUT)  # fmt: skip
    tinted.replace(outro)
    new = prepare_template(load_assets(assets_dir, decode=False), SPEC, cache, deadline=Deadline.after(TIMEOUT))
    assert new.directory != old.directory
    assert old.outro_body and new.outro_body
    assert old.path(old.outro_body).read_bytes() != new.path(new.outro_body).read_bytes()


def test_workers_preparing_at_once_build_one_template(
    small_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets = load_assets(small_assets, decode=False)
    builds = []
    real_build = compose.templates._build

    def counting_build(*args: object, **kwargs: object) -> None:
        builds.append(1)
        real_build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compose.templates, '_build', counting_build)
    results: list[Path] = []

    def prepare() -> None:
        results.append(prepare_template(assets, SPEC, tmp_path, deadline=Deadline.after(TIMEOUT)).directory)

    threads = [threading.Thread(target=prepare) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len(set(results)) == 1
    assert len(builds) == 1
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith('.')] == [results[0].name]
