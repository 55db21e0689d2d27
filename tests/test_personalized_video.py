"""End to end through a real worker: an order with a respelling, a gender and two formats
completes with both MP4s at spec, a WebVTT file and a JPEG poster, all reachable from the
status API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import webvtt
from redis import Redis

from compose import RenderSpec
from orders import parse_order, written_script
from pipeline.extras import burn_subtitles
from subtitles.cues import Cue, write_vtt
from tests.media import assert_output_spec, expected_duration
from tests.test_api import run_worker_until_done
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
