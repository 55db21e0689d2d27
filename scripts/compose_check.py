"""The HTTP half of `make compose-test` (scripts/compose-test.sh brings the stack up first).

Orders a video over HTTP, waits for it, downloads it and checks it with ffprobe; then orders a
second one, kills Redis (SIGKILL, container removed and made again from the volume) and restarts
a worker container under it, and checks that both videos are still there: the first still
downloadable, the second completed. Every wait polls an observable
state with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

DEADLINE_SECONDS = 600


def say(text: str) -> None:
    print(f'compose-test: {text}', file=sys.stderr, flush=True)


def wait_for(what: str, probe: Callable[[], Any], deadline: float = DEADLINE_SECONDS) -> Any:
    end = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < end:
        try:
            result = probe()
        except (requests.RequestException, subprocess.CalledProcessError) as exc:
            result, last = None, exc
        if result:
            return result
        time.sleep(1)
    raise SystemExit(f'compose-test: timed out waiting for {what} (last: {last!r})')


def compose(project: str, *args: str) -> str:
    out = subprocess.run(['docker-compose', '-p', project, *args], check=True, capture_output=True, text=True)
    return out.stdout


def order(url: str, name: str) -> str:
    body = {'child_name': name, 'age': 7, 'message': 'Sigue leyendo', 'parent_email': 'ci@example.com',
            'language': 'es', 'consent': True}  # fmt: skip
    answer = requests.post(f'{url}/api/videos', json=body, timeout=10)
    if answer.status_code != 202:
        raise SystemExit(f'compose-test: order refused: {answer.status_code} {answer.text[:300]}')
    video_id = str(answer.json()['id'])
    say(f'ordered {video_id}')
    return video_id


def status(url: str, video_id: str) -> dict[str, Any]:
    answer = requests.get(f'{url}/api/videos/{video_id}', timeout=10)
    if answer.status_code == 404:
        raise SystemExit(f'compose-test: video {video_id} was LOST (404)')
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    if result['state'] == 'failed':
        raise SystemExit(f'compose-test: video {video_id} failed: {result}')
    return result


def completed(url: str, video_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        current = status(url, video_id)
        return current if current['state'] == 'completed' else None

    result: dict[str, Any] = wait_for(f'video {video_id}', probe)
    return result


def probe_download(url: str, current: dict[str, Any], width: int, height: int) -> None:
    answer = requests.get(url + current['download_url'], timeout=60)
    answer.raise_for_status()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'video.mp4'
        path.write_bytes(answer.content)
        probe = subprocess.run(['ffprobe', '-v', 'error', '-show_streams', '-show_format', '-of', 'json', str(path)],
                               check=True, capture_output=True, text=True)  # fmt: skip
    info = json.loads(probe.stdout)
    streams = {s['codec_type']: s for s in info['streams']}
    video, audio = streams.get('video'), streams.get('audio')
    if not video or not audio or video['codec_name'] != 'h264' or (video['width'], video['height']) != (width, height):
        raise SystemExit(f'compose-test: unexpected streams: {info["streams"]}')
    duration = float(info['format']['duration'])
    if duration <= 1:
        raise SystemExit(f'compose-test: video too short: {duration} s')
    size = len(answer.content)
    say(f'{current["id"]}: {size} bytes, h264 {width}x{height} + {audio["codec_name"]}, {duration:.1f} s')


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--url', required=True)
    parser.add_argument('--project', required=True)
    args = parser.parse_args()
    url, project = args.url.rstrip('/'), args.project
    width, height = int(os.environ.get('OUTPUT_WIDTH', 180)), int(os.environ.get('OUTPUT_HEIGHT', 320))

    wait_for('the web side', lambda: requests.get(f'{url}/api/videos/none-such', timeout=5).status_code in (404, 422))
    first = order(url, 'Lucía')
    probe_download(url, completed(url, first), width, height)

    uid = compose(project, 'exec', '-T', 'worker', 'id', '-u').strip()
    if uid == '0':
        raise SystemExit('compose-test: the worker runs as root')
    compose(project, 'exec', '-T', 'worker', 'promtool', 'check', 'rules', 'monitoring/alerts.rules.yml')
    say(f'worker runs as uid {uid}; promtool in the image checks monitoring/alerts.rules.yml')
    appendonly = compose(project, 'exec', '-T', 'redis', 'redis-cli', 'config', 'get', 'appendonly').split()
    if appendonly[-1:] != ['yes']:
        raise SystemExit(f'compose-test: Redis runs without AOF: {appendonly}')
    second = order(url, 'Mateo')
    # SIGKILL, then a new container: only the append-only file on the volume can bring the order back.
    say('killing redis and recreating its container')
    compose(project, 'kill', '-s', 'SIGKILL', 'redis')
    compose(project, 'rm', '-f', 'redis')
    compose(project, 'up', '-d', '--no-deps', 'redis')
    worker = compose(project, 'ps', '-q', 'worker').split()[0]
    say(f'restarting worker container {worker[:12]}')
    subprocess.run(['docker', 'restart', worker], check=True, capture_output=True)

    probe_download(url, completed(url, second), width, height)
    probe_download(url, wait_for(f'video {first} after the restarts', lambda: status(url, first)), width, height)
    say('nothing lost across a Redis and a worker restart')
    return 0


if __name__ == '__main__':
    sys.exit(main())
