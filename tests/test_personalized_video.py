"""End to end through a real worker: an order with a respelling, a gender and two formats
completes with both MP4s at spec, a WebVTT file and a JPEG poster, all reachable from the
status API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import webvtt
from redis import Redis

from chain import SantaSegment
from compose import RenderSpec, compose_video, load_assets
from orders import parse_order, written_script
from pipeline.extras import burn_subtitles, format_spec
from providers.espeak_tts import EspeakTTS
from subtitles.cues import Cue, write_vtt
from tests.media import assert_output_spec, expected_duration
from tests.test_api import run_worker_until_done
from tests.test_name_card import DRAWN, card_mse
from tests.web_support import TestClient, web_settings
from utils.probe import probe
from utils.proc import run
from web.app import create_app

ORDER: dict[str, Any] = {
    'child_name': 'Xavi',
    'name_pronunciation': 'Chabi',
    'gender': 'boy',
    'age': 7,
    'message': 'Estamos orgullosos de ti',
    'parent_email': 'mama@example.com',
    'language': 'es',
    'consent': True,
    'formats': ['9:16', '16:9'],
}


@pytest.fixture
def client(worker_env: dict[str, str], redis_conn: Redis) -> Any:
    with TestClient(create_app(web_settings(worker_env)), raise_server_exceptions=False) as test_client:
        yield test_client


def fetch(client: TestClient, url: str, tmp_path: Path, name: str) -> tuple[Path, str]:
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.text)
    path = tmp_path / name
    path.write_bytes(answer.content)
    return path, answer.headers['content-type']


def test_an_order_with_a_respelling_a_gender_and_two_formats(
    client: TestClient, worker_env: dict[str, str], redis_conn: Redis, small_assets: Path, tmp_path: Path
) -> None:
    accepted = client.post('/api/videos', json=ORDER)
    assert accepted.status_code == 202, accepted.text
    video_id = accepted.json()['id']
    state = run_worker_until_done(worker_env, redis_conn, video_id, tmp_path / 'worker.log', timeout=240)
    assert state.value == 'completed', (tmp_path / 'worker.log').read_text()[-3000:]

    status = client.get(f'/api/videos/{video_id}').json()
    assert set(status['downloads']) == {'9:16', '16:9'}
    assert status['downloads']['9:16'] == status['download_url']
    order = parse_order({k: v for k, v in ORDER.items()})
    duration = expected_duration(order, small_assets, tmp_path)
    vertical, kind = fetch(client, status['downloads']['9:16'], tmp_path, 'v.mp4')
    assert kind == 'video/mp4'
    assert_output_spec(vertical, width=180, height=320, duration=duration)
    landscape, kind = fetch(client, status['downloads']['16:9'], tmp_path, 'l.mp4')
    assert kind == 'video/mp4'
    assert_output_spec(landscape, width=320, height=180, duration=duration)
    # NAME_CARD (on by default): the name on screen is the name as typed, never the respelling.
    assets = load_assets(small_assets, decode=False)
    assert card_mse(vertical, 'Xavi', assets, tmp_path) <= DRAWN / 2
    assert card_mse(vertical, 'Chabi', assets, tmp_path) > DRAWN

    subtitles, kind = fetch(client, status['subtitles_url'], tmp_path, 's.vtt')
    assert kind.startswith('text/vtt')
    captions = webvtt.read(str(subtitles)).captions
    text = ' '.join(' '.join(c.lines) for c in captions)
    assert text == ' '.join(written_script(order).split())  # the name as typed, the boy's wording
    assert 'Xavi' in text and 'Chabi' not in text and 'bueno' in text
    assert 'Tus papás me han pedido que te diga: Estamos orgullosos de ti.' in text

    poster, kind = fetch(client, status['poster_url'], tmp_path, 'p.jpg')
    assert kind == 'image/jpeg'
    info = probe(poster)
    assert info.width == 1080 and info.video_codec == 'mjpeg'

    # Every extra needs the video's signed link.
    assert client.get(status['poster_url'].replace('token=', 'token=x')).status_code == 403


def test_burned_in_subtitles_draw_the_words_and_keep_the_spec(tmp_path: Path) -> None:
    spec = RenderSpec(width=180, height=320, preset='veryfast')
    video = tmp_path / 'v.mp4'
    run(['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x204060:s=180x320:r=30:d=2', '-f', 'lavfi',
         '-i', 'sine=f=440:d=2:r=48000', *flat(spec.video_codec_args()), *flat(spec.audio_codec_args()),
         '-movflags', '+faststart', '-t', '2', str(video)], timeout=60)  # fmt: skip
    vtt = write_vtt([Cue(0.5, 1.5, ('¡Hola, Xavi!',))], tmp_path / 's.vtt')
    burned = burn_subtitles(video, vtt, spec)
    assert_output_spec(burned, width=180, height=320, duration=2.0, tolerance=0.05)
    assert frame_md5(burned, 1.0) != frame_md5(video, 1.0)  # the caption is drawn
    assert bright_pixels(video, 1.0) == 0
    assert bright_pixels(burned, 1.0) > 50  # white letters over the dark frame
    assert bright_pixels(burned, 0.2) == 0  # before the cue: nothing drawn


def flat(options: dict[str, str | int]) -> list[str]:
    return [item for key, value in options.items() for item in (f'-{key}', str(value))]


def frame_md5(path: Path, at: float) -> str:
    args = ['ffmpeg', '-v', 'error', '-ss', f'{at}', '-i', str(path), '-frames:v', '1', '-f', 'md5', '-']
    out = run(args, timeout=30)
    return out.decode().strip()


def bright_pixels(path: Path, at: float) -> int:
    out = run(['ffmpeg', '-v', 'error', '-ss', f'{at}', '-i', str(path), '-frames:v', '1', '-vf', 'format=gray',
               '-f', 'rawvideo', '-'], timeout=30)  # fmt: skip
    return sum(1 for value in out if value > 200)


@pytest.mark.parametrize('video_format', ['1:1', '16:9'])
def test_santa_fills_a_square_or_landscape_frame_and_the_intro_is_kept_whole(
    video_format: str, small_assets: Path, template_cache: Path, tmp_path: Path
) -> None:
    assets = load_assets(small_assets, decode=False)
    speech = EspeakTTS().synthesize('Ho, ho, ho! Hello, Xavi! Merry Christmas!', 'en', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, True, {})
    spec = format_spec(RenderSpec(width=180, height=320, preset='veryfast'), video_format)
    assert spec.cropped_roles == ('santa_base',)
    outputs = {}
    for mode in ('template', 'single-pass'):
        out = tmp_path / f'{mode}.mp4'
        compose_video(assets, segment, out, spec, timeout=300, mode=mode, template_cache_dir=template_cache)
        total = (
            assets.intro.duration + speech.duration + assets.outro.duration - spec.intro_overlap - spec.outro_overlap
        )
        assert_output_spec(out, width=spec.width, height=spec.height, duration=total)
        outputs[mode] = out
    santa_at = assets.intro.duration + 1.0
    for out in outputs.values():
        assert edge_luma(out, 0.3, spec) < 20  # the intro, padded: black bars at the sides
        assert edge_luma(out, santa_at, spec) > 20  # Santa, cropped to fill: no bars
    assert ssim(outputs['template'], outputs['single-pass']) >= 0.99  # the same frames from both renderers (mean)


def edge_luma(path: Path, at: float, spec: RenderSpec) -> float:
    """Mean luma of the frame's outer columns (left and right) or rows, where padding would be."""
    out = run(['ffmpeg', '-v', 'error', '-ss', f'{at}', '-i', str(path), '-frames:v', '1', '-vf', 'format=gray',
               '-f', 'rawvideo', '-'], timeout=30)  # fmt: skip
    width, height = spec.width, spec.height
    rows = [out[y * width : (y + 1) * width] for y in range(height)]
    if width / height > 9 / 16 + 0.01:  # a wider frame than the footage: bars left and right
        edge = [v for row in rows for v in (*row[:4], *row[-4:])]
    else:
        edge = [v for row in (*rows[:4], *rows[-4:]) for v in row]
    return float(sum(edge) / len(edge))


def ssim(first: Path, second: Path) -> float:
    out = run(['ffmpeg', '-v', 'error', '-i', str(first), '-i', str(second), '-lavfi',
               'ssim=stats_file=-', '-f', 'null', '-'], timeout=120)  # fmt: skip
    values = [float(part.split(':')[1]) for part in out.decode().split() if part.startswith('All:')]
    return sum(values) / len(values)
