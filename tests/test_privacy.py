"""Deletion on request and at the end of the retention period: everything personal goes at once,
on local storage and S3 alike, and only a tombstone without personal data stays."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from redis import Redis

import traces
from audiocache import AudioCache
from deadletter.queue import ENTRY_PREFIX, INDEX_KEY
from orders import parse_order
from privacy.forget import TOMBSTONE_PREFIX, Forgetter, page_tombstone, tombstone
from privacy.retention import purge
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from settings import Settings
from storage import LocalStorage
from storage.s3 import S3Storage
from tests.test_s3_storage import aws_env, bucket, s3_endpoint  # noqa: F401  (fixtures)
from tests.workers import ROOT
from utils.redis_values import text

DAY = 86400
EMAIL = 'papa.de.lucia@example.com'


def everything_in_redis(conn: Redis) -> dict[str, str]:
    """Every key with its whole value as text, whatever its type."""
    dump = {}
    for raw in conn.scan_iter(count=1000):
        key = raw.decode()
        kind = text(conn.type(raw))
        if kind == 'string':
            value: object = conn.get(raw)
        elif kind == 'hash':
            value = conn.hgetall(raw)
        elif kind == 'list':
            value = conn.lrange(raw, 0, -1)
        elif kind == 'set':
            value = conn.smembers(raw)
        elif kind == 'zset':
            value = conn.zrange(raw, 0, -1)
        else:
            value = kind
        dump[key] = repr(value)
    return dump


def files_under(*roots: Path) -> list[str]:
    return sorted(str(p) for root in roots if root.exists() for p in root.rglob('*') if p.is_file())


def settings_for(tmp_path: Path, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        'redis_url': redis_url,
        'output_dir': tmp_path / 'output',
        'temp_dir': tmp_path / 'tmp',
        'audio_cache_dir': tmp_path / 'audio-cache',
        'outbox_dir': tmp_path / 'outbox',
        'retention_days': 30,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def delivered_order(conn: Redis, settings: Settings, storage: object, *, name: str = 'Lucía', email: str = EMAIL,
                    completed_at: float | None = None) -> str:  # fmt: skip
    """An order whose video is stored and delivered, with every kind of personal trace beside it."""
    order = parse_order({'child_name': name, 'age': 5, 'message': 'Te queremos', 'parent_email': email,
                         'consent': True})  # fmt: skip
    enqueue_order(conn, order, queue_name='papa-noel-videos', job_timeout=600)
    video_id = order.video_id
    work = settings.temp_dir / video_id
    work.mkdir(parents=True)
    clip = work / 'final-1.mp4'
    clip.write_bytes(b'not really a video, but personal')
    assert isinstance(storage, LocalStorage | S3Storage)
    storage.save(video_id, clip)
    poster = work / 'poster.jpg'
    poster.write_bytes(b'jpeg')
    # A later format and a poster, named as every file of a video is: <id>.<suffix>.
    if isinstance(storage, LocalStorage):
        (settings.output_dir / f'{video_id}.poster.jpg').write_bytes(b'jpeg')
        (settings.output_dir / f'{video_id}.9x16.mp4').write_bytes(b'mp4')
    else:
        storage.client.put_object(Bucket=storage.bucket, Key=f'{storage.prefix}{video_id}.poster.jpg', Body=b'jpg')
    cache = AudioCache(settings.audio_cache_dir, 10**9)
    records = JobRecords(conn)
    with traces.collecting() as seen:
        storage.publish(clip, name=f'lipsync-{video_id[:8]}-video.mp4', expires_seconds=3600)
        from providers.base import Speech

        speech = work / 'speech.wav'
        speech.write_bytes(b'RIFF')
        cache.put('a' * 64, Speech(path=speech, duration=1.0, provider='espeak'))
    records.add_traces(video_id, 'media', sorted(seen.media))
    records.add_traces(video_id, 'audio_cache', sorted(seen.audio_cache))
    records.complete(video_id, output=storage.location(video_id), strategy='voiceover', providers={}, attempts=[])
    if completed_at is not None:
        conn.hset(f'papanoel:video:{video_id}', 'completed_at', completed_at)
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    (settings.outbox_dir / f'{video_id}.completed.eml').write_text(f'To: {email}\n\nLucía')
    # As if it had once been dead-lettered and retried, and a delivery record.
    conn.set(ENTRY_PREFIX + video_id, json.dumps({'video_id': video_id, 'order': order.model_dump(mode='json'),
                                                  'failed_at': time.time()}))  # fmt: skip
    conn.zadd(INDEX_KEY, {video_id: time.time()})
    conn.hset(f'papanoel:delivery:{video_id}:email:completed', mapping={'state': 'sent'})
    return video_id


def only_tombstones_left(conn: Redis, video_id: str, token: str) -> None:
    dump = everything_in_redis(conn)
    holding = sorted(k for k, v in dump.items() if video_id in k or video_id in v or token in k or token in v)
    assert holding == [f'{TOMBSTONE_PREFIX}{video_id}'], holding
    assert EMAIL not in json.dumps(dump) and 'Lucía' not in json.dumps(dump, ensure_ascii=False)


def test_cli_forget_removes_everything_but_a_tombstone(redis_conn: Redis, redis_url: str, tmp_path: Path,
                                                       worker_env: dict[str, str]) -> None:  # fmt: skip
    settings = settings_for(tmp_path, redis_url, public_media_base_url='http://127.0.0.1:1/media')
    storage = LocalStorage(settings.output_dir, public_base_url=settings.public_media_base_url)
    video_id = delivered_order(redis_conn, settings, storage)
    other = delivered_order(redis_conn, settings, storage, name='Mateo', email='otro@example.com')
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and record.traces['media'] and record.traces['audio_cache']
    token = record.page_token
    mine = [f for f in files_under(tmp_path) if video_id in f or f.endswith(('.audio', '.json'))]
    assert len(mine) >= 8  # video, poster, format, partial-free media, cache audio + sidecar, workdir, outbox

    env = {**worker_env, 'OUTPUT_DIR': str(settings.output_dir), 'TEMP_DIR': str(settings.temp_dir),
           'AUDIO_CACHE_DIR': str(settings.audio_cache_dir), 'OUTBOX_DIR': str(settings.outbox_dir)}  # fmt: skip
    done = subprocess.run([sys.executable, 'cli.py', 'forget', video_id], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert EMAIL not in done.stdout + done.stderr and 'Lucía' not in done.stdout + done.stderr

    left = files_under(tmp_path / 'output', tmp_path / 'tmp', tmp_path / 'audio-cache', tmp_path / 'outbox')
    assert not [f for f in left if video_id in f], left
    assert not list((tmp_path / 'audio-cache').glob('a*'))  # the cache entry made from this order's text
    assert not (tmp_path / 'output' / 'media' / f'lipsync-{video_id[:8]}-video.mp4').exists()
    assert [f for f in left if other in f]  # another parent's video is untouched
    only_tombstones_left(redis_conn, video_id, token)
    stone = tombstone(redis_conn, video_id)
    assert stone is not None and stone.reason == 'admin' and page_tombstone(redis_conn, token) == stone

    again = subprocess.run([sys.executable, 'cli.py', 'forget', video_id], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert again.returncode == 0
    assert tombstone(redis_conn, video_id) == stone  # idempotent: the first date stays


def test_forget_by_email_finds_every_order_of_that_address(redis_conn: Redis, redis_url: str,
                                                           tmp_path: Path) -> None:  # fmt: skip
    settings = settings_for(tmp_path, redis_url)
    storage = LocalStorage(settings.output_dir, public_base_url='http://127.0.0.1:1/media')
    first = delivered_order(redis_conn, settings, storage)
    second = delivered_order(redis_conn, settings, storage, name='Pablo', email=EMAIL.upper())
    other = delivered_order(redis_conn, settings, storage, name='Mateo', email='otro@example.com')
    reports = Forgetter(redis_conn, storage, settings).forget_email(EMAIL, reason='admin')
    assert sorted(r.video_id for r in reports) == sorted([first, second])
    assert JobRecords(redis_conn).get(other) is not None and storage.exists(other)
    assert not storage.exists(first) and not storage.exists(second)


def test_forget_on_s3_deletes_every_object_of_the_video(
    redis_conn: Redis,
    redis_url: str,
    tmp_path: Path,
    bucket: str,  # noqa: F811
    s3_endpoint: tuple[str, object],  # noqa: F811
) -> None:
    import boto3  # type: ignore[import-untyped]

    client = boto3.client('s3', endpoint_url=s3_endpoint[0], region_name='us-east-1')
    storage = S3Storage(bucket, 'videos', client=client)
    settings = settings_for(tmp_path, redis_url, storage_type='s3', s3_bucket=bucket, s3_prefix='videos')
    video_id = delivered_order(redis_conn, settings, storage)
    other = delivered_order(redis_conn, settings, storage, name='Mateo', email='otro@example.com')
    # An id that starts like ours is another video: never matched by our prefix.
    client.put_object(Bucket=bucket, Key=f'videos/{video_id}x.mp4', Body=b'x')

    def keys() -> list[str]:
        return sorted(o['Key'] for o in client.list_objects_v2(Bucket=bucket).get('Contents', []))

    assert len([k for k in keys() if k.startswith(f'videos/{video_id}.')]) == 2
    token = JobRecords(redis_conn).get(video_id).page_token  # type: ignore[union-attr]
    report = Forgetter(redis_conn, storage, settings).forget(video_id, reason='parent')
    assert len([f for f in report.files if f.startswith('s3://')]) == 3  # video, poster, published media
    left = keys()
    assert not [k for k in left if k.startswith(f'videos/{video_id}.')]
    assert f'videos/{video_id}x.mp4' in left and f'videos/{other}.mp4' in left
    assert not [k for k in left if k.startswith('videos/media/') and video_id[:8] in k]
    only_tombstones_left(redis_conn, video_id, token)


def test_retention_purge_follows_a_movable_clock(redis_conn: Redis, redis_url: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, redis_url, retention_days=30)
    storage = LocalStorage(settings.output_dir, public_base_url='http://127.0.0.1:1/media')
    video_id = delivered_order(redis_conn, settings, storage)
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and record.completed_at is not None
    delivered = record.completed_at

    assert purge(redis_conn, storage, settings, now=delivered + 30 * DAY - 60) == []
    assert storage.exists(video_id)
    dry = purge(redis_conn, storage, settings, now=delivered + 30 * DAY + 1, dry_run=True)
    assert [r.video_id for r in dry] == [video_id] and str(storage.path(video_id)) in dry[0].files
    assert storage.exists(video_id) and JobRecords(redis_conn).get(video_id) is not None  # a dry run deletes nothing

    reports = purge(redis_conn, storage, settings, now=delivered + 30 * DAY + 1)
    assert [r.video_id for r in reports] == [video_id]
    assert not storage.exists(video_id) and JobRecords(redis_conn).get(video_id) is None
    stone = page_tombstone(redis_conn, record.page_token)
    assert stone is not None and stone.reason == 'retention' and stone.deleted_at == delivered + 30 * DAY + 1
    only_tombstones_left(redis_conn, video_id, record.page_token)


def test_a_failed_order_is_purged_as_long_after_its_failure(redis_conn: Redis, redis_url: str,
                                                            tmp_path: Path) -> None:  # fmt: skip
    settings = settings_for(tmp_path, redis_url, retention_days=30)
    storage = LocalStorage(settings.output_dir)
    order = parse_order({'child_name': 'Ana', 'age': 4, 'parent_email': EMAIL, 'consent': True})
    enqueue_order(redis_conn, order, queue_name='papa-noel-videos', job_timeout=600)
    records = JobRecords(redis_conn)
    records.fail_attempt(order.video_id, {'stage': 'audio', 'message': 'x'}, final=True)
    failed = records.get(order.video_id)
    assert failed is not None and failed.state is State.FAILED
    assert purge(redis_conn, storage, settings, now=failed.updated_at + 29 * DAY) == []
    assert [r.video_id for r in purge(redis_conn, storage, settings, now=failed.updated_at + 30 * DAY)] == [
        order.video_id
    ]
    assert records.get(order.video_id) is None


def test_cli_purge_dry_run_lists_and_keeps(redis_conn: Redis, redis_url: str, tmp_path: Path,
                                           worker_env: dict[str, str]) -> None:  # fmt: skip
    settings = settings_for(tmp_path, redis_url)
    storage = LocalStorage(settings.output_dir, public_base_url='http://127.0.0.1:1/media')
    video_id = delivered_order(redis_conn, settings, storage, completed_at=time.time() - 31 * DAY)
    fresh = delivered_order(redis_conn, settings, storage, name='Mateo', email='otro@example.com')
    env = {**worker_env, 'OUTPUT_DIR': str(settings.output_dir), 'TEMP_DIR': str(settings.temp_dir),
           'AUDIO_CACHE_DIR': str(settings.audio_cache_dir), 'OUTBOX_DIR': str(settings.outbox_dir)}  # fmt: skip
    done = subprocess.run([sys.executable, 'cli.py', 'purge', '--dry-run'], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f'would delete {storage.path(video_id)}' in done.stdout and fresh not in done.stdout
    assert storage.exists(video_id)
    done = subprocess.run([sys.executable, 'cli.py', 'purge'], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0 and not storage.exists(video_id) and storage.exists(fresh)
