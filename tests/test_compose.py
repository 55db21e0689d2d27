"""Composition with real FFmpeg at 180x320, and asset validation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chain import SantaSegment
from compose import AssetError, RenderSpec, Timeline, compose_video, load_assets
from compose.placeholders import render_placeholders
from providers.espeak_tts import EspeakTTS
from providers.fake import FakeTalkingVideo, FakeTTS
from tests.media import assert_output_spec
from utils.proc import run

SPEC = RenderSpec(width=180, height=320, preset='veryfast')


def mean_volume(path: Path, start: float, seconds: float) -> float:
    import subprocess

    proc = subprocess.run(
        ['ffmpeg', '-hide_banner', '-nostats', '-ss', str(start), '-t', str(seconds), '-i', str(path),
         '-af', 'volumedetect', '-vn', '-f', 'null', '-'],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    line = next(line for line in proc.stderr.splitlines() if 'mean_volume' in line)
    return float(line.split('mean_volume:')[1].split()[0])


def test_timeline_arithmetic() -> None:
    t = Timeline(intro=3, speech=10, outro=3, intro_overlap=0.5, outro_overlap=0.5)
    assert (t.santa_start, t.outro_start, t.total) == (2.5, 12.0, 15.0)
    with pytest.raises(ValueError):
        Timeline(intro=0.4, speech=10, outro=3, intro_overlap=0.5, outro_overlap=0.5)
    with pytest.raises(ValueError):
        Timeline(intro=3, speech=0.8, outro=3, intro_overlap=0.5, outro_overlap=0.5)


def test_voiceover_video_meets_the_spec_and_lasts_intro_plus_speech_plus_outro(
    tmp_path: Path, small_assets: Path
) -> None:
    assets = load_assets(small_assets)
    speech = EspeakTTS().synthesize('¡Jo, jo, jo! Hola Sofía, feliz Navidad desde el Polo Norte.', 'es', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, loop_video=True, providers={})
    out = compose_video(assets, segment, tmp_path / 'out.mp4', SPEC, timeout=120)
    expected = assets.intro.duration + speech.duration + assets.outro.duration - 1.0
    assert speech.duration > assets.santa_base.duration  # the base footage had to loop
    assert_output_spec(out, width=180, height=320, duration=expected)


def test_speech_is_heard_whole_and_louder_than_the_music(tmp_path: Path, small_assets: Path) -> None:
    assets = load_assets(small_assets)
    speech = FakeTTS(seconds=4.0).synthesize('x', 'es', tmp_path)
    out = compose_video(assets, SantaSegment(assets.santa_base.path, speech, True, {}), tmp_path / 'o.mp4', SPEC,
                        timeout=120)  # fmt: skip
    santa_start = assets.intro.duration - 0.5
    # Speech is at full level from its first to its last moment, overlaps included.
    assert mean_volume(out, santa_start, 0.3) > -25
    assert mean_volume(out, santa_start + speech.duration - 0.3, 0.3) > -25
    assert mean_volume(out, santa_start + 1, 2) > mean_volume(out, 0.5, 1.5) + 3


def test_provider_clip_shorter_than_speech_is_held_not_cut(tmp_path: Path, small_assets: Path) -> None:
    assets = load_assets(small_assets)
    speech = FakeTTS(seconds=5.0).synthesize('x', 'es', tmp_path)
    short_speech = FakeTTS(seconds=2.0).synthesize('x', 'es', tmp_path)
    clip = FakeTalkingVideo(small_assets / 'frame3_santa_base.mp4').generate(short_speech, '', 'es', tmp_path)
    out = compose_video(assets, SantaSegment(clip, speech, False, {}), tmp_path / 'o.mp4', SPEC, timeout=120)
    assert_output_spec(out, width=180, height=320, duration=assets.intro.duration + 5.0 + assets.outro.duration - 1)


def test_valid_assets_load(small_assets: Path) -> None:
    assets = load_assets(small_assets)
    assert assets.intro.path.name == 'Frames_1_2_to_3.mov'
    assert assets.santa_base.path.name == 'frame3_santa_base.mp4'
    assert assets.outro.path.name == 'Frame_4_NocheMagica.mov'


@pytest.fixture
def assets_copy(tmp_path: Path, small_assets: Path) -> Path:
    target = tmp_path / 'assets'
    shutil.copytree(small_assets, target)
    return target


def test_missing_asset_is_named(assets_copy: Path) -> None:
    (assets_copy / 'Frame_4_NocheMagica.mov').unlink()
    with pytest.raises(AssetError, match=r'outro asset .*Frame_4_NocheMagica\.mov: file not found'):
        load_assets(assets_copy)


def test_corrupt_asset_is_named(assets_copy: Path) -> None:
    (assets_copy / 'frame3_santa_base.mp4').write_bytes(b'not a video at all' * 100)
    with pytest.raises(AssetError, match=r'santa_base asset .*frame3_santa_base\.mp4'):
        load_assets(assets_copy)


def test_truncated_asset_fails_the_decode_check(assets_copy: Path) -> None:
    path = assets_copy / 'Frames_1_2_to_3.mov'
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssetError, match=r'intro asset .*Frames_1_2_to_3\.mov'):
        load_assets(assets_copy)


def test_audio_only_and_too_short_assets_are_refused(assets_copy: Path, tmp_path: Path) -> None:
    run(['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=d=3', '-f', 'mov',
         str(assets_copy / 'Frames_1_2_to_3.mov')], timeout=60)  # fmt: skip
    run(['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=s=180x320:d=0.3', '-f', 'mov',
         str(assets_copy / 'Frame_4_NocheMagica.mov')], timeout=60)  # fmt: skip
    with pytest.raises(AssetError) as info:
        load_assets(assets_copy)
    message = str(info.value)
    assert 'Frames_1_2_to_3.mov: has no video stream' in message
    assert 'Frame_4_NocheMagica.mov: duration 0.3' in message and 'is outside 1-120 s' in message


def test_placeholders_say_they_are_placeholders(tmp_path: Path) -> None:
    rendered = render_placeholders(tmp_path, width=180, height=320)
    assert sorted(p.name for p in rendered) == ['Frame_4_NocheMagica.mov', 'Frames_1_2_to_3.mov',
                                               'frame3_santa_base.mp4']  # fmt: skip
    assert render_placeholders(tmp_path, width=180, height=320) == []  # existing files are kept
    for path in rendered:
        probed = json.loads(run(['ffprobe', '-v', 'error', '-print_format', 'json', '-show_format', str(path)],
                                timeout=30))  # fmt: skip
        assert probed['format']['tags']['title'].startswith('PLACEHOLDER')
